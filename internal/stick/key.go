package stick

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// Keys are kept in their wire form: 4 bytes for ip, 16 for ipv6, 4 big-endian bytes
// for integer, the bytes of a string (at most Len), and exactly Len bytes for binary
// (zero padded). The Key* methods build one into dst without allocating, so that the
// request path can look an entry up with a stack buffer.

// ErrInvalidKey is a key that does not parse for the table's type.
var ErrInvalidKey = errors.New("Invalid key")

// KeyIP appends the key of address a; an IPv4 address in an ipv6 table is mapped,
// and an IPv6 address in an ip table must be IPv4-mapped.
func (t *Table) KeyIP(dst []byte, a netip.Addr) ([]byte, bool) {
	switch t.spec.Type {
	case KeyIP:
		a = a.Unmap()
		if !a.Is4() {
			return dst, false
		}
		b := a.As4()
		return append(dst, b[:]...), true
	case KeyIPv6:
		b := a.As16()
		return append(dst, b[:]...), true
	}
	return dst, false
}

// KeyInt appends the key of integer v (truncated to 32 bits, as HAProxy 2.6 does).
func (t *Table) KeyInt(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint32(dst, uint32(v))
}

// KeyString appends the key of s, truncated to the table's length.
func (t *Table) KeyString(dst []byte, s string) []byte {
	if len(s) > t.spec.Len {
		s = s[:t.spec.Len]
	}
	if t.spec.Type == KeyBinary {
		n := len(dst)
		dst = append(dst, s...)
		for len(dst)-n < t.spec.Len {
			dst = append(dst, 0)
		}
		return dst
	}
	return append(dst, s...)
}

// KeyBytes appends a binary key (padded or truncated to the table's length), or a
// string key.
func (t *Table) KeyBytes(dst []byte, b []byte) []byte { return t.KeyString(dst, string(b)) }

// ParseKey reads a key as the Runtime API writes it (`key K`): an address for ip and
// ipv6, a decimal number for integer, text for string. HAProxy parses a malformed
// IPv4 address as 0.0.0.0; binary keys are refused by the callers.
func (t *Table) ParseKey(s string) ([]byte, error) {
	switch t.spec.Type {
	case KeyIP:
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Unmap().Is4() {
			return make([]byte, 4), nil
		}
		k, _ := t.KeyIP(nil, a)
		return k, nil
	case KeyIPv6:
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, ErrInvalidKey
		}
		k, _ := t.KeyIP(nil, a)
		return k, nil
	case KeyInteger:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n > 1<<32-1 || n < -(1<<31) {
			return nil, ErrInvalidKey
		}
		return t.KeyInt(nil, n), nil
	case KeyString:
		return t.KeyString(nil, s), nil
	}
	return nil, ErrInvalidKey
}

// FormatKey writes a key as `show table` prints it.
func (t *Table) FormatKey(k []byte) string {
	switch t.spec.Type {
	case KeyIP, KeyIPv6:
		if a, ok := netip.AddrFromSlice(k); ok {
			return a.String()
		}
	case KeyInteger:
		if len(k) == 4 {
			return strconv.FormatUint(uint64(binary.BigEndian.Uint32(k)), 10)
		}
	case KeyString:
		return escapeText(k)
	}
	return strings.ToUpper(hex.EncodeToString(k))
}

// escapeText prints non-printable bytes as \xHH, as HAProxy's dump_text does.
func escapeText(k []byte) string {
	var b strings.Builder
	for _, c := range k {
		switch {
		case c == 0:
			return b.String()
		case c >= 0x20 && c < 0x7f && c != '\\' && c != ' ' && c != '=':
			b.WriteByte(c)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\\' || c == ' ' || c == '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteString(`\x`)
			b.WriteString(strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}
