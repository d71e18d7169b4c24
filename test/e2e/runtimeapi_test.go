package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// socat runs `echo line | socat stdio UNIX-CONNECT:sock`, as operators do, and returns
// what it printed.
func socat(t *testing.T, sock, line string) string {
	t.Helper()
	path, err := exec.LookPath("socat")
	if err != nil {
		t.Skip("socat is not installed")
	}
	cmd := exec.Command(path, "-t", "2", "stdio", "UNIX-CONNECT:"+sock)
	cmd.Stdin = strings.NewReader(line + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("socat %q: %v", line, err)
	}
	return string(out)
}

// waitSocket waits until a stats socket answers: the HTTP listeners accept (in the
// kernel) a moment before the stats sockets are in place.
func waitSocket(t *testing.T, socks ...string) {
	t.Helper()
	for _, sock := range socks {
		if !waitFor(5*time.Second, func() bool {
			c, err := net.Dial("unix", sock)
			if err == nil {
				c.Close()
			}
			return err == nil
		}) {
			t.Fatalf("stats socket %s never answered", sock)
		}
	}
}

// levelsConfig has one stats socket per level, an HTTP frontend and a backend.
const levelsConfig = `
global
    stats socket %[1]s/user.sock level user
    stats socket %[1]s/operator.sock level operator
    stats socket %[1]s/admin.sock level admin
` + httpDefaults + `
frontend fe
    bind %[2]s
    default_backend be
backend be
    server a %[3]s
    server b %[4]s
`

// TestRuntimeAPICommandsAtEachLevel drives every command with socat on a user, an
// operator and an admin socket: below its level a command answers "Permission
// denied", at or above it what HAProxy answers. Commands that change state come with
// the one that undoes them.
func TestRuntimeAPICommandsAtEachLevel(t *testing.T) {
	if _, err := exec.LookPath("socat"); err != nil {
		t.Skip("socat is not installed")
	}
	a, b := newBackend(t, "a", nil), newBackend(t, "b", nil)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startHitless(t, fmt.Sprintf(levelsConfig, dir, addr, a.addr, b.addr), addr)
	waitSocket(t, filepath.Join(dir, "user.sock"), filepath.Join(dir, "operator.sock"), filepath.Join(dir, "admin.sock"))
	get(t, "http://"+addr+"/") // a session for the counters and show sess
	rawExchange(t, addr, "GET / HTTP/1.1\r\nHo st: x\r\n\r\n", 2*time.Second)

	const (
		user     = 1
		operator = 2
		admin    = 3
	)
	rows := []struct {
		line  string
		level int
		want  string // a part of the answer (every answer ends with an empty line)
	}{
		{"help", user, "The following commands are valid at this level:\n  abort ssl cert <certfile>               : abort a transaction for a certificate file\n  clear counters [all]"},
		{"show info", user, "\nCumReq: "},
		{"show stat", user, "\nfe,FRONTEND,,,"},
		{"show stat -1 4 -1", user, "\nbe,a,"},
		{"show servers state", user, "\n3 be 1 a 127.0.0.1 2 0 1 1 "},
		{"show backend", user, "# name\nbe\n"},
		{"get weight be/a", user, "1 (initial 1)\n"},
		{"show version", user, "e2e-test\n"},
		{"show cli level", user, ""},
		{"set timeout cli 5", user, ""},
		{"show sess", operator, "proto=unix_stream"},
		{"show errors", operator, "frontend fe (#2): invalid request\n"},
		{"show env PATH", operator, "PATH="},
		{"clear counters", operator, ""},
		{"clear counters all", admin, ""},
		{"set weight be/a 2", admin, ""},
		{"set server be/a weight 1", admin, ""},
		{"disable server be/b", admin, ""},
		{"enable server be/b", admin, ""},
		{"set server be/b state drain", admin, ""},
		{"set server be/b state ready", admin, ""},
		{"set server be/b health down", admin, ""},
		{"set server be/b health up", admin, ""},
		{"disable health be/a", admin, ""},
		{"enable health be/a", admin, ""},
		{"set maxconn server be/a 100", admin, ""},
		{"set server be/b addr 127.0.0.1 port " + fmt.Sprint(b.port), admin, "no need to change the addr, no need to change the port by 'stats socket command'\n"},
		{"set maxconn frontend fe 500", admin, ""},
		{"set maxconn global 1000", admin, ""},
		{"set maxconn global 0", admin, ""},
		{"disable frontend fe", admin, ""},
		{"enable frontend fe", admin, ""},
	}
	for _, r := range rows {
		for level, name := range map[int]string{user: "user", operator: "operator", admin: "admin"} {
			got := socat(t, filepath.Join(dir, name+".sock"), r.line)
			if !strings.HasSuffix(got, "\n") {
				t.Errorf("%s on %s: answer does not end with the prompt: %q", r.line, name, got)
				continue
			}
			switch {
			case level < r.level:
				if got != "Permission denied\n\n" {
					t.Errorf("%s on %s: %q, want Permission denied", r.line, name, got)
				}
			case r.line == "show cli level":
				if got != name+"\n\n" {
					t.Errorf("show cli level on %s: %q", name, got)
				}
			case r.want == "" && got != "\n":
				t.Errorf("%s on %s: %q, want no output", r.line, name, got)
			case !strings.Contains(got, r.want):
				t.Errorf("%s on %s: %q does not contain %q", r.line, name, got, r.want)
			}
		}
	}
	// The commands took effect and undid themselves: traffic flows to both servers.
	if got := count(t, addr, 20, nil, nil); got["a"] == 0 || got["b"] == 0 {
		t.Fatalf("traffic after the commands: %v", got)
	}
	// An unknown command, on any level, lists the usage.
	if got := socat(t, filepath.Join(dir, "user.sock"), "set maxconn"); !strings.HasPrefix(got,
		"Unknown command, but maybe one of the following ones is a better match:\n  set maxconn frontend <frontend> <value> : change a frontend's maxconn setting\n") {
		t.Fatalf("unknown command: %q", got)
	}
}

// TestStalledSocketClientsNeverBlockTraffic: socket clients that never read a large
// answer, stall half-way through a line or vanish must not slow the traffic or keep
// another socket client from its answer.
func TestStalledSocketClientsNeverBlockTraffic(t *testing.T) {
	a := newBackend(t, "a", nil)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	// Many servers make `show stat` larger than the socket buffers.
	var servers strings.Builder
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&servers, "    server s%d %s\n", i, a.addr)
	}
	cfg := fmt.Sprintf(levelsConfig, dir, addr, a.addr, a.addr) + servers.String()
	startHitless(t, cfg, addr)
	sock := filepath.Join(dir, "admin.sock")
	waitSocket(t, sock)
	var stalled []net.Conn
	defer func() {
		for _, c := range stalled {
			c.Close()
		}
	}()
	for i := 0; i < 5; i++ {
		// Asks for a large answer and never reads it.
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "prompt\nshow stat\nshow stat\nshow stat\n")
		stalled = append(stalled, c)
		// Half a command line, then nothing.
		c, err = net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "show st")
		stalled = append(stalled, c)
		// Sends a command and vanishes at once.
		c, err = net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "show stat\n")
		c.Close()
	}
	start := time.Now()
	for i := 0; i < 50; i++ {
		if code, body, _ := get(t, "http://"+addr+"/"); code != 200 || body != "a" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("50 requests took %v next to stalled socket clients", d)
	}
	start = time.Now()
	if got := socketCommand(t, sock, "show cli level"); got != "admin\n\n" {
		t.Fatalf("another socket client got %q", got)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("another socket client waited %v", d)
	}
}

// stateFileConfig uses HAProxy's server-state file.
const stateFileConfig = `
global
    stats socket %[1]s/admin.sock level admin expose-fd listeners
    server-state-base %[1]s
    server-state-file state
` + httpDefaults + `
frontend fe
    bind %[2]s
    default_backend be
backend be
    load-server-state-from-file global
    server a %[3]s
    server b %[4]s
`

// TestServerStateFileAcrossRestart is HAProxy's way: `show servers state > file`
// before a restart, and the new process (no -x) starts with the file's maintenance,
// weights and addresses; without the file it warns and starts as configured.
func TestServerStateFileAcrossRestart(t *testing.T) {
	a, b, c := newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "c", nil)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := fmt.Sprintf(stateFileConfig, dir, addr, a.addr, b.addr)
	sock := filepath.Join(dir, "admin.sock")

	first := startHitless(t, cfg, addr)
	waitSocket(t, sock)
	warning := "Can't open global server state file '" + filepath.Join(dir, "state") + "': No such file or directory"
	if !waitFor(3*time.Second, func() bool { return strings.Contains(first.out.String(), warning) }) {
		t.Fatalf("no warning for the missing state file:\n%s", first.out.String())
	}
	moved := fmt.Sprintf("set server be/a addr 127.0.0.1 port %d", c.port)
	if out := socketCommand(t, sock, "disable server be/b;"+moved+";set server be/a weight 9"); !strings.Contains(out, "port changed from") {
		t.Fatalf("socket answered %q", out)
	}
	state := socketCommand(t, sock, "show servers state")
	if err := os.WriteFile(filepath.Join(dir, "state"), []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	first.stop(t)

	startHitless(t, cfg, addr)
	waitSocket(t, sock) // the first process's socket file may still be there, refusing
	got := socketCommand(t, sock, "show servers state be")
	if !strings.Contains(got, " be 1 a 127.0.0.1 2 0 9 1 ") || !strings.Contains(got, fmt.Sprintf(" - %d - ", c.port)) ||
		!strings.Contains(got, " be 2 b 127.0.0.1 0 1 1 1 ") {
		t.Fatalf("state after the restart:\n%s", got)
	}
	if got := count(t, addr, 20, nil, nil); got["c"] != 20 {
		t.Fatalf("traffic after the restart: %v", got)
	}
}

// TestSetServerAddrSurvivesReload: an address set from the socket stays in the new
// process of a reload (-x), as HAProxy keeps a CLI address across reloads.
func TestSetServerAddrSurvivesReload(t *testing.T) {
	a, b, c := newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "c", nil)
	r := newReloadSetup(t, func(addr, sock string) string { return fmt.Sprintf(twoServers, sock, addr, a.addr, b.addr) })
	r.start(t)
	moved := fmt.Sprintf("set server be/a addr 127.0.0.1 port %d;disable server be/b", c.port)
	if out := socketCommand(t, r.sock, moved); !strings.Contains(out, "port changed from") {
		t.Fatalf("socket answered %q", out)
	}
	if out, err := exec.Command("/bin/sh", "-c", r.reloadCmd(true)).CombinedOutput(); err != nil {
		t.Fatalf("reload: %v %s", err, out)
	}
	if got := count(t, r.addr, 20, nil, nil); got["c"] != 20 {
		t.Fatalf("traffic after the reload: %v", got)
	}
	// The health checks (every 100 ms) follow the address too: a is asked no more.
	before := a.requests.Load()
	time.Sleep(500 * time.Millisecond)
	if n := a.requests.Load() - before; n != 0 {
		t.Fatalf("a got %d more requests after its server moved", n)
	}
}
