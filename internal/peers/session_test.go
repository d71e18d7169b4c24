package peers

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"hitless/internal/stick"
)

// logBuffer collects a section's events.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// startLocal runs a section named a with remote peer b (at an address nobody
// listens on) and returns its listener address.
func startLocal(t *testing.T) (addr string, set *stick.Set, logs *logBuffer) {
	t.Helper()
	set = captureSet()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	logs = &logBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	s := Start(ctx, Config{Name: "mypeers", Local: "a", Remotes: []Remote{{Name: "b", Addr: deadAddr}}, Tables: set.All(),
		Events: slog.New(slog.NewTextHandler(logs, nil))}, ln)
	t.Cleanup(func() { cancel(); s.Wait() })
	return ln.Addr().String(), set, logs
}

// The status codes HAProxy 2.6.12 answered to the same hellos (reference §1.4).
func TestHelloStatusCodes(t *testing.T) {
	addr, _, _ := startLocal(t)
	for _, c := range []struct{ hello, want string }{
		{"HAProxyX 2.1\na\nb 1 1\n", "501\n"},
		{"HAProxyS 3.0\na\nb 1 1\n", "502\n"},
		{"HAProxyS 2.2\na\nb 1 1\n", "502\n"},
		{"HAProxyS 2.1\nzz\nb 1 1\n", "503\n"},
		{"HAProxyS 2.1\na\nnobody 1 1\n", "504\n"},
		{"HAProxyS 2.1\na\nb\n", "501\n"},
		{"HAProxyS 2.1\r\na\r\nb 1 1\r\n", "200\n"},
		{"HAProxyS 2.0\na\nb 1 1\n", "200\n"},
		{strings.Repeat("x", 300) + "\n", "501\n"},
	} {
		c2, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c2.SetDeadline(time.Now().Add(3 * time.Second))
		io.WriteString(c2, c.hello)
		line, _ := bufio.NewReader(c2).ReadString('\n')
		if line != c.want {
			t.Errorf("%q: answered %q, want %q", c.hello, line, c.want)
		}
		c2.Close()
	}
}

// dialPeer connects as peer b and completes the hello.
func dialPeer(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "HAProxyS 2.1\na\nb 4242 1\n")
	br := bufio.NewReader(c)
	if line, _ := br.ReadString('\n'); line != "200\n" {
		t.Fatalf("hello answered %q", line)
	}
	return c, br
}

// expectClose reads until the section closes the connection and returns what it
// sent last.
func expectClose(t *testing.T, br *bufio.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("the connection was not closed: %v", err)
	}
	return b
}

// A peer that sends garbage gets HAProxy's error message, is disconnected and
// logged; the tables are untouched and the section goes on accepting.
func TestGarbageDisconnects(t *testing.T) {
	addr, set, logs := startLocal(t)
	for _, c := range []struct {
		name string
		msg  []byte
		want []byte
	}{
		{"reserved class", []byte{0xff, 0x00}, []byte{classError, errProto}},
		{"oversized", unhex("0a 80 ff ff ff ff 7f"), []byte{classError, errSize}},
		{"bad length", unhex("0a 80 ff ff ff ff ff ff"), []byte{classError, errProto}},
		{"truncated definition", unhex("0a 82 03 02 05 73"), []byte{classError, errProto}},
		{"update after definition, cut", append(appendDef(nil, defOf(set.Table("st_ip"), 2)), unhex("0a 80 05 00000001 0a")...), []byte{classError, errProto}},
	} {
		conn, br := dialPeer(t, addr)
		conn.Write(c.msg)
		got := expectClose(t, br)
		if !bytes.HasSuffix(got, c.want) {
			t.Errorf("%s: last bytes %x, want %x", c.name, got, c.want)
		}
	}
	if set.Table("st_ip").Len() != 0 {
		t.Error("garbage reached a table")
	}
	if !waitLog(logs, "protocol error") {
		t.Errorf("no protocol error logged:\n%s", logs.String())
	}
	// Still serving, and a well-formed update is learned and acknowledged.
	conn, br := dialPeer(t, addr)
	var msg []byte
	msg = appendDef(msg, defOf(set.Table("st_ip"), 2))
	msg = append(msg, unhex("0a 80 11 00000007 0a000001 05 00 fbe795a019 00 00")...)
	conn.Write(msg)
	want := unhex("0a 84 05 02 00000007")
	var seen []byte
	for !bytes.Contains(seen, want) {
		b, err := br.ReadByte()
		if err != nil {
			t.Fatalf("no ack; got %x", seen)
		}
		seen = append(seen, b)
	}
	if r, ok := set.Table("st_ip").Find([]byte{10, 0, 0, 1}); !ok || r.U[stick.GPC0][0] != 5 {
		t.Fatalf("update not learned: %+v", r)
	}
}

func waitLog(l *logBuffer, s string) bool {
	for i := 0; i < 100; i++ {
		if strings.Contains(l.String(), s) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// A peer that asks for a resynchronisation gets every entry, timed, then 00 01;
// local changes are pushed untimed with their update ids.
func TestTeachAndPush(t *testing.T) {
	addr, set, _ := startLocal(t)
	st := set.Table("st_ip")
	st.Upsert([]byte{10, 0, 0, 1}, func(s func(stick.DataType, int, uint64) bool) { s(stick.GPC0, 0, 5) })
	conn, br := dialPeer(t, addr)
	conn.Write([]byte{classControl, ctlResyncReq})
	var buf []byte
	gotFinish, gotTimed := false, false
	for !gotFinish {
		f, b, err := readFrame(br, buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		buf = b
		switch {
		case f.class == classControl && f.typ == ctlResyncFinish:
			t.Fatal("finished although this node is still waiting for its own resynchronisation")
		case f.class == classControl && f.typ == ctlResyncPartial:
			gotFinish = true
		case f.class == classTable && f.typ == tblUpdateTimed:
			gotTimed = true
		}
	}
	if !gotTimed {
		t.Fatal("no timed update in the teaching")
	}
	conn.Write([]byte{classControl, ctlResyncConfirm})
	st.Upsert([]byte{10, 0, 0, 2}, func(s func(stick.DataType, int, uint64) bool) { s(stick.GPC0, 2, 0); s(stick.GPC0, 0, 2) })
	for {
		f, b, err := readFrame(br, buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		buf = b
		if f.class == classTable && f.typ == tblUpdate {
			var u received
			if err := parseUpdate(f.typ, f.payload, defOf(st, 2), &dictRX{}, &u); err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(u.key, []byte{10, 0, 0, 2}) && u.values.U[stick.GPC0][0] == 2 {
				return
			}
		}
	}
}

// FuzzSession feeds arbitrary bytes, as a peer would send them after the hello, to
// the session's frame reader and message handler: nothing may panic, and a table
// may only receive well-formed entries.
func FuzzSession(f *testing.F) {
	set := captureSet()
	for i, tb := range set.All() {
		f.Add(append(appendDef(nil, defOf(tb, uint64(i+1))), unhex("0a 80 11 00000001 0a000001 05 00 fbe795a019 00 00")...))
	}
	f.Add(unhex("00 00 00 01 00 02 00 03 00 04 0a 84 05 02 00000012 0a 83 01 02 ff 00"))
	f.Add(unhex("0a 82 0e 06 03 776562 04 04 f1f1fe00 f0971c 0a 80 0e 00000001 7f000001 01 04 01 02 7331 0a 81 07 7f000002 01 01 01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		set := captureSet()
		sec := &Section{cfg: Config{Name: "p", Local: "a", Tables: set.All()}, events: slog.New(slog.DiscardHandler), ctx: context.Background()}
		p := &peer{Remote: Remote{Name: "b"}, acked: make([]uint32, len(set.All()))}
		sec.peers = []*peer{p}
		s := newSession(sec, p, nil, bufio.NewReader(bytes.NewReader(b)), false)
		var buf []byte
		var u received
		for {
			fr, nb, err := readFrame(s.br, buf)
			buf = nb
			if err != nil || s.handle(fr, &u) != nil {
				return
			}
		}
	})
}

// An older process of this node (an HAProxy that hitless took over from) connects
// under the local name and teaches its tables: they are learned, acknowledged, and
// the lesson confirmed with 00 03.
func TestLocalTeacherIsLearned(t *testing.T) {
	addr, set, _ := startLocal(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "HAProxyS 2.1\na\na 26334 1\n")
	br := bufio.NewReader(c)
	if line, _ := br.ReadString('\n'); line != "200\n" {
		t.Fatalf("hello answered %q", line)
	}
	var msg []byte
	msg = appendDef(msg, defOf(set.Table("st_ip"), 2))
	msg = append(msg, unhex("0a 85 15 00000012 0000c596 0a000001 06 00 fbe795a019 00 00")...)
	msg = append(msg, classControl, ctlResyncFinish)
	c.Write(msg)
	var seen []byte
	for !bytes.Contains(seen, []byte{classControl, ctlResyncConfirm}) || !bytes.Contains(seen, unhex("0a 84 05 02 00000012")) {
		b, err := br.ReadByte()
		if err != nil {
			t.Fatalf("no ack and confirm; got %x", seen)
		}
		seen = append(seen, b)
	}
	r, ok := set.Table("st_ip").Find([]byte{10, 0, 0, 1})
	if !ok || r.U[stick.GPC0][0] != 6 || r.Exp > 50582 || r.Exp < 49000 {
		t.Fatalf("taught entry: %+v %v", r, ok)
	}
}

// A peer that answers 502 to a 2.1 hello is greeted in version 2.0 next time.
func TestDowngradeOn502(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	hellos := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			hellos <- line
			io.WriteString(c, "502\n")
			c.Close()
		}
	}()
	set := captureSet()
	ctx, cancel := context.WithCancel(context.Background())
	s := Start(ctx, Config{Name: "p", Local: "a", Remotes: []Remote{{Name: "b", Addr: ln.Addr().String()}}, Tables: set.All()}, nil)
	defer func() { cancel(); s.Wait() }()
	first, second := <-hellos, <-hellos
	if first != "HAProxyS 2.1\n" || second != "HAProxyS 2.0\n" {
		t.Fatalf("hellos %q then %q", first, second)
	}
}
