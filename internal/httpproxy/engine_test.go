package httpproxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"hitless/internal/config"
	"hitless/internal/proxy"
)

// rawBackend answers every request on a keep-alive connection with a fixed response.
func rawBackend(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Seen-Xff: "+req.Header.Get("X-Forwarded-For")+"\r\n\r\nok"); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// serveEngine runs the engine for the first frontend of cfgText on a loopback listener.
func serveEngine(t testing.TB, cfgText string) string {
	t.Helper()
	cfg, err := config.LoadBytes("t.cfg", []byte(cfgText), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := proxy.Build(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := New(st, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); ln.Close(); e.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go e.Serve(ctx, c, st.Frontends[0])
		}
	}()
	return ln.Addr().String()
}

func engineConfig(server string) string {
	return fmt.Sprintf(`
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:1
    option forwardfor
    server s1 %s
`, server)
}

func TestServeKeepAliveAndForwardFor(t *testing.T) {
	addr := serveEngine(t, engineConfig(rawBackend(t)))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := 0; i < 5; i++ {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: spoof\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "ok" || resp.Header.Get("X-Seen-Xff") != "spoof, 127.0.0.1" && resp.Header.Get("X-Seen-Xff") != "spoof" {
			t.Fatalf("got %d %q %v", resp.StatusCode, b, resp.Header)
		}
	}
}

func TestServeHTTP10GetsKeepAliveOnlyWhenAsked(t *testing.T) {
	addr := serveEngine(t, engineConfig(rawBackend(t)))
	for _, tt := range []struct {
		req       string
		wantClose bool
	}{
		{"GET / HTTP/1.0\r\n\r\n", true},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false},
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, tt.req)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.Close != tt.wantClose {
			t.Fatalf("%q: close=%v", tt.req, resp.Close)
		}
	}
}

func TestServeRejectsGarbageWith400(t *testing.T) {
	addr := serveEngine(t, engineConfig(rawBackend(t)))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "HELLO\r\n\r\n")
	out, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(out), "HTTP/1.1 400 Bad request\r\n") {
		t.Fatalf("got %q", out)
	}
}

// keepAliveLoad sends b.N requests over one keep-alive connection to addr.
func keepAliveLoad(b *testing.B, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	req := []byte("GET /bench HTTP/1.1\r\nHost: bench\r\n\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkEngine and BenchmarkNetHTTPReverseProxy measure the same exchange through
// hitless's engine and through net/http's server with httputil.ReverseProxy: the
// comparison behind writing the HTTP path by hand.
func BenchmarkEngine(b *testing.B) {
	addr := serveEngine(b, engineConfig(rawBackend(b)))
	keepAliveLoad(b, addr)
}

func BenchmarkNetHTTPReverseProxy(b *testing.B) {
	target, _ := url.Parse("http://" + rawBackend(b))
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 64}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: rp}
	go srv.Serve(ln)
	defer srv.Close()
	keepAliveLoad(b, ln.Addr().String())
}
