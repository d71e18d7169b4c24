// Package proxyprotocol reads and writes PROXY protocol headers (versions 1 and 2, as
// HAProxy 2.6 speaks them): the instance package reads one on connections accepted on
// `bind ... accept-proxy`, the proxy package writes one to servers with `send-proxy`
// or `send-proxy-v2`, and health checks write theirs with `check-send-proxy`.
//
// The codec is github.com/pires/go-proxyproto's; this package adds what a proxy on the
// hot path needs around it: the header is read with MSG_PEEK and then consumed exactly,
// so that the connection stays a *net.TCPConn (splice keeps working) and no byte after
// the header is buffered away from it.
package proxyprotocol

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	pp "github.com/pires/go-proxyproto"
	"golang.org/x/sys/unix"
)

// Header is what a PROXY header carried.
type Header struct {
	Version int // 1 or 2
	// Local tells a header that carries no client: v2's LOCAL command, or v1's
	// UNKNOWN family. The connection's own addresses then stand.
	Local bool
	// Src and Dst are the client's address and the address it connected to (valid
	// for TCP over IPv4 or IPv6 only).
	Src, Dst netip.AddrPort
	TLVs     []TLV
	// Len is the header's size on the wire.
	Len int
}

// TLV is one type-length-value of a version 2 header.
type TLV struct {
	Type  byte
	Value []byte
}

// The TLV types HAProxy sends.
const (
	TLVAuthority = 0x02
	TLVCRC32C    = 0x03
	TLVUniqueID  = 0x05
)

// maxHeader bounds a header: v1 is at most 107 bytes; v2 carries TLVs, which HAProxy
// bounds by its buffer too.
const maxHeader = 4096

// Errors of Read, worded as HAProxy 2.6 logs them.
var (
	ErrClosed    = errors.New("Connection closed while waiting for PROXY protocol header")
	ErrAbort     = errors.New("Connection error while waiting for PROXY protocol header")
	ErrTimeout   = errors.New("Timeout while waiting for PROXY protocol header")
	ErrTruncated = errors.New("Truncated PROXY protocol header received")
	ErrNotHeader = errors.New("Received something which does not look like a PROXY protocol header")
	ErrMalformed = errors.New("Received an invalid PROXY protocol header")
)

var sigV1, sigV2 = []byte("PROXY "), pp.SIGV2

// need reports how many bytes the header starting in b takes: 0 when more are needed
// to know. As HAProxy, it decides that bytes are not a header once it has six of them
// (the v1 signature) or sixteen (v2's signature and length).
func need(b []byte) (int, error) {
	if len(b) >= 6 && bytes.Equal(b[:6], sigV1) {
		if i := bytes.Index(b, []byte("\r\n")); i >= 0 {
			if i+2 > 107 {
				return 0, ErrMalformed
			}
			return i + 2, nil
		}
		if len(b) >= 107 {
			return 0, ErrMalformed
		}
		return 0, nil
	}
	if len(b) < 16 {
		return 0, nil
	}
	if !bytes.Equal(b[:12], sigV2) {
		return 0, ErrNotHeader
	}
	if b[12]>>4 != 2 {
		return 0, ErrMalformed
	}
	total := 16 + int(b[14])<<8 + int(b[15])
	if total > maxHeader {
		return 0, ErrMalformed
	}
	return total, nil
}

// Parse decodes one complete header (as many bytes as need reported). The common
// headers (v1 and v2 TCP over IPv4 or IPv6, v2 without TLVs) take a short path
// written here (BenchmarkParse: 30 ns instead of 3.5 µs for v2); every other header
// goes to the library, and FuzzParse checks that both agree.
func Parse(b []byte) (*Header, error) {
	if h := fastParse(b); h != nil {
		return h, nil
	}
	return libraryParse(b)
}

// fastParse decodes the common headers, or returns nil to leave b to the library.
func fastParse(b []byte) *Header {
	if len(b) >= 16 && bytes.Equal(b[:12], sigV2) && b[12] == 0x21 {
		n := int(b[14])<<8 | int(b[15])
		switch {
		case b[13] == 0x11 && n == 12 && len(b) == 28:
			s, _ := netip.AddrFromSlice(b[16:20])
			d, _ := netip.AddrFromSlice(b[20:24])
			return &Header{Version: 2, Len: 28, Src: netip.AddrPortFrom(s, be16(b[24:])), Dst: netip.AddrPortFrom(d, be16(b[26:]))}
		case b[13] == 0x21 && n == 36 && len(b) == 52:
			s, _ := netip.AddrFromSlice(b[16:32])
			d, _ := netip.AddrFromSlice(b[32:48])
			return &Header{Version: 2, Len: 52, Src: netip.AddrPortFrom(s, be16(b[48:])), Dst: netip.AddrPortFrom(d, be16(b[50:]))}
		}
		return nil
	}
	if len(b) < 8 || !bytes.HasPrefix(b, []byte("PROXY TCP")) || !bytes.HasSuffix(b, []byte("\r\n")) {
		return nil
	}
	f := bytes.Split(b[len("PROXY "):len(b)-2], []byte(" "))
	if len(f) != 5 || (string(f[0]) != "TCP4" && string(f[0]) != "TCP6") {
		return nil
	}
	s, err1 := netip.ParseAddr(string(f[1]))
	d, err2 := netip.ParseAddr(string(f[2]))
	sp, ok1 := port(f[3])
	dp, ok2 := port(f[4])
	v4 := string(f[0]) == "TCP4"
	if err1 != nil || err2 != nil || !ok1 || !ok2 || s.Is4() != v4 || d.Is4() != v4 || s.Zone() != "" || d.Zone() != "" || s.Is4In6() || d.Is4In6() {
		return nil
	}
	return &Header{Version: 1, Len: len(b), Src: netip.AddrPortFrom(s, sp), Dst: netip.AddrPortFrom(d, dp)}
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

// port reads a decimal port without sign or leading zero, 1-65535.
func port(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || b[0] == '0' {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return uint16(n), n <= 65535
}

// libraryParse decodes a header with github.com/pires/go-proxyproto.
func libraryParse(b []byte) (*Header, error) {
	if len(b) >= 16 && b[0] == sigV2[0] && b[13]>>4 == 0 && (b[12] == 0x20 || b[12] == 0x21) {
		// AF_UNSPEC: the sender knows no addresses (the library refuses it with
		// the PROXY command, the specification and HAProxy accept it): the
		// connection's own stand. Its TLVs are not read.
		return &Header{Version: 2, Local: true, Len: len(b)}, nil
	}
	h, err := pp.Read(bufio.NewReaderSize(bytes.NewReader(b), max(len(b), 16)))
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrMalformed, err)
	}
	out := &Header{Version: int(h.Version), Len: len(b)}
	switch {
	case h.Version == 2 && h.Command.IsLocal():
		out.Local = true
	case h.TransportProtocol == pp.UNSPEC:
		out.Local = true
	default:
		src, sok := h.SourceAddr.(*net.TCPAddr)
		dst, dok := h.DestinationAddr.(*net.TCPAddr)
		if !sok || !dok {
			// UDP or unix families: nothing a TCP proxy can carry on.
			out.Local = true
			break
		}
		out.Src, out.Dst = src.AddrPort(), dst.AddrPort()
	}
	if h.Version == 2 {
		tlvs, err := h.TLVs()
		if err != nil {
			return nil, fmt.Errorf("%w (%v)", ErrMalformed, err)
		}
		for _, t := range tlvs {
			out.TLVs = append(out.TLVs, TLV{Type: byte(t.Type), Value: t.Value})
		}
	}
	return out, nil
}

// Read reads a header from the start of c within timeout (0: none), leaving every
// byte after it unread in the socket. A connection that sends something else, closes,
// or stays silent past the timeout gets one of the errors above.
func Read(c *net.TCPConn, timeout time.Duration) (*Header, error) {
	if timeout > 0 {
		c.SetReadDeadline(time.Now().Add(timeout))
		defer c.SetReadDeadline(time.Time{})
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 256)
	have := 0
	for {
		// Peek at what is there; wait while it is no more than before. A peer that
		// closed after part of a header is seen by poll's POLLRDHUP, as MSG_PEEK
		// alone shows the bytes and not the end.
		var n int
		var perr error
		err := raw.Read(func(fd uintptr) bool {
			n, _, perr = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK)
			switch {
			case perr == syscall.EAGAIN:
				perr = nil
				return false
			case perr != nil || n == 0 || n > have:
				return true
			}
			if peerClosed(fd) {
				perr = ErrTruncated
				return true
			}
			return false
		})
		if err == nil {
			err = perr
		}
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, ErrTimeout
		case errors.Is(err, ErrTruncated):
			return nil, ErrTruncated
		case err != nil:
			return nil, ErrAbort
		case n == 0 && have == 0:
			return nil, ErrClosed
		case n == 0:
			return nil, ErrTruncated
		}
		have = n
		total, err := need(buf[:n])
		if err != nil {
			return nil, err
		}
		if total > 0 && n >= total {
			h, err := Parse(buf[:total])
			if err != nil {
				return nil, err
			}
			if _, err := io.ReadFull(c, buf[:total]); err != nil {
				return nil, ErrAbort
			}
			return h, nil
		}
		if n == len(buf) {
			buf = make([]byte, min(max(2*len(buf), total), maxHeader))
		}
	}
}

// peerClosed reports whether the peer shut its side down.
func peerClosed(fd uintptr) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
}

// Append writes a header for a connection from src to dst: version 1 or 2, with the
// TLVs given (v2 only). Addresses that are not both IPv4 or both IPv6 give v1's
// UNKNOWN or v2's LOCAL, as HAProxy sends.
func Append(b []byte, version int, src, dst netip.AddrPort, tlvs []TLV) []byte {
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	ok := src.IsValid() && dst.IsValid() && src.Addr().Is4() == dst.Addr().Is4()
	if version == 1 {
		if !ok {
			return append(b, "PROXY UNKNOWN\r\n"...)
		}
		fam := "TCP4 "
		if !src.Addr().Is4() {
			fam = "TCP6 "
		}
		b = append(b, "PROXY "...)
		b = append(b, fam...)
		b = src.Addr().AppendTo(b)
		b = append(b, ' ')
		b = dst.Addr().AppendTo(b)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(src.Port()), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(dst.Port()), 10)
		return append(b, "\r\n"...)
	}
	start := len(b)
	b = append(b, sigV2...)
	if !ok {
		b = append(b, 0x20, 0x00, 0, 0) // LOCAL, AF_UNSPEC
	} else if src.Addr().Is4() {
		b = append(b, 0x21, 0x11, 0, 0) // PROXY, TCP over IPv4
		s4, d4 := src.Addr().As4(), dst.Addr().As4()
		b = append(b, s4[:]...)
		b = append(b, d4[:]...)
		b = append(b, byte(src.Port()>>8), byte(src.Port()), byte(dst.Port()>>8), byte(dst.Port()))
	} else {
		b = append(b, 0x21, 0x21, 0, 0) // PROXY, TCP over IPv6
		s6, d6 := src.Addr().As16(), dst.Addr().As16()
		b = append(b, s6[:]...)
		b = append(b, d6[:]...)
		b = append(b, byte(src.Port()>>8), byte(src.Port()), byte(dst.Port()>>8), byte(dst.Port()))
	}
	crc := -1
	for _, t := range tlvs {
		if t.Type == TLVCRC32C {
			crc = len(b) + 3
			t.Value = make([]byte, 4)
		}
		b = append(b, t.Type, byte(len(t.Value)>>8), byte(len(t.Value)))
		b = append(b, t.Value...)
	}
	n := len(b) - start - 16
	b[start+14], b[start+15] = byte(n>>8), byte(n)
	if crc >= 0 {
		sum := crc32c(b[start:])
		b[crc], b[crc+1], b[crc+2], b[crc+3] = byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum)
	}
	return b
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
