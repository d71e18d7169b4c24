package logging

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"hitless/internal/config"
	"hitless/internal/http1"
	"hitless/internal/logformat"
	"hitless/internal/sample"
)

// haproxyFormat uses every variable whose value the test can read back from the line;
// the fields are separated by '|' and the end checks separator merging.
const haproxyFormat = `%ci|%cp|%fi|%fp|%t|%ft|%b|%s|%si|%sp|%bi|%bp|%TR|%Tw|%Tc|%Tr|%Ta|%Tt|%ST|%B|%U|%ts|%tsc|` +
	`%ac|%fc|%bc|%sc|%rc|%sq|%bq|%ID|%{+Q}r|%HM|%HP|%HQ|%HU|%HV|%{+Q}[src]|%[method]|%{+X}Ts|%ms|%pid|%CC|%{+Q}CS|%sslv| %hr  %hs end`

// TestLogFormatMatchesHAProxy runs HAProxy 2.6 with a custom log-format and a
// unique-id-format, logging to a unix datagram socket the test reads, reads the
// values back from its line, writes them with hitless's parsed format and syslog
// header, and checks that the datagrams are the same byte for byte.
func TestLogFormatMatchesHAProxy(t *testing.T) {
	bin := "/usr/sbin/haproxy"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("haproxy is not installed: cannot compare with HAProxy 2.6")
	}
	if testing.Short() {
		t.Skip("runs haproxy")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "log.sock")
	pc, err := net.ListenPacket("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	srv := httpOrEchoServer(t)
	port := freePorts(t, 1)[0]
	cfg := fmt.Sprintf(`
global
    log %s local0
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    unique-id-format %%{+X}o\ %%ci:%%cp_%%fi:%%fp_%%Ts_%%rt:%%pid
    unique-id-header X-Unique-ID
    log-format "%s"
    default_backend be
backend be
    server s1 %s
`, sock, port, haproxyFormat, srv)
	path := filepath.Join(dir, "h.cfg")
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
	var c net.Conn
	for i := 0; i < 100 && c == nil; i++ {
		if c, err = net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if c == nil {
		t.Fatalf("haproxy does not listen on %d", port)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	reqLine := `GET /a/b?c="d"&e=1 HTTP/1.1`
	fmt.Fprintf(c, "%s\r\nHost: x\r\nConnection: close\r\n\r\n", reqLine)
	io.ReadAll(c)
	c.Close()

	buf := make([]byte, 8192)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no log datagram from haproxy on %s: %v", sock, err)
	}
	line := string(buf[:n])
	hdr, msg, ok := strings.Cut(line, ": ")
	if !ok {
		t.Fatalf("no syslog header in %q", line)
	}
	pid, _ := parse3164(t, hdr)
	stamp, _ := time.ParseInLocation("Jan _2 15:04:05", hdr[strings.IndexByte(hdr, '>')+1:][:15], time.Local)
	stamp = stamp.AddDate(time.Now().Year(), 0, 0)
	e := readBack(t, strings.TrimSuffix(msg, "\n"))
	e.RequestLine = reqLine
	e.PID = pid
	req := &http1.Request{}
	if err := http1.ParseRequest([]byte(reqLine+"\r\n\r\n"), req); err != nil {
		t.Fatal(err)
	}
	e.Smp = sample.NewCtx(&sample.Static{SrcAddr: netip.AddrPortFrom(e.ClientIP, uint16(e.ClientPort)), DstAddr: e.FrontendAddr, Req: req})
	f, err := logformat.Parse(haproxyFormat)
	if err != nil {
		t.Fatal(err)
	}
	want := (&target{cfg: config.LogTarget{Network: "unixgram", Facility: 16, Len: 1024}, opts: Options{Tag: "haproxy", PID: pid}}).
		format(nil, stamp, 6, f.Append(nil, e))
	if string(want) != line {
		t.Errorf("log-format over unix datagram:\nhaproxy %q\nhitless %q", line, want)
	}
	// The unique id sent by HAProxy is hitless's unique-id-format of the same values.
	uf, _ := logformat.Parse(`%{+X}o %ci:%cp_%fi:%fp_%Ts_%rt:%pid`)
	if got := string(uf.Append(nil, e)); got != string(e.UniqueID) {
		t.Errorf("unique id: haproxy %q, hitless %q", e.UniqueID, got)
	}
}

// readBack reads haproxyFormat's fields into an Entry.
func readBack(t *testing.T, msg string) *logformat.Entry {
	t.Helper()
	f := strings.Split(msg, "|")
	if len(f) < 45 {
		t.Fatalf("%d fields in %q", len(f), msg)
	}
	ap := func(ip, port string) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(atoi(t, port)))
	}
	e := &logformat.Entry{}
	e.ClientIP = netip.MustParseAddr(f[0])
	e.ClientPort = atoi(t, f[1])
	e.FrontendAddr = ap(f[2], f[3])
	at, err := time.ParseInLocation("02/Jan/2006:15:04:05.000", f[4], time.Local)
	if err != nil {
		t.Fatal(err)
	}
	e.Accept, e.Request = at, at
	e.Frontend, e.Backend, e.Server = f[5], f[6], f[7]
	e.ServerAddr = ap(f[8], f[9])
	e.BackendSrc = ap(f[10], f[11])
	e.TR, e.Tw, e.Tc, e.Tr, e.Ta, e.Tt = ms(t, f[12]), ms(t, f[13]), ms(t, f[14]), ms(t, f[15]), ms(t, f[16]), ms(t, f[17])
	e.Status = atoi(t, f[18])
	e.Bytes, e.BytesIn = int64(atoi(t, f[19])), int64(atoi(t, f[20]))
	copy(e.Term[:], f[21])
	e.ActConn, e.FeConn, e.BeConn, e.SrvConn, e.Retries = atoi(t, f[23]), atoi(t, f[24]), atoi(t, f[25]), atoi(t, f[26]), atoi(t, f[27])
	e.SrvQueue, e.BeQueue = atoi(t, f[28]), atoi(t, f[29])
	e.UniqueID = []byte(f[30])
	// %rt is the fifth part of the unique id: "..._%Ts_%rt:%pid".
	parts := strings.Split(f[30], "_")
	rt, err := strconv.ParseUint(strings.Split(parts[len(parts)-1], ":")[0], 16, 64)
	if err != nil {
		t.Fatalf("unique id %q: %v", f[30], err)
	}
	e.ReqCounter = rt
	return e
}

// TestTCPFramingMatchesHAProxy checks how lines travel over a `log tcp@` target:
// HAProxy 2.6 writes each syslog line ended by a newline, without the octet count of
// RFC 6587 framing, and so does hitless.
func TestTCPFramingMatchesHAProxy(t *testing.T) {
	bin := "/usr/sbin/haproxy"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("haproxy is not installed")
	}
	if testing.Short() {
		t.Skip("runs haproxy")
	}
	framing := regexp.MustCompile(`^(<\d+>[^\n]+\n)+$`)
	read := func(ln net.Listener, lines int) string {
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("no syslog connection: %v", err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var got []byte
		buf := make([]byte, 4096)
		for strings.Count(string(got), "\n") < lines {
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		return string(got)
	}
	hln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hln.Close()
	port := freePorts(t, 1)[0]
	path := filepath.Join(t.TempDir(), "h.cfg")
	cfg := fmt.Sprintf("defaults\n mode tcp\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n"+
		"frontend fe\n bind 127.0.0.1:%d\n log tcp@%s local0\n option tcplog\n", port, hln.Addr())
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	go func() {
		for sent := 0; sent < 2; {
			c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			c.Close()
			sent++
		}
	}()
	if got := read(hln, 2); !framing.MatchString(got) {
		t.Fatalf("haproxy's tcp syslog stream %q is not newline-framed lines", got)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l, err := New([]config.LogTarget{{Network: "tcp", Address: ln.Addr().String(), Facility: 16, Level: 7, Len: 1024}}, Options{Tag: "hitless", PID: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Log(6, []byte("first line"))
	l.Log(6, []byte("second line"))
	if got := read(ln, 2); !framing.MatchString(got) || !strings.HasSuffix(got, "hitless[1]: second line\n") {
		t.Fatalf("hitless's tcp syslog stream %q", got)
	}
}

// TestRFC5424StructuredData writes a line with log-format-sd's structured data as
// HAProxy 2.6.12 sent it (captured over UDP from `log ... format rfc5424` with
// log-format-sd %{+Q,+E}o\ [x@1\ a=%ft]).
func TestRFC5424StructuredData(t *testing.T) {
	const haproxy = "<134>1 2026-11-25T10:04:11.824935+00:00 - haproxy 9546 - [x@1 a=\"fe\"] 127.0.0.1 msg\n"
	stamp, err := time.Parse(isoLayout, "2026-11-25T10:04:11.824935+00:00")
	if err != nil {
		t.Fatal(err)
	}
	sd, err := logformat.Parse(`%{+Q,+E}o [x@1 a=%ft]`)
	if err != nil {
		t.Fatal(err)
	}
	e := &logformat.Entry{Frontend: "fe"}
	tg := &target{cfg: config.LogTarget{Facility: 16, Len: 1024, Format: "rfc5424"}, opts: Options{Tag: "haproxy", PID: 9546}}
	if got := string(tg.formatSD(nil, stamp, 6, []byte("127.0.0.1 msg"), sd.Append(nil, e))); got != haproxy {
		t.Errorf("got  %q\nwant %q", got, haproxy)
	}
}
