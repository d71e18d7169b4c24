package config

import (
	"fmt"
	"strconv"
	"strings"
)

// compatVersion is the HAProxy version hitless's configuration language follows, for
// version_atleast() and version_before().
const compatVersion = "2.6"

// evalCond evaluates a `.if` expression: terms joined by && and ||, ! negation and
// parentheses; a term is an integer or a predicate.
func evalCond(expr string, lookup func(string) (string, bool)) (bool, error) {
	e := &condLexer{s: expr, lookup: lookup}
	v, err := e.or()
	if err != nil {
		return false, err
	}
	e.space()
	if e.i < len(e.s) {
		return false, fmt.Errorf("unparsable conditional expression '%s' at position %d", e.s[e.i:], e.i+1)
	}
	return v, nil
}

type condLexer struct {
	s      string
	i      int
	lookup func(string) (string, bool)
}

func (e *condLexer) space() {
	for e.i < len(e.s) && (e.s[e.i] == ' ' || e.s[e.i] == '\t') {
		e.i++
	}
}

func (e *condLexer) or() (bool, error) {
	v, err := e.and()
	if err != nil {
		return false, err
	}
	for {
		e.space()
		if !strings.HasPrefix(e.s[e.i:], "||") {
			return v, nil
		}
		e.i += 2
		w, err := e.and()
		if err != nil {
			return false, err
		}
		v = v || w
	}
}

func (e *condLexer) and() (bool, error) {
	v, err := e.unary()
	if err != nil {
		return false, err
	}
	for {
		e.space()
		if !strings.HasPrefix(e.s[e.i:], "&&") {
			return v, nil
		}
		e.i += 2
		w, err := e.unary()
		if err != nil {
			return false, err
		}
		v = v && w
	}
}

func (e *condLexer) unary() (bool, error) {
	e.space()
	if e.i < len(e.s) && e.s[e.i] == '!' {
		e.i++
		v, err := e.unary()
		return !v, err
	}
	if e.i < len(e.s) && e.s[e.i] == '(' {
		e.i++
		v, err := e.or()
		if err != nil {
			return false, err
		}
		e.space()
		if e.i >= len(e.s) || e.s[e.i] != ')' {
			return false, fmt.Errorf("expected ')' at position %d", e.i+1)
		}
		e.i++
		return v, nil
	}
	start := e.i
	for e.i < len(e.s) && (isAlnum(e.s[e.i]) || e.s[e.i] == '_' || e.s[e.i] == '-') {
		e.i++
	}
	word := e.s[start:e.i]
	if word == "" {
		return false, fmt.Errorf("unparsable conditional expression '%s' at position %d", e.s[start:], start+1)
	}
	if e.i < len(e.s) && e.s[e.i] == '(' {
		end := strings.IndexByte(e.s[e.i:], ')')
		if end < 0 {
			return false, fmt.Errorf("expected ')' in argument 1 of predicate '%s' at position %d", word, e.i+1)
		}
		var args []string
		if inner := strings.TrimSpace(e.s[e.i+1 : e.i+end]); inner != "" {
			for _, a := range strings.Split(inner, ",") {
				args = append(args, strings.Trim(strings.TrimSpace(a), `"`))
			}
		}
		e.i += end + 1
		return predicate(word, args, e.lookup, start)
	}
	n, err := strconv.ParseInt(word, 0, 64)
	if err != nil {
		return false, fmt.Errorf("unparsable conditional expression '%s' at position %d", word, start+1)
	}
	return n != 0, nil
}

func predicate(name string, args []string, lookup func(string) (string, bool), pos int) (bool, error) {
	need := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("predicate '%s' expects %d argument(s) at position %d", name, n, pos+1)
		}
		return nil
	}
	switch name {
	case "defined":
		if err := need(1); err != nil {
			return false, err
		}
		_, ok := lookup(args[0])
		return ok, nil
	case "streq", "strneq":
		if err := need(2); err != nil {
			return false, err
		}
		return (args[0] == args[1]) == (name == "streq"), nil
	case "version_atleast", "version_before":
		if err := need(1); err != nil {
			return false, err
		}
		c := compareVersions(compatVersion, args[0])
		if name == "version_atleast" {
			return c >= 0, nil
		}
		return c < 0, nil
	case "feature", "openssl_version_atleast", "openssl_version_before", "ssllib_name_startswith":
		return false, nil
	}
	return false, fmt.Errorf("unparsable conditional expression '%s' at position %d", name, pos+1)
}

func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
