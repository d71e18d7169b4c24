package acl

import (
	"errors"
	"fmt"
	"strings"

	"hitless/internal/sample"
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
func ParseCond(args []string, lookup func(name string) []*Def, files Files) (*Cond, error) {
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
			d, err := parseExpr(words[i+1:end], files)
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
			var err error
			if defs, err = predefined(w); err != nil {
				return nil, err
			}
		}
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

// Eval evaluates the condition for the session behind c.
func (c *Cond) Eval(s *sample.Ctx) bool {
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

// Incompatible returns the first ACL of the condition whose fetch cannot run at w, as
// HAProxy warns: "acl 'x' will never match in 'WHERE' because it uses keyword 'KW'
// which is incompatible with 'POINT'". The message names the ACL, its keyword and the
// point; it is "" when all is well.
func (c *Cond) Incompatible(w sample.Where, where string) string {
	for _, and := range c.or {
		for _, t := range and {
			for _, d := range t.defs {
				if sample.Missing(d.Use(), w) == 0 {
					continue
				}
				who := "acl '" + d.Name + "'"
				if d.Name == "anonymous" {
					who = "anonymous acl"
				}
				return fmt.Sprintf("%s will never match in '%s' because it uses keyword '%s' which is incompatible with '%s'", who, where, d.Keyword, w.Name())
			}
		}
	}
	return ""
}
