package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hitless/internal/storm"
)

// mwConfig is a master-worker configuration: one HTTP frontend to a backend, a stats
// socket for the workers.
const mwConfig = `global
    stats socket %s/stats.sock mode 600 level admin expose-fd listeners
%s
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

// mwSetup is one master on a temporary directory.
type mwSetup struct {
	dir, cfg, addr, bin string
	p                   *proc
}

// startMaster writes the configuration (extraGlobal goes into `global`) and starts
// `hitless -W -S dir/master.sock -f cfg -p dir/pid` with the binary bin (the test
// binary when empty).
func startMaster(t *testing.T, bin, extraGlobal, backend string, args ...string) *mwSetup {
	t.Helper()
	s := &mwSetup{dir: t.TempDir(), bin: bin}
	if s.bin == "" {
		s.bin = binPath
	}
	s.addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s.cfg = filepath.Join(s.dir, "hitless.cfg")
	s.write(t, fmt.Sprintf(mwConfig, s.dir, extraGlobal, s.addr, backend))
	argv := append([]string{"-W", "-S", s.masterSock() + ",mode,600", "-f", s.cfg, "-p", filepath.Join(s.dir, "pid")}, args...)
	s.p = launchBin(t, s.bin, s.cfg, argv...)
	if !waitAccept(s.addr, 5*time.Second, s.p.done) {
		t.Fatalf("master-worker did not listen on %s:\n%s", s.addr, s.p.out.String())
	}
	if !waitFor(5*time.Second, func() bool { _, cur, _ := s.procs(t); return cur > 0 }) {
		t.Fatalf("master CLI did not answer:\n%s", s.p.out.String())
	}
	return s
}

// launchBin is launch with another binary.
func launchBin(t *testing.T, bin, cfg string, args ...string) *proc {
	old := binPath
	binPath = bin
	defer func() { binPath = old }()
	return launch(t, cfg, args...)
}

func (s *mwSetup) write(t *testing.T, text string) {
	t.Helper()
	tmp := s.cfg + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, s.cfg); err != nil {
		t.Fatal(err)
	}
}

func (s *mwSetup) masterSock() string { return filepath.Join(s.dir, "master.sock") }

func (s *mwSetup) masterPid() int { return s.p.cmd.Process.Pid }

// cli sends input to the master CLI and returns everything it answers.
func (s *mwSetup) cli(t *testing.T, input string) string {
	t.Helper()
	c, err := net.DialTimeout("unix", s.masterSock(), time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, input+"\n")
	c.(*net.UnixConn).CloseWrite()
	b, _ := io.ReadAll(c)
	return string(b)
}

// procs parses `show proc`: the master line's reload column and the worker pids,
// current first.
func (s *mwSetup) procs(t *testing.T) (master string, current int, old []int) {
	t.Helper()
	section := ""
	for _, line := range strings.Split(s.cli(t, "show proc"), "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "# "):
			section = line
		case len(f) >= 2 && f[1] == "master":
			master = line
		case len(f) >= 2 && f[1] == "worker":
			pid, _ := strconv.Atoi(f[0])
			if section == "# workers" {
				current = pid
			} else {
				old = append(old, pid)
			}
		}
	}
	return master, current, old
}

func (s *mwSetup) reload(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(s.masterPid(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
}

// waitNewWorker waits until the current worker is not prev, and returns it.
func (s *mwSetup) waitNewWorker(t *testing.T, prev int) int {
	t.Helper()
	var cur int
	if !waitFor(10*time.Second, func() bool {
		_, cur, _ = s.procs(t)
		return cur != 0 && cur != prev
	}) {
		t.Fatalf("no new worker replaced %d:\n%s", prev, s.p.out.String())
	}
	return cur
}

func TestMasterWorkerServesAndReloads(t *testing.T) {
	be := newBackend(t, "ok", nil)
	s := startMaster(t, "", "", be.addr)
	pidfile, _ := os.ReadFile(filepath.Join(s.dir, "pid"))
	if strings.TrimSpace(string(pidfile)) != strconv.Itoa(s.masterPid()) {
		t.Fatalf("pidfile holds %q, want the master's pid %d", pidfile, s.masterPid())
	}
	if code, body, _ := get(t, "http://"+s.addr+"/"); code != 200 || body != "ok" {
		t.Fatalf("got %d %q", code, body)
	}
	_, first, _ := s.procs(t)
	s.reload(t)
	second := s.waitNewWorker(t, first)
	if !waitFor(5*time.Second, func() bool { return !alive(first) }) {
		t.Fatalf("the old worker %d did not leave after the reload", first)
	}
	master, cur, old := s.procs(t)
	if cur != second || len(old) != 0 || !regexp.MustCompile(`master +1 \[failed: 0\]`).MatchString(master) {
		t.Fatalf("show proc after one reload:\n%s", s.cli(t, "show proc"))
	}
	if code, body, _ := get(t, "http://"+s.addr+"/"); code != 200 || body != "ok" {
		t.Fatalf("after reload: got %d %q", code, body)
	}
	if s.masterPid() != s.p.cmd.Process.Pid || !alive(s.masterPid()) {
		t.Fatal("the master's pid changed")
	}
	// SIGTERM stops the workers and then the master, with status 0.
	s.p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.p.done:
	case <-time.After(5 * time.Second):
		t.Fatal("master did not exit after SIGTERM")
	}
	if s.p.cmd.ProcessState.ExitCode() != 0 || alive(second) {
		t.Fatalf("exit code %d, worker alive %v:\n%s", s.p.cmd.ProcessState.ExitCode(), alive(second), s.p.out.String())
	}
}

// TestMasterWorkerReloadStorm: SIGUSR2 to the master every 200 ms under load; not one
// request may fail.
func TestMasterWorkerReloadStorm(t *testing.T) {
	be := newBackend(t, "ok", nil)
	s := startMaster(t, "", "", be.addr)
	res := storm.Run(context.Background(), storm.Options{
		Target: s.addr, Rate: 300, KeepAlive: 8, Duration: 5 * time.Second, Timeout: 5 * time.Second,
		Reload: fmt.Sprintf("kill -USR2 %d", s.masterPid()), Every: 200 * time.Millisecond, BodyLen: 2,
	})
	t.Logf("storm: %d requests, %d reloads, failures %v, p99 %.1f ms", res.Requests, res.Reloads, res.FailuresBy, res.P99Millis)
	if res.Failures() != 0 || res.ReloadErrors != 0 {
		t.Fatalf("failures %v, reload errors %d, first errors %v\n%s", res.FailuresBy, res.ReloadErrors, res.FirstErrors, s.p.out.String())
	}
	if res.Reloads < 10 || res.Requests < 1000 {
		t.Fatalf("too little happened: %d reloads, %d requests", res.Reloads, res.Requests)
	}
	if !waitFor(10*time.Second, func() bool { _, _, old := s.procs(t); return len(old) == 0 }) {
		t.Fatalf("old workers remain:\n%s", s.cli(t, "show proc"))
	}
	master, _, _ := s.procs(t)
	if !strings.Contains(master, "[failed: 0]") {
		t.Fatalf("master line %q", master)
	}
}

// TestMasterWorkerBinaryUpgrade replaces the binary on disk under a running master and
// reloads under load: the master and the new worker run the new version, and no
// request fails.
func TestMasterWorkerBinaryUpgrade(t *testing.T) {
	dir := t.TempDir()
	v2 := filepath.Join(dir, "hitless-v2")
	build := exec.Command("go", "build", "-o", v2, "-ldflags", "-X main.version=e2e-v2", "../../cmd/hitless")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building v2: %v\n%s", err, out)
	}
	bin := filepath.Join(dir, "hitless")
	copyFile(t, binPath, bin)
	be := newBackend(t, "ok", nil)
	s := startMaster(t, bin, "", be.addr)
	if v := s.cli(t, "show version"); v != "e2e-test\n\n" {
		t.Fatalf("show version = %q", v)
	}
	wait := stormInBackground(storm.Options{
		Target: s.addr, Rate: 300, KeepAlive: 8, Duration: 3 * time.Second, Timeout: 5 * time.Second, BodyLen: 2,
	})
	time.Sleep(time.Second)
	_, first, _ := s.procs(t)
	copyFile(t, v2, bin) // a new file renamed over the old one, as package managers do
	s.reload(t)
	s.waitNewWorker(t, first)
	res := wait()
	if res.Failures() != 0 {
		t.Fatalf("failures %v %v", res.FailuresBy, res.FirstErrors)
	}
	procs := s.cli(t, "show proc")
	if strings.Count(procs, "e2e-v2") < 2 || strings.Contains(procs, "e2e-test") && !strings.Contains(procs, "# old workers") {
		t.Fatalf("show proc after the upgrade:\n%s", procs)
	}
	if info := s.cli(t, "@1 show info"); !strings.Contains(info, "Version: e2e-v2\n") {
		t.Fatalf("@1 show info:\n%s", info)
	}
	if code, body, _ := get(t, "http://"+s.addr+"/"); code != 200 || body != "ok" {
		t.Fatalf("after upgrade: got %d %q", code, body)
	}
}

// stormInBackground runs the storm while the test acts; wait returns its result.
func stormInBackground(o storm.Options) (wait func() *storm.Result) {
	done := make(chan *storm.Result, 1)
	go func() { done <- storm.Run(context.Background(), o) }()
	return func() *storm.Result { return <-done }
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := to + ".tmp"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}

// TestMasterWorkerBrokenReloadKeepsServing: a reload with a broken configuration under
// load leaves the worker serving, is reported by show proc and the prompt, and the next
// good reload recovers.
func TestMasterWorkerBrokenReloadKeepsServing(t *testing.T) {
	be := newBackend(t, "ok", nil)
	s := startMaster(t, "", "", be.addr)
	good, _ := os.ReadFile(s.cfg)
	_, first, _ := s.procs(t)
	res := storm.Run(context.Background(), storm.Options{
		Target: s.addr, Rate: 300, KeepAlive: 8, Duration: 2 * time.Second, Timeout: 5 * time.Second, BodyLen: 2,
		Reload: fmt.Sprintf("printf '    bogus-keyword\\n' >> %s; kill -USR2 %d", s.cfg, s.masterPid()), Every: 500 * time.Millisecond,
	})
	if res.Failures() != 0 {
		t.Fatalf("failures %v %v", res.FailuresBy, res.FirstErrors)
	}
	if !waitFor(5*time.Second, func() bool { m, _, _ := s.procs(t); return !strings.Contains(m, "[failed: 0]") }) {
		t.Fatalf("show proc does not report the failed reload:\n%s", s.cli(t, "show proc"))
	}
	master, cur, _ := s.procs(t)
	if cur != first || !alive(first) {
		t.Fatalf("the worker changed (%d → %d) after broken reloads", first, cur)
	}
	if !strings.Contains(s.p.out.String(), "unknown keyword 'bogus-keyword'") || !strings.Contains(s.p.out.String(), "Loading failure!") {
		t.Fatalf("the master did not say why:\n%s", s.p.out.String())
	}
	if p := s.cli(t, "prompt"); p != "master[ReloadFailed]> " {
		t.Fatalf("prompt %q", p)
	}
	t.Logf("after broken reloads: %s", master)
	s.write(t, string(good))
	s.reload(t)
	s.waitNewWorker(t, first)
	if m, _, _ := s.procs(t); !strings.Contains(m, "[failed: 0]") {
		t.Fatalf("a good reload did not reset the failure count: %q", m)
	}
}

// TestMasterWorkerReplacesKilledWorker: SIGKILL of the worker under load; the master
// starts another on the same sockets, and no connection is refused.
func TestMasterWorkerReplacesKilledWorker(t *testing.T) {
	be := newBackend(t, "ok", nil)
	s := startMaster(t, "", "", be.addr)
	wait := stormInBackground(storm.Options{
		Target: s.addr, Rate: 300, KeepAlive: 8, Duration: 4 * time.Second, Timeout: 5 * time.Second, BodyLen: 2,
	})
	killed := 0
	for i := 0; i < 3; i++ {
		time.Sleep(time.Second)
		_, cur, _ := s.procs(t)
		if cur <= 0 {
			continue
		}
		syscall.Kill(cur, syscall.SIGKILL)
		killed++
		s.waitNewWorker(t, cur)
	}
	res := wait()
	t.Logf("killed %d workers: %d requests, failures %v", killed, res.Requests, res.FailuresBy)
	if killed < 2 || res.FailuresBy[storm.Refused] != 0 || res.FailuresBy[storm.Timeout] != 0 {
		t.Fatalf("killed %d, failures %v %v\n%s", killed, res.FailuresBy, res.FirstErrors, s.p.out.String())
	}
	// Only requests the killed worker held may fail: at most the keep-alive ones and
	// those in flight.
	if res.Failures() > int64(killed*(8+60)) {
		t.Fatalf("too many failures for %d kills: %v", killed, res.FailuresBy)
	}
	if !strings.Contains(s.p.out.String(), "exited with code 137 (Killed)") {
		t.Fatalf("the master did not report the crash:\n%s", s.p.out.String())
	}
}

// TestMasterCLI drives the master CLI: help, routing, levels, prompt.
func TestMasterCLI(t *testing.T) {
	be := newBackend(t, "ok", nil)
	s := startMaster(t, "", "", be.addr)
	_, cur, _ := s.procs(t)
	help := s.cli(t, "help")
	for _, want := range []string{"  @!<pid>                                 : send a command to the <pid> process\n", "  show proc ", "  reload "} {
		if !strings.Contains(help, want) {
			t.Fatalf("help lacks %q:\n%s", want, help)
		}
	}
	proc := s.cli(t, "show proc")
	header := fmt.Sprintf("#%-14s %-15s %-15s %-15s %-15s\n", "<PID>", "<type>", "<reloads>", "<uptime>", "<version>")
	row := regexp.MustCompile(fmt.Sprintf(`(?m)^%-15d master          0 \[failed: 0\]   0d00h00m\d\ds     e2e-test       $`, s.masterPid()))
	if !strings.HasPrefix(proc, header) || !row.MatchString(proc) || !strings.HasSuffix(proc, "# programs\n\n") {
		t.Fatalf("show proc:\n%q", proc)
	}
	for _, c := range []struct{ in, want string }{
		{"@1 show info", fmt.Sprintf("Pid: %d\n", cur)},
		{fmt.Sprintf("@!%d show info", cur), fmt.Sprintf("Pid: %d\n", cur)},
		{"@master show version", "e2e-test\n\n"},
		{"@1 show version; show version", "e2e-test\n\ne2e-test\n\n"},
		{"@2 show info", "Can't find the target PID matching the prefix '@2'\n"},
		{"@!99999999 show info", "Can't find the target PID matching the prefix '@!99999999'\n"},
		{"show cli level", "admin\n\n"},
		{"@1 show cli level", "admin\n\n"},
		{"user; show cli level; @1 show cli level", "user\n\nuser\n\n"},
		{"user; operator", "Permission denied!\n\n"},
		{"user; reload", "Permission denied\n\n"},
		{"user; @1 disable server be/s1", "Permission denied\n\n"},
		{"prompt\n@1\nshow cli level\n@master\n", fmt.Sprintf("master> %d> admin\n\n%d> master> ", cur, cur)},
		{"bogus", "Unknown command, but maybe one of the following ones is a better match:\n"},
	} {
		got := s.cli(t, c.in)
		if !strings.Contains(got, c.want) {
			t.Errorf("%q: got %q, want it to contain %q", c.in, got, c.want)
		}
	}
	// `reload` from the CLI reloads.
	s.cli(t, "reload")
	s.waitNewWorker(t, cur)
}

// TestMasterWorkerNotify checks the systemd notify protocol with -Ws against a
// datagram socket the test listens on as NOTIFY_SOCKET.
func TestMasterWorkerNotify(t *testing.T) {
	dir := t.TempDir()
	sockPath := filepath.Join(dir, "notify.sock")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	msgs := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := pc.ReadFromUnix(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	next := func(want string) string {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case m := <-msgs:
				if strings.Contains(m, want) {
					return m
				}
			case <-deadline:
				t.Fatalf("no notify message with %q", want)
			}
		}
	}
	be := newBackend(t, "ok", nil)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(mwConfig, dir, "", addr, be.addr))
	os.Setenv("NOTIFY_SOCKET", sockPath)
	p := launch(t, cfg, "-Ws", "-f", cfg)
	os.Unsetenv("NOTIFY_SOCKET")
	ready := next("READY=1")
	if !strings.Contains(ready, fmt.Sprintf("MAINPID=%d", p.cmd.Process.Pid)) {
		t.Fatalf("first READY: %q", ready)
	}
	if !waitAccept(addr, time.Second, p.done) {
		t.Fatal("READY=1 before the worker serves")
	}
	syscall.Kill(p.cmd.Process.Pid, syscall.SIGUSR2)
	if m := next("RELOADING=1"); !regexp.MustCompile(`MONOTONIC_USEC=\d+`).MatchString(m) {
		t.Fatalf("RELOADING without MONOTONIC_USEC: %q", m)
	}
	next("READY=1")
	// A broken configuration: systemd hears that the reload failed.
	good, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(good, "    bogus-keyword\n"...), 0o644)
	syscall.Kill(p.cmd.Process.Pid, syscall.SIGUSR2)
	next("RELOADING=1")
	if m := next("READY=1"); !strings.Contains(m, "STATUS=") || !strings.Contains(m, "last reload failed: ") {
		t.Fatalf("READY after a failed reload: %q", m)
	}
	syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM)
	next("STOPPING=1")
}

// TestMasterWorkerMaxReloads: with mworker-max-reloads 1 an old worker still busy
// after two reloads is terminated.
func TestMasterWorkerMaxReloads(t *testing.T) {
	// A backend that holds the response, so that the first worker has work in flight.
	release := make(chan struct{})
	defer close(release)
	slow := serveTCP(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		c.Read(buf)
		select {
		case <-release:
		case <-time.After(20 * time.Second):
		}
	})
	s := startMaster(t, "", "    mworker-max-reloads 1\n    hard-stop-after 30s", slow)
	_, first, _ := s.procs(t)
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(200 * time.Millisecond)
	s.reload(t)
	second := s.waitNewWorker(t, first)
	time.Sleep(300 * time.Millisecond)
	if !alive(first) {
		t.Fatal("the first worker left while a request was in flight")
	}
	s.reload(t)
	s.waitNewWorker(t, second)
	if !waitFor(5*time.Second, func() bool { return !alive(first) }) {
		t.Fatalf("worker %d survived two reloads with mworker-max-reloads 1", first)
	}
}

// TestMasterGoneWorkerLeaves: when the master is killed, its worker stops accepting
// and leaves instead of serving on unsupervised.
func TestMasterGoneWorkerLeaves(t *testing.T) {
	be := newBackend(t, "ok", nil)
	s := startMaster(t, "", "", be.addr)
	_, cur, _ := s.procs(t)
	if cur <= 0 {
		t.Fatalf("no current worker:\n%s", s.cli(t, "show proc"))
	}
	s.p.cmd.Process.Kill()
	<-s.p.done
	if !waitFor(5*time.Second, func() bool { return !alive(cur) }) {
		syscall.Kill(cur, syscall.SIGKILL)
		t.Fatal("the worker outlived its master by 5 s")
	}
}

// TestMasterWorkerKeepsServerState: a server disabled and a weight changed on the
// current worker survive a reload in master-worker mode; no request reaches the
// disabled server afterwards.
func TestMasterWorkerKeepsServerState(t *testing.T) {
	one, two := newBackend(t, "one", nil), newBackend(t, "two", nil)
	s := startMaster(t, "", "", one.addr+"\n    server s2 "+two.addr)
	if out := s.cli(t, "@1 disable server be/s1; @1 set weight be/s2 7"); strings.TrimSpace(out) != "" {
		t.Fatalf("commands answered %q", out)
	}
	_, first, _ := s.procs(t)
	s.reload(t)
	s.waitNewWorker(t, first)
	before := one.requests.Load()
	for i := 0; i < 20; i++ {
		if code, body, _ := get(t, "http://"+s.addr+"/"); code != 200 || body != "two" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if n := one.requests.Load() - before; n != 0 {
		t.Fatalf("the disabled server got %d requests after the reload", n)
	}
	state := s.cli(t, "@1 show servers state be")
	admin := map[string]string{}
	weight := map[string]string{}
	for _, line := range strings.Split(state, "\n") {
		f := strings.Fields(line)
		if len(f) > 7 && f[1] == "be" {
			admin[f[3]], weight[f[3]] = f[6], f[7]
		}
	}
	if admin["s1"] != "1" || weight["s2"] != "7" {
		t.Fatalf("state after the reload:\n%s", state)
	}
}

// TestMasterStopDuringReload: SIGTERM right behind SIGUSR2 still stops the master and
// every worker, whichever image of the master receives it.
func TestMasterStopDuringReload(t *testing.T) {
	be := newBackend(t, "ok", nil)
	for _, delay := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
		s := startMaster(t, "", "", be.addr)
		_, cur, _ := s.procs(t)
		s.reload(t)
		time.Sleep(delay)
		s.p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.p.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("delay %v: the master did not stop:\n%s", delay, s.p.out.String())
		}
		if !waitFor(5*time.Second, func() bool { return !alive(cur) }) {
			t.Fatalf("delay %v: worker %d outlived the master", delay, cur)
		}
	}
}

// TestMasterWorkerWorkersDropPrivileges: run as root with `user`, `group` and `chroot`,
// the master keeps root (it re-executes itself and binds new addresses on reload) and
// every worker, the first and the reloaded ones, runs as nobody/nogroup in the jail.
func TestMasterWorkerWorkersDropPrivileges(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to change user")
	}
	jail := t.TempDir()
	os.Chmod(jail, 0o755)
	be := newBackend(t, "ok", nil)
	s := startMaster(t, "", fmt.Sprintf("    user nobody\n    group nogroup\n    chroot %s", jail), be.addr)
	check := func(pid int, uid, root string) {
		t.Helper()
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "Uid:"); ok && strings.Fields(v)[0] != uid {
				t.Errorf("pid %d runs as uid %s, want %s", pid, strings.Fields(v)[0], uid)
			}
		}
		if r, _ := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); r != root {
			t.Errorf("pid %d has root %q, want %q", pid, r, root)
		}
	}
	_, first, _ := s.procs(t)
	check(s.masterPid(), "0", "/")
	check(first, "65534", jail)
	s.reload(t)
	second := s.waitNewWorker(t, first)
	check(second, "65534", jail)
	if info := s.cli(t, "@1 show info"); !strings.Contains(info, fmt.Sprintf("Pid: %d\n", second)) {
		t.Fatalf("the jailed worker's Runtime API over the master: %q", info)
	}
	if code, body, _ := get(t, "http://"+s.addr+"/"); code != 200 || body != "ok" {
		t.Fatalf("got %d %q", code, body)
	}
}
