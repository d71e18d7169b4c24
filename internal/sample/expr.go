package sample

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"hitless/internal/pattern"
)

// Fetch is one row of the fetch table.
type Fetch struct {
	Name string
	// Args is the argument list: one letter per argument (see argKinds), the optional
	// ones after a '|'. "s|i" is a required string and an optional integer.
	Args string
	Out  Type
	Use  Src // what the fetch reads, which decides where it may run
	// Fn fetches into v and reports whether a sample exists. A fetch that yields
	// several values (Multi) returns them one per call when the Ctx iterates (ACLs),
	// else the one HAProxy's manual names for sample use.
	Fn    func(c *Ctx, a []Arg, v *Value) bool
	Multi bool
	// Check validates the parsed arguments, e.g. fills defaults; may be nil.
	Check func(a []Arg) error
	// ACL is the default match method when used in an ACL ("" = by output type).
	ACL string
}

// Conv is one row of the converter table.
type Conv struct {
	Name  string
	Args  string
	In    Type // the input type, after a cast; TAny takes anything
	Out   Type
	Fn    func(c *Ctx, a []Arg, v *Value) bool
	Check func(a []Arg) error
	// Load resolves arguments that name files (map converters); may be nil.
	Load func(p *Parser, a []Arg) error
}

// Arg is one parsed argument of a fetch or converter.
type Arg struct {
	Set bool // given in the configuration (optional arguments may be absent)
	S   string
	B   []byte // S as bytes
	I   int64
	Re  *regexp.Regexp
	Var VarRef
	X   any // compiled data (a map, a mask)
}

// argKinds name the argument letters, as HAProxy names the types in its messages.
var argKinds = map[byte]string{
	's': "string", 'i': "integer", 'r': "regex", 'v': "variable", 'm': "IPv4 mask",
	'M': "IPv6 mask", 'b': "backend", 'S': "server", 'e': "string", 't': "time",
}

var (
	fetches = map[string]*Fetch{}
	convs   = map[string]*Conv{}
)

// addFetches and addConvs register rows; each file of rows calls them in init.
func addFetches(rows ...*Fetch) {
	for _, r := range rows {
		fetches[r.Name] = r
	}
}

func addConvs(rows ...*Conv) {
	for _, r := range rows {
		convs[r.Name] = r
	}
}

// LookupFetch returns the row of a fetch, or nil.
func LookupFetch(name string) *Fetch { return fetches[name] }

// Expr is a compiled sample expression: one fetch and its converters. It is
// immutable and safe for concurrent use.
type Expr struct {
	Text  string // as written
	fetch *Fetch
	args  []Arg
	convs []convStep
	out   Type
}

type convStep struct {
	c    *Conv
	args []Arg
}

// Fetch is the expression's fetch row.
func (e *Expr) Fetch() *Fetch { return e.fetch }

// Out is the type the expression yields (before any cast by its user).
func (e *Expr) Out() Type { return e.out }

// HasConvs reports whether the expression has converters.
func (e *Expr) HasConvs() bool { return len(e.convs) > 0 }

// FetchArg returns the i-th argument of the fetch as a string ("" when absent).
func (e *Expr) FetchArg(i int) string {
	if i < len(e.args) {
		return e.args[i].S
	}
	return ""
}

// Files loads the pattern and map files converters name (a *pattern.Registry).
type Files interface {
	Load(path string, isMap bool, m pattern.Method, fold bool) (*pattern.Ref, error)
}

// Parser compiles expressions; Files serves map*() converters (nil: none can load).
type Parser struct {
	Files Files
}

// Parse compiles a whole expression with no map files.
func Parse(s string) (*Expr, error) { return (&Parser{}).Parse(s) }

// ParsePrefix compiles an expression at the start of s with no map files.
func ParsePrefix(s string, end byte) (*Expr, int, error) { return (&Parser{}).ParsePrefix(s, end) }

// Parse compiles a whole expression such as `req.hdr(host),lower,map(hosts.map)`.
func (p *Parser) Parse(s string) (*Expr, error) {
	e, n, err := p.ParsePrefix(s, 0)
	if err != nil {
		return nil, err
	}
	if n < len(s) {
		return nil, fmt.Errorf("missing comma after %s '%s'", e.lastKind(), e.lastName())
	}
	return e, nil
}

func (e *Expr) lastKind() string {
	if len(e.convs) > 0 {
		return "converter"
	}
	return "fetch method"
}

func (e *Expr) lastName() string {
	if len(e.convs) > 0 {
		return e.convs[len(e.convs)-1].c.Name
	}
	return e.fetch.Name
}

// ParsePrefix compiles the expression at the start of s, ending at the byte end (0 =
// the end of s, ']' inside `%[...]`), and returns how many bytes it used.
func (p *Parser) ParsePrefix(s string, end byte) (*Expr, int, error) {
	i := 0
	name := ""
	for i < len(s) && s[i] != '(' && s[i] != ',' && (end == 0 || s[i] != end) {
		i++
	}
	name = s[:i]
	if name == "" {
		return nil, 0, errors.New("missing fetch method")
	}
	f := fetches[name]
	if f == nil {
		if unsupportedFetches[name] {
			return nil, 0, fmt.Errorf("fetch method '%s' is not supported yet", name)
		}
		return nil, 0, fmt.Errorf("unknown fetch method '%s'", name)
	}
	e := &Expr{fetch: f, out: f.Out}
	args, n, err := parseArgs(s[i:], f.Args, end)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch method '%s' : %v", name, err)
	}
	i += n
	e.args = args
	if f.Check != nil {
		if err := f.Check(args); err != nil {
			return nil, 0, fmt.Errorf("fetch method '%s' : %v", name, err)
		}
	}
	for i < len(s) && (end == 0 || s[i] != end) {
		if s[i] != ',' {
			return nil, 0, fmt.Errorf("missing comma after %s '%s'", e.lastKind(), e.lastName())
		}
		i++
		j := i
		for j < len(s) && s[j] != '(' && s[j] != ',' && (end == 0 || s[j] != end) {
			j++
		}
		cname := s[i:j]
		if cname == "" {
			i = j
			continue // a trailing or doubled comma, as HAProxy tolerates
		}
		c := convs[cname]
		if c == nil {
			if unsupportedConvs[cname] {
				return nil, 0, fmt.Errorf("converter '%s' is not supported yet", cname)
			}
			return nil, 0, fmt.Errorf("unknown converter '%s'", cname)
		}
		if !canCast(e.out, c.In) {
			return nil, 0, fmt.Errorf("converter '%s' cannot be applied", cname)
		}
		cargs, n, err := parseArgs(s[j:], c.Args, end)
		if err != nil {
			return nil, 0, fmt.Errorf("invalid arg %v in converter '%s' : %v", argNo(err), cname, err)
		}
		if c.Check != nil {
			if err := c.Check(cargs); err != nil {
				return nil, 0, fmt.Errorf("invalid args in converter '%s' : %v", cname, err)
			}
		}
		if c.Load != nil {
			if err := c.Load(p, cargs); err != nil {
				return nil, 0, fmt.Errorf("invalid args in converter '%s' : %v", cname, err)
			}
		}
		e.convs = append(e.convs, convStep{c, cargs})
		if c.Out != TAny {
			e.out = c.Out
		}
		i = j + n
	}
	e.Text = s[:i]
	return e, i, nil
}

// argError is an argument error with its position (1-based).
type argError struct {
	pos int
	msg string
}

func (e *argError) Error() string { return e.msg }

func argNo(err error) int {
	var ae *argError
	if errors.As(err, &ae) {
		return ae.pos
	}
	return 1
}

// parseArgs reads `(a,b,...)` at the start of s against spec.
func parseArgs(s, spec string, end byte) ([]Arg, int, error) {
	req, opt, _ := strings.Cut(spec, "|")
	kinds := req + opt
	var raw []string
	n := 0
	if strings.HasPrefix(s, "(") {
		var err error
		raw, n, err = splitArgs(s)
		if err != nil {
			return nil, 0, err
		}
	}
	if len(raw) > len(kinds) {
		at := strings.Join(raw[len(kinds):], ",") + ")"
		if len(kinds) == 0 {
			at = strings.Join(raw, ",") + ")"
		}
		return nil, 0, &argError{len(kinds) + 1, fmt.Sprintf("expected ')' before '%s'", at)}
	}
	if len(raw) < len(req) {
		return nil, 0, &argError{len(raw) + 1, fmt.Sprintf("expected type '%s' at position %d, but got nothing", argKinds[req[len(raw)]], len(raw)+1)}
	}
	args := make([]Arg, len(kinds))
	for i, r := range raw {
		a, err := parseArg(kinds[i], r)
		if err != nil && kinds[i] == 'v' {
			return nil, 0, &argError{i + 1, err.Error()}
		}
		if err != nil {
			return nil, 0, &argError{i + 1, fmt.Sprintf("failed to parse '%s' as type '%s' at position %d", r, argKinds[kinds[i]], i+1)}
		}
		args[i] = a
	}
	_ = end
	return args, n, nil
}

// splitArgs splits "(a,b)" into its arguments, honouring quotes, backslashes and
// nested parentheses; it returns the bytes used, parentheses included.
func splitArgs(s string) ([]string, int, error) {
	var args []string
	var cur strings.Builder
	depth := 0
	var quote byte
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && i+1 < len(s) && s[i+1] == quote {
				i++
				cur.WriteByte(s[i])
			} else {
				cur.WriteByte(c)
			}
		case c == '\\' && i+1 < len(s) && strings.IndexByte(",()\\\"'", s[i+1]) >= 0:
			i++
			cur.WriteByte(s[i])
		case c == '"' || c == '\'':
			quote = c
		case c == '(':
			depth++
			cur.WriteByte(c)
		case c == ')' && depth > 0:
			depth--
			cur.WriteByte(c)
		case c == ')':
			if cur.Len() > 0 || len(args) > 0 {
				args = append(args, cur.String())
			}
			return args, i + 1, nil
		case c == ',' && depth == 0:
			args = append(args, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return nil, 0, errors.New("expected ')'")
}

func parseArg(kind byte, s string) (Arg, error) {
	a := Arg{Set: true, S: s, B: []byte(s)}
	switch kind {
	case 'i':
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return a, err
		}
		a.I = n
	case 't':
		d, ok := parseDuration(s)
		if !ok {
			return a, errors.New("bad time")
		}
		a.I = d
	case 'r':
		re, err := regexp.Compile(s)
		if err != nil {
			return a, err
		}
		a.Re = re
	case 'v':
		v, err := ParseVarName(s)
		if err != nil {
			return a, err
		}
		a.Var = v
	case 'm', 'M':
		p, err := parseMask(s, kind == 'M')
		if err != nil {
			return a, err
		}
		a.I = int64(p)
	}
	return a, nil
}

// parseDuration reads a time with an optional unit (us, ms, s, m, h, d) as seconds.
func parseDuration(s string) (int64, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, false
	}
	switch s[i:] {
	case "", "s":
		return n, true
	case "m":
		return n * 60, true
	case "h":
		return n * 3600, true
	case "d":
		return n * 86400, true
	}
	return 0, false
}

// parseMask reads a mask length or a dotted IPv4 mask.
func parseMask(s string, v6 bool) (int, error) {
	max := 32
	if v6 {
		max = 128
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > max {
			return 0, errors.New("bad mask")
		}
		return n, nil
	}
	if v6 {
		return 0, errors.New("bad mask")
	}
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return 0, errors.New("bad mask")
	}
	var u uint32
	for _, p := range parts {
		b, err := strconv.Atoi(p)
		if err != nil || b < 0 || b > 255 {
			return 0, errors.New("bad mask")
		}
		u = u<<8 | uint32(b)
	}
	bits := 0
	for bits < 32 && u&(1<<(31-bits)) != 0 {
		bits++
	}
	if bits < 32 && u<<bits != 0 {
		return 0, errors.New("bad mask")
	}
	return bits, nil
}

// Eval runs the expression and reports whether a sample exists. The value is valid
// until the next evaluation with c.
func (e *Expr) Eval(c *Ctx) (*Value, bool) {
	v := &c.v
	*v = Value{}
	if !e.fetch.Fn(c, e.args, v) {
		return v, false
	}
	return v, e.convert(c, v)
}

func (e *Expr) convert(c *Ctx, v *Value) bool {
	for i := range e.convs {
		st := &e.convs[i]
		if !c.Cast(v, st.c.In) {
			return false
		}
		if !st.c.Fn(c, st.args, v) {
			return false
		}
	}
	return true
}

// EvalAs runs the expression and casts the result to t.
func (e *Expr) EvalAs(c *Ctx, t Type) (*Value, bool) {
	v, ok := e.Eval(c)
	return v, ok && c.Cast(v, t)
}

// AppendString runs the expression and appends its value as text to b (nothing when
// there is no sample), as a header template or a log line prints it.
func (e *Expr) AppendString(c *Ctx, b []byte) ([]byte, bool) {
	v, ok := e.Eval(c)
	if !ok {
		return b, false
	}
	return AppendText(b, v), true
}

// Iterate calls fn with every value of the expression (every occurrence of a
// multi-valued fetch, as ACLs test them) until fn returns true; it reports whether it
// did.
func (e *Expr) Iterate(c *Ctx, fn func(c *Ctx, v *Value) bool) bool {
	if !e.fetch.Multi {
		v, ok := e.Eval(c)
		return ok && fn(c, v)
	}
	saved := c.iter
	c.iter = iterState{on: true}
	found := false
	for {
		v := &c.v
		*v = Value{}
		c.iter.more = false
		mark := len(c.buf)
		ok := e.fetch.Fn(c, e.args, v)
		more := c.iter.more
		if ok && e.convert(c, v) && fn(c, v) {
			found = true
			break
		}
		c.buf = c.buf[:mark]
		if !more {
			break
		}
		c.iter.n++
	}
	c.iter = saved
	return found
}
