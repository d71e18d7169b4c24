package httpproxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"strings"
	"testing"
	"time"

	"hitless/internal/proxy"
)

// listenConfig is a listen section in front of one server, with extra lines.
func listenConfig(server string, extra ...string) string {
	return `
defaults
    mode http
    option httplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:1
    log 127.0.0.1:514 local0
` + indent(extra) + `    server s1 ` + server + "\n"
}

func indent(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

func TestKeepAliveReusesBothSides(t *testing.T) {
	be := startBackend(t, httpHandler(echoHeaders))
	te := serveEngine(t, listenConfig(be.addr))
	for conn := 0; conn < 2; conn++ {
		c, br := te.dial(t)
		for i := 0; i < 5; i++ {
			resp, body := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp.StatusCode != 200 || resp.Close || !strings.Contains(body, "close=false") {
				t.Fatalf("conn %d request %d: %d close=%v %q", conn, i, resp.StatusCode, resp.Close, body)
			}
		}
		c.Close()
	}
	if n := be.accepts.Load(); n != 1 {
		t.Fatalf("server accepted %d connections for 10 requests, want 1 (pooled)", n)
	}
	if got := te.st.Frontends[0].Counters.Requests.Load(); got != 10 {
		t.Fatalf("frontend requests = %d, want 10", got)
	}
	fe := te.st.Frontends[0]
	head := uint64(len("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	for name, c := range map[string]*proxy.Counters{"frontend": &fe.Counters, "backend": &fe.Default.Counters, "server": &fe.Default.Servers[0].Counters} {
		if c.BytesIn.Load() != 10*head || c.BytesOut.Load() < 10*60 {
			t.Errorf("%s: bytes in %d (want %d), out %d", name, c.BytesIn.Load(), 10*head, c.BytesOut.Load())
		}
	}
	if n := fe.Default.Counters.Requests.Load(); n != 10 {
		t.Errorf("backend requests %d", n)
	}
	// The pooled connection counts as idle (idle_conn_cur) until the engine closes.
	srv := fe.Default.Servers[0]
	if n := srv.IdleConns.Load(); n != 1 {
		t.Errorf("idle connections %d, want 1", n)
	}
	te.e.Close()
	if n := srv.IdleConns.Load(); n != 0 {
		t.Errorf("idle connections %d after Close, want 0", n)
	}
}

func TestForwardForAppendsClientAddress(t *testing.T) {
	be := startBackend(t, httpHandler(echoHeaders))
	te := serveEngine(t, listenConfig(be.addr, "option forwardfor"))
	c, br := te.dial(t)
	_, body := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n")
	mustContain(t, "body", body, "xff=10.0.0.1|127.0.0.1 ")
}

func TestHTTP10(t *testing.T) {
	be := startBackend(t, httpHandler(echoHeaders))
	te := serveEngine(t, listenConfig(be.addr))
	tests := []struct {
		name, req string
		wantClose bool
	}{
		{"plain 1.0 closes", "GET / HTTP/1.0\r\n\r\n", true},
		{"1.0 keep-alive stays", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false},
		{"1.1 close closes", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, br := te.dial(t)
			resp, body := roundTrip(t, c, br, tt.req)
			if resp.StatusCode != 200 || resp.Close != tt.wantClose {
				t.Fatalf("status %d close=%v body %q", resp.StatusCode, resp.Close, body)
			}
			if tt.wantClose != closed(c, br) {
				t.Fatalf("connection closed = %v, want %v", !tt.wantClose, tt.wantClose)
			}
		})
	}
}

func TestChunkedResponseToHTTP10ClientIsDechunked(t *testing.T) {
	be := startBackend(t, httpHandler(func(w io.Writer, req *http.Request) bool {
		io.WriteString(w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
		return true
	}))
	te := serveEngine(t, listenConfig(be.addr))
	c, br := te.dial(t)
	io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	out, _ := io.ReadAll(br)
	if !strings.HasSuffix(string(out), "\r\n\r\nhello world") || strings.Contains(string(out), "chunked") {
		t.Fatalf("got %q", out)
	}
	// An HTTP/1.1 client gets the chunks (extensions dropped) and the trailer.
	c, br = te.dial(t)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := readResponse(t, br, "GET")
	if body != "hello world" || resp.Trailer.Get("X-Trailer") != "t" {
		t.Fatalf("got %q trailer %v", body, resp.Trailer)
	}
}

// TestLargeBodiesStream moves bodies far larger than the buffers both ways, chunked
// and with Content-Length, and checks them byte for byte.
func TestLargeBodiesStream(t *testing.T) {
	const size = 8 << 20
	be := startBackend(t, httpHandler(func(w io.Writer, req *http.Request) bool {
		n, sum, err := checksum(req.Body)
		if err != nil {
			return false
		}
		hdr := fmt.Sprintf("HTTP/1.1 200 OK\r\nX-Got: %d/%d\r\n", n, sum)
		if req.URL.Path == "/chunked" {
			io.WriteString(w, hdr+"Transfer-Encoding: chunked\r\n\r\n")
			cw := httputil.NewChunkedWriter(w)
			io.Copy(cw, &patternReader{left: size})
			cw.Close()
			io.WriteString(w, "\r\n")
		} else {
			io.WriteString(w, hdr+fmt.Sprintf("Content-Length: %d\r\n\r\n", size))
			io.Copy(w, &patternReader{left: size})
		}
		return true
	}))
	te := serveEngine(t, listenConfig(be.addr))
	_, wantSum, _ := checksum(&patternReader{left: size})
	for _, path := range []string{"/chunked", "/length"} {
		t.Run(path, func(t *testing.T) {
			c, br := te.dial(t)
			go func() {
				if path == "/chunked" {
					io.WriteString(c, "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
					cw := httputil.NewChunkedWriter(c)
					io.Copy(cw, &patternReader{left: size})
					cw.Close()
					io.WriteString(c, "\r\n")
				} else {
					fmt.Fprintf(c, "POST /length HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
					io.Copy(c, &patternReader{left: size})
				}
			}()
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			n, sum, err := checksum(resp.Body)
			if err != nil || n != size || sum != wantSum {
				t.Fatalf("response body: %d bytes sum %d err %v, want %d sum %d", n, sum, err, size, wantSum)
			}
			if got, want := resp.Header.Get("X-Got"), fmt.Sprintf("%d/%d", size, wantSum); got != want {
				t.Fatalf("server got request body %s, want %s", got, want)
			}
		})
	}
}

// TestBodiesAreNotBuffered proves streaming: each side sees the first part of a body
// before the other side has sent the rest.
func TestBodiesAreNotBuffered(t *testing.T) {
	gotFirst := make(chan struct{})
	sendRest := make(chan struct{})
	be := startBackend(t, httpHandler(func(w io.Writer, req *http.Request) bool {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(req.Body, buf); err != nil || string(buf) != "first" {
			return false
		}
		close(gotFirst)
		io.WriteString(w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nearly\r\n")
		if _, err := io.ReadAll(req.Body); err != nil {
			return false
		}
		<-sendRest
		io.WriteString(w, "4\r\nlate\r\n0\r\n\r\n")
		return true
	}))
	te := serveEngine(t, listenConfig(be.addr))
	c, br := te.dial(t)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
	select {
	case <-gotFirst:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not get the first chunk before the body ended")
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	early := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, early); err != nil || string(early) != "early" {
		t.Fatalf("first response chunk %q %v", early, err)
	}
	io.WriteString(c, "0\r\n\r\n")
	close(sendRest)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "late" {
		t.Fatalf("rest %q %v", rest, err)
	}
}

// smuggling lists requests that must get 400 and a closed connection, with the
// server never seeing them.
var smuggling = map[string]string{
	"CL and TE":          "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"TE and CL":          "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
	"differing CL":       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
	"TE not chunked":     "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
	"TE chunked, gzip":   "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
	"space before colon": "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n",
	"invalid name":       "GET / HTTP/1.1\r\nHost: x\r\nX@Y: 1\r\n\r\n",
	"obs-fold":           "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n",
	"bare CR":            "GET / HTTP/1.1\r\nHost: x\rX-A: 1\r\n\r\n",
	"NUL":                "GET / HTTP/1.1\r\nHost: x\x00\r\n\r\n",
	"bad version":        "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
	"bad method":         "GE(T / HTTP/1.1\r\nHost: x\r\n\r\n",
	"garbage":            "HELLO\r\n\r\n",
	"bad chunk size":     "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	"head too large":     "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 17<<10) + "\r\n\r\n",
}

func TestSmugglingGets400AndClose(t *testing.T) {
	be := startBackend(t, httpHandler(func(w io.Writer, req *http.Request) bool {
		io.Copy(io.Discard, req.Body)
		io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		return true
	}))
	te := serveEngine(t, listenConfig(be.addr))
	for name, raw := range smuggling {
		t.Run(name, func(t *testing.T) {
			c, br := te.dial(t)
			io.WriteString(c, raw)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != 400 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if !closed(c, br) {
				t.Fatal("connection not closed after 400")
			}
		})
	}
	// Only the request whose head was valid reached the server (the chunked body with
	// a bad size); none of the others did.
	if n := be.accepts.Load(); n > 1 {
		t.Fatalf("server saw %d connections", n)
	}
}

// TestErrorPagesMatchHAProxy compares the engine's answers byte for byte with the
// ones HAProxy 2.6.12 gave to the same requests (testdata/pages.golden.json).
func TestErrorPagesMatchHAProxy(t *testing.T) {
	raw, err := os.ReadFile("testdata/pages.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string]string
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	slow := startBackend(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	garbage := startBackend(t, func(c net.Conn) {
		c.Read(make([]byte, 1000))
		io.WriteString(c, "garbage\r\n\r\n")
	})
	statuses := []string{"200", "400", "401", "403", "404", "405", "407", "408", "410", "413", "421", "422", "425", "429", "500", "501", "502", "503", "504"}
	var cfg strings.Builder
	cfg.WriteString(`
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 300ms
    timeout http-request 300ms
frontend f
    bind 127.0.0.1:1
`)
	for _, s := range statuses {
		fmt.Fprintf(&cfg, "    http-request deny deny_status %s if { path /d%s }\n", s, s)
	}
	fmt.Fprintf(&cfg, `    http-request return status 404 if { path /r404 }
    http-request return status 200 content-type text/plain string hello if { path /ret }
    use_backend slow if { path /slow }
    use_backend garbage if { path /garbage }
    default_backend none
backend none
    server s1 127.0.0.1:1 disabled
backend slow
    server s1 %s
backend garbage
    server s1 %s
`, slow.addr, garbage.addr)
	te := serveEngine(t, cfg.String())
	requests := map[string]string{
		"return 404":      "GET /r404 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		"return string":   "GET /ret HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		"no server":       "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		"server timeout":  "GET /slow HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		"bad response":    "GET /garbage HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		"bad request":     "GET / HTTP/1.1\r\nHost: a\r\nX y: 1\r\n\r\n",
		"request timeout": "GET / HTTP/1.1\r\nHost: a\r\n",
	}
	for _, s := range statuses {
		requests["deny "+s] = "GET /d" + s + " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
	}
	if len(requests) != len(golden) {
		t.Fatalf("%d requests for %d golden answers", len(requests), len(golden))
	}
	for name, req := range requests {
		t.Run(name, func(t *testing.T) {
			c, br := te.dial(t)
			io.WriteString(c, req)
			got, _ := io.ReadAll(br)
			if string(got) != golden[name] {
				t.Fatalf("got\n%q\nwant\n%q", got, golden[name])
			}
		})
	}
}

func TestServerErrors(t *testing.T) {
	early := startBackend(t, func(c net.Conn) {
		c.Read(make([]byte, 1000))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-")
	})
	garbage := startBackend(t, func(c net.Conn) {
		c.Read(make([]byte, 1000))
		io.WriteString(c, "SSH-2.0-OpenSSH\r\n\r\n")
	})
	slow := startBackend(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := refused.Addr().String()
	refused.Close()
	tests := []struct {
		name, server string
		status       int
		term         string
	}{
		{"server closes mid-head", early.addr, 502, " SH--"},
		{"server sends garbage", garbage.addr, 502, " SH--"},
		{"server too slow", slow.addr, 504, " sH--"},
		{"connection refused", refusedAddr, 503, " SC--"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := serveEngine(t, strings.Replace(listenConfig(tt.server, "retries 0"), "timeout server 5s", "timeout server 300ms", 1))
			c, br := te.dial(t)
			start := time.Now()
			resp, _ := roundTrip(t, c, br, "GET /p HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("took %v", time.Since(start))
			}
			line := te.logs.wait(t, 1)[0]
			mustContain(t, "log", line, fmt.Sprintf(" %d ", tt.status), tt.term, `"GET /p HTTP/1.1"`)
			// As HAProxy, the connection stays usable after the error answer.
			resp, _ = roundTrip(t, c, br, "GET /p HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp.StatusCode != tt.status {
				t.Fatalf("second status %d", resp.StatusCode)
			}
		})
	}
}

func TestNoServer503(t *testing.T) {
	te := serveEngine(t, `
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:1
    use_backend b if { path /b }
backend b
    server s1 127.0.0.1:1 disabled
`)
	for _, path := range []string{"/b", "/no-backend"} {
		c, br := te.dial(t)
		resp, body := roundTrip(t, c, br, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 503 || !strings.Contains(body, "No server is available") {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, body)
		}
	}
}

func TestRequestTimeout408(t *testing.T) {
	be := startBackend(t, httpHandler(echoHeaders))
	te := serveEngine(t, listenConfig(be.addr, "timeout http-request 200ms", "timeout http-keep-alive 300ms"))
	c, br := te.dial(t)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
	start := time.Now()
	resp, _ := readResponse(t, br, "GET")
	if resp.StatusCode != 408 || time.Since(start) > 2*time.Second {
		t.Fatalf("status %d after %v", resp.StatusCode, time.Since(start))
	}
	if !closed(c, br) {
		t.Fatal("not closed after 408")
	}
	mustContain(t, "log", te.logs.wait(t, 1)[0], " 408 ", " cR--")

	// An idle keep-alive connection is closed silently after timeout http-keep-alive.
	c, br = te.dial(t)
	roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	start = time.Now()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	out, err := io.ReadAll(br)
	if err != nil || len(out) != 0 {
		t.Fatalf("idle close: %q %v", out, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Fatalf("idle connection closed after %v, want about 300ms", d)
	}
}

func TestHTTPRequestRules(t *testing.T) {
	be := startBackend(t, httpHandler(echoHeaders))
	te := serveEngine(t, listenConfig(be.addr,
		"http-request return status 200 content-type text/plain string pong if { path /ping }",
		"http-request deny if { path /admin }",
		"http-request deny deny_status 429 if { path /slow-down }",
		"http-request del-header X-Secret",
		"http-request set-header X-Test via-%[src]-%[method]-%[path]",
		"http-request add-header X-Test second",
		"http-response set-header X-Resp replaced",
		"http-response del-header X-Drop",
	))
	c, br := te.dial(t)
	resp, body := roundTrip(t, c, br, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 200 || body != "pong" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("return: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	// A denied request with a body: the body is skipped, the connection stays.
	resp, body = roundTrip(t, c, br, "POST /admin HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd")
	if resp.StatusCode != 403 || !strings.Contains(body, "Request forbidden") {
		t.Fatalf("deny: %d %q", resp.StatusCode, body)
	}
	resp, _ = roundTrip(t, c, br, "GET /slow-down HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 429 {
		t.Fatalf("deny_status: %d", resp.StatusCode)
	}
	resp, body = roundTrip(t, c, br, "GET /a?q=1 HTTP/1.1\r\nHost: x\r\nX-Test: client\r\nX-Secret: s\r\n\r\n")
	if resp.StatusCode != 200 || resp.Header.Get("X-Resp") != "replaced" {
		t.Fatalf("forwarded: %d %v", resp.StatusCode, resp.Header)
	}
	mustContain(t, "body", body, "test=via-127.0.0.1-GET-/a|second ")
	if be.accepts.Load() != 1 {
		t.Fatalf("server accepts %d", be.accepts.Load())
	}
	lines := te.logs.wait(t, 4)
	mustContain(t, "deny log", lines[1], " 403 ", " PR--", `"POST /admin HTTP/1.1"`)
	mustContain(t, "forward log", lines[3], " 200 ", " ----", "l/s1")
}

func TestBackendRulesRunAfterFrontendRules(t *testing.T) {
	be := startBackend(t, httpHandler(echoHeaders))
	te := serveEngine(t, fmt.Sprintf(`
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:1
    http-request set-header X-Test fe
    http-response set-header X-Resp fe
    default_backend b
backend b
    option forwardfor
    http-request add-header X-Test be
    http-response set-header X-Resp be
    server s1 %s
`, be.addr))
	c, br := te.dial(t)
	resp, body := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	mustContain(t, "body", body, "test=fe|be ", "xff=127.0.0.1 ")
	// The backend's http-response rules run first, then the frontend's.
	if got := resp.Header.Values("X-Resp"); len(got) != 1 || got[0] != "fe" {
		t.Fatalf("X-Resp %q", got)
	}
}

func TestCloseModes(t *testing.T) {
	tests := []struct {
		option          string
		wantAccepts     int32
		clientKeepAlive bool
	}{
		{"option http-keep-alive", 1, true},
		{"option http-server-close", 3, true},
		{"option httpclose", 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.option, func(t *testing.T) {
			be := startBackend(t, httpHandler(echoHeaders))
			te := serveEngine(t, listenConfig(be.addr, tt.option))
			conns := 0
			var c net.Conn
			var br *bufio.Reader
			for i := 0; i < 3; i++ {
				if c == nil {
					c, br = te.dial(t)
					conns++
				}
				resp, body := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				wantSrvClose := tt.wantAccepts > 1
				if !strings.Contains(body, fmt.Sprintf("close=%v", wantSrvClose)) {
					t.Fatalf("server saw %q, want close=%v", body, wantSrvClose)
				}
				if resp.Close == tt.clientKeepAlive {
					t.Fatalf("client response close=%v", resp.Close)
				}
				if resp.Close {
					if !closed(c, br) {
						t.Fatal("connection not closed")
					}
					c = nil
				}
			}
			if n := be.accepts.Load(); n != tt.wantAccepts {
				t.Fatalf("server accepts %d, want %d", n, tt.wantAccepts)
			}
			if want := map[bool]int{true: 1, false: 3}[tt.clientKeepAlive]; conns != want {
				t.Fatalf("client connections %d, want %d", conns, want)
			}
		})
	}
}

func TestWebSocketUpgradeEcho(t *testing.T) {
	be := startBackend(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil || req.Header.Get("Upgrade") != "websocket" {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: a\r\n\r\nhello-from-server;")
		// Echo everything, bytes already buffered first.
		if n := br.Buffered(); n > 0 {
			b, _ := br.Peek(n)
			c.Write(b)
			br.Discard(n)
		}
		io.Copy(c, br)
	})
	te := serveEngine(t, listenConfig(be.addr, "timeout tunnel 2s"))
	c, br := te.dial(t)
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\nearly;")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "websocket" {
		t.Fatalf("got %d %v", resp.StatusCode, resp.Header)
	}
	for i := 0; i < 3; i++ {
		fmt.Fprintf(c, "msg%d;", i)
	}
	want := "hello-from-server;early;msg0;msg1;msg2;"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
		t.Fatalf("tunnel got %q %v", got, err)
	}
	c.(*net.TCPConn).CloseWrite()
	if !closed(c, br) {
		t.Fatal("tunnel did not end after the client's close")
	}
}

// TestServerIdleCloseIsRetried: a server that closes a pooled connection, either
// while idle or just as the next request arrives, never turns into a client error.
func TestServerIdleCloseIsRetried(t *testing.T) {
	t.Run("closed while idle", func(t *testing.T) {
		be := startBackend(t, httpHandler(func(w io.Writer, req *http.Request) bool {
			echoHeaders(w, req)
			return false // close right after the answer, without saying so
		}))
		te := serveEngine(t, listenConfig(be.addr))
		c, br := te.dial(t)
		for i := 0; i < 3; i++ {
			resp, _ := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp.StatusCode != 200 {
				t.Fatalf("request %d: %d", i, resp.StatusCode)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if n := be.accepts.Load(); n != 3 {
			t.Fatalf("accepts %d", n)
		}
	})
	t.Run("closed as the request arrives", func(t *testing.T) {
		be := startBackend(t, func(c net.Conn) {
			br := bufio.NewReader(c)
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			echoHeaders(c, req)
			// Read the next request, then drop the connection unanswered.
			http.ReadRequest(br)
		})
		te := serveEngine(t, listenConfig(be.addr))
		c, br := te.dial(t)
		for i := 0; i < 4; i++ {
			resp, body := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp.StatusCode != 200 {
				t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
			}
		}
	})
}

func TestInterimResponseIsForwarded(t *testing.T) {
	be := startBackend(t, httpHandler(func(w io.Writer, req *http.Request) bool {
		io.WriteString(w, "HTTP/1.1 100 Continue\r\n\r\n")
		n, _ := io.Copy(io.Discard, req.Body)
		fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(fmt.Sprint(n)), fmt.Sprint(n))
		return true
	}))
	te := serveEngine(t, listenConfig(be.addr))
	c, br := te.dial(t)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("interim %q %v", line, err)
	}
	br.ReadString('\n')
	io.WriteString(c, "abc")
	resp, body := readResponse(t, br, "POST")
	if resp.StatusCode != 200 || body != "3" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

func TestHeadResponseHasNoBody(t *testing.T) {
	be := startBackend(t, httpHandler(func(w io.Writer, req *http.Request) bool {
		io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
		return true
	}))
	te := serveEngine(t, listenConfig(be.addr))
	c, br := te.dial(t)
	for i := 0; i < 2; i++ {
		io.WriteString(c, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, _ := readResponse(t, br, "HEAD")
		if resp.StatusCode != 200 || resp.ContentLength != 1000 {
			t.Fatalf("%d %d", resp.StatusCode, resp.ContentLength)
		}
	}
}

func TestResponseUntilCloseClosesClient(t *testing.T) {
	be := startBackend(t, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\nall of it")
	})
	te := serveEngine(t, listenConfig(be.addr))
	c, br := te.dial(t)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := readResponse(t, br, "GET")
	if body != "all of it" || !resp.Close {
		t.Fatalf("%q close=%v", body, resp.Close)
	}
}

func TestClientAbortDuringUpload(t *testing.T) {
	be := startBackend(t, httpHandler(echoHeaders))
	te := serveEngine(t, listenConfig(be.addr))
	c, _ := te.dial(t)
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npartial")
	time.Sleep(50 * time.Millisecond)
	c.Close()
	mustContain(t, "log", te.logs.wait(t, 1)[0], " CD--", `"POST /up HTTP/1.1"`)
}

func TestHardStopClosesPromptly(t *testing.T) {
	be := startBackend(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	te := serveEngine(t, listenConfig(be.addr))
	c, br := te.dial(t)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	te.cancel()
	io.ReadAll(br)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("closed after %v", d)
	}
	te.waitIdle(t, time.Second)
}

// TestPanicClosesOnlyItsConnection: a failure inside a connection's handling is
// recovered and logged; Serve returns and closes that connection.
func TestPanicClosesOnlyItsConnection(t *testing.T) {
	var events strings.Builder
	e := New(&proxy.State{}, slog.New(slog.NewTextHandler(&events, nil)))
	client, server := net.Pipe()
	defer client.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A frontend without configuration makes the first request fail.
		e.Serve(context.Background(), server, &proxy.Frontend{Name: "broken"})
	}()
	client.SetDeadline(time.Now().Add(5 * time.Second))
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("connection not closed: %v", err)
	}
	mustContain(t, "events", events.String(), "broken", "failed")
}
