package httpproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"hitless/internal/config"
	"hitless/internal/proxy"
)

// testBackend is a loopback server that runs a handler per accepted connection and
// counts accepts. Cleanup closes the listener and every connection it accepted.
type testBackend struct {
	addr    string
	accepts atomic.Int32
}

func startBackend(t testing.TB, handle func(c net.Conn)) *testBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &testBackend{addr: ln.Addr().String()}
	var mu sync.Mutex // guards conns
	var conns []net.Conn
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.accepts.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				handle(c)
			}()
		}
	}()
	return b
}

// httpHandler serves requests on a backend connection with fn until the client
// closes or fn returns false.
func httpHandler(fn func(w io.Writer, req *http.Request) bool) func(c net.Conn) {
	return func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if !fn(c, req) {
				return
			}
		}
	}
}

// echoHeaders answers each request with its X-Forwarded-For values, the values of
// X-Test, the number of body bytes received and whether "Connection: close" came.
func echoHeaders(w io.Writer, req *http.Request) bool {
	n, _ := io.Copy(io.Discard, req.Body)
	body := fmt.Sprintf("xff=%s test=%s len=%d close=%v upgrade=%s",
		strings.Join(req.Header.Values("X-Forwarded-For"), "|"),
		strings.Join(req.Header.Values("X-Test"), "|"), n, req.Close, req.Header.Get("Upgrade"))
	_, err := fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Resp: r\r\n\r\n%s", len(body), body)
	return err == nil
}

// logCapture collects access-log lines.
type logCapture struct {
	mu    sync.Mutex // guards lines
	lines []string
}

func (l *logCapture) Log(level int, msg []byte) {
	l.mu.Lock()
	l.lines = append(l.lines, string(msg))
	l.mu.Unlock()
}

// wait returns the log lines once there are n of them (bounded wait).
func (l *logCapture) wait(t testing.TB, n int) []string {
	t.Helper()
	for i := 0; i < 200; i++ {
		l.mu.Lock()
		if len(l.lines) >= n {
			out := append([]string(nil), l.lines...)
			l.mu.Unlock()
			return out
		}
		l.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Fatalf("want %d log lines, got %q", n, l.lines)
	return nil
}

// testEngine is an engine serving the first frontend of a config on loopback.
type testEngine struct {
	addr   string
	st     *proxy.State
	e      *Engine
	logs   *logCapture
	cancel context.CancelFunc
	active atomic.Int32 // Serve calls running
}

// serveEngine serves cfgText's first frontend; setup, when given, runs on the engine
// before the first connection (to install applets).
func serveEngine(t testing.TB, cfgText string, setup ...func(e *Engine, st *proxy.State)) *testEngine {
	t.Helper()
	logs := &logCapture{}
	te := serveEngineLog(t, cfgText, logs, setup...)
	te.logs = logs
	return te
}

// serveEngineLog is serveEngine with the given access logger.
func serveEngineLog(t testing.TB, cfgText string, log proxy.AccessLogger, setup ...func(e *Engine, st *proxy.State)) *testEngine {
	t.Helper()
	cfg, err := config.LoadBytes("t.cfg", []byte(cfgText), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := proxy.Build(cfg, nil, func(*config.Proxy) (proxy.AccessLogger, error) { return log, nil })
	if err != nil {
		t.Fatal(err)
	}
	e := New(st, nil)
	for _, f := range setup {
		f(e, st)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	te := &testEngine{addr: ln.Addr().String(), st: st, e: e, cancel: cancel}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		ln.Close()
		wg.Wait()
		e.Close()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			te.active.Add(1)
			go func() {
				defer wg.Done()
				defer te.active.Add(-1)
				e.Serve(ctx, c, st.Frontends[0])
			}()
		}
	}()
	return te
}

// waitIdle waits (bounded) until no Serve call runs.
func (te *testEngine) waitIdle(t testing.TB, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for te.active.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still served after %v", te.active.Load(), limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dial opens a client connection with an overall deadline; cleanup closes it.
func (te *testEngine) dial(t testing.TB) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", te.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// roundTrip sends raw and reads one response with its body.
func roundTrip(t testing.TB, c net.Conn, br *bufio.Reader, raw string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return readResponse(t, br, "GET")
}

func readResponse(t testing.TB, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// closed reports whether the peer closes c within a second with nothing more sent.
func closed(c net.Conn, br *bufio.Reader) bool {
	c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := br.ReadByte()
	// A connection closed with the client's bytes unread ends with a reset.
	return err == io.EOF || errors.Is(err, syscall.ECONNRESET)
}

// patternReader yields n bytes of a repeating pattern, without holding them.
type patternReader struct{ left int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	n := int64(len(b))
	if n > p.left {
		n = p.left
	}
	for i := range b[:n] {
		b[i] = byte('a' + (p.left-int64(i))%26)
	}
	p.left -= n
	return int(n), nil
}

// checksum is a cheap order-sensitive digest of a stream.
func checksum(r io.Reader) (n int64, sum uint64, err error) {
	buf := make([]byte, 32<<10)
	for {
		m, err := r.Read(buf)
		for _, c := range buf[:m] {
			sum = sum*31 + uint64(c)
		}
		n += int64(m)
		if err == io.EOF {
			return n, sum, nil
		}
		if err != nil {
			return n, sum, err
		}
	}
}

func mustContain(t testing.TB, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Fatalf("%s: %q does not contain %q", what, got, w)
		}
	}
}
