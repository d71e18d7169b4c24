package instance

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"hitless/internal/config"
)

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func start(t *testing.T) (*Instance, string) {
	t.Helper()
	port := freePort(t)
	sock := filepath.Join(t.TempDir(), "s.sock")
	cfg, err := config.LoadBytes("t.cfg", []byte(fmt.Sprintf(`
global
    stats socket %s level admin expose-fd listeners
defaults
    mode http
    timeout connect 1s
    timeout client 2s
    timeout server 2s
listen l
    bind 127.0.0.1:%d
    http-request return status 200 content-type text/plain string ok
`, sock, port)), nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := Start(cfg, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Stop(); in.Wait(3 * time.Second) })
	return in, "127.0.0.1:" + strconv.Itoa(port)
}

func TestServesAndReportsInfo(t *testing.T) {
	in, addr := start(t)
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Fatalf("body %q", body)
	}
	info := map[string]string{}
	for _, f := range in.Info() {
		info[f.Name] = f.Value
	}
	if info["Version"] != "test" || info["CumReq"] != "1" || info["Listeners"] != "2" || info["Stopping"] != "0" {
		t.Fatalf("info %v", info)
	}
}

// TestSocketsAreDuplicatesInNonBlockingMode: what _getsocks sends is a duplicate of
// each listener (one frontend, one stats socket), and sending it must not switch the
// shared open file description to blocking mode.
func TestSocketsAreDuplicatesInNonBlockingMode(t *testing.T) {
	in, _ := start(t)
	socks, release, err := in.Sockets()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if len(socks) != 2 {
		t.Fatalf("%d sockets, want 2", len(socks))
	}
	for _, s := range socks {
		fl, err := unix.FcntlInt(uintptr(s.FD), unix.F_GETFL, 0)
		if err != nil || fl&unix.O_NONBLOCK == 0 {
			t.Fatalf("fd %d flags %x, %v", s.FD, fl, err)
		}
	}
}

func TestSoftStopDrainsAndStopsAccepting(t *testing.T) {
	in, addr := start(t)
	// An open keep-alive connection gets Connection: close on its next request.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond)
	in.SoftStop(0)
	if !in.Stopping() {
		t.Fatal("not stopping")
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetDeadline(time.Now().Add(3 * time.Second))
	out, _ := io.ReadAll(c)
	if len(out) == 0 || !strings.Contains(string(out), "connection: close") {
		t.Fatalf("answer %q", out)
	}
	done := make(chan struct{})
	go func() { in.Drain(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("drain did not finish")
	}
	if _, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		t.Fatal("still accepting after a soft stop")
	}
}
