package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoOn listens on addr and echoes, prefixed with tag.
func echoOn(t *testing.T, addr, tag string) {
	t.Helper()
	serveTCPOn(t, addr, func(c net.Conn) {
		io.WriteString(c, tag)
		io.Copy(c, c)
	})
}

// hello connects to addr, sends a line and returns the first bytes answered.
func hello(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	io.WriteString(c, "x\n")
	b := make([]byte, 64)
	n, _ := io.ReadAtLeast(c, b, 3)
	return string(b[:n])
}

// TestServerWithoutPortAndOffsets: a server without a port connects to the port the
// client connected to; `+N` adds N to it.
func TestServerWithoutPortAndOffsets(t *testing.T) {
	p1, p2 := freePort(t), freePort(t)
	echoOn(t, fmt.Sprintf("127.0.0.2:%d", p1), "same:")
	echoOn(t, fmt.Sprintf("127.0.0.2:%d", p2+1000), "offset:")
	fe1, fe2 := fmt.Sprintf("127.0.0.1:%d", p1), fmt.Sprintf("127.0.0.1:%d", p2)
	cfg := fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen same
    bind %s
    server s1 127.0.0.2
listen offset
    bind %s
    server s1 127.0.0.2:+1000
`, fe1, fe2)
	startHitless(t, cfg, fe1, fe2)
	if got := hello(t, fe1); !strings.HasPrefix(got, "same:") {
		t.Fatalf("port-less server: %q", got)
	}
	if got := hello(t, fe2); !strings.HasPrefix(got, "offset:") {
		t.Fatalf("+1000 server: %q", got)
	}
}

// agent is a scripted agent-check server: it answers each connection with the
// current reply and records what the check sent.
type agent struct {
	reply atomic.Value
	sent  atomic.Value
}

func (a *agent) serve(t *testing.T) string {
	return serveTCP(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 256)
		n, _ := c.Read(buf)
		a.sent.Store(string(buf[:n]))
		r, _ := a.reply.Load().(string)
		io.WriteString(c, r)
	})
}

// TestAgentCheck: agent replies change the weight, maxconn, admin and operational
// state as HAProxy applies them; agent-send is what the agent receives.
func TestAgentCheck(t *testing.T) {
	var ag agent
	ag.reply.Store("up 100%\n")
	agentAddr := ag.serve(t)
	_, agentPort, _ := net.SplitHostPort(agentAddr)
	be := serveTCP(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	dir := t.TempDir()
	sock, fe := dir+"/s.sock", fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := healthConfig(sock, fe) + fmt.Sprintf(`backend app
    server s1 %s weight 20 check inter 200ms rise 1 fall 1 agent-check agent-port %s agent-inter 100ms agent-send "hello\n"
`, be, agentPort)
	startHitless(t, cfg, fe)
	waitSocket(t, sock)
	weight := func() string {
		out := socketCommand(t, sock, "get weight app/s1")
		return strings.TrimSpace(out)
	}
	waitState(t, sock, "app", "UP", "L4OK", 5*time.Second)
	steps := []struct {
		reply string
		ok    func() bool
		what  string
	}{
		{"50%\n", func() bool { return strings.HasPrefix(weight(), "10 ") }, "weight 10 (50% of 20)"},
		{"drain\n", func() bool { return statRows(t, sock)["app"].status == "DRAIN" }, "DRAIN"},
		{"ready 100%\n", func() bool { return statRows(t, sock)["app"].status == "UP" && strings.HasPrefix(weight(), "20 ") }, "UP, weight 20"},
		{"down #maintenance window\n", func() bool { return statRows(t, sock)["app"].status == "DOWN" }, "DOWN"},
		{"up\n", func() bool { return statRows(t, sock)["app"].status == "UP" }, "UP again"},
		{"maint\n", func() bool { return statRows(t, sock)["app"].status == "MAINT" }, "MAINT"},
		{"ready\n", func() bool { return statRows(t, sock)["app"].status == "UP" }, "ready"},
	}
	for _, s := range steps {
		ag.reply.Store(s.reply)
		if !waitFor(5*time.Second, s.ok) {
			t.Fatalf("agent said %q: want %s; stat %+v weight %q", s.reply, s.what, statRows(t, sock)["app"], weight())
		}
	}
	if got, _ := ag.sent.Load().(string); got != "hello\n" {
		t.Fatalf("agent received %q", got)
	}
}

// TestTrackAndShutdownSessions: a server tracking another follows its state ("via" in
// the log), checks go to `port` instead of the traffic port, and `on-marked-down
// shutdown-sessions` closes the sessions of a server marked DOWN.
func TestTrackAndShutdownSessions(t *testing.T) {
	echo := serveTCP(t, func(c net.Conn) { io.Copy(c, c) })
	healthLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := healthLn.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, hport, _ := net.SplitHostPort(healthLn.Addr().String())
	dir := t.TempDir()
	sock, fe := dir+"/s.sock", fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := tcpHead(sock) + fmt.Sprintf(`listen app
    bind %s
    server s1 %s check port %s inter 200ms rise 1 fall 1 on-marked-down shutdown-sessions
backend mirror
    server m1 %s track app/s1
`, fe, echo, hport, echo)
	p := startHitless(t, cfg, fe)
	waitSocket(t, sock)
	waitState(t, sock, "app", "UP", "L4OK", 5*time.Second)
	c, buf := pinged(t, fe)
	healthLn.Close() // the check port goes away; the traffic port stays
	waitState(t, sock, "app", "DOWN", "L4CON", 5*time.Second)
	if !waitFor(3*time.Second, func() bool { return statRows(t, sock)["mirror"].status == "DOWN" }) {
		t.Fatalf("tracking server: %+v", statRows(t, sock)["mirror"])
	}
	if _, err := c.Read(buf); err == nil {
		t.Fatal("the session of the DOWN server is still open")
	}
	if !waitFor(2*time.Second, func() bool { return strings.Contains(p.out.String(), "Server mirror/m1 is DOWN via app/s1.") }) {
		t.Fatalf("no 'via' line:\n%s", p.out.String())
	}
}

// headRecorder accepts connections and keeps the first bytes of each.
type headRecorder struct {
	mu  sync.Mutex
	got []string
}

func (r *headRecorder) serve(t *testing.T) string {
	return serveTCP(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(time.Second))
		b := make([]byte, 512)
		var all []byte
		for {
			n, err := c.Read(b)
			all = append(all, b[:n]...)
			if err != nil || len(all) > 0 && (strings.HasSuffix(string(all), "hello") || time.Now().IsZero()) {
				break
			}
		}
		r.mu.Lock()
		r.got = append(r.got, string(all))
		r.mu.Unlock()
	})
}

func (r *headRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// TestSendProxyLikeHAProxy: what hitless and HAProxy 2.6 send to servers with
// send-proxy, send-proxy-v2 (with crc32c,unique-id) and their checks, for the same
// client source port: the same headers.
func TestSendProxyLikeHAProxy(t *testing.T) {
	hx := haproxy(t)
	run := func(useHAProxy bool) map[string][]string {
		recs := map[string]*headRecorder{}
		addrs := map[string]string{}
		for _, n := range []string{"v1", "v2", "v2tlv", "chk1", "chk2"} {
			recs[n] = &headRecorder{}
			addrs[n] = recs[n].serve(t)
		}
		fes := map[string]string{}
		for _, n := range []string{"v1", "v2", "v2tlv"} {
			fes[n] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		}
		cfg := fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 2s
    timeout server 2s
    timeout check 1s
listen v1
    bind %s
    server s1 %s send-proxy
listen v2
    bind %s
    server s1 %s send-proxy-v2
listen v2tlv
    bind %s
    server s1 %s send-proxy-v2 proxy-v2-options unique-id,crc32c
backend chk1
    server s1 %s send-proxy-v2 check inter 5s
backend chk2
    server s1 %s check-send-proxy check inter 5s
`, fes["v1"], addrs["v1"], fes["v2"], addrs["v2"], fes["v2tlv"], addrs["v2tlv"], addrs["chk1"], addrs["chk2"])
		if useHAProxy {
			runHAProxy(t, hx, cfg)
			for _, a := range fes {
				if !waitAccept(a, 5*time.Second, nil) {
					t.Fatal("haproxy did not listen")
				}
			}
		} else {
			startHitless(t, cfg, fes["v1"], fes["v2"], fes["v2tlv"])
		}
		for n, fe := range fes {
			src := freePort(t)
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: src}, Timeout: time.Second}
			c, err := d.Dial("tcp", fe)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, "hello")
			time.Sleep(200 * time.Millisecond)
			c.Close()
			// Replace the ports that differ between runs by names.
			_, fport, _ := net.SplitHostPort(fe)
			if !waitFor(3*time.Second, func() bool { return len(recs[n].all()) > 0 }) {
				t.Fatalf("%s: nothing received", n)
			}
			// Keep the client's connection (the waitAccept probes sent nothing).
			var kept []string
			for _, g := range recs[n].all() {
				if strings.HasSuffix(g, "hello") {
					kept = append(kept, maskProxyPorts(g, src, atoi(fport)))
				}
			}
			recs[n].mu.Lock()
			recs[n].got = kept
			recs[n].mu.Unlock()
		}
		for _, n := range []string{"chk1", "chk2"} {
			if !waitFor(6*time.Second, func() bool { return len(recs[n].all()) > 0 }) {
				t.Fatalf("%s: no check arrived", n)
			}
		}
		out := map[string][]string{}
		for n, r := range recs {
			got := r.all()
			if strings.HasPrefix(n, "chk") {
				got = got[:1]
				// v1 carries the check connection's own ports, which differ by run.
				if f := strings.Fields(got[0]); len(f) == 6 {
					f[4], f[5] = "SRCPORT", "DSTPORT"
					got[0] = strings.Join(f, " ")
				}
			}
			out[n] = got
		}
		return out
	}
	h := run(true)
	o := run(false)
	for n := range h {
		if fmt.Sprint(h[n]) != fmt.Sprint(o[n]) {
			t.Errorf("%s: hitless sent %q\nHAProxy sent %q", n, o[n], h[n])
		}
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// maskPorts replaces the client's source port and the frontend port, in text and in
// v2's binary form, by fixed markers, leaving a v2 CRC32C (which covers them) alone.
func maskProxyPorts(s string, src, fe int) string {
	s = strings.ReplaceAll(s, " "+strconv.Itoa(src)+" ", " SRC ")
	s = strings.ReplaceAll(s, " "+strconv.Itoa(fe)+"\r\n", " FE\r\n")
	bin := string([]byte{byte(src >> 8), byte(src), byte(fe >> 8), byte(fe)})
	s = strings.Replace(s, bin, "<SRC><FE>", 1)
	if i := strings.Index(s, "\x03\x00\x04"); i >= 0 && len(s) >= i+7 {
		s = s[:i+3] + "<CRC>" + s[i+7:]
	}
	return s
}

// TestAcceptProxyWithHAProxy: HAProxy 2.6 sends PROXY v2 to hitless's accept-proxy
// listener and hitless logs the original client; hitless sends v1 and v2 to
// HAProxy's accept-proxy and HAProxy logs it; curl's --haproxy-protocol works; a
// malformed or absent header is rejected and logged in HAProxy's words.
func TestAcceptProxyWithHAProxy(t *testing.T) {
	hx := haproxy(t)
	echo := serveTCP(t, func(c net.Conn) { io.Copy(c, c) })
	web := newBackend(t, "web", nil)
	logs := newUDPLogs(t)
	hpIn, hpOut1, hpOut2 := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	oIn, oOut1, oOut2, oHTTP := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	// HAProxy: a listener that sends v2 to hitless, and an accept-proxy listener
	// that hitless sends to.
	hcfg := fmt.Sprintf(`global
    log %s local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 1s
    timeout client 3s
    timeout server 3s
listen to_hitless
    bind %s
    server o %s send-proxy-v2
listen from_hitless_v1
    bind %s accept-proxy
    server e %s
listen from_hitless_v2
    bind %s accept-proxy
    server e %s
`, logs.addr(), hpIn, oIn, hpOut1, echo, hpOut2, echo)
	runHAProxy(t, hx, hcfg)
	ocfg := fmt.Sprintf(`global
    log %s local1
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 1s
    timeout client 1s
    timeout server 3s
listen in
    bind %s accept-proxy
    server e %s
listen out_v1
    bind %s
    server h %s send-proxy
listen out_v2
    bind %s
    server h %s send-proxy-v2
listen web
    mode http
    option httplog
    bind %s accept-proxy
    server w %s
`, logs.addr(), oIn, echo, oOut1, hpOut1, oOut2, hpOut2, oHTTP, web.addr)
	startHitless(t, ocfg, oIn, oOut1, oOut2, oHTTP)
	if !waitAccept(hpIn, 5*time.Second, nil) {
		t.Fatal("haproxy did not listen")
	}
	through := func(addr string, srcPort int) {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: srcPort}, Timeout: time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		io.WriteString(c, "ping")
		b := make([]byte, 4)
		if _, err := io.ReadFull(c, b); err != nil || string(b) != "ping" {
			t.Fatalf("through %s: %q %v", addr, b, err)
		}
	}
	// HAProxy -> hitless: hitless's log names the client HAProxy saw.
	p1 := freePort(t)
	through(hpIn, p1)
	if !waitFor(3*time.Second, func() bool { return logs.find(fmt.Sprintf("127.0.0.1:%d [", p1)) != "" && logs.find(" in in/e ") != "" }) {
		t.Fatalf("hitless did not log the client carried by HAProxy's v2 header (port %d): %q", p1, logs.lines)
	}
	// hitless -> HAProxy, v1 and v2.
	for _, out := range []struct{ addr, name string }{{oOut1, "from_hitless_v1"}, {oOut2, "from_hitless_v2"}} {
		p := freePort(t)
		through(out.addr, p)
		want := fmt.Sprintf("127.0.0.1:%d [", p)
		if !waitFor(3*time.Second, func() bool {
			l := logs.find(want)
			return l != "" && strings.Contains(logs.find(" "+out.name+" "), out.name)
		}) {
			t.Fatalf("HAProxy did not log the client hitless carried to %s (port %d): %q", out.name, p, logs.lines)
		}
	}
	// curl --haproxy-protocol to an HTTP accept-proxy listener.
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-s", "--haproxy-protocol", "http://"+oHTTP+"/").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "web") {
			t.Fatalf("curl --haproxy-protocol: %v %q", err, out)
		}
	}
	// Malformed, truncated and absent headers.
	bad := func(data string, closeWrite bool) {
		c, err := net.Dial("tcp", oIn)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, data)
		if closeWrite {
			c.(*net.TCPConn).CloseWrite()
		}
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if n, _ := c.Read(make([]byte, 8)); n != 0 {
			t.Fatalf("%q was served", data)
		}
	}
	bad("GET / HTTP/1.1\r\nHost: x\r\n\r\n", false)
	bad("PROXY TCP4 1.2.3.4\r\n", false)
	bad("GARB", true)
	bad("", false) // silent until timeout client (1s)
	for _, msg := range []string{
		"in/1: Received something which does not look like a PROXY protocol header",
		"in/1: Received an invalid PROXY protocol header",
		"in/1: Truncated PROXY protocol header received",
		"in/1: Timeout while waiting for PROXY protocol header",
	} {
		if !waitFor(3*time.Second, func() bool { return logs.find(msg) != "" }) {
			t.Errorf("no log line %q in %q", msg, logs.lines)
		}
	}
}

// keepAliveTimer reports whether the socket from local to remote (loopback ports) has
// its keep-alive timer running, from /proc/net/tcp ("tr" 2), and when it fires.
func keepAliveTimer(t *testing.T, local, remote int) (on bool, when time.Duration, found bool) {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skip("no /proc/net/tcp")
	}
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) < 6 || !strings.HasSuffix(f[1], fmt.Sprintf(":%04X", local)) || !strings.HasSuffix(f[2], fmt.Sprintf(":%04X", remote)) {
			continue
		}
		tr, whenHex, _ := strings.Cut(f[5], ":")
		j, _ := strconv.ParseInt(whenHex, 16, 64)
		return tr == "02", time.Duration(j) * 10 * time.Millisecond, true
	}
	return false, 0, false
}

// TestTCPKeepAliveOptions: without option clitcpka/srvtcpka no keep-alive is set on
// client or server connections (as in HAProxy, unlike Go's defaults); with option
// tcpka and clitcpka-idle/srvtcpka-idle the keep-alive timers run with those values.
func TestTCPKeepAliveOptions(t *testing.T) {
	accepted := make(chan net.Conn, 16)
	be := serveTCP(t, func(c net.Conn) { accepted <- c; io.Copy(io.Discard, c) })
	_, bport, _ := net.SplitHostPort(be)
	plain, ka := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 30s
    timeout server 30s
listen plain
    bind %s
    server s1 %s
listen ka
    bind %s
    option tcpka
    clitcpka-idle 500
    srvtcpka-idle 700
    server s1 %s
`, plain, be, ka, be)
	startHitless(t, cfg, plain, ka)
	for _, tc := range []struct {
		addr           string
		on             bool
		cliMax, srvMax time.Duration
	}{
		{plain, false, 0, 0},
		{ka, true, 500 * time.Second, 700 * time.Second},
	} {
		// Forget the server connections of earlier clients (startHitless's probes).
		time.Sleep(200 * time.Millisecond)
		for len(accepted) > 0 {
			<-accepted
		}
		c, err := net.Dial("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var sc net.Conn
		select {
		case sc = <-accepted:
		case <-time.After(3 * time.Second):
			t.Fatal("no server connection")
		}
		cport := c.LocalAddr().(*net.TCPAddr).Port
		_, fport, _ := net.SplitHostPort(tc.addr)
		sport := sc.RemoteAddr().(*net.TCPAddr).Port
		// hitless's side of the client connection, and its connection to the server.
		cliOn, cliWhen, ok1 := keepAliveTimer(t, atoi(fport), cport)
		srvOn, srvWhen, ok2 := keepAliveTimer(t, sport, atoi(bport))
		if !ok1 || !ok2 {
			t.Fatalf("%s: sockets not found in /proc/net/tcp", tc.addr)
		}
		if cliOn != tc.on || srvOn != tc.on {
			t.Errorf("%s: keep-alive client side %v, server side %v; want %v", tc.addr, cliOn, srvOn, tc.on)
		}
		if tc.on && (cliWhen > tc.cliMax || cliWhen < tc.cliMax-10*time.Second || srvWhen > tc.srvMax || srvWhen < tc.srvMax-10*time.Second) {
			t.Errorf("%s: keep-alive timers %s and %s, want about %s and %s", tc.addr, cliWhen, srvWhen, tc.cliMax, tc.srvMax)
		}
	}
}

// TestAcceptProxyAddressesInRules: the addresses a PROXY header carries are what
// `src` and `dst` see: in mode tcp a use_backend on src routes by the carried client,
// in mode http set-header with %[src] and %[dst] sends them on, and `send-proxy` to
// the next tier carries them again.
func TestAcceptProxyAddressesInRules(t *testing.T) {
	web := newBackend(t, "web", nil)
	var rec headRecorder
	next := rec.serve(t)
	tcpFE, httpFE := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := fmt.Sprintf(`defaults
    timeout connect 1s
    timeout client 3s
    timeout server 3s
frontend tcp_in
    mode tcp
    bind %s accept-proxy
    use_backend carried if { src 203.0.113.0/24 }
    default_backend other
backend carried
    mode tcp
    server next %s send-proxy
backend other
    mode tcp
    server none 127.0.0.1:1
listen http_in
    mode http
    bind %s accept-proxy
    http-request set-header X-Src %%[src]
    http-request set-header X-Dst %%[dst]:%%[dst_port]
    server w %s
`, tcpFE, next, httpFE, web.addr)
	startHitless(t, cfg, tcpFE, httpFE)
	c, err := net.Dial("tcp", tcpFE)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "PROXY TCP4 203.0.113.7 198.51.100.9 40000 443\r\nhello")
	time.Sleep(300 * time.Millisecond)
	c.Close()
	if !waitFor(3*time.Second, func() bool {
		for _, g := range rec.all() {
			if g == "PROXY TCP4 203.0.113.7 198.51.100.9 40000 443\r\nhello" {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("the next tier received %q", rec.all())
	}
	raw := rawExchange(t, httpFE, "PROXY TCP4 203.0.113.8 198.51.100.10 40001 8443\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 2*time.Second)
	if !strings.HasPrefix(raw, "HTTP/1.1 200") {
		t.Fatalf("http through accept-proxy: %q", raw)
	}
	h, _ := web.lastReq.Load().(http.Header)
	if h.Get("X-Src") != "203.0.113.8" || h.Get("X-Dst") != "198.51.100.10:8443" {
		t.Fatalf("src/dst seen by the rules: %q %q", h.Get("X-Src"), h.Get("X-Dst"))
	}
}

// TestOnMarkedUpShutdownBackupSessions: when an active server with `on-marked-up
// shutdown-backup-sessions` comes back UP, the sessions on the backup servers close.
func TestOnMarkedUpShutdownBackupSessions(t *testing.T) {
	echo := serveTCP(t, func(c net.Conn) { io.Copy(c, c) })
	hport := freePort(t) // nothing listens there yet: s1's checks fail
	dir := t.TempDir()
	sock, fe := dir+"/s.sock", fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := tcpHead(sock) + fmt.Sprintf(`listen app
    bind %s
    server s1 %s check port %d inter 200ms rise 1 fall 1 on-marked-up shutdown-backup-sessions
    server b1 %s backup
`, fe, echo, hport, echo)
	startHitless(t, cfg, fe)
	waitSocket(t, sock)
	waitState(t, sock, "app/s1", "DOWN", "L4CON", 5*time.Second)
	c, buf := pinged(t, fe)
	serveTCPOn(t, fmt.Sprintf("127.0.0.1:%d", hport), func(c net.Conn) {})
	if _, err := c.Read(buf); err == nil {
		t.Fatal("the backup server's session stayed open after s1 came back UP")
	}
	if r := statRows(t, sock)["app/s1"]; r.status != "UP" {
		t.Fatalf("s1: %+v", r)
	}
}

// tcpHead is the global and defaults sections of the mode tcp tests here.
func tcpHead(sock string) string {
	return fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 500ms
    timeout client 10s
    timeout server 10s
`, sock)
}

// pinged opens a connection to an echo service through addr and checks that "ping"
// comes back; it returns the connection and a 4-byte buffer.
func pinged(t *testing.T, addr string) (net.Conn, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	return c, buf
}

// TestServersStateColumnsLikeHAProxy: the check and agent columns of `show servers
// state` for servers with `port`, `addr`, `agent-check`, `agent-addr`, `agent-port` and
// `id`, against HAProxy 2.6 on the same configuration (the time since the last change
// and the check results, which depend on timing, aside).
func TestServersStateColumnsLikeHAProxy(t *testing.T) {
	hx := haproxy(t)
	rows := func(useHAProxy bool) []string {
		dir := t.TempDir()
		sock, fe := dir+"/s.sock", fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := tcpHead(sock) + fmt.Sprintf(`listen app
    bind %s
    server s1 127.0.0.1:7803 check inter 10s port 7999 addr 127.0.0.9 agent-check agent-port 7998 agent-addr 127.0.0.1 agent-inter 10s id 5
    server s2 127.0.0.1:7804 agent-check agent-port 7997 agent-inter 10s
    server s3 127.0.0.1:7805
`, fe)
		runEither(t, useHAProxy, hx, cfg, fe)
		waitSocket(t, sock)
		var out []string
		for _, l := range strings.Split(socketCommand(t, sock, "show servers state app"), "\n") {
			f := strings.Fields(l)
			if len(f) < 25 || f[0] == "#" {
				continue
			}
			// be_id name srv_id srv_name addr op admin uweight iweight [time status
			// result health] check_state agent_state ...
			// A checked server's first check runs at once: whether it ended (op
			// state, check_state's in-progress bit) depends on the moment of the dump.
			if st, err := strconv.Atoi(f[13]); err == nil && st&2 != 0 {
				f[5], f[13] = "*", strconv.Itoa(st&^1)
			}
			out = append(out, strings.Join(append(f[:9:9], f[13:]...), " "))
		}
		return out
	}
	h, o := rows(true), rows(false)
	if len(h) != 3 || fmt.Sprint(h) != fmt.Sprint(o) {
		t.Errorf("show servers state\nhitless %q\nhaproxy %q", o, h)
	}
}

// agentRow is what show stat says of a server's agent.
type agentRow struct{ status, lastAgt, agentStatus, agentCode, agentDesc, agentHealth string }

// TestAgentRepliesLikeHAProxy: for each agent reply, the server's status and the
// agent's columns of show stat are HAProxy 2.6's.
func TestAgentRepliesLikeHAProxy(t *testing.T) {
	hx := haproxy(t)
	// (A reply without its line end is left out: what HAProxy reports for it depends
	// on whether the close or the timeout comes first.)
	replies := []string{"up\n", "down #disk full\n", "fail\n", "stopped #bye\n", "drain\n", "maint\n", "ready\n", "garbage\n", "75%\n", ""}
	run := func(useHAProxy bool) map[string]agentRow {
		dir := t.TempDir()
		sock, fe := dir+"/s.sock", fmt.Sprintf("127.0.0.1:%d", freePort(t))
		be := serveTCP(t, func(c net.Conn) {})
		var b strings.Builder
		b.WriteString(tcpHead(sock))
		fmt.Fprintf(&b, "listen front\n    bind %s\n    server x %s\n", fe, be)
		for i, r := range replies {
			r := r
			a := serveTCP(t, func(c net.Conn) { io.WriteString(c, r) })
			if r == "" {
				a = fmt.Sprintf("127.0.0.1:%d", freePort(t)) // refused
			}
			_, ap, _ := net.SplitHostPort(a)
			fmt.Fprintf(&b, "backend a%d\n    server s1 %s weight 20 agent-check agent-port %s agent-inter 300ms\n", i, be, ap)
		}
		runEither(t, useHAProxy, hx, b.String(), fe)
		waitSocket(t, sock)
		rows := map[string]agentRow{}
		waitFor(6*time.Second, func() bool {
			recs, col := statTable(t, sock)
			if recs == nil {
				return false
			}
			for _, r := range recs[1:] {
				if len(r) < len(recs[0]) || !strings.HasPrefix(r[0], "a") || r[1] != "s1" {
					continue
				}
				st := r[col["agent_status"]]
				if _, seen := rows[r[0]]; seen || st == "" || st == "INI" || strings.HasPrefix(st, "* ") {
					continue
				}
				rows[r[0]] = agentRow{r[col["status"]], r[col["last_agt"]], st, r[col["agent_code"]], r[col["agent_desc"]], r[col["agent_health"]]}
			}
			return len(rows) == len(replies)
		})
		return rows
	}
	h, o := run(true), run(false)
	if len(h) != len(replies) {
		t.Fatalf("HAProxy gave %d agent rows of %d: %+v", len(h), len(replies), h)
	}
	for i, r := range replies {
		n := fmt.Sprintf("a%d", i)
		if h[n] != o[n] {
			t.Errorf("agent reply %q:\nhitless %+v\nhaproxy %+v", r, o[n], h[n])
		}
	}
}
