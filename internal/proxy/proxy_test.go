package proxy

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"hitless/internal/balance"
	"hitless/internal/config"
)

// backendOf builds a backend from server specs without a config file.
func backendOf(t *testing.T, p *config.Proxy) *Backend {
	t.Helper()
	p.Cap = config.CapBackend
	if p.Name == "" {
		p.Name = "be"
	}
	for _, s := range p.Servers {
		if s.Weight == 0 {
			s.Weight = 1
		}
		if s.Host == "" {
			s.Host = "127.0.0.1"
		}
		if s.Port == 0 {
			s.Port = 9
		}
	}
	st, err := Build(&config.Config{Proxies: []*config.Proxy{p}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st.Backends[p.Name]
}

func TestAcquireSkipsDownAndMaint(t *testing.T) {
	b := backendOf(t, &config.Proxy{Servers: []*config.Server{{Name: "a"}, {Name: "b"}, {Name: "c", Disabled: true}}})
	b.Servers[0].SetHealth(OpStopped, ByCLI)
	for range 5 {
		s, err := b.acquire(context.Background(), &balance.Request{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != "b" {
			t.Fatalf("picked %s, want b", s.Name)
		}
		s.release()
	}
	b.Servers[1].SetHealth(OpStopped, ByCLI)
	if _, err := b.acquire(context.Background(), &balance.Request{}, nil); !errors.Is(err, ErrNoServer) {
		t.Fatalf("err = %v, want ErrNoServer", err)
	}
}

func TestBackupOnlyWhenNoActive(t *testing.T) {
	tests := []struct {
		name       string
		allBackups bool
		want       map[string]bool
	}{
		{"first backup only", false, map[string]bool{"b1": true}},
		{"all backups", true, map[string]bool{"b1": true, "b2": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := backendOf(t, &config.Proxy{AllBackups: tt.allBackups, Servers: []*config.Server{
				{Name: "a"}, {Name: "b1", Backup: true}, {Name: "b2", Backup: true}}})
			pick := func() string {
				s, err := b.acquire(context.Background(), &balance.Request{}, nil)
				if err != nil {
					t.Fatal(err)
				}
				s.release()
				return s.Name
			}
			for range 4 {
				if got := pick(); got != "a" {
					t.Fatalf("with the active server up, picked %s", got)
				}
			}
			b.Servers[0].SetHealth(OpStopped, ByCLI)
			seen := map[string]bool{}
			for range 10 {
				seen[pick()] = true
			}
			if len(seen) != len(tt.want) {
				t.Fatalf("backups used: %v, want %v", seen, tt.want)
			}
			for n := range tt.want {
				if !seen[n] {
					t.Fatalf("backups used: %v, want %v", seen, tt.want)
				}
			}
		})
	}
}

func TestQueueWaitsForSlotAndTimesOut(t *testing.T) {
	b := backendOf(t, &config.Proxy{
		Timeouts: config.Timeouts{Queue: 200 * time.Millisecond},
		Servers:  []*config.Server{{Name: "a", MaxConn: 1}},
	})
	s, err := b.acquire(context.Background(), &balance.Request{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A second request queues, and gets the slot when the first releases it.
	var wg sync.WaitGroup
	wg.Add(1)
	var got *Server
	var gotErr error
	go func() {
		defer wg.Done()
		got, gotErr = b.acquire(context.Background(), &balance.Request{}, nil)
	}()
	deadline := time.Now().Add(time.Second)
	for b.Queued() != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if b.Queued() != 1 {
		t.Fatalf("queued = %d, want 1", b.Queued())
	}
	s.release()
	wg.Wait()
	if gotErr != nil || got != s {
		t.Fatalf("queued acquire: %v %v", got, gotErr)
	}
	// With the slot held, the next one times out after timeout queue.
	start := time.Now()
	if _, err := b.acquire(context.Background(), &balance.Request{}, nil); !errors.Is(err, ErrQueueTimeout) {
		t.Fatalf("err = %v, want ErrQueueTimeout", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Fatalf("queue timeout after %v, want about 200ms", d)
	}
	if b.Queued() != 0 {
		t.Fatalf("queued = %d after timeout, want 0", b.Queued())
	}
	got.release()
	if s.Conns() != 0 {
		t.Fatalf("conns = %d, want 0", s.Conns())
	}
}

func TestConnectRetriesThenRedispatches(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := dead.Addr().(*net.TCPAddr).Port
	dead.Close()
	livePort := ln.Addr().(*net.TCPAddr).Port

	b := backendOf(t, &config.Proxy{
		Retries:    2,
		Redispatch: true,
		Timeouts:   config.Timeouts{Connect: 20 * time.Millisecond},
		Balance:    config.Balance{Algorithm: "first"},
		Servers:    []*config.Server{{Name: "dead", Port: deadPort}, {Name: "live", Port: livePort}},
	})
	a, err := b.Connect(context.Background(), &balance.Request{}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer a.Conn.Close()
	defer a.Server.Release()
	if a.Server.Name != "live" || a.Retries != 2 {
		t.Fatalf("server %s after %d retries, want live after 2", a.Server.Name, a.Retries)
	}
	if n := b.Servers[0].Conns(); n != 0 {
		t.Fatalf("dead server holds %d slots", n)
	}

	// Without redispatch every attempt stays on the failing server.
	b2 := backendOf(t, &config.Proxy{
		Name:     "be2",
		Retries:  1,
		Timeouts: config.Timeouts{Connect: 20 * time.Millisecond},
		Balance:  config.Balance{Algorithm: "first"},
		Servers:  []*config.Server{{Name: "dead", Port: deadPort}, {Name: "live", Port: livePort}},
	})
	a2, err := b2.Connect(context.Background(), &balance.Request{}, nil)
	if !errors.Is(err, ErrConnect) {
		t.Fatalf("err = %v, want ErrConnect", err)
	}
	if a2.Server.Name != "dead" || a2.Retries != 1 {
		t.Fatalf("last server %s after %d retries", a2.Server.Name, a2.Retries)
	}
}
