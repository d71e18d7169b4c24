package logging

import (
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
	"hitless/internal/logformat"
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
