package e2e

import (
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestGarbageNeverCrashesTheProcess throws random bytes at the HTTP port, the TCP port
// and the stats socket, with clients that vanish mid-way; the process must keep serving.
func TestGarbageNeverCrashesTheProcess(t *testing.T) {
	be := newBackend(t, "ok", nil)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	tcpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	sock := filepath.Join(t.TempDir(), "s.sock")
	p := startHitless(t, fmt.Sprintf(`
global
    stats socket %s level admin expose-fd listeners
defaults
    timeout connect 1s
    timeout client 1s
    timeout server 1s
    timeout http-request 500ms
frontend web
    mode http
    bind %s
    default_backend be
backend be
    mode http
    server s1 %s
listen raw
    mode tcp
    bind %s
    server s1 %s
`, sock, httpAddr, be.addr, tcpAddr, be.addr), httpAddr, tcpAddr)
	rng := rand.New(rand.NewPCG(1, 2))
	prefixes := []string{"", "GET / HTTP/1.1\r\n", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "show ", "_getsocks\n", "GET / HTTP/1.1\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"}
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 300 && time.Now().Before(deadline); i++ {
		network, addr := "tcp", httpAddr
		switch i % 3 {
		case 1:
			addr = tcpAddr
		case 2:
			network, addr = "unix", sock
		}
		c, err := net.DialTimeout(network, addr, time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v\n%s", i, err, p.out.String())
		}
		junk := make([]byte, rng.IntN(2048))
		for j := range junk {
			junk[j] = byte(rng.IntN(256))
		}
		c.SetDeadline(time.Now().Add(200 * time.Millisecond))
		c.Write(append([]byte(prefixes[rng.IntN(len(prefixes))]), junk...))
		if rng.IntN(2) == 0 {
			c.Read(make([]byte, 512))
		}
		c.Close() // vanish, whatever state the exchange is in
	}
	select {
	case <-p.done:
		t.Fatalf("hitless exited:\n%s", p.out.String())
	default:
	}
	if code, body, _ := get(t, "http://"+httpAddr+"/"); code != 200 || body != "ok" {
		t.Fatalf("after the garbage: %d %q", code, body)
	}
}
