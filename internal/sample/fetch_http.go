package sample

import (
	"bytes"
	"net/netip"
	"unsafe"

	"hitless/internal/http1"
)

// HTTP fetches: the request line, headers, cookies, query parameters, and the
// response's status and headers.

func init() {
	addFetches(
		&Fetch{Name: "method", Out: TMeth, Use: SrcHReq, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			r := c.In.Request()
			if r == nil {
				return false
			}
			*v = Value{Type: TMeth, B: r.Method}
			return true
		}},
		&Fetch{Name: "path", Out: TStr, Use: SrcHReqHdr, Fn: reqPart(func(t []byte) ([]byte, bool) { p, _, ok := SplitTarget(t); return p, ok })},
		&Fetch{Name: "pathq", Out: TStr, Use: SrcHReqHdr, Fn: reqPart(func(t []byte) ([]byte, bool) { return PathQuery(t) })},
		&Fetch{Name: "query", Out: TStr, Use: SrcHReqHdr, Fn: reqPart(func(t []byte) ([]byte, bool) {
			i := bytes.IndexByte(t, '?')
			if i < 0 {
				return nil, false
			}
			return t[i+1:], true
		})},
		&Fetch{Name: "url", Out: TStr, Use: SrcHReqHdr, Fn: reqPart(func(t []byte) ([]byte, bool) { return t, true })},
		&Fetch{Name: "url_ip", Out: TAddr, Use: SrcHReqHdr, ACL: "ip", Fn: fetchURLIP},
		&Fetch{Name: "url_port", Out: TInt, Use: SrcHReqHdr, Fn: fetchURLPort},
		&Fetch{Name: "base", Out: TStr, Use: SrcHReqHdr, Fn: fetchBase},
		&Fetch{Name: "url_param", Args: "|ss", Out: TStr, Use: SrcHReqHdr, Multi: true, Fn: fetchURLParam},
		&Fetch{Name: "req.ver", Out: TStr, Use: SrcHReqHdr, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			r := c.In.Request()
			if r == nil {
				return false
			}
			*v = Str(versions[r.Minor&1])
			return true
		}},
		&Fetch{Name: "res.ver", Out: TStr, Use: SrcHResHdr, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			r := c.In.Response()
			if r == nil {
				return false
			}
			*v = Str(versions[r.Minor&1])
			return true
		}},
		&Fetch{Name: "status", Out: TInt, Use: SrcHRes, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			r := c.In.Response()
			if r == nil {
				return false
			}
			*v = Int(int64(r.Status))
			return true
		}},
		&Fetch{Name: "req.hdr", Args: "|si", Out: TStr, Use: SrcHReqHdr, Multi: true, Fn: hdrFetch(reqHeaders, false)},
		&Fetch{Name: "req.fhdr", Args: "|si", Out: TStr, Use: SrcHReqHdr, Multi: true, Fn: hdrFetch(reqHeaders, true)},
		&Fetch{Name: "req.hdr_cnt", Args: "|s", Out: TInt, Use: SrcHReqHdr, Fn: hdrCntFetch(reqHeaders, false)},
		&Fetch{Name: "req.fhdr_cnt", Args: "|s", Out: TInt, Use: SrcHReqHdr, Fn: hdrCntFetch(reqHeaders, true)},
		&Fetch{Name: "req.hdr_val", Args: "s|i", Out: TInt, Use: SrcHReqHdr, Multi: true, Fn: castFetch(hdrFetch(reqHeaders, false), TInt)},
		&Fetch{Name: "req.hdr_ip", Args: "s|i", Out: TAddr, Use: SrcHReqHdr, Multi: true, ACL: "ip", Fn: castFetch(hdrFetch(reqHeaders, false), TAddr)},
		&Fetch{Name: "req.cook", Args: "|s", Out: TStr, Use: SrcHReqHdr, Multi: true, Fn: cookFetch(false)},
		&Fetch{Name: "req.cook_cnt", Args: "|s", Out: TInt, Use: SrcHReqHdr, Fn: cookCntFetch(false)},
		&Fetch{Name: "req.cook_val", Args: "|s", Out: TInt, Use: SrcHReqHdr, Multi: true, Fn: castFetch(cookFetch(false), TInt)},
		&Fetch{Name: "res.hdr", Args: "|si", Out: TStr, Use: SrcHResHdr, Multi: true, Fn: hdrFetch(resHeaders, false)},
		&Fetch{Name: "res.fhdr", Args: "|si", Out: TStr, Use: SrcHResHdr, Multi: true, Fn: hdrFetch(resHeaders, true)},
		&Fetch{Name: "res.hdr_cnt", Args: "|s", Out: TInt, Use: SrcHResHdr, Fn: hdrCntFetch(resHeaders, false)},
		&Fetch{Name: "res.fhdr_cnt", Args: "|s", Out: TInt, Use: SrcHResHdr, Fn: hdrCntFetch(resHeaders, true)},
		&Fetch{Name: "res.hdr_val", Args: "s|i", Out: TInt, Use: SrcHResHdr, Multi: true, Fn: castFetch(hdrFetch(resHeaders, false), TInt)},
		&Fetch{Name: "res.hdr_ip", Args: "s|i", Out: TAddr, Use: SrcHResHdr, Multi: true, ACL: "ip", Fn: castFetch(hdrFetch(resHeaders, false), TAddr)},
		&Fetch{Name: "res.cook", Args: "|s", Out: TStr, Use: SrcHResHdr, Multi: true, Fn: cookFetch(true)},
		&Fetch{Name: "res.cook_cnt", Args: "|s", Out: TInt, Use: SrcHResHdr, Fn: cookCntFetch(true)},
		&Fetch{Name: "res.cook_val", Args: "|s", Out: TInt, Use: SrcHResHdr, Multi: true, Fn: castFetch(cookFetch(true), TInt)},
		&Fetch{Name: "req.hdrs", Out: TStr, Use: SrcHReqHdr, Fn: fetchHdrs},
	)
	// Aliases HAProxy keeps: the same rows under older names.
	alias := func(old, cur string) {
		f := *fetches[cur]
		f.Name = old
		fetches[old] = &f
	}
	alias("hdr", "req.hdr")
	alias("fhdr", "req.fhdr")
	alias("hdr_cnt", "req.hdr_cnt")
	alias("fhdr_cnt", "req.fhdr_cnt")
	alias("hdr_val", "req.hdr_val")
	alias("hdr_ip", "req.hdr_ip")
	alias("cook", "req.cook")
	alias("cook_cnt", "req.cook_cnt")
	alias("cook_val", "req.cook_val")
	alias("req_ver", "req.ver")
	alias("resp_ver", "res.ver")
	alias("shdr", "res.hdr")
	alias("shdr_cnt", "res.hdr_cnt")
	alias("shdr_val", "res.hdr_val")
	alias("shdr_ip", "res.hdr_ip")
	alias("scook", "res.cook")
	alias("scook_cnt", "res.cook_cnt")
	alias("scook_val", "res.cook_val")
	alias("urlp", "url_param")
}

var versions = [2][]byte{[]byte("1.0"), []byte("1.1")}

// sbytes views a string as bytes; the bytes must never be written.
func sbytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

func reqPart(f func(target []byte) ([]byte, bool)) func(c *Ctx, a []Arg, v *Value) bool {
	return func(c *Ctx, a []Arg, v *Value) bool {
		r := c.In.Request()
		if r == nil {
			return false
		}
		b, ok := f(r.Target)
		if !ok {
			return false
		}
		*v = Str(b)
		return true
	}
}

// SplitTarget splits a request target into its path and query; an absolute-form
// target ("http://host/p?q") loses its scheme and authority. ok is false when the
// target has no path ("*").
func SplitTarget(t []byte) (path, query []byte, ok bool) {
	p, ok := PathQuery(t)
	if !ok {
		return nil, nil, false
	}
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		return p[:i], p[i+1:], true
	}
	return p, nil, true
}

// PathQuery returns the path and query of a target, without the scheme and
// authority of an absolute-form target.
func PathQuery(t []byte) ([]byte, bool) {
	if len(t) > 0 && t[0] == '/' {
		return t, true
	}
	i := bytes.Index(t, []byte("://"))
	if i <= 0 {
		return nil, false
	}
	rest := t[i+3:]
	j := bytes.IndexAny(rest, "/?")
	if j < 0 {
		return rest[len(rest):], true
	}
	return rest[j:], true
}

// authority returns the host[:port] of an absolute-form target.
func authority(t []byte) []byte {
	i := bytes.Index(t, []byte("://"))
	if i <= 0 {
		return nil
	}
	rest := t[i+3:]
	if j := bytes.IndexAny(rest, "/?"); j >= 0 {
		rest = rest[:j]
	}
	if k := bytes.LastIndexByte(rest, '@'); k >= 0 {
		rest = rest[k+1:]
	}
	return rest
}

func splitHostPort(h []byte) (host, port []byte) {
	if len(h) > 0 && h[0] == '[' {
		if i := bytes.IndexByte(h, ']'); i > 0 {
			host, rest := h[1:i], h[i+1:]
			if len(rest) > 1 && rest[0] == ':' {
				return host, rest[1:]
			}
			return host, nil
		}
	}
	if i := bytes.LastIndexByte(h, ':'); i >= 0 && bytes.IndexByte(h[:i], ':') < 0 {
		return h[:i], h[i+1:]
	}
	return h, nil
}

func fetchURLIP(c *Ctx, a []Arg, v *Value) bool {
	r := c.In.Request()
	if r == nil {
		return false
	}
	host, _ := splitHostPort(authority(r.Target))
	ad, err := netip.ParseAddr(bstr(host))
	if err != nil {
		return false
	}
	*v = Addr(ad)
	return true
}

func fetchURLPort(c *Ctx, a []Arg, v *Value) bool {
	r := c.In.Request()
	if r == nil {
		return false
	}
	_, port := splitHostPort(authority(r.Target))
	if port == nil {
		*v = Int(80)
		return true
	}
	n, ok := parseLeadingInt(port)
	if !ok {
		return false
	}
	*v = Int(n)
	return true
}

// fetchBase is the Host header followed by the path.
func fetchBase(c *Ctx, a []Arg, v *Value) bool {
	r := c.In.Request()
	if r == nil {
		return false
	}
	host, ok := hdrNth(r.Headers, "host", true, -1)
	if !ok || len(host) == 0 {
		return false
	}
	path, _, _ := SplitTarget(r.Target)
	start := len(c.buf)
	c.buf = append(c.buf, host...)
	c.buf = append(c.buf, path...)
	*v = Str(c.grab(start))
	return true
}

// fetchURLParam finds `name=value` in the query string (delimiter '&' or the
// second argument); without a name every parameter matches.
func fetchURLParam(c *Ctx, a []Arg, v *Value) bool {
	r := c.In.Request()
	if r == nil {
		return false
	}
	_, q, _ := SplitTarget(r.Target)
	if q == nil {
		return false
	}
	delim := byte('&')
	if a[1].Set && a[1].S != "" {
		delim = a[1].S[0]
	}
	want, iter := c.Iterating()
	n := 0
	var found []byte
	ok := false
	for len(q) > 0 {
		var kv []byte
		if i := bytes.IndexByte(q, delim); i >= 0 {
			kv, q = q[:i], q[i+1:]
		} else {
			kv, q = q, nil
		}
		k, val := kv, []byte(nil)
		if i := bytes.IndexByte(kv, '='); i >= 0 {
			k, val = kv[:i], kv[i+1:]
		}
		if a[0].S != "" && string(k) != a[0].S {
			continue
		}
		if !iter {
			*v = Str(val)
			return true
		}
		if ok {
			c.More()
			break
		}
		if n == want {
			found, ok = val, true
		}
		n++
	}
	if ok {
		*v = Str(found)
	}
	return ok
}

type headersOf func(c *Ctx) []http1.Header

func reqHeaders(c *Ctx) []http1.Header {
	if r := c.In.Request(); r != nil {
		return r.Headers
	}
	return nil
}

func resHeaders(c *Ctx) []http1.Header {
	if r := c.In.Response(); r != nil {
		return r.Headers
	}
	return nil
}

// eqFold compares a header name with a name ignoring ASCII case.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// nextValue splits off the first comma-separated value of a header.
func nextValue(b []byte) (val, rest []byte, more bool) {
	if i := bytes.IndexByte(b, ','); i >= 0 {
		return trimOWS(b[:i]), b[i+1:], true
	}
	return trimOWS(b), nil, false
}

// hdrCount counts the values of a header (full: whole lines, else comma-separated
// values); an empty name counts every header.
func hdrCount(hs []http1.Header, name string, full bool) int {
	n := 0
	for i := range hs {
		if name != "" && !eqFold(hs[i].Name, name) {
			continue
		}
		if full {
			n++
			continue
		}
		for rest, more := hs[i].Value, true; more; {
			_, rest, more = nextValue(rest)
			n++
		}
	}
	return n
}

// hdrNth returns the occ-th value of a header: 1 is the first, -1 the last, 0 means
// the last too (HAProxy's default in sample use).
func hdrNth(hs []http1.Header, name string, full bool, occ int) ([]byte, bool) {
	if occ <= 0 {
		cnt := hdrCount(hs, name, full)
		occ = cnt + occ + 1
		if occ == cnt+1 {
			occ = cnt
		}
		if occ <= 0 {
			return nil, false
		}
	}
	n := 0
	for i := range hs {
		if name != "" && !eqFold(hs[i].Name, name) {
			continue
		}
		if full {
			if n++; n == occ {
				return trimOWS(hs[i].Value), true
			}
			continue
		}
		for rest, more := hs[i].Value, true; more; {
			var val []byte
			val, rest, more = nextValue(rest)
			if n++; n == occ {
				return val, true
			}
		}
	}
	return nil, false
}

func hdrFetch(of headersOf, full bool) func(c *Ctx, a []Arg, v *Value) bool {
	return func(c *Ctx, a []Arg, v *Value) bool {
		hs := of(c)
		if hs == nil {
			return false
		}
		occ := int(a[1].I)
		if n, iter := c.Iterating(); iter && !a[1].Set {
			val, ok := hdrNth(hs, a[0].S, full, n+1)
			if ok && hdrCount(hs, a[0].S, full) > n+1 {
				c.More()
			}
			*v = Str(val)
			return ok
		}
		val, ok := hdrNth(hs, a[0].S, full, occ)
		*v = Str(val)
		return ok
	}
}

func hdrCntFetch(of headersOf, full bool) func(c *Ctx, a []Arg, v *Value) bool {
	return func(c *Ctx, a []Arg, v *Value) bool {
		hs := of(c)
		if hs == nil && c.In.Request() == nil {
			return false
		}
		*v = Int(int64(hdrCount(hs, a[0].S, full)))
		return true
	}
}

func castFetch(f func(c *Ctx, a []Arg, v *Value) bool, t Type) func(c *Ctx, a []Arg, v *Value) bool {
	return func(c *Ctx, a []Arg, v *Value) bool {
		return f(c, a, v) && c.Cast(v, t)
	}
}

// cookies walks the cookies of the request's Cookie headers (or the response's
// Set-Cookie headers, one cookie each) named name ("" = any) and returns the n-th (0
// based; -1 = the last) and how many there are.
func cookies(hs []http1.Header, res bool, name string, n int) (val []byte, ok bool, count int) {
	hname := "cookie"
	if res {
		hname = "set-cookie"
	}
	for i := range hs {
		if !eqFold(hs[i].Name, hname) {
			continue
		}
		rest := hs[i].Value
		for len(rest) > 0 {
			var c []byte
			if j := bytes.IndexByte(rest, ';'); j >= 0 && !res {
				c, rest = rest[:j], rest[j+1:]
			} else if res {
				c = rest
				if j >= 0 {
					c = rest[:j]
				}
				rest = nil
			} else {
				c, rest = rest, nil
			}
			c = trimOWS(c)
			k, v := c, []byte(nil)
			if j := bytes.IndexByte(c, '='); j >= 0 {
				k, v = trimOWS(c[:j]), trimOWS(c[j+1:])
			} else {
				continue
			}
			if name != "" && string(k) != name {
				continue
			}
			if n < 0 || count == n {
				val, ok = v, true
			}
			count++
		}
	}
	return val, ok, count
}

func cookFetch(res bool) func(c *Ctx, a []Arg, v *Value) bool {
	return func(c *Ctx, a []Arg, v *Value) bool {
		hs := reqHeaders(c)
		if res {
			hs = resHeaders(c)
		}
		if hs == nil {
			return false
		}
		n, iter := c.Iterating()
		if !iter {
			if a[0].S == "" {
				n = 0 // the first cookie when no name is given
			} else {
				n = -1
			}
		}
		val, ok, count := cookies(hs, res, a[0].S, n)
		if iter && count > n+1 {
			c.More()
		}
		*v = Str(val)
		return ok
	}
}

func cookCntFetch(res bool) func(c *Ctx, a []Arg, v *Value) bool {
	return func(c *Ctx, a []Arg, v *Value) bool {
		hs := reqHeaders(c)
		if res {
			hs = resHeaders(c)
		}
		_, _, count := cookies(hs, res, a[0].S, -2)
		*v = Int(int64(count))
		return true
	}
}

// fetchHdrs is the request's header block as received.
func fetchHdrs(c *Ctx, a []Arg, v *Value) bool {
	r := c.In.Request()
	if r == nil {
		return false
	}
	start := len(c.buf)
	for i := range r.Headers {
		c.buf = append(c.buf, r.Headers[i].Name...)
		c.buf = append(c.buf, ": "...)
		c.buf = append(c.buf, r.Headers[i].Value...)
		c.buf = append(c.buf, "\r\n"...)
	}
	c.buf = append(c.buf, "\r\n"...)
	*v = Str(c.grab(start))
	return true
}

func init() {
	addFetches(&Fetch{Name: "req.proto_http", Out: TBool, Use: SrcReqBuf, Fn: func(c *Ctx, a []Arg, v *Value) bool {
		*v = Bool(c.In.Request() != nil)
		return true
	}})
	f := *fetches["url_param"]
	f.Name, f.Out, f.Fn = "urlp_val", TInt, castFetch(fetchURLParam, TInt)
	fetches["urlp_val"] = &f
}
