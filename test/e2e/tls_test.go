package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hitless/internal/storm"
	"hitless/internal/testcert"
)

// tlsFiles is a directory of test certificates (generated, never checked in).
type tlsFiles struct {
	dir    string
	ca     *testcert.CA
	caFile string
}

func newTLSFiles(t *testing.T) *tlsFiles {
	t.Helper()
	f := &tlsFiles{dir: t.TempDir(), ca: testcert.NewCA(t, "Test Root CA")}
	f.caFile = testcert.Write(t, filepath.Join(f.dir, "ca.pem"), f.ca.PEM)
	return f
}

// cert writes a certificate with its key for names into the directory.
func (f *tlsFiles) cert(t *testing.T, file string, names []string, o testcert.Options) string {
	t.Helper()
	return testcert.Write(t, filepath.Join(f.dir, file), f.ca.Issue(t, names, o).Bundle())
}

func (f *tlsFiles) write(t *testing.T, file, text string) string {
	t.Helper()
	return testcert.Write(t, filepath.Join(f.dir, file), []byte(text))
}

func (f *tlsFiles) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(f.ca.Cert)
	return p
}

// need skips the test when a client program is missing.
func need(t *testing.T, prog string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		t.Skipf("%s is not installed (.ci/run installs it)", prog)
	}
	return p
}

// curlTLS runs curl against https://name:port/path resolved to 127.0.0.1 and returns
// its output (body, then the -w line) and error.
func curlTLS(t *testing.T, ca, name string, port int, path string, extra ...string) (string, error) {
	t.Helper()
	args := append([]string{"-sS", "--max-time", "5", "--cacert", ca, "--resolve", fmt.Sprintf("%s:%d:127.0.0.1", name, port),
		"-w", "\n%{http_code} %{ssl_verify_result}"}, extra...)
	args = append(args, fmt.Sprintf("https://%s:%d%s", name, port, path))
	out, err := exec.Command(need(t, "curl"), args...).CombinedOutput()
	return string(out), err
}

// servedCN is the subject CN of the certificate served for sni (openssl s_client;
// sigalgs restricts the client's signature algorithms when not empty).
func servedCN(t *testing.T, port int, sni, sigalgs string) string {
	t.Helper()
	args := []string{"s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", port)}
	if sni != "" {
		args = append(args, "-servername", sni)
	} else {
		args = append(args, "-noservername")
	}
	if sigalgs != "" {
		args = append(args, "-sigalgs", sigalgs, "-tls1_2")
	}
	cmd := exec.Command(need(t, "openssl"), args...)
	cmd.Stdin = strings.NewReader("")
	out, _ := cmd.CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "subject=CN = "); ok {
			return v
		}
	}
	return "(none)"
}

// TestTLSTerminatesHTTPAndTCP: curl over `bind ... ssl crt` in mode http (with ALPN),
// and a Go TLS client through a crt-list bind in mode tcp to an echo server.
func TestTLSTerminatesHTTPAndTCP(t *testing.T) {
	f := newTLSFiles(t)
	f.cert(t, "site.pem", []string{"www.example.test"}, testcert.Options{})
	f.cert(t, "tcp.pem", []string{"tcp.example.test"}, testcert.Options{Key: testcert.RSA})
	f.write(t, "list.txt", "tcp.pem\n")
	be := newBackend(t, "app", nil)
	echo := serveTCP(t, func(c net.Conn) { io.Copy(c, c) })
	hp, tp := freePort(t), freePort(t)
	startHitless(t, fmt.Sprintf(`global
    crt-base %s
defaults
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend web
    mode http
    bind 127.0.0.1:%d ssl crt site.pem alpn http/1.1
    default_backend app
backend app
    mode http
    server s1 %s
listen tcp
    mode tcp
    bind 127.0.0.1:%d ssl crt-list %s/list.txt
    server echo %s
`, f.dir, hp, be.addr, tp, f.dir, echo), fmt.Sprintf("127.0.0.1:%d", hp), fmt.Sprintf("127.0.0.1:%d", tp))

	out, err := curlTLS(t, f.caFile, "www.example.test", hp, "/")
	if err != nil || !strings.HasSuffix(out, "app\n200 0") {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	c, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tp), &tls.Config{ServerName: "tcp.example.test", RootCAs: f.pool()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "ping over tls\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "ping over tls\n" {
		t.Fatalf("echo: %q %v", line, err)
	}
}

// TestTLSCrtListSNISelection: exact names, wildcards, a negative filter, key types and
// the default certificate, as HAProxy 2.6 picks them.
func TestTLSCrtListSNISelection(t *testing.T) {
	f := newTLSFiles(t)
	f.cert(t, "default.pem", []string{"default.test"}, testcert.Options{})
	f.cert(t, "other.pem", []string{"mix.example.test"}, testcert.Options{Key: testcert.RSA, CN: "other"})
	f.cert(t, "wild.pem", []string{"*.example.test"}, testcert.Options{Key: testcert.RSA, CN: "wild-rsa"})
	f.cert(t, "wild_ec.pem", []string{"*.example.test"}, testcert.Options{CN: "wild-ec"})
	f.cert(t, "api.pem", []string{"api.test"}, testcert.Options{CN: "api"})
	f.write(t, "list.txt", "default.pem\nother.pem mix.example.test\nwild.pem *.example.test !excluded.example.test\n"+
		"api.pem [alpn h2,http/1.1] API.test\nwild_ec.pem *.example.test\n")
	port := freePort(t)
	startHitless(t, fmt.Sprintf(`global
    crt-base %s
defaults
    timeout client 5s
frontend web
    mode http
    bind 127.0.0.1:%d ssl crt-list %s/list.txt
    http-request return status 200 content-type text/plain string ok
`, f.dir, port, f.dir), fmt.Sprintf("127.0.0.1:%d", port))
	rsaOnly := "RSA-PSS+SHA256:RSA+SHA256"
	for _, tc := range []struct{ sni, sigalgs, want string }{
		{"", "", "default.test"},
		{"nomatch.test", "", "default.test"},
		{"mix.example.test", "", "wild-ec"},
		{"mix.example.test", rsaOnly, "other"},
		{"a.example.test", rsaOnly, "wild-rsa"},
		{"excluded.example.test", "", "wild-ec"},
		{"a.b.example.test", "", "default.test"},
		{"api.test", "", "api"},
	} {
		if got := servedCN(t, port, tc.sni, tc.sigalgs); got != tc.want {
			t.Errorf("SNI %q sigalgs %q: served %q, want %q", tc.sni, tc.sigalgs, got, tc.want)
		}
	}
	out, err := curlTLS(t, f.caFile, "api.test", port, "/", "--http1.1")
	if err != nil || !strings.HasSuffix(out, "ok\n200 0") {
		t.Fatalf("curl api.test: %v\n%s", err, out)
	}
}

// TestTLSBadCertificatesAreFileLineErrors: -c reports every broken certificate, key
// and crt-list line with its position; an expired certificate is only a warning.
func TestTLSBadCertificatesAreFileLineErrors(t *testing.T) {
	f := newTLSFiles(t)
	good := f.ca.Issue(t, []string{"good.test"}, testcert.Options{})
	other := f.ca.Issue(t, []string{"other.test"}, testcert.Options{})
	f.write(t, "good.pem", string(good.Bundle()))
	f.write(t, "mismatch.pem", string(good.CertPEM)+string(other.KeyPEM))
	f.write(t, "nokey.pem", string(good.CertPEM))
	f.write(t, "junk.pem", "junk\n")
	f.cert(t, "expired.pem", []string{"old.test"}, testcert.Options{NotBefore: time.Now().Add(-72 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	list := f.write(t, "list.txt", "good.pem\n# comment\ngood.pem [bogus-kw 1] x.test\ngood.pem [alpn] \nmismatch.pem\n")
	unreadable := f.write(t, "unreadable.pem", string(good.Bundle()))
	os.Chmod(unreadable, 0)
	cfg := writeConfig(t, fmt.Sprintf(`global
    crt-base %s
defaults
    timeout client 5s
frontend a
    bind 127.0.0.1:1 ssl crt missing.pem
    bind 127.0.0.1:2 ssl crt mismatch.pem
    bind 127.0.0.1:3 ssl crt nokey.pem
    bind 127.0.0.1:4 ssl crt junk.pem
    bind 127.0.0.1:5 ssl crt-list %s
    bind 127.0.0.1:6 ssl
    bind 127.0.0.1:7 ssl crt good.pem allow-0rtt
`, f.dir, list))
	_, stderr, code := runHitless(t, "-c", "-f", cfg)
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	for _, want := range []string{
		cfg + ":6: 'bind 127.0.0.1:1' : unable to stat SSL certificate from file '" + f.dir + "/missing.pem' : No such file or directory.",
		cfg + ":7: 'bind 127.0.0.1:2' : inconsistencies between private key and certificate loaded '" + f.dir + "/mismatch.pem'.",
		cfg + ":8: 'bind 127.0.0.1:3' : No Private Key found in '" + f.dir + "/nokey.pem.key'.",
		cfg + ":9: 'bind 127.0.0.1:4' : unable to load certificate from file '" + f.dir + "/junk.pem'",
		list + ":3: unknown ssl keyword bogus-kw",
		list + ":4: ssl args out of '[]' for alpn",
		list + ":5: inconsistencies between private key and certificate loaded",
		cfg + ":11: Proxy 'a': no SSL certificate specified for bind '127.0.0.1:6' (use 'crt').",
		cfg + ":12: 'bind 127.0.0.1:7' : 'allow-0rtt' is not available: Go's TLS has no early data (0-RTT)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("missing %q in:\n%s", want, stderr)
		}
	}
	if os.Getuid() != 0 {
		cfg2 := writeConfig(t, fmt.Sprintf("defaults\n timeout client 5s\nfrontend a\n bind 127.0.0.1:1 ssl crt %s\n", unreadable))
		if _, stderr, code := runHitless(t, "-c", "-f", cfg2); code != 1 || !strings.Contains(stderr, "Permission denied") {
			t.Errorf("unreadable certificate: exit %d\n%s", code, stderr)
		}
	}
	cfg3 := writeConfig(t, fmt.Sprintf("defaults\n timeout client 5s\nfrontend a\n bind 127.0.0.1:1 ssl crt %s/expired.pem\n", f.dir))
	stdout, stderr, code := runHitless(t, "-c", "-f", cfg3)
	if code != 0 || !strings.Contains(stderr, "expired on") || !strings.Contains(stdout+stderr, "Configuration file is valid") {
		t.Errorf("expired certificate: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestTLSGarbageAndStalledHandshakes: a client that sends garbage is closed at once,
// one that stalls is closed at `timeout client`, and neither holds up a real client.
func TestTLSGarbageAndStalledHandshakes(t *testing.T) {
	f := newTLSFiles(t)
	f.cert(t, "site.pem", []string{"www.example.test"}, testcert.Options{})
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logs := newUDPLogs(t)
	startHitless(t, fmt.Sprintf(`defaults
    timeout client 1s
frontend web
    mode http
    log %s local0
    bind %s ssl crt %s/site.pem
    http-request return status 200 content-type text/plain string ok
`, logs.addr(), addr, f.dir), addr)
	var stalled []net.Conn
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		stalled = append(stalled, c)
	}
	g, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	fmt.Fprint(g, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	g.SetReadDeadline(time.Now().Add(2 * time.Second))
	start := time.Now()
	io.Copy(io.Discard, g)
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("garbage instead of a ClientHello was closed after %v", d)
	}
	if !waitFor(2*time.Second, func() bool { return logs.find("] web/1: SSL handshake failure") != "" }) {
		t.Errorf("no handshake failure log line: %q", logs.lines)
	}
	out, err := curlTLS(t, f.caFile, "www.example.test", port, "/")
	if err != nil || !strings.HasSuffix(out, "ok\n200 0") {
		t.Fatalf("a real client while others stall: %v\n%s", err, out)
	}
	for _, c := range stalled {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("stalled handshake not closed at timeout client: %v", err)
		}
	}
}

// sClient runs openssl s_client with args against port and returns its output.
func sClient(t *testing.T, port int, args ...string) string {
	t.Helper()
	all := append([]string{"s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", port)}, args...)
	cmd := exec.Command(need(t, "openssl"), all...)
	cmd.Stdin = strings.NewReader("")
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// TestTLSClientCertificates: verify required refuses a client without a certificate
// or with one from another CA or revoked by crl-file; crt-ignore-err lets an expired
// one through on another bind.
func TestTLSClientCertificates(t *testing.T) {
	f := newTLSFiles(t)
	f.cert(t, "site.pem", []string{"www.example.test"}, testcert.Options{})
	good := f.ca.Issue(t, []string{}, testcert.Options{Client: true, CN: "client1"})
	revoked := f.ca.Issue(t, []string{}, testcert.Options{Client: true, CN: "revoked"})
	old := f.ca.Issue(t, []string{}, testcert.Options{Client: true, CN: "old", NotBefore: time.Now().Add(-72 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	stranger := testcert.NewCA(t, "Other CA").Issue(t, []string{}, testcert.Options{Client: true, CN: "stranger"})
	files := map[string]*testcert.Leaf{"good": good, "revoked": revoked, "old": old, "stranger": stranger}
	for n, l := range files {
		f.write(t, n+".crt", string(l.CertPEM))
		f.write(t, n+".key", string(l.KeyPEM))
	}
	f.write(t, "crl.pem", string(f.ca.CRL(t, revoked.Cert)))
	f.write(t, "other.pem", string(testcert.NewCA(t, "Names Only CA").PEM))
	p1, p2, p3 := freePort(t), freePort(t), freePort(t)
	startHitless(t, fmt.Sprintf(`global
    crt-base %s
    ca-base %s
defaults
    timeout client 5s
frontend strict
    mode http
    bind 127.0.0.1:%d ssl crt site.pem verify required ca-file ca.pem crl-file crl.pem
    bind 127.0.0.1:%d ssl crt site.pem verify required ca-file ca.pem crt-ignore-err 10
    bind 127.0.0.1:%d ssl crt site.pem verify required ca-file other.pem ca-verify-file ca.pem
    http-request return status 200 content-type text/plain string ok
`, f.dir, f.dir, p1, p2, p3), fmt.Sprintf("127.0.0.1:%d", p1), fmt.Sprintf("127.0.0.1:%d", p2))
	withCert := func(n string) []string {
		return []string{"--cert", filepath.Join(f.dir, n+".crt"), "--key", filepath.Join(f.dir, n+".key")}
	}
	if out, err := curlTLS(t, f.caFile, "www.example.test", p1, "/"); err == nil {
		t.Errorf("no client certificate was accepted:\n%s", out)
	}
	if out, err := curlTLS(t, f.caFile, "www.example.test", p1, "/", withCert("good")...); err != nil || !strings.HasSuffix(out, "ok\n200 0") {
		t.Errorf("good client certificate: %v\n%s", err, out)
	}
	for _, n := range []string{"stranger", "revoked", "old"} {
		if out, err := curlTLS(t, f.caFile, "www.example.test", p1, "/", withCert(n)...); err == nil {
			t.Errorf("%s client certificate was accepted:\n%s", n, out)
		}
	}
	if out, err := curlTLS(t, f.caFile, "www.example.test", p2, "/", withCert("old")...); err != nil || !strings.HasSuffix(out, "ok\n200 0") {
		t.Errorf("expired certificate with crt-ignore-err 10: %v\n%s", err, out)
	}
	if out, err := curlTLS(t, f.caFile, "www.example.test", p2, "/", withCert("stranger")...); err == nil {
		t.Errorf("crt-ignore-err 10 let an unknown CA through:\n%s", out)
	}
	// ca-verify-file verifies without being named to the client.
	if out, err := curlTLS(t, f.caFile, "www.example.test", p3, "/", withCert("good")...); err != nil || !strings.HasSuffix(out, "ok\n200 0") {
		t.Errorf("ca-verify-file: %v\n%s", err, out)
	}
	out := sClient(t, p3, "-servername", "www.example.test")
	names := out[strings.Index(out, "Acceptable client certificate CA names")+1:]
	names = names[:strings.Index(names, "Requested Signature")]
	if !strings.Contains(names, "Names Only CA") || strings.Contains(names, "Test Root CA") {
		t.Errorf("the CA names sent are not ca-file's only:\n%s", names)
	}
}

// TestTLSBindOptions: alpn, versions, ciphers, strict-sni, and session tickets from a
// tls-ticket-keys file or none at all (openssl s_client -sess_out / -sess_in).
func TestTLSBindOptions(t *testing.T) {
	f := newTLSFiles(t)
	f.cert(t, "site.pem", []string{"www.example.test"}, testcert.Options{Key: testcert.RSA})
	var keys []string
	for i := 0; i < 3; i++ {
		k := make([]byte, 48)
		k[0] = byte(i)
		keys = append(keys, base64Std(k))
	}
	f.write(t, "ticket.keys", strings.Join(keys, "\n")+"\n")
	p1, p2, p3 := freePort(t), freePort(t), freePort(t)
	startHitless(t, fmt.Sprintf(`global
    crt-base %s
defaults
    timeout client 5s
frontend a
    mode http
    bind 127.0.0.1:%d ssl crt site.pem alpn h2,http/1.1 ssl-min-ver TLSv1.2 ciphers ECDHE-RSA-AES256-GCM-SHA384 tls-ticket-keys %s/ticket.keys
    bind 127.0.0.1:%d ssl crt site.pem no-tls-tickets strict-sni force-tlsv12
    bind 127.0.0.1:%d ssl crt site.pem no-tlsv13
    http-request return status 200 content-type text/plain string ok
`, f.dir, p1, f.dir, p2, p3), fmt.Sprintf("127.0.0.1:%d", p1))
	// Mode http speaks HTTP/1.1: of `alpn h2,http/1.1` only http/1.1 is offered.
	out := sClient(t, p1, "-servername", "www.example.test", "-alpn", "h2,http/1.1", "-tls1_2")
	if !strings.Contains(out, "ALPN protocol: http/1.1") || !strings.Contains(out, "Cipher is ECDHE-RSA-AES256-GCM-SHA384") {
		t.Errorf("alpn/ciphers not applied:\n%s", out)
	}
	if out := sClient(t, p1, "-servername", "www.example.test", "-alpn", "h2"); strings.Contains(out, "ALPN protocol: h2") {
		t.Errorf("h2 negotiated in mode http:\n%s", out)
	}
	if out := sClient(t, p1, "-tls1_1"); strings.Contains(out, "Cipher is ECDHE") {
		t.Errorf("TLS 1.1 accepted despite ssl-min-ver TLSv1.2:\n%s", out)
	}
	if out := sClient(t, p3, "-tls1_3"); strings.Contains(out, "TLSv1.3") && strings.Contains(out, "Cipher is TLS_") {
		t.Errorf("TLS 1.3 accepted despite no-tlsv13:\n%s", out)
	}
	if out := sClient(t, p2, "-noservername"); strings.Contains(out, "Cipher is ECDHE") {
		t.Errorf("strict-sni served a client without SNI:\n%s", out)
	}
	sess := filepath.Join(f.dir, "sess")
	resumed := func(port int) bool {
		sClient(t, port, "-servername", "www.example.test", "-tls1_2", "-sess_out", sess)
		return strings.Contains(sClient(t, port, "-servername", "www.example.test", "-tls1_2", "-sess_in", sess), "Reused, TLSv1.2")
	}
	if !resumed(p1) {
		t.Error("no resumption with tls-ticket-keys")
	}
	if resumed(p2) {
		t.Error("a session resumed with no-tls-tickets")
	}
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// tlsBackend is an HTTPS server that answers with what it saw of the TLS connection:
// "sni=<name> resumed=<bool> client=<CN>".
func tlsBackend(t *testing.T, f *tlsFiles, names []string, clientCAs bool) string {
	t.Helper()
	leaf := f.ca.Issue(t, names, testcert.Options{})
	cert, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
	if clientCAs {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, f.pool()
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := ""
		if len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprintf(w, "sni=%s resumed=%v client=%s alpn=%s", r.TLS.ServerName, r.TLS.DidResume, cn, r.TLS.NegotiatedProtocol)
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestTLSToServers: server ... ssl with verify required, sni expressions, alpn, a
// client certificate, session reuse (and no-ssl-reuse), a wrong verifyhost, and
// check-ssl health checks.
func TestTLSToServers(t *testing.T) {
	f := newTLSFiles(t)
	f.cert(t, "site.pem", []string{"www.example.test"}, testcert.Options{})
	cl := f.ca.Issue(t, nil, testcert.Options{Client: true, CN: "hitless-client"})
	f.write(t, "client.pem", string(cl.Bundle()))
	be := tlsBackend(t, f, []string{"backend.test", "www.example.test"}, false)
	beMTLS := tlsBackend(t, f, []string{"mtls.test"}, true)
	plain := newBackend(t, "plain", nil)
	ports := []int{freePort(t), freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)}
	p := startHitless(t, fmt.Sprintf(`global
    crt-base %[1]s
    ca-base %[1]s
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
    option http-server-close
listen str
    bind 127.0.0.1:%[2]d
    server s1 %[8]s ssl verify required ca-file ca.pem sni str(backend.test) alpn http/1.1
listen hdr
    bind 127.0.0.1:%[3]d
    server s1 %[8]s ssl ca-file ca.pem sni req.hdr(host) no-ssl-reuse
listen fcsni
    bind 127.0.0.1:%[4]d ssl crt site.pem
    server s1 %[8]s ssl ca-file ca.pem sni ssl_fc_sni
listen mtls
    bind 127.0.0.1:%[5]d
    server s1 %[9]s ssl ca-file ca.pem crt client.pem sni str(mtls.test)
listen badname
    bind 127.0.0.1:%[6]d
    server s1 %[8]s ssl ca-file ca.pem sni str(backend.test) verifyhost wrong.test
listen checks
    bind 127.0.0.1:%[7]d
    server tls %[8]s check inter 200ms ssl verify none
    server plain %[10]s check inter 200ms check-ssl verify none
    server tlsport %[8]s check inter 200ms ssl verify none port %[11]d
`, f.dir, ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], be, beMTLS, plain.addr, plain.port), fmt.Sprintf("127.0.0.1:%d", ports[5]))
	body := func(port int, host string) string {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host)
		b, _ := io.ReadAll(c)
		return string(b)
	}
	if got := body(ports[0], "x"); !strings.HasSuffix(got, "sni=backend.test resumed=false client= alpn=http/1.1") {
		t.Errorf("sni str(): %q", got)
	}
	if got := body(ports[0], "x"); !strings.HasSuffix(got, "sni=backend.test resumed=true client= alpn=http/1.1") {
		t.Errorf("second connection did not resume the server session: %q", got)
	}
	for i := 0; i < 2; i++ {
		if got := body(ports[1], "www.example.test:8080"); !strings.HasSuffix(got, "sni=www.example.test resumed=false client= alpn=") {
			t.Errorf("sni req.hdr(host) with no-ssl-reuse: %q", got)
		}
	}
	out, err := curlTLS(t, f.caFile, "www.example.test", ports[2], "/")
	if err != nil || !strings.Contains(out, "sni=www.example.test") {
		t.Errorf("sni ssl_fc_sni: %v %q", err, out)
	}
	if got := body(ports[3], "x"); !strings.HasSuffix(got, "sni=mtls.test resumed=false client=hitless-client alpn=") {
		t.Errorf("client certificate to the server: %q", got)
	}
	if got := body(ports[4], "x"); !strings.HasPrefix(got, "HTTP/1.1 503") {
		t.Errorf("verifyhost wrong.test was not refused: %q", got)
	}
	if !waitFor(5*time.Second, func() bool {
		return strings.Contains(p.out.String(), "Server checks/plain is DOWN, reason: Layer6 invalid response")
	}) {
		t.Errorf("check-ssl against a plain server did not fail at layer 6:\n%s", p.out.String())
	}
	if strings.Contains(p.out.String(), "Server checks/tls is DOWN") {
		t.Errorf("check over TLS failed:\n%s", p.out.String())
	}
	// An ssl server whose checks have a port of their own checks it in clear, as in
	// HAProxy (check-ssl would be needed): the plain port passes, where a TLS check
	// would have failed at layer 6 within its first checks (every 200ms).
	time.Sleep(time.Second)
	if strings.Contains(p.out.String(), "Server checks/tlsport is DOWN") {
		t.Errorf("checks of an ssl server with its own port used TLS:\n%s", p.out.String())
	}
}

// TestAcceptProxyThenTLS: on `bind ... accept-proxy ssl` the PROXY header comes
// first and the TLS handshake runs over what follows it; the header's addresses are
// what the rules see as src and dst, and what the log line says.
func TestAcceptProxyThenTLS(t *testing.T) {
	f := newTLSFiles(t)
	f.cert(t, "site.pem", []string{"www.example.test"}, testcert.Options{})
	web := newBackend(t, "web", nil)
	fe := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startHitless(t, fmt.Sprintf(`global
    crt-base %s
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
listen app
    bind %s accept-proxy ssl crt site.pem
    http-request set-header X-Src %%[src]
    http-request set-header X-Dst %%[dst]:%%[dst_port]
    http-request set-header X-SNI %%[ssl_fc_sni]
    server w %s
`, f.dir, fe, web.addr), fe)
	c, err := net.DialTimeout("tcp", fe, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "PROXY TCP4 203.0.113.9 198.51.100.11 40002 443\r\n")
	tc := tls.Client(c, &tls.Config{ServerName: "www.example.test", RootCAs: f.pool()})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS after the PROXY header: %v", err)
	}
	io.WriteString(tc, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	raw, _ := io.ReadAll(tc)
	if !strings.HasPrefix(string(raw), "HTTP/1.1 200") {
		t.Fatalf("answer: %q", raw)
	}
	h, _ := web.lastReq.Load().(http.Header)
	if h.Get("X-Src") != "203.0.113.9" || h.Get("X-Dst") != "198.51.100.11:443" || h.Get("X-SNI") != "www.example.test" {
		t.Fatalf("src, dst and sni seen by the rules: %q %q %q", h.Get("X-Src"), h.Get("X-Dst"), h.Get("X-SNI"))
	}
	// A TLS client that sends no PROXY header is refused before any handshake.
	c2, err := net.DialTimeout("tcp", fe, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tls.Client(c2, &tls.Config{ServerName: "www.example.test", RootCAs: f.pool()}).Handshake(); err == nil {
		t.Fatal("a TLS handshake without the PROXY header succeeded")
	}
}

// TestTLSFetchesAndLogs: the ssl_fc*/ssl_c_* fetches in rules, and option httplog's
// "fe~" and %sslv/%sslc in a log-format, with curl as the client.
func TestTLSFetchesAndLogs(t *testing.T) {
	f := newTLSFiles(t)
	f.cert(t, "site.pem", []string{"www.example.test"}, testcert.Options{})
	cl := f.ca.Issue(t, nil, testcert.Options{Client: true, CN: "client1"})
	f.write(t, "client.crt", string(cl.CertPEM))
	f.write(t, "client.key", string(cl.KeyPEM))
	logs := newUDPLogs(t)
	tp, pp, lp := freePort(t), freePort(t), freePort(t)
	startHitless(t, fmt.Sprintf(`global
    crt-base %[1]s
    ca-base %[1]s
defaults
    mode http
    timeout client 5s
    log %[5]s local0
frontend fe
    option httplog
    bind 127.0.0.1:%[2]d ssl crt site.pem verify optional ca-file ca.pem alpn http/1.1
    bind 127.0.0.1:%[3]d
    http-request return status 200 content-type text/plain string cert-client1 if { ssl_c_s_dn(CN) client1 } { ssl_c_used } { ssl_c_verify 0 } { ssl_c_i_dn(CN) -m beg Test }
    http-request return status 200 content-type text/plain string resumed if { ssl_fc_is_resumed } { ssl_fc_protocol TLSv1.3 }
    http-request return status 200 content-type text/plain string tls13-sni if { ssl_fc_protocol TLSv1.3 } { ssl_fc_has_sni } { ssl_fc_sni www.example.test } { ssl_fc_alpn http/1.1 }
    http-request return status 200 content-type text/plain string tls12 if { ssl_fc_cipher ECDHE-ECDSA-AES128-GCM-SHA256 } !{ ssl_fc_has_crt }
    http-request return status 200 content-type text/plain string plain unless { ssl_fc }
frontend lf
    log-format "%%ft %%f sslv=%%sslv sslc=%%sslc %%ST"
    bind 127.0.0.1:%[4]d ssl crt site.pem
    http-request return status 200 content-type text/plain string ok
`, f.dir, tp, pp, lp, logs.addr()), fmt.Sprintf("127.0.0.1:%d", tp), fmt.Sprintf("127.0.0.1:%d", pp))
	for _, tc := range []struct {
		port int
		args []string
		want string
	}{
		{tp, []string{"--tlsv1.3", "--http1.1"}, "tls13-sni"},
		{tp, []string{"--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256"}, "tls12"},
		{tp, []string{"--cert", filepath.Join(f.dir, "client.crt"), "--key", filepath.Join(f.dir, "client.key")}, "cert-client1"},
	} {
		if out, err := curlTLS(t, f.caFile, "www.example.test", tc.port, "/", tc.args...); err != nil || !strings.HasSuffix(out, tc.want+"\n200 0") {
			t.Errorf("curl %v: %v\n%s", tc.args, err, out)
		}
	}
	// Two connections in one curl run: the second resumes the first's session (TLS
	// 1.3: curl caches a TLS 1.2 session only when the server sent a session ID, and
	// Go's server sends tickets only).
	out, err := curlTLS(t, f.caFile, "www.example.test", tp, "/", "--tlsv1.3", "-H", "Connection: close",
		fmt.Sprintf("https://www.example.test:%d/", tp))
	if err != nil || !strings.Contains(out, "resumed") {
		t.Errorf("resumption seen by ssl_fc_is_resumed: %v\n%s", err, out)
	}
	_, body, _ := get(t, fmt.Sprintf("http://127.0.0.1:%d/", pp))
	if body != "plain" {
		t.Errorf("plain bind: %q", body)
	}
	if out, err := curlTLS(t, f.caFile, "www.example.test", lp, "/", "--tlsv1.3"); err != nil || !strings.HasSuffix(out, "ok\n200 0") {
		t.Fatalf("log-format frontend: %v %s", err, out)
	}
	if !waitFor(2*time.Second, func() bool { return logs.find("lf~ lf sslv=TLSv1.3 sslc=TLS_") != "" }) {
		t.Errorf("no %%ft~ / %%sslv / %%sslc line; got %q", logs.lines)
	}
	tlsLine := logs.find(" fe~ fe/<NOSRV> ")
	plainLine := logs.find(" fe fe/<NOSRV> ")
	if tlsLine == "" || plainLine == "" || !strings.Contains(tlsLine, `"GET / HTTP/1.1"`) {
		t.Errorf("httplog lines: TLS %q, plain %q", tlsLine, plainLine)
	}
}

// tlsReloadConfig is a TLS frontend that says whether the session was resumed, with
// a stats socket for -x.
const tlsReloadConfig = `global
    stats socket %s mode 600 level admin expose-fd listeners
defaults
    mode http
    timeout client 5s
frontend fe
    bind %s ssl crt %s
    http-request return status 200 content-type text/plain string resumed if { ssl_fc_is_resumed }
    http-request return status 200 content-type text/plain string full
`

// goTLSGet sends one request over a new TLS connection with the client's session
// cache and returns the body and whether the handshake resumed.
func goTLSGet(t *testing.T, addr string, cfg *tls.Config) (string, bool) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	b, _ := io.ReadAll(c)
	s := string(b)
	return s[strings.LastIndex(s, "\n")+1:], c.ConnectionState().DidResume
}

// TestTLSSessionsResumeAcrossReloads: a client that connected before a reload resumes
// its session after it (openssl s_client -sess_out / -sess_in for TLS 1.2, Go's
// client for TLS 1.3), with -sf -x; without -x the new process has new keys.
func TestTLSSessionsResumeAcrossReloads(t *testing.T) {
	f := newTLSFiles(t)
	site := f.cert(t, "site.pem", []string{"www.example.test"}, testcert.Options{})
	r := newReloadSetup(t, func(addr, sock string) string { return fmt.Sprintf(tlsReloadConfig, sock, addr, site) })
	r.start(t)
	port, _ := strconv.Atoi(r.addr[strings.LastIndex(r.addr, ":")+1:])
	sess := filepath.Join(f.dir, "sess")
	if out := sClient(t, port, "-servername", "www.example.test", "-tls1_2", "-sess_out", sess); !strings.Contains(out, "New, TLSv1.2") {
		t.Fatalf("first handshake:\n%s", out)
	}
	goCfg := &tls.Config{ServerName: "www.example.test", RootCAs: f.pool(), ClientSessionCache: tls.NewLRUClientSessionCache(8), MinVersion: tls.VersionTLS13}
	if body, resumed := goTLSGet(t, r.addr, goCfg); body != "full" || resumed {
		t.Fatalf("first TLS 1.3 connection: %q resumed=%v", body, resumed)
	}
	for i := 0; i < 2; i++ {
		before := r.currentPid()
		if out, err := exec.Command("/bin/sh", "-c", r.reloadCmd(true)).CombinedOutput(); err != nil {
			t.Fatalf("reload: %v %s", err, out)
		}
		if r.currentPid() == before {
			t.Fatal("the reload did not start a new process")
		}
		if out := sClient(t, port, "-servername", "www.example.test", "-tls1_2", "-sess_in", sess); !strings.Contains(out, "Reused, TLSv1.2") {
			t.Fatalf("reload %d (-x): TLS 1.2 session not resumed:\n%s", i+1, out)
		}
		if body, resumed := goTLSGet(t, r.addr, goCfg); body != "resumed" || !resumed {
			t.Fatalf("reload %d (-x): TLS 1.3: %q resumed=%v (ssl_fc_is_resumed must be true)", i+1, body, resumed)
		}
	}
	if out, err := exec.Command("/bin/sh", "-c", r.reloadCmd(false)).CombinedOutput(); err != nil {
		t.Fatalf("reload: %v %s", err, out)
	}
	if !waitFor(5*time.Second, func() bool {
		return !strings.Contains(sClient(t, port, "-servername", "www.example.test", "-tls1_2", "-sess_in", sess), "Reused")
	}) {
		t.Error("without -x the new process resumed a session it cannot have the keys of")
	}
	// A reload with a broken certificate fails and the running process keeps serving.
	before := r.currentPid()
	goTLSGet(t, r.addr, goCfg) // a ticket from the running process
	os.WriteFile(site, []byte("junk\n"), 0o600)
	if _, stderr, code := runHitless(t, "-c", "-f", r.cfg); code != 1 || !strings.Contains(stderr, "unable to load certificate from file '"+site+"'") {
		t.Errorf("-c with a broken certificate: exit %d %s", code, stderr)
	}
	if out, err := exec.Command("/bin/sh", "-c", r.reloadCmd(true)).CombinedOutput(); err == nil {
		t.Errorf("reload with a broken certificate succeeded: %s", out)
	}
	if r.currentPid() != before || !alive(before) {
		t.Fatal("the running process did not survive a reload with a broken certificate")
	}
	if body, _ := goTLSGet(t, r.addr, goCfg); body != "resumed" {
		t.Errorf("after the failed reload: %q", body)
	}
	if info := socketCommand(t, r.sock, "show info"); !strings.Contains(info, "\nCurrSslConns: 0\n") || strings.Contains(info, "\nCumSslConns: 0\n") {
		t.Errorf("show info TLS counters:\n%s", info)
	}
	// The keys are only for admin sockets that expose the listeners.
	if out := socketCommand(t, r.sock, "_tls-session-keys"); len(strings.Fields(out)) != 2 {
		t.Errorf("_tls-session-keys on the admin socket: %q", out)
	}
}

// TestTLSSessionsResumeAcrossMasterWorkerReloadsAndRespawns: in master-worker mode the
// keys go to each new worker, on SIGUSR2 and when a killed worker is replaced.
func TestTLSSessionsResumeAcrossMasterWorkerReloadsAndRespawns(t *testing.T) {
	f := newTLSFiles(t)
	site := f.cert(t, "site.pem", []string{"www.example.test"}, testcert.Options{})
	be := newBackend(t, "ok", nil)
	s := startMaster(t, "", "", be.addr)
	s.write(t, fmt.Sprintf(tlsReloadConfig, filepath.Join(s.dir, "stats.sock"), s.addr, site))
	_, cur, _ := s.procs(t)
	s.reload(t)
	cur = s.waitNewWorker(t, cur)
	port, _ := strconv.Atoi(s.addr[strings.LastIndex(s.addr, ":")+1:])
	sess := filepath.Join(f.dir, "sess")
	if !waitFor(5*time.Second, func() bool {
		return strings.Contains(sClient(t, port, "-servername", "www.example.test", "-tls1_2", "-sess_out", sess), "New, TLSv1.2")
	}) {
		t.Fatalf("the TLS worker does not answer:\n%s", s.p.out.String())
	}
	goCfg := &tls.Config{ServerName: "www.example.test", RootCAs: f.pool(), ClientSessionCache: tls.NewLRUClientSessionCache(8), MinVersion: tls.VersionTLS13}
	goTLSGet(t, s.addr, goCfg)
	// A certificate committed at runtime is kept by the next workers too.
	next := f.ca.Issue(t, []string{"www.example.test"}, testcert.Options{CN: "committed"})
	sock := filepath.Join(s.dir, "stats.sock")
	socketCommand(t, sock, "set ssl cert "+site+" <<\n"+string(next.Bundle()))
	if out := socketCommand(t, sock, "commit ssl cert "+site); !strings.Contains(out, "Success!") {
		t.Fatalf("commit: %q", out)
	}
	s.reload(t)
	cur = s.waitNewWorker(t, cur)
	check := func(when string) {
		t.Helper()
		if !waitFor(5*time.Second, func() bool {
			return strings.Contains(sClient(t, port, "-servername", "www.example.test", "-tls1_2", "-sess_in", sess), "Reused, TLSv1.2")
		}) {
			t.Fatalf("%s: TLS 1.2 session not resumed:\n%s", when, s.p.out.String())
		}
		if body, resumed := goTLSGet(t, s.addr, goCfg); body != "resumed" || !resumed {
			t.Fatalf("%s: TLS 1.3: %q resumed=%v", when, body, resumed)
		}
		if got := servedCN(t, port, "www.example.test", ""); got != "committed" {
			t.Fatalf("%s: served %q, not the committed certificate", when, got)
		}
	}
	check("after SIGUSR2")
	syscall.Kill(cur, syscall.SIGKILL)
	s.waitNewWorker(t, cur)
	check("after the killed worker was replaced")
}

// TestTLSSetSSLCertChangesTheServedCertificate: `set ssl cert` + `commit ssl cert`
// change what the next handshake gets, without a reload; a reload (-sf -x) keeps the
// committed certificate while the file is unchanged, and a changed file wins.
func TestTLSSetSSLCertChangesTheServedCertificate(t *testing.T) {
	f := newTLSFiles(t)
	site := f.cert(t, "site.pem", []string{"www.example.test"}, testcert.Options{CN: "old"})
	r := newReloadSetup(t, func(addr, sock string) string { return fmt.Sprintf(tlsReloadConfig, sock, addr, site) })
	r.start(t)
	port, _ := strconv.Atoi(r.addr[strings.LastIndex(r.addr, ":")+1:])
	if got := servedCN(t, port, "www.example.test", ""); got != "old" {
		t.Fatalf("served %q", got)
	}
	next := f.ca.Issue(t, []string{"www.example.test"}, testcert.Options{CN: "new"})
	if out := socketCommand(t, r.sock, "set ssl cert "+site+" <<\n"+string(next.Bundle())); out != "Transaction created for certificate "+site+"!\n\n" {
		t.Fatalf("set ssl cert: %q", out)
	}
	if out := socketCommand(t, r.sock, "show ssl cert"); out != "# transaction\n*"+site+"\n# filename\n"+site+"\n\n" {
		t.Errorf("show ssl cert during the transaction: %q", out)
	}
	if got := servedCN(t, port, "www.example.test", ""); got != "old" {
		t.Fatalf("served %q before the commit", got)
	}
	if out := socketCommand(t, r.sock, "commit ssl cert "+site); out != "Committing "+site+".\nSuccess!\n\n" {
		t.Fatalf("commit: %q", out)
	}
	if got := servedCN(t, port, "www.example.test", ""); got != "new" {
		t.Fatalf("served %q after the commit", got)
	}
	if out, err := exec.Command("/bin/sh", "-c", r.reloadCmd(true)).CombinedOutput(); err != nil {
		t.Fatalf("reload: %v %s", err, out)
	}
	if got := servedCN(t, port, "www.example.test", ""); got != "new" {
		t.Fatalf("served %q after a reload: the commit was reverted", got)
	}
	f.cert(t, "site.pem", []string{"www.example.test"}, testcert.Options{CN: "disk"})
	if out, err := exec.Command("/bin/sh", "-c", r.reloadCmd(true)).CombinedOutput(); err != nil {
		t.Fatalf("reload: %v %s", err, out)
	}
	if got := servedCN(t, port, "www.example.test", ""); got != "disk" {
		t.Fatalf("served %q after the file changed and a reload", got)
	}
	if out := socketCommand(t, r.sock, "set ssl cert "+site); out != "'set ssl cert expects a filename and a certificate as a payload\n\n" {
		t.Errorf("set without payload: %q", out)
	}
}

// TestTLSShowSSLCertMatchesHAProxy: `show ssl cert` and `show ssl cert NAME` print
// what HAProxy 2.6 prints for the same certificates.
func TestTLSShowSSLCertMatchesHAProxy(t *testing.T) {
	hx := haproxy(t)
	f := newTLSFiles(t)
	ec := f.cert(t, "ec.pem", []string{"www.example.test", "alt.example.test"}, testcert.Options{})
	rs := f.cert(t, "rsa.pem", []string{"rsa.example.test"}, testcert.Options{Key: testcert.RSA})
	outputs := map[string]string{}
	for _, who := range []string{"hitless", "haproxy"} {
		sock := filepath.Join(f.dir, who+".sock")
		port := freePort(t)
		cfg := writeConfig(t, fmt.Sprintf("global\n    stats socket %s level admin\ndefaults\n    timeout client 5s\nfrontend fe\n    bind 127.0.0.1:%d ssl crt %s crt %s\n", sock, port, rs, ec))
		p := startEither(t, who, hx, cfg, port, sock)
		for _, cmd := range []string{"show ssl cert", "show ssl cert " + ec, "show ssl cert " + rs, "show ssl cert /nope"} {
			outputs[who+cmd] = socketCommand(t, sock, cmd)
		}
		p.stop(t)
	}
	for _, cmd := range []string{"show ssl cert", "show ssl cert " + ec, "show ssl cert " + rs, "show ssl cert /nope"} {
		if h, x := outputs["hitless"+cmd], outputs["haproxy"+cmd]; h != x {
			t.Errorf("%s:\nhitless:\n%s\nhaproxy:\n%s", cmd, h, x)
		}
	}
}

// TestTLSReloadStormLosesNoSessions: TLS connections at a fixed rate and busy TLS
// keep-alive connections under a reload (-sf -x) every 200 ms: no request fails and
// every session a client offers after a reload is resumed.
func TestTLSReloadStormLosesNoSessions(t *testing.T) {
	f := newTLSFiles(t)
	site := f.cert(t, "site.pem", []string{"www.example.test"}, testcert.Options{})
	r := newReloadSetup(t, func(addr, sock string) string { return fmt.Sprintf(tlsReloadConfig, sock, addr, site) })
	r.start(t)
	res := storm.Run(context.Background(), storm.Options{Target: r.addr, Rate: 150, KeepAlive: 6, Duration: 3 * time.Second,
		Timeout: 5 * time.Second, Reload: r.reloadCmd(true), Every: 200 * time.Millisecond, BodyLen: -1,
		TLS: &tls.Config{ServerName: "www.example.test", RootCAs: f.pool(), ClientSessionCache: tls.NewLRUClientSessionCache(16)}})
	t.Logf("%d requests, %d reloads, %d handshakes, %d sessions offered, %d not resumed, failures %v",
		res.Requests, res.Reloads, res.Handshakes, res.Offered, res.ResumeFailures, res.FailuresBy)
	if res.Failures() != 0 || res.ReloadErrors != 0 || res.Reloads < 5 || res.Offered < 100 || res.ResumeFailures != 0 {
		t.Fatalf("failures %v %v, reloads %d (errors %d), offered %d, not resumed %d", res.FailuresBy, res.FirstErrors,
			res.Reloads, res.ReloadErrors, res.Offered, res.ResumeFailures)
	}
}

// TestTLSTicketKeyCommandsMatchHAProxy: show tls-keys and set ssl tls-key answer as
// HAProxy 2.6 does, on the same tls-ticket-keys file named by two binds.
func TestTLSTicketKeyCommandsMatchHAProxy(t *testing.T) {
	hx := haproxy(t)
	f := newTLSFiles(t)
	site := f.cert(t, "site.pem", []string{"www.example.test"}, testcert.Options{})
	var lines []string
	for i := 0; i < 4; i++ {
		k := make([]byte, 48)
		k[0], k[47] = byte(i+1), byte(i+7)
		lines = append(lines, base64Std(k))
	}
	keys := f.write(t, "ticket.keys", strings.Join(lines, "\n")+"\n")
	newKey := base64Std(make([]byte, 48))
	cmds := []string{"show tls-keys", "show tls-keys *", "show tls-keys #0", "show tls-keys " + keys, "show tls-keys 0", "show tls-keys #1",
		"set ssl tls-key #0 " + newKey, "show tls-keys #0", "set ssl tls-key " + keys + " AAAA", "set ssl tls-key #0 !!!",
		"set ssl tls-key #7 " + newKey, "set ssl tls-key", "show tls-keys *"}
	outputs := map[string][]string{}
	for _, who := range []string{"hitless", "haproxy"} {
		sock := filepath.Join(f.dir, who+".sock")
		p1, p2 := freePort(t), freePort(t)
		cfg := writeConfig(t, fmt.Sprintf("global\n    stats socket %s level admin\ndefaults\n    timeout client 5s\nfrontend fe\n"+
			"    bind 127.0.0.1:%d ssl crt %s tls-ticket-keys %s\n    bind 127.0.0.1:%d ssl crt %s tls-ticket-keys %s\n", sock, p1, site, keys, p2, site, keys))
		p := startEither(t, who, hx, cfg, p1, sock)
		for _, c := range cmds {
			outputs[who] = append(outputs[who], socketCommand(t, sock, c))
		}
		p.stop(t)
	}
	for i, c := range cmds {
		if h, x := outputs["hitless"][i], outputs["haproxy"][i]; h != x {
			t.Errorf("%s:\nhitless: %q\nhaproxy: %q", c, h, x)
		}
	}
}

// startEither starts hitless or HAProxy (binary hx) on cfg and waits for port and
// the stats socket sock.
func startEither(t *testing.T, who, hx, cfg string, port int, sock string) *proc {
	t.Helper()
	var p *proc
	if who == "hitless" {
		p = launch(t, cfg, "-f", cfg)
	} else {
		p = launchBin(t, hx, cfg, "-db", "-f", cfg)
	}
	if !waitAccept(fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second, p.done) || !waitFor(5*time.Second, func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("%s did not start:\n%s", who, p.out.String())
	}
	return p
}

// TestTLSRedirectSchemeHTTPSUnlessSSLFC is the line most real configs carry: a plain
// request is sent to https with its path and query, a TLS one is served; HAProxy 2.6
// answers the same on the same configuration.
func TestTLSRedirectSchemeHTTPSUnlessSSLFC(t *testing.T) {
	f := newTLSFiles(t)
	f.cert(t, "site.pem", []string{"www.example.test"}, testcert.Options{})
	be := newBackend(t, "app", nil)
	const cfg = `
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend web
    bind 127.0.0.1:%d
    bind 127.0.0.1:%d ssl crt %s/site.pem alpn http/1.1
    http-request redirect scheme https unless { ssl_fc }
    default_backend app
backend app
    server s1 %s
`
	run := func(who string) (plain, secure string) {
		pp, sp := freePort(t), freePort(t)
		text := fmt.Sprintf(cfg, pp, sp, f.dir, be.addr)
		ready := []string{fmt.Sprintf("127.0.0.1:%d", pp), fmt.Sprintf("127.0.0.1:%d", sp)}
		if who == "haproxy" {
			startHAProxy(t, text, ready...)
		} else {
			startHitless(t, text, ready...)
		}
		raw := rawExchange(t, ready[0], "GET /a/b?c=d HTTP/1.1\r\nHost: www.example.test\r\nConnection: close\r\n\r\n", 5*time.Second)
		status, loc := statusOf(raw), ""
		for _, l := range strings.Split(raw, "\r\n") {
			if v, ok := strings.CutPrefix(strings.ToLower(l), "location: "); ok {
				loc = v
			}
		}
		out, err := curlTLS(t, f.caFile, "www.example.test", sp, "/x")
		if err != nil {
			t.Fatalf("%s: curl: %v %s", who, err, out)
		}
		return status + " " + loc, out[strings.LastIndex(out, "\n")+1:] + " " + strings.Split(out, "\n")[0]
	}
	hp, hs := run("hitless")
	if hp != "302 https://www.example.test/a/b?c=d" || hs != "200 0 app" {
		t.Fatalf("hitless: plain %q, tls %q", hp, hs)
	}
	if !haproxyInstalled() {
		return
	}
	if xp, xs := run("haproxy"); xp != hp || xs != hs {
		t.Fatalf("HAProxy: plain %q, tls %q; hitless: %q, %q", xp, xs, hp, hs)
	}
}
