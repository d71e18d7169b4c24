package logging

import (
	"flag"
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
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s:\ngot  %q\nwant %q", name, got, want)
	}
}

func sampleEntry() *Entry {
	at := time.Date(2026, time.November, 5, 6, 7, 8, 9_000_000, time.Local)
	return &Entry{
		ClientIP: netip.MustParseAddr("127.0.0.1"), ClientPort: 41234,
		Accept: at, Request: at.Add(time.Millisecond),
		Frontend: "fe", Backend: "be", Server: "s1",
		TR: 0, Tw: 0, Tc: time.Millisecond, Tr: 2 * time.Millisecond, Ta: 3 * time.Millisecond, Tt: 5 * time.Millisecond,
		Status: 200, Bytes: 171, ActConn: 1, FeConn: 1, BeConn: 0, SrvConn: 0, Retries: 0,
		RequestLine: "GET /index.html HTTP/1.1",
	}
}

func TestHTTPLogFormat(t *testing.T) {
	golden(t, "httplog.golden", append(AppendHTTPLog(nil, sampleEntry()), '\n'))
}

func TestTCPLogFormat(t *testing.T) {
	e := sampleEntry()
	e.Term = [2]byte{'S', 'D'}
	golden(t, "tcplog.golden", append(AppendTCPLog(nil, e), '\n'))
}

func TestHTTPLogNoServer(t *testing.T) {
	e := sampleEntry()
	e.Backend, e.Server = "", ""
	e.Tw, e.Tc, e.Tr = -1, -1, -1
	e.Status, e.Term = 503, [2]byte{'S', 'C'}
	got := string(AppendHTTPLog(nil, e))
	want := "fe fe/<NOSRV> 0/-1/-1/-1/3 503 171 - - SC-- 1/1/0/0/0 0/0 \"GET /index.html HTTP/1.1\""
	if !strings.HasSuffix(got, want) {
		t.Fatalf("got %q, want suffix %q", got, want)
	}
}

func TestAppendNoAllocs(t *testing.T) {
	e := sampleEntry()
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { AppendHTTPLog(buf[:0], e) }); n != 0 {
		t.Fatalf("AppendHTTPLog allocates %v times", n)
	}
}

func TestUDPAndUnixgramTargets(t *testing.T) {
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
	l, err := New([]config.LogTarget{
		{Network: "udp", Address: pc.LocalAddr().String(), Facility: 16, Level: 7, Format: "rfc3164", Len: 1024},
		{Network: "unixgram", Address: sock, Facility: 16, Level: 7, Format: "raw", Len: 1024},
		{Network: "udp", Address: pc.LocalAddr().String(), Facility: 16, Level: 3, Format: "raw", Len: 1024}, // filtered out
	}, Options{Tag: "hitless", PID: 42})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(6, []byte("hello"))
	buf := make([]byte, 2048)
	pc.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := string(buf[:n])
	if !strings.HasPrefix(got, "<134>") || !strings.HasSuffix(got, " hitless[42]: hello\n") {
		t.Fatalf("udp line %q", got)
	}
	uc.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err = uc.Read(buf)
	if err != nil || string(buf[:n]) != "hello\n" {
		t.Fatalf("unixgram line %q, %v", buf[:n], err)
	}
	pc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _, err := pc.ReadFrom(buf); err == nil {
		t.Fatalf("a target with level err received an info line: %q", buf[:n])
	}
	l.Close()
}

func TestLogNeverBlocks(t *testing.T) {
	// A unix socket nobody reads: the queue fills and lines are dropped.
	l, _ := New([]config.LogTarget{{Network: "unixgram", Address: "/nonexistent/sock", Level: 7, Format: "raw"}}, Options{})
	start := time.Now()
	for i := 0; i < 3*queueLen; i++ {
		l.Log(6, []byte("x"))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("logging took %v", d)
	}
	l.Close()
	if l.Dropped.Load() == 0 {
		t.Fatal("nothing counted as dropped")
	}
	var nilLogger *Logger
	nilLogger.Log(6, []byte("x"))
}
