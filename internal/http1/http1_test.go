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
		{"websocket", "GET /ws HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n", -1, false, true, true},
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
		"no version":                 "GET /\r\n\r\n",
		"control char in target":     "GET /\x01 HTTP/1.1\r\n\r\n",
		"invalid method":             "G(T / HTTP/1.1\r\n\r\n",
		"header without colon":       "GET / HTTP/1.1\r\nHello\r\n\r\n",
		"empty header name":          "GET / HTTP/1.1\r\n: x\r\n\r\n",
		"huge content-length":        "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"CL with plus":               "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
		"space inside method/target": "GET /a b HTTP/1.1\r\n\r\n",
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
	if !r.IsHopByHop([]byte("x-private")) || r.IsHopByHop([]byte("content-length")) {
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
	for _, bad := range []string{"zz\r\n", "5\r\nhello", "5\r\nhelloXX\r\n0\r\n\r\n", "fffffffffffffffff\r\n", "5 x\r\n"} {
		_, err := CopyChunked(bufio.NewWriter(io.Discard), bufio.NewReader(strings.NewReader(bad)), true, nil)
		if err == nil {
			t.Errorf("%q accepted", bad)
		}
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
		if ParseRequest(head, &r) == nil {
			if r.Chunked && r.ContentLength >= 0 {
				t.Fatal("accepted both framings")
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
		ParseResponse(head, &r)
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
		if err == nil && int64(out.Len()) != n {
			t.Fatalf("payload %d bytes, reported %d", out.Len(), n)
		}
	})
}
