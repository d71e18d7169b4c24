package logging

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"hitless/internal/config"
)

// TestMatchesHAProxy runs HAProxy 2.6 with syslog targets on a UDP socket the test
// reads, drives a tcplog frontend, an httplog frontend, a frontend without backend and
// one without log format, and checks that every line it sends is, byte for byte, the
// line hitless formats from the same values.
func TestMatchesHAProxy(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		bin = "/usr/sbin/haproxy"
		if _, err := os.Stat(bin); err != nil {
			t.Skip("haproxy is not installed: cannot compare with HAProxy 2.6")
		}
	}
	if testing.Short() {
		t.Skip("runs haproxy")
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	srv := httpOrEchoServer(t)
	ports := freePorts(t, 4)
	logAddr := pc.LocalAddr().String()
	cfg := fmt.Sprintf(`
defaults
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend tcpfe
    mode tcp
    bind 127.0.0.1:%d
    log %s local0
    option tcplog
    default_backend tcpbe
frontend httpfe
    mode http
    bind 127.0.0.1:%d
    log %s format rfc5424 local1
    option httplog
    default_backend httpbe
frontend nobe
    mode tcp
    bind 127.0.0.1:%d
    log %s len 80 format short local2
    option tcplog
frontend plain
    mode tcp
    bind 127.0.0.1:%d
    log %s format raw local3
    default_backend tcpbe
backend tcpbe
    mode tcp
    server s1 %s
backend httpbe
    mode http
    server s1 %s
`, ports[0], logAddr, ports[1], logAddr, ports[2], logAddr, ports[3], logAddr, srv, srv)
	path := filepath.Join(t.TempDir(), "h.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	dial := func(port int) net.Conn {
		for i := 0; i < 100; i++ {
			c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err == nil {
				c.SetDeadline(time.Now().Add(5 * time.Second))
				return c
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("haproxy does not listen on %d", port)
		return nil
	}
	buf := make([]byte, 4096)
	next := func() string {
		pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no log line from haproxy: %v", err)
		}
		return string(buf[:n])
	}

	// tcplog, rfc3164.
	c := dial(ports[0])
	c.Write([]byte("hello"))
	c.(*net.TCPConn).CloseWrite()
	io.ReadAll(c)
	c.Close()
	line := next()
	hdr, msg, ok := strings.Cut(line, ": ")
	if !ok {
		t.Fatalf("no syslog header in %q", line)
	}
	pid, stamp := parse3164(t, hdr)
	e := parseTCPLog(t, strings.TrimSuffix(msg, "\n"))
	want := (&target{cfg: config.LogTarget{Facility: 16, Len: 1024}, opts: Options{Tag: "haproxy", PID: pid}}).
		format(nil, stamp, 6, AppendTCPLog(nil, e))
	if string(want) != line {
		t.Errorf("tcplog:\nhaproxy %q\nhitless %q", line, want)
	}

	// httplog, rfc5424, with a request line that needs escaping.
	c = dial(ports[1])
	reqLine := `GET /a?b="q"&c=%01 HTTP/1.1`
	fmt.Fprintf(c, "%s\r\nHost: x\r\nConnection: close\r\n\r\n", reqLine)
	io.ReadAll(c)
	c.Close()
	line = next()
	fields := strings.SplitN(line, " ", 8)
	if len(fields) != 8 || fields[0] != "<142>1" {
		t.Fatalf("not an rfc5424 line: %q", line)
	}
	stamp, err = time.Parse(isoLayout, fields[1])
	if err != nil {
		t.Fatal(err)
	}
	pid, _ = strconv.Atoi(fields[4])
	e = parseHTTPLog(t, strings.TrimSuffix(fields[7], "\n"))
	e.RequestLine = reqLine
	want = (&target{cfg: config.LogTarget{Facility: 17, Len: 1024, Format: "rfc5424"}, opts: Options{Tag: "haproxy", PID: pid}}).
		format(nil, stamp, 6, AppendHTTPLog(nil, e))
	if string(want) != line {
		t.Errorf("httplog:\nhaproxy %q\nhitless %q", line, want)
	}

	// No backend: <NOSRV>, SC, and a line cut to len 80 (plus its newline).
	c = dial(ports[2])
	io.ReadAll(c)
	c.Close()
	line = next()
	if len(line) != 81 || !strings.HasPrefix(line, "<6>") {
		t.Fatalf("short line cut at 80: %q (%d bytes, want 81)", line, len(line))
	}
	cut := strings.Index(line, " SC ")
	if cut < 0 {
		t.Fatalf("no SC termination in %q", line)
	}
	// The counters were cut off: a lone connection has these.
	e = parseTCPLog(t, line[3:cut+3]+" 1/1/0/0/0 0/0")
	want = (&target{cfg: config.LogTarget{Facility: 18, Len: 80, Format: "short"}}).format(nil, stamp, 6, AppendTCPLog(nil, e))
	if string(want) != line {
		t.Errorf("no backend:\nhaproxy %q\nhitless %q", line, want)
	}
	if !strings.Contains(line, " nobe nobe/<NOSRV> -1/-1/") || !strings.Contains(line, " SC ") {
		t.Errorf("no backend line %q", line)
	}

	// No log format: the connect line.
	c = dial(ports[3])
	local := c.LocalAddr().(*net.TCPAddr).AddrPort()
	c.Close()
	line = next()
	want = append(AppendConnectLog(nil, local, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(ports[3])), "plain", false), '\n')
	if string(want) != line {
		t.Errorf("connect line:\nhaproxy %q\nhitless %q", line, want)
	}
}

// httpOrEchoServer answers "GET" with a small HTTP response and echoes anything else.
func httpOrEchoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				r := bufio.NewReader(c)
				first, err := r.Peek(3)
				if err == nil && string(first) == "GET" {
					for {
						l, err := r.ReadString('\n')
						if err != nil || l == "\r\n" {
							break
						}
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
					return
				}
				io.Copy(c, r)
			}()
		}
	}()
	return ln.Addr().String()
}

func freePorts(t *testing.T, n int) []int {
	var ports []int
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// parse3164 reads "<134>Nov 25 08:41:08 haproxy[6330]" into the pid and the time.
func parse3164(t *testing.T, hdr string) (int, time.Time) {
	t.Helper()
	i := strings.IndexByte(hdr, '>')
	j := strings.LastIndexByte(hdr, '[')
	if i < 0 || j < 0 || len(hdr) < i+16 {
		t.Fatalf("bad rfc3164 header %q", hdr)
	}
	stamp, err := time.ParseInLocation("Jan _2 15:04:05", hdr[i+1:i+16], time.Local)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSuffix(hdr[j+1:], "]"))
	if err != nil {
		t.Fatal(err)
	}
	return pid, stamp.AddDate(time.Now().Year(), 0, 0)
}

func ms(t *testing.T, s string) time.Duration {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("bad timer %q", s)
	}
	if n < 0 {
		return -1
	}
	return time.Duration(n) * time.Millisecond
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("bad number %q", s)
	}
	return n
}

// parseCommon reads "%ci:%cp [%t] %ft %b/%s" and the counters "%ac/%fc/%bc/%sc/%rc %sq/%bq".
func parseCommon(t *testing.T, f []string, conns, queues string) *Entry {
	t.Helper()
	e := &Entry{}
	i := strings.LastIndexByte(f[0], ':')
	e.ClientIP = netip.MustParseAddr(f[0][:i])
	e.ClientPort = atoi(t, f[0][i+1:])
	at, err := time.ParseInLocation("[02/Jan/2006:15:04:05.000]", f[1], time.Local)
	if err != nil {
		t.Fatal(err)
	}
	e.Accept, e.Request = at, at
	e.Frontend = f[2]
	e.Backend, e.Server, _ = strings.Cut(f[3], "/")
	c := strings.Split(conns, "/")
	e.ActConn, e.FeConn, e.BeConn, e.SrvConn, e.Retries = atoi(t, c[0]), atoi(t, c[1]), atoi(t, c[2]), atoi(t, c[3]), atoi(t, c[4])
	q := strings.Split(queues, "/")
	e.SrvQueue, e.BeQueue = atoi(t, q[0]), atoi(t, q[1])
	return e
}

func parseTCPLog(t *testing.T, s string) *Entry {
	t.Helper()
	f := strings.Fields(s)
	if len(f) < 9 {
		t.Fatalf("bad tcplog %q", s)
	}
	e := parseCommon(t, f, f[7], f[8])
	tm := strings.Split(f[4], "/")
	e.Tw, e.Tc, e.Tt = ms(t, tm[0]), ms(t, tm[1]), ms(t, tm[2])
	e.Bytes = int64(atoi(t, f[5]))
	copy(e.Term[:], f[6])
	return e
}

func parseHTTPLog(t *testing.T, s string) *Entry {
	t.Helper()
	f := strings.SplitN(s, " ", 13)
	if len(f) < 13 {
		t.Fatalf("bad httplog %q", s)
	}
	e := parseCommon(t, f, f[10], f[11])
	tm := strings.Split(f[4], "/")
	e.TR, e.Tw, e.Tc, e.Tr, e.Ta = ms(t, tm[0]), ms(t, tm[1]), ms(t, tm[2]), ms(t, tm[3]), ms(t, tm[4])
	e.Status = atoi(t, f[5])
	e.Bytes = int64(atoi(t, f[6]))
	copy(e.Term[:], f[9])
	return e
}
