package httpproxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/netip"
	"testing"

	"hitless/internal/http1"
)

// The round-trip property of forwarding: whatever hitless accepts and forwards, the
// next hop reads as the same message. FuzzForwardRoundTrip parses arbitrary bytes with
// internal/http1, writes what would be forwarded with the engine's own head writer and
// body relay, and parses that again: with internal/http1 (the same requests: method,
// target, version, Host, end-to-end headers, body) and with net/http's reader, an
// independent parser (the same body). The input must have been refused otherwise.

// forwardRequest parses one request from data and returns the bytes the engine would
// send to the server, or ok false when the request is refused.
func forwardRequest(data []byte) (req *http1.Request, out []byte, body []byte, ok bool) {
	br := bufio.NewReaderSize(bytes.NewReader(data), http1.MaxHead)
	head, err := http1.ReadHead(br)
	if err != nil {
		return nil, nil, nil, false
	}
	s := &session{src: netip.MustParseAddrPort("192.0.2.1:1234")}
	if err := http1.ParseRequest(head, &s.req); err != nil {
		return nil, nil, nil, false
	}
	// The head must be copied: the body relay reads over the head's buffer.
	headCopy := append([]byte(nil), head...)
	if err := http1.ParseRequest(headCopy, &s.req); err != nil {
		panic("a head parsed once failed the second time: " + err.Error())
	}
	br.Discard(len(head))
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	s.writeRequestHead(w, s.req.IsUpgrade(), false, true)
	var payload bytes.Buffer
	switch {
	case s.req.Chunked:
		if _, err := http1.CopyChunked(w, br, true, nil); err != nil {
			return nil, nil, nil, false
		}
		pr := bufio.NewWriter(&payload)
		http1.CopyChunked(pr, bufio.NewReader(bytes.NewReader(data[len(head):])), false, nil)
		pr.Flush()
	case s.req.ContentLength > 0:
		if _, err := http1.CopyN(w, br, s.req.ContentLength, nil); err != nil {
			return nil, nil, nil, false
		}
		payload.Write(data[len(head) : len(head)+int(s.req.ContentLength)])
	}
	w.Flush()
	return &s.req, buf.Bytes(), payload.Bytes(), true
}

// endToEnd lists the headers of m that are forwarded as they are.
func endToEnd(m *http1.Message) []http1.Header {
	var out []http1.Header
	for _, h := range m.Headers {
		if m.IsEndToEnd(h.Name) {
			out = append(out, h)
		}
	}
	return out
}

func checkRoundTrip(t *testing.T, data []byte) {
	req, out, body, ok := forwardRequest(data)
	if !ok {
		return
	}
	br := bufio.NewReaderSize(bytes.NewReader(out), 2*http1.MaxHead)
	head, err := http1.ReadHead(br)
	if err != nil {
		t.Fatalf("forwarded head unreadable: %v\n%q", err, out)
	}
	var again http1.Request
	if err := http1.ParseRequest(head, &again); err != nil {
		t.Fatalf("forwarded head refused: %v\n%q", err, out)
	}
	if !bytes.Equal(again.Method, req.Method) || !bytes.Equal(again.Target, req.Target) || again.Minor != req.Minor || !bytes.Equal(again.Host, req.Host) {
		t.Fatalf("request line or Host changed: %q %q %d %q\n%q", again.Method, again.Target, again.Minor, again.Host, out)
	}
	a, b := endToEnd(&req.Message), endToEnd(&again.Message)
	// The engine adds X-Forwarded-For last.
	if len(b) != len(a)+1 || string(b[len(b)-1].Name) != "x-forwarded-for" {
		t.Fatalf("end-to-end headers %q became %q", a, b)
	}
	for i := range a {
		if !bytes.Equal(a[i].Name, b[i].Name) || !bytes.Equal(a[i].Value, b[i].Value) {
			t.Fatalf("header %q became %q", a[i], b[i])
		}
	}
	br.Discard(len(head))
	var got bytes.Buffer
	gw := bufio.NewWriter(&got)
	switch {
	case again.Chunked:
		_, err = http1.CopyChunked(gw, br, false, nil)
	case again.ContentLength >= 0:
		_, err = http1.CopyN(gw, br, again.ContentLength, nil)
	}
	gw.Flush()
	if err != nil || !bytes.Equal(got.Bytes(), body) {
		t.Fatalf("body %q became %q (%v)\n%q", body, got.Bytes(), err, out)
	}
	if br.Buffered() != 0 {
		t.Fatalf("%d bytes after the forwarded request\n%q", br.Buffered(), out)
	}
	// An independent reader sees the same body and nothing after it.
	gr := bufio.NewReader(bytes.NewReader(out))
	if hr, err := http.ReadRequest(gr); err == nil {
		gb, err := io.ReadAll(hr.Body)
		if err != nil || !bytes.Equal(gb, body) {
			t.Fatalf("net/http reads body %q (%v), hitless forwarded %q\n%q", gb, err, body, out)
		}
		if rest, _ := io.ReadAll(gr); len(rest) != 0 {
			t.Fatalf("net/http finds %q after the request\n%q", rest, out)
		}
	}
}

func FuzzForwardRoundTrip(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /innocent HTTP/1.1\r\nHost: x\r\nConnection: Content-Length\r\nContent-Length: 32\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: Transfer-Encoding, Host\r\n\r\n3;ext\r\nabc\r\n0\r\nX-T: 1\r\nContent-Length: 9\r\n\r\n",
		"GET http://x:80/a?b HTTP/1.0\r\nHost: x\r\nHost: x\r\nKeep-Alive: 1\r\nTE: trailers\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade, X-A\r\nX-A: 1\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n",
		"CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\n\r\n",
		"\r\nPOST / HTTP/1.1\nContent-Length: 0\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(checkRoundTrip)
}

// TestForwardRoundTripSeeds runs the round trip on the cases of issue 12 without the
// fuzzer, so that `go test` alone covers them.
func TestForwardRoundTripSeeds(t *testing.T) {
	for _, s := range []string{
		"POST /innocent HTTP/1.1\r\nHost: x\r\nConnection: Content-Length\r\nContent-Length: 32\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: Host\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
		"GET / HTTP/1.0\r\n\r\n",
	} {
		_, out, _, ok := forwardRequest([]byte(s))
		if !ok {
			t.Fatalf("%q refused", s)
		}
		checkRoundTrip(t, []byte(s))
		head, _, _ := bytes.Cut(out, []byte("\r\n\r\n"))
		if bytes.Count(bytes.ToLower(head), []byte("\r\nhost: ")) > 1 {
			t.Fatalf("%q forwarded with more than one Host: %q", s, out)
		}
	}
}

// FuzzResponseRoundTrip is the same property for answers: a response hitless accepts
// reaches the client with the same status, end-to-end headers and body, framed so
// that the client reads nothing more.
func FuzzResponseRoundTrip(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: Transfer-Encoding\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 3\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nConnection: X-A\r\nX-A: 1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), http1.MaxHead)
		head, err := http1.ReadHead(br)
		if err != nil {
			return
		}
		s := &session{}
		if http1.ParseResponse(head, &s.resp) != nil || s.resp.Status == 101 || s.resp.Status < 200 {
			return
		}
		headCopy := append([]byte(nil), head...)
		http1.ParseResponse(headCopy, &s.resp)
		br.Discard(len(head))
		var out bytes.Buffer
		s.bw = bufio.NewWriter(&out)
		resp := &s.resp
		noBody := resp.Status == 204 || resp.Status == 304
		framed := noBody || resp.Chunked || resp.ContentLength >= 0
		s.writeResponseHead(resp, false, false, framed, false, false)
		var body bytes.Buffer
		bw := bufio.NewWriter(&body)
		switch {
		case noBody:
		case resp.Chunked:
			if _, err := http1.CopyChunked(s.bw, br, true, nil); err != nil {
				return
			}
			http1.CopyChunked(bw, bufio.NewReader(bytes.NewReader(data[len(head):])), false, nil)
		case resp.ContentLength >= 0:
			if _, err := http1.CopyN(s.bw, br, resp.ContentLength, nil); err != nil {
				return
			}
			bw.Write(data[len(head) : len(head)+int(resp.ContentLength)])
		default:
			http1.CopyAll(s.bw, br, nil)
			bw.Write(data[len(head):])
		}
		s.bw.Flush()
		bw.Flush()

		cr := bufio.NewReaderSize(bytes.NewReader(out.Bytes()), 2*http1.MaxHead)
		chead, err := http1.ReadHead(cr)
		if err != nil {
			t.Fatalf("head unreadable: %v\n%q", err, out.Bytes())
		}
		var again http1.Response
		if err := http1.ParseResponse(chead, &again); err != nil {
			t.Fatalf("head refused: %v\n%q", err, out.Bytes())
		}
		if again.Status != resp.Status {
			t.Fatalf("status %d became %d", resp.Status, again.Status)
		}
		a, b := endToEnd(&resp.Message), endToEnd(&again.Message)
		if len(a) != len(b) {
			t.Fatalf("end-to-end headers %q became %q", a, b)
		}
		cr.Discard(len(chead))
		var got bytes.Buffer
		gw := bufio.NewWriter(&got)
		switch {
		case noBody:
		case again.Chunked:
			_, err = http1.CopyChunked(gw, cr, false, nil)
		case again.ContentLength >= 0:
			_, err = http1.CopyN(gw, cr, again.ContentLength, nil)
		default:
			_, err = http1.CopyAll(gw, cr, nil)
		}
		gw.Flush()
		if err != nil || !bytes.Equal(got.Bytes(), body.Bytes()) {
			t.Fatalf("body %q became %q (%v)\n%q", body.Bytes(), got.Bytes(), err, out.Bytes())
		}
		if cr.Buffered() != 0 {
			t.Fatalf("%d bytes after the response\n%q", cr.Buffered(), out.Bytes())
		}
	})
}
