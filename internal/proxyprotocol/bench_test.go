package proxyprotocol

import (
	"bytes"
	"net/netip"
	"strconv"
	"testing"
)

// handParse is the least a hand-written parser does for the common headers (v1 TCP4
// and v2 TCP over IPv4 without TLVs): the yardstick BenchmarkParse measures the
// library's codec against.
func handParse(b []byte) (src, dst netip.AddrPort, ok bool) {
	if bytes.HasPrefix(b, sigV2) && len(b) >= 28 && b[13] == 0x11 {
		s, _ := netip.AddrFromSlice(b[16:20])
		d, _ := netip.AddrFromSlice(b[20:24])
		return netip.AddrPortFrom(s, uint16(b[24])<<8|uint16(b[25])), netip.AddrPortFrom(d, uint16(b[26])<<8|uint16(b[27])), true
	}
	f := bytes.Fields(bytes.TrimSuffix(b, []byte("\r\n")))
	if len(f) != 6 || string(f[1]) != "TCP4" {
		return src, dst, false
	}
	s, err1 := netip.ParseAddr(string(f[2]))
	d, err2 := netip.ParseAddr(string(f[3]))
	sp, err3 := strconv.ParseUint(string(f[4]), 10, 16)
	dp, err4 := strconv.ParseUint(string(f[5]), 10, 16)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return src, dst, false
	}
	return netip.AddrPortFrom(s, uint16(sp)), netip.AddrPortFrom(d, uint16(dp)), true
}

// BenchmarkParse: Parse (its short path for these headers), the library's codec
// alone, and the hand-written yardstick, for a v1 and a v2 header (go test -bench Parse -benchmem
// ./internal/proxyprotocol).
func BenchmarkParse(b *testing.B) {
	for _, h := range []struct {
		name string
		hdr  []byte
	}{
		{"v1", []byte("PROXY TCP4 203.0.113.7 198.51.100.9 40000 443\r\n")},
		{"v2", Append(nil, 2, netip.MustParseAddrPort("203.0.113.7:40000"), netip.MustParseAddrPort("198.51.100.9:443"), nil)},
	} {
		b.Run(h.name+"/Parse", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := Parse(h.hdr); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(h.name+"/library", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := libraryParse(h.hdr); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(h.name+"/hand", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, _, ok := handParse(h.hdr); !ok {
					b.Fatal("not parsed")
				}
			}
		})
	}
}
