package httpproxy

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestErrorFilesAreSentVerbatim checks that `errorfile` answers replace the built-in
// pages byte for byte, the backend's before the frontend's, that `errorfiles` imports
// from an http-errors section, that an empty file closes without an answer, and that
// the connection closes after a file's answer.
func TestErrorFilesAreSentVerbatim(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fe503 := "HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<h1>frontend 503</h1>\n"
	be503 := "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\nbackend 503\n"
	deny := "HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope"
	te := serveEngine(t, `
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    errorfile 503 `+write("fe503.http", fe503)+`
http-errors site
    errorfile 403 `+write("403.http", deny)+`
    errorfile 408 `+write("empty.http", "")+`
frontend f
    bind 127.0.0.1:1
    timeout http-request 300ms
    errorfiles site
    http-request deny if { path /deny }
    use_backend b if { path /b }
    use_backend c if { path /c }
backend b
    errorfile 503 `+write("be503.http", be503)+`
    server s1 127.0.0.1:1 disabled
backend c
    server s1 127.0.0.1:1 disabled
`)
	cases := []struct{ path, want string }{
		{"/no-backend", fe503},
		{"/b", be503},
		{"/c", fe503}, // backend c inherits the defaults' file
		{"/deny", deny},
	}
	for _, c := range cases {
		conn, br := te.dial(t)
		io.WriteString(conn, "GET "+c.path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		got, err := io.ReadAll(br)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if string(got) != c.want {
			t.Errorf("%s: got %q, want %q then a close", c.path, got, c.want)
		}
	}
	// 408 with an empty file: the connection closes with nothing sent.
	conn, br := te.dial(t)
	io.WriteString(conn, "GET / HTTP/1.1\r\n")
	got, err := io.ReadAll(br)
	if err != nil || len(got) != 0 {
		t.Errorf("empty 408 file: got %q, %v; want a close with nothing sent", got, err)
	}
}
