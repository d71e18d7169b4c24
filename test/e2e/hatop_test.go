package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tmuxSession is a terminal of its own (a private tmux server) running one program,
// whose screen the test reads with capture-pane.
type tmuxSession struct {
	t      *testing.T
	sock   string
	target string
}

// startTmux runs command in a detached 200x50 tmux session on a private server
// socket; the server is stopped (by that socket) when the test ends.
func startTmux(t *testing.T, command string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (.ci/run installs Debian's package)")
	}
	s := &tmuxSession{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock"), target: "ops"}
	if out, err := exec.Command("tmux", "-S", s.sock, "new-session", "-d", "-s", s.target, "-x", "200", "-y", "50", command).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-S", s.sock, "kill-server").Run() })
	return s
}

// screen returns the visible screen; with escapes, reverse video shows as ESC[7m.
func (s *tmuxSession) screen(escapes bool) string {
	args := []string{"-S", s.sock, "capture-pane", "-p", "-t", s.target}
	if escapes {
		args = append(args, "-e")
	}
	out, err := exec.Command("tmux", args...).Output()
	if err != nil {
		s.t.Fatalf("capture-pane: %v", err)
	}
	return string(out)
}

func (s *tmuxSession) keys(keys ...string) {
	args := append([]string{"-S", s.sock, "send-keys", "-t", s.target}, keys...)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		s.t.Fatalf("send-keys: %v %s", err, out)
	}
}

// waitScreen waits until the screen matches re and returns it.
func (s *tmuxSession) waitScreen(what string, re *regexp.Regexp) string {
	s.t.Helper()
	var last string
	if waitFor(10*time.Second, func() bool { last = s.screen(false); return re.MatchString(last) }) {
		return last
	}
	s.t.Fatalf("%s: the screen never matched %s:\n%s", what, re, last)
	return ""
}

// TestHatopDrivesHitless runs hatop, the curses client HAProxy operators use, on
// hitless's stats socket in a tmux terminal: its header (from `show info`), its four
// stat views and its command line render, its F10 and F9 keys put a server in
// maintenance and take it out, which hitless logs in HAProxy's words, and its weight
// keys (F8, F6, F4) change the server's weight, and F2/F1 disable and enable a
// server by name.
func TestHatopDrivesHitless(t *testing.T) {
	if _, err := exec.LookPath("hatop"); err != nil {
		t.Skip("hatop is not installed (.ci/run installs Debian's package)")
	}
	be := newBackend(t, "s1", nil)
	dir := t.TempDir()
	sock := dir + "/s.sock"
	fe := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startHitless(t, fmt.Sprintf(`
global
    stats socket %s mode 600 level admin
`+httpDefaults+`
frontend fe
    bind %s
    default_backend be
backend be
    server s1 %s check inter 200ms
    server s2 %s
`, sock, fe, be.addr, be.addr), fe)
	waitSocket(t, sock)
	get(t, "http://"+fe+"/")
	tm := startTmux(t, "hatop -s "+sock)

	maxconn := regexp.MustCompile(`(?m)^Maxconn: (\d+)$`).FindStringSubmatch(socketCommand(t, sock, "show info"))
	if maxconn == nil {
		t.Fatal("no Maxconn in show info")
	}
	scr := tm.waitScreen("status view", regexp.MustCompile(`(?m)^s1 +1 UP +L4OK`))
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`hitless Version: \S+ +\(released: \d{4}/\d\d/\d\d\) +PID: \d+ \(proc 1\)`),
		regexp.MustCompile(`Node: \S+ \(uptime \d+d \d+h\d\dm\d\ds\)`),
		regexp.MustCompile(`Connections: \[.* 0/` + maxconn[1] + `\]`),
		regexp.MustCompile(`Procs: +1 +Tasks: +\d+ +Queue: +\d+ +Proxies: +2 +Services: +4`),
		regexp.MustCompile(`(?m)^s2 +1 - +none`),
		regexp.MustCompile(`(?m)^BACKEND +2 UP`),
	} {
		if !want.MatchString(scr) {
			t.Errorf("status view: no %s in:\n%s", want, scr)
		}
	}
	for key, header := range map[string]string{"2": "LBTOT", "3": "RTOT", "4": "ECONN"} {
		tm.keys(key)
		tm.waitScreen("view "+key, regexp.MustCompile(`(?m)^NAME .*`+header))
	}
	tm.keys("1")
	tm.waitScreen("status view", regexp.MustCompile(`(?m)^NAME +W STATUS +CHECK`))

	// The cursor (reverse video) down to s1, then F10: disable server be/s1.
	onS1 := regexp.MustCompile("(?m)^\x1b\\[7ms1 ")
	for i := 0; i < 20 && !onS1.MatchString(tm.screen(true)); i++ {
		tm.keys("Down")
		time.Sleep(100 * time.Millisecond)
	}
	if !onS1.MatchString(tm.screen(true)) {
		t.Fatalf("the cursor never reached s1:\n%s", tm.screen(false))
	}
	tm.keys("F10")
	tm.waitScreen("after F10", regexp.MustCompile(`(?m)^s1 +1 MAINT`))
	if st := socketCommand(t, sock, "show servers state be"); !strings.Contains(st, " be 1 s1 127.0.0.1 0 1 ") {
		t.Errorf("after F10:\n%s", st)
	}
	if !waitFor(2*time.Second, func() bool { return strings.Contains(p.out.String(), "Server be/s1 is going DOWN for maintenance.") }) {
		t.Errorf("no maintenance line in:\n%s", p.out.String())
	}
	tm.keys("F9")
	tm.waitScreen("after F9", regexp.MustCompile(`(?m)^s1 +1 UP`))
	if !strings.Contains(p.out.String(), "Server be/s1 is UP/READY (leaving forced maintenance).") {
		t.Errorf("no leaving-maintenance line in:\n%s", p.out.String())
	}
	// F8 adds 10 to the weight, F6 takes 1 off, F4 sets it back to 100%.
	for _, k := range []struct{ key, weight string }{{"F8", "11"}, {"F6", "10"}, {"F4", "1"}} {
		tm.keys(k.key)
		if !waitFor(5*time.Second, func() bool {
			return strings.HasPrefix(socketCommand(t, sock, "get weight be/s1"), k.weight+" (initial 1)")
		}) {
			t.Errorf("after %s: weight %q, want %s", k.key, socketCommand(t, sock, "get weight be/s1"), k.weight)
		}
		tm.waitScreen("after "+k.key, regexp.MustCompile(`(?m)^s1 +`+k.weight+` `))
	}

	// F2 and F1 disable and enable the server of that name in every backend.
	onS2 := regexp.MustCompile("(?m)^\x1b\\[7ms2 ")
	for i := 0; i < 20 && !onS2.MatchString(tm.screen(true)); i++ {
		tm.keys("Down")
		time.Sleep(100 * time.Millisecond)
	}
	tm.keys("F2")
	tm.waitScreen("after F2", regexp.MustCompile(`(?m)^s2 +1 MAINT`))
	tm.keys("F1")
	tm.waitScreen("after F1", regexp.MustCompile(`(?m)^s2 +1 -`))

	// The command line view talks to the socket in prompt mode.
	tm.keys("5")
	tm.waitScreen("cli view", regexp.MustCompile(`embedded interactive HAProxy shell`))
	tm.keys("show info", "Enter")
	tm.waitScreen("show info in the cli view", regexp.MustCompile(`(?m)^Build info: .*\n(.*\n)*Tainted: 0`))
}
