// Package e2e builds the real hitless binary and drives it with real configurations,
// real backends and real clients, on loopback addresses and free ports only.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hitless-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "hitless")
	build := exec.Command("go", "build", "-o", binPath, "-ldflags", "-X main.version=e2e-test", "../../cmd/hitless")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building hitless:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// statSources looks at every Go source of the module, so that `go test` keeps a cached
// result of this package only while none of the sources the binary is built from
// changed (the build runs in a child process, which the cache does not see). It runs
// once, from the first test that runs the binary: file accesses in TestMain are not
// recorded.
var statSources = sync.OnceFunc(func() {
	filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != "../.." {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".go") || d.Name() == "go.mod" || d.Name() == "go.sum") {
			os.Stat(path)
		}
		return nil
	})
})

// freePort returns a loopback TCP port that was free a moment ago (configs refuse
// port 0, as HAProxy does).
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects a process's output safely.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a running hitless.
type proc struct {
	cmd    *exec.Cmd
	out    *syncBuffer // stdout and stderr
	done   chan struct{}
	cfg    string
	waited error
}

// writeConfig writes text into a temporary file and returns its path.
func writeConfig(t testing.TB, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hitless.cfg")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startHitless runs hitless on cfg and waits until every address in ready accepts.
func startHitless(t testing.TB, cfg string, ready ...string) *proc {
	t.Helper()
	path := writeConfig(t, cfg)
	p := launch(t, path, "-f", path)
	for _, a := range ready {
		if !waitAccept(a, 5*time.Second, p.done) {
			t.Fatalf("hitless did not listen on %s; output:\n%s", a, p.out.String())
		}
	}
	return p
}

// launch starts the binary with args; the process is stopped when the test ends.
func launch(t testing.TB, cfgPath string, args ...string) *proc {
	t.Helper()
	statSources()
	p := &proc{out: &syncBuffer{}, done: make(chan struct{}), cfg: cfgPath}
	p.cmd = exec.Command(binPath, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waited = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// serveTCP runs handle for every connection accepted on a loopback port and returns
// the address; the listener closes when the test ends.
func serveTCP(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	return serveTCPOn(t, "127.0.0.1:0", handle)
}

// serveTCPOn is serveTCP on a given address; the test skips when it cannot listen.
func serveTCPOn(t testing.TB, addr string, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
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
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

func (p *proc) stop(t testing.TB) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("hitless did not stop within 3s of SIGTERM; output:\n%s", p.out.String())
	}
}

func waitAccept(addr string, d time.Duration, dead <-chan struct{}) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-dead:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// runHitless runs the binary to completion and returns its output and exit code.
func runHitless(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	statSources()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// backend is an HTTP server on loopback that answers with its name and counts the
// connections it accepted and the requests it served.
type backend struct {
	name     string
	addr     string
	port     int
	conns    atomic.Int64
	requests atomic.Int64
	srv      *http.Server
	ln       net.Listener
	lastReq  atomic.Value // *http.Request headers of the last request
}

func newBackend(t testing.TB, name string, h http.HandlerFunc) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, addr: ln.Addr().String(), port: ln.Addr().(*net.TCPAddr).Port, ln: ln}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("X-Backend", name)
			io.WriteString(w, name)
		}
	}
	b.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.requests.Add(1)
			b.lastReq.Store(r.Header.Clone())
			h(w, r)
		}),
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateNew {
				b.conns.Add(1)
			}
		},
	}
	go b.srv.Serve(ln)
	t.Cleanup(func() { b.srv.Close() })
	return b
}

func (b *backend) stop() { b.srv.Close() }

// get sends one GET on a fresh connection and returns the status and body.
func get(t testing.TB, url string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	req.Close = true
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

// rawExchange writes raw bytes on a new connection and reads until close or timeout.
func rawExchange(t testing.TB, addr, raw string, d time.Duration) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(d))
	io.WriteString(c, raw)
	var out bytes.Buffer
	io.Copy(&out, c)
	return out.String()
}

// statusOf returns the status code of the first response in raw.
func statusOf(raw string) string {
	line, _, _ := strings.Cut(raw, "\r\n")
	f := strings.Fields(line)
	if len(f) < 2 {
		return line
	}
	return f[1]
}

// udpLogs listens on a loopback UDP port and collects the lines it receives.
type udpLogs struct {
	pc    net.PacketConn
	mu    sync.Mutex
	lines []string
}

func newUDPLogs(t testing.TB) *udpLogs {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &udpLogs{pc: pc}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			u.mu.Lock()
			u.lines = append(u.lines, strings.TrimRight(string(buf[:n]), "\n"))
			u.mu.Unlock()
		}
	}()
	return u
}

func (u *udpLogs) addr() string { return u.pc.LocalAddr().String() }

func (u *udpLogs) find(sub string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, l := range u.lines {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// readResponse reads one HTTP response from br.
func readResponse(t testing.TB, br *bufio.Reader) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp, string(b)
}

// vmHWM is the peak resident memory of a process in KiB.
func vmHWM(t testing.TB, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			var n int
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:")), "%d", &n)
			return n
		}
	}
	return 0
}
