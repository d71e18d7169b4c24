package e2e

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"hitless/internal/golden"
)

// cliConfig is run by HAProxy 2.6 and by hitless alike: an HTTP frontend routing to a
// good backend and to one whose server answers garbage, and a TCP listen section.
const cliConfig = `
global
    stats socket %[1]s mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %[2]s
    acl bad path_beg /bad
    use_backend broken if bad
    default_backend be
backend be
    server a %[3]s
    server b %[4]s weight 50
backend broken
    server x %[5]s
listen tl
    mode tcp
    bind %[6]s
    server t %[7]s
`

// cliOutputs are the answers compared between HAProxy and hitless.
type cliOutputs struct {
	help, info, stat, state, errors string
	typed, json, infoTyped          string
	ports                           []string // the configured ports, masked in goldens
}

// captureCLI starts HAProxy or hitless on cliConfig, sends the same traffic and
// collects the answers of the runtime API.
func captureCLI(t *testing.T, useHAProxy bool) cliOutputs {
	t.Helper()
	a, b := newBackend(t, "a", nil), newBackend(t, "b", nil)
	garbage := serveTCP(t, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 4096)
		c.Read(buf)
		io.WriteString(c, "HTTP/1.1 2x0 OK\r\nContent Length: 2\r\n\r\nok")
		time.Sleep(100 * time.Millisecond)
	})
	echo := serveTCP(t, func(c net.Conn) { defer c.Close(); io.Copy(c, c) })
	dir := t.TempDir()
	sock := dir + "/s.sock"
	fe, tl := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	text := fmt.Sprintf(cliConfig, sock, fe, a.addr, b.addr, garbage, tl, echo)
	if useHAProxy {
		path := writeConfig(t, text)
		pidfile := dir + "/h.pid"
		if out, err := exec.Command(haproxy(t), "-f", path, "-p", pidfile, "-D").CombinedOutput(); err != nil {
			t.Fatalf("haproxy: %v %s", err, out)
		}
		raw, _ := os.ReadFile(pidfile)
		var pid int
		fmt.Sscan(string(raw), &pid)
		t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
		if !waitAccept(fe, 5*time.Second, nil) {
			t.Fatal("haproxy did not listen")
		}
		waitSocket(t, sock) // as for hitless: one probe connection on the socket too
	} else {
		startHitless(t, text, fe) // like HAProxy's: one probe connection, on fe
		waitSocket(t, sock)
	}
	for i := 0; i < 2; i++ {
		get(t, "http://"+fe+"/")
	}
	rawExchange(t, fe, "GET /bad HTTP/1.1\r\nHost: x\r\n\r\n", time.Second)
	rawExchange(t, fe, "GET /abc HTTP/1.1\r\nHo st: x\r\n\r\n", time.Second)
	if got := rawExchange(t, tl, "hello", 300*time.Millisecond); got != "hello" {
		t.Fatalf("tcp echo: %q", got)
	}
	time.Sleep(300 * time.Millisecond) // let every session end
	out := cliOutputs{ports: []string{port(fe), port(tl), port(a.addr), port(b.addr), port(garbage), port(echo)}}
	out.help = socketCommand(t, sock, "help")
	out.info = socketCommand(t, sock, "show info")
	out.infoTyped = socketCommand(t, sock, "show info typed")
	out.stat = socketCommand(t, sock, "show stat")
	out.typed = socketCommand(t, sock, "show stat typed")
	out.json = socketCommand(t, sock, "show stat json")
	out.state = socketCommand(t, sock, "show servers state")
	out.errors = socketCommand(t, sock, "show errors")
	return out
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// statDiffers lists the columns whose values differ by design: HAProxy's per-mux
// counts (h1_*) and its estimate of needed connections, which hitless leaves empty,
// and the idle-connection pool's counts (hitless pools for any request).
var statDiffers = regexp.MustCompile(`^(h1_.*|srv_icur|idle_conn_cur|safe_conn_cur|used_conn_cur|need_conn_est)$`)

// statSame lists the columns whose values must be equal after the same traffic.
// connect and reuse differ by design: hitless reuses an idle server connection for
// any request, HAProxy's default `http-reuse safe` never for the first request of a
// client connection. smax depends on how fast each side ends a session.
var statSame = regexp.MustCompile(`^(pxname|svname|qcur|qmax|scur|stot|dreq|dresp|ereq|econ|eresp|wretr|wredis|status|weight|act|bck|pid|iid|sid|lbtot|type|hrsp_.*|req_tot|cli_abrt|srv_abrt|comp_.*|check_.*|mode|algo|conn_tot|intercepted|dcon|dses|wrew|cache_.*|eint|uweight|agg_.*|-|ssl_.*|h2_.*|addr|cookie|throttle|tracked|qlimit|rate_lim|slim)$`)

// TestRuntimeAPIOutputsMatchHAProxy runs HAProxy 2.6 and hitless on the same
// configuration with the same traffic and compares what clients parse: the help lines
// hitless has appear in HAProxy's, in the same order; `show info` names are
// HAProxy's, in its order; `show stat` has the same header, rows, filled columns and
// values (bar timings and byte counts); `show servers state` and `show errors` are
// the same bar times, ports and HAProxy's two lines of H1 parser flags. hitless's own
// answers are kept as golden files (ports masked).
func TestRuntimeAPIOutputsMatchHAProxy(t *testing.T) {
	haproxy(t)
	hx, hl := captureCLI(t, true), captureCLI(t, false)

	// help
	hxHelp := strings.Split(hx.help, "\n")
	last := -1
	for _, l := range strings.Split(strings.TrimSpace(hl.help), "\n") {
		i := slices.Index(hxHelp, l)
		if i < 0 || i < last {
			t.Errorf("help line %q is not in HAProxy's help at its place", l)
		}
		last = i
	}
	golden.Check(t, "help.golden", hl.help)

	// show info: every field of HAProxy's, in its order.
	names := func(s string) []string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if n, _, ok := strings.Cut(l, ": "); ok {
				out = append(out, n)
			}
		}
		return out
	}
	hxNames, i := names(hx.info), 0
	for _, n := range names(hl.info) {
		for i < len(hxNames) && hxNames[i] != n {
			i++
		}
		if i == len(hxNames) {
			t.Errorf("show info field %q is not in HAProxy's, or out of its order", n)
			break
		}
	}
	if !slices.Equal(names(hl.info), hxNames) {
		t.Errorf("show info fields:\nHAProxy %q\nhitless %q", hxNames, names(hl.info))
	}
	golden.Check(t, "show_info_fields.golden", strings.Join(names(hl.info), "\n")+"\n")
	// Values that the same traffic makes equal.
	values := func(s string) map[string]string {
		out := map[string]string{}
		for _, l := range strings.Split(s, "\n") {
			if n, v, ok := strings.Cut(l, ": "); ok {
				out[n] = v
			}
		}
		return out
	}
	hxVals, hlVals := values(hx.info), values(hl.info)
	for _, n := range []string{"Nbproc", "Process_num", "CurrConns", "CumReq", "MaxSslConns", "CurrSslConns", "CumSslConns", "Stopping", "Jobs", "Listeners",
		"Memmax_MB", "PoolFailed", "Maxpipes", "PipesUsed", "PipesFree", "ConnRateLimit", "SessRateLimit", "SslRate", "SslRateLimit", "MaxSslRate",
		"SslFrontendKeyRate", "SslFrontendMaxKeyRate", "SslFrontendSessionReuse_pct", "SslBackendKeyRate", "SslBackendMaxKeyRate", "SslCacheLookups",
		"SslCacheMisses", "Maxconn", "Nbthread", "CompressBpsIn", "CompressBpsOut", "CompressBpsRateLim", "Unstoppable Jobs", "ActivePeers", "ConnectedPeers", "DroppedLogs",
		"BusyPolling", "FailedResolutions", "TotalSplicdedBytesOut", "DebugCommandsIssued", "CumRecvLogs", "Memmax_bytes", "Tainted"} {
		if hxVals[n] != hlVals[n] {
			t.Errorf("show info %s: HAProxy %q, hitless %q", n, hxVals[n], hlVals[n])
		}
	}
	// show info typed: each of hitless's lines has HAProxy's position, tags and type.
	hxInfo := map[string]bool{}
	for _, l := range strings.Split(hx.infoTyped, "\n") {
		if f := strings.SplitN(l, ":", 3); len(f) == 3 {
			hxInfo[f[0]+":"+f[1]+":"+strings.SplitN(f[2], ":", 2)[0]] = true
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(hl.infoTyped), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 || !hxInfo[f[0]+":"+f[1]+":"+strings.SplitN(f[2], ":", 2)[0]] {
			t.Errorf("show info typed line %q has no match in HAProxy's", l)
		}
	}

	// show stat
	hxRows, hlRows := parseStat(t, hx.stat), parseStat(t, hl.stat)
	if !slices.Equal(hxRows[0], hlRows[0]) {
		t.Fatalf("show stat headers differ:\n%q\n%q", hxRows[0], hlRows[0])
	}
	header := hxRows[0]
	if len(hxRows) != len(hlRows) {
		t.Fatalf("show stat: %d rows from HAProxy, %d from hitless", len(hxRows), len(hlRows))
	}
	for r := 1; r < len(hxRows); r++ {
		x, l := hxRows[r], hlRows[r]
		row := x[0] + "/" + x[1]
		for c, name := range header {
			switch {
			case statDiffers.MatchString(name):
			case (x[c] == "") != (l[c] == ""):
				t.Errorf("%s %s: HAProxy %q, hitless %q", row, name, x[c], l[c])
			case statSame.MatchString(name) && !sameStat(name, x[c], l[c], hx.ports, hl.ports):
				t.Errorf("%s %s: HAProxy %q, hitless %q", row, name, x[c], l[c])
			}
		}
	}
	golden.Check(t, "show_stat.golden", maskStat(hl.stat, header, hl.ports))

	// show stat typed: the same lines (tags and types included) bar the columns
	// hitless leaves empty; values as for the CSV.
	typedLines := func(s string) map[string][2]string {
		out := map[string][2]string{}
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			f := strings.SplitN(l, ":", 4)
			key := strings.Split(f[0], ".")
			if len(f) != 4 || len(key) != 6 || statDiffers.MatchString(key[4]) {
				continue
			}
			out[f[0]] = [2]string{f[1] + ":" + f[2], f[3]}
		}
		return out
	}
	hxTyped, hlTyped := typedLines(hx.typed), typedLines(hl.typed)
	if len(hxTyped) != len(hlTyped) {
		t.Errorf("show stat typed: %d lines from HAProxy, %d from hitless", len(hxTyped), len(hlTyped))
	}
	for k, x := range hxTyped {
		l, ok := hlTyped[k]
		name := strings.Split(k, ".")[4]
		switch {
		case !ok:
			t.Errorf("show stat typed: no %s from hitless", k)
		case x[0] != l[0]:
			t.Errorf("show stat typed %s: HAProxy %s, hitless %s", k, x[0], l[0])
		case statSame.MatchString(name) && !sameStat(name, x[1], l[1], hx.ports, hl.ports):
			t.Errorf("show stat typed %s: HAProxy %q, hitless %q", k, x[1], l[1])
		}
	}

	// show stat json: the same objects, bar values that are not compared above.
	type jsonField struct {
		ObjType string
		ProxyID int
		ID      int
		Field   struct {
			Pos  int
			Name string
		}
		ProcessNum int
		Tags       struct{ Origin, Nature, Scope string }
		Value      struct {
			Type  string
			Value any
		}
	}
	jsonRows := func(s string) (keep [][]jsonField) {
		var rows [][]jsonField
		if err := json.Unmarshal([]byte(s), &rows); err != nil {
			t.Fatalf("show stat json: %v\n%s", err, s)
		}
		for _, r := range rows {
			var k []jsonField
			for _, f := range r {
				if statDiffers.MatchString(f.Field.Name) {
					continue
				}
				if !statSame.MatchString(f.Field.Name) || f.Field.Name == "addr" {
					f.Value.Value = nil
				}
				k = append(k, f)
			}
			keep = append(keep, k)
		}
		return keep
	}
	x, l := jsonRows(hx.json), jsonRows(hl.json)
	if len(x) != len(l) {
		t.Fatalf("show stat json: %d rows from HAProxy, %d from hitless", len(x), len(l))
	}
	for i := range x {
		for j := 0; j < max(len(x[i]), len(l[i])); j++ {
			if j >= len(x[i]) || j >= len(l[i]) || !reflect.DeepEqual(x[i][j], l[i][j]) {
				t.Errorf("show stat json, row %d, field %d:\nHAProxy: %+v\nhitless: %+v", i, j, x[i][min(j, len(x[i])-1)], l[i][min(j, len(l[i])-1)])
				break
			}
		}
	}

	// show servers state: the 10th column is seconds since the last change.
	maskState := func(s string, ports []string) string {
		lines := strings.Split(s, "\n")
		for i, l := range lines {
			f := strings.Fields(l)
			if len(f) >= 20 && f[0] != "#" {
				f[9] = "*"
				lines[i] = strings.Join(f, " ")
			}
		}
		return maskPorts(strings.Join(lines, "\n"), ports)
	}
	if maskState(hx.state, hx.ports) != maskState(hl.state, hl.ports) {
		t.Errorf("show servers state:\nHAProxy:\n%s\nhitless:\n%s", hx.state, hl.state)
	}
	golden.Check(t, "show_servers_state.golden", maskState(hl.state, hl.ports))

	// show errors
	maskErrors := func(s string, ports []string) string {
		s = regexp.MustCompile(`\[\d\d/\w+/\d{4}:[\d:.]+\]`).ReplaceAllString(s, "[*]")
		s = regexp.MustCompile(`src 127\.0\.0\.1:\d+`).ReplaceAllString(s, "src 127.0.0.1:*")
		s = regexp.MustCompile(`(?m)^  H1 (connection|msg state).*\n`).ReplaceAllString(s, "")
		return maskPorts(s, ports)
	}
	if maskErrors(hx.errors, hx.ports) != maskErrors(hl.errors, hl.ports) {
		t.Errorf("show errors:\nHAProxy:\n%s\nhitless:\n%s", hx.errors, hl.errors)
	}
	golden.Check(t, "show_errors.golden", maskErrors(hl.errors, hl.ports))
}

func parseStat(t *testing.T, s string) [][]string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(s, "# ")))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("show stat: %v\n%s", err, s)
	}
	return rows
}

// sameStat compares one value, ports in addr by their place in the configuration.
// slim derives from the file-descriptor limit and the thread count as in HAProxy:
// equal when both run as many threads (hitless: GOMAXPROCS, HAProxy: the CPUs).
func sameStat(name, x, l string, xPorts, lPorts []string) bool {
	if name == "addr" {
		return maskPorts(x, xPorts) == maskPorts(l, lPorts)
	}
	return x == l
}

// maskPorts replaces each configured port by its place in the list.
func maskPorts(s string, ports []string) string {
	for i, p := range ports {
		s = regexp.MustCompile(`\b`+p+`\b`).ReplaceAllString(s, fmt.Sprintf("<port%d>", i))
	}
	return s
}

// maskStat replaces the columns that depend on time or the machine by "*".
func maskStat(s string, header []string, ports []string) string {
	volatile := regexp.MustCompile(`^(smax|lastchg|downtime|lastsess|rate|rate_max|req_rate|req_rate_max|conn_rate|conn_rate_max|qtime|ctime|rtime|ttime|qtime_max|ctime_max|rtime_max|ttime_max|check_duration|slim|bin|bout)$`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		f := strings.Split(l, ",")
		for c := range f {
			if c < len(header) && volatile.MatchString(header[c]) && f[c] != "" {
				f[c] = "*"
			}
		}
		lines[i] = strings.Join(f, ",")
	}
	return maskPorts(strings.Join(lines, "\n"), ports)
}
