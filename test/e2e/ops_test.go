package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// side is HAProxy 2.6 or hitless, started on the same configuration template.
type side struct {
	name   string
	sock   string
	fe     string
	stderr *syncBuffer
	logs   *udpLogs
	pid    int
}

// startSide runs HAProxy in the foreground (its state-change lines go to stderr) or
// hitless on cfg, a template taking the stats socket, a syslog address and the
// frontend address as %[1]s, %[2]s, %[3]s; args fill %[4]s and on.
func startSide(t *testing.T, useHAProxy bool, cfg string, args ...any) *side {
	t.Helper()
	dir := t.TempDir()
	s := &side{name: "hitless", sock: dir + "/s.sock", fe: fmt.Sprintf("127.0.0.1:%d", freePort(t)), logs: newUDPLogs(t)}
	text := fmt.Sprintf(cfg, append([]any{s.sock, s.logs.addr(), s.fe}, args...)...)
	if useHAProxy {
		s.name = "HAProxy"
		path := writeConfig(t, text)
		s.stderr = &syncBuffer{}
		cmd := exec.Command(haproxy(t), "-f", path, "-db")
		cmd.Stdout, cmd.Stderr = s.stderr, s.stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		s.pid = cmd.Process.Pid
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		t.Cleanup(func() { syscall.Kill(s.pid, syscall.SIGKILL); <-done })
		if !waitAccept(s.fe, 5*time.Second, done) {
			t.Fatalf("haproxy did not listen: %s", s.stderr.String())
		}
	} else {
		p := startHitless(t, text, s.fe)
		s.stderr, s.pid = p.out, p.cmd.Process.Pid
	}
	waitSocket(t, s.sock)
	return s
}

// cli sends one line of commands to the side's stats socket.
func (s *side) cli(t *testing.T, line string) string { return socketCommand(t, s.sock, line) }

// stateLines are the server-state lines of the side's stderr and of its syslog
// target, in order, with the pid and the check duration masked, and the syslog
// priority kept.
func (s *side) stateLines() (stderr, syslog []string) {
	keep := regexp.MustCompile(`(Server |backend ).*`)
	mask := func(l string) string {
		return regexp.MustCompile(`check duration: \d+ms`).ReplaceAllString(l, "check duration: *ms")
	}
	for _, l := range strings.Split(s.stderr.String(), "\n") {
		if m := keep.FindString(l); m != "" && !strings.Contains(l, "SIGHUP") {
			stderr = append(stderr, l[:strings.Index(l, " (")]+" "+mask(m))
		}
	}
	s.logs.mu.Lock()
	defer s.logs.mu.Unlock()
	for _, l := range s.logs.lines {
		if m := keep.FindString(l); m != "" {
			syslog = append(syslog, l[:strings.Index(l, ">")+1]+" "+mask(m))
		}
	}
	return stderr, syslog
}

// stateConfig has a checked server that passes, a checked one that fails, one
// without checks, one `disabled`, and a backend with a single server.
const stateConfig = `
global
    stats socket %[1]s mode 600 level admin
    log %[2]s local0
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %[3]s
    default_backend be
backend be
    server up %[4]s check inter 1s
    server dead %[5]s check inter 100ms
    server plain %[4]s
    server off %[4]s disabled
backend solo
    server only %[4]s
`

// TestServerStatesMatchHAProxy drives HAProxy 2.6 and hitless through the same admin
// and health transitions (runtime API) and compares after each one: `show servers
// state` (op state, admin flags, health counter, check state; so that state files
// carry over both ways), the servers' `show stat` rows (status, chkfail, chkdown,
// check columns emptied in MAINT), and the log lines each transition sends to
// stderr and to the syslog target, word for word.
func TestServerStatesMatchHAProxy(t *testing.T) {
	haproxy(t)
	up := newBackend(t, "up", nil)
	dead := refusingAddr(t)
	sides := []*side{startSide(t, true, stateConfig, up.addr, dead), startSide(t, false, stateConfig, up.addr, dead)}
	for _, s := range sides {
		// Until each checked server had its first check.
		if !waitFor(5*time.Second, func() bool {
			stat := s.cli(t, "show stat")
			return strings.Contains(stat, "be,dead,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,") && regexp.MustCompile(`\nbe,up,.*,L4OK,`).MatchString(stat)
		}) {
			t.Fatalf("%s: be/dead never went DOWN or be/up was never checked:\n%s", s.name, s.cli(t, "show stat"))
		}
	}
	steps := []string{
		"",
		"set server be/up state maint",
		"set server be/up state drain",
		"set server be/up health up",
		"set server be/up state ready",
		"set server be/dead state maint",
		"set server be/dead state ready",
		"set server be/plain state maint",
		"set server be/plain health down",
		"set server be/plain state drain",
		"set server be/plain state ready",
		"set server be/plain health down",
		"set server be/plain health stopping",
		"set server be/plain health up",
		"set server be/off state ready",
		"set server be/off state maint",
		"disable server solo/only",
		"enable server solo/only",
		"set server solo/only state drain",
		"set server solo/only state ready",
		"set server solo/only health stopping",
		"set server solo/only health up",
	}
	for _, step := range steps {
		var outs [2][2]string
		for i, s := range sides {
			out := s.cli(t, "show servers state;show stat -1 4 -1")
			if step != "" {
				// The step and the dumps run back to back; the step answers nothing.
				out = strings.TrimPrefix(s.cli(t, step+";show servers state;show stat -1 4 -1"), "\n")
			}
			parts := strings.SplitN(out, "\n\n", 3)
			if len(parts) < 2 {
				t.Fatalf("%s after %q: %q", s.name, step, out)
			}
			outs[i] = [2]string{parts[0], parts[1]}
		}
		if x, l := maskServersState(outs[0][0]), maskServersState(outs[1][0]); x != l {
			t.Errorf("after %q, show servers state:\nHAProxy:\n%s\nhitless:\n%s", step, x, l)
		}
		compareStatRows(t, "after "+step, outs[0][1], outs[1][1], nil, nil)
		if strings.Contains(step, "be/dead state ready") {
			// Its first check fails again: DOWN, with the check's reason.
			for _, s := range sides {
				if !waitFor(3*time.Second, func() bool {
					return strings.Contains(s.cli(t, "show stat"), "be,dead,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,")
				}) {
					t.Errorf("%s: be/dead did not go DOWN again", s.name)
				}
			}
		}
	}
	time.Sleep(200 * time.Millisecond) // the last syslog datagrams
	xErr, xLog := sides[0].stateLines()
	lErr, lLog := sides[1].stateLines()
	if !slices.Equal(xErr, lErr) {
		t.Errorf("state lines on stderr:\nHAProxy:\n%s\nhitless:\n%s", strings.Join(xErr, "\n"), strings.Join(lErr, "\n"))
	}
	if !slices.Equal(xLog, lLog) {
		t.Errorf("state lines on syslog:\nHAProxy:\n%s\nhitless:\n%s", strings.Join(xLog, "\n"), strings.Join(lLog, "\n"))
	}
	t.Logf("%d state lines on syslog:\n%s", len(lLog), strings.Join(lLog, "\n"))
	if len(lLog) < len(steps) {
		t.Errorf("only %d state lines logged", len(lLog))
	}
}

// refusingAddr returns a loopback address that refuses connections for the whole
// test: a socket bound to it and never listening keeps the port from being reused.
func refusingAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

// maskServersState masks the seconds since the last change (10th column).
func maskServersState(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if f := strings.Fields(l); len(f) >= 20 && f[0] != "#" {
			f[9] = "*"
			lines[i] = strings.Join(f, " ")
		}
	}
	return strings.Join(lines, "\n")
}

// statCompared are the columns compared value for value by compareStatRows: those of
// statSame bar the check's duration, and the check counters.
var statCompared = regexp.MustCompile(`^(chkfail|chkdown|check_(status|code|desc|rise|fall|health))$`)

// compareStatRows compares two `show stat` CSV answers row by row: which columns are
// filled, and the values of statSame and statCompared columns.
func compareStatRows(t *testing.T, label, hx, hl string, xPorts, lPorts []string) {
	t.Helper()
	xRows, lRows := parseStat(t, "# "+strings.TrimPrefix(hx, "# ")), parseStat(t, "# "+strings.TrimPrefix(hl, "# "))
	if len(xRows) != len(lRows) || !slices.Equal(xRows[0], lRows[0]) {
		t.Errorf("%s: show stat: %d rows from HAProxy, %d from hitless (or headers differ)", label, len(xRows), len(lRows))
		return
	}
	header := xRows[0]
	for r := 1; r < len(xRows); r++ {
		x, l := xRows[r], lRows[r]
		for c, name := range header {
			if c >= len(x) || c >= len(l) {
				break
			}
			switch {
			case statDiffers.MatchString(name):
			case (x[c] == "") != (l[c] == ""),
				(statCompared.MatchString(name) || statSame.MatchString(name) && name != "check_duration") && !sameStat(name, x[c], l[c], xPorts, lPorts):
				t.Errorf("%s: %s/%s %s: HAProxy %q, hitless %q", label, x[0], x[1], name, x[c], l[c])
			}
		}
	}
}

// retryConfig has a redispatching backend with a dead and a live server, a backend
// whose single server is dead, and one that retries on its dead server.
const retryConfig = `
global
    stats socket %[1]s mode 600 level admin
    log %[2]s local0
defaults
    mode http
    log global
    option httplog
    timeout connect 200ms
    timeout client 5s
    timeout server 5s
frontend fa
    bind %[3]s
    use_backend b if { path_beg /b }
    use_backend c if { path_beg /c }
    default_backend a
backend a
    retries 1
    option redispatch
    server dead %[4]s
    server live %[5]s
backend b
    retries 3
    server dead %[4]s
backend c
    retries 3
    server dead %[4]s
    server live %[5]s
`

// TestRetriesMatchHAProxy sends the same requests through HAProxy 2.6 and hitless to
// a dead and a live server: a redispatch goes at once (HAProxy: all in a few ms), a
// retry on the same server waits the turn-around of min(timeout connect, 1s); the
// log lines carry the retries with the '+' of a redispatch, and the counters (stot,
// lbtot, connect, wretr, wredis, econ, ...) are HAProxy's.
func TestRetriesMatchHAProxy(t *testing.T) {
	haproxy(t)
	live := newBackend(t, "live", nil)
	dead := refusingAddr(t)
	sides := []*side{startSide(t, true, retryConfig, dead, live.addr), startSide(t, false, retryConfig, dead, live.addr)}
	paths := []string{"/", "/", "/", "/", "/", "/", "/b", "/c", "/c"}
	var took [2][]time.Duration
	for i, s := range sides {
		for _, p := range paths {
			start := time.Now()
			get(t, "http://"+s.fe+p)
			took[i] = append(took[i], time.Since(start))
		}
	}
	for i, p := range paths {
		x, l := took[0][i], took[1][i]
		fast := x < 100*time.Millisecond
		if fast != (l < 100*time.Millisecond) || !fast && (l < x-100*time.Millisecond || l > x+200*time.Millisecond) {
			t.Errorf("request %d (%s): HAProxy %v, hitless %v", i, p, x, l)
		}
	}
	time.Sleep(200 * time.Millisecond) // the last log datagrams
	if x, l := accessLines(sides[0]), accessLines(sides[1]); !slices.Equal(x, l) {
		t.Errorf("access log lines:\nHAProxy:\n%s\nhitless:\n%s", strings.Join(x, "\n"), strings.Join(l, "\n"))
	}
	stats := func(s *side) string {
		return s.cli(t, "show stat -1 6 -1") // backends and servers
	}
	compareStatRows(t, "after the requests", stats(sides[0]), stats(sides[1]), nil, nil)
}

// accessLines are the side's access log lines with the client port, the date and
// the timers' values masked (which timers are -1 is kept).
func accessLines(s *side) []string {
	s.logs.mu.Lock()
	defer s.logs.mu.Unlock()
	line := regexp.MustCompile(`^<\d+>.*?\]: 127\.0\.0\.1:\d+ \[[^]]+\] (\S+ \S+) (\S+) (.*)$`)
	var out []string
	for _, l := range s.logs.lines {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		timers := regexp.MustCompile(`\d+`).ReplaceAllString(m[2], "N")
		rest := m[3]
		// actconn and feconn depend on when each side sees the previous connection
		// end. Until %B, beconn/srv_conn and <BADREQ> lines are HAProxy's, they are
		// masked too.
		rest = regexp.MustCompile(`^(\d+) (\d+) `).ReplaceAllString(rest, "$1 B ")
		rest = regexp.MustCompile(` \d+/\d+/\d+/\d+/(\+?\d+) `).ReplaceAllString(rest, " a/f/b/s/$1 ")
		if strings.HasSuffix(rest, `"<BADREQ>"`) {
			continue
		}
		out = append(out, m[1]+" "+timers+" "+rest)
	}
	return out
}
