package sample

import (
	"crypto/tls"
	"net"
	"testing"
	"time"
)

// clientHello is the first flight of a Go TLS client for serverName.
func clientHello(t testing.TB, serverName string, alpn ...string) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go tls.Client(a, &tls.Config{ServerName: serverName, NextProtos: alpn, InsecureSkipVerify: serverName == ""}).Handshake()
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16<<10)
	n, err := b.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

func TestPayloadFetches(t *testing.T) {
	hello := clientHello(t, "www.example.com", "h2", "http/1.1")
	in := newTestInput("", "")
	eval := func(expr string, payload []byte, final bool) (string, bool, bool) {
		e, err := Parse(expr)
		if err != nil {
			t.Fatal(err)
		}
		c := NewCtx(in)
		c.SetPayload(payload, final)
		got, ok := e.AppendString(c, nil)
		return string(got), ok, c.MayChange()
	}
	for _, tt := range []struct {
		expr    string
		payload []byte
		final   bool
		want    string
		found   bool
		mayMore bool
	}{
		{"req.ssl_sni", hello, false, "www.example.com", true, false},
		{"req_ssl_sni,upper", hello, false, "WWW.EXAMPLE.COM", true, false},
		{"req.ssl_alpn", hello, false, "h2", true, false},
		{"req.ssl_hello_type", hello, false, "1", true, false},
		{"req.ssl_ver", hello, false, "769", true, false},
		{"req.ssl_sni", hello[:20], false, "", false, true},
		{"req.ssl_sni", hello[:20], true, "", false, false},
		{"req.ssl_sni", []byte("GET / HTTP/1.1\r\n"), false, "", false, false},
		{"req.len", hello[:7], false, "7", true, true},
		{"req.len", hello[:7], true, "7", true, false},
		{"req.payload(0,3),hex", []byte("GET /"), false, "474554", true, false},
		{"req.payload(2,9)", []byte("GET /"), false, "", false, true},
		{"wait_end", nil, false, "", false, true},
		{"wait_end", nil, true, "1", true, false},
	} {
		got, found, may := eval(tt.expr, tt.payload, tt.final)
		if got != tt.want || found != tt.found || may != tt.mayMore {
			t.Errorf("%s on %d bytes (final %v): %q %v %v, want %q %v %v", tt.expr, len(tt.payload), tt.final,
				got, found, may, tt.want, tt.found, tt.mayMore)
		}
	}
	if h, st := parseHello(clientHello(t, "")); st != helloOK || h.sni != nil {
		t.Errorf("no SNI: %q %v", h.sni, st)
	}
}

func FuzzParseHello(f *testing.F) {
	f.Add(clientHello(f, "a.example", "h2"))
	f.Add([]byte{0x16, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, st := parseHello(b)
		if st == helloOK && h.sni != nil && len(h.sni) > len(b) {
			t.Fatal("SNI longer than the input")
		}
	})
}
