package sample

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// Ctx is the evaluation state of one session: its Input and a scratch space that
// converters write into. A session keeps one Ctx and resets it per request, so that
// evaluation allocates nothing once the scratch space has grown. A Ctx is used by one
// goroutine at a time.
type Ctx struct {
	In   Input
	buf  []byte
	iter iterState
	// v is the value being computed: fetches and converters are called through
	// function values, so a Value on the caller's stack would escape.
	v Value
}

// iterState is the cursor of a multi-valued fetch while an ACL iterates: n is the
// occurrence asked for, more is set by the fetch when another one follows.
type iterState struct {
	on   bool
	n    int
	more bool
}

// Iterating reports whether the fetch is asked for its n-th occurrence (ACL use).
func (c *Ctx) Iterating() (n int, ok bool) { return c.iter.n, c.iter.on }

// More tells an iterating ACL that another occurrence follows.
func (c *Ctx) More() { c.iter.more = true }

// Reset prepares the Ctx for a new request or connection of in.
func (c *Ctx) Reset(in Input) {
	c.In = in
	c.buf = c.buf[:0]
	c.iter = iterState{}
}

// Mark and Release bound the scratch space used by one evaluation whose result was
// consumed (copied out), so that long rule lists do not grow it.
func (c *Ctx) Mark() int { return len(c.buf) }

// Release forgets the scratch space used since Mark.
func (c *Ctx) Release(m int) {
	if m <= len(c.buf) {
		c.buf = c.buf[:m]
	}
}

// grab returns the scratch bytes appended since start, capped so that later appends
// never overwrite them.
func (c *Ctx) grab(start int) []byte {
	return c.buf[start:len(c.buf):len(c.buf)]
}

// AppendText appends the textual form of v (as a log line or a header shows it).
func AppendText(b []byte, v *Value) []byte {
	switch v.Type {
	case TBool, TInt:
		return strconv.AppendInt(b, v.Int, 10)
	case TIPv4, TIPv6, TAddr:
		return v.Addr.AppendTo(b)
	}
	return append(b, v.B...)
}

// castable[from][to] says whether HAProxy's cast table has an entry.
var castable = func() [TMeth + 1][TMeth + 1]bool {
	var t [TMeth + 1][TMeth + 1]bool
	set := func(from Type, to ...Type) {
		for _, x := range to {
			t[from][x] = true
		}
	}
	for i := TAny; i <= TMeth; i++ {
		t[i][i] = true
		t[i][TAny] = true
		t[TAny][i] = true
	}
	set(TBool, TInt, TStr, TBin)
	set(TInt, TBool, TIPv4, TIPv6, TAddr, TStr, TBin)
	set(TIPv4, TInt, TIPv6, TAddr, TStr, TBin)
	set(TIPv6, TIPv4, TAddr, TStr, TBin)
	set(TAddr, TInt, TIPv4, TIPv6, TStr, TBin)
	set(TStr, TBool, TInt, TIPv4, TIPv6, TAddr, TBin, TMeth)
	set(TBin, TStr)
	set(TMeth, TStr, TBin)
	return t
}()

func canCast(from, to Type) bool { return castable[from][to] }

// Cast converts v to type t in place, as HAProxy's sample casts do; it reports false
// when the value cannot be converted (the sample is then absent).
func (c *Ctx) Cast(v *Value, t Type) bool {
	from := v.Type
	if t == TAny || from == t {
		return true
	}
	if t == TAddr && (from == TIPv4 || from == TIPv6) {
		return true
	}
	switch from {
	case TBool:
		switch t {
		case TInt:
			v.Type = TInt
			return true
		case TStr, TBin:
			return c.intToStr(v, t)
		}
	case TInt:
		switch t {
		case TBool:
			*v = Bool(v.Int != 0)
			return true
		case TStr:
			return c.intToStr(v, t)
		case TBin:
			start := len(c.buf)
			c.buf = binary.BigEndian.AppendUint64(c.buf, uint64(v.Int))
			*v = Value{Type: TBin, B: c.grab(start)}
			return true
		case TIPv4, TIPv6, TAddr:
			u := uint32(v.Int)
			a := netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
			*v = Value{Type: TIPv4, Addr: a}
			if t == TIPv6 {
				*v = Value{Type: TIPv6, Addr: netip.AddrFrom16(a.As16())}
			}
			return true
		}
	case TIPv4, TIPv6:
		switch t {
		case TInt:
			if !v.Addr.Unmap().Is4() {
				return false
			}
			b := v.Addr.Unmap().As4()
			*v = Int(int64(binary.BigEndian.Uint32(b[:])))
			return true
		case TIPv4:
			a := v.Addr.Unmap()
			if !a.Is4() {
				return false
			}
			*v = Value{Type: TIPv4, Addr: a}
			return true
		case TIPv6:
			*v = Value{Type: TIPv6, Addr: netip.AddrFrom16(v.Addr.As16())}
			return true
		case TStr:
			start := len(c.buf)
			c.buf = v.Addr.AppendTo(c.buf)
			*v = Str(c.grab(start))
			return true
		case TBin:
			start := len(c.buf)
			if from == TIPv4 {
				b := v.Addr.As4()
				c.buf = append(c.buf, b[:]...)
			} else {
				b := v.Addr.As16()
				c.buf = append(c.buf, b[:]...)
			}
			*v = Value{Type: TBin, B: c.grab(start)}
			return true
		}
	case TStr, TBin, TMeth:
		switch t {
		case TStr, TBin, TMeth:
			v.Type = t
			return true
		}
		if from != TStr {
			return false
		}
		switch t {
		case TInt, TBool:
			n, ok := parseLeadingInt(v.B)
			if !ok {
				return false
			}
			if t == TBool {
				*v = Bool(n != 0)
			} else {
				*v = Int(n)
			}
			return true
		case TIPv4, TIPv6, TAddr:
			a, err := netip.ParseAddr(bstr(v.B))
			if err != nil || a.Zone() != "" {
				return false
			}
			switch {
			case t == TIPv4 && !a.Unmap().Is4():
				return false
			case t == TIPv6:
				*v = Value{Type: TIPv6, Addr: netip.AddrFrom16(a.As16())}
			default:
				*v = Addr(a)
			}
			return true
		}
	}
	return false
}

func (c *Ctx) intToStr(v *Value, t Type) bool {
	start := len(c.buf)
	c.buf = strconv.AppendInt(c.buf, v.Int, 10)
	*v = Value{Type: t, B: c.grab(start)}
	return true
}

// parseLeadingInt reads an optional sign and the digits that follow, as HAProxy's
// string to integer cast does (trailing bytes are ignored); it saturates at the int64
// bounds.
func parseLeadingInt(b []byte) (int64, bool) {
	i, neg := 0, false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	start := i
	var n int64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		d := int64(b[i] - '0')
		if n > (1<<63-1-d)/10 {
			n = 1<<63 - 1
			if neg {
				return -1 << 63, true
			}
			return n, true
		}
		n = n*10 + d
		i++
	}
	if i == start {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}
