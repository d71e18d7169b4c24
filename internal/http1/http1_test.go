package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func parseReq(t testing.TB, raw string) (*Request, error) {
	t.Helper()
	br := bufio.NewReaderSize(strings.NewReader(raw), MaxHead)
	head, err := ReadHead(br)
	if err != nil {
		return nil, err
	}
	var r Request
	return &r, ParseRequest(head, &r)
}

func TestParseRequestFraming(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		cl        int64
		chunked   bool
		keepAlive bool
		upgrade   bool
	}{
		{"get 1.1", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", -1, false, true, false},
		{"get 1.0", "GET / HTTP/1.0\r\n\r\n", -1, false, false, false},
		{"1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", -1, false, true, false},
		{"1.1 close", "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", -1, false, false, false},
		{"content-length", "POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n", 12, false, true, false},
		{"same content-length twice", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 3, false, true, false},
		{"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", -1, true, true, false},
		{"bare LF lines", "GET / HTTP/1.1\nHost: a\n\n", -1, false, true, false},
		{"websocket", "GET /ws HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n", -1, false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseReq(t, tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			if r.ContentLength != tt.cl || r.Chunked != tt.chunked || r.KeepAlive() != tt.keepAlive || (r.ConnUpgrade && r.HasUpgrade) != tt.upgrade {
				t.Fatalf("got cl=%d chunked=%v keepalive=%v upgrade=%v", r.ContentLength, r.Chunked, r.KeepAlive(), r.ConnUpgrade && r.HasUpgrade)
			}
		})
	}
}

// TestRejectsSmuggling lists what request smuggling relies on: each must fail.
func TestRejectsSmuggling(t *testing.T) {
	tests := map[string]string{
		"CL and TE":                  "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		"TE and CL":                  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
		"differing CL":               "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"CL list":                    "POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n",
		"negative CL":                "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		"TE not chunked":             "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
		"TE chunked twice":           "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		"TE with junk":               "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
		"space before colon":         "GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n",
		"invalid header name":        "GET / HTTP/1.1\r\nX(y): 1\r\n\r\n",
		"obs-fold":                   "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
		"bare CR":                    "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
		"NUL in value":               "GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
		"chunked 1.0":                "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
		"bad version":                "GET / HTTP/2.0\r\n\r\n",
		"TE with underscore":         "POST / HTTP/1.1\r\nTransfer_Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		"CL with underscore":         "POST / HTTP/1.1\r\nContent_Length: 3\r\n\r\n",
		"no version":                 "GET /\r\n\r\n",
		"control char in target":     "GET /\x01 HTTP/1.1\r\n\r\n",
		"invalid method":             "G(T / HTTP/1.1\r\n\r\n",
		"header without colon":       "GET / HTTP/1.1\r\nHello\r\n\r\n",
		"empty header name":          "GET / HTTP/1.1\r\n: x\r\n\r\n",
		"huge content-length":        "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"CL with plus":               "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
		"space inside method/target": "GET /a b HTTP/1.1\r\n\r\n",
		"TE chunked then gzip":       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
		"TE gzip then chunked":       "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"TE split over two headers":  "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
		"tab before colon":           "GET / HTTP/1.1\r\nContent-Length\t: 5\r\n\r\n",
		"CL repeated in one header":  "POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n",
		"bare CR ends request line":  "GET / HTTP/1.1\rHost: a\r\n\r\n",
		"NUL in name":                "GET / HTTP/1.1\r\nX\x00: a\r\n\r\n",
		"NUL in target":              "GET /\x00 HTTP/1.1\r\n\r\n",
		"double space":               "GET  / HTTP/1.1\r\n\r\n",
		"lower-case version":         "GET / http/1.1\r\n\r\n",
		"version 1.10":               "GET / HTTP/1.10\r\n\r\n",
		"obs-fold with tab":          "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n",
		"whitespace before 1st hdr":  "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
		"DEL in value":               "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n",
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := parseReq(t, raw); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestReadHeadLimits(t *testing.T) {
	big := "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", MaxHead) + "\r\n\r\n"
	if _, err := parseReq(t, big); !errors.Is(err, ErrHeadTooLarge) {
		t.Fatalf("err = %v, want ErrHeadTooLarge", err)
	}
	if _, err := parseReq(t, "GET / HTTP/1.1\r\nHost"); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want ErrUnexpectedEOF", err)
	}
	if _, err := parseReq(t, ""); !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v, want EOF", err)
	}
}

func TestParseResponse(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: close, X-Private\r\nX-Private: 1\r\n\r\nabc"))
	head, err := ReadHead(br)
	if err != nil {
		t.Fatal(err)
	}
	var r Response
	if err := ParseResponse(head, &r); err != nil {
		t.Fatal(err)
	}
	if r.Status != 404 || string(r.Reason) != "Not Found" || r.ContentLength != 3 || r.KeepAlive() {
		t.Fatalf("got %+v", r)
	}
	if r.IsEndToEnd([]byte("x-private")) || r.IsEndToEnd([]byte("content-length")) || !r.IsEndToEnd([]byte("x-other")) {
		t.Fatal("hop-by-hop headers from Connection not honoured")
	}
	for _, bad := range []string{"HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n", "garbage\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n"} {
		br := bufio.NewReader(strings.NewReader(bad))
		head, _ := ReadHead(br)
		if err := ParseResponse(head, &r); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCopyChunked(t *testing.T) {
	in := "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\nNEXT"
	src := bufio.NewReader(strings.NewReader(in))
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	n, err := CopyChunked(w, src, true, nil)
	if err != nil || n != 12 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if got, want := out.String(), "5\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	rest, _ := io.ReadAll(src)
	if string(rest) != "NEXT" {
		t.Fatalf("read past the body: rest %q", rest)
	}
	// Payload only, for an HTTP/1.0 peer.
	out.Reset()
	w.Reset(&out)
	if _, err := CopyChunked(w, bufio.NewReader(strings.NewReader(in)), false, nil); err != nil || out.String() != "hello, world" {
		t.Fatalf("dechunked %q, %v", out.String(), err)
	}
	for _, bad := range []string{
		"zz\r\n", "5\r\nhello", "5\r\nhelloXX\r\n0\r\n\r\n", "fffffffffffffffff\r\n", "1000000000000000\r\n", "5 x\r\n",
		"0\r\nBad Trailer: x\r\n\r\n", "0\r\nNoColon\r\n\r\n", "0\r\n folded\r\n\r\n", "0\r\nX: a\x01\r\n\r\n",
		"5;a\rb\r\nhello\r\n0\r\n\r\n", "\r\n", "-5\r\n", "0\r\n",
	} {
		_, err := CopyChunked(bufio.NewWriter(io.Discard), bufio.NewReader(strings.NewReader(bad)), true, nil)
		if err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCopyChunkedSkip(t *testing.T) {
	// A nil destination skips a body (an answer generated by the proxy).
	src := bufio.NewReader(strings.NewReader("3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\nNEXT"))
	n, err := CopyChunked(nil, src, true, nil)
	if err != nil || n != 19 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if rest, _ := io.ReadAll(src); string(rest) != "NEXT" {
		t.Fatalf("rest %q", rest)
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("peer gone") }

func TestCopyN(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		n       int64
		bufSize int
		want    string
		err     error
	}{
		{"exact", "hello world", 5, 16, "hello", nil},
		{"larger than buffers", strings.Repeat("x", 100), 100, 16, strings.Repeat("x", 100), nil},
		{"zero", "abc", 0, 16, "", nil},
		{"short source", "abc", 5, 16, "abc", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := bufio.NewWriterSize(&out, 16)
			ticks := 0
			n, err := CopyN(w, bufio.NewReaderSize(strings.NewReader(tt.in), tt.bufSize), tt.n, func() { ticks++ })
			w.Flush()
			if !errors.Is(err, tt.err) || out.String() != tt.want || n != int64(len(tt.want)) {
				t.Fatalf("n=%d err=%v out=%q", n, err, out.String())
			}
			if tt.n > 0 && ticks == 0 {
				t.Fatal("tick never called")
			}
		})
	}
	_, err := CopyN(bufio.NewWriterSize(failWriter{}, 16), bufio.NewReaderSize(strings.NewReader(strings.Repeat("x", 64)), 16), 64, nil)
	var we *WriteError
	if !errors.As(err, &we) {
		t.Fatalf("write failure: %v, want *WriteError", err)
	}
}

func TestCopyAll(t *testing.T) {
	var out bytes.Buffer
	w := bufio.NewWriterSize(&out, 16)
	in := strings.Repeat("0123456789", 50)
	n, err := CopyAll(w, bufio.NewReaderSize(strings.NewReader(in), 16), nil)
	if err != nil || n != int64(len(in)) || out.String() != in {
		t.Fatalf("n=%d err=%v", n, err)
	}
	_, err = CopyAll(bufio.NewWriterSize(failWriter{}, 16), bufio.NewReader(strings.NewReader("abc")), nil)
	var we *WriteError
	if !errors.As(err, &we) {
		t.Fatalf("write failure: %v, want *WriteError", err)
	}
}

func TestHopByHop(t *testing.T) {
	r, err := parseReq(t, "GET / HTTP/1.1\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nUpgrade: h2c\r\nProxy-Connection: x\r\nTrailer: T\r\nContent-Length: 0\r\nX-End: 1\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range r.Headers {
		want := string(h.Name) == "X-End"
		if r.IsEndToEnd(h.Name) != want {
			t.Errorf("%s: end-to-end = %v", h.Name, !want)
		}
	}
}

// TestConnectionCannotNominateFraming: "Connection: Content-Length" once made the
// proxy drop the framing it had parsed while forwarding the body (a smuggled request
// followed). Framing fields and Host are never hop-by-hop, whatever Connection says.
func TestConnectionCannotNominateFraming(t *testing.T) {
	r, err := parseReq(t, "POST /innocent HTTP/1.1\r\nHost: x\r\nConnection: Content-Length, Host, Transfer-Encoding, X-A\r\nContent-Length: 32\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.ContentLength != 32 || string(r.Host) != "x" {
		t.Fatalf("cl %d host %q", r.ContentLength, r.Host)
	}
	if !r.IsEndToEnd([]byte("Host")) || r.IsEndToEnd([]byte("x-a")) {
		t.Fatal("Host nominated, or X-A not")
	}
	if len(r.hop) != 1 {
		t.Fatalf("hop-by-hop list %q", r.hop)
	}
}

func TestWriteFraming(t *testing.T) {
	for _, tt := range []struct {
		chunked bool
		n       int64
		want    string
	}{{true, -1, "transfer-encoding: chunked\r\n"}, {false, 32, "content-length: 32\r\n"}, {false, 0, "content-length: 0\r\n"}, {false, -1, ""}} {
		var b bytes.Buffer
		w := bufio.NewWriter(&b)
		WriteFraming(w, tt.chunked, tt.n)
		w.Flush()
		if b.String() != tt.want {
			t.Errorf("WriteFraming(%v, %d) = %q", tt.chunked, tt.n, b.String())
		}
	}
}

// TestRequestTargets: the four forms of RFC 9112 §3.2 and what hitless refuses,
// with HAProxy 2.6.12's verdict on the same bytes where it differs.
func TestRequestTargets(t *testing.T) {
	tests := []struct {
		raw  string
		form TargetForm
		path string // "" with ok: no path
		ok   bool
	}{
		{"GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n", OriginForm, "/a?b", true},
		{"GET ftp://x/admin HTTP/1.1\r\nHost: x\r\n\r\n", AbsoluteForm, "/admin", true},
		{"GET foo://x/admin HTTP/1.1\r\nHost: x\r\n\r\n", AbsoluteForm, "/admin", true},
		{"GET http://x HTTP/1.1\r\nHost: x\r\n\r\n", AbsoluteForm, "", true},
		{"GET http://x:80/d HTTP/1.1\r\nHost: x\r\n\r\n", AbsoluteForm, "/d", true},
		{"GET http://X/d HTTP/1.1\r\nHost: x\r\n\r\n", AbsoluteForm, "/d", true},
		{"GET https://x/d HTTP/1.1\r\nHost: x:443\r\n\r\n", AbsoluteForm, "/d", true},
		{"GET http://x/d HTTP/1.1\r\n\r\n", AbsoluteForm, "/d", true},
		{"GET http://[::1]:8080/d HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", AbsoluteForm, "/d", true},
		{"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", AsteriskForm, "", true},
		{"CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", AuthorityForm, "", true},
		{"GET /a\"<>\\^`{|}b HTTP/1.1\r\nHost: x\r\n\r\n", OriginForm, "/a\"<>\\^`{|}b", true},
		// Refused by both.
		{"GET http://evil/d HTTP/1.1\r\nHost: x\r\n\r\n", 0, "", false},
		{"GET http://x:8080/d HTTP/1.1\r\nHost: x\r\n\r\n", 0, "", false},
		{"GET admin HTTP/1.1\r\nHost: x\r\n\r\n", 0, "", false},
		{"GET /x#/../admin HTTP/1.1\r\nHost: x\r\n\r\n", 0, "", false},
		{"GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n", 0, "", false},
		{"GET http://x?/admin HTTP/1.1\r\nHost: x\r\n\r\n", 0, "", false},
		{"GET /a\xffb HTTP/1.1\r\nHost: x\r\n\r\n", 0, "", false},
		{"GET x:443 HTTP/1.1\r\nHost: x\r\n\r\n", 0, "", false},
		{"CONNECT /x HTTP/1.1\r\nHost: x\r\n\r\n", 0, "", false},
		{"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 0, "", false},
		// HAProxy 2.6 passes these; hitless refuses them.
		{"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 0, "", false},            // asterisk form is for OPTIONS
		{"GET http://a@x/d HTTP/1.1\r\nHost: x\r\n\r\n", 0, "", false}, // userinfo
		{"GET http:///d HTTP/1.1\r\nHost: x\r\n\r\n", 0, "", false},    // empty authority
		{"GET 1http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 0, "", false},   // scheme starts with a digit
		{"GET / HTTP/1.1\r\nHost: x y\r\n\r\n", 0, "", false},          // invalid Host (RFC 9112 §3.2)
		{"GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 0, "", false},          // invalid Host
		{"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 0, "", false},          // invalid Host
		{"CONNECT x HTTP/1.1\r\nHost: x\r\n\r\n", 0, "", false},        // CONNECT needs a port
	}
	for _, tt := range tests {
		r, err := parseReq(t, tt.raw)
		if !tt.ok {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%q: accepted (err %v)", tt.raw, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.raw, err)
			continue
		}
		if r.Form != tt.form || string(r.Path) != tt.path {
			t.Errorf("%q: form %d path %q", tt.raw, r.Form, r.Path)
		}
	}
}

func TestHostMerged(t *testing.T) {
	r, err := parseReq(t, "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nHost: x\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Headers) != 2 || string(r.Headers[1].Name) != "A" || string(r.Host) != "x" {
		t.Fatalf("headers %q", r.Headers)
	}
}

// TestMaxHeaders: tune.http.maxhdr N allows N-1 header fields, as in HAProxy 2.6.
func TestMaxHeaders(t *testing.T) {
	head := func(n int) []byte {
		var b strings.Builder
		b.WriteString("GET / HTTP/1.1\r\n")
		for i := 0; i < n; i++ {
			b.WriteString("X: v\r\n")
		}
		b.WriteString("\r\n")
		return []byte(b.String())
	}
	var r Request
	if err := ParseRequest(head(100), &r); err != nil {
		t.Fatalf("100 fields: %v", err)
	}
	if err := ParseRequest(head(101), &r); !errors.Is(err, ErrMalformed) {
		t.Fatalf("101 fields: %v", err)
	}
	r.MaxHeaders = 9
	if err := ParseRequest(head(9), &r); err != nil {
		t.Fatalf("9 of 9: %v", err)
	}
	if err := ParseRequest(head(10), &r); !errors.Is(err, ErrMalformed) {
		t.Fatalf("10 of 9: %v", err)
	}
	if r.MaxHeaders != 9 {
		t.Fatal("MaxHeaders reset by a parse")
	}
}

func TestVersions(t *testing.T) {
	for raw, minor := range map[string]int{"GET / HTTP/1.0\r\n\r\n": 0, "GET / HTTP/1.1\r\n\r\n": 1, "GET / HTTP/1.2\r\n\r\n": 1, "GET / HTTP/1.9\r\n\r\n": 1} {
		r, err := parseReq(t, raw)
		if err != nil || r.Minor != minor {
			t.Errorf("%q: minor %v err %v", raw, r, err)
		}
	}
}

// TestForbiddenTrailersDropped: framing, Host and connection fields in chunked
// trailers are not forwarded.
func TestForbiddenTrailersDropped(t *testing.T) {
	in := "3\r\nabc\r\n0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX-T: 1\r\nHost: evil\r\nConnection: close\r\n\r\n"
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	if _, err := CopyChunked(w, bufio.NewReader(strings.NewReader(in)), true, nil); err != nil {
		t.Fatal(err)
	}
	if want := "3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"; out.String() != want {
		t.Fatalf("got %q want %q", out.String(), want)
	}
}

func TestParseAllocatesNothing(t *testing.T) {
	raw := []byte("GET /a/b?c=d HTTP/1.1\r\nHost: example\r\nUser-Agent: x\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n")
	var r Request
	ParseRequest(raw, &r)
	if n := testing.AllocsPerRun(100, func() { ParseRequest(raw, &r) }); n != 0 {
		t.Fatalf("ParseRequest allocates %v times", n)
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.0\nConnection: keep-alive, Upgrade\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), MaxHead)
		head, err := ReadHead(br)
		if err != nil {
			return
		}
		var r Request
		err = ParseRequest(head, &r)
		if pos := ErrorPos(err); err != nil && (pos < 0 || pos > len(head)) {
			t.Fatalf("error %v at position %d of %d bytes", err, pos, len(head))
		}
		if err == nil {
			if r.Chunked && r.ContentLength >= 0 {
				t.Fatal("accepted both framings")
			}
			if bytes.IndexByte(head, 0) >= 0 {
				t.Fatal("accepted a NUL byte")
			}
			for _, h := range r.Headers {
				for _, c := range h.Name {
					if !isToken(c) {
						t.Fatalf("accepted header name %q", h.Name)
					}
				}
				if bytes.ContainsAny(h.Value, "\r\n") {
					t.Fatalf("accepted header value %q", h.Value)
				}
			}
			if r.Chunked {
				CopyChunked(bufio.NewWriter(io.Discard), br, true, nil)
			}
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 101 Switching\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), MaxHead)
		head, err := ReadHead(br)
		if err != nil {
			return
		}
		var r Response
		err = ParseResponse(head, &r)
		if pos := ErrorPos(err); err != nil && (pos < 0 || pos > len(head)) {
			t.Fatalf("error %v at position %d of %d bytes", err, pos, len(head))
		}
		if err == nil {
			if r.Status < 100 || r.Status > 999 || (r.Chunked && r.ContentLength >= 0) {
				t.Fatalf("accepted status %d chunked %v length %d", r.Status, r.Chunked, r.ContentLength)
			}
			if r.ContentLength < 0 && !r.Chunked {
				CopyAll(bufio.NewWriter(io.Discard), br, nil)
			} else if r.Chunked {
				CopyChunked(bufio.NewWriter(io.Discard), br, false, nil)
			} else {
				CopyN(bufio.NewWriter(io.Discard), br, r.ContentLength, nil)
			}
		}
	})
}

func FuzzChunked(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("a;x=y\r\n0123456789\r\n0\r\nT: 1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		n, err := CopyChunked(w, bufio.NewReader(bytes.NewReader(data)), false, nil)
		w.Flush()
		if err != nil {
			return
		}
		if int64(out.Len()) != n {
			t.Fatalf("payload %d bytes, reported %d", out.Len(), n)
		}
		// What was accepted, re-encoded, decodes to the same payload.
		var re bytes.Buffer
		rw := bufio.NewWriter(&re)
		if _, err := CopyChunked(rw, bufio.NewReader(bytes.NewReader(data)), true, nil); err != nil {
			t.Fatalf("reframing failed: %v", err)
		}
		var again bytes.Buffer
		aw := bufio.NewWriter(&again)
		if _, err := CopyChunked(aw, bufio.NewReader(&re), false, nil); err != nil {
			t.Fatalf("reframed body rejected: %v", err)
		}
		aw.Flush()
		if !bytes.Equal(again.Bytes(), out.Bytes()) {
			t.Fatalf("round trip changed the payload: %q vs %q", again.Bytes(), out.Bytes())
		}
	})
}

// TestErrorPos checks the offsets of faults, as HAProxy's `show errors` reports them
// ("error at position"). HAProxy 2.6.12 reports the same offsets for the cases marked
// so; it accepts the two others, which hitless refuses.
func TestErrorPos(t *testing.T) {
	tests := []struct {
		name, head string
		response   bool
		want       int
	}{
		{"space in header name (as HAProxy)", "GET /abc HTTP/1.1\r\nHo st: x\r\n\r\n", false, 21},
		{"letter in status (as HAProxy)", "HTTP/1.1 2x0 OK\r\nContent Length: 2\r\n\r\n", true, 10},
		{"bad method (as HAProxy)", "G(T / HTTP/1.1\r\n\r\n", false, 1},
		{"no colon (as HAProxy)", "GET / HTTP/1.1\r\nHost\r\n\r\n", false, 20},
		{"bad content-length (as HAProxy)", "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", false, 32},
		{"bad version", "GET / HTTP/2.0\r\n\r\n", false, 6},
		{"control in value", "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", false, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.response {
				err = ParseResponse([]byte(tt.head), &Response{})
			} else {
				err = ParseRequest([]byte(tt.head), &Request{})
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v", err)
			}
			if got := ErrorPos(err); got != tt.want {
				t.Fatalf("position %d, want %d", got, tt.want)
			}
		})
	}
}
