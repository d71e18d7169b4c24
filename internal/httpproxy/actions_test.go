package httpproxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		{"tcp-request reject", "tcp-request connection reject if { src 127.0.0.1 }", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0, nil, nil},
		{"tcp-request accept", "tcp-request connection accept if { src 127.0.0.1 }\n tcp-request connection reject", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 200, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := "defaults\n mode http\n timeout connect 1s\n timeout client 2s\n timeout server 2s\n" +
				"frontend fe\n bind 127.0.0.1:9\n " + tt.rules + "\n default_backend be\nbackend be\n server s1 " + be.addr + "\n"
			te := serveEngine(t, cfg)
			c, br := te.dial(t)
			defer c.Close()
			if _, err := c.Write([]byte(tt.req)); err != nil {
				t.Fatal(err)
			}
			if tt.status == 0 {
				if !closed(c, br) {
					t.Fatal("connection not closed")
				}
				return
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
