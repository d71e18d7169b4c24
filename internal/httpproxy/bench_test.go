package httpproxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// rawBackend answers every request of a keep-alive connection with a fixed 2-byte
// response, parsing just enough to stay in step (the same cost for both proxies).
func rawBackend(b testing.TB) string {
	be := startBackend(b, func(c net.Conn) {
		br := bufio.NewReaderSize(c, 16<<10)
		resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
		for {
			// Requests carry no body: a head ends with an empty line.
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 {
					break
				}
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	})
	return be.addr
}

// keepAliveLoad sends b.N requests over `parallel` keep-alive connections.
func keepAliveLoad(b *testing.B, addr string) {
	req := []byte("GET /bench/path?q=1 HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n")
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			if err := readFixed(br); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// readFixed reads one response with a Content-Length body without allocating.
func readFixed(br *bufio.Reader) error {
	n := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		const cl = "content-length:"
		if len(line) > len(cl) && equalFold(line[:len(cl)], cl) {
			v := line[len(cl) : len(line)-2]
			for len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
			n, _ = strconv.Atoi(bstr(v))
		}
	}
	if n < 0 {
		return io.ErrUnexpectedEOF
	}
	_, err := br.Discard(n)
	return err
}

// BenchmarkEngine and BenchmarkNetHTTPReverseProxy measure the same exchange through
// hitless's engine and through net/http's server with httputil.ReverseProxy: the
// comparison behind writing the HTTP path by hand. Client, proxy and server share
// the machine, so compare ns/op between the two, not with other hosts.
func BenchmarkEngine(b *testing.B) {
	te := serveEngine(b, listenConfig(rawBackend(b), "option forwardfor"))
	keepAliveLoad(b, te.addr)
}

func BenchmarkEngineNoLog(b *testing.B) {
	te := serveEngine(b, `
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:1
    server s1 `+rawBackend(b)+"\n")
	keepAliveLoad(b, te.addr)
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

// BenchmarkHAProxy runs the same load through /usr/sbin/haproxy (HAProxy 2.6) when it
// is installed, for the figure the engine is measured against.
func BenchmarkHAProxy(b *testing.B) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		b.Skip("haproxy not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // HAProxy refuses port 0: take a free one and hand it over
	cfg := filepath.Join(b.TempDir(), "h.cfg")
	text := "defaults\n    mode http\n    option forwardfor\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n" +
		"listen l\n    bind " + addr + "\n    server s1 " + rawBackend(b) + "\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", cfg)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i == 100 {
			b.Fatalf("haproxy did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	keepAliveLoad(b, addr)
}
