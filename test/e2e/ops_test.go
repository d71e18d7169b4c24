package e2e

import (
	"bufio"
	"context"
	"fmt"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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

// sideHeader starts the configurations of startSide: the stats socket, the syslog
// target, and mode http with logs in defaults.
const sideHeader = `
global
    stats socket %[1]s mode 600 level admin
    log %[2]s local0
defaults
    mode http
    log global
`

// stateConfig has a checked server that passes, a checked one that fails, one
// without checks, one `disabled`, and a backend with a single server.
const stateConfig = sideHeader + `
    timeout connect 1s
    timeout client 5s
    timeout server 5s
` + stateProxies

// stateProxies are the proxies of stateConfig.
const stateProxies = `
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
			// A check that is running (srv_check_state's CHK_ST_INPROGRESS bit, with
			// srv_check_result unknown until it ends) depends on the moment of the
			// dump on either side: both are masked.
			if st, err := strconv.Atoi(f[13]); err == nil {
				f[13] = strconv.Itoa(st &^ 1)
			}
			f[11] = "*"
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
			if name == "check_status" {
				// "* " marks a check running at the moment of the dump.
				x[c], l[c] = strings.TrimPrefix(x[c], "* "), strings.TrimPrefix(l[c], "* ")
			}
			switch {
			case name == "last_chk":
				// Empty on HAProxy while a check runs; compared through check_status.
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
const retryConfig = sideHeader + `
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
	// Sorted: a line may be sent after the next request's, when its response went
	// out first.
	x, l := accessLines(sides[0], true), accessLines(sides[1], true)
	slices.Sort(x)
	slices.Sort(l)
	if !slices.Equal(x, l) {
		t.Errorf("access log lines:\nHAProxy:\n%s\nhitless:\n%s", strings.Join(x, "\n"), strings.Join(l, "\n"))
	}
	stats := func(s *side) string {
		return s.cli(t, "show stat -1 6 -1") // backends and servers
	}
	compareStatRows(t, "after the requests", stats(sides[0]), stats(sides[1]), nil, nil)
}

// accessLines are the side's access log lines with the client port, the date and
// the timers' values and the connection counts masked (which timers are -1 is
// kept). Without overlap (each client waited for the end of the previous
// connection) hitless's beconn and srv_conn must read 0.
func accessLines(s *side, overlap bool) []string {
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
		// actconn and feconn depend on when each side sees the previous connection
		// end; with overlap, beconn and srv_conn too (a line is logged after its
		// response went out, when the client may have sent the next request).
		// HAProxy's beconn and srv_conn sometimes still count the stream being logged
		// (its threads), even when the client waits for the end; hitless's must
		// then be 0/0.
		conns := regexp.MustCompile(` (\d+)/(\d+)/(\d+)/(\d+)/(\+?\d+) `)
		if c := conns.FindStringSubmatch(m[3]); !overlap && c != nil && (c[3] != "0" || c[4] != "0") && strings.Contains(l, "hitless[") {
			out = append(out, "beconn/srv_conn not 0/0: "+l)
		}
		rest := conns.ReplaceAllString(m[3], " a/f/b/s/$5 ")
		out = append(out, m[1]+" "+timers+" "+rest)
	}
	return out
}

// htxCounted is the size HAProxy 2.6 counts for a response in bout and %B (its HTX
// form), from the bytes a client received: a 20-byte start-line record plus the
// version, status and reason; each header's name and value, the connection header
// aside; one byte for the end of the head; the body's data without chunk framing.
func htxCounted(t *testing.T, raw string) int {
	t.Helper()
	head, body, ok := strings.Cut(raw, "\r\n\r\n")
	if !ok {
		t.Fatalf("no head in %q", raw)
	}
	lines := strings.Split(head, "\r\n")
	n := 20 + len(lines[0]) - 2 + 1 // the start line without its two spaces
	chunked := false
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ":")
		value = strings.TrimSpace(value)
		if strings.EqualFold(name, "connection") {
			continue
		}
		chunked = chunked || strings.EqualFold(name, "transfer-encoding") && value == "chunked"
		n += len(name) + len(value)
	}
	if !chunked {
		return n + len(body)
	}
	for {
		size, rest, ok := strings.Cut(body, "\r\n")
		k, err := strconv.ParseInt(size, 16, 64)
		if !ok || err != nil || k == 0 {
			return n
		}
		n += int(k)
		body = rest[k+2:]
	}
}

// appletConfig answers from the proxy itself: the Prometheus exporter in the
// frontend, the stats page in a backend, and an `http-request return`.
const appletConfig = sideHeader + `
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %[3]s
    http-request use-service prometheus-exporter if { path /metrics }
    http-request return status 200 content-type text/plain string ok if { path /ret }
    default_backend st
backend st
    stats enable
    stats uri /st
`

// TestAppletCountersMatchHAProxy: what the proxy answers itself (stats page,
// exporter, http-request return) counts as in HAProxy 2.6: bout holds every byte the
// client received, intercepted and the response classes match, on the frontend and
// on the backend that served the stats page.
func TestAppletCountersMatchHAProxy(t *testing.T) {
	haproxy(t)
	sides := []*side{startSide(t, true, appletConfig), startSide(t, false, appletConfig)}
	for _, s := range sides {
		received := 0
		for _, path := range []string{"/metrics", "/st", "/st;csv", "/ret", "/metrics"} {
			out := rawExchange(t, s.fe, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3*time.Second)
			if statusOf(out) != "200" {
				t.Fatalf("%s: GET %s: %q", s.name, path, out)
			}
			received += htxCounted(t, out)
		}
		time.Sleep(100 * time.Millisecond)
		rows := parseStat(t, s.cli(t, "show stat"))
		for _, r := range rows[1:] {
			if r[1] != "FRONTEND" {
				continue
			}
			if r[9] != strconv.Itoa(received) {
				t.Errorf("%s: frontend bout %s, the responses count %d bytes as HAProxy counts them", s.name, r[9], received)
			}
		}
	}
	pick := func(s *side) string {
		var out []string
		rows := parseStat(t, s.cli(t, "show stat"))
		for _, r := range rows[1:] {
			for c, name := range rows[0] {
				if c < len(r) && regexp.MustCompile(`^(stot|intercepted|hrsp_\dxx|req_tot|lbtot|connect|cache_lookups)$`).MatchString(name) {
					out = append(out, r[0]+"/"+r[1]+" "+name+"="+r[c])
				}
			}
		}
		return strings.Join(out, "\n")
	}
	if x, l := pick(sides[0]), pick(sides[1]); x != l {
		t.Errorf("counters:\nHAProxy:\n%s\nhitless:\n%s", x, l)
	}
}

// logConfig is an httplog frontend in front of a server that answers by path.
const logConfig = sideHeader + `
    option httplog
    timeout connect 1s
    timeout client 2s
    timeout server 5s
frontend fe
    bind %[3]s
    http-request deny if { path_beg /deny }
    default_backend be
backend be
    server s1 %[4]s
`

// TestHTTPLogMatchesHAProxy sends the same requests through HAProxy 2.6 and hitless,
// each on a connection of its own, and compares the httplog lines word for word but
// for the client port, the date and the timers' values: proxied answers (keep-alive,
// HTTP/1.0, HEAD, a body, chunked, a 404), a denied request, a malformed request, a
// client that closes in the middle of its request and one that sends nothing.
func TestHTTPLogMatchesHAProxy(t *testing.T) {
	haproxy(t)
	srv := newBackend(t, "s1", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/404":
			http.NotFound(w, r)
		case "/chunked":
			w.Write([]byte("part one, "))
			w.(http.Flusher).Flush()
			w.Write([]byte("part two"))
		default:
			w.Header().Set("X-Backend", "s1")
			io.WriteString(w, "served by s1")
		}
	})
	sides := []*side{startSide(t, true, logConfig, srv.addr), startSide(t, false, logConfig, srv.addr)}
	exchanges := []string{
		// Two requests on one connection, the second after the first's answer.
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00GET /again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /ten HTTP/1.0\r\nHost: x\r\n\r\n",
		"HEAD /head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world",
		"GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /404 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /deny HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHo st: x\r\n\r\n",
		"GET /half HTTP/1.1\r\nHost:",
	}
	for _, s := range sides {
		for _, ex := range exchanges {
			c, err := net.Dial("tcp", s.fe)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(3 * time.Second))
			br := bufio.NewReader(c)
			first, last, keep := strings.Cut(ex, "\x00")
			if keep {
				io.WriteString(c, first)
				if resp, err := http.ReadResponse(br, nil); err == nil {
					io.Copy(io.Discard, resp.Body)
				}
				ex = last
			}
			io.WriteString(c, ex)
			if strings.HasSuffix(ex, "Host:") {
				c.(*net.TCPConn).CloseWrite() // closes in the middle of its request
			}
			io.Copy(io.Discard, br)
			c.Close()
		}
	}
	time.Sleep(300 * time.Millisecond)
	x, l := accessLines(sides[0], false), accessLines(sides[1], false)
	slices.Sort(x)
	slices.Sort(l)
	if !slices.Equal(x, l) {
		t.Errorf("access log lines:\nHAProxy:\n%s\nhitless:\n%s", strings.Join(x, "\n"), strings.Join(l, "\n"))
	}
	if len(l) < len(exchanges)+1 {
		t.Errorf("%d lines for %d requests", len(l), len(exchanges)+1)
	}
}

// TestServerCommandErrorsMatchHAProxy: the error answers of the server commands are
// HAProxy 2.6's byte for byte, line ends included (two of set weight's messages have
// no line end of their own, so no empty line follows them).
func TestServerCommandErrorsMatchHAProxy(t *testing.T) {
	haproxy(t)
	up := newBackend(t, "up", nil)
	dead := refusingAddr(t)
	sides := []*side{startSide(t, true, stateConfig, up.addr, dead), startSide(t, false, stateConfig, up.addr, dead)}
	for _, cmd := range []string{
		"set weight be/up abc", "set weight be/up 5x", "set weight be/up 300", "set weight be/up -5%", "set weight be/up",
		"set weight be/nosuch 1", "get weight nosuch/up", "set server be/up", "set server be/up state foo",
		"set server be/up health foo", "set server be/up weight abc", "set weight be/up abc;get weight be/up",
	} {
		if x, l := sides[0].cli(t, cmd), sides[1].cli(t, cmd); x != l {
			t.Errorf("%s:\nHAProxy %q\nhitless %q", cmd, x, l)
		}
	}
}

// TestCheckVerboseAlertsMatchHAProxy: with -V, `-c` reports errors in HAProxy 2.6's
// form, which scripts parse: one "[ALERT]    (PID) : config : parsing [FILE:LINE] :"
// line per error at the same places as HAProxy's, then the same closing lines.
func TestCheckVerboseAlertsMatchHAProxy(t *testing.T) {
	hx := haproxy(t)
	path := writeConfig(t, `
global
    bogus 1
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind 127.0.0.1:1
    frobnicate x
    default_backend be
backend be
    balance nosuch
    server s 127.0.0.1:1 weight 1000
`)
	out, _ := exec.Command(hx, "-c", "-V", "-f", path).CombinedOutput()
	_, lerr, code := runHitless(t, "-c", "-V", "-f", path)
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, lerr)
	}
	alert := regexp.MustCompile(`(?m)^\[ALERT\]    \(\d+\) : config : (?:parsing )?\[([^]]+)\] : `)
	places := func(s string) (out []string) {
		for _, m := range alert.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		return out
	}
	if x, l := places(string(out)), places(lerr); len(x) != 4 || !slices.Equal(x, l) {
		t.Errorf("error places: HAProxy %q, hitless %q\n%s", x, l, lerr)
	}
	closing := regexp.MustCompile(`(?m)^\[ALERT\]    \(\d+\) : config : ((Error\(s\) found in configuration file|Fatal errors found in configuration).*)$`)
	tail := func(s string) (out []string) {
		for _, m := range closing.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		return out
	}
	if x, l := tail(string(out)), tail(lerr); len(x) != 2 || !slices.Equal(x, l) {
		t.Errorf("closing lines: HAProxy %q, hitless %q", x, l)
	}
}

// pageConfig has a stats page in front of a backend of four servers, one failing its
// checks and one backup without checks.
const pageConfig = sideHeader + `
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend www
    bind %[3]s
    stats uri /stats
    stats admin if { src 127.0.0.1 }
    stats show-node
    default_backend app
backend app
    server app1 %[4]s check inter 500
    server app2 %[4]s check inter 500
    server app3 %[5]s check inter 500
    server app4 %[4]s backup
`

// TestStatsPageFitsLikeHAProxys shoots the stats pages of HAProxy 2.6 and hitless
// with headless Chromium at 1,400 and 1,100 pixels wide: where HAProxy's page fits,
// hitless's does too (its rightmost painted column stays off the window's edge).
func TestStatsPageFitsLikeHAProxys(t *testing.T) {
	haproxy(t)
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (.ci/run installs Debian's package)")
	}
	up := newBackend(t, "up", nil)
	dead := refusingAddr(t)
	sides := []*side{startSide(t, true, pageConfig, up.addr, dead), startSide(t, false, pageConfig, up.addr, dead)}
	for _, s := range sides {
		for range 3 {
			get(t, "http://"+s.fe+"/")
		}
	}
	time.Sleep(600 * time.Millisecond) // a check or two
	for _, width := range []int{1400, 1100} {
		for _, s := range sides {
			shot := filepath.Join(t.TempDir(), "page.png")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			out, err := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
				fmt.Sprintf("--window-size=%d,900", width), "--screenshot="+shot, "http://"+s.fe+"/stats").CombinedOutput()
			cancel()
			if err != nil {
				t.Fatalf("chromium: %v\n%s", err, out)
			}
			if right := rightmostPainted(t, shot); right >= width-1 {
				t.Errorf("%s's page at %d px: painted up to column %d, cut off at the edge", s.name, width, right)
			}
		}
	}
}

// rightmostPainted is the rightmost pixel column of a PNG with a non-white pixel.
func rightmostPainted(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	for x := b.Max.X - 1; x >= b.Min.X; x-- {
		for y := b.Min.Y; y < b.Max.Y; y++ {
			if r, g, bl, _ := img.At(x, y).RGBA(); r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				return x
			}
		}
	}
	return -1
}

// stateCarryConfig is stateConfig reading its servers' state from a file at start-up.
const stateCarryConfig = `
global
    stats socket %[1]s mode 600 level admin
    log %[2]s local0
    server-state-file %[6]s
defaults
    mode http
    log global
    load-server-state-from-file global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
` + stateProxies

// TestStateFilesCarryOverBetweenHAProxyAndHitless: a `show servers state` dump taken
// from HAProxy 2.6 after admin changes, loaded by hitless at start-up as a
// server-state-file, gives the same op states, admin flags and weights, and the other
// way round.
func TestStateFilesCarryOverBetweenHAProxyAndHitless(t *testing.T) {
	haproxy(t)
	up := newBackend(t, "up", nil)
	dead := refusingAddr(t)
	changes := "set server be/up state maint;set server be/plain state drain;set server be/off state ready;set weight solo/only 7;set server solo/only health down"
	// columns 6-9: srv_op_state srv_admin_state srv_uweight srv_iweight
	core := func(state string) string {
		var out []string
		for _, l := range strings.Split(state, "\n") {
			if f := strings.Fields(l); len(f) >= 20 && f[0] != "#" {
				out = append(out, strings.Join(append(f[1:2:2], append(f[3:4], f[5:9]...)...), " "))
			}
		}
		return strings.Join(out, "\n")
	}
	for _, from := range []bool{true, false} {
		file := filepath.Join(t.TempDir(), "state")
		os.WriteFile(file, []byte("1\n"), 0o600)
		src := startSide(t, from, stateCarryConfig, up.addr, dead, file)
		src.cli(t, changes)
		dump := src.cli(t, "show servers state")
		if err := os.WriteFile(file, []byte(dump), 0o600); err != nil {
			t.Fatal(err)
		}
		dst := startSide(t, !from, stateCarryConfig, up.addr, dead, file)
		if x, l := core(dump), core(dst.cli(t, "show servers state")); x != l || len(x) == 0 {
			t.Errorf("%s's state loaded by %s:\nwritten:\n%s\nloaded:\n%s\n%s", src.name, dst.name, x, l, dst.stderr.String())
		}
	}
}
