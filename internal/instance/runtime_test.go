package instance

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hitless/internal/config"
)

// request sends one HTTP request on a new connection and reports whether the answer
// came within d.
func answered(addr string, d time.Duration) bool {
	c, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(d))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	b, _ := io.ReadAll(c)
	return bytes.HasPrefix(b, []byte("HTTP/1.1 200"))
}

// TestDisableFrontendQueuesInTheKernel: a disabled frontend accepts nothing, but its
// socket stays open: a connection made meanwhile is answered once it is enabled.
func TestDisableFrontendQueuesInTheKernel(t *testing.T) {
	in, addr := start(t)
	fe := in.State.Frontends[0]
	if !in.DisableFrontend(fe) || in.DisableFrontend(fe) {
		t.Fatal("disable twice should succeed once")
	}
	if in.FrontendStatus(fe) != "PAUSED" {
		t.Fatalf("status %s", in.FrontendStatus(fe))
	}
	if answered(addr, 300*time.Millisecond) {
		t.Fatal("a disabled frontend answered")
	}
	done := make(chan bool, 1)
	go func() { done <- answered(addr, 3*time.Second) }()
	time.Sleep(100 * time.Millisecond)
	// SIGTTIN must not re-enable a disabled frontend.
	in.Pause()
	in.Resume()
	select {
	case <-done:
		t.Fatal("answered while disabled")
	case <-time.After(200 * time.Millisecond):
	}
	if !in.EnableFrontend(fe) || in.EnableFrontend(fe) {
		t.Fatal("enable twice should succeed once")
	}
	if !<-done {
		t.Fatal("the queued connection was not served after enable frontend")
	}
	if in.FrontendStatus(fe) != "OPEN" {
		t.Fatalf("status %s", in.FrontendStatus(fe))
	}
}

// TestSetMaxConnGlobalHoldsAndReleases: at a global maxconn of 1, a second connection
// waits in the kernel's queue while the first is open; raising the limit lets it in.
func TestSetMaxConnGlobalHoldsAndReleases(t *testing.T) {
	in, addr := start(t)
	if cur, initial := in.MaxConn(); cur != initial {
		t.Fatalf("maxconn %d, initial %d", cur, initial)
	}
	in.SetMaxConn(1)
	hold, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	time.Sleep(100 * time.Millisecond)
	done := make(chan bool, 1)
	go func() { done <- answered(addr, 3*time.Second) }()
	select {
	case <-done:
		t.Fatal("served beyond the global maxconn")
	case <-time.After(300 * time.Millisecond):
	}
	in.SetMaxConn(0) // back to the initial limit
	if !<-done {
		t.Fatal("not served once the limit was raised")
	}
	fe := in.State.Frontends[0]
	in.SetFrontendMaxConn(fe, 0)
	if answered(addr, 300*time.Millisecond) {
		t.Fatal("served at a frontend maxconn of 0")
	}
	in.SetFrontendMaxConn(fe, 10)
	if !answered(addr, 3*time.Second) || in.FrontendMaxConn(fe) != 10 {
		t.Fatal("not served at a frontend maxconn of 10")
	}
}

// syncBuf is a log sink for tests.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServerStateFiles: servers take maintenance, weight, address and health from
// the state files their backends load; a missing file is a warning.
func TestServerStateFiles(t *testing.T) {
	dir := t.TempDir()
	state := "1\n# be_id be_name srv_id srv_name ...\n" +
		"2 a 1 s1 127.0.0.9 2 1 1 1 38 8 2 0 14 0 0 0 - 9999 - 0 0 - - 0\n" +
		"2 a 2 s2 127.0.0.1 0 0 7 1 38 8 2 0 6 0 0 0 - 81 - 0 0 - - 0\n" +
		"2 a 3 gone 127.0.0.1 2 1 1 1 38 8 2 0 6 0 0 0 - 81 - 0 0 - - 0\n" +
		"3 nosuch 1 s1 127.0.0.1 2 1 1 1 38 8 2 0 6 0 0 0 - 81 - 0 0 - - 0\n"
	if err := os.WriteFile(filepath.Join(dir, "global"), []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadBytes("t.cfg", []byte(fmt.Sprintf(`
global
    server-state-base %s
    server-state-file global
defaults
    mode http
    timeout connect 1s
    timeout client 2s
    timeout server 2s
    load-server-state-from-file global
backend a
    server s1 127.0.0.1:80
    server s2 127.0.0.1:81
backend b
    load-server-state-from-file local
    server s1 127.0.0.1:80
backend c
    load-server-state-from-file none
    server s1 127.0.0.1:80
`, dir)), nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuf
	in, err := Start(cfg, Options{Events: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { in.Stop(); in.Wait(3 * time.Second) }()
	a := in.State.Backends["a"].Servers
	if !a[0].Maint() || a[0].Addr() != "127.0.0.9:9999" {
		t.Errorf("s1: maint %v addr %s", a[0].Maint(), a[0].Addr())
	}
	if a[1].Up() || a[1].Weight() != 7 {
		t.Errorf("s2: up %v weight %d", a[1].Up(), a[1].Weight())
	}
	out := logs.String()
	for _, want := range []string{
		"Proxy 'b': Can't open server state file '" + filepath.Join(dir, "b") + "': No such file or directory.",
		"Server a/s2 is DOWN, changed from server-state after a reload.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if s := in.State.Backends["c"].Servers[0]; s.Maint() || !s.Up() {
		t.Error("backend c loaded a state it should not")
	}
}

// TestSoftStopEndsWithADisabledFrontend: the accept loop of a disabled frontend, or of
// one at its maxconn, must not keep an old process alive after a soft stop.
func TestSoftStopEndsWithADisabledFrontend(t *testing.T) {
	in, _ := start(t)
	fe := in.State.Frontends[0]
	in.DisableFrontend(fe)
	in.SetMaxConn(0)
	in.SetFrontendMaxConn(fe, 0)
	in.Pause()
	in.SoftStop(0)
	done := make(chan struct{})
	go func() { in.Drain(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("the accept loops did not end after the soft stop")
	}
}
