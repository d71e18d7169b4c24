package proxyprotocol

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// TestAppendMatchesHAProxy: the headers HAProxy 2.6 sent to a recording server for
// the same connections (send-proxy, send-proxy-v2, proxy-v2-options crc32c,unique-id,
// and a v2 check, which carries LOCAL).
func TestAppendMatchesHAProxy(t *testing.T) {
	sig := "\r\n\r\n\x00\r\nQUIT\n"
	tests := []struct {
		name     string
		v        int
		src, dst netip.AddrPort
		tlvs     []TLV
		want     string
	}{
		{"v1", 1, ap("127.0.0.1:47611"), ap("127.0.0.1:7611"), nil, "PROXY TCP4 127.0.0.1 127.0.0.1 47611 7611\r\n"},
		{"v1 ipv6", 1, ap("[::1]:1000"), ap("[2001:db8::1]:80"), nil, "PROXY TCP6 ::1 2001:db8::1 1000 80\r\n"},
		{"v1 mixed", 1, ap("[::1]:1000"), ap("127.0.0.1:80"), nil, "PROXY UNKNOWN\r\n"},
		{"v1 mapped", 1, ap("[::ffff:10.0.0.1]:1000"), ap("10.0.0.2:80"), nil, "PROXY TCP4 10.0.0.1 10.0.0.2 1000 80\r\n"},
		{"v2", 2, ap("127.0.0.1:47612"), ap("127.0.0.1:7612"), nil, sig + "!\x11\x00\x0c\x7f\x00\x00\x01\x7f\x00\x00\x01\xb9\xfc\x1d\xbc"},
		{"v2 crc32c unique-id", 2, ap("127.0.0.1:47613"), ap("127.0.0.1:7613"), []TLV{{Type: TLVCRC32C}, {Type: TLVUniqueID}},
			sig + "!\x11\x00\x16\x7f\x00\x00\x01\x7f\x00\x00\x01\xb9\xfd\x1d\xbd\x03\x00\x04\x18\x81)\x83\x05\x00\x00"},
		{"v2 local", 2, netip.AddrPort{}, netip.AddrPort{}, nil, sig + " \x00\x00\x00"},
	}
	for _, tt := range tests {
		if got := string(Append(nil, tt.v, tt.src, tt.dst, tt.tlvs)); got != tt.want {
			t.Errorf("%s: %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	v2 := func(cmd, fam byte, body []byte) []byte {
		b := append([]byte("\r\n\r\n\x00\r\nQUIT\n"), cmd, fam, byte(len(body)>>8), byte(len(body)))
		return append(b, body...)
	}
	v4 := []byte{1, 2, 3, 4, 5, 6, 7, 8, 0x04, 0x57, 0x08, 0xae}
	tests := []struct {
		name     string
		in       []byte
		local    bool
		src, dst string
		tlvs     int
		err      error
	}{
		{"v1 tcp4", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n"), false, "1.2.3.4:1111", "5.6.7.8:2222", 0, nil},
		{"v1 tcp6", []byte("PROXY TCP6 ::1 ::2 1 2\r\n"), false, "[::1]:1", "[::2]:2", 0, nil},
		{"v1 unknown", []byte("PROXY UNKNOWN\r\n"), true, "", "", 0, nil},
		{"v1 unknown with addresses", []byte("PROXY UNKNOWN ::1 ::2 1 2\r\n"), true, "", "", 0, nil},
		{"v1 bad port", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 99999 2222\r\n"), false, "", "", 0, ErrMalformed},
		{"v1 bad family", []byte("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), false, "", "", 0, ErrMalformed},
		{"v2 tcp4", v2(0x21, 0x11, v4), false, "1.2.3.4:1111", "5.6.7.8:2222", 0, nil},
		{"v2 local", v2(0x20, 0x00, nil), true, "", "", 0, nil},
		{"v2 local with addresses", v2(0x20, 0x11, v4), true, "", "", 0, nil},
		{"v2 unspec", v2(0x21, 0x00, nil), true, "", "", 0, nil},
		{"v2 tlvs", v2(0x21, 0x11, append(append([]byte{}, v4...), 0x02, 0x00, 0x03, 'a', '.', 'b', 0x05, 0x00, 0x01, 'x')), false, "1.2.3.4:1111", "5.6.7.8:2222", 2, nil},
		{"v2 truncated tlv", v2(0x21, 0x11, append(append([]byte{}, v4...), 0x02, 0x00, 0x09, 'a')), false, "", "", 0, ErrMalformed},
		{"v2 short addresses", v2(0x21, 0x11, v4[:6]), false, "", "", 0, ErrMalformed},
		{"v2 bad command", v2(0x2f, 0x11, v4), false, "", "", 0, ErrMalformed},
	}
	for _, tt := range tests {
		n, err := need(tt.in)
		if err == nil && n != len(tt.in) {
			t.Errorf("%s: need %d of %d", tt.name, n, len(tt.in))
			continue
		}
		var h *Header
		if err == nil {
			h, err = Parse(tt.in)
		}
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("%s: err %v, want %v", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if h.Local != tt.local || !tt.local && (h.Src.String() != tt.src || h.Dst.String() != tt.dst) || len(h.TLVs) != tt.tlvs {
			t.Errorf("%s: %+v", tt.name, h)
		}
	}
}

// pair returns a connected client and server-side *net.TCPConn on loopback.
func pair(t *testing.T) (client net.Conn, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); s.Close() })
	return client, s.(*net.TCPConn)
}

// TestRead: headers read off real sockets, in pieces or followed by data (which stays
// in the socket), and each way a connection fails, with HAProxy's words.
func TestRead(t *testing.T) {
	hdr := "PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n"
	tests := []struct {
		name   string
		writes []string
		close  bool
		err    error
		rest   string
	}{
		{"whole with data", []string{hdr + "GET / HTTP/1.0\r\n\r\n"}, false, nil, "GET / HTTP/1.0\r\n\r\n"},
		{"in pieces", []string{"PRO", "XY TCP4 1.2.3.4 ", "5.6.7.8 1111 2222\r", "\nhello"}, false, nil, "hello"},
		{"v2 in pieces", []string{"\r\n\r\n\x00\r\nQUIT\n", "\x21\x11\x00\x0c\x01\x02\x03\x04", "\x05\x06\x07\x08\x04\x57\x08\xaehi"}, false, nil, "hi"},
		{"garbage", []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n"}, false, ErrNotHeader, ""},
		{"short then close", []string{"GARBAGE\r\n"}, true, ErrTruncated, ""},
		{"part then close", []string{"PROXY TCP4 1.2"}, true, ErrTruncated, ""},
		{"nothing then close", nil, true, ErrClosed, ""},
		{"silent", nil, false, ErrTimeout, ""},
		{"v1 too long", []string{"PROXY " + string(bytes.Repeat([]byte("x"), 120)) + "\r\n"}, false, ErrMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := pair(t)
			go func() {
				for _, w := range tt.writes {
					c.Write([]byte(w))
					time.Sleep(20 * time.Millisecond)
				}
				if tt.close {
					c.(*net.TCPConn).CloseWrite()
				}
			}()
			h, err := Read(s, 500*time.Millisecond)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Src != ap("1.2.3.4:1111") || h.Dst != ap("5.6.7.8:2222") {
				t.Fatalf("header %+v", h)
			}
			s.SetReadDeadline(time.Now().Add(time.Second))
			rest := make([]byte, len(tt.rest))
			if _, err := io.ReadFull(s, rest); err != nil || string(rest) != tt.rest {
				t.Fatalf("after the header: %q %v", rest, err)
			}
		})
	}
}

// FuzzParse: any bytes give a header length, a header or an error, never a panic;
// a header Parse accepts re-encodes to one that parses to the same addresses.
func FuzzParse(f *testing.F) {
	f.Add([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(Append(nil, 2, ap("1.2.3.4:1"), ap("5.6.7.8:2"), []TLV{{Type: TLVCRC32C}, {Type: TLVUniqueID, Value: []byte("id")}}))
	f.Add(Append(nil, 2, ap("[::1]:1"), ap("[::2]:2"), nil))
	f.Add(Append(nil, 2, netip.AddrPort{}, netip.AddrPort{}, nil))
	f.Add([]byte("PROXY TCP6 ::1 ::2 1 65535\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The short path agrees with the library wherever it answers.
		if fh := fastParse(b); fh != nil {
			lh, err := libraryParse(b)
			if err != nil || lh.Local || lh.Src != fh.Src || lh.Dst != fh.Dst || lh.Version != fh.Version || len(lh.TLVs) != 0 {
				t.Fatalf("%q: short path %+v, library %+v (%v)", b, fh, lh, err)
			}
		}
		n, err := need(b)
		if err != nil || n == 0 || n > len(b) {
			return
		}
		h, err := Parse(b[:n])
		if err != nil || h.Local {
			return
		}
		again, err := Parse(Append(nil, h.Version, h.Src, h.Dst, nil))
		if err != nil || (!again.Local && (again.Src != netip.AddrPortFrom(h.Src.Addr().Unmap(), h.Src.Port()) || again.Dst != netip.AddrPortFrom(h.Dst.Addr().Unmap(), h.Dst.Port()))) {
			t.Fatalf("%q: %+v re-encoded to %+v (%v)", b[:n], h, again, err)
		}
	})
}
