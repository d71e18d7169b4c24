package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The regression tests of this file send the exact bytes of each finding of the
// HTTP/1 security review through the real binary to a recording backend (which
// parses what it receives with a parser of its own), and through HAProxy 2.6 on the
// same configuration when it is installed, and check what the backend received and
// what the client got, for both.

// guardedConfig is the configuration of the review: deny rules on a path and a Host,
// keep-alive to the server. %[1]s is the bind address, %[2]s the backend, %[3]s
// extra global lines.
const guardedConfig = `
global
%[3]s
defaults
    mode http
    timeout connect 1s
    timeout client 3s
    timeout server 3s
frontend fe
    bind %[1]s
    http-request deny if { path_beg /admin }
    http-request deny if { hdr(host) -i evil }
    default_backend be
backend be
    server s1 %[2]s
`

// proxyUnderTest is hitless or HAProxy, running guardedConfig in front of rec.
type proxyUnderTest struct {
	name, addr string
}

// sideBySide starts hitless and, when it is installed, HAProxy 2.6 on guardedConfig
// in front of rec.
func sideBySide(t *testing.T, rec *recorder, global string) []proxyUnderTest {
	t.Helper()
	h := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startHitless(t, fmt.Sprintf(guardedConfig, h, rec.addr, global), h)
	out := []proxyUnderTest{{"hitless", h}}
	if haproxyInstalled() {
		x := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		startHAProxy(t, fmt.Sprintf(guardedConfig, x, rec.addr, global), x)
		out = append(out, proxyUnderTest{"haproxy", x})
	}
	return out
}

// outcome is what one raw exchange did.
type outcome struct {
	answers []clientAnswer
	rest    string // bytes the client could not read as a response
	reqs    []*refRequest
	faults  []string
}

func (o outcome) statuses() string {
	var s []string
	for _, a := range o.answers {
		s = append(s, fmt.Sprint(a.Status))
	}
	return strings.Join(s, ",")
}

func (o outcome) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "client got [%s] rest %q; backend got %d requests", o.statuses(), o.rest, len(o.reqs))
	for _, r := range o.reqs {
		fmt.Fprintf(&b, "\n    %q", r.Raw)
	}
	for _, f := range o.faults {
		fmt.Fprintf(&b, "\n    fault: %s", f)
	}
	return b.String()
}

// run sends raw through p and collects what happened on both sides. The client
// half-closes after raw unless raw's last request asks to close (HAProxy may stop
// reading pipelined requests once the client has half-closed).
func run(t *testing.T, rec *recorder, p proxyUnderTest, raw string) outcome {
	t.Helper()
	rec.reset()
	last := raw[strings.LastIndex(raw, " HTTP/1."):]
	answers, rest := exchangeOpt(t, p.addr, raw, 5*time.Second, !strings.Contains(last, "Connection: close\r\n"))
	time.Sleep(20 * time.Millisecond) // the backend has read what was forwarded
	reqs, faults := rec.take()
	return outcome{answers, rest, reqs, faults}
}

// TestConnectionContentLengthCannotSmuggleARequest is finding 1: "Connection:
// Content-Length" made hitless drop the Content-Length it had parsed while it still
// forwarded the body, so the server read the body as a second request (/admin, past
// the deny rule), and that request's late answer went to another client whose
// request reused the server connection. Now the server reads one request with its
// 32-byte body, as from HAProxy, and the next client gets its own answer.
func TestConnectionContentLengthCannotSmuggleARequest(t *testing.T) {
	rec := newRecorder(t)
	smuggled := "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n"
	raw := fmt.Sprintf("POST /innocent HTTP/1.1\r\nHost: x\r\nConnection: Content-Length\r\nContent-Length: %d\r\n\r\n%s", len(smuggled), smuggled)
	for _, p := range sideBySide(t, rec, "") {
		o := run(t, rec, p, raw)
		if len(o.reqs) != 1 || o.reqs[0].Target != "/innocent" || string(o.reqs[0].Body) != smuggled || len(o.faults) > 0 {
			t.Errorf("%s: %v", p.name, o)
		}
		if len(o.answers) != 1 || o.answers[0].Seq != 1 {
			t.Errorf("%s: client answers %v", p.name, o)
		}
	}

	// The poisoning scenario: the smuggled request's answer is slow; a second client
	// reusing the server connection must get its own answer, never that one.
	for _, p := range sideBySide(t, rec, "") {
		rec.reset()
		rec.mu.Lock()
		rec.respond = func(r *refRequest) (string, bool) {
			if r.Target == "/admin" {
				time.Sleep(300 * time.Millisecond)
				return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nADMIN", false
			}
			body := "for " + r.Target
			return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body), false
		}
		rec.mu.Unlock()
		a, _ := exchange(t, p.addr, raw, 3*time.Second)
		b, _ := exchange(t, p.addr, "GET /victim HTTP/1.1\r\nHost: x\r\n\r\n", 3*time.Second)
		reqs, _ := rec.take()
		if len(a) != 1 || string(a[0].Body) != "for /innocent" || len(b) != 1 || string(b[0].Body) != "for /victim" {
			t.Errorf("%s: first client %q, second client %q", p.name, bodies(a), bodies(b))
		}
		for _, r := range reqs {
			if r.Target == "/admin" {
				t.Errorf("%s: the backend received %q", p.name, r.Raw)
			}
		}
		rec.mu.Lock()
		rec.respond = nil
		rec.mu.Unlock()
	}
}

func bodies(as []clientAnswer) []string {
	var out []string
	for _, a := range as {
		out = append(out, string(a.Body))
	}
	return out
}

// TestConnectionHostKeepsHost is finding 1's second form: "Connection: Host" removed
// the Host header on its way to the server.
func TestConnectionHostKeepsHost(t *testing.T) {
	rec := newRecorder(t)
	for _, p := range sideBySide(t, rec, "") {
		o := run(t, rec, p, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Host, Transfer-Encoding\r\n\r\n")
		if len(o.reqs) != 1 || fmt.Sprint(o.reqs[0].header("host")) != "[x]" {
			t.Errorf("%s: %v", p.name, o)
		}
	}
}

// TestResponseConnectionContentLengthKeepsFraming is finding 2: a server's
// "Connection: Content-Length" reached the client without the Content-Length on a
// connection kept alive, so the client read the next answer as this one's body.
func TestResponseConnectionContentLengthKeepsFraming(t *testing.T) {
	rec := newRecorder(t)
	rec.respond = func(r *refRequest) (string, bool) {
		if r.Target == "/first" {
			return "HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello", false
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond", false
	}
	for _, p := range sideBySide(t, rec, "") {
		o := run(t, rec, p, "GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if fmt.Sprint(bodies(o.answers)) != "[hello second]" || o.rest != "" {
			t.Errorf("%s: %v bodies %q", p.name, o, bodies(o.answers))
		}
		if len(o.answers) > 0 && !strings.Contains(strings.ToLower(o.answers[0].Head), "content-length: 5\r\n") {
			t.Errorf("%s: first head %q", p.name, o.answers[0].Head)
		}
	}
}

// TestNonHTTPSchemeCannotBypassPathACL is finding 3: with an absolute-form target of
// another scheme than http, `path` was the whole target and `path_beg /admin` did
// not match. HAProxy's path is /admin there: 403.
func TestNonHTTPSchemeCannotBypassPathACL(t *testing.T) {
	rec := newRecorder(t)
	for _, p := range sideBySide(t, rec, "") {
		for _, target := range []string{"ftp://x/admin", "foo://x/admin", "http://x/admin", "HTTP://x/admin/a"} {
			o := run(t, rec, p, "GET "+target+" HTTP/1.1\r\nHost: x\r\n\r\n")
			if o.statuses() != "403" || len(o.reqs) != 0 {
				t.Errorf("%s %s: %v", p.name, target, o)
			}
		}
	}
}

// TestAbsoluteTargetHostMismatchRefused is finding 4: "GET http://evil/d" with
// "Host: x" passed the Host deny rule and a server that follows RFC 9112 serves evil.
// HAProxy answers 400, and so does hitless; the same authority with the scheme's
// default port passes.
func TestAbsoluteTargetHostMismatchRefused(t *testing.T) {
	rec := newRecorder(t)
	for _, p := range sideBySide(t, rec, "") {
		for raw, want := range map[string]string{
			"GET http://evil/d HTTP/1.1\r\nHost: x\r\n\r\n":         "400",
			"GET http://x:8080/d HTTP/1.1\r\nHost: x\r\n\r\n":       "400",
			"GET http://x:80/d HTTP/1.1\r\nHost: x\r\n\r\n":         "200",
			"GET https://X/d HTTP/1.1\r\nHost: x:443\r\n\r\n":       "200",
			"GET http://evil/d HTTP/1.1\r\nHost: evil\r\n\r\n":      "403",
			"GET http://x/d HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n": "200",
		} {
			o := run(t, rec, p, raw)
			if o.statuses() != want || (want != "200") != (len(o.reqs) == 0) {
				t.Errorf("%s %q: want %s, %v", p.name, raw, want, o)
			}
		}
	}
}

// TestDifferingHostHeadersRefused is finding 5: two different Host headers were
// forwarded. HAProxy answers 400; the same Host twice is forwarded once by both.
func TestDifferingHostHeadersRefused(t *testing.T) {
	rec := newRecorder(t)
	for _, p := range sideBySide(t, rec, "") {
		o := run(t, rec, p, "GET / HTTP/1.1\r\nHost: x\r\nHost: evil\r\n\r\n")
		if o.statuses() != "400" || len(o.reqs) != 0 {
			t.Errorf("%s differing: %v", p.name, o)
		}
		o = run(t, rec, p, "GET / HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n")
		if o.statuses() != "200" || len(o.reqs) != 1 || len(o.reqs[0].header("host")) != 1 {
			t.Errorf("%s same twice: %v", p.name, o)
		}
	}
}

// TestUnsolicited101Refused is finding 6: a 101 to a request without Upgrade was
// passed on and HTTP went on out of step; a WebSocket handshake without its key, or
// a 101 without Sec-WebSocket-Accept, was tunnelled. HAProxy answers 502, 400 and
// 502; so does hitless.
func TestUnsolicited101Refused(t *testing.T) {
	rec := newRecorder(t)
	rec.respond = func(r *refRequest) (string, bool) {
		if r.Target == "/ok" {
			return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", false
		}
		return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", false
	}
	ws := "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
	key := "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	for _, p := range sideBySide(t, rec, "") {
		for _, tt := range []struct{ raw, want string }{
			{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "502"},
			{"GET /ws HTTP/1.1\r\nHost: x\r\n" + ws + "\r\n", "400"},
			{"GET /ws HTTP/1.1\r\nHost: x\r\n" + ws + key + "\r\n", "502"},
			{"GET /ok HTTP/1.1\r\nHost: x\r\n" + ws + key + "\r\n", "101"},
		} {
			o := run(t, rec, p, tt.raw)
			if o.statuses() != tt.want {
				t.Errorf("%s %q: want %s, %v", p.name, tt.raw, tt.want, o)
			}
		}
	}
}

// TestInvalidRequestTargetsRefused is finding 7: targets HAProxy refuses with 400
// were forwarded.
func TestInvalidRequestTargetsRefused(t *testing.T) {
	rec := newRecorder(t)
	for _, p := range sideBySide(t, rec, "") {
		for _, target := range []string{"admin", "/x#/../admin", "/a#frag", "http://x?/admin", "/a\xffb", "x:443"} {
			o := run(t, rec, p, "GET "+target+" HTTP/1.1\r\nHost: x\r\n\r\n")
			if o.statuses() != "400" || len(o.reqs) != 0 {
				t.Errorf("%s %q: %v", p.name, target, o)
			}
		}
	}
}

// TestHTTP10ForwardedAsHTTP10 is finding 8: HTTP/1.0 requests went to the server as
// HTTP/1.1 without a Host, which strict servers refuse. Like HAProxy, hitless keeps
// the version and asks to keep the server connection.
func TestHTTP10ForwardedAsHTTP10(t *testing.T) {
	rec := newRecorder(t)
	for _, p := range sideBySide(t, rec, "") {
		o := run(t, rec, p, "GET /old HTTP/1.0\r\n\r\n")
		if len(o.reqs) != 1 || o.reqs[0].Version != "HTTP/1.0" || fmt.Sprint(o.reqs[0].header("connection")) != "[keep-alive]" || o.statuses() != "200" {
			t.Errorf("%s: %v", p.name, o)
		}
	}
}

// TestTooManyHeaderFieldsRefused is finding 9: 3,000 empty headers were forwarded.
// HAProxy answers 400 above tune.http.maxhdr (101 by default, which allows 100
// fields), and 502 to such a response.
func TestTooManyHeaderFieldsRefused(t *testing.T) {
	fields := func(n int) string { return strings.Repeat("X-A: \r\n", n) }
	rec := newRecorder(t)
	for _, p := range sideBySide(t, rec, "") {
		for n, want := range map[int]string{99: "200", 100: "400", 3000: "400"} {
			o := run(t, rec, p, "GET / HTTP/1.1\r\nHost: x\r\n"+fields(n)+"\r\n")
			if o.statuses() != want {
				t.Errorf("%s %d fields: want %s, %v", p.name, n+1, want, o)
			}
		}
	}
	rec.respond = func(r *refRequest) (string, bool) {
		return "HTTP/1.1 200 OK\r\n" + fields(9) + "Content-Length: 0\r\n\r\n", false
	}
	for _, p := range sideBySide(t, rec, "    tune.http.maxhdr 10") {
		if o := run(t, rec, p, "GET / HTTP/1.1\r\nHost: x\r\n"+fields(8)+"\r\n"); o.statuses() != "502" {
			t.Errorf("%s response with 10 fields: %v", p.name, o)
		}
		if o := run(t, rec, p, "GET / HTTP/1.1\r\nHost: x\r\n"+fields(9)+"\r\n"); o.statuses() != "400" {
			t.Errorf("%s request with 10 fields: %v", p.name, o)
		}
	}
}

// TestForbiddenTrailerFieldsDropped is finding 10: Content-Length and
// Transfer-Encoding in chunked trailers were forwarded verbatim. hitless drops them,
// with Host and connection fields (HAProxy 2.6 drops Content-Length only).
func TestForbiddenTrailerFieldsDropped(t *testing.T) {
	rec := newRecorder(t)
	for _, p := range sideBySide(t, rec, "") {
		o := run(t, rec, p, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX-T: 1\r\nHost: evil\r\n\r\n")
		if len(o.reqs) != 1 || string(o.reqs[0].Body) != "abc" {
			t.Fatalf("%s: %v", p.name, o)
		}
		var names []string
		for _, tr := range o.reqs[0].Trailers {
			names = append(names, strings.ToLower(tr[0]))
		}
		want := "[x-t]"
		if p.name == "haproxy" {
			want = "[transfer-encoding x-t host]"
		}
		if fmt.Sprint(names) != want {
			t.Errorf("%s: trailers %v, want %s", p.name, names, want)
		}
	}
}

// haproxyInstalled reports whether HAProxy can run beside hitless in a test.
func haproxyInstalled() bool {
	_, err := lookHAProxy()
	return err == nil
}
