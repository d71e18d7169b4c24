package e2e

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// threeBackends starts backends a, b and c.
func threeBackends(t *testing.T) []*backend {
	return []*backend{newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "c", nil)}
}

// balanced starts hitless with one backend using algo and the given server lines.
func balanced(t *testing.T, algo string, servers string, extra string) string {
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	startHitless(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    default_backend be
backend be
    balance %s
    %s
%s`, addr, algo, extra, servers), addr)
	return addr
}

func serverLines(bs []*backend, opts ...string) string {
	var b strings.Builder
	for i, be := range bs {
		o := ""
		if i < len(opts) {
			o = opts[i]
		}
		fmt.Fprintf(&b, "    server %s %s %s\n", be.name, be.addr, o)
	}
	return b.String()
}

func count(t *testing.T, addr string, n int, hdr func(i int) []string, path func(i int) string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := 0; i < n; i++ {
		p := "/"
		if path != nil {
			p = path(i)
		}
		var h []string
		if hdr != nil {
			h = hdr(i)
		}
		code, body, _ := get(t, "http://"+addr+p, h...)
		if code != 200 {
			t.Fatalf("request %d: status %d", i, code)
		}
		got[body]++
	}
	return got
}

func TestBalanceWeightedRoundRobin(t *testing.T) {
	for _, algo := range []string{"roundrobin", "static-rr"} {
		t.Run(algo, func(t *testing.T) {
			bs := threeBackends(t)
			addr := balanced(t, algo, serverLines(bs, "weight 1", "weight 2", "weight 3"), "")
			got := count(t, addr, 60, nil, nil)
			if got["a"] != 10 || got["b"] != 20 || got["c"] != 30 {
				t.Fatalf("distribution %v, want a:10 b:20 c:30", got)
			}
		})
	}
}

func TestBalanceRandomSpreads(t *testing.T) {
	bs := threeBackends(t)
	addr := balanced(t, "random", serverLines(bs), "")
	got := count(t, addr, 90, nil, nil)
	for _, b := range bs {
		if got[b.name] < 10 {
			t.Fatalf("distribution %v", got)
		}
	}
}

func TestBalanceHashesAreSticky(t *testing.T) {
	tests := []struct {
		algo string
		hdr  func(k int) []string
		path func(k int) string
	}{
		{"uri", nil, func(k int) string { return fmt.Sprintf("/item/%d?v=%d", k%7, k) }},
		{"url_param user", nil, func(k int) string { return fmt.Sprintf("/x?user=u%d&v=%d", k%7, k) }},
		{"hdr(X-User)", func(k int) []string { return []string{"X-User", fmt.Sprintf("u%d", k%7)} }, nil},
		{"source", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.algo, func(t *testing.T) {
			bs := threeBackends(t)
			addr := balanced(t, tt.algo, serverLines(bs), "")
			// Requests with the same key (k%7) must land on the same server.
			byKey := map[int]string{}
			for k := 0; k < 35; k++ {
				p := "/"
				if tt.path != nil {
					p = tt.path(k)
				}
				var h []string
				if tt.hdr != nil {
					h = tt.hdr(k)
				}
				_, body, _ := get(t, "http://"+addr+p, h...)
				key := k % 7
				if tt.algo == "source" {
					key = 0
				}
				if prev, ok := byKey[key]; ok && prev != body {
					t.Fatalf("key %d went to %s and to %s", key, prev, body)
				}
				byKey[key] = body
			}
			if tt.algo != "source" {
				used := map[string]bool{}
				for _, v := range byKey {
					used[v] = true
				}
				if len(used) < 2 {
					t.Fatalf("7 keys all went to %v", used)
				}
			}
		})
	}
}

// slowBackends answer after a pause, so that connections overlap.
func slowBackends(t *testing.T, d time.Duration) []*backend {
	var bs []*backend
	for _, n := range []string{"a", "b", "c"} {
		name := n
		bs = append(bs, newBackend(t, name, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				time.Sleep(d)
			}
			io.WriteString(w, name)
		}))
	}
	return bs
}

func TestBalanceLeastConnPrefersIdleServer(t *testing.T) {
	bs := slowBackends(t, 1500*time.Millisecond)
	addr := balanced(t, "leastconn", serverLines(bs), "")
	// Hold one slow request on each of two servers, then every quick request must
	// go to the idle third one.
	var wg sync.WaitGroup
	busy := make(chan string, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, body, _ := get(t, "http://"+addr+"/slow")
			busy <- body
		}()
		time.Sleep(150 * time.Millisecond)
	}
	got := count(t, addr, 5, nil, nil)
	wg.Wait()
	close(busy)
	held := map[string]bool{}
	for b := range busy {
		held[b] = true
	}
	for name, n := range got {
		if held[name] {
			t.Fatalf("a quick request went to busy server %s (%v, busy %v)", name, got, held)
		}
		if n != 5 {
			t.Fatalf("quick requests spread over %v, want all on the idle server", got)
		}
	}
}

func TestBalanceFirstFillsUpToMaxconn(t *testing.T) {
	bs := slowBackends(t, 1500*time.Millisecond)
	addr := balanced(t, "first", serverLines(bs, "maxconn 2", "maxconn 2", "maxconn 2"), "")
	if got := count(t, addr, 5, nil, nil); got["a"] != 5 {
		t.Fatalf("idle farm: %v, want everything on a", got)
	}
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); get(t, "http://"+addr+"/slow") }()
	}
	time.Sleep(300 * time.Millisecond)
	if got := count(t, addr, 2, nil, nil); got["b"] != 2 {
		t.Fatalf("with a full: %v, want b", got)
	}
	wg.Wait()
}

func TestBackupTakesOverOnlyWhenActivesAreDown(t *testing.T) {
	for _, all := range []bool{false, true} {
		t.Run(fmt.Sprintf("allbackups=%v", all), func(t *testing.T) {
			bs := threeBackends(t)
			extra := "option httpchk GET /\n"
			if all {
				extra += "    option allbackups\n"
			}
			check := "check inter 100ms fall 1 rise 1"
			addr := balanced(t, "roundrobin", serverLines(bs, check, check+" backup", check+" backup"), extra)
			if got := count(t, addr, 6, nil, nil); got["a"] != 6 {
				t.Fatalf("with the active server up: %v", got)
			}
			bs[0].stop()
			if !waitFor(5*time.Second, func() bool {
				_, body, _ := get(t, "http://"+addr+"/")
				return body != "a" && body != ""
			}) {
				t.Fatal("backups never took over")
			}
			got := count(t, addr, 10, nil, nil)
			if all && (got["b"] == 0 || got["c"] == 0) || !all && got["b"] != 10 {
				t.Fatalf("backup distribution %v", got)
			}
		})
	}
}

// TestHealthCheckTransitionsAreLoggedAndHonoured: a dead server goes DOWN (HAProxy's
// message), gets no traffic, and comes back UP.
func TestHealthCheckTransitionsAreLoggedAndHonoured(t *testing.T) {
	a := newBackend(t, "a", nil)
	b := newBackend(t, "b", nil)
	// b's port is reused by a restarted server below.
	bport := b.port
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p := startHitless(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    default_backend be
backend be
    option httpchk GET /health
    server a %s check inter 100ms rise 2 fall 2
    server b %s check inter 100ms rise 2 fall 2
`, addr, a.addr, b.addr), addr)
	b.stop()
	if !waitFor(5*time.Second, func() bool {
		return strings.Contains(p.out.String(), "Server be/b is DOWN, reason: Layer4 connection problem")
	}) {
		t.Fatalf("no DOWN message:\n%s", p.out.String())
	}
	if !strings.Contains(p.out.String(), `info: "Connection refused", check duration: `) || !strings.Contains(p.out.String(), "1 active and 0 backup servers left.") {
		t.Fatalf("DOWN message not in HAProxy's words:\n%s", p.out.String())
	}
	if got := count(t, addr, 10, nil, nil); got["a"] != 10 {
		t.Fatalf("traffic while b is down: %v", got)
	}
	// Bring b back on the same port.
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", bport))
	if err != nil {
		t.Skipf("port %d taken meanwhile: %v", bport, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "b") })}
	go srv.Serve(ln)
	defer srv.Close()
	if !waitFor(5*time.Second, func() bool {
		return strings.Contains(p.out.String(), "Server be/b is UP, reason: Layer7 check passed, code: 200")
	}) {
		t.Fatalf("no UP message:\n%s", p.out.String())
	}
	if got := count(t, addr, 10, nil, nil); got["b"] == 0 {
		t.Fatalf("no traffic after b came back: %v", got)
	}
}

func TestTCPModeEchoLargeTransferAndHalfClose(t *testing.T) {
	echoAddr := serveTCP(t, func(c net.Conn) {
		io.Copy(c, c)
		c.(*net.TCPConn).CloseWrite()
	})
	logs := newUDPLogs(t)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	startHitless(t, fmt.Sprintf(`
defaults
    mode tcp
    log %s local0
    option tcplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen echo
    bind %s
    server s1 %s
`, logs.addr(), addr, echoAddr), addr)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := bytes.Repeat([]byte("hitless!"), 32<<20/8)
	want := sha256.Sum256(data)
	go func() {
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
	}()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	h := sha256.New()
	n, err := io.Copy(h, c)
	if err != nil || n != int64(len(data)) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("echo: %d bytes, %v", n, err)
	}
	c.Close()
	var line string
	// The readiness probe leaves a 0-byte line of its own: pick the transfer's line.
	waitFor(3*time.Second, func() bool { line = logs.find(fmt.Sprintf(" %d -- ", len(data))); return line != "" })
	// ... 127.0.0.1:PORT [date] echo echo/s1 0/0/12 33554432 -- 1/1/1/1/0 0/0
	if !strings.Contains(line, " echo echo/s1 ") || !strings.HasSuffix(line, "/0 0/0") {
		t.Fatalf("tcplog line %q", line)
	}
}
