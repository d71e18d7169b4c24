package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hitless/internal/storm"
)

// reloadSetup is a configuration with a stats socket that exposes the listeners, in
// its own directory, and the helpers to start and reload hitless on it.
type reloadSetup struct {
	dir, cfg, sock, pidfile string
	addr                    string
}

func newReloadSetup(t *testing.T, body func(addr, sock string) string) *reloadSetup {
	t.Helper()
	dir := t.TempDir()
	r := &reloadSetup{dir: dir, sock: filepath.Join(dir, "h.sock"), pidfile: filepath.Join(dir, "h.pid")}
	r.addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	r.cfg = filepath.Join(dir, "h.cfg")
	if err := os.WriteFile(r.cfg, []byte(body(r.addr, r.sock)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.killAll() })
	return r
}

// start runs hitless in the foreground with extra flags and waits for it to listen.
func (r *reloadSetup) start(t *testing.T, extra ...string) *proc {
	t.Helper()
	p := launch(t, r.cfg, append([]string{"-f", r.cfg, "-p", r.pidfile}, extra...)...)
	if !waitFor(5*time.Second, func() bool {
		b, _ := os.ReadFile(r.pidfile)
		return strings.TrimSpace(string(b)) == strconv.Itoa(p.cmd.Process.Pid)
	}) {
		t.Fatalf("hitless did not start; output:\n%s", p.out.String())
	}
	return p
}

// reloadCmd is the operator's reload command line, as HAProxy users write it.
func (r *reloadSetup) reloadCmd(withX bool) string {
	x := ""
	if withX {
		x = " -x " + r.sock
	}
	return fmt.Sprintf("%s -f %s -p %s -D -q -sf $(cat %s)%s && cat %s >> %s/pids",
		binPath, r.cfg, r.pidfile, r.pidfile, x, r.pidfile, r.dir)
}

// killAll ends every process a reload started (their pids were recorded).
func (r *reloadSetup) killAll() {
	b, _ := os.ReadFile(filepath.Join(r.dir, "pids"))
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func (r *reloadSetup) currentPid() int {
	b, _ := os.ReadFile(r.pidfile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

func alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }

const reloadConfig = `
global
    stats socket %s mode 600 level admin expose-fd listeners
    hard-stop-after 10s
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout http-keep-alive 1s
frontend fe
    bind %s
    default_backend be
backend be
    server s1 %s
`

// TestReloadUnderLoadKeepsQueuedConnections: reloads every 200 ms while new
// connections arrive and keep-alive connections are busy; not one request may fail.
func TestReloadUnderLoadKeepsQueuedConnections(t *testing.T) {
	be := newBackend(t, "ok", nil)
	r := newReloadSetup(t, func(addr, sock string) string { return fmt.Sprintf(reloadConfig, sock, addr, be.addr) })
	r.start(t)
	res := storm.Run(context.Background(), storm.Options{
		Target: r.addr, Rate: 300, KeepAlive: 8, Duration: 5 * time.Second, Timeout: 5 * time.Second,
		Reload: r.reloadCmd(true), Every: 200 * time.Millisecond, BodyLen: 2,
	})
	t.Logf("storm: %d requests, %d reloads, failures %v, p99 %.1f ms", res.Requests, res.Reloads, res.FailuresBy, res.P99Millis)
	if res.Failures() != 0 || res.ReloadErrors != 0 {
		t.Fatalf("failures %v, reload errors %d, first errors %v", res.FailuresBy, res.ReloadErrors, res.FirstErrors)
	}
	if res.Reloads < 10 || res.Requests < 1000 {
		t.Fatalf("too little happened: %d reloads, %d requests", res.Reloads, res.Requests)
	}
	// Every old process leaves once drained: only the newest remains.
	last := r.currentPid()
	b, _ := os.ReadFile(filepath.Join(r.dir, "pids"))
	if !waitFor(5*time.Second, func() bool {
		for _, f := range strings.Fields(string(b)) {
			if pid, _ := strconv.Atoi(f); pid != last && alive(pid) {
				return false
			}
		}
		return true
	}) {
		t.Fatal("old processes still running 5 s after the storm")
	}
}

func TestBadConfigDoesNotDisturbRunningProcess(t *testing.T) {
	be := newBackend(t, "ok", nil)
	r := newReloadSetup(t, func(addr, sock string) string { return fmt.Sprintf(reloadConfig, sock, addr, be.addr) })
	a := r.start(t)
	good, _ := os.ReadFile(r.cfg)
	os.WriteFile(r.cfg, append(good, []byte("    bogus-keyword\n")...), 0o644)
	out, err := exec.Command("/bin/sh", "-c", r.reloadCmd(true)).CombinedOutput()
	if err == nil {
		t.Fatalf("reload with a broken config succeeded: %s", out)
	}
	if !alive(a.cmd.Process.Pid) || r.currentPid() != a.cmd.Process.Pid {
		t.Fatal("the running process was disturbed")
	}
	if code, body, _ := get(t, "http://"+r.addr+"/"); code != 200 || body != "ok" {
		t.Fatalf("after a failed reload: %d %q", code, body)
	}
}

func TestXToMissingSocketFallsBackToReusePort(t *testing.T) {
	be := newBackend(t, "ok", nil)
	r := newReloadSetup(t, func(addr, sock string) string {
		return fmt.Sprintf(strings.Replace(reloadConfig, "    stats socket %s mode 600 level admin expose-fd listeners\n", "", 1), addr, be.addr)
	})
	a := r.start(t)
	b := r.start(t, "-sf", strconv.Itoa(a.cmd.Process.Pid), "-x", filepath.Join(r.dir, "missing.sock"))
	if !strings.Contains(b.out.String(), "Failed to connect to the old process socket") {
		t.Fatalf("no warning:\n%s", b.out.String())
	}
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		t.Fatal("old process still running")
	}
	if code, _, _ := get(t, "http://"+r.addr+"/"); code != 200 {
		t.Fatalf("status %d", code)
	}
}

func TestUnixSocketBindSurvivesReloads(t *testing.T) {
	be := newBackend(t, "ok", nil)
	var path string
	r := newReloadSetup(t, func(addr, sock string) string {
		path = filepath.Join(filepath.Dir(sock), "front.sock")
		return fmt.Sprintf(reloadConfig, sock, addr, be.addr) + "\nfrontend ux\n    bind " + path + " mode 600\n    default_backend be\n"
	})
	r.start(t)
	client := &http.Client{Transport: &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return net.Dial("unix", path) },
		DisableKeepAlives: true,
	}, Timeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(3 * time.Second)
		n := 0
		for time.Now().Before(deadline) {
			resp, err := client.Get("http://unix/")
			if err != nil {
				done <- fmt.Errorf("request %d: %w", n, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			n++
		}
		done <- nil
	}()
	for i := 0; i < 8; i++ {
		if out, err := exec.Command("/bin/sh", "-c", r.reloadCmd(true)).CombinedOutput(); err != nil {
			t.Fatalf("reload %d: %v %s", i, err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// wsEchoBackend upgrades every request and echoes frames.
func wsEchoBackend(t *testing.T) string {
	return serveTCP(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: a\r\n\r\n")
		for {
			p, err := readFrame(br)
			if err != nil {
				return
			}
			c.Write(frame(p, false))
		}
	})
}

func openWS(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k\r\n\r\n")
	br := bufio.NewReader(c)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return c, br
}

func echo(t *testing.T, c net.Conn, br *bufio.Reader, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write(frame([]byte(msg), true))
	got, err := readFrame(br)
	if err != nil || string(got) != msg {
		t.Fatalf("echo %q: got %q, %v", msg, got, err)
	}
}

// TestWebSocketSurvivesReloadAndOldProcessExitsOnceDrained: a WebSocket opened before
// a reload keeps working on the old process, which exits when it closes.
func TestWebSocketSurvivesReloadAndOldProcessExitsOnceDrained(t *testing.T) {
	ws := wsEchoBackend(t)
	r := newReloadSetup(t, func(addr, sock string) string {
		return fmt.Sprintf(reloadConfig, sock, addr, ws) + "    timeout tunnel 30s\n"
	})
	a := r.start(t)
	c, br := openWS(t, r.addr)
	echo(t, c, br, "before")
	b := r.start(t, "-sf", strconv.Itoa(a.cmd.Process.Pid), "-x", r.sock)
	time.Sleep(300 * time.Millisecond)
	for i := 0; i < 5; i++ {
		echo(t, c, br, fmt.Sprintf("during %d", i))
	}
	if !alive(a.cmd.Process.Pid) {
		t.Fatal("old process exited with a WebSocket open")
	}
	// New connections go to the new process meanwhile.
	c2, br2 := openWS(t, r.addr)
	echo(t, c2, br2, "new")
	c2.Close()
	c.Close()
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		t.Fatal("old process did not exit once its last connection closed")
	}
	_ = b
}

func TestHardStopAfterEndsStuckOldProcess(t *testing.T) {
	ws := wsEchoBackend(t)
	r := newReloadSetup(t, func(addr, sock string) string {
		return strings.Replace(fmt.Sprintf(reloadConfig, sock, addr, ws), "hard-stop-after 10s", "hard-stop-after 1s", 1) + "    timeout tunnel 30s\n"
	})
	a := r.start(t)
	c, br := openWS(t, r.addr)
	defer c.Close()
	echo(t, c, br, "hello")
	start := time.Now()
	r.start(t, "-sf", strconv.Itoa(a.cmd.Process.Pid), "-x", r.sock)
	select {
	case <-a.done:
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Fatalf("old process left after %v, before hard-stop-after", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("hard-stop-after did not end the old process")
	}
}

// haproxy returns the path of HAProxy 2.6, or skips.
func haproxy(t *testing.T) string {
	p, err := lookHAProxy()
	if err != nil {
		t.Skip("haproxy is not installed (.ci/run installs Debian's package)")
	}
	return p
}

// lookHAProxy finds HAProxy's binary on PATH or where Debian installs it.
func lookHAProxy() (string, error) {
	p, err := exec.LookPath("haproxy")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/haproxy"); serr == nil {
			return "/usr/sbin/haproxy", nil
		}
	}
	return p, err
}

// TestTakesListenersOverFromHAProxy: hitless -x on HAProxy's stats socket adopts its
// listening socket, and HAProxy leaves on -sf.
func TestTakesListenersOverFromHAProxy(t *testing.T) {
	hx := haproxy(t)
	be := newBackend(t, "ok", nil)
	r := newReloadSetup(t, func(addr, sock string) string { return fmt.Sprintf(reloadConfig, sock, addr, be.addr) })
	hp := exec.Command(hx, "-f", r.cfg, "-p", r.pidfile, "-D")
	if out, err := hp.CombinedOutput(); err != nil {
		t.Fatalf("haproxy: %v %s", err, out)
	}
	hpid := r.currentPid()
	t.Cleanup(func() { syscall.Kill(hpid, syscall.SIGKILL) })
	if !waitAccept(r.addr, 5*time.Second, nil) {
		t.Fatal("haproxy did not listen")
	}
	h := r.start(t, "-d", "-sf", strconv.Itoa(hpid), "-x", r.sock)
	// HAProxy's socket accepts all along: wait for hitless to say what it did.
	if !waitFor(5*time.Second, func() bool { return strings.Contains(h.out.String(), "(1 listeners taken over)") }) {
		t.Fatalf("hitless did not adopt HAProxy's listener:\n%s", h.out.String())
	}
	if !waitFor(5*time.Second, func() bool { return !alive(hpid) }) {
		t.Fatal("haproxy did not leave after -sf")
	}
	if code, body, _ := get(t, "http://"+r.addr+"/"); code != 200 || body != "ok" {
		t.Fatalf("%d %q", code, body)
	}
}

// TestHAProxyTakesListenersOverFromHitless: HAProxy 2.6 -x on hitless's stats socket
// speaks the same _getsocks protocol.
func TestHAProxyTakesListenersOverFromHitless(t *testing.T) {
	hx := haproxy(t)
	be := newBackend(t, "ok", nil)
	r := newReloadSetup(t, func(addr, sock string) string { return fmt.Sprintf(reloadConfig, sock, addr, be.addr) })
	h := r.start(t)
	out, err := exec.Command(hx, "-f", r.cfg, "-p", r.pidfile, "-D", "-sf", strconv.Itoa(h.cmd.Process.Pid), "-x", r.sock).CombinedOutput()
	if err != nil {
		t.Fatalf("haproxy -x: %v %s", err, out)
	}
	hpid := r.currentPid()
	t.Cleanup(func() { syscall.Kill(hpid, syscall.SIGKILL) })
	if strings.Contains(string(out), "Failed to get the sockets") {
		t.Fatalf("haproxy could not fetch the sockets: %s", out)
	}
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		t.Fatal("hitless did not leave after HAProxy's -sf")
	}
	if code, body, _ := get(t, "http://"+r.addr+"/"); code != 200 || body != "ok" {
		t.Fatalf("%d %q", code, body)
	}
}

// TestSIGTTOUPausesAndSIGTTINResumes: a paused process leaves new connections in the
// kernel's queue and serves them once resumed.
func TestSIGTTOUPausesAndSIGTTINResumes(t *testing.T) {
	be := newBackend(t, "ok", nil)
	r := newReloadSetup(t, func(addr, sock string) string { return fmt.Sprintf(reloadConfig, sock, addr, be.addr) })
	a := r.start(t)
	a.cmd.Process.Signal(syscall.SIGTTOU)
	if !waitFor(3*time.Second, func() bool { return strings.Contains(a.out.String(), "Paused all frontends.") }) {
		t.Fatalf("no pause message:\n%s", a.out.String())
	}
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatalf("a paused listener refused a connection: %v", err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _ := c.Read(make([]byte, 1)); n != 0 {
		t.Fatal("a paused process answered")
	}
	a.cmd.Process.Signal(syscall.SIGTTIN)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after resume: %v %v", resp, err)
	}
}

// socketCommand sends one Runtime API command line and returns the answer.
func socketCommand(t *testing.T, sock, cmd string) string {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, cmd+"\n")
	out, _ := io.ReadAll(c)
	return string(out)
}

const twoServers = `
global
    stats socket %s mode 600 level admin expose-fd listeners
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout http-keep-alive 1s
frontend fe
    bind %s
    default_backend be
backend be
    option httpchk GET /
    server a %s check inter 100ms rise 2 fall 1
    server b %s check inter 100ms rise 2 fall 1
`

// TestServerStateSurvivesReload: a server put in maintenance from the socket and a
// changed weight stay so in the new process, and no request reaches that server.
func TestServerStateSurvivesReload(t *testing.T) {
	a, b := newBackend(t, "a", nil), newBackend(t, "b", nil)
	r := newReloadSetup(t, func(addr, sock string) string { return fmt.Sprintf(twoServers, sock, addr, a.addr, b.addr) })
	r.start(t)
	if out := socketCommand(t, r.sock, "disable server be/b;set server be/a weight 7"); out != "\n\n" {
		t.Fatalf("socket answered %q", out)
	}
	for i := 0; i < 3; i++ {
		if out, err := exec.Command("/bin/sh", "-c", r.reloadCmd(true)).CombinedOutput(); err != nil {
			t.Fatalf("reload: %v %s", err, out)
		}
	}
	state := socketCommand(t, r.sock, "show servers state be")
	if !strings.Contains(state, " be 2 b 127.0.0.1 0 1 1 1 ") || !strings.Contains(state, " be 1 a 127.0.0.1 2 0 7 1 ") {
		t.Fatalf("state after reloads:\n%s", state)
	}
	// Every answer must come from a (b's own counter also sees health checks).
	if got := count(t, r.addr, 20, nil, nil); got["a"] != 20 {
		t.Fatalf("traffic after reloads: %v", got)
	}
}

// TestDownServerStaysDownAcrossReloadsUnderLoad: a server its checks marked DOWN gets
// no request from the new processes either, even during the first checks.
func TestDownServerStaysDownAcrossReloadsUnderLoad(t *testing.T) {
	a := newBackend(t, "a", nil)
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	r := newReloadSetup(t, func(addr, sock string) string {
		// retries 0: a request sent to the dead server fails at once instead of
		// being rescued by a retry after the first check.
		cfg := strings.Replace(fmt.Sprintf(twoServers, sock, addr, a.addr, dead), "check inter 100ms rise 2 fall 1\n", "check inter 2s rise 2 fall 1\n", 2)
		return strings.Replace(cfg, "    option httpchk GET /\n", "    option httpchk GET /\n    retries 0\n", 1)
	})
	p := r.start(t)
	if !waitFor(5*time.Second, func() bool { return strings.Contains(p.out.String(), "Server be/b is DOWN") }) {
		t.Fatalf("b never went DOWN:\n%s", p.out.String())
	}
	// Checks every 2 s: without the state carried over, a new process would send
	// requests to the dead server for a while, and they would fail.
	res := storm.Run(context.Background(), storm.Options{
		Target: r.addr, Rate: 100, KeepAlive: 2, Duration: 3 * time.Second, Timeout: 5 * time.Second,
		Reload: r.reloadCmd(true), Every: 300 * time.Millisecond, BodyLen: 1,
	})
	if res.Failures() != 0 || res.Reloads < 5 {
		t.Fatalf("%d reloads, failures %v %v", res.Reloads, res.FailuresBy, res.FirstErrors)
	}
}

// TestRuntimeAPIHeadersMatchHAProxy runs HAProxy 2.6 and hitless on the same
// configuration and compares the column lines of `show stat` and `show servers state`
// and the rows of `show backend`, which clients parse.
func TestRuntimeAPIHeadersMatchHAProxy(t *testing.T) {
	hx := haproxy(t)
	a, b := newBackend(t, "a", nil), newBackend(t, "b", nil)
	capture := func(useHAProxy bool) map[string]string {
		r := newReloadSetup(t, func(addr, sock string) string { return fmt.Sprintf(twoServers, sock, addr, a.addr, b.addr) })
		if useHAProxy {
			if out, err := exec.Command(hx, "-f", r.cfg, "-p", r.pidfile, "-D").CombinedOutput(); err != nil {
				t.Fatalf("haproxy: %v %s", err, out)
			}
			pid := r.currentPid()
			defer syscall.Kill(pid, syscall.SIGKILL)
			if !waitFor(5*time.Second, func() bool { _, err := os.Stat(r.sock); return err == nil }) {
				t.Fatal("haproxy has no stats socket")
			}
		} else {
			r.start(t)
		}
		out := map[string]string{}
		for _, cmd := range []string{"show stat", "show servers state", "show backend"} {
			ans := socketCommand(t, r.sock, cmd)
			if cmd == "show backend" {
				out[cmd] = ans
			} else {
				lines := strings.SplitN(ans, "\n", 3)
				out[cmd] = lines[0]
				if cmd == "show servers state" && len(lines) > 1 {
					out[cmd] += "\n" + lines[1]
				}
			}
		}
		return out
	}
	want, got := capture(true), capture(false)
	for cmd := range want {
		if got[cmd] != want[cmd] {
			t.Errorf("%s:\nhitless: %q\nhaproxy: %q", cmd, got[cmd], want[cmd])
		}
	}
}
