package e2e

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net"
	"os"
	"os/exec"

	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// script is a scripted server for health checks: it sends a banner, answers each
// read with the next reply, and records what it received on its latest connection.
type script struct {
	banner  string
	replies []string
	hang    bool // accept and stay silent
	close   bool // close right after the last reply

	rec *recording
}

// recording is what a script server received on its latest connection.
type recording struct {
	mu   sync.Mutex // guards last
	last []byte
}

func (s *script) serve(t *testing.T) string {
	s.rec = &recording{}
	return serveTCP(t, func(c net.Conn) {
		var got []byte
		defer func() {
			s.rec.mu.Lock()
			s.rec.last = got
			s.rec.mu.Unlock()
		}()
		if s.hang {
			c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					return
				}
			}
		}
		if s.banner != "" {
			c.Write([]byte(s.banner))
		}
		buf := make([]byte, 4096)
		i := 0
		for {
			c.SetReadDeadline(time.Now().Add(400 * time.Millisecond))
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if n > 0 && i < len(s.replies) {
				c.Write([]byte(s.replies[i]))
				i++
				if s.close && i == len(s.replies) {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
}

func (s *script) received() []byte {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return append([]byte(nil), s.rec.last...)
}

// checkCase is one backend of the differential check test.
type checkCase struct {
	name  string
	lines string // the backend's check lines; %s is replaced by a closed port
	srv   script
	bytes bool // compare what the check sent
	// refused points the server at a closed port.
	refused bool
}

var mysqlGreeting = func() string {
	body := "\x0a5.5.5-10.11-Fake\x00\x01\x00\x00\x00abcdefgh\x00\xff\xf7\x21\x02\x00\xff\x81\x15\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00ijklmnopqrst\x00mysql_native_password\x00"
	return string([]byte{byte(len(body)), 0, 0, 0}) + body
}()

func mysqlPacket(seq byte, body string) string {
	return string([]byte{byte(len(body)), byte(len(body) >> 8), 0, seq}) + body
}

var checkCases = []checkCase{
	{name: "tcpmaster", lines: "option tcp-check\n tcp-check send info\\ replication\\r\\n\n tcp-check expect string role:master", srv: script{replies: []string{"role:master\r\n"}}, bytes: true},
	{name: "tcpslave", lines: "option tcp-check\n tcp-check send info\\ replication\\r\\n\n tcp-check expect string role:master", srv: script{replies: []string{"role:slave\r\n"}}},
	{name: "tcpport", lines: "option tcp-check\n tcp-check connect port %s\n tcp-check expect string x", srv: script{}},
	{name: "tcpcomment", lines: "option tcp-check\n tcp-check comment my\\ comment\n tcp-check expect string role:mas\n tcp-check comment second\n tcp-check expect rstring ^zz", srv: script{banner: "role:master\r\n"}},
	{name: "tcpunwanted", lines: "option tcp-check\n tcp-check expect ! string role", srv: script{banner: "role:master\r\n"}},
	{name: "tcprbinary", lines: "option tcp-check\n tcp-check expect rbinary ^726f", srv: script{banner: "role:master\r\n"}},
	{name: "tcpbinary", lines: "option tcp-check\n tcp-check send-binary 50494e470d0a\n tcp-check expect binary 7a7a", srv: script{replies: []string{"+PONG\r\n"}}, bytes: true},
	{name: "tcptimeout", lines: "option tcp-check\n tcp-check send PING\\r\\n\n tcp-check comment cmt\n tcp-check expect string +PONG", srv: script{hang: true}},
	{name: "tcpempty", lines: "option tcp-check\n tcp-check send PING\\r\\n\n tcp-check expect string +PONG", srv: script{close: true, replies: []string{""}}},
	{name: "tcprefused", lines: "option tcp-check\n tcp-check expect string x", refused: true},
	{name: "tcpsuccessfmt", lines: "option tcp-check\n tcp-check expect string role:master on-success \"yay %[res.payload(0,4)]\" status-code int(42)", srv: script{banner: "role:master\r\n"}},
	{name: "tcperrorfmt", lines: "option tcp-check\n tcp-check expect string role:master on-error bad error-status L7STS", srv: script{banner: "role:slave\r\n", close: true}},
	{name: "tcpsendlf", lines: "option tcp-check\n tcp-check set-var(check.x) str(hello)\n tcp-check send-lf \"%[var(check.x)] %[var(check.x),upper]\\r\\n\"\n tcp-check expect string ok", srv: script{replies: []string{"ok\r\n"}}, bytes: true},
	{name: "http503", lines: "option httpchk GET /h", srv: script{replies: []string{"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"}, close: true}, bytes: true},
	{name: "httpstring", lines: "option httpchk\n http-check expect string hello", srv: script{replies: []string{"HTTP/1.0 200 OK\r\nX-A: b\r\nContent-Length: 5\r\n\r\nhello"}, close: true}, bytes: true},
	{name: "httpnostring", lines: "option httpchk\n http-check expect string nothere", srv: script{replies: []string{"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"}, close: true}},
	{name: "httphdr", lines: "option httpchk\n http-check expect hdr name x-a value b", srv: script{replies: []string{"HTTP/1.0 200 OK\r\nX-A: b\r\nContent-Length: 0\r\n\r\n"}, close: true}},
	{name: "httpnohdr", lines: "option httpchk\n http-check expect hdr name x-b", srv: script{replies: []string{"HTTP/1.0 200 OK\r\nX-A: b\r\nContent-Length: 0\r\n\r\n"}, close: true}},
	{name: "httprstatus", lines: "option httpchk\n http-check expect rstatus ^5", srv: script{replies: []string{"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"}, close: true}},
	{name: "httpunwanted", lines: "option httpchk\n http-check expect ! rstring ell", srv: script{replies: []string{"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"}, close: true}},
	{name: "httpsend", lines: "option httpchk\n http-check send meth POST uri /x ver HTTP/1.1 hdr Host example.org hdr X-Y \"a b\" body hello\n http-check expect status 200 on-success \"fine %[res.hdr(x-a)]\"", srv: script{replies: []string{"HTTP/1.1 200 OK\r\nX-A: b\r\nContent-Length: 0\r\n\r\n"}, close: true}, bytes: true},
	{name: "httpgarbage", lines: "option httpchk", srv: script{replies: []string{"garbage\r\n\r\n"}, close: true}},
	{name: "httptimeout", lines: "option httpchk", srv: script{hang: true}},
	{name: "http404", lines: "option httpchk\n http-check disable-on-404", srv: script{replies: []string{"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"}, close: true}},
	{name: "redisok", lines: "option redis-check", srv: script{replies: []string{"+PONG\r\n"}}, bytes: true},
	{name: "rediserr", lines: "option redis-check", srv: script{replies: []string{"-ERR bad\r\n"}, close: true}},
	{name: "smtpok", lines: "option smtpchk", srv: script{banner: "220 hi there\r\n", replies: []string{"250 ok fine\r\n", "221 bye\r\n"}}, bytes: true},
	{name: "smtp550", lines: "option smtpchk EHLO x.org", srv: script{banner: "220 hi\r\n", replies: []string{"550 go away\r\n"}}, bytes: true},
	{name: "smtp554", lines: "option smtpchk", srv: script{banner: "554 no\r\n"}},
	{name: "smtpgarbage", lines: "option smtpchk", srv: script{banner: "xx\r\n"}},
	{name: "sslok", lines: "option ssl-hello-chk", srv: script{replies: []string{"\x15\x03\x01\x00\x02\x02\x28"}, close: true}, bytes: true},
	{name: "sslhttp", lines: "option ssl-hello-chk", srv: script{replies: []string{"HTTP/1.0 200 OK\r\n\r\n"}, close: true}},
	{name: "pgok", lines: "option pgsql-check user haproxy", srv: script{replies: []string{"R\x00\x00\x00\x08\x00\x00\x00\x00"}}, bytes: true},
	{name: "pgerr", lines: "option pgsql-check user nobody", srv: script{replies: []string{"E\x00\x00\x00\x30SFATAL\x00C28000\x00Mrole \"nobody\" does not exist\x00\x00"}, close: true}},
	{name: "pgmd5", lines: "option pgsql-check user haproxy", srv: script{replies: []string{"R\x00\x00\x00\x0c\x00\x00\x00\x05abcd"}, close: true}},
	{name: "mysqlgreet", lines: "option mysql-check", srv: script{banner: mysqlGreeting}},
	{name: "mysqluser", lines: "option mysql-check user haproxy", srv: script{banner: mysqlGreeting, replies: []string{mysqlPacket(2, "\x00\x00\x00\x02\x00\x00\x00")}}, bytes: true},
	{name: "mysqlpre41", lines: "option mysql-check user haproxy pre-41", srv: script{banner: mysqlGreeting, replies: []string{mysqlPacket(2, "\x00\x00\x00\x02\x00\x00\x00")}}, bytes: true},
	{name: "mysqldenied", lines: "option mysql-check user haproxy", srv: script{banner: mysqlGreeting, replies: []string{mysqlPacket(2, "\xff\x15\x04#28000Access denied for user 'haproxy'@'localhost'")}, close: true}},
	{name: "mysqlblocked", lines: "option mysql-check", srv: script{banner: mysqlPacket(0, "\xff\x69\x04Host '127.0.0.1' is blocked")}},
	{name: "ldapok", lines: "option ldap-check", srv: script{replies: []string{"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00"}}, bytes: true},
	{name: "ldapfail", lines: "option ldap-check", srv: script{replies: []string{"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x31\x04\x00\x04\x00"}}},
	{name: "ldapgarbage", lines: "option ldap-check", srv: script{replies: []string{"HTTP/1.0 200 OK\r\n\r\n"}, close: true}},
}

// checkRow is what `show stat` says of a server's last check.
type checkRow struct{ status, check, code, info string }

// TestChecksMatchHAProxy runs every check case against HAProxy 2.6 and hitless, each
// with its own copy of the scripted servers, and compares what `show stat` says of
// each server once it was checked (state, check_status, check_code, last_chk) and the
// bytes each check sent.
func TestChecksMatchHAProxy(t *testing.T) {
	hx := haproxy(t)
	closed := fmt.Sprint(freePort(t))
	type run struct {
		srvs []*script
		rows map[string]checkRow
	}
	start := func(useHAProxy bool) *run {
		r := &run{}
		dir := t.TempDir()
		sock := dir + "/s.sock"
		fe := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		var b strings.Builder
		fmt.Fprintf(&b, "global\n stats socket %s level admin\n node lb1\ndefaults\n mode tcp\n timeout connect 500ms\n timeout client 5s\n timeout server 5s\n timeout check 600ms\nlisten dummy\n bind %s\n server x 127.0.0.1:%s\n", sock, fe, closed)
		for i := range checkCases {
			c := checkCases[i]
			s := &script{banner: c.srv.banner, replies: c.srv.replies, hang: c.srv.hang, close: c.srv.close}
			r.srvs = append(r.srvs, s)
			addr := s.serve(t)
			if c.refused {
				addr = "127.0.0.1:" + closed
			}
			lines := strings.ReplaceAll(c.lines, "%s", closed)
			fmt.Fprintf(&b, "backend %s\n %s\n server s1 %s check inter 1s rise 1 fall 1\n", c.name, lines, addr)
		}
		text := b.String()
		if useHAProxy {
			path := writeConfig(t, text)
			pidfile := dir + "/h.pid"
			if out, err := exec.Command(hx, "-f", path, "-p", pidfile, "-D").CombinedOutput(); err != nil {
				t.Fatalf("haproxy: %v %s", err, out)
			}
			raw, _ := os.ReadFile(pidfile)
			var pid int
			fmt.Sscan(string(raw), &pid)
			t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
		} else {
			startHitless(t, text, fe)
		}
		if !waitAccept(fe, 5*time.Second, nil) {
			t.Fatal("no listener")
		}
		r.rows = map[string]checkRow{}
		deadline := time.Now().Add(8 * time.Second)
		for time.Now().Before(deadline) && len(r.rows) < len(checkCases) {
			for name, row := range statRows(t, sock) {
				if _, seen := r.rows[name]; !seen && !strings.Contains(name, "/") && row.check != "" && row.check != "INI" && !strings.HasPrefix(row.check, "* ") {
					r.rows[name] = row
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		return r
	}
	h := start(true)
	o := start(false)
	for i, c := range checkCases {
		hr, or := h.rows[c.name], o.rows[c.name]
		if hr != or {
			t.Errorf("%s: hitless %+v, haproxy %+v", c.name, or, hr)
		}
		if c.bytes {
			hb, ob := h.srvs[i].received(), o.srvs[i].received()
			if c.name == "sslok" && len(hb) > 15 && len(ob) > 15 {
				copy(hb[11:15], ob[11:15]) // the current time
			}
			if !bytes.Equal(hb, ob) {
				t.Errorf("%s: hitless sent %q\nhaproxy sent %q", c.name, ob, hb)
			}
		}
	}
}

// statRows reads `show stat` and returns the server rows by backend name (the last
// server of each) and by backend/server.
func statRows(t *testing.T, sock string) map[string]checkRow {
	recs, col := statTable(t, sock)
	if recs == nil {
		return nil
	}
	rows := map[string]checkRow{}
	for _, r := range recs[1:] {
		if len(r) < len(recs[0]) || r[1] == "FRONTEND" || r[1] == "BACKEND" || r[0] == "dummy" {
			continue
		}
		status := r[col["status"]]
		// "UP 1/3" and "DOWN 1/2" are transitions; keep the state word.
		status, _, _ = strings.Cut(status, " ")
		row := checkRow{status, r[col["check_status"]], r[col["check_code"]], r[col["last_chk"]]}
		rows[r[0]] = row
		rows[r[0]+"/"+r[1]] = row
	}
	return rows
}

// TestExternalCheckMatchesHAProxy: option external-check run by HAProxy 2.6 and by
// hitless on the same scripts: the statuses and codes of a passing, a failing (exit
// 3) and a slow (killed at timeout check) program, and the arguments and environment
// the program received.
func TestExternalCheckMatchesHAProxy(t *testing.T) {
	hx := haproxy(t)
	run := func(useHAProxy bool) (map[string]checkRow, string) {
		dir := t.TempDir()
		script := func(name, body string) string {
			p := dir + "/" + name
			if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}
		// Written aside and renamed, so that the test never reads a file being written.
		ok := script("ok.sh", "{ echo \"$@\"; env | grep -v '^PWD=' | sort; } > "+dir+"/seen.tmp; mv "+dir+"/seen.tmp "+dir+"/seen.txt; exit 0")
		bad := script("bad.sh", "exit 3")
		slow := script("slow.sh", "/bin/sleep 5")
		sock := dir + "/s.sock"
		fe := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := fmt.Sprintf(`global
    external-check
    insecure-fork-wanted
    stats socket %s level admin
defaults
    timeout connect 1s
    timeout client 1s
    timeout server 1s
    timeout check 500ms
listen l
    bind %s
    option external-check
    external-check path "/usr/bin:/bin"
    external-check command %s
    server s1 127.0.0.1:7777 check inter 1s rise 1 fall 1 maxconn 9
backend bad
    option external-check
    external-check command %s
    server s1 127.0.0.1:7778 check inter 1s rise 1 fall 1
backend slow
    option external-check
    external-check command %s
    server s1 127.0.0.1:7779 check inter 1s rise 1 fall 1
`, sock, fe, ok, bad, slow)
		runEither(t, useHAProxy, hx, cfg, fe)
		rows := map[string]checkRow{}
		waitFor(8*time.Second, func() bool {
			for name, row := range statRows(t, sock) {
				if _, seen := rows[name]; !seen && !strings.Contains(name, "/") && row.check != "" && row.check != "INI" && !strings.HasPrefix(row.check, "* ") {
					rows[name] = row
				}
			}
			return len(rows) == 3
		})
		seen, _ := os.ReadFile(dir + "/seen.txt")
		return rows, strings.ReplaceAll(string(seen), dir, "DIR")
	}
	hr, hseen := run(true)
	or, oseen := run(false)
	want := map[string]checkRow{"l": {"UP", "PROCOK", "0", ""}, "bad": {"DOWN", "PROCERR", "3", ""}, "slow": {"DOWN", "PROCTOUT", "0", ""}}
	for n, w := range want {
		if hr[n] != w {
			t.Errorf("%s: haproxy %+v, expected %+v", n, hr[n], w)
		}
	}
	for _, n := range []string{"l", "bad", "slow"} {
		if hr[n] != or[n] {
			t.Errorf("%s: hitless %+v, haproxy %+v", n, or[n], hr[n])
		}
	}
	// The frontend port differs between the runs.
	mask := func(s string) string {
		f := strings.Fields(s)
		for i, w := range f {
			if _, err := strconv.Atoi(w); err == nil && len(w) >= 4 && w != "7777" {
				f[i] = "PORT"
			}
			if strings.HasPrefix(w, "HAPROXY_PROXY_PORT=") {
				f[i] = "HAPROXY_PROXY_PORT=PORT"
			}
			// The connections of the moment: a probe of the listener may hold one.
			if strings.HasPrefix(w, "HAPROXY_SERVER_CURCONN=") {
				f[i] = "HAPROXY_SERVER_CURCONN=N"
			}
		}
		return strings.Join(f, " ")
	}
	if mask(hseen) != mask(oseen) || hseen == "" {
		t.Errorf("the program saw\nhitless: %s\nhaproxy: %s", oseen, hseen)
	}
}

// runHAProxy runs HAProxy in the foreground on cfg until the test ends.
func runHAProxy(t *testing.T, hx, cfg string) {
	t.Helper()
	cmd := exec.Command(hx, "-f", writeConfig(t, cfg), "-db")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// runEither runs cfg under HAProxy or hitless and waits until fe accepts.
func runEither(t *testing.T, useHAProxy bool, hx, cfg, fe string) {
	t.Helper()
	if useHAProxy {
		runHAProxy(t, hx, cfg)
	} else {
		startHitless(t, cfg)
	}
	if !waitAccept(fe, 5*time.Second, nil) {
		t.Fatal("no listener")
	}
}

// statTable reads `show stat` as CSV records (the header first) and the column
// numbers by name; nil when it cannot.
func statTable(t *testing.T, sock string) ([][]string, map[string]int) {
	out := socketCommand(t, sock, "show stat")
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# "))).ReadAll()
	if err != nil || len(recs) < 2 {
		return nil, nil
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	return recs, col
}
