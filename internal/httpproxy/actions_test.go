package httpproxy

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hitless/internal/proxy"
)

// TestRules runs literal configurations through the engine and checks the answers
// (status, headers) and what the server received; the redirect answers are those
// HAProxy 2.6.12 sent for the same rules.
func TestRules(t *testing.T) {
	// The server answers with the request head it received.
	be := startBackend(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			var head strings.Builder
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				head.WriteString(line)
				if line == "\r\n" {
					break
				}
			}
			h := head.String()
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(h), h)
		}
	})
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts.map")
	os.WriteFile(hosts, []byte("api.example.com api\nwww.example.com www\n"), 0o644)
	nets := filepath.Join(dir, "nets.lst")
	os.WriteFile(nets, []byte("10.0.0.0/8\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "seen.lst"), nil, 0o644)
	e503 := filepath.Join(dir, "e503.http")
	os.WriteFile(e503, []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nnope"), 0o644)
	tests := []struct {
		name, rules, req string
		status           int
		want             []string // substrings of the answer (head and body)
		not              []string
	}{
		{"https upgrade", "http-request redirect scheme https unless { ssl_fc }", "GET /a?b=1 HTTP/1.1\r\nHost: h.example\r\n\r\n",
			302, []string{"Location: https://h.example/a?b=1", "Cache-Control: no-cache", "Content-Length: 0"}, nil},
		{"scheme 301", "http-request redirect scheme https code 301 if { path_beg /s }", "GET /s/a?b=1 HTTP/1.1\r\nHost: h.example\r\n\r\n",
			301, []string{"Location: https://h.example/s/a?b=1"}, []string{"Cache-Control"}},
		{"prefix", "http-request redirect prefix /new drop-query append-slash set-cookie SEEN=1 if { path_beg /p }",
			"GET /p/x?y=2 HTTP/1.1\r\nHost: h\r\n\r\n", 302, []string{"Location: /new/p/x/", "Set-Cookie: SEEN=1; path=/;"}, nil},
		{"location lf", "http-request redirect location http://x/%[path,upper]?%[query] code 308 clear-cookie OLD",
			"GET /f/ab?q=1 HTTP/1.1\r\nHost: h\r\n\r\n", 308, []string{"Location: http://x//F/AB?q=1", "Set-Cookie: OLD; path=/; Max-Age=0;"}, nil},
		{"legacy redirect", "redirect prefix http://pre.example.com if { path_beg /legacy }",
			"GET /legacy/a?z HTTP/1.1\r\nHost: h\r\n\r\n", 302, []string{"Location: http://pre.example.com/legacy/a?z"}, nil},
		{"legacy after http-request", "redirect location /r\n http-request deny", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 403, nil, nil},
		{"deny status", "http-request deny deny_status 429 if { path /x }", "GET /x HTTP/1.1\r\nHost: h\r\n\r\n", 429, nil, nil},
		{"deny body", "http-request deny deny_status 403 content-type text/plain lf-string \"no %[path]\"",
			"GET /x HTTP/1.1\r\nHost: h\r\n\r\n", 403, []string{"no /x"}, nil},
		{"allow stops", "http-request allow if { path /ok }\n http-request deny", "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n", 200, nil, nil},
		{"return lf-string", "http-request return status 200 content-type text/plain lf-string \"hello %[req.hdr(host),lower] %[src]\"",
			"GET / HTTP/1.1\r\nHost: H.Example\r\n\r\n", 200, []string{"hello h.example 127.0.0.1", "Content-Length: 25"}, nil},
		{"set-var and var", "http-request set-var(txn.host) req.hdr(host),lower\n http-request set-header X-H %[var(txn.host)]",
			"GET / HTTP/1.1\r\nHost: A.B\r\n\r\n", 200, []string{"X-H: a.b"}, nil},
		{"set-var condition", "http-request set-var(req.t) str(yes) if { path /a }\n http-request set-header X-T %[var(req.t)]",
			"GET /b HTTP/1.1\r\nHost: h\r\n\r\n", 200, []string{"X-T: \r\n"}, []string{"X-T: yes"}},
		{"map host", "http-request set-header X-Route %[req.hdr(host),lower,map(" + hosts + ",none)]",
			"GET / HTTP/1.1\r\nHost: API.example.com\r\n\r\n", 200, []string{"X-Route: api"}, nil},
		{"acl file", "acl trusted src -f " + nets + "\n http-request deny if !trusted", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 403, nil, nil},
		{"set-path", "http-request set-path /v2%[path]", "GET /x?q=1 HTTP/1.1\r\nHost: h\r\n\r\n", 200, []string{"GET /v2/x?q=1"}, nil},
		{"set-query", "http-request set-query a=%[src]", "GET /x?q=1 HTTP/1.1\r\nHost: h\r\n\r\n", 200, []string{"GET /x?a=127.0.0.1 "}, nil},
		{"set-uri", "http-request set-uri /fixed", "GET /x?q=1 HTTP/1.1\r\nHost: h\r\n\r\n", 200, []string{"GET /fixed "}, nil},
		{"set-method", "http-request set-method POST", "GET /x HTTP/1.1\r\nHost: h\r\n\r\n", 200, []string{"POST /x "}, nil},
		{"replace-path", "http-request replace-path /api/(.*) /\\1", "GET /api/users?x HTTP/1.1\r\nHost: h\r\n\r\n", 200, []string{"GET /users?x "}, nil},
		{"replace-uri", "http-request replace-uri ^/old(.*) /new\\1", "GET /old/a HTTP/1.1\r\nHost: h\r\n\r\n", 200, []string{"GET /new/a "}, nil},
		{"replace-header", "http-request replace-header X-A ^(.*)-(.*)$ \\2-\\1", "GET / HTTP/1.1\r\nHost: h\r\nX-A: left-right\r\n\r\n", 200, []string{"X-A: right-left"}, nil},
		{"replace-value", "http-request replace-value X-L ^a$ z", "GET / HTTP/1.1\r\nHost: h\r\nX-L: a, b, a\r\n\r\n", 200, []string{"X-L: z, b, z"}, nil},
		{"forwardfor except", "option forwardfor except 127.0.0.0/8", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 200, nil, []string{"X-Forwarded-For"}},
		{"forwardfor header", "option forwardfor header X-Real-IP", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 200, []string{"X-Real-IP: 127.0.0.1"}, nil},
		{"forwardfor if-none", "option forwardfor if-none", "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n", 200, []string{"X-Forwarded-For: 1.2.3.4\r\n"}, []string{"127.0.0.1"}},
		{"monitor", "monitor-uri /health", "GET /health HTTP/1.1\r\nHost: h\r\n\r\n", 200, []string{"Service ready."}, nil},
		{"monitor fail", "monitor-uri /health\n acl down nbsrv(be) lt 5\n monitor fail if down", "GET /health HTTP/1.1\r\nHost: h\r\n\r\n", 503, nil, nil},
		{"predefined", "http-request deny if METH_POST || HTTP_1.0", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", 403, nil, nil},
		{"response set-status", "http-response set-status 201 reason Made if { status 200 }", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 201, nil, nil},
		{"response deny", "http-response deny if { res.hdr(content-type) -m sub text }", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 502, nil, nil},
		{"response var", "http-request set-var(txn.p) path\n http-response set-header X-P %[var(txn.p)]", "GET /zz HTTP/1.1\r\nHost: h\r\n\r\n", 200, []string{"X-P: /zz"}, nil},
		{"errorloc302", "errorloc302 403 http://err.example.com/403\n http-request deny", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 302,
			[]string{"Location: http://err.example.com/403", "Cache-Control: no-cache"}, nil},
		{"errorloc303", "errorloc303 429 /busy\n http-request deny deny_status 429", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 303, []string{"Location: /busy"}, nil},
		{"http-error", "http-error status 403 content-type text/plain string \"go away\" hdr X-Why rules\n http-request deny", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 403,
			[]string{"go away", "X-Why: rules"}, nil},
		{"return hdr", "http-request return status 200 content-type text/plain lf-string \"%[var(proc.greeting)] %[var(proc.n)]\" hdr X-A \"b %[src]\"",
			"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 200, []string{"X-A: b 127.0.0.1", "hello 7", "Content-Length: 7"}, nil},
		{"return file", "http-request return status 200 file " + e503 + " content-type text/plain", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 200,
			[]string{"Content-Length: 85", "HTTP/1.1 503 Service Unavailable"}, nil},
		{"return errorfile", "http-request return errorfile " + e503, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 503, []string{"nope"}, nil},
		{"set-src", "http-request set-src hdr(x-real)\n http-request set-header X-S %[src]", "GET / HTTP/1.1\r\nHost: h\r\nX-Real: 192.0.2.4\r\n\r\n", 200,
			[]string{"X-S: 192.0.2.4"}, nil},
		{"set-dst-port", "http-request set-dst-port int(8443)\n http-request set-header X-D %[dst_port]", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 200,
			[]string{"X-D: 8443"}, nil},
		{"originalto", "option originalto", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 200, []string{"x-original-to: 127.0.0.1"}, nil},
		{"originalto except", "option originalto except 127.0.0.0/8", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 200, nil, []string{"original"}},
		{"set-map", "http-request set-map(" + dir + "/learned.map) %[req.hdr(x-key)] %[req.hdr(x-val)] if { req.hdr(x-key) -m found }\n" +
			" http-request set-header X-Learned %[req.hdr(x-key),map(" + dir + "/learned.map,none)]",
			"GET / HTTP/1.1\r\nHost: h\r\nX-Key: k1\r\nX-Val: v1\r\n\r\n", 200, []string{"X-Learned: v1"}, nil},
		{"add-acl", "acl seen src -f " + dir + "/seen.lst\n http-request set-header X-Seen yes if seen\n http-request add-acl(" + dir + "/seen.lst) %[src]\n" +
			" http-request set-header X-After yes if seen", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 200, []string{"X-After: yes"}, []string{"X-Seen"}},
		{"response return", "http-response return status 404 content-type text/plain string gone if { status 200 }",
			"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 404, []string{"gone"}, nil},
		{"response redirect", "http-response redirect location /elsewhere if { status 200 }",
			"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 302, []string{"Location: /elsewhere"}, nil},
		{"disable-l7-retry", "http-request disable-l7-retry", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 200, nil, nil},
		// A value built from request data (a decoded query here) never splits a head:
		// control bytes of a %[...] value are written #XX (as in logs), and a rewrite
		// of the request line that is not a valid target is refused (500, wrew).
		{"set-path cannot inject", "http-request set-path %[query,url_dec]", "GET /x?%2Fa%20HTTP%2F1.1%0D%0AX-Injected:%201 HTTP/1.1\r\nHost: h\r\n\r\n",
			500, nil, []string{"X-Injected: 1"}},
		{"set-uri cannot change authority", "http-request set-uri %[query,url_dec]", "GET /x?http://evil/ HTTP/1.1\r\nHost: h\r\n\r\n", 500, nil, []string{"GET http://evil/"}},
		{"set-method cannot inject", "http-request set-method %[query,url_dec]", "GET /x?GET%20/admin HTTP/1.1\r\nHost: h\r\n\r\n", 500, nil, []string{"GET /admin"}},
		{"set-header cannot inject", "http-request set-header X-Q %[query,url_dec]", "GET /x?a%0D%0AX-Injected:%201 HTTP/1.1\r\nHost: h\r\n\r\n",
			200, []string{"X-Q: a#0D#0AX-Injected: 1"}, []string{"\nX-Injected"}},
		{"replace-header cannot inject", "http-request replace-header X-A (.*) %[query,url_dec]", "GET /x?a%0D%0AX-Injected:%201 HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\r\n",
			200, []string{"X-A: a#0D#0AX-Injected: 1"}, []string{"\nX-Injected"}},
		{"redirect cannot inject", "http-request redirect location %[query,url_dec]", "GET /x?/a%0D%0AX-Injected:%201 HTTP/1.1\r\nHost: h\r\n\r\n",
			302, []string{"/a#0D#0AX-Injected: 1"}, []string{"\nX-Injected"}},
		{"return hdr cannot inject", "http-request return status 200 content-type text/plain string ok hdr X-R %[query,url_dec]",
			"GET /x?a%0D%0AX-Injected:%201 HTTP/1.1\r\nHost: h\r\n\r\n", 200, []string{"ok"}, []string{"\nX-Injected"}},
		{"replace-value from a regex group", "http-request replace-value X-A (.*) \\1,x", "GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\r\n",
			200, []string{"X-A: b,x"}, nil},
		{"tcp-request reject", "tcp-request connection reject if { src 127.0.0.1 }", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0, nil, nil},
		{"tcp-request accept", "tcp-request connection accept if { src 127.0.0.1 }\n tcp-request connection reject", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 200, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := "global\n set-var proc.greeting str(hello)\n set-var proc.n int(3),add(4)\ndefaults\n mode http\n timeout connect 1s\n timeout client 2s\n timeout server 2s\n" +
				"frontend fe\n bind 127.0.0.1:9\n " + tt.rules + "\n default_backend be\nbackend be\n server s1 " + be.addr + "\n"
			te := serveEngine(t, cfg)
			c, br := te.dial(t)
			defer c.Close()
			_, werr := c.Write([]byte(tt.req))
			if tt.status == 0 {
				// Rejected: closed without an answer (a reset when the request
				// was unread).
				c.SetReadDeadline(time.Now().Add(time.Second))
				n, err := br.ReadByte()
				var ne net.Error
				if err == nil || errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("connection not closed (read %q, %v)", n, err)
				}
				return
			}
			if werr != nil {
				t.Fatal(werr)
			}
			method := strings.Fields(tt.req)[0]
			resp, body := readResponse(t, br, method)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			var all strings.Builder
			resp.Header.Write(&all)
			all.WriteString(body)
			for _, w := range tt.want {
				if !strings.Contains(all.String(), w) {
					t.Errorf("missing %q in\n%s", w, all.String())
				}
			}
			for _, w := range tt.not {
				if strings.Contains(all.String(), w) {
					t.Errorf("unexpected %q in\n%s", w, all.String())
				}
			}
		})
	}
	_ = http.StatusOK
}

// TestUseServer: use-server sends matching requests to the named server, the others
// are balanced; a down server is skipped unless force-persist holds.
func TestUseServer(t *testing.T) {
	answer := func(name string) func(c net.Conn) {
		return func(c net.Conn) {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(name), name)
			}
		}
	}
	one, two := startBackend(t, answer("one")), startBackend(t, answer("two"))
	cfg := "defaults\n mode http\n timeout connect 1s\n timeout client 2s\n timeout server 2s\n" +
		"frontend fe\n bind 127.0.0.1:9\n default_backend be\n" +
		"backend be\n balance roundrobin\n use-server s2 if { path_beg /two }\n use-server s1 if { path_beg /force }\n" +
		" force-persist if { hdr(x-force) 1 }\n server s1 " + one.addr + "\n server s2 " + two.addr + "\n"
	te := serveEngine(t, cfg)
	get := func(path string, hdr ...string) string {
		c, br := te.dial(t)
		defer c.Close()
		req := "GET " + path + " HTTP/1.1\r\nHost: h\r\n"
		for _, h := range hdr {
			req += h + "\r\n"
		}
		c.Write([]byte(req + "\r\n"))
		_, body := readResponse(t, br, "GET")
		return body
	}
	for i := 0; i < 4; i++ {
		if got := get("/two/x"); got != "two" {
			t.Fatalf("use-server: %q", got)
		}
	}
	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		seen[get("/other")] = true
	}
	if !seen["one"] || !seen["two"] {
		t.Fatalf("balanced requests went to %v", seen)
	}
	te.st.Backends["be"].Servers[0].SetHealth(proxy.OpStopped, proxy.ByCLI)
	if got := get("/force"); got != "two" {
		t.Fatalf("use-server of a down server: %q, want the balanced one", got)
	}
	if got := get("/force", "X-Force: 1"); got != "one" {
		t.Fatalf("force-persist to a down server: %q", got)
	}
}

// TestCapturesLikeHAProxy sends the requests of a HAProxy 2.6.12 session with the
// same captures and compares the log lines it wrote.
func TestCapturesLikeHAProxy(t *testing.T) {
	be := startBackend(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nServer: tst-server-long-name\r\nX-Res: r1\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	captures := `
  capture request header Host len 5
  capture request header User-Agent len 20
  capture response header Server len 8
  capture response header X-Nope len 8
  declare capture request len 10
  declare capture response len 4
  http-request capture req.hdr(x-a) len 3
  http-request capture path id 0
  http-response capture res.hdr(x-res) id 0
`
	for _, tt := range []struct{ format, ua, path, want string }{
		{`log-format "hr=%hr hs=%hs hrl=%hrl hsl=%hsl c0=%[capture.req.hdr(0)] c1=%[capture.req.hdr(1)] c3=%[capture.req.hdr(3)] r0=%[capture.res.hdr(0)] r2=%[capture.res.hdr(2)] q=%{+Q}hr"`,
			"a b", "/p2", "hr={/p2|a b||abc} hs={r1||} hrl=/p2 a b - abc hsl=r1 - - c0=/p2 c1=a b c3=abc r0=r1 r2=- q=\"{/p2|a b||abc}\""},
		{`log-format "%hr %hs"`, `curl/7 "quoted" {agent}|x`, "/some/path", `{/some|curl/7 #22quoted#22 #7Bage||abc} {r1||}`},
	} {
		cfg := "defaults\n mode http\n timeout connect 1s\n timeout client 2s\n timeout server 2s\n" +
			"frontend fe\n bind 127.0.0.1:9\n log 127.0.0.1:514 local0\n " + tt.format + captures + " default_backend be\n" +
			"backend be\n server s1 " + be.addr + "\n"
		te := serveEngine(t, cfg)
		c, br := te.dial(t)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:18087\r\nUser-Agent: %s\r\nX-A: abcdef\r\n\r\n", tt.path, tt.ua)
		readResponse(t, br, "GET")
		c.Close()
		if got := te.logs.wait(t, 1)[0]; got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

// TestAuth: http-request auth and the http_auth fetches against a userlist, with the
// answers HAProxy 2.6.12 gave for the same configuration.
func TestAuth(t *testing.T) {
	const hash = "$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/" // "pw"
	cfg := "userlist L\n group admins\n user alice password " + hash + " groups admins\n user bob insecure-password secret\n" +
		"defaults\n mode http\n timeout connect 1s\n timeout client 2s\n timeout server 2s\n" +
		"frontend f\n bind 127.0.0.1:9\n http-request auth realm Private if !{ http_auth(L) }\n" +
		" http-request auth if { path /admin } !{ http_auth_group(L) admins }\n" +
		" http-request return status 200 content-type text/plain lf-string \"user=%[http_auth_user] grp=%[http_auth_group(L)]\"\n"
	te := serveEngine(t, cfg)
	ask := func(path, cred string) (int, string, string) {
		c, br := te.dial(t)
		defer c.Close()
		req := "GET " + path + " HTTP/1.1\r\nHost: h\r\n"
		if cred != "" {
			req += "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(cred)) + "\r\n"
		}
		c.Write([]byte(req + "\r\n"))
		resp, body := readResponse(t, br, "GET")
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body
	}
	if code, www, body := ask("/", ""); code != 401 || www != `Basic realm="Private"` ||
		body != "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n" {
		t.Errorf("no credentials: %d %q %q", code, www, body)
	}
	if code, _, body := ask("/", "alice:pw"); code != 200 || body != "user=alice grp=alice" {
		t.Errorf("alice: %d %q", code, body)
	}
	if code, _, body := ask("/", "bob:secret"); code != 200 || body != "user=bob grp=bob" {
		t.Errorf("bob: %d %q", code, body)
	}
	if code, _, _ := ask("/", "bob:wrong"); code != 401 {
		t.Errorf("wrong password: %d", code)
	}
	if code, www, _ := ask("/admin", "bob:secret"); code != 401 || www != `Basic realm="f"` {
		t.Errorf("bob on /admin: %d %q", code, www)
	}
	if code, _, _ := ask("/admin", "alice:pw"); code != 200 {
		t.Errorf("alice on /admin: %d", code)
	}
}

// TestEarlyHints: each early-hint rule sends its own 103 before the answer, as
// HAProxy 2.6.12 does.
func TestEarlyHints(t *testing.T) {
	te := serveEngine(t, "defaults\n mode http\n timeout connect 1s\n timeout client 2s\n timeout server 2s\n"+
		"frontend fe\n bind 127.0.0.1:9\n http-request early-hint Link \"</style.css>; rel=preload; as=style\"\n"+
		" http-request early-hint Link \"</%[path,field(2,/)].js>; rel=preload\"\n"+
		" http-request return status 200 content-type text/plain string ok\n")
	c, br := te.dial(t)
	defer c.Close()
	c.Write([]byte("GET /app HTTP/1.1\r\nHost: h\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	want := "HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload; as=style\r\n\r\n" +
		"HTTP/1.1 103 Early Hints\r\nlink: </app.js>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
		t.Fatalf("got %q (%v)\nwant %q", got, err, want)
	}
}

// TestRuleTerminationFlags: the log's termination state of answers made by rules, as
// HAProxy 2.6.12 logs them (LR for redirect, return and auth, PR for deny; monitor
// requests are not logged).
func TestRuleTerminationFlags(t *testing.T) {
	te := serveEngine(t, "userlist L\n user u insecure-password p\ndefaults\n mode http\n option httplog\n timeout connect 1s\n timeout client 2s\n timeout server 2s\n"+
		"frontend fe\n bind 127.0.0.1:9\n log 127.0.0.1:514 local0\n monitor-uri /mon\n"+
		" http-request redirect location /x if { path /r }\n http-request deny if { path /d }\n"+
		" http-request auth if { path /a }\n http-request return status 200 if { path /ret }\n")
	for _, tt := range []struct{ path, want string }{{"/mon", ""}, {"/r", " 302 "}, {"/d", " 403 "}, {"/a", " 401 "}, {"/ret", " 200 "}} {
		c, br := te.dial(t)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", tt.path)
		readResponse(t, br, "GET")
		c.Close()
	}
	// Lines may come in any order (each is written after its answer); the byte counts
	// are left out: HAProxy counts its internal answers' bytes its own way (83 for
	// this redirect's 80 bytes on the wire).
	want := map[string]string{"/r": "302 - - LR--", "/d": "403 - - PR--", "/a": "401 - - LR--", "/ret": "200 - - LR--"}
	for _, line := range te.logs.wait(t, 4) {
		f := strings.Fields(line)
		path := f[len(f)-2]
		if got := strings.Join([]string{f[5], f[7], f[8], f[9]}, " "); got != want[path] {
			t.Errorf("%s: %s\nwant %q", path, line, want[path])
		}
		delete(want, path)
	}
	if len(want) != 0 {
		t.Errorf("no line for %v", want)
	}
}

func TestNormalizeURI(t *testing.T) {
	for _, tt := range []struct{ norm, target, want string }{
		{"path-merge-slashes", "//a///b/?q=//x", "/a/b/?q=//x"},
		{"path-strip-dot", "/a/./b/.", "/a/b/"},
		{"path-strip-dotdot", "/a/b/../c/..", "/a/"},
		{"path-strip-dotdot", "/../a", "/../a"},
		{"path-strip-dotdot full", "/../a", "/a"},
		{"percent-decode-unreserved", "/%41%2f%7e?x=%41", "/A%2f~?x=A"},
		{"percent-to-uppercase", "/%2f%aB%zz", "/%2F%AB%zz"},
		{"path-strip-dotdot", "/a/../../b", "/../b"},
		{"path-strip-dotdot full", "/a/../../b", "/b"},
		{"path-strip-dot", "/a/.", "/a/"},
		{"query-sort-by-name", "/p?b=2&a=1&b=1", "/p?a=1&b=2&b=1"},
		// A fragment never reaches the normalizers: a target with '#' is refused
		// with 400 before any rule, as HAProxy 2.6 refuses it.
		{"fragment-strip", "/p#frag", "<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"},
	} {
		te := serveEngine(t, "global\n expose-experimental-directives\ndefaults\n mode http\n timeout connect 1s\n timeout client 2s\n timeout server 2s\n"+
			"frontend fe\n bind 127.0.0.1:9\n http-request normalize-uri "+tt.norm+"\n"+
			" http-request return status 200 content-type text/plain lf-string %[url]\n")
		c, br := te.dial(t)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", tt.target)
		_, body := readResponse(t, br, "GET")
		c.Close()
		if body != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.norm, tt.target, body, tt.want)
		}
	}
	te := serveEngine(t, "global\n expose-experimental-directives\ndefaults\n mode http\n timeout connect 1s\n timeout client 2s\n timeout server 2s\n"+
		"frontend fe\n bind 127.0.0.1:9\n http-request normalize-uri percent-to-uppercase strict\n http-request return status 200\n")
	c, br := te.dial(t)
	defer c.Close()
	c.Write([]byte("GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n"))
	if resp, _ := readResponse(t, br, "GET"); resp.StatusCode != 400 {
		t.Errorf("strict: %d", resp.StatusCode)
	}
}

// TestEditsSeenByLaterRules: a header set, added or deleted by a rule is what the
// following rules' fetches see, on both sides, as in HAProxy.
func TestEditsSeenByLaterRules(t *testing.T) {
	be := startBackend(t, httpHandler(echoHeaders))
	te := serveEngine(t, "defaults\n mode http\n timeout connect 1s\n timeout client 2s\n timeout server 2s\n"+
		"frontend fe\n bind 127.0.0.1:9\n"+
		" http-request set-header X-Role admin if { path /a }\n"+
		" http-request del-header X-Drop\n"+
		" http-request add-header X-Seen %[req.hdr(x-role)]-%[req.hdr_cnt(x-drop)]\n"+
		" http-request return status 200 content-type text/plain lf-string \"%[req.hdr(x-seen)]\" if { req.hdr(x-role) admin }\n"+
		" http-response set-header X-R first\n"+
		" http-response set-header X-Copy %[res.hdr(x-r)]\n"+
		" default_backend be\nbackend be\n server s1 "+be.addr+"\n")
	c, br := te.dial(t)
	defer c.Close()
	c.Write([]byte("GET /a HTTP/1.1\r\nHost: h\r\nX-Drop: 1\r\n\r\n"))
	if _, body := readResponse(t, br, "GET"); body != "admin-0" {
		t.Errorf("request side: %q", body)
	}
	c.Write([]byte("GET /b HTTP/1.1\r\nHost: h\r\n\r\n"))
	if resp, _ := readResponse(t, br, "GET"); resp.Header.Get("X-Copy") != "first" {
		t.Errorf("response side: %q", resp.Header.Get("X-Copy"))
	}
}
