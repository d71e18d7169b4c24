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
func ParseCond(args []string, lookup func(name string) []*Def, sp *sample.Parser) (*Cond, error) {
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
			d, err := parseExpr(words[i+1:end], sp)
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
// which is incompatible with 'POINT'" (where is "" for the http rules, whose warning
// has no "in" part). It is "" when all is well. Such an ACL then never matches in
// this condition, as in HAProxy (its fetch finds nothing there).
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
				c.restrict(w)
				in := ""
				if where != "" {
					in = " in '" + where + "'"
				}
				return fmt.Sprintf("%s will never match%s because it uses keyword '%s' which is incompatible with '%s'", who, in, d.Keyword, w.Name())
			}
		}
	}
	return ""
}

// Result is a three-valued outcome for conditions on data still arriving (tcp-request
// content with inspect-delay): a test that fails on a sample that may change is a
// Miss, and the rule waits for more data, as HAProxy's ACL_TEST_MISS.
type Result int

const (
	Fail Result = iota
	Pass
	Miss
)

func not(r Result) Result {
	switch r {
	case Pass:
		return Fail
	case Fail:
		return Pass
	}
	return Miss
}

// EvalMiss evaluates the condition in three-valued logic: AND fails on any Fail, OR
// passes on any Pass, a negation leaves a Miss a Miss.
func (c *Cond) EvalMiss(s *sample.Ctx) Result {
	r := Fail
	for _, and := range c.or {
		a := Pass
		for _, t := range and {
			v := Fail
			for _, d := range t.defs {
				s.ResetMayChange()
				if d.Eval(s) {
					v = Pass
					break
				}
				if s.MayChange() {
					v = Miss
				}
			}
			if t.neg {
				v = not(v)
			}
			if v == Fail {
				a = Fail
				break
			}
			if v == Miss {
				a = Miss
			}
		}
		if a == Pass {
			r = Pass
			break
		}
		if a == Miss {
			r = Miss
		}
	}
	if c.unless {
		return not(r)
	}
	return r
}

// never is an ACL that never matches: it stands for one whose fetch cannot run where
// the condition is evaluated.
var never = func() *Def {
	d, err := parseExpr([]string{"always_false"}, nil)
	if err != nil {
		panic(err)
	}
	d.Name = "never"
	return d
}()

// restrict replaces, in this condition only, the ACLs that cannot run at w.
func (c *Cond) restrict(w sample.Where) {
	for i := range c.or {
		for j := range c.or[i] {
			t := &c.or[i][j]
			var defs []*Def
			for _, d := range t.defs {
				if sample.Missing(d.Use(), w) != 0 {
					d = never
				}
				defs = append(defs, d)
			}
			t.defs = defs
		}
	}
}
