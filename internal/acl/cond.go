package acl

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// term is one ACL reference in a condition, possibly negated. A named ACL defined on
// several lines is the OR of its definitions.
type term struct {
	neg  bool
	defs []*Def
}

// Cond is a parsed `if|unless` condition: an OR of AND-ed terms.
type Cond struct {
	unless bool
	or     [][]term
}

// ParseCond parses a condition; args start with "if" or "unless". Terms are AND-ed,
// `||` or `or` separate OR-ed groups (AND binds tighter), `!` negates the next term, and
// `{ FETCH [flags] VALUE... }` is an anonymous ACL. lookup returns the definitions of a
// named ACL (nil when there is none). Like HAProxy, a condition without any term is
// valid and never true (so `unless` alone is always true), and a stray `||` or a
// trailing `!` is ignored.
func ParseCond(args []string, lookup func(name string) []*Def) (*Cond, error) {
	if len(args) == 0 || (args[0] != "if" && args[0] != "unless") {
		return nil, errors.New("condition must start with 'if' or 'unless'")
	}
	c := &Cond{unless: args[0] == "unless"}
	words := args[1:]
	var and []term
	neg := false
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "||" || strings.EqualFold(w, "or") {
			if len(and) > 0 {
				c.or = append(c.or, and)
			}
			and, neg = nil, false
			continue
		}
		for strings.HasPrefix(w, "!") {
			neg = !neg
			w = w[1:]
		}
		if w == "" {
			continue // `!` alone applies to the next word
		}
		if w == "{" {
			end := -1
			for j := i + 1; j < len(words); j++ {
				if words[j] == "}" {
					end = j
					break
				}
			}
			if end < 0 {
				return nil, errors.New("missing closing '}' in condition")
			}
			d, err := parseExpr(words[i+1 : end])
			if err != nil {
				return nil, err
			}
			d.Name = "anonymous"
			and = append(and, term{neg: neg, defs: []*Def{d}})
			i, neg = end, false
			continue
		}
		defs := lookup(w)
		if len(defs) == 0 {
			return nil, fmt.Errorf("no such ACL : '%s'", w)
		}
		and = append(and, term{neg: neg, defs: defs})
		neg = false
	}
	if len(and) > 0 {
		c.or = append(c.or, and)
	}
	return c, nil
}

// NeedsHTTP reports whether any ACL of the condition needs mode http.
func (c *Cond) NeedsHTTP() bool {
	for _, and := range c.or {
		for _, t := range and {
			for _, d := range t.defs {
				if d.NeedsHTTP() {
					return true
				}
			}
		}
	}
	return false
}

// Eval evaluates the condition against a sample.
func (c *Cond) Eval(s Sample) bool {
	r := false
	for _, and := range c.or {
		ok := true
		for _, t := range and {
			v := false
			for _, d := range t.defs {
				if d.Eval(s) {
					v = true
					break
				}
			}
			if v == t.neg {
				ok = false
				break
			}
		}
		if ok {
			r = true
			break
		}
	}
	return r != c.unless
}

// Eval evaluates one ACL definition: true when the fetched sample matches any of its
// patterns. It does not allocate.
func (d *Def) Eval(s Sample) bool {
	switch d.fetch.src {
	case srcPath:
		return d.matchStr(s.Path())
	case srcMethod:
		return d.matchStr(s.Method())
	case srcHeader:
		return s.Header(d.header, d.matchFn)
	case srcSrc:
		return d.matchAddr(s.Src())
	case srcDstPort:
		return d.matchInt(int64(s.DstPort()))
	case srcTLS:
		return d.evalTLS(s)
	}
	return false
}

func (d *Def) matchAddr(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	if d.match == mFound {
		return true
	}
	a = a.Unmap()
	for _, p := range d.nets {
		if p.Contains(a) {
			return true
		}
		// An IPv4-mapped IPv6 pattern (::ffff:10.0.0.0/104) matches IPv4 clients.
		if a.Is4() && p.Addr().Is4In6() && p.Bits() >= 96 &&
			netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Contains(a) {
			return true
		}
	}
	return false
}

func (d *Def) matchInt(n int64) bool {
	if d.match == mFound {
		return true
	}
	for _, r := range d.ints {
		if r.contains(n) {
			return true
		}
	}
	return false
}

// matchStr matches a string sample; an empty path or method means the sample is
// absent (mode tcp), which only matters to -m found.
func (d *Def) matchStr(v string) bool {
	switch d.match {
	case mFound:
		return v != "" || d.fetch.src == srcHeader
	case mLen:
		return d.matchInt(int64(len(v)))
	case mReg:
		for _, re := range d.res {
			if re.MatchString(v) {
				return true
			}
		}
		return false
	}
	for _, p := range d.strs {
		var ok bool
		switch d.match {
		case mStr:
			ok = v == p || d.fold && equalFoldASCII(v, p)
		case mBeg:
			ok = strings.HasPrefix(v, p) || d.fold && hasPrefixFold(v, p)
		case mEnd:
			ok = strings.HasSuffix(v, p) || d.fold && hasSuffixFold(v, p)
		case mSub:
			ok = strings.Contains(v, p) || d.fold && containsFold(v, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// hasPrefixFold, hasSuffixFold and containsFold compare ASCII case-insensitively
// (HAProxy's -i is ASCII), with p already lower-cased.
func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && equalFoldASCII(s[:len(p)], p)
}

func hasSuffixFold(s, p string) bool {
	return len(s) >= len(p) && equalFoldASCII(s[len(s)-len(p):], p)
}

func containsFold(s, p string) bool {
	for i := 0; i+len(p) <= len(s); i++ {
		if equalFoldASCII(s[i:i+len(p)], p) {
			return true
		}
	}
	return false
}

// equalFoldASCII reports whether s lower-cased (ASCII) equals the lower-case p.
func equalFoldASCII(s, p string) bool {
	if len(s) != len(p) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != p[i] {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases ASCII letters only, as HAProxy's -i does.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
