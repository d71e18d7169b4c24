package acl

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
)

// match is how a fetched value is compared with the ACL's patterns.
type match int

const (
	mStr   match = iota // exact string
	mBeg                // prefix
	mEnd                // suffix
	mSub                // substring
	mReg                // regular expression
	mFound              // the sample exists
	mLen                // the sample's length is in one of the integer ranges
	mIP                 // address in one of the networks
	mInt                // integer in one of the ranges
)

// matchNames are the `-m` methods, with the kind of sample each one needs.
var matchNames = map[string]match{
	"str": mStr, "beg": mBeg, "end": mEnd, "sub": mSub, "reg": mReg, "found": mFound, "len": mLen,
	"ip": mIP, "int": mInt,
}

// source is what a fetch reads from the Sample.
type source int

const (
	srcPath source = iota
	srcMethod
	srcHeader
	srcSrc
	srcDstPort
	srcTLS // the TLS fetches of ssl.go
)

// fetch is one row of the fetch table.
type fetch struct {
	src   source
	match match // default matcher
	arg   bool  // takes a (NAME) argument
	http  bool  // needs mode http
}

// isString reports whether the fetch returns a string (so string matchers apply).
func (f fetch) isString() bool { return f.match != mIP && f.match != mInt }

// fetches is the table of supported sample fetches with their default matcher.
var fetches = map[string]fetch{
	"path":     {srcPath, mStr, false, true},
	"path_beg": {srcPath, mBeg, false, true},
	"path_end": {srcPath, mEnd, false, true},
	"path_sub": {srcPath, mSub, false, true},
	"path_reg": {srcPath, mReg, false, true},
	"hdr":      {srcHeader, mStr, true, true},
	"req.hdr":  {srcHeader, mStr, true, true},
	"hdr_beg":  {srcHeader, mBeg, true, true},
	"hdr_end":  {srcHeader, mEnd, true, true},
	"hdr_sub":  {srcHeader, mSub, true, true},
	"hdr_reg":  {srcHeader, mReg, true, true},
	"method":   {srcMethod, mStr, false, true},
	"src":      {srcSrc, mIP, false, false},
	"dst_port": {srcDstPort, mInt, false, false},
}

// unsupported lists HAProxy fetches hitless does not have yet, so that they get a clear
// "not supported yet" rather than "unknown".
var unsupported = map[string]bool{
	"req.ssl_sni": true, "ssl_fc_sni": true, "ssl_fc": true, "req_ssl_sni": true, "url": true, "url_beg": true,
	"url_end": true, "url_sub": true, "url_reg": true, "url_param": true, "urlp": true, "hdr_cnt": true,
	"hdr_dom": true, "hdr_dir": true, "hdr_len": true, "hdr_ip": true, "hdr_val": true, "path_dir": true, "path_dom": true,
	"path_len": true, "base": true, "base_beg": true, "base_sub": true, "query": true, "cook": true, "req.cook": true,
	"dst": true, "src_port": true, "always_true": true, "always_false": true, "nbsrv": true, "be_id": true,
	"fe_id": true, "req.len": true, "req.payload": true, "req_len": true, "req.proto_http": true, "http_auth": true,
	"status": true, "res.hdr": true, "var": true, "req.body": true, "sc_http_req_rate": true, "src_conn_cur": true,
	"hdr_reg_cnt": true, "req.fhdr": true, "fhdr": true, "capture.req.hdr": true, "ssl_c_used": true, "ssl_fc_alpn": true,
	"req.ssl_ver": true, "req_ssl_ver": true, "req.ssl_hello_type": true, "req.rdp_cookie": true, "wait_end": true,
	"http_first_req": true, "req.ver": true, "req_ver": true, "path,lower": true, "query_param": true, "int": true,
	"str": true, "bool": true, "env": true, "date": true, "rand": true, "stopping": true,
}

// Def is one `acl NAME FETCH [flags] VALUE...` line, or an anonymous `{ ... }` ACL. A
// Def is immutable once parsed and safe for concurrent Eval.
type Def struct {
	Name   string
	fetch  fetch
	header string // for hdr*(NAME), lower-cased
	match  match
	fold   bool     // -i: strs are lower-cased, matching ignores ASCII/Unicode case
	strs   []string // mStr, mBeg, mEnd, mSub
	res    []*regexp.Regexp
	nets   []netip.Prefix
	ints   []intRange // mInt, mLen
	tls    tlsField   // what a TLS fetch reads (ssl.go)
	// matchFn is matchStr bound once, so that header matching does not allocate.
	matchFn func(string) bool
}

type intRange struct{ lo, hi int64 }

func (r intRange) contains(n int64) bool { return n >= r.lo && n <= r.hi }

// NeedsHTTP reports whether the ACL reads something only mode http provides.
func (d *Def) NeedsHTTP() bool { return d.fetch.http }

// ParseDef parses the words after `acl`: NAME FETCH [flags] VALUE...
func ParseDef(args []string) (*Def, error) {
	if len(args) < 2 {
		return nil, errors.New("'acl' requires a name and a fetch method")
	}
	for _, c := range args[0] {
		if !validNameChar(c) {
			return nil, fmt.Errorf("character '%c' is not permitted in acl name '%s'", c, args[0])
		}
	}
	d, err := parseExpr(args[1:])
	if err != nil {
		return nil, err
	}
	d.Name = args[0]
	return d, nil
}

// validNameChar is HAProxy's rule for ACL names.
func validNameChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == ':'
}

// parseExpr parses FETCH [flags] VALUE... (an ACL expression without its name). As in
// HAProxy, an expression without values is valid and never matches.
func parseExpr(args []string) (*Def, error) {
	if len(args) == 0 || args[0] == "" {
		return nil, errors.New("missing fetch method in ACL expression ''")
	}
	expr := args[0]
	name, arg := expr, ""
	hasArg := false
	if i := strings.IndexByte(expr, '('); i >= 0 {
		if !strings.HasSuffix(expr, ")") {
			return nil, fmt.Errorf("missing closing ')' after arguments to fetch '%s' in ACL expression '%s'", expr[:i], expr)
		}
		name, arg, hasArg = expr[:i], expr[i+1:len(expr)-1], true
	}
	f, ok := fetches[name]
	if !ok {
		if unsupported[name] || strings.Contains(name, ",") {
			return nil, fmt.Errorf("ACL fetch '%s' is not supported yet", name)
		}
		return nil, fmt.Errorf("unknown fetch method '%s' in ACL expression '%s'", name, expr)
	}
	d := &Def{fetch: f, match: f.match, tls: tlsFields[name]}
	d.matchFn = d.matchStr
	switch {
	case f.arg && arg == "":
		return nil, fmt.Errorf("fetch '%s' without a header name is not supported yet in ACL expression '%s'", name, expr)
	case f.arg && strings.Contains(arg, ","):
		return nil, fmt.Errorf("fetch '%s' with an occurrence argument is not supported yet in ACL expression '%s'", name, expr)
	case f.arg, hasArg && tlsFields[name].optArg():
		d.header = lowerASCII(arg)
	case hasArg:
		return nil, fmt.Errorf("ACL keyword '%s' : expected ')' before '%s)'", name, arg)
	}
	rest, err := d.parseFlags(name, args[1:])
	if err != nil {
		return nil, err
	}
	if err := d.parseValues(rest); err != nil {
		return nil, err
	}
	return d, nil
}

// parseFlags reads the flags before the values and returns the values.
func (d *Def) parseFlags(name string, rest []string) ([]string, error) {
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		if d.fetch.match == mInt && d.match == mInt && isNumber(rest[0]) {
			break // a negative number is a value
		}
		switch rest[0] {
		case "-i":
			d.fold = true
			rest = rest[1:]
		case "-n": // no DNS resolution: hitless never resolves patterns
			rest = rest[1:]
		case "--":
			return rest[1:], nil
		case "-u":
			if len(rest) < 2 {
				return nil, errors.New("'-u' must be followed by a unique ID")
			}
			rest = rest[2:]
		case "-f", "-M":
			return nil, fmt.Errorf("ACL option '%s' (pattern files) is not supported yet", rest[0])
		case "-m":
			m := ""
			if len(rest) > 1 {
				m = rest[1]
			}
			mm, ok := matchNames[m]
			if !ok {
				return nil, fmt.Errorf("unknown matching method '%s' when parsing ACL expression", m)
			}
			if mm != d.fetch.match && mm != mFound && (mm == mIP || mm == mInt || !d.fetch.isString()) {
				return nil, fmt.Errorf("match method '%s' is not supported yet for fetch '%s'", m, name)
			}
			d.match = mm
			rest = rest[2:]
		default:
			return nil, fmt.Errorf("'%s' is not a valid ACL option. Please use '--' before any pattern beginning with a '-'", rest[0])
		}
	}
	return rest, nil
}

// parseValues parses the patterns; several patterns are OR-ed.
func (d *Def) parseValues(vals []string) error {
	var op string // a pending `eq|ge|gt|le|lt` before an integer
	for _, v := range vals {
		switch d.match {
		case mFound:
			// HAProxy ignores patterns with -m found.
		case mReg:
			pat := v
			if d.fold {
				pat = "(?i)" + v
			}
			re, err := regexp.Compile(pat)
			if err != nil {
				msg := err.Error()
				var se *syntax.Error
				if errors.As(err, &se) {
					msg = string(se.Code)
				}
				return fmt.Errorf("regex '%s' is invalid (error=%s)", v, msg)
			}
			d.res = append(d.res, re)
		case mIP:
			p, err := parsePrefix(v)
			if err != nil {
				return err
			}
			d.nets = append(d.nets, p)
		case mInt, mLen:
			if _, ok := intOps[v]; ok && op == "" {
				op = v
				continue
			}
			var r intRange
			var err error
			if op != "" {
				r, err = opRange(op, v)
				op = ""
			} else {
				r, err = parseIntRange(v)
			}
			if err != nil {
				return err
			}
			d.ints = append(d.ints, r)
		default:
			if d.fold {
				v = lowerASCII(v)
			}
			d.strs = append(d.strs, v)
		}
	}
	return nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

// parsePrefix reads an address or a network (CIDR or dotted netmask).
func parsePrefix(v string) (netip.Prefix, error) {
	bad := fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", v)
	addr, mask, hasMask := strings.Cut(v, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, bad
	}
	if !hasMask {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	if bits, err := strconv.Atoi(mask); err == nil {
		if bits < 0 || bits > a.BitLen() {
			return netip.Prefix{}, bad
		}
		return netip.PrefixFrom(a, bits).Masked(), nil
	}
	m, err := netip.ParseAddr(mask)
	if err != nil || !a.Is4() || !m.Is4() {
		return netip.Prefix{}, bad
	}
	// A dotted netmask must be contiguous ones then zeros.
	b4 := m.As4()
	u := uint32(b4[0])<<24 | uint32(b4[1])<<16 | uint32(b4[2])<<8 | uint32(b4[3])
	bits := 0
	for bits < 32 && u&(1<<(31-bits)) != 0 {
		bits++
	}
	if bits < 32 && u<<bits != 0 {
		return netip.Prefix{}, bad
	}
	return netip.PrefixFrom(a, bits).Masked(), nil
}

// parseIntRange reads N or LO:HI (either bound may be omitted).
func parseIntRange(v string) (intRange, error) {
	lo, hi, isRange := strings.Cut(v, ":")
	if !isRange {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return intRange{}, fmt.Errorf("'%s' is neither a number nor a supported operator", v)
		}
		return intRange{n, n}, nil
	}
	r := intRange{math.MinInt64, math.MaxInt64}
	var err1, err2 error
	if lo != "" {
		r.lo, err1 = strconv.ParseInt(lo, 10, 64)
	}
	if hi != "" {
		r.hi, err2 = strconv.ParseInt(hi, 10, 64)
	}
	if err1 != nil || err2 != nil || lo == "" && hi == "" || r.lo > r.hi {
		return intRange{}, fmt.Errorf("'%s' is not a valid number range", v)
	}
	return r, nil
}

// intOps are the comparison operators that may precede an integer value.
var intOps = map[string]bool{"eq": true, "ge": true, "gt": true, "le": true, "lt": true}

// opRange is the range `OP N` accepts, without overflowing at the int64 bounds.
func opRange(op, v string) (intRange, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return intRange{}, fmt.Errorf("'%s' is neither a number nor a supported operator", v)
	}
	switch op {
	case "ge":
		return intRange{n, math.MaxInt64}, nil
	case "gt":
		if n == math.MaxInt64 {
			return intRange{1, 0}, nil // empty
		}
		return intRange{n + 1, math.MaxInt64}, nil
	case "le":
		return intRange{math.MinInt64, n}, nil
	case "lt":
		if n == math.MinInt64 {
			return intRange{1, 0}, nil
		}
		return intRange{math.MinInt64, n - 1}, nil
	}
	return intRange{n, n}, nil
}
