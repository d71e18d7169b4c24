package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"hitless/internal/balance"
	"hitless/internal/config"
)

// TestSlowstart: after a server comes back UP its weight ramps from 1 to the full
// weight over slowstart; at start-up it has its full weight at once.
func TestSlowstart(t *testing.T) {
	sc := &config.Server{Name: "a", Weight: 100}
	sc.Slowstart = time.Second
	b := backendOf(t, &config.Proxy{Servers: []*config.Server{sc}})
	s := b.Servers[0]
	if w := s.EffectiveWeight(); w != 100 {
		t.Fatalf("at start-up: %d", w)
	}
	s.CheckChange(OpStopped, "")
	s.CheckChange(OpRunning, "")
	if w := s.EffectiveWeight(); w < 1 || w > 10 {
		t.Fatalf("just back: %d", w)
	}
	s.upAt.Store(time.Now().Add(-500 * time.Millisecond).UnixNano())
	if w := s.EffectiveWeight(); w < 45 || w > 55 {
		t.Fatalf("half way: %d", w)
	}
	s.upAt.Store(time.Now().Add(-2 * time.Second).UnixNano())
	if w := s.EffectiveWeight(); w != 100 {
		t.Fatalf("after slowstart: %d", w)
	}
}

// TestMinconnFullconn: with minconn and maxconn the limit grows from minconn to
// maxconn as the backend's connections approach fullconn.
func TestMinconnFullconn(t *testing.T) {
	sc := &config.Server{Name: "a", MaxConn: 100}
	sc.MinConn = 10
	b := backendOf(t, &config.Proxy{FullConn: 200, Servers: []*config.Server{sc}})
	s := b.Servers[0]
	for _, tt := range []struct{ be, limit int64 }{{0, 10}, {50, 25}, {100, 50}, {200, 100}, {400, 100}} {
		b.Counters.CurConns.Store(tt.be)
		if got := s.limit(); got != tt.limit {
			t.Errorf("backend at %d: limit %d, want %d", tt.be, got, tt.limit)
		}
	}
}

// TestMaxQueue: with maxqueue on every server, a request beyond their sum is refused
// at once instead of waiting.
func TestMaxQueue(t *testing.T) {
	sc := &config.Server{Name: "a", MaxConn: 1, MaxQueue: 1}
	b := backendOf(t, &config.Proxy{Timeouts: config.Timeouts{Queue: 2 * time.Second}, Servers: []*config.Server{sc}})
	s, err := b.acquire(context.Background(), &balance.Request{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	queued := make(chan error, 1)
	go func() {
		s2, err := b.acquire(context.Background(), &balance.Request{}, nil)
		if err == nil {
			s2.release()
		}
		queued <- err
	}()
	for b.Queued() == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if _, err := b.acquire(context.Background(), &balance.Request{}, nil); !errors.Is(err, ErrQueueFull) || time.Since(start) > time.Second {
		t.Fatalf("third request: %v after %s, want ErrQueueFull at once", err, time.Since(start))
	}
	s.release()
	if err := <-queued; err != nil {
		t.Fatalf("queued request: %v", err)
	}
}

// TestServerIDs: `id` is kept and each other server takes the first free number from
// its position on, as HAProxy numbers them.
func TestServerIDs(t *testing.T) {
	for _, tt := range []struct {
		ids  [3]int
		want [3]int
	}{
		{[3]int{0, 1, 0}, [3]int{2, 1, 3}},
		{[3]int{5, 0, 0}, [3]int{5, 2, 3}},
		{[3]int{0, 0, 2}, [3]int{1, 3, 2}},
	} {
		var servers []*config.Server
		for i, id := range tt.ids {
			s := &config.Server{Name: string(rune('a' + i))}
			s.ID = id
			servers = append(servers, s)
		}
		be := backendOf(t, &config.Proxy{Servers: servers})
		if got := [3]int{be.Servers[0].ID, be.Servers[1].ID, be.Servers[2].ID}; got != tt.want {
			t.Errorf("ids %v: %v, want %v", tt.ids, got, tt.want)
		}
	}
}

// TestDialSourceAndTarget: `source` sets the local address of server connections,
// a port-less server takes the client's destination port, +N adds to it, and
// send-proxy-v2 starts with the client's addresses.
func TestDialSourceAndTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		b := make([]byte, 28)
		io.ReadFull(c, b)
		got <- c.RemoteAddr().(*net.TCPAddr).IP.String() + " " + string(b[:12])
	}()
	sc := &config.Server{Name: "a", Port: -1000}
	sc.PortMode, sc.Source, sc.TFO, sc.SendProxy = config.PortOffset, "127.0.0.2", true, 2
	b := backendOf(t, &config.Proxy{Timeouts: config.Timeouts{Connect: time.Second}, Servers: []*config.Server{sc}})
	s := b.Servers[0]
	r := &balance.Request{Client: netip.MustParseAddrPort("203.0.113.7:4000"), Frontend: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port+1000))}
	if tgt := s.Target(r); tgt != ln.Addr().String() {
		t.Fatalf("target %s, want %s", tgt, ln.Addr())
	}
	c, err := b.dialer.dial(context.Background(), s, r)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case g := <-got:
		if g != "127.0.0.2 \r\n\r\n\x00\r\nQUIT\n" {
			t.Fatalf("server saw %q", g)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("nothing received")
	}
	if !s.Private() {
		t.Fatal("a send-proxy server's connections must not be shared")
	}
}
