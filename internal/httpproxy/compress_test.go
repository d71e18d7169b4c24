package httpproxy

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCompression: what is compressed and how, and what is left alone, by HAProxy
// 2.6's rules; the compressed bodies decompress to the server's.
func TestCompression(t *testing.T) {
	body := strings.Repeat("hello compression ", 200)
	var lastAE string
	be := startBackend(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			lastAE = req.Header.Get("Accept-Encoding")
			extra := req.Header.Get("X-Extra")
			if extra != "" {
				extra = strings.ReplaceAll(extra, ";", "\r\n") + "\r\n"
			}
			ctype := req.Header.Get("X-Type")
			if ctype == "" {
				ctype = "text/html; charset=utf-8"
			}
			if req.URL.Path == "/chunked" {
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n%sTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", ctype, extra, len(body), body)
				continue
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nETag: \"abc\"\r\n%sContent-Length: %d\r\n\r\n%s", ctype, extra, len(body), body)
		}
	})
	te := serveEngine(t, "defaults\n mode http\n timeout connect 1s\n timeout client 2s\n timeout server 2s\n"+
		"frontend fe\n bind 127.0.0.1:9\n compression algo gzip deflate raw-deflate\n compression type text/html text/plain\n compression offload\n default_backend be\n"+
		"backend be\n server s1 "+be.addr+"\n")
	get := func(path, version string, hdrs ...string) (*http.Response, []byte) {
		c, br := te.dial(t)
		defer c.Close()
		req := "GET " + path + " " + version + "\r\nHost: h\r\n" + strings.Join(hdrs, "\r\n")
		if len(hdrs) > 0 {
			req += "\r\n"
		}
		c.Write([]byte(req + "\r\n"))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	decode := func(enc string, b []byte) string {
		var r io.Reader
		var err error
		switch enc {
		case "gzip":
			r, err = gzip.NewReader(bytes.NewReader(b))
		case "deflate":
			r, err = zlib.NewReader(bytes.NewReader(b))
			if err != nil {
				r, err = flate.NewReader(bytes.NewReader(b)), nil
			}
		default:
			return string(b)
		}
		if err != nil {
			t.Fatalf("%s: %v", enc, err)
		}
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: %v", enc, err)
		}
		return string(out)
	}
	for _, tt := range []struct {
		name, path, version string
		hdrs                []string
		enc                 string
	}{
		{"gzip", "/", "HTTP/1.1", []string{"Accept-Encoding: gzip"}, "gzip"},
		{"q values", "/", "HTTP/1.1", []string{"Accept-Encoding: deflate;q=0.5, gzip"}, "gzip"},
		{"client order", "/", "HTTP/1.1", []string{"Accept-Encoding: deflate, gzip, br"}, "deflate"},
		{"chunked", "/chunked", "HTTP/1.1", []string{"Accept-Encoding: gzip"}, "gzip"},
		{"q=0", "/", "HTTP/1.1", []string{"Accept-Encoding: gzip;q=0"}, ""},
		{"none asked", "/", "HTTP/1.1", nil, ""},
		{"HTTP/1.0", "/", "HTTP/1.0", []string{"Accept-Encoding: gzip"}, ""},
		{"no-transform", "/", "HTTP/1.1", []string{"Accept-Encoding: gzip", "X-Extra: Cache-Control: no-transform"}, ""},
		{"encoded", "/", "HTTP/1.1", []string{"Accept-Encoding: gzip", "X-Extra: Content-Encoding: br"}, "br"},
		{"type", "/", "HTTP/1.1", []string{"Accept-Encoding: gzip", "X-Type: image/png"}, ""},
		{"multipart", "/", "HTTP/1.1", []string{"Accept-Encoding: gzip", "X-Type: multipart/mixed"}, ""},
		{"old mozilla", "/", "HTTP/1.1", []string{"Accept-Encoding: gzip", "User-Agent: Mozilla/4.0 (X11)"}, ""},
	} {
		resp, b := get(tt.path, tt.version, tt.hdrs...)
		if got := resp.Header.Get("Content-Encoding"); got != tt.enc {
			t.Errorf("%s: content-encoding %q, want %q", tt.name, got, tt.enc)
			continue
		}
		if got := decode(tt.enc, b); got != body {
			t.Errorf("%s: body of %d bytes, want %d", tt.name, len(got), len(body))
		}
		if tt.enc != "" && tt.enc != "br" {
			if resp.Header.Get("Vary") != "Accept-Encoding" || resp.ContentLength != -1 || len(b) >= len(body) ||
				tt.path == "/" && resp.Header.Get("ETag") != `W/"abc"` {
				t.Errorf("%s: vary %q, length %d, %d bytes, etag %q", tt.name, resp.Header.Get("Vary"), resp.ContentLength, len(b), resp.Header.Get("ETag"))
			}
		}
		if lastAE != "" && tt.version != "HTTP/1.0" { // HTTP/1.0 requests are left alone
			t.Errorf("%s: the server received Accept-Encoding %q despite compression offload", tt.name, lastAE)
		}
	}
	te.waitIdle(t, 2*time.Second)
	c := &te.st.Frontends[0].Counters
	if rsp, in, out, byp := c.CompRsp.Load(), c.CompIn.Load(), c.CompOut.Load(), c.CompByp.Load(); rsp != 4 ||
		in != 4*uint64(len(body)) || out == 0 || out >= in || byp != 8*uint64(len(body)) {
		t.Errorf("comp_rsp %d comp_in %d comp_out %d comp_byp %d", rsp, in, out, byp)
	}
}

// BenchmarkCompressGzip is the cost of compressing a 16 KiB text body at level 1
// with the standard library, as the engine does.
func BenchmarkCompressGzip(b *testing.B) {
	body := []byte(strings.Repeat("<tr><td>hello compression</td><td>12345</td></tr>\n", 16<<10/50))
	w := gzipPool.Get().(*gzip.Writer)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		w.Reset(io.Discard)
		w.Write(body)
		w.Close()
	}
}
