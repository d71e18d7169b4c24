package logformat

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"hitless/internal/sample"
)

// Append writes e with the format, as HAProxy 2.6's sess_build_logline does: a
// separator writes one space unless the last thing written was a space, a variable
// that has nothing to show (%hr without captures) writes nothing, strings are quoted
// with Q (an empty or unknown one is "-", or "" when quoted), numbers never are.
func (f *Format) Append(b []byte, e *Entry) []byte {
	lastSpace := true // HAProxy starts with last_isspace set: no leading space
	for i := range f.nodes {
		n := &f.nodes[i]
		switch n.kind {
		case kText:
			b = append(b, n.text...)
			lastSpace = false
		case kSep:
			if !lastSpace {
				b = append(b, ' ')
				lastSpace = true
			}
		case kVar:
			before := len(b)
			b = appendVar(b, n, e)
			if len(b) != before {
				lastSpace = false
			}
		case kExpr:
			before := len(b)
			b = f.appendExpr(b, n, e)
			if len(b) != before {
				lastSpace = false
			}
		}
	}
	return b
}

func appendVar(b []byte, n *node, e *Entry) []byte {
	o := n.opts
	switch n.v {
	case vB:
		return appendPartial(b, e.Partial, e.Bytes)
	case vCC, vCS:
		return appendText(b, "", o)
	case vsslc:
		return appendText(b, e.SSLCipher, o)
	case vsslv:
		return appendText(b, e.SSLVersion, o)
	case vH:
		return appendText(b, e.Host, o)
	case vHM, vHP, vHPO, vHQ, vHU, vHV:
		return appendRequestText(b, requestPart(e.RequestLine, n.v), o)
	case vID:
		return appendBytesText(b, e.UniqueID, o)
	case vST:
		return strconv.AppendInt(b, int64(e.Status), 10)
	case vT:
		return appendGMT(b, e.Accept)
	case vTl:
		return appendLocal(b, e.Accept)
	case vTa:
		return appendMS(b, e.Ta)
	case vTc:
		return appendMS(b, e.Tc)
	case vTd:
		return appendMS(b, td(e))
	case vTh:
		return append(b, '0') // no TLS or PROXY handshake yet
	case vTi:
		return appendMS(b, ti(e))
	case vTq:
		return appendMS(b, tq(e))
	case vTR:
		return appendMS(b, e.TR)
	case vTr:
		return appendMS(b, e.Tr)
	case vTs:
		if o&optX != 0 {
			return appendHex(b, uint64(e.Accept.Unix()), 8)
		}
		return strconv.AppendInt(b, e.Accept.Unix(), 10)
	case vTt:
		if e.Partial {
			b = append(b, '+')
		}
		return appendMS(b, e.Tt)
	case vTu:
		if e.Tt < 0 {
			return append(b, "-1"...)
		}
		return appendMS(b, e.Tt-max(ti(e), 0))
	case vTw:
		return appendMS(b, e.Tw)
	case vU:
		return strconv.AppendInt(b, e.BytesIn, 10)
	case vac:
		return strconv.AppendInt(b, int64(e.ActConn), 10)
	case vb:
		if e.Backend == "" {
			return appendText(b, e.Frontend, o)
		}
		return appendText(b, e.Backend, o)
	case vbc:
		return strconv.AppendInt(b, int64(e.BeConn), 10)
	case vbi:
		return appendIP(b, e.BackendSrc.Addr(), o)
	case vbp:
		return appendPort(b, e.BackendSrc, o)
	case vbq:
		return strconv.AppendInt(b, int64(e.BeQueue), 10)
	case vci:
		return appendIP(b, e.ClientIP, o)
	case vcp:
		if o&optX != 0 {
			return appendHex(b, uint64(e.ClientPort), 4)
		}
		return strconv.AppendInt(b, int64(e.ClientPort), 10)
	case vf:
		return appendText(b, e.Frontend, o)
	case vft:
		if e.SSLVersion != "" {
			return appendTLSFrontend(b, e.Frontend, o)
		}
		return appendText(b, e.Frontend, o)
	case vfc:
		return strconv.AppendInt(b, int64(e.FeConn), 10)
	case vfi:
		return appendIP(b, e.FrontendAddr.Addr(), o)
	case vfp:
		return appendPort(b, e.FrontendAddr, o)
	case vhr, vhrl, vhs, vhsl:
		return b // hitless has no `capture` yet: nothing, as HAProxy without captures
	case vms:
		ms := e.Accept.Nanosecond() / 1e6
		return append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	case vpid:
		if o&optX != 0 {
			return appendHex(b, uint64(e.PID), 4)
		}
		return strconv.AppendInt(b, int64(e.PID), 10)
	case vr:
		if o&optQ != 0 {
			b = append(b, '"')
		}
		b = appendEscaped(b, e.RequestLine)
		if o&optQ != 0 {
			b = append(b, '"')
		}
		return b
	case vrc:
		if e.Redispatched {
			b = append(b, '+')
		}
		return strconv.AppendInt(b, int64(e.Retries), 10)
	case vrt:
		if o&optX != 0 {
			return appendHex(b, e.ReqCounter, 4)
		}
		return strconv.AppendUint(b, e.ReqCounter, 10)
	case vs:
		if e.Server == "" {
			return appendText(b, "<NOSRV>", o)
		}
		return appendText(b, e.Server, o)
	case vsc:
		return strconv.AppendInt(b, int64(e.SrvConn), 10)
	case vsi:
		return appendIP(b, e.ServerAddr.Addr(), o)
	case vsp:
		return appendPort(b, e.ServerAddr, o)
	case vsq:
		return strconv.AppendInt(b, int64(e.SrvQueue), 10)
	case vt:
		return appendDate(b, e.Accept)
	case vtr:
		return appendDate(b, requestTime(e))
	case vtrg:
		return appendGMT(b, requestTime(e))
	case vtrl:
		return appendLocal(b, requestTime(e))
	case vts:
		return appendTerm(b, e.Term)
	case vtsc:
		return append(appendTerm(b, e.Term), "--"...)
	}
	return b
}

// appendExpr writes a sample expression's value: numbers and addresses as they are
// (X writes them in hexadecimal), strings as text (Q quotes them), "-" when absent.
func (f *Format) appendExpr(b []byte, n *node, e *Entry) []byte {
	if e.Smp == nil {
		return appendText(b, "", n.opts)
	}
	mark := e.Smp.Mark()
	defer e.Smp.Release(mark)
	v, ok := n.expr.Eval(e.Smp)
	if !ok {
		if f.bare {
			return b
		}
		return appendText(b, "", n.opts)
	}
	switch v.Type {
	case sample.TIPv4, sample.TIPv6, sample.TAddr:
		return appendIP(b, v.Addr, n.opts)
	case sample.TInt, sample.TBool:
		if n.opts&optX != 0 {
			return appendHex(b, uint64(v.Int), 8)
		}
		return strconv.AppendInt(b, v.Int, 10)
	}
	return appendBytesText(b, v.B, n.opts)
}

func requestTime(e *Entry) time.Time {
	if e.Request.IsZero() {
		return e.Accept
	}
	return e.Request
}

// ti is the idle time before the request (-1 when there is no request).
func ti(e *Entry) time.Duration {
	if e.Request.IsZero() {
		return -1
	}
	return max(e.Request.Sub(e.Accept), 0)
}

// tq is Th + Ti + TR.
func tq(e *Entry) time.Duration {
	i := ti(e)
	if i < 0 || e.TR < 0 {
		return -1
	}
	return i + e.TR
}

// td is Tt - (Tq + Tw + Tc + Tr), -1 when a part is missing.
func td(e *Entry) time.Duration {
	q := tq(e)
	if e.Tt < 0 || q < 0 || e.Tw < 0 || e.Tc < 0 || e.Tr < 0 {
		return -1
	}
	return max(e.Tt/time.Millisecond-q/time.Millisecond-e.Tw/time.Millisecond-e.Tc/time.Millisecond-e.Tr/time.Millisecond, 0) * time.Millisecond
}

func appendPartial(b []byte, partial bool, n int64) []byte {
	if partial {
		b = append(b, '+')
	}
	return strconv.AppendInt(b, n, 10)
}

// requestPart cuts a part out of "METHOD URI VERSION" as %HM, %HU, %HP, %HPO, %HQ and
// %HV show it.
func requestPart(line string, v varID) string {
	sp1 := strings.IndexByte(line, ' ')
	if sp1 < 0 {
		if v == vHM {
			return line
		}
		return ""
	}
	method, rest := line[:sp1], line[sp1+1:]
	uri, version := rest, ""
	if sp2 := strings.LastIndexByte(rest, ' '); sp2 >= 0 {
		uri, version = rest[:sp2], rest[sp2+1:]
	}
	switch v {
	case vHM:
		return method
	case vHU:
		return uri
	case vHV:
		return version
	}
	q := strings.IndexByte(uri, '?')
	switch v {
	case vHQ:
		if q < 0 {
			return ""
		}
		return uri[q:]
	}
	path := uri
	if q >= 0 {
		path = uri[:q]
	}
	if v == vHPO && len(path) > 0 && path[0] != '/' {
		// Absolute form: drop "scheme://authority".
		if i := strings.Index(path, "://"); i >= 0 {
			path = path[i+3:]
			if j := strings.IndexByte(path, '/'); j >= 0 {
				path = path[j:]
			} else {
				path = ""
			}
		}
	}
	return path
}

// appendText writes a string variable: "-" when empty ("" when quoted), quoted with
// Q, '"', '\' and ']' escaped with E.
func appendText(b []byte, s string, o opts) []byte {
	if o&optQ != 0 {
		b = append(b, '"')
	}
	if s == "" {
		if o&optQ == 0 {
			b = append(b, '-')
		}
	} else if o&optE != 0 {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == '"' || c == '\\' || c == ']' {
				b = append(b, '\\')
			}
			b = append(b, s[i])
		}
	} else {
		b = append(b, s...)
	}
	if o&optQ != 0 {
		b = append(b, '"')
	}
	return b
}

// appendRequestText writes a part of the request line escaped as %r is ('"', '#',
// control and non-ASCII bytes as #XX), as HAProxy does for %HM, %HU, %HQ...
func appendRequestText(b []byte, s string, o opts) []byte {
	if s == "" {
		return appendText(b, "", o)
	}
	if o&optQ != 0 {
		b = append(b, '"')
	}
	b = appendEscaped(b, s)
	if o&optQ != 0 {
		b = append(b, '"')
	}
	return b
}

func appendBytesText(b []byte, s []byte, o opts) []byte {
	if len(s) == 0 {
		return appendText(b, "", o)
	}
	return appendText(b, bstr(s), o)
}

func appendIP(b []byte, ip netip.Addr, o opts) []byte {
	if !ip.IsValid() {
		return appendText(b, "", o)
	}
	ip = ip.Unmap()
	if o&optX != 0 {
		for _, c := range ip.AsSlice() {
			b = append(b, hexDigits[c>>4], hexDigits[c&15])
		}
		return b
	}
	if o&optQ != 0 {
		b = append(b, '"')
	}
	b = ip.AppendTo(b)
	if o&optQ != 0 {
		b = append(b, '"')
	}
	return b
}

func appendPort(b []byte, ap netip.AddrPort, o opts) []byte {
	if !ap.Addr().IsValid() {
		return appendText(b, "", o&^optQ)
	}
	if o&optX != 0 {
		return appendHex(b, uint64(ap.Port()), 4)
	}
	return strconv.AppendInt(b, int64(ap.Port()), 10)
}

// appendHex writes n in upper-case hexadecimal, left-padded with zeros to width.
func appendHex(b []byte, n uint64, width int) []byte {
	var tmp [16]byte
	i := len(tmp)
	for n > 0 || i == len(tmp) {
		i--
		tmp[i] = hexDigits[n&15]
		n >>= 4
	}
	for len(tmp)-i < width {
		i--
		tmp[i] = '0'
	}
	return append(b, tmp[i:]...)
}

// appendGMT writes HAProxy's gmt date: 10/Oct/2000:13:55:36 +0000.
func appendGMT(b []byte, t time.Time) []byte {
	return appendZoned(b, t.UTC())
}

// appendLocal writes the local date with its offset: 10/Oct/2000:15:55:36 +0200.
func appendLocal(b []byte, t time.Time) []byte {
	return appendZoned(b, t.Local())
}

func appendZoned(b []byte, t time.Time) []byte {
	b = appendDaySecond(b, t)
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b = append(b, ' ', sign)
	b = append2(b, off/3600)
	return append2(b, off/60%60)
}

// bstr views b as a string without copying, for the duration of one Append.
func bstr(b []byte) string { return unsafe.String(&b[0], len(b)) }

// appendTLSFrontend is %ft on a TLS connection: the frontend's name and '~'.
func appendTLSFrontend(b []byte, name string, o opts) []byte {
	b = appendText(b, name, o)
	if o&optQ != 0 {
		return append(b[:len(b)-1], '~', '"')
	}
	return append(b, '~')
}
