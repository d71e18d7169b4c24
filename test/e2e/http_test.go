package e2e

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var sigHUP = syscall.SIGHUP

const httpDefaults = `
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
`

func TestKeepAliveReuseOnBothSides(t *testing.T) {
	be := newBackend(t, "a", nil)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	startHitless(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    default_backend be
backend be
    server s1 %s
`, addr, be.addr), addr)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	const n = 50
	for i := 0; i < n; i++ {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		resp, body := readResponse(t, br)
		if resp.StatusCode != 200 || body != "a" || resp.Close {
			t.Fatalf("request %d: %d %q close=%v", i, resp.StatusCode, body, resp.Close)
		}
	}
	if got := be.requests.Load(); got != n {
		t.Fatalf("backend served %d requests, want %d", got, n)
	}
	if got := be.conns.Load(); got > 2 {
		t.Fatalf("backend saw %d connections for %d requests on one client connection", got, n)
	}
}

func TestForwardForAndHeaderRules(t *testing.T) {
	be := newBackend(t, "a", nil)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	startHitless(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    option forwardfor
    http-request set-header X-Client %%[src]
    http-request add-header X-Port %%[dst_port]
    http-request del-header X-Secret
    http-request return status 200 content-type text/plain string "pong" if { path /ping }
    http-request deny if { path_beg /admin }
    http-request deny deny_status 429 if { hdr(x-abuse) -m found }
    http-response set-header X-Served-By hitless
    http-response del-header X-Backend
    default_backend be
backend be
    server s1 %s
`, addr, be.addr), addr)
	code, body, hdr := get(t, "http://"+addr+"/x", "X-Secret", "s", "X-Client", "spoofed")
	if code != 200 || body != "a" {
		t.Fatalf("%d %q", code, body)
	}
	h := be.lastReq.Load().(http.Header)
	if h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Client") != "127.0.0.1" || h.Get("X-Secret") != "" ||
		h.Get("X-Port") != fmt.Sprint(port) || len(h.Values("X-Client")) != 1 {
		t.Fatalf("backend saw headers %v", h)
	}
	if hdr.Get("X-Served-By") != "hitless" || hdr.Get("X-Backend") != "" {
		t.Fatalf("client saw headers %v", hdr)
	}
	if code, body, _ := get(t, "http://"+addr+"/ping"); code != 200 || body != "pong" {
		t.Fatalf("return: %d %q", code, body)
	}
	if code, body, _ := get(t, "http://"+addr+"/admin/x"); code != 403 || !strings.Contains(body, "Request forbidden by administrative rules.") {
		t.Fatalf("deny: %d %q", code, body)
	}
	if code, _, _ := get(t, "http://"+addr+"/", "X-Abuse", "1"); code != 429 {
		t.Fatalf("deny_status: %d", code)
	}
}

func TestErrorAnswers(t *testing.T) {
	slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) { time.Sleep(2 * time.Second) })
	garbage := serveTCP(t, func(c net.Conn) {
		c.Read(make([]byte, 4096))
		io.WriteString(c, "this is not HTTP\r\n\r\n")
	})
	dead := freePort(t)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	startHitless(t, fmt.Sprintf(`
defaults
    mode http
    timeout connect 500ms
    timeout client 5s
    timeout server 300ms
    timeout http-request 300ms
frontend fe
    bind %s
    use_backend slow if { path /slow }
    use_backend garbage if { path /garbage }
    use_backend dead if { path /dead }
    use_backend empty if { path /empty }
backend slow
    server s1 %s
backend garbage
    server s1 %s
backend dead
    retries 1
    server s1 127.0.0.1:%d
backend empty
`, addr, slow.addr, garbage, dead), addr)
	tests := []struct {
		path, status, text string
	}{
		{"/nowhere", "503", "No server is available to handle this request."},
		{"/empty", "503", "No server is available to handle this request."},
		{"/dead", "503", "No server is available to handle this request."},
		{"/slow", "504", "The server didn't respond in time."},
		{"/garbage", "502", "The server returned an invalid or incomplete response."},
	}
	for _, tt := range tests {
		out := rawExchange(t, addr, "GET "+tt.path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
		if statusOf(out) != tt.status || !strings.Contains(out, tt.text) {
			t.Errorf("%s: got %q", tt.path, out)
		}
	}
	// 408: a request head that never completes.
	out := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n", 5*time.Second)
	if statusOf(out) != "408" || !strings.Contains(out, "Your browser didn't send a complete request in time.") {
		t.Errorf("408: got %q", out)
	}
}

// TestRequestSmugglingRejected: every ambiguous framing gets 400 and a closed connection.
func TestRequestSmugglingRejected(t *testing.T) {
	be := newBackend(t, "a", nil)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	startHitless(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    default_backend be
backend be
    server s1 %s
`, addr, be.addr), addr)
	cases := map[string]string{
		"CL.TE":               "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
		"TE.CL":               "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n",
		"two Content-Length":  "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
		"TE obfuscated":       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n",
		"space before colon":  "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n",
		"invalid header name": "GET / HTTP/1.1\r\nHost: x\r\nBad[Header]: 1\r\n\r\n",
		"bare CR":             "GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n",
		"obs-fold":            "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n  b\r\n\r\n",
		"NUL byte":            "GET / HTTP/1.1\r\nHost: x\x00\r\n\r\n",
		"bad chunk size":      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	}
	before := be.requests.Load()
	for name, raw := range cases {
		start := time.Now()
		out := rawExchange(t, addr, raw, 5*time.Second)
		if name == "bad chunk size" {
			// The head is valid, so the server may already have the request; the
			// broken body must end the exchange at once with a 400 (as HAProxy
			// 2.6 does), not leave the server waiting until "timeout server".
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("%s: connection held %v; got %q", name, took.Round(time.Millisecond), out)
			} else if statusOf(out) != "400" || strings.Count(out, "HTTP/1.1 ") != 1 {
				t.Errorf("%s: got %q", name, out)
			}
			continue
		}
		if statusOf(out) != "400" || strings.Count(out, "HTTP/1.1 ") != 1 {
			t.Errorf("%s: got %q", name, out)
		}
	}
	if got := be.requests.Load() - before; got > 1 {
		t.Fatalf("backend received %d requests from smuggling attempts", got)
	}
}

// TestLargeBodiesStreamWithBoundedMemory sends 1 GiB up and 1 GiB down through the
// proxy and checks that the proxy's peak memory stays small.
func TestLargeBodiesStreamWithBoundedMemory(t *testing.T) {
	const size = 1 << 30
	be := newBackend(t, "big", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(size))
		io.CopyN(w, zeroReader{}, size)
	})
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p := startHitless(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    default_backend be
backend be
    server s1 %s
`, addr, be.addr), addr)

	// Upload, chunked, with a checksum.
	seed := make([]byte, 1<<20)
	rand.Read(seed)
	want := sha256.New()
	pr, pw := io.Pipe()
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := 0; i < size/len(seed); i++ {
			want.Write(seed)
			if _, err := pw.Write(seed); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", "http://"+addr+"/up", pr)
	client := &http.Client{Timeout: 120 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	<-sent
	if string(body) != fmt.Sprintf("%d %s", size, hex.EncodeToString(want.Sum(nil))) {
		t.Fatalf("upload: %d %q", resp.StatusCode, body)
	}

	// Download, content-length.
	resp, err = client.Get("http://" + addr + "/down")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != size {
		t.Fatalf("download: %d bytes, %v", n, err)
	}
	if hwm := vmHWM(t, p.cmd.Process.Pid); hwm > 100<<10 {
		t.Fatalf("proxy peak memory %d KiB for 1 GiB each way", hwm)
	} else {
		t.Logf("proxy peak memory %d KiB after 1 GiB up and 1 GiB down", hwm)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestWebSocketEchoThroughProxy upgrades a connection and exchanges frames.
func TestWebSocketEchoThroughProxy(t *testing.T) {
	wsAddr := serveTCP(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil || !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n")
		// Echo frames back unmasked.
		for {
			payload, err := readFrame(br)
			if err != nil {
				return
			}
			c.Write(frame(payload, false))
		}
	})
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	startHitless(t, httpDefaults+fmt.Sprintf(`
    timeout tunnel 10s
frontend fe
    bind %s
    default_backend be
backend be
    server s1 %s
`, addr, wsAddr), addr)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	for i := 0; i < 20; i++ {
		msg := fmt.Sprintf("message %d %s", i, strings.Repeat("x", i*100))
		c.Write(frame([]byte(msg), true))
		got, err := readFrame(br)
		if err != nil || string(got) != msg {
			t.Fatalf("echo %d: %q %v", i, got, err)
		}
	}
}

// frame builds a WebSocket text frame (RFC 6455), masked when a client sends it.
func frame(payload []byte, masked bool) []byte {
	b := []byte{0x81}
	mask := byte(0)
	if masked {
		mask = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, mask|byte(n))
	case n < 65536:
		b = append(b, mask|126, byte(n>>8), byte(n))
	}
	if masked {
		key := []byte{1, 2, 3, 4}
		b = append(b, key...)
		for i, c := range payload {
			b = append(b, c^key[i%4])
		}
		return b
	}
	return append(b, payload...)
}

func readFrame(br *bufio.Reader) ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, err
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var ext [2]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return nil, err
		}
		n = int(ext[0])<<8 | int(ext[1])
	}
	var key [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		io.ReadFull(br, key[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		return nil, err
	}
	if masked {
		for i := range p {
			p[i] ^= key[i%4]
		}
	}
	return p, nil
}

func TestMaxconnQueueAndTimeout(t *testing.T) {
	var inflight atomic.Int64
	var maxSeen atomic.Int64
	be := newBackend(t, "q", func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		for {
			m := maxSeen.Load()
			if n <= m || maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(300 * time.Millisecond)
		inflight.Add(-1)
		io.WriteString(w, "q")
	})
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	startHitless(t, httpDefaults+fmt.Sprintf(`
    timeout queue 500ms
frontend fe
    bind %s
    default_backend be
backend be
    server s1 %s maxconn 2
`, addr, be.addr), addr)
	results := make(chan int, 8)
	for i := 0; i < 8; i++ {
		go func() {
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/")
			if err != nil {
				results <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results <- resp.StatusCode
		}()
	}
	counts := map[int]int{}
	for i := 0; i < 8; i++ {
		counts[<-results]++
	}
	if maxSeen.Load() > 2 {
		t.Fatalf("server saw %d concurrent requests with maxconn 2", maxSeen.Load())
	}
	// 2 at a time, 300 ms each, 500 ms of queue: some are served from the queue and
	// the rest get 503.
	if counts[200] < 4 || counts[503] < 1 || counts[200]+counts[503] != 8 {
		t.Fatalf("results %v", counts)
	}
}

func TestHTTPLogLineFormat(t *testing.T) {
	logs := newUDPLogs(t)
	be := newBackend(t, "a", nil)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	startHitless(t, fmt.Sprintf(`
global
    log %s local0
defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s
    default_backend be
backend be
    server s1 %s
`, logs.addr(), addr, be.addr), addr)
	get(t, "http://"+addr+"/logged?x=1")
	var line string
	waitFor(3*time.Second, func() bool { line = logs.find("GET /logged?x=1"); return line != "" })
	// <134>Nov 25 06:34:21 hitless[PID]: 127.0.0.1:PORT [25/Nov/2026:06:34:21.123] fe be/s1 0/0/0/1/1 200 ... - - ---- 1/1/0/0/0 0/0 "GET /logged?x=1 HTTP/1.1"
	fields := strings.Fields(line)
	if len(fields) < 18 || !strings.HasPrefix(line, "<134>") || !strings.HasPrefix(fields[3], "hitless[") ||
		fields[6] != "fe" || fields[7] != "be/s1" || fields[9] != "200" || fields[11] != "-" || fields[13] != "----" ||
		!strings.HasSuffix(line, `"GET /logged?x=1 HTTP/1.1"`) {
		t.Fatalf("log line %q", line)
	}
}
