package acl

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// match is how a fetched value is compared with the ACL's patterns.
type match int

const (
	mStr match = iota
	mBeg
	mEnd
	mSub
	mReg
	mFound
	mIP
	mInt
)

// source is what a fetch reads from the Sample.
type source int

const (
	srcPath source = iota
	srcMethod
	srcHeader
	srcSrc
	srcDstPort
)

// fetch is one row of the fetch table.
type fetch struct {
	src   source
	match match
	arg   bool // takes a (NAME) argument
	http  bool // needs mode http
}

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
}

// Def is one `acl NAME FETCH [flags] VALUE...` line.
type Def struct {
	Name   string
	fetch  fetch
	header string // for hdr*(NAME), lower-cased
	match  match
	fold   bool // -i
	strs   []string
	res    []*regexp.Regexp
	nets   []netip.Prefix
	ints   []intRange
	// matchFn is matchStr bound once, so that header matching does not allocate.
	matchFn func(string) bool
}

type intRange struct{ lo, hi int64 }

// NeedsHTTP reports whether the ACL reads something only mode http provides.
func (d *Def) NeedsHTTP() bool { return d.fetch.http }

// ParseDef parses the words after `acl`.
func ParseDef(args []string) (*Def, error) {
	if len(args) < 2 {
		return nil, errors.New("'acl' requires a name and a fetch method")
	}
	for _, c := range args[0] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return nil, fmt.Errorf("ACL name '%s' contains an invalid character '%c'", args[0], c)
		}
	}
	d, err := parseExpr(args[1:])
	if err != nil {
		return nil, err
	}
	d.Name = args[0]
	return d, nil
}

// parseExpr parses FETCH [flags] VALUE... (an ACL expression without its name).
func parseExpr(args []string) (*Def, error) {
	expr := args[0]
	name, arg := expr, ""
	if i := strings.IndexByte(expr, '('); i >= 0 {
		if !strings.HasSuffix(expr, ")") {
			return nil, fmt.Errorf("missing closing ')' after arguments to fetch '%s' in ACL expression '%s'", expr[:i], expr)
		}
		name, arg = expr[:i], expr[i+1:len(expr)-1]
	}
	f, ok := fetches[name]
	if !ok {
		if unsupported[name] {
			return nil, fmt.Errorf("ACL fetch '%s' is not supported yet", name)
		}
		return nil, fmt.Errorf("unknown fetch method '%s' in ACL expression '%s'", name, expr)
	}
	d := &Def{fetch: f, match: f.match}
	d.matchFn = d.matchStr
	if f.arg {
		if arg == "" {
			return nil, fmt.Errorf("fetch method '%s' expects a header name in ACL expression '%s'", name, expr)
		}
		d.header = strings.ToLower(arg)
	} else if arg != "" {
		return nil, fmt.Errorf("fetch method '%s' does not take arguments in ACL expression '%s'", name, expr)
	}
	rest := args[1:]
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") && !(f.match == mInt && isNumber(rest[0])) {
		switch rest[0] {
		case "-i":
			d.fold = true
			rest = rest[1:]
		case "--":
			rest = rest[1:]
			goto values
		case "-m":
			if len(rest) < 2 {
				return nil, errors.New("'-m' expects a match method")
			}
			m, ok := map[string]match{"str": mStr, "beg": mBeg, "end": mEnd, "sub": mSub, "reg": mReg, "found": mFound}[rest[1]]
			if !ok || f.match == mIP || f.match == mInt {
				return nil, fmt.Errorf("match method '%s' is not supported yet for fetch '%s'", rest[1], name)
			}
			d.match = m
			rest = rest[2:]
		default:
			return nil, fmt.Errorf("'%s' is not supported yet in ACL expressions", rest[0])
		}
	}
values:
	if len(rest) == 0 && d.match != mFound {
		return nil, fmt.Errorf("missing value for ACL expression '%s'", expr)
	}
	var op func(int64) intRange
	for _, v := range rest {
		if d.match == mInt {
			if o, ok := intOps[v]; ok {
				op = o
				continue
			}
		}
		switch d.match {
		case mReg:
			pat := v
			if d.fold {
				pat = "(?i)" + v
			}
			re, err := regexp.Compile(pat)
			if err != nil {
				return nil, fmt.Errorf("regex '%s' is invalid: %v", v, err)
			}
			d.res = append(d.res, re)
		case mIP:
			p, err := parsePrefix(v)
			if err != nil {
				return nil, err
			}
			d.nets = append(d.nets, p)
		case mInt:
			if op != nil {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("'%s' is not a number", v)
				}
				d.ints = append(d.ints, op(n))
				op = nil
				continue
			}
			r, err := parseIntRange(v)
			if err != nil {
				return nil, err
			}
			d.ints = append(d.ints, r)
		default:
			if d.fold {
				v = strings.ToLower(v)
			}
			d.strs = append(d.strs, v)
		}
	}
	return d, nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

func parsePrefix(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			// HAProxy also accepts a dotted netmask.
			if i := strings.IndexByte(v, '/'); i > 0 {
				a, err1 := netip.ParseAddr(v[:i])
				m, err2 := netip.ParseAddr(v[i+1:])
				if err1 == nil && err2 == nil && a.Is4() && m.Is4() {
					bits := 0
					for _, b := range m.As4() {
						for ; b&0x80 != 0; b <<= 1 {
							bits++
						}
					}
					return netip.PrefixFrom(a, bits).Masked(), nil
				}
			}
			return netip.Prefix{}, fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", v)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", v)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parseIntRange(v string) (intRange, error) {
	if lo, hi, ok := strings.Cut(v, ":"); ok {
		l, err1 := strconv.ParseInt(lo, 10, 64)
		h, err2 := strconv.ParseInt(hi, 10, 64)
		if err1 != nil || err2 != nil || l > h {
			return intRange{}, fmt.Errorf("'%s' is not a valid integer range", v)
		}
		return intRange{l, h}, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return intRange{}, fmt.Errorf("'%s' is not a number", v)
	}
	return intRange{n, n}, nil
}

// intOps are the comparison operators that may precede an integer value.
var intOps = map[string]func(n int64) intRange{
	"eq": func(n int64) intRange { return intRange{n, n} },
	"ge": func(n int64) intRange { return intRange{n, 1<<62 - 1} },
	"gt": func(n int64) intRange { return intRange{n + 1, 1<<62 - 1} },
	"le": func(n int64) intRange { return intRange{-1 << 62, n} },
	"lt": func(n int64) intRange { return intRange{-1 << 62, n - 1} },
}
