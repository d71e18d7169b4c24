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

// ParseCond parses a condition; args start with "if" or "unless".
func ParseCond(args []string, lookup func(name string) []*Def) (*Cond, error) {
	if len(args) == 0 || (args[0] != "if" && args[0] != "unless") {
		return nil, errors.New("condition must start with 'if' or 'unless'")
	}
	c := &Cond{unless: args[0] == "unless"}
	words := args[1:]
	if len(words) == 0 {
		return nil, fmt.Errorf("missing condition after '%s'", args[0])
	}
	var and []term
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "||" || w == "or" {
			if len(and) == 0 {
				return nil, fmt.Errorf("'%s' without a preceding ACL", w)
			}
			c.or = append(c.or, and)
			and = nil
			continue
		}
		neg := false
		for strings.HasPrefix(w, "!") {
			neg = !neg
			w = w[1:]
		}
		if w == "" {
			if i+1 >= len(words) {
				return nil, errors.New("'!' without an ACL after it")
			}
			i++
			w = words[i]
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
			if end == i+1 {
				return nil, errors.New("empty anonymous ACL in condition")
			}
			d, err := parseExpr(words[i+1 : end])
			if err != nil {
				return nil, err
			}
			d.Name = "anonymous"
			and = append(and, term{neg: neg, defs: []*Def{d}})
			i = end
			continue
		}
		defs := lookup(w)
		if defs == nil {
			return nil, fmt.Errorf("no such ACL : '%s'", w)
		}
		and = append(and, term{neg: neg, defs: defs})
	}
	if len(and) == 0 {
		return nil, errors.New("condition ends with '||'")
	}
	c.or = append(c.or, and)
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

// Eval evaluates one ACL definition.
func (d *Def) Eval(s Sample) bool {
	switch d.fetch.src {
	case srcPath:
		return d.matchStr(s.Path())
	case srcMethod:
		return d.matchStr(s.Method())
	case srcHeader:
		return s.Header(d.header, d.matchFn)
	case srcSrc:
		a := s.Src().Unmap()
		if !a.IsValid() {
			return false
		}
		for _, p := range d.nets {
			if p.Contains(a) || (a.Is4() && p.Addr().Is4In6() && netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Contains(a)) {
				return true
			}
		}
		return false
	case srcDstPort:
		port := int64(s.DstPort())
		for _, r := range d.ints {
			if port >= r.lo && port <= r.hi {
				return true
			}
		}
	}
	return false
}

func (d *Def) matchStr(v string) bool {
	switch d.match {
	case mFound:
		return true
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
			ok = len(v) == len(p) && (v == p || d.fold && strings.EqualFold(v, p))
		case mBeg:
			ok = len(v) >= len(p) && (v[:len(p)] == p || d.fold && strings.EqualFold(v[:len(p)], p))
		case mEnd:
			ok = len(v) >= len(p) && (v[len(v)-len(p):] == p || d.fold && strings.EqualFold(v[len(v)-len(p):], p))
		case mSub:
			ok = strings.Contains(v, p) || d.fold && containsFold(v, p)
		}
		if ok {
			return true
		}
	}
	return false
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
