// Package acl parses and evaluates HAProxy access control lists: the named tests of
// `acl NAME FETCH[,CONV...] [flags] VALUES...` lines, the predefined ACLs (TRUE,
// LOCALHOST, METH_GET, ...), and the `if|unless` conditions that combine them. A
// test is a sample expression (internal/sample) matched against patterns
// (internal/pattern). The config package parses them (so that `hitless -c` reports
// their errors) and the engines evaluate them per connection or request.
package acl

import (
	"errors"
	"fmt"
	"strings"

	"hitless/internal/pattern"
	"hitless/internal/sample"
)

// Def is one `acl NAME ...` line, or an anonymous `{ ... }` ACL. It is immutable once
// parsed (its file patterns may be replaced through their Refs) and safe for
// concurrent Eval.
type Def struct {
	Name    string
	Keyword string // the fetch as written, for warnings
	expr    *sample.Expr
	method  pattern.Method
	inline  *pattern.Set
	files   []*pattern.Ref
	// matchFn is match bound once, so that Eval does not allocate.
	matchFn func(c *sample.Ctx, v *sample.Value) bool
}

// Files are the pattern files an ACL definition reads (-f), resolved by the caller.
type Files interface {
	// Load returns the shared Ref of a pattern file read for method m and fold,
	// reading it the first time.
	Load(path string, isMap bool, m pattern.Method, fold bool) (*pattern.Ref, error)
}

// suffixes are the ACL keyword derivatives: FETCH_beg is FETCH with -m beg.
var suffixes = map[string]pattern.Method{
	"_beg": pattern.Beg, "_end": pattern.End, "_sub": pattern.Sub, "_reg": pattern.Reg, "_dir": pattern.Dir,
	"_dom": pattern.Dom, "_len": pattern.Len, "_found": pattern.Found,
}

// ParseDef parses the words after `acl`: NAME FETCH [flags] VALUE...
func ParseDef(args []string, files Files) (*Def, error) {
	if len(args) < 2 {
		return nil, errors.New("'acl' requires a name and a fetch method")
	}
	for _, c := range args[0] {
		if !validNameChar(c) {
			return nil, fmt.Errorf("character '%c' is not permitted in acl name '%s'", c, args[0])
		}
	}
	d, err := parseExpr(args[1:], files)
	if err != nil {
		return nil, err
	}
	d.Name = args[0]
	return d, nil
}

func validNameChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == ':'
}

// defaultMethod is the match method of a fetch without -m.
func defaultMethod(f *sample.Fetch) pattern.Method {
	if f.ACL != "" {
		return pattern.Methods[f.ACL]
	}
	switch f.Out {
	case sample.TBool:
		return pattern.Bool
	case sample.TInt:
		return pattern.Int
	case sample.TAddr, sample.TIPv4, sample.TIPv6:
		return pattern.IP
	case sample.TBin:
		return pattern.Bin
	}
	return pattern.Str
}

// parseFetch compiles the keyword of an ACL: a fetch (with converters) or a
// derivative such as path_beg.
func parseFetch(kw string, files Files) (*sample.Expr, pattern.Method, bool, error) {
	p := &sample.Parser{Files: files}
	name := kw
	if i := strings.IndexAny(kw, "(,"); i >= 0 {
		name = kw[:i]
	}
	if sample.LookupFetch(name) == nil {
		for suf, m := range suffixes {
			base, ok := strings.CutSuffix(name, suf)
			if !ok || sample.LookupFetch(base) == nil || sample.LookupFetch(base).Out != sample.TStr {
				continue
			}
			e, err := p.Parse(base + kw[len(name):])
			if err != nil {
				return nil, 0, false, aclErr(err, kw)
			}
			return e, m, true, nil
		}
	}
	e, err := p.Parse(kw)
	if err != nil {
		return nil, 0, false, aclErr(err, kw)
	}
	return e, defaultMethod(e.Fetch()), false, nil
}

func aclErr(err error, kw string) error {
	msg := err.Error()
	if strings.HasPrefix(msg, "unknown fetch method") {
		return fmt.Errorf("%s in ACL expression '%s'", msg, kw)
	}
	return err
}

// parseExpr parses FETCH [flags] VALUE... As in HAProxy, an expression without values
// never matches, except with -m found and bool.
func parseExpr(args []string, files Files) (*Def, error) {
	if len(args) == 0 || args[0] == "" {
		return nil, errors.New("missing fetch method in ACL expression ''")
	}
	kw := args[0]
	e, m, _, err := parseFetch(kw, files)
	if err != nil {
		return nil, err
	}
	d := &Def{Keyword: e.Fetch().Name, expr: e, method: m}
	d.matchFn = d.match
	rest := args[1:]
	fold := false
	var paths []struct {
		path  string
		isMap bool
	}
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		if (d.method == pattern.Int || d.method == pattern.Len) && isNumber(rest[0]) {
			break // a negative number is a value
		}
		switch rest[0] {
		case "-i":
			fold = true
			rest = rest[1:]
		case "-n": // no DNS resolution: hitless never resolves patterns
			rest = rest[1:]
		case "--":
			rest = rest[1:]
			goto values
		case "-u":
			if len(rest) < 2 {
				return nil, errors.New("'-u' must be followed by a unique ID")
			}
			rest = rest[2:]
		case "-f", "-M":
			isMap := rest[0] == "-M"
			if isMap {
				rest = rest[1:]
				if len(rest) == 0 || rest[0] != "-f" {
					continue
				}
			}
			if len(rest) < 2 {
				return nil, errors.New("'-f' expects a file name")
			}
			paths = append(paths, struct {
				path  string
				isMap bool
			}{rest[1], isMap})
			rest = rest[2:]
		case "-m":
			name := ""
			if len(rest) > 1 {
				name = rest[1]
			}
			mm, ok := pattern.Methods[name]
			if !ok {
				return nil, fmt.Errorf("unknown matching method '%s' when parsing ACL expression", name)
			}
			if !compatible(e.Out(), mm) {
				return nil, fmt.Errorf("matching method '%s' cannot be used with fetch keyword '%s'", name, e.Fetch().Name)
			}
			d.method = mm
			rest = rest[2:]
		default:
			return nil, fmt.Errorf("'%s' is not a valid ACL option. Please use '--' before any pattern beginning with a '-'", rest[0])
		}
	}
values:
	entries := make([]pattern.Entry, 0, len(rest))
	for _, v := range rest {
		entries = append(entries, pattern.Entry{Key: v})
	}
	if d.method == pattern.Found || d.method == pattern.Bool {
		entries = nil
	}
	d.inline, err = pattern.Compile(d.method, fold, entries)
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		if files == nil {
			return nil, fmt.Errorf("failed to open pattern file <%s>", p.path)
		}
		ref, err := files.Load(p.path, p.isMap, d.method, fold)
		if err != nil {
			return nil, err
		}
		d.files = append(d.files, ref)
	}
	return d, nil
}

// compatible says whether a match method applies to a fetch's output type: string
// methods need something castable to a string, ip an address, int an integer.
func compatible(t sample.Type, m pattern.Method) bool {
	switch m {
	case pattern.Found:
		return true
	case pattern.IP:
		return t == sample.TAddr || t == sample.TIPv4 || t == sample.TIPv6 || t == sample.TStr || t == sample.TAny
	case pattern.Int, pattern.Bool:
		return t != sample.TBin && t != sample.TMeth
	}
	return true
}

func isNumber(s string) bool {
	if len(s) < 2 || s[0] != '-' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Eval evaluates one ACL definition: true when one of the fetched samples matches one
// of its patterns. It does not allocate.
func (d *Def) Eval(c *sample.Ctx) bool {
	if d.method == pattern.Found {
		return d.expr.Iterate(c, found)
	}
	return d.expr.Iterate(c, d.matchFn)
}

func found(*sample.Ctx, *sample.Value) bool { return true }

// match tests one sample against the inline patterns and the files'.
func (d *Def) match(c *sample.Ctx, v *sample.Value) bool {
	switch d.method {
	case pattern.Bool:
		return c.Cast(v, sample.TBool) && v.Int != 0
	case pattern.Int:
		if !c.Cast(v, sample.TInt) {
			return false
		}
		if _, ok := d.inline.MatchInt(v.Int); ok {
			return true
		}
		for _, f := range d.files {
			if _, ok := f.Load().MatchInt(v.Int); ok {
				return true
			}
		}
		return false
	case pattern.IP:
		if !c.Cast(v, sample.TAddr) {
			return false
		}
		if _, ok := d.inline.MatchAddr(v.Addr); ok {
			return true
		}
		for _, f := range d.files {
			if _, ok := f.Load().MatchAddr(v.Addr); ok {
				return true
			}
		}
		return false
	}
	if !c.Cast(v, sample.TStr) {
		return false
	}
	if _, ok := d.inline.MatchBytes(v.B); ok {
		return true
	}
	for _, f := range d.files {
		if _, ok := f.Load().MatchBytes(v.B); ok {
			return true
		}
	}
	return false
}

// NeedsHTTP reports whether the ACL reads something only mode http provides.
func (d *Def) NeedsHTTP() bool { return d.expr.NeedsHTTP() }

// Use is what the ACL's fetch reads.
func (d *Def) Use() sample.Src { return d.expr.Fetch().Use }
