package logging

import (
	"bufio"
	"bytes"
	"flag"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hitless/internal/config"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s:\ngot\n%s\nwant\n%s", name, got, want)
	}
}

var at = time.Date(2026, time.November, 5, 6, 7, 8, 9_000_000, time.Local)

func sampleEntry() *Entry {
	return &Entry{
		ClientIP: netip.MustParseAddr("127.0.0.1"), ClientPort: 41234,
		Accept: at, Request: at.Add(time.Millisecond),
		Frontend: "fe", Backend: "be", Server: "s1",
		TR: 0, Tw: 0, Tc: time.Millisecond, Tr: 2 * time.Millisecond, Ta: 3 * time.Millisecond, Tt: 5 * time.Millisecond,
		Status: 200, Bytes: 171, ActConn: 1, FeConn: 1, BeConn: 0, SrvConn: 0, Retries: 0,
		RequestLine: "GET /index.html HTTP/1.1",
	}
}

// entryCases are the access-log entries of the golden files, one line each.
var entryCases = []struct {
	name string
	edit func(e *Entry)
}{
	{"normal", func(e *Entry) {}},
	{"no server", func(e *Entry) {
		e.Backend, e.Server = "", ""
		e.Tw, e.Tc, e.Tr = -1, -1, -1
		e.Status, e.Term = 503, [2]byte{'S', 'C'}
	}},
	{"bad request", func(e *Entry) {
		e.Backend, e.Server, e.RequestLine = "", "", "<BADREQ>"
		e.TR, e.Tw, e.Tc, e.Tr, e.Ta, e.Tt = -1, -1, -1, -1, 0, 0
		e.Status, e.Bytes, e.Term = 400, 0, [2]byte{'P', 'R'}
	}},
	{"escaped request line", func(e *Entry) { e.RequestLine = "GET /a?q=\"x\"#frag\x01\xff HTTP/1.1" }},
	{"ipv6 client, big counters", func(e *Entry) {
		e.ClientIP, e.ClientPort = netip.MustParseAddr("2001:db8::1"), 65535
		e.Tt, e.Ta, e.Bytes = 3*time.Hour, 3*time.Hour, 1<<40
		e.ActConn, e.FeConn, e.BeConn, e.SrvConn, e.Retries, e.SrvQueue, e.BeQueue = 10000, 5000, 400, 30, 3, 2, 7
		e.Term = [2]byte{'c', 'D'}
	}},
	{"v4-mapped client, midnight, new year", func(e *Entry) {
		e.ClientIP = netip.MustParseAddr("::ffff:10.0.0.1")
		e.Accept = time.Date(2027, time.January, 1, 0, 0, 0, 999_999_999, time.Local)
		e.Request = time.Time{}
	}},
}

func TestAccessLogGolden(t *testing.T) {
	var httpLines, tcpLines []byte
	for _, c := range entryCases {
		e := sampleEntry()
		c.edit(e)
		httpLines = append(AppendHTTPLog(httpLines, e), '\n')
		tcpLines = append(AppendTCPLog(tcpLines, e), '\n')
	}
	golden(t, "httplog.golden", httpLines)
	golden(t, "tcplog.golden", tcpLines)
}

func TestAppendConnectLog(t *testing.T) {
	src := netip.MustParseAddrPort("127.0.0.1:35280")
	dst := netip.MustParseAddrPort("[::1]:8080")
	for _, c := range []struct {
		http bool
		want string
	}{
		{false, "Connect from 127.0.0.1:35280 to [::1]:8080 (fe/TCP)"},
		{true, "Connect from 127.0.0.1:35280 to [::1]:8080 (fe/HTTP)"},
	} {
		if got := string(AppendConnectLog(nil, src, dst, "fe", c.http)); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

func TestAppendNoAllocs(t *testing.T) {
	e := sampleEntry()
	e.RequestLine = "GET /\"quoted\" HTTP/1.1"
	buf := make([]byte, 0, 512)
	src, dst := netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.1:2")
	for name, f := range map[string]func(){
		"http":    func() { AppendHTTPLog(buf[:0], e) },
		"tcp":     func() { AppendTCPLog(buf[:0], e) },
		"connect": func() { AppendConnectLog(buf[:0], src, dst, "fe", true) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s allocates %v times", name, n)
		}
	}
}

func TestSyslogHeaders(t *testing.T) {
	now := time.Date(2026, time.November, 5, 8, 41, 8, 56_535_000, time.FixedZone("", 3600))
	msg := []byte("hello world")
	cases := []struct {
		format, host string
		level, min   int
		len          int
		want         string
	}{
		{"", "", 6, 0, 0, "<134>Nov  5 08:41:08 hitless[42]: hello world\n"},
		{"rfc3164", "vm", 6, 0, 0, "<134>Nov  5 08:41:08 vm hitless[42]: hello world\n"},
		{"local", "vm", 6, 0, 0, "<134>Nov  5 08:41:08 hitless[42]: hello world\n"},
		{"rfc5424", "", 6, 0, 0, "<134>1 2026-11-05T08:41:08.056535+01:00 - hitless 42 - - hello world\n"},
		{"rfc5424", "vm", 3, 0, 0, "<131>1 2026-11-05T08:41:08.056535+01:00 vm hitless 42 - - hello world\n"},
		{"priority", "", 6, 0, 0, "<134>hello world\n"},
		{"short", "", 6, 0, 0, "<6>hello world\n"},
		{"timed", "", 6, 0, 0, "<6>2026-11-05T08:41:08.056535+01:00 hello world\n"},
		{"iso", "", 6, 0, 0, "2026-11-05T08:41:08.056535+01:00 hello world\n"},
		{"raw", "", 6, 0, 0, "hello world\n"},
		// Header and message fit in len; the newline comes on top.
		{"rfc3164", "", 6, 0, 40, "<134>Nov  5 08:41:08 hitless[42]: hello \n"},
		{"raw", "", 6, 0, 5, "hello\n"},
		{"raw", "", 6, 0, 4, "hell\n"},
	}
	for _, c := range cases {
		tg := &target{cfg: config.LogTarget{Facility: 16, Level: 7, MinLevel: c.min, Format: c.format, Len: c.len},
			opts: Options{PID: 42, Hostname: c.host}}
		if tg.cfg.Len == 0 {
			tg.cfg.Len = 1024
		}
		got := string(tg.format(nil, now, c.level, msg))
		if got != c.want {
			t.Errorf("format %q len %d: got %q, want %q", c.format, c.len, got, c.want)
		}
	}
}

func TestNewRejectsMalformedTargets(t *testing.T) {
	ok := config.LogTarget{Network: "udp", Address: "127.0.0.1:514", Level: 7}
	cases := []struct {
		name string
		edit func(*config.LogTarget)
		want string
	}{
		{"unknown network", func(c *config.LogTarget) { c.Network = "carrier-pigeon" }, "unknown log target type"},
		{"no port", func(c *config.LogTarget) { c.Address = "127.0.0.1" }, "invalid address"},
		{"bad port", func(c *config.LogTarget) { c.Address = "127.0.0.1:99999" }, "invalid port"},
		{"no host", func(c *config.LogTarget) { c.Address = ":514" }, "missing host"},
		{"no path", func(c *config.LogTarget) { c.Network, c.Address = "unixgram", "" }, "missing socket path"},
		{"format", func(c *config.LogTarget) { c.Format = "xml" }, "unknown log format 'xml'"},
		{"len", func(c *config.LogTarget) { c.Len = 10 }, "'len' must be between 80 and 65535"},
		{"facility", func(c *config.LogTarget) { c.Facility = 24 }, "invalid facility"},
		{"level", func(c *config.LogTarget) { c.Level = 8 }, "invalid log levels"},
	}
	for _, c := range cases {
		tg := ok
		c.edit(&tg)
		l, err := New([]config.LogTarget{ok, tg}, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "log target #2") {
			t.Errorf("%s: err = %v, want it to contain %q", c.name, err, c.want)
		}
		if l != nil {
			l.Close()
		}
	}
	l, err := New([]config.LogTarget{ok, {Global: true}, {Network: "stderr"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}

func TestSocketTargets(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	sock := filepath.Join(t.TempDir(), "log.sock")
	uc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	l, err := New([]config.LogTarget{
		{Network: "udp", Address: pc.LocalAddr().String(), Facility: 16, Level: 7, Format: "rfc3164", Len: 1024},
		{Network: "unixgram", Address: sock, Facility: 16, Level: 7, Format: "raw", Len: 1024},
		{Network: "udp", Address: pc.LocalAddr().String(), Facility: 16, Level: 3, Format: "raw", Len: 1024}, // filtered out
		{Network: "tcp", Address: tl.Addr().String(), Facility: 16, Level: 7, MinLevel: 7, Format: "priority"},
	}, Options{Tag: "hitless", PID: 42})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Log(6, []byte("hello"))
	l.Log(6, []byte("again"))

	buf := make([]byte, 2048)
	pc.SetReadDeadline(time.Now().Add(2 * time.Second))
	for _, want := range []string{" hitless[42]: hello\n", " hitless[42]: again\n"} {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		got := string(buf[:n])
		if !strings.HasPrefix(got, "<134>") || !strings.HasSuffix(got, want) {
			t.Fatalf("udp line %q, want suffix %q", got, want)
		}
	}
	uc.SetReadDeadline(time.Now().Add(2 * time.Second))
	for _, want := range []string{"hello\n", "again\n"} {
		n, err := uc.Read(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("unixgram line %q, %v; want %q", buf[:n], err, want)
		}
	}
	tc, err := tl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.SetReadDeadline(time.Now().Add(2 * time.Second))
	r := bufio.NewReader(tc)
	// Level 6 raised to the target's minimum level 7: <16*8+7>.
	for _, want := range []string{"<135>hello\n", "<135>again\n"} {
		line, err := r.ReadString('\n')
		if err != nil || line != want {
			t.Fatalf("tcp line %q, %v; want %q", line, err, want)
		}
	}
	pc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _, err := pc.ReadFrom(buf); err == nil {
		t.Fatalf("a target with level err received an info line: %q", buf[:n])
	}
}

func TestUnixgramStartsBeforeSyslog(t *testing.T) {
	// The socket does not exist at New: not an error, and lines flow once it does.
	sock := filepath.Join(t.TempDir(), "late.sock")
	l, err := New([]config.LogTarget{{Network: "unixgram", Address: sock, Level: 7, Format: "raw"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Log(6, []byte("late"))
	uc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	buf := make([]byte, 64)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		l.Log(6, []byte("late"))
		uc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if n, err := uc.Read(buf); err == nil {
			if string(buf[:n]) != "late\n" {
				t.Fatalf("got %q", buf[:n])
			}
			return
		}
	}
	t.Fatal("no line reached the socket created after New")
}

func TestLogNeverBlocks(t *testing.T) {
	// A unix datagram socket nobody reads: once its receive queue is full each write
	// blocks until its timeout, the target's queue fills, and Log keeps returning at
	// once, dropping lines.
	sock := filepath.Join(t.TempDir(), "stuck.sock")
	uc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	l, err := New([]config.LogTarget{{Network: "unixgram", Address: sock, Level: 7, Format: "raw"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("a line nobody reads")
	start := time.Now()
	for i := 0; i < 3*queueLen; i++ {
		l.Log(6, msg)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("logging took %v", d)
	}
	if l.Dropped.Load() == 0 {
		t.Fatal("nothing counted as dropped")
	}
	start = time.Now()
	l.Close()
	if d := time.Since(start); d > writeTimeout+flushTimeout+time.Second {
		t.Fatalf("Close took %v with a stuck target", d)
	}
	l.Close() // twice is fine
	l.Log(6, []byte("after close"))
	var nilLogger *Logger
	nilLogger.Log(6, []byte("x"))
	if err := nilLogger.Close(); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkLog(b *testing.B) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	l, err := New([]config.LogTarget{{Network: "udp", Address: pc.LocalAddr().String(), Level: 7}}, Options{PID: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := sampleEntry()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendHTTPLog(buf[:0], e)
		l.Log(6, buf)
	}
}

func TestEventHandler(t *testing.T) {
	var out bytes.Buffer
	lv := new(slog.LevelVar)
	log := slog.New(NewEventHandler(&out, 1234, lv))
	log.Info("haproxy version is 2.6")
	log.Warn("server is DOWN", "server", "be/s1", "reason", "Layer4 connection problem")
	log.Error("cannot bind")
	log.Debug("hidden")
	lv.Set(slog.LevelDebug)
	log.Debug("shown")
	log.With("proxy", "fe").WithGroup("srv").Info("grouped", "name", "s1", slog.Group("chk", "rise", 2))
	want := "[NOTICE]   (1234) : haproxy version is 2.6\n" +
		"[WARNING]  (1234) : server is DOWN server=be/s1 reason=\"Layer4 connection problem\"\n" +
		"[ALERT]    (1234) : cannot bind\n" +
		"[DEBUG]    (1234) : shown\n" +
		"[NOTICE]   (1234) : grouped proxy=fe srv.name=s1 srv.chk.rise=2\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}
