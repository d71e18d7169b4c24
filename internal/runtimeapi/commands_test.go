package runtimeapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"hitless/internal/stats"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"hitless/internal/config"
	"hitless/internal/golden"
	"hitless/internal/proxy"
)

func buildState(t *testing.T, text string) *proxy.State {
	t.Helper()
	cfg, err := config.LoadBytes("t.cfg", []byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := proxy.Build(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSetServerAddr replays a session captured from HAProxy 2.6.12 on a server
// declared as 127.0.0.1:28091: every answer, in order.
func TestSetServerAddr(t *testing.T) {
	st := buildState(t, "backend b\n server s1 127.0.0.1:28091\n")
	cmds := ServerCommands(st, map[string]int{"b": 4})
	steps := []step{
		{LevelAdmin, "set server b/s1 addr 127.0.0.2", "IP changed from '127.0.0.1' to '127.0.0.2' by 'stats socket command'\n"},
		{LevelAdmin, "set server b/s1 addr 127.0.0.2 port 28095", "no need to change the addr, port changed from '28091' to '28095' by 'stats socket command'\n"},
		{LevelAdmin, "set server b/s1 addr 127.0.0.2 port 28095", "no need to change the addr, no need to change the port by 'stats socket command'\n"},
		{LevelAdmin, "set server b/s1 addr 127.0.0.1", "IP changed from '127.0.0.2' to '127.0.0.1' by 'stats socket command'\n"},
		{LevelAdmin, "set server b/s1 addr", "set server <b>/<s> addr requires an address and optionally a port.\n"},
		{LevelAdmin, "set server b/s1 addr foo", "Invalid addr 'foo' by 'stats socket command'\n"},
		{LevelAdmin, "set server b/s1 addr 127.0.0.1 port", "no need to change the addr, problem converting port '' to an int by 'stats socket command'\n"},
		{LevelAdmin, "set server b/s1 addr 127.0.0.1 port abc", "no need to change the addr, problem converting port 'abc' to an int by 'stats socket command'\n"},
		{LevelAdmin, "set server b/s1 addr 127.0.0.1 port 70000", "no need to change the addr, port changed from '28095' to '4464' by 'stats socket command'\n"},
		{LevelAdmin, "set server b/s1 addr ::1 port 28091", "IP changed from '127.0.0.1' to '::1', port changed from '4464' to '28091' by 'stats socket command'\n"},
		{LevelAdmin, "set server b/s1 addr 127.0.0.1 port 28091", "IP changed from '::1' to '127.0.0.1', no need to change the port by 'stats socket command'\n"},
		{LevelAdmin, "set server b/s1 addr 127.0.0.1 junk", "no need to change the addr by 'stats socket command'\n"},
		{LevelAdmin, "set server b/s1 addr 10.1.2.3 port 8080", "IP changed from '127.0.0.1' to '10.1.2.3', port changed from '28091' to '8080' by 'stats socket command'\n"},
	}
	runSteps(t, cmds, steps)
	srv := st.Backends["b"].Servers[0]
	if srv.Addr() != "10.1.2.3:8080" {
		t.Fatalf("address %s", srv.Addr())
	}
	state := runCmd(t, cmds, LevelUser, "show servers state b")
	if !strings.Contains(state, "\n4 b 1 s1 10.1.2.3 2 0 1 1 ") || !strings.Contains(state, " - 8080 - 0 0 - - 0\n") {
		t.Fatalf("show servers state:\n%s", state)
	}
	rows := ParseServersState(state)
	if len(rows) != 1 || rows[0].Addr != "10.1.2.3" || rows[0].Port != 8080 {
		t.Fatalf("parsed %+v", rows)
	}
	if got := runCmd(t, cmds, LevelOperator, "set server b/s1 addr 10.0.0.1"); got != "Permission denied\n" {
		t.Fatalf("operator: %q", got)
	}
}

// fakeLimits records what the frontend commands ask for.
type fakeLimits struct {
	feMax    map[*proxy.Frontend]int
	disabled map[*proxy.Frontend]bool
	global   int
}

func (f *fakeLimits) FrontendMaxConn(fe *proxy.Frontend) int       { return f.feMax[fe] }
func (f *fakeLimits) SetFrontendMaxConn(fe *proxy.Frontend, n int) { f.feMax[fe] = n }
func (f *fakeLimits) FrontendStatus(fe *proxy.Frontend) string {
	if f.disabled[fe] {
		return "PAUSED"
	}
	return "OPEN"
}
func (f *fakeLimits) DisableFrontend(fe *proxy.Frontend) bool {
	was := f.disabled[fe]
	f.disabled[fe] = true
	return !was
}
func (f *fakeLimits) EnableFrontend(fe *proxy.Frontend) bool {
	was := f.disabled[fe]
	f.disabled[fe] = false
	return was
}
func (f *fakeLimits) MaxConn() (int, int) { return f.global, 9984 }
func (f *fakeLimits) SetMaxConn(n int) {
	if n == 0 {
		n = 9984
	}
	f.global = n
}

// TestFrontendCommands checks the answers HAProxy 2.6.12 gave to the same lines.
func TestFrontendCommands(t *testing.T) {
	st := buildState(t, "frontend fe\n bind 127.0.0.1:1\n default_backend b\nbackend b\n")
	fe := st.Frontends[0]
	l := &fakeLimits{feMax: map[*proxy.Frontend]int{fe: 9984}, disabled: map[*proxy.Frontend]bool{}, global: 9984}
	cmds := FrontendCommands(st, map[string]int{"fe": 2, "b": 3}, l)
	steps := []step{
		{LevelAdmin, "set maxconn frontend fe 10", ""},
		{LevelAdmin, "set maxconn frontend nope 10", "No such frontend.\n"},
		{LevelAdmin, "set maxconn frontend b 10", "No such frontend.\n"},
		{LevelAdmin, "set maxconn frontend fe", "Integer value expected.\n"},
		{LevelAdmin, "set maxconn frontend fe -1", "Value out of range.\n"},
		{LevelAdmin, "set maxconn frontend", "A frontend name is expected.\n"},
		{LevelAdmin, "set maxconn frontend #2 7", ""},
		{LevelAdmin, "set maxconn global 100", ""},
		{LevelAdmin, "set maxconn global", "Expects an integer value.\n"},
		{LevelAdmin, "set maxconn global 99999999", "Value out of range.\n"},
		{LevelAdmin, "disable frontend fe", ""},
		{LevelAdmin, "disable frontend fe", "All sockets are already disabled.\n"},
		{LevelAdmin, "enable frontend fe", ""},
		{LevelAdmin, "enable frontend fe", "All sockets are already enabled.\n"},
		{LevelAdmin, "disable frontend", "A frontend name is expected.\n"},
		{LevelAdmin, "disable frontend nope", "No such frontend.\n"},
		{LevelOperator, "disable frontend fe", "Permission denied\n"},
		{LevelOperator, "set maxconn global 5", "Permission denied\n"},
	}
	runSteps(t, cmds, steps)
	if l.feMax[fe] != 7 || l.global != 100 || l.disabled[fe] {
		t.Fatalf("applied: frontend %d, global %d, disabled %v", l.feMax[fe], l.global, l.disabled[fe])
	}
	runCmd(t, cmds, LevelAdmin, "set maxconn global 0")
	if l.global != 9984 {
		t.Fatalf("set maxconn global 0 left %d", l.global)
	}
}

// TestShowErrorsLayout prints a capture that HAProxy 2.6.12 dumped (long line split at
// 80 columns with '+', escapes, \xHH) and compares with its output, less its two lines
// of H1 parser flags, which hitless does not have.
func TestShowErrorsLayout(t *testing.T) {
	st := buildState(t, "frontend fe\n bind 127.0.0.1:1\n default_backend b\nbackend b\n")
	ids := map[string]int{"fe": 2, "b": 3}
	buf := "GET /a\\b HTTP/1.1\r\nX-Long: " + strings.Repeat("a", 108) + "\tb\x1b\r\nX-Bin: \x7f\xfe\r\nHo st: x\r\n\r\n"
	when := time.Date(2026, 11, 25, 9, 42, 27, 509e6, time.Local)
	st.CaptureError(proxy.ErrorCapture{When: when, Frontend: st.Frontends[0], Src: netip.MustParseAddrPort("127.0.0.1:60816"),
		Buf: []byte(buf), Pos: 153})
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	showErrors(st, ids, nil, w, time.Date(2026, 11, 25, 9, 42, 27, 713e6, time.Local))
	w.WriteString("\n") // the prompt
	w.Flush()
	golden.Check(t, "show_errors.golden", out.String())

	// Filters: by the other end's name or id, and by direction.
	st.CaptureError(proxy.ErrorCapture{When: when, Response: true, Frontend: st.Frontends[0], Backend: st.Backends["b"],
		Src: netip.MustParseAddrPort("127.0.0.1:1"), Buf: []byte("HTTP/1.1 2x0 OK\r\n\r\n"), Pos: 10})
	count := func(args ...string) (int, int) {
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		showErrors(st, ids, args, w, when)
		w.Flush()
		return strings.Count(out.String(), "invalid request"), strings.Count(out.String(), "invalid response")
	}
	for _, tt := range []struct {
		args        []string
		reqs, resps int
	}{
		{nil, 1, 1},
		{[]string{"-1"}, 1, 1},
		{[]string{"fe"}, 1, 1}, // the response error's frontend is fe
		{[]string{"b"}, 0, 1},
		{[]string{"3", "request"}, 0, 0},
		{[]string{"fe", "response"}, 0, 1},
		{[]string{"fe", "bogus"}, 1, 1},
	} {
		if q, r := count(tt.args...); q != tt.reqs || r != tt.resps {
			t.Errorf("show errors %v: %d requests, %d responses; want %d, %d", tt.args, q, r, tt.reqs, tt.resps)
		}
	}
	if got := runCmd(t, SessionCommands(st, ids), LevelOperator, "show errors nope"); got != "No such proxy.\n" {
		t.Errorf("unknown proxy: %q", got)
	}
	if got := runCmd(t, SessionCommands(st, ids), LevelUser, "show errors"); got != "Permission denied\n" {
		t.Errorf("user level: %q", got)
	}
}

// TestShowSess checks the line layout of HAProxy 2.6's `show sess` for a stream with
// a server and one still routing.
func TestShowSess(t *testing.T) {
	st := buildState(t, "frontend fe\n bind 127.0.0.1:1\n default_backend b\nbackend b\n server s1 127.0.0.1:2\n")
	a := &proxy.Stream{Frontend: st.Frontends[0], Remote: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}, Start: time.Now().Add(-65 * time.Second)}
	b := &proxy.Stream{Frontend: st.Frontends[0], Remote: &net.TCPAddr{IP: net.IPv6loopback, Port: 5001}, Start: time.Now()}
	st.Streams.Add(a)
	st.Streams.Add(b)
	a.SetTarget(st.Backends["b"], st.Backends["b"].Servers[0])
	got := runCmd(t, SessionCommands(st, nil), LevelOperator, "show sess")
	want := "0x1: proto=tcpv4 src=127.0.0.1:5000 fe=fe be=b srv=s1 ts=00 epoch=0 age=1m5s calls=1 rate=0 cpu=0 lat=0 rq[f=808000h,i=0,an=00h,rx=,wx=,ax=] rp[f=80008000h,i=0,an=00h,rx=,wx=,ax=] scf=[8,0h,fd=-1] scb=[8,1h,fd=-1] exp= rc=0 c_exp=\n" +
		"0x2: proto=tcpv6 src=[::1]:5001 fe=fe be=<NONE> srv=<none> ts=00 epoch=0 age=0s calls=1 rate=0 cpu=0 lat=0 rq[f=808000h,i=0,an=00h,rx=,wx=,ax=] rp[f=80008000h,i=0,an=00h,rx=,wx=,ax=] scf=[8,0h,fd=-1] scb=[8,1h,fd=-1] exp= rc=0 c_exp=\n"
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	st.Streams.Remove(a)
	if got := runCmd(t, SessionCommands(st, nil), LevelOperator, "show sess"); strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "0x2:") {
		t.Fatalf("after removal: %q", got)
	}
	if got := runCmd(t, SessionCommands(st, nil), LevelUser, "show sess"); got != "Permission denied\n" {
		t.Fatalf("user level: %q", got)
	}
	for d, want := range map[time.Duration]string{59 * time.Second: "59s", 3599 * time.Second: "59m59s", 7260 * time.Second: "2h1m", 90000 * time.Second: "1d1h"} {
		if got := humanAge(d); got != want {
			t.Errorf("humanAge(%v) = %s, want %s", d, got, want)
		}
	}
}

// TestShowStatFormats checks that typed prints one line per filled field and that
// json is valid JSON with the same fields (the layouts are compared with HAProxy's in
// test/e2e).
func TestShowStatFormats(t *testing.T) {
	st := buildState(t, "frontend fe\n bind 127.0.0.1:1\n default_backend b\nbackend b\n server s1 127.0.0.1:2 check\n")
	st.Backends["b"].Servers[0].Observe(proxy.CheckInfo{Status: "L7STS", Desc: "Layer7 wrong \"status\"\x01", Code: 503, HasCode: true, At: time.Now()}, 1)
	fe := st.Frontends[0]
	l := &fakeLimits{feMax: map[*proxy.Frontend]int{fe: 100}, disabled: map[*proxy.Frontend]bool{}, global: 100}
	cmd := []Command{StatCommand(st, map[string]int{"fe": 2, "b": 3}, l)}
	csv := runCmd(t, cmd, LevelAdmin, "show stat")
	filled := 0
	for _, line := range strings.Split(strings.TrimSpace(csv), "\n")[1:] {
		for i, v := range strings.Split(line, ",") {
			if v != "" && i < len(stats.Fields) && stats.Fields[i] != "-" {
				filled++
			}
		}
	}
	typed := runCmd(t, cmd, LevelAdmin, "show stat typed")
	if n := strings.Count(typed, "\n"); n != filled {
		t.Fatalf("typed: %d lines for %d filled fields:\n%s", n, filled, typed)
	}
	if !strings.Contains(typed, "S.3.1.37.check_code.1:MOP:u32:503\n") || !strings.Contains(typed, "F.2.0.0.pxname.1:KNS:str:fe\n") {
		t.Fatalf("typed:\n%s", typed)
	}
	var rows [][]map[string]any
	if err := json.Unmarshal([]byte(runCmd(t, cmd, LevelAdmin, "show stat json")), &rows); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rows {
		n += len(r)
	}
	if len(rows) != 3 || n != filled {
		t.Fatalf("json: %d rows, %d fields; want 3, %d", len(rows), n, filled)
	}
	if got := runCmd(t, cmd, LevelAdmin, "show stat desc"); got != "'show stat desc' is not supported yet.\n" {
		t.Fatalf("desc: %q", got)
	}
}

func TestShowInfoFormats(t *testing.T) {
	cmds := ProcessCommands(fakeProcess{})
	if got := runCmd(t, cmds, LevelUser, "show info typed"); got != "0.Name.1:POS:str:hitless\n6.Pid.1:SGP:u32:42\n" {
		t.Fatalf("typed: %q", got)
	}
	var fields []map[string]any
	if err := json.Unmarshal([]byte(runCmd(t, cmds, LevelUser, "show info json")), &fields); err != nil || len(fields) != 2 {
		t.Fatalf("json: %v %v", fields, err)
	}
	if got := runCmd(t, cmds, LevelUser, "show info"); got != "Name: hitless\nPid: 42\n" {
		t.Fatalf("plain: %q", got)
	}
}

// FuzzCommands runs any line through every command (at the admin level, so that all
// of them parse their arguments) against a small state: no line may panic.
func FuzzCommands(f *testing.F) {
	for _, s := range []string{
		"show stat -1 4 -1 typed", "show stat fe 1 x json up", "set server b/s1 addr ::1 port 99999",
		"set maxconn frontend #2 -5", "show errors fe response", "set weight b/s1 50%", "clear counters all",
		"show servers state b", "disable frontend #", "show sess", "show info json", "set server b/s1 state drain",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		st := buildState(t, "frontend fe\n bind 127.0.0.1:1\n default_backend b\nbackend b\n server s1 127.0.0.1:2 check\n")
		fe := st.Frontends[0]
		l := &fakeLimits{feMax: map[*proxy.Frontend]int{fe: 100}, disabled: map[*proxy.Frontend]bool{}, global: 100}
		ids := map[string]int{"fe": 2, "b": 3}
		st.CaptureError(proxy.ErrorCapture{When: time.Now(), Frontend: fe, Buf: []byte(line), Pos: len(line) / 2})
		srv := &Server{}
		srv.Commands = append(BaseCommands(srv), ProcessCommands(fakeProcess{})...)
		srv.Commands = append(srv.Commands, ServerCommands(st, ids)...)
		srv.Commands = append(srv.Commands, StatCommand(st, ids, l))
		srv.Commands = append(srv.Commands, FrontendCommands(st, ids, l)...)
		srv.Commands = append(srv.Commands, SessionCommands(st, ids)...)
		srv.Commands = append(srv.Commands, MiscCommands(st, "x")...)
		w := bufio.NewWriter(io.Discard)
		for _, cmd := range splitCommands(line) {
			if words := splitWords(cmd); len(words) > 0 && words[0] == "_getsocks" {
				continue
			}
			srv.run(&Session{Level: LevelAdmin}, cmd, w)
		}
	})
}
