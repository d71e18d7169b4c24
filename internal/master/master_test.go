package master

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"hitless/internal/runtimeapi"
)

func TestParseWorkerFDs(t *testing.T) {
	for _, c := range []struct {
		in   string
		want workerFDs
		bad  bool
	}{
		{in: "ipc=3;state=4;listeners=5:2", want: workerFDs{ipc: 3, state: 4, first: 5, nlisten: 2}},
		{in: "ipc=3;state=-1;listeners=5:0", want: workerFDs{ipc: 3, state: -1, first: 5}},
		{in: "ipc=3", want: workerFDs{ipc: 3, state: -1}},
		{in: "", bad: true},
		{in: "state=4", bad: true},
		{in: "ipc=x", bad: true},
		{in: "ipc=3;listeners=5", bad: true},
		{in: "ipc=3;bogus=1", bad: true},
		{in: "ipc=-1", bad: true},
		{in: "ipc=3;listeners=-5:2", bad: true},
	} {
		got, err := parseWorkerFDs(c.in)
		if (err != nil) != c.bad {
			t.Errorf("%q: error %v, want bad=%v", c.in, err, c.bad)
			continue
		}
		if !c.bad && got != c.want {
			t.Errorf("%q: got %+v, want %+v", c.in, got, c.want)
		}
		if !c.bad {
			if again, err := parseWorkerFDs(got.String()); err != nil || again != got {
				t.Errorf("%q does not survive String: %v %+v", c.in, err, again)
			}
		}
	}
}

func FuzzParseWorkerFDs(f *testing.F) {
	f.Add("ipc=3;state=4;listeners=5:2")
	f.Add("ipc=3;;")
	f.Fuzz(func(t *testing.T, s string) {
		w, err := parseWorkerFDs(s)
		if err == nil && (w.ipc < 0 || w.nlisten < 0) {
			t.Fatalf("%q accepted as %+v", s, w)
		}
	})
}

func TestSavedStateRoundTrip(t *testing.T) {
	st := &savedState{Started: 1700000000000, Reloads: 3, Failed: 1, Binary: "/usr/sbin/hitless", Current: 42,
		Procs:     []savedProc{{Pid: 42, IPC: 7, Reloads: 0, Started: 1700000001000, Version: "1.0"}, {Pid: 41, IPC: 6, Reloads: 1}},
		Listeners: []int{8, 9}, CLI: []savedCLI{{FD: 10, Level: "admin"}}, Last: 11}
	got, err := decodeState(st.encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.encode() != st.encode() {
		t.Fatalf("round trip changed the state:\n%s\n%s", st.encode(), got.encode())
	}
	if _, err := decodeState("{"); err == nil {
		t.Fatal("a broken state was accepted")
	}
}

func TestShowProcLayout(t *testing.T) {
	now := time.Unix(1700000000, 0)
	m := &Master{version: "1.2.3", reloads: 4, started: now.Add(-43 * time.Second)}
	cur := &proc{pid: 16045, started: now.Add(-time.Second), version: "1.2.3"}
	old := &proc{pid: 15995, reloads: 1, started: now.Add(-3 * time.Second), version: "1.2.2"}
	m.procs = []*proc{old, cur}
	m.current = cur
	got := m.showProc(now)
	// HAProxy 2.6's layout: every field left-aligned in 15 columns and a space.
	want := "#<PID>          <type>          <reloads>       <uptime>        <version>      \n" +
		fmt.Sprintf("%-15d", os.Getpid()) + " master          4 [failed: 0]   0d00h00m43s     1.2.3          \n" +
		"# workers\n" +
		"16045           worker          0               0d00h00m01s     1.2.3          \n" +
		"# old workers\n" +
		"15995           worker          1               0d00h00m03s     1.2.2          \n" +
		"# programs\n"
	if got != want {
		t.Fatalf("show proc:\n%q\nwant\n%q", got, want)
	}
}

func TestUptime(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                            "0d00h00m00s",
		59 * time.Second:             "0d00h00m59s",
		time.Hour + 2*time.Minute:    "0d01h02m00s",
		49*time.Hour + time.Second:   "2d01h00m01s",
		1500 * time.Millisecond:      "0d00h00m01s",
		100*24*time.Hour + 23*3600e9: "100d23h00m00s",
	} {
		if got := uptime(d); got != want {
			t.Errorf("uptime(%v) = %s, want %s", d, got, want)
		}
	}
}

// TestCrashBackoff: crashes are replaced at once up to the burst, then with a
// doubling delay capped at maxBackoff; old crashes fall out of the window.
func TestCrashBackoff(t *testing.T) {
	m := &Master{events: slog.New(slog.DiscardHandler)}
	now := time.Unix(1700000000, 0)
	for i := 1; i <= crashBurst; i++ {
		m.scheduleRestart(now)
		if !m.restartAt.Equal(now) {
			t.Fatalf("crash %d delayed by %v", i, m.restartAt.Sub(now))
		}
	}
	var last time.Duration
	for i := 0; i < 12; i++ {
		m.scheduleRestart(now)
		d := m.restartAt.Sub(now)
		if d <= 0 || d > maxBackoff || (d < last) {
			t.Fatalf("backoff %d = %v after %v", i, d, last)
		}
		last = d
	}
	if last != maxBackoff {
		t.Fatalf("backoff stops at %v, want %v", last, maxBackoff)
	}
	// A crash long after the others is replaced at once again.
	later := now.Add(crashWindow + time.Second)
	m.scheduleRestart(later)
	if !m.restartAt.Equal(later) {
		t.Fatalf("a crash after a quiet window is delayed by %v", m.restartAt.Sub(later))
	}
}

// TestLinkCarriesCLIConnections: a connection the master dials over a worker's
// private socket reaches the worker's Serve with the session's level, both ways.
func TestLinkCarriesCLIConnections(t *testing.T) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	masterEnd, err := unixConn(pair[0])
	if err != nil {
		t.Fatal(err)
	}
	workerEnd, err := unixConn(pair[1])
	if err != nil {
		t.Fatal(err)
	}
	link := &Link{ipc: workerEnd}
	served := make(chan struct{})
	go func() {
		defer close(served)
		link.Serve(func(c net.Conn, level runtimeapi.Level) {
			defer c.Close()
			line, _ := bufio.NewReader(c).ReadString('\n')
			io.WriteString(c, level.String()+" got "+line+"\n")
		})
	}()
	p := &proc{pid: 1, ipc: masterEnd}
	for _, level := range []runtimeapi.Level{runtimeapi.LevelUser, runtimeapi.LevelOperator, runtimeapi.LevelAdmin} {
		got, err := p.ask(level, "show info", 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if want := level.String() + " got show info\n\n"; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	// The worker learns that its master is gone when the master's end closes.
	masterEnd.Close()
	select {
	case <-served:
	case <-time.After(2 * time.Second):
		t.Fatal("Serve did not return when the master's end closed")
	}
}

func TestReadyReport(t *testing.T) {
	for _, c := range []struct {
		send    func(l *Link)
		wantErr string
	}{
		{func(l *Link) { l.Ready(nil) }, ""},
		{func(l *Link) { l.Ready(errString("binding [x:1] failed\nsecond line")) }, "binding [x:1] failed second line"},
		{func(l *Link) { l.ipc.Close() }, "the new worker exited during start-up"},
	} {
		pair, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		a, _ := unixConn(pair[0])
		b, _ := unixConn(pair[1])
		c.send(&Link{ipc: b})
		err := awaitReady(a)
		if (err == nil) != (c.wantErr == "") || err != nil && err.Error() != c.wantErr {
			t.Errorf("got %v, want %q", err, c.wantErr)
		}
		a.Close()
		b.Close()
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// FuzzMasterCLI: no input line makes the master CLI panic.
func FuzzMasterCLI(f *testing.F) {
	for _, s := range []string{"help", "show proc", "@1 show info", "@!12 show stat;@master show version", "@", "@ ;;", "prompt", "user; operator", "reload", "\\;@1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		m := &Master{version: "x", reload: make(chan struct{}, 1), started: time.Now()}
		s := &cliSession{m: m, w: bufio.NewWriter(io.Discard), level: runtimeapi.LevelAdmin}
		for _, cmd := range runtimeapi.SplitCommands(line) {
			if !s.run(strings.TrimSpace(cmd)) {
				break
			}
		}
		s.promptText()
	})
}
