package tcpproxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"hitless/internal/config"
	"hitless/internal/listener"
	"hitless/internal/proxy"
)

// serve runs handle for every connection accepted on a loopback listener until the
// test ends; it returns the listener's address.
func serve(t testing.TB, handle func(c *net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				handle(c.(*net.TCPConn))
			}()
		}
	}()
	return ln.Addr().String()
}

// echo copies back what it reads and half-closes after the client's FIN.
func echo(c *net.TCPConn) {
	io.Copy(c, c)
	c.CloseWrite()
}

// named answers with its name and closes.
func named(name string) func(c *net.TCPConn) {
	return func(c *net.TCPConn) { io.WriteString(c, name) }
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

// accessLog records the lines a frontend logs.
type accessLog struct {
	mu    sync.Mutex
	lines []string
	ch    chan struct{}
}

func (l *accessLog) Log(level int, msg []byte) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf("%d %s", level, msg))
	l.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
	default:
	}
}

// wait returns the n-th line (from 0), waiting up to 5s for it.
func (l *accessLog) wait(t testing.TB, n int) string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		l.mu.Lock()
		if len(l.lines) > n {
			s := l.lines[n]
			l.mu.Unlock()
			return s
		}
		l.mu.Unlock()
		select {
		case <-l.ch:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no log line #%d", n+1)
		}
	}
}

func (l *accessLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

type fixture struct {
	addr   string
	st     *proxy.State
	log    *accessLog
	cancel context.CancelFunc
}

// start builds the configuration, serves its first frontend with Serve on a loopback
// listener, and records the frontend's access log.
func start(t testing.TB, cfgText string) *fixture {
	t.Helper()
	cfg, err := config.LoadBytes("t.cfg", []byte(cfgText), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{log: &accessLog{ch: make(chan struct{}, 1)}}
	f.st, err = proxy.Build(cfg, nil, func(p *config.Proxy) (proxy.AccessLogger, error) {
		if p.IsFrontend() {
			return f.log, nil
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); ln.Close(); wg.Wait() })
	fe := f.st.Frontends[0]
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			fe.Counters.CurConns.Add(1)
			f.st.ActConns.Add(1)
			go func() {
				defer wg.Done()
				defer f.st.ActConns.Add(-1)
				defer fe.Counters.CurConns.Add(-1)
				Serve(ctx, c, fe)
			}()
		}
	}()
	return f
}

func (f *fixture) dial(t testing.TB) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c.(*net.TCPConn)
}

// cfgText is a mode tcp listen section with tcplog; extra goes in the section, servers
// are "s1 ADDR", ...
func cfgText(extra string, servers ...string) string {
	var b strings.Builder
	b.WriteString(`
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:1
    log 127.0.0.1:9 local0
    option tcplog
`)
	for _, l := range strings.Split(extra, ";") {
		fmt.Fprintf(&b, "    %s\n", strings.TrimSpace(l))
	}
	for i, s := range servers {
		fmt.Fprintf(&b, "    server s%d %s\n", i+1, s)
	}
	return b.String()
}

func TestEchoRoundTripLogsAndCounts(t *testing.T) {
	f := start(t, cfgText("", serve(t, echo)))
	c := f.dial(t)
	c.Write([]byte("hello"))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("echo %q, %v", buf, err)
	}
	c.CloseWrite()
	if rest, err := io.ReadAll(c); err != nil || len(rest) != 0 {
		t.Fatalf("after half-close: %q, %v", rest, err)
	}
	line := f.log.wait(t, 0)
	// "6 127.0.0.1:PORT [date] l l/s1 Tw/Tc/Tt 5 -- 1/1/1/1/0 0/0"
	fields := strings.Fields(line)
	if len(fields) != 10 || fields[0] != "6" || fields[3] != "l" || fields[4] != "l/s1" || fields[6] != "5" ||
		fields[7] != "--" || fields[8] != "1/1/1/1/0" || fields[9] != "0/0" {
		t.Fatalf("tcplog line %q", line)
	}
	if tm := strings.Split(fields[5], "/"); len(tm) != 3 || tm[0] == "-1" || tm[1] == "-1" || tm[2] == "-1" {
		t.Fatalf("timers %q", fields[5])
	}
	fe, be := f.st.Frontends[0], f.st.Backends["l"]
	for name, c := range map[string]*proxy.Counters{"frontend": &fe.Counters, "backend": &be.Counters, "server": &be.Servers[0].Counters} {
		if c.BytesIn.Load() != 5 || c.BytesOut.Load() != 5 {
			t.Errorf("%s counters in=%d out=%d, want 5/5", name, c.BytesIn.Load(), c.BytesOut.Load())
		}
	}
	if n := be.Servers[0].Conns(); n != 0 {
		t.Errorf("server still holds %d connections", n)
	}
	if n := be.Counters.CurConns.Load(); n != 0 {
		t.Errorf("backend CurConns = %d after the connection", n)
	}
}

func TestLargeTransferChecksum(t *testing.T) {
	f := start(t, cfgText("", serve(t, echo)))
	c := f.dial(t)
	data := make([]byte, 64<<20)
	rand.Read(data)
	want := sha256.Sum256(data)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		c.CloseWrite()
		errc <- err
	}()
	h := sha256.New()
	n, err := io.Copy(h, c)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("data corrupted")
	}
	if line := f.log.wait(t, 0); !strings.Contains(line, fmt.Sprintf(" %d -- ", len(data))) {
		t.Fatalf("log line %q", line)
	}
}

func TestHalfClose(t *testing.T) {
	t.Run("client first", func(t *testing.T) {
		// The server answers only after the client's FIN.
		srv := serve(t, func(c *net.TCPConn) {
			n, _ := io.Copy(io.Discard, c)
			fmt.Fprintf(c, "got %d", n)
		})
		f := start(t, cfgText("", srv))
		c := f.dial(t)
		c.Write([]byte("12345"))
		c.CloseWrite()
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "got 5" {
			t.Fatalf("got %q, %v", got, err)
		}
	})
	t.Run("server first", func(t *testing.T) {
		// The server sends a banner and its FIN, then still reads the client.
		late := make(chan string, 1)
		srv := serve(t, func(c *net.TCPConn) {
			io.WriteString(c, "banner")
			c.CloseWrite()
			b, _ := io.ReadAll(c)
			late <- string(b)
		})
		f := start(t, cfgText("", srv))
		c := f.dial(t)
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "banner" {
			t.Fatalf("got %q, %v", got, err)
		}
		c.Write([]byte("after your FIN"))
		c.CloseWrite()
		select {
		case s := <-late:
			if s != "after your FIN" {
				t.Fatalf("server read %q", s)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the server never saw the client's data after its own FIN")
		}
	})
}

// silent holds the connection open without a byte until the test ends.
func silent(done <-chan struct{}) func(c *net.TCPConn) {
	return func(c *net.TCPConn) {
		io.Copy(io.Discard, c)
		<-done
	}
}

func TestInactivityTimeouts(t *testing.T) {
	cases := []struct {
		name    string
		extra   string
		send    bool   // the client sends a line first
		halfCl  bool   // the client half-closes
		srvFin  bool   // the server sends its FIN at once
		want    string // termination state
		atLeast time.Duration
	}{
		{"client", "timeout client 200ms", false, false, false, "cD", 150 * time.Millisecond},
		{"server", "timeout server 200ms", true, false, false, "sD", 150 * time.Millisecond},
		{"server-fin", "timeout server-fin 200ms", true, true, false, "sD", 150 * time.Millisecond},
		{"client-fin", "timeout client-fin 200ms", false, false, true, "cD", 150 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			done := make(chan struct{})
			defer close(done)
			handler := silent(done)
			if c.srvFin {
				handler = func(conn *net.TCPConn) {
					conn.CloseWrite()
					silent(done)(conn)
				}
			}
			f := start(t, cfgText(c.extra, serve(t, handler)))
			conn := f.dial(t)
			begin := time.Now()
			if c.send {
				conn.Write([]byte("hello"))
			}
			if c.halfCl {
				conn.CloseWrite()
			}
			line := f.log.wait(t, 0) // logged when the proxy ends the connection
			if d := time.Since(begin); d < c.atLeast || d > 3*time.Second {
				t.Fatalf("ended after %v, want about 200ms (other timeouts are 5s)", d)
			}
			if !strings.Contains(line, " "+c.want+" ") {
				t.Fatalf("log line %q, want state %s", line, c.want)
			}
			// The client sees the end: EOF, or a reset once it writes.
			conn.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := io.ReadAll(conn); err != nil && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("client connection not closed: %v", err)
			}
		})
	}
}

// TestOneWayTransferOutlivesIdleTimeouts: a download during which the client sends
// nothing lasts longer than `timeout client`: writes to the client are activity on
// the client side, as in HAProxy.
func TestOneWayTransferOutlivesIdleTimeouts(t *testing.T) {
	srv := serve(t, func(c *net.TCPConn) {
		for i := 0; i < 20; i++ {
			if _, err := c.Write(bytes.Repeat([]byte{'x'}, 100)); err != nil {
				return
			}
			time.Sleep(40 * time.Millisecond)
		}
	})
	f := start(t, cfgText("timeout client 250ms", srv))
	c := f.dial(t)
	got, err := io.ReadAll(c)
	if err != nil || len(got) != 2000 {
		t.Fatalf("read %d bytes, %v; log %q", len(got), err, f.log.wait(t, 0))
	}
	c.Close()
	if line := f.log.wait(t, 0); !strings.Contains(line, " 2000 -- ") {
		t.Fatalf("log line %q", line)
	}
}

func TestTunnelTimeoutOverridesIdleTimeouts(t *testing.T) {
	f := start(t, cfgText("timeout client 100ms; timeout server 100ms; timeout tunnel 3s", serve(t, echo)))
	c := f.dial(t)
	time.Sleep(400 * time.Millisecond)
	c.Write([]byte("still here"))
	buf := make([]byte, 10)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "still here" {
		t.Fatalf("got %q, %v", buf, err)
	}
}

func TestConnectFailures(t *testing.T) {
	// A server whose accept queue is full: SYNs are dropped and connect times out.
	ln, err := listener.Listen(config.Bind{Addr: config.Addr{Network: "tcp4", Host: "127.0.0.1", Port: 0}, Backlog: 1, UID: -1, GID: -1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 100*time.Millisecond)
		if err != nil {
			break
		}
		defer c.Close()
	}
	full := ln.Addr().String()

	live := serve(t, named("live"))
	cases := []struct {
		name    string
		extra   string
		servers []string
		answer  string // what the client reads
		log     string // expected in the log line
	}{
		{"redispatch to the second server", "balance first; retries 2; option redispatch",
			[]string{deadAddr(t), live}, "live", " l l/s2 "},
		{"retries exhausted", "retries 1", []string{deadAddr(t)}, "", " SC 1/1/0/0/1 "},
		{"timeout connect", "timeout connect 200ms; retries 0", []string{full}, "", " sC "},
		{"all servers down", "retries 0; server s9 127.0.0.1:1 disabled", nil, "", " l l/<NOSRV> "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := start(t, cfgText(c.extra, c.servers...))
			conn := f.dial(t)
			got, _ := io.ReadAll(conn)
			conn.Close()
			if string(got) != c.answer {
				t.Fatalf("client read %q, want %q", got, c.answer)
			}
			line := f.log.wait(t, 0)
			if !strings.Contains(line, c.log) {
				t.Fatalf("log line %q, want %q in it", line, c.log)
			}
			if c.answer == "" && !strings.Contains(line, "/-1/") {
				t.Fatalf("failed connect logged with a connect time: %q", line)
			}
			for _, s := range f.st.Backends["l"].Servers {
				if s.Conns() != 0 {
					t.Fatalf("server %s holds %d connections", s.Name, s.Conns())
				}
			}
		})
	}
}

func TestNoBackend(t *testing.T) {
	f := start(t, `
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:1
    log 127.0.0.1:9 local0
    option tcplog
`)
	c := f.dial(t)
	if got, _ := io.ReadAll(c); len(got) != 0 {
		t.Fatalf("read %q", got)
	}
	if line := f.log.wait(t, 0); !strings.Contains(line, " fe fe/<NOSRV> -1/-1/") || !strings.Contains(line, " 0 SC ") {
		t.Fatalf("log line %q", line)
	}
}

func TestBalancing(t *testing.T) {
	s1, s2 := serve(t, named("one")), serve(t, named("two"))
	t.Run("roundrobin", func(t *testing.T) {
		f := start(t, cfgText("balance roundrobin", s1, s2))
		var got []string
		for i := 0; i < 4; i++ {
			b, _ := io.ReadAll(f.dial(t))
			got = append(got, string(b))
		}
		if got[0] == got[1] || got[0] != got[2] || got[1] != got[3] {
			t.Fatalf("roundrobin answers %v", got)
		}
	})
	t.Run("leastconn", func(t *testing.T) {
		// Servers that hold the connection until the client closes.
		hold := func(name string) func(c *net.TCPConn) {
			return func(c *net.TCPConn) { io.WriteString(c, name); io.Copy(io.Discard, c) }
		}
		f := start(t, cfgText("balance leastconn", serve(t, hold("one")), serve(t, hold("two"))))
		first := f.dial(t)
		buf := make([]byte, 3)
		io.ReadFull(first, buf)
		a := string(buf)
		for i := 0; i < 3; i++ {
			c := f.dial(t)
			io.ReadFull(c, buf)
			if string(buf) == a {
				t.Fatalf("leastconn sent connection %d to busy server %s", i+2, a)
			}
			c.Close()
			// Wait for the proxy to release the slot before the next pick.
			deadline := time.Now().Add(2 * time.Second)
			for f.st.Backends["l"].Counters.CurConns.Load() != 1 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
		}
	})
}

func TestHardStopClosesPromptly(t *testing.T) {
	f := start(t, cfgText("", serve(t, echo)))
	c := f.dial(t)
	c.Write([]byte("x"))
	io.ReadFull(c, make([]byte, 1))
	begin := time.Now()
	f.cancel()
	if _, err := io.ReadAll(c); err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > time.Second {
		t.Fatalf("hard stop took %v", d)
	}
	if line := f.log.wait(t, 0); !strings.Contains(line, " KD ") {
		t.Fatalf("log line %q", line)
	}
}

func TestLogOptions(t *testing.T) {
	t.Run("connect line without format", func(t *testing.T) {
		f := start(t, strings.Replace(cfgText("", serve(t, echo)), "option tcplog", "", 1))
		c := f.dial(t)
		want := fmt.Sprintf("6 Connect from %s to %s (l/TCP)", c.LocalAddr(), f.addr)
		if line := f.log.wait(t, 0); line != want {
			t.Fatalf("got %q, want %q", line, want)
		}
		c.CloseWrite()
		io.ReadAll(c)
		time.Sleep(50 * time.Millisecond)
		if n := f.log.count(); n != 1 {
			t.Fatalf("%d lines logged, want only the connect line", n)
		}
	})
	t.Run("dontlognull", func(t *testing.T) {
		f := start(t, cfgText("option dontlognull", serve(t, echo)))
		c := f.dial(t)
		c.CloseWrite()
		io.ReadAll(c)
		c = f.dial(t)
		c.Write([]byte("data"))
		c.CloseWrite()
		io.ReadAll(c)
		if line := f.log.wait(t, 0); !strings.Contains(line, " 4 -- ") {
			t.Fatalf("first logged line %q: the null connection was logged", line)
		}
	})
}

func TestRelayWithoutTCP(t *testing.T) {
	// Relay also works for connections that are not *net.TCPConn (no splice, no
	// half-close: an EOF closes the peer).
	a1, a2 := net.Pipe()
	b1, b2 := net.Pipe()
	go func() {
		a2.Write([]byte("ping"))
		io.ReadFull(a2, make([]byte, 4))
		a2.Close()
	}()
	go func() {
		io.ReadFull(b2, make([]byte, 4))
		b2.Write([]byte("pong"))
		io.Copy(io.Discard, b2)
		b2.Close()
	}()
	up, down, term := Relay(a1, b1, time.Second, time.Second, 0, 0)
	if up != 4 || down != 4 || term != [2]byte{'-', '-'} {
		t.Fatalf("up=%d down=%d term=%s", up, down, term[:])
	}
}

func BenchmarkRelay(b *testing.B) {
	f := start(b, cfgText("", serve(b, func(c *net.TCPConn) { io.Copy(io.Discard, c); c.CloseWrite() })))
	chunk := make([]byte, 1<<20)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	c := f.dial(b)
	c.SetDeadline(time.Time{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	c.CloseWrite()
	io.ReadAll(c)
}

func BenchmarkConnections(b *testing.B) {
	f := start(b, cfgText("", serve(b, echo)))
	buf := make([]byte, 4)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			b.Fatal(err)
		}
		c.Write([]byte("ping"))
		io.ReadFull(c, buf)
		c.Close()
	}
}
