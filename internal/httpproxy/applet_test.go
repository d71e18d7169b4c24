package httpproxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"hitless/internal/config"
	"hitless/internal/proxy"
	"hitless/internal/sample"
)

// echoApplet answers with what it received.
type echoApplet struct {
	name  string
	calls atomic.Int32
}

func (a *echoApplet) ServeApplet(w http.ResponseWriter, r *http.Request, s *sample.Ctx) {
	a.calls.Add(1)
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Applet", a.name)
	w.Header().Set("Content-Type", "text/plain")
	path, _ := pathExpr.AppendString(s, nil)
	fmt.Fprintf(w, "%s %s %s path=%s body=%s", a.name, r.Method, r.RequestURI, path, body)
}

var pathExpr, _ = sample.Parse("path")

const appletConfig = `
defaults
    mode http
    option httplog
    timeout connect 1s
    timeout client 2s
    timeout server 2s
frontend fe
    bind 127.0.0.1:8080
    http-request use-service prometheus-exporter if { path /metrics }
    stats uri /st
    use_backend be2 if { path_beg /b2 }
    default_backend be
backend be
    server s1 %s
backend be2
    stats uri /b2/stats
    server s1 %s
`

func TestApplets(t *testing.T) {
	srv := startBackend(t, httpHandler(func(w io.Writer, req *http.Request) bool {
		io.WriteString(w, "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nserver")
		return true
	}))
	stats, stats2, prom := &echoApplet{name: "stats"}, &echoApplet{name: "stats2"}, &echoApplet{name: "prom"}
	te := serveEngine(t, fmt.Sprintf(appletConfig, srv.addr, srv.addr), func(e *Engine, st *proxy.State) {
		byName := map[string]*config.Proxy{}
		for _, p := range st.Config.Proxies {
			byName[p.Name] = p
		}
		e.SetApplets(Applets{
			Stats:    map[*config.Proxy]Applet{byName["fe"]: stats, byName["be2"]: stats2},
			Services: map[string]Applet{"prometheus-exporter": prom},
		})
	})
	c, br := te.dial(t)
	tests := []struct {
		name, raw, status, body string
	}{
		{"stats prefix", "GET /st;csv HTTP/1.1\r\nHost: x\r\n\r\n", "200", "stats GET /st;csv path=/st;csv body="},
		{"stats method", "PUT /st HTTP/1.1\r\nHost: x\r\ncontent-length: 0\r\n\r\n", "200", "server"},
		{"post body", "POST /st HTTP/1.1\r\nHost: x\r\ncontent-length: 5\r\n\r\na=b&c", "200", "stats POST /st path=/st body=a=b&c"},
		{"chunked body", "POST /st HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "200", "stats POST /st path=/st body=abcde"},
		{"service", "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "200", "prom GET /metrics path=/metrics body="},
		{"backend stats", "GET /b2/stats HTTP/1.1\r\nHost: x\r\n\r\n", "200", "stats2 GET /b2/stats path=/b2/stats body="},
		{"no match", "GET /other HTTP/1.1\r\nHost: x\r\n\r\n", "200", "server"},
	}
	// One keep-alive connection carries every exchange.
	for _, tt := range tests {
		resp, body := roundTrip(t, c, br, tt.raw)
		if fmt.Sprint(resp.StatusCode) != tt.status || body != tt.body {
			t.Fatalf("%s: %d %q, want %s %q", tt.name, resp.StatusCode, body, tt.status, tt.body)
		}
	}
	if _, err := io.WriteString(c, "HEAD /st HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, body := readResponse(t, br, "HEAD")
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len("stats HEAD /st path=/st body=")) || resp.Header.Get("X-Applet") != "stats" {
		t.Fatalf("HEAD: %d %q %d %v", resp.StatusCode, body, resp.ContentLength, resp.Header)
	}
	lines := te.logs.wait(t, len(tests)+1)
	if !strings.Contains(strings.Join(lines, "\n"), " fe fe/<STATS> ") || !strings.Contains(strings.Join(lines, "\n"), " fe be2/<STATS> ") || !strings.Contains(strings.Join(lines, "\n"), " fe fe/<PROMEX> ") {
		t.Fatalf("log lines %q", lines)
	}

	// A body larger than an applet takes is refused with 413 and the connection closes.
	c2, br2 := te.dial(t)
	resp, _ = roundTrip(t, c2, br2, fmt.Sprintf("POST /st HTTP/1.1\r\nHost: x\r\ncontent-length: %d\r\n\r\n", maxAppletBody+1))
	if resp.StatusCode != 413 || !closed(c2, br2) {
		t.Fatalf("large body: %d", resp.StatusCode)
	}
	c3, br3 := te.dial(t)
	big := strings.Repeat("x", maxAppletBody+1)
	resp, _ = roundTrip(t, c3, br3, fmt.Sprintf("POST /st HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(big), big))
	if resp.StatusCode != 413 {
		t.Fatalf("large chunked body: %d", resp.StatusCode)
	}
}

// TestServiceMissing answers 503 when no applet is installed for a service.
func TestServiceMissing(t *testing.T) {
	te := serveEngine(t, fmt.Sprintf(appletConfig, "127.0.0.1:1", "127.0.0.1:1"))
	c, br := te.dial(t)
	if resp, _ := roundTrip(t, c, br, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 503 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// FuzzAppletRequest sends arbitrary bytes to a frontend with a stats page and a
// service: the engine answers or closes, and never panics or hangs.
func FuzzAppletRequest(f *testing.F) {
	f.Add([]byte("GET /st;csv HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("POST /st HTTP/1.1\r\nHost: x\r\ncontent-length: 3\r\n\r\na=b"))
	f.Add([]byte("POST /st HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n\r\n1\r\nx\r\nz\r\n"))
	f.Add([]byte("GET /metrics HTTP/1.0\r\n\r\nGET /st%zz HTTP/1.1\r\n\r\n"))
	f.Add([]byte("HEAD http://h/st?x HTTP/1.1\r\nAuthorization: Basic !!\r\n\r\n"))
	cfg, err := config.LoadBytes("t.cfg", []byte(`
defaults
    mode http
    retries 0
    timeout connect 100ms
    timeout client 100ms
    timeout server 100ms
frontend fe
    bind 127.0.0.1:8080
    http-request use-service prometheus-exporter if { path /metrics }
    stats uri /st
    default_backend be
backend be
    server s1 127.0.0.1:1
`), nil)
	if err != nil {
		f.Fatal(err)
	}
	st, err := proxy.Build(cfg, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	e := New(st, nil)
	e.SetApplets(Applets{
		Stats:    map[*config.Proxy]Applet{cfg.Proxies[0]: &echoApplet{name: "stats"}},
		Services: map[string]Applet{"prometheus-exporter": &echoApplet{name: "prom"}},
	})
	f.Fuzz(func(t *testing.T, raw []byte) {
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			e.Serve(context.Background(), server, st.Frontends[0])
			close(done)
		}()
		client.SetDeadline(time.Now().Add(5 * time.Second))
		go client.Write(raw)
		io.Copy(io.Discard, client)
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not return")
		}
	})
}
