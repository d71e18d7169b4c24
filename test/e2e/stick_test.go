package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stickConfig has the tables of the reference captures (no peers section): every
// key type, counters, rates and arrays.
const stickConfig = `
global
    stats socket %s level admin expose-fd listeners
defaults
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind %s
    mode http
    http-request return status 200 content-type text/plain string ok
backend st_ip
    stick-table type ip size 1k expire 60s store gpc0,http_req_rate(10s),conn_cur
backend st_str
    stick-table type string len 16 size 1k expire 60s store gpt0,gpc0_rate(5s),conn_cnt,conn_rate(5s),sess_cnt,http_req_cnt,http_err_cnt,bytes_in_cnt,bytes_out_cnt,gpc1,http_fail_cnt,server_id,server_key
backend st_int
    stick-table type integer size 1k store gpt(2),gpc(2),gpc_rate(2,10s)
backend st_ipv6
    stick-table type ipv6 size 1k expire 30s store gpc0
backend st_small
    stick-table type ip size 3 expire 60s store gpc0
backend st_nopurge
    stick-table type ip size 2 nopurge expire 60s store gpc0
backend st_bin
    stick-table type binary len 8 size 100 expire 20s store gpc0
`

// stickScript is run on both HAProxy and hitless; each answer is compared.
var stickScript = []string{
	"set table st_ip key 10.0.0.1 data.gpc0 5 data.http_req_rate 3",
	"set table st_ip key 10.0.0.2 data.gpc0 300",
	"set table st_ip key 127.0.0.1 data.conn_cur 2",
	"set table st_str key hello data.gpt0 1 data.gpc0_rate 17 data.conn_cnt 3 data.bytes_in_cnt 5000000000 data.server_id -2",
	`set table st_str key a\ b=c data.gpt0 1`,
	"set table st_str key averyveryverylongstringkey data.gpc1 2",
	"set table st_int key 4660 data.gpc 1 data.gpc_rate 4 data.gpt 7",
	"set table st_ipv6 key 2001:db8::1 data.gpc0 7",
	"set table st_small key 10.1.0.1 data.gpc0 1",
	"set table st_small key 10.1.0.2 data.gpc0 1",
	"set table st_small key 10.1.0.3 data.gpc0 1",
	"set table st_small key 10.1.0.4 data.gpc0 1",
	"set table st_nopurge key 10.1.0.1 data.gpc0 1",
	"set table st_nopurge key 10.1.0.2 data.gpc0 1",
	"set table st_nopurge key 10.1.0.3 data.gpc0 1",
	"show table",
	"show table st_ip",
	"show table st_str",
	"show table st_int",
	"show table st_ipv6",
	"show table st_small",
	"show table st_nopurge",
	"show table st_ip data.gpc0 gt 1",
	"show table st_ip data.gpc0 eq 5 data.conn_cur eq 0",
	"show table st_ip key 10.0.0.1",
	"show table st_ip key 10.9.9.9",
	"show table nosuch",
	"show table st_ip foo",
	"show table st_ip data.nosuch gt 1",
	"show table st_ip data.gpc1 gt 1",
	"show table st_ip data.gpc0 xx 1",
	"show table st_ip data.gpc0 gt abc",
	"show table st_ip data.gpc0 gt 1 extra",
	"show table st_ip key",
	"show table st_ip key not-an-ip",
	"show table st_int key 99999999999",
	"set table st_ipv6 key zz data.gpc0 1",
	"show table st_bin key abc",
	"set table st_bin key abc data.gpc0 1",
	"clear table st_bin key abc",
	"set table st_ip",
	"set table st_ip key 10.0.0.6 data.nosuch 1",
	"set table st_ip key 10.0.0.6 data.gpc1 1",
	"set table st_int key 4660 data.gpt0 1",
	"set table st_ip key 10.0.0.6 data.gpc0 abc",
	"set table st_ip key 10.0.0.6 gpc0 1",
	"set table st_ip data.gpc0 gt 1",
	"clear table",
	"set table",
	"show table st_ip",
	"clear table st_ip key 10.0.0.2",
	"clear table st_ip data.gpc0 eq 5",
	"show table st_ip",
	"clear table st_ip",
	"show table st_ip",
}

// runStickScript starts the binary (HAProxy or hitless) on stickConfig and returns
// its answers to stickScript, with addresses and expiry masked.
func runStickScript(t *testing.T, bin string) []string {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	cfg := filepath.Join(dir, "s.cfg")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	os.WriteFile(cfg, []byte(fmt.Sprintf(stickConfig, sock, addr)), 0o644)
	cmd := exec.Command(bin, "-db", "-f", cfg)
	if bin == binPath {
		cmd = exec.Command(bin, "-f", cfg)
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !waitAccept(addr, 5*time.Second, nil) {
		t.Fatalf("%s did not start: %s", bin, out.String())
	}
	ptr := regexp.MustCompile(`(?m)^0x[0-9a-f]+:`)
	exp := regexp.MustCompile(` exp=[0-9]+`)
	var answers []string
	for _, c := range stickScript {
		a := socketCommand(t, sock, c)
		a = ptr.ReplaceAllString(a, "PTR:")
		a = exp.ReplaceAllStringFunc(a, func(s string) string {
			if s == " exp=0" {
				return s
			}
			return " exp=N"
		})
		answers = append(answers, a)
	}
	return answers
}

// TestStickTableCommandsMatchHAProxy runs the same `set/show/clear table` script on
// HAProxy 2.6 and hitless: the answers must be the same, byte for byte, once entry
// addresses and milliseconds left are masked.
func TestStickTableCommandsMatchHAProxy(t *testing.T) {
	hx := haproxy(t)
	want := runStickScript(t, hx)
	got := runStickScript(t, binPath)
	for i, c := range stickScript {
		if got[i] != want[i] {
			t.Errorf("%s\nHAProxy:\n%s\nhitless:\n%s", c, want[i], got[i])
		}
	}
}

// TestStickTablesSurviveReload: entries set with `set table` are in the new process
// after a `-sf -x` reload, counters and rates included, and their expiry goes on.
func TestStickTablesSurviveReload(t *testing.T) {
	r := newReloadSetup(t, func(addr, sock string) string {
		return fmt.Sprintf(stickConfig, sock, addr) + "    # " + addr + "\n"
	})
	r.start(t)
	socketCommand(t, r.sock, "set table st_ip key 10.0.0.1 data.gpc0 5 data.http_req_rate 3;set table st_str key hello data.gpt0 1 data.bytes_in_cnt 5000000000;set table st_int key 4660 data.gpc 1;set table st_ipv6 key 2001:db8::1 data.gpc0 7")
	before := socketCommand(t, r.sock, "show table st_ip;show table st_str;show table st_int;show table st_ipv6")
	for i := 0; i < 2; i++ {
		if out, err := exec.Command("/bin/sh", "-c", r.reloadCmd(true)).CombinedOutput(); err != nil {
			t.Fatalf("reload: %v %s", err, out)
		}
	}
	after := socketCommand(t, r.sock, "show table st_ip;show table st_str;show table st_int;show table st_ipv6")
	if mask(after) != mask(before) {
		t.Fatalf("before the reloads:\n%s\nafter:\n%s", before, after)
	}
	if !strings.Contains(after, "key=10.0.0.1 use=0 exp=5") || !strings.Contains(after, "bytes_in_cnt=5000000000") {
		t.Fatalf("after:\n%s", after)
	}
}

// TestStickTablesSurviveMasterWorkerReload: the master hands the worker's tables to
// the next worker.
func TestStickTablesSurviveMasterWorkerReload(t *testing.T) {
	be := newBackend(t, "ok", nil)
	s := startMaster(t, "", "", be.addr+"\n    stick-table type ip size 1k expire 60s store gpc0,http_req_rate(10s)")
	if out := s.cli(t, "@1 set table be key 10.0.0.1 data.gpc0 9 data.http_req_rate 4"); strings.TrimSpace(out) != "" {
		t.Fatalf("set table answered %q", out)
	}
	before := s.cli(t, "@1 show table be")
	_, first, _ := s.procs(t)
	s.reload(t)
	second := s.waitNewWorker(t, first)
	s.reload(t)
	s.waitNewWorker(t, second)
	after := s.cli(t, "@1 show table be")
	if mask(after) != mask(before) || !strings.Contains(after, "gpc0=9 http_req_rate(10000)=4") {
		t.Fatalf("before:\n%s\nafter two reloads:\n%s", before, after)
	}
}

// mask hides entry addresses and milliseconds left.
func mask(s string) string {
	s = regexp.MustCompile(`(?m)^0x[0-9a-f]+:`).ReplaceAllString(s, "PTR:")
	return regexp.MustCompile(` exp=[0-9]+`).ReplaceAllString(s, " exp=N")
}

const stickOnConfig = `
global
    stats socket %s level admin expose-fd listeners
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind %s
    default_backend be
backend be
    balance roundrobin
    stick-table type ip size 1k expire 60s
    stick on src
    server s1 %s
    server s2 %s
`

// TestStickOnSrcKeepsClientOnItsServer: `stick on src` sends every request of a
// client to the server stored for it (set from the Runtime API here, as HAProxy 2.6
// does with the same table), stores the server it chose otherwise, and a `-sf -x`
// reload keeps the client where it was.
func TestStickOnSrcKeepsClientOnItsServer(t *testing.T) {
	one, two := newBackend(t, "one", nil), newBackend(t, "two", nil)
	r := newReloadSetup(t, func(addr, sock string) string { return fmt.Sprintf(stickOnConfig, sock, addr, one.addr, two.addr) })
	r.start(t)
	check := func(when, want string) {
		t.Helper()
		if got := count(t, r.addr, 10, nil, nil); got[want] != 10 {
			t.Fatalf("%s: %v, want every request on %s", when, got, want)
		}
	}
	socketCommand(t, r.sock, "set table be key 127.0.0.1 data.server_id 2")
	check("pinned to s2", "two")
	if out := socketCommand(t, r.sock, "show table be"); !strings.Contains(out, "key=127.0.0.1 use=0 exp=") || !strings.Contains(out, "server_id=2 server_key=s2") {
		t.Fatalf("show table:\n%s", out)
	}
	if out, err := exec.Command("/bin/sh", "-c", r.reloadCmd(true)).CombinedOutput(); err != nil {
		t.Fatalf("reload: %v %s", err, out)
	}
	check("after a reload", "two")
	// Without an entry, the server round robin chose is stored, and kept.
	socketCommand(t, r.sock, "clear table be")
	got := count(t, r.addr, 10, nil, nil)
	if len(got) != 1 {
		t.Fatalf("after clear table: %v, want one server", got)
	}
	out := socketCommand(t, r.sock, "show table be")
	if (got["one"] == 10) != strings.Contains(out, "server_id=1 server_key=s1") {
		t.Fatalf("requests %v but table:\n%s", got, out)
	}

	// HAProxy 2.6 on the same configuration and the same entry sends the client to
	// the same server.
	if _, err := lookHAProxy(); err != nil {
		return
	}
	hx := haproxy(t)
	h := newReloadSetup(t, func(addr, sock string) string { return fmt.Sprintf(stickOnConfig, sock, addr, one.addr, two.addr) })
	if out, err := exec.Command(hx, "-f", h.cfg, "-p", h.pidfile, "-D").CombinedOutput(); err != nil {
		t.Fatalf("haproxy: %v %s", err, out)
	}
	hpid := h.currentPid()
	t.Cleanup(func() { syscall.Kill(hpid, syscall.SIGKILL) })
	if !waitAccept(h.addr, 5*time.Second, nil) {
		t.Fatal("haproxy did not start")
	}
	socketCommand(t, h.sock, "set table be key 127.0.0.1 data.server_id 2")
	if got := count(t, h.addr, 10, nil, nil); got["two"] != 10 {
		t.Fatalf("HAProxy: %v", got)
	}
	socketCommand(t, r.sock, "set table be key 127.0.0.1 data.server_id 2")
	check("pinned to s2 again", "two")
	hxOut, hlOut := mask(socketCommand(t, h.sock, "show table be")), mask(socketCommand(t, r.sock, "show table be"))
	if hlOut != hxOut {
		t.Fatalf("show table: HAProxy\n%s\nhitless\n%s", hxOut, hlOut)
	}
}

// TestStickServerIDsAndNonStick: stick tables store a server's `id` as server_id (not
// its position), an entry pins the client to the server with that id, and a
// `non-stick` server's connections are not stored; `show table` then reads as
// HAProxy 2.6's on the same configuration and traffic.
func TestStickServerIDsAndNonStick(t *testing.T) {
	one, two := newBackend(t, "one", nil), newBackend(t, "two", nil)
	run := func(useHAProxy bool) (pinned, ided, nonstick map[string]int, tables string) {
		dir := t.TempDir()
		sock := dir + "/s.sock"
		fe1, fe2, fe3 := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
listen pin
    bind %s
    stick-table type ip size 1k expire 60s
    stick on src
    server s1 %s id 7
    server s2 %s id 3
listen ided
    bind %s
    stick-table type ip size 1k expire 60s
    stick on src
    server s1 %s id 9
listen nonstick
    bind %s
    stick-table type ip size 1k expire 60s
    stick on src
    server s1 %s non-stick
`, sock, fe1, one.addr, two.addr, fe2, one.addr, fe3, two.addr)
		if useHAProxy {
			runHAProxy(t, haproxy(t), cfg)
		} else {
			startHitless(t, cfg)
		}
		for _, a := range []string{fe1, fe2, fe3} {
			if !waitAccept(a, 5*time.Second, nil) {
				t.Fatal("no listener")
			}
		}
		waitSocket(t, sock)
		socketCommand(t, sock, "set table pin key 127.0.0.1 data.server_id 3")
		pinned, ided, nonstick = count(t, fe1, 6, nil, nil), count(t, fe2, 3, nil, nil), count(t, fe3, 3, nil, nil)
		for _, tb := range []string{"pin", "ided", "nonstick"} {
			tables += mask(socketCommand(t, sock, "show table "+tb))
		}
		return
	}
	pinned, ided, nonstick, tables := run(false)
	if pinned["two"] != 6 || ided["one"] != 3 || nonstick["two"] != 3 {
		t.Fatalf("pinned %v, ided %v, non-stick %v", pinned, ided, nonstick)
	}
	if !strings.Contains(tables, "server_id=3 server_key=s2") || !strings.Contains(tables, "server_id=9 server_key=s1") ||
		!strings.Contains(tables, "# table: nonstick, type: ip, size:1024, used:0") {
		t.Fatalf("tables:\n%s", tables)
	}
	if _, err := lookHAProxy(); err != nil {
		return
	}
	if _, _, _, hx := run(true); hx != tables {
		t.Fatalf("show table: HAProxy\n%s\nhitless\n%s", hx, tables)
	}
}
