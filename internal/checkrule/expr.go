package checkrule

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Env is what a check's expressions read: the bytes received so far, the parsed HTTP
// response of an http-check, the check's variables and the server checked. The
// health package fills one per check run.
type Env struct {
	Buf  []byte // everything received on the current connection (at most tune.bufsize)
	HTTP *Response
	Vars map[string]Value
	Now  func() time.Time // nil = time.Now
	// ServerDown tells that the server checked is DOWN: `http-check disable-on-404`
	// accepts a 404 only from a server that is not.
	ServerDown bool
}

// Response is an HTTP check response as expectations see it.
type Response struct {
	Version string // "HTTP/1.1"
	Status  int
	Reason  string
	Headers [][2]string // in order, names as received
	Body    []byte
}

// Value is a sample: a string (bytes) or an integer.
type Value struct {
	B     []byte
	I     int64
	IsInt bool
}

// String renders the value as log-format does.
func (v Value) String() string {
	if v.IsInt {
		return strconv.FormatInt(v.I, 10)
	}
	return string(v.B)
}

func strVal(b []byte) Value { return Value{B: b} }
func intVal(i int64) Value  { return Value{I: i, IsInt: true} }

// Expr is a sample expression of a check: one fetch and its converters, for example
// `res.payload(0,3)` or `res.payload(4,0),ltrim(' '),cut_crlf`.
type Expr struct {
	src   string
	fetch fetchRow
	fargs []string
	convs []convCall
}

type convCall struct {
	row  convRow
	args []string
}

// fetchRow is one sample fetch usable in checks: its argument count bounds and what it
// returns (ok false: no sample).
type fetchRow struct {
	minArgs, maxArgs int
	eval             func(env *Env, args []string) (Value, bool)
	check            func(args []string) error // validates arguments at parse time; may be nil
}

// convRow is one converter.
type convRow struct {
	minArgs, maxArgs int
	eval             func(v Value, args []string) (Value, bool)
	check            func(args []string) error
}

// fetches are the sample fetches a check's expressions and log-format strings know.
// Others are a parse error naming them.
var fetches = map[string]fetchRow{
	"res.payload": {2, 2, fetchPayload, checkInts},
	"req.payload": {2, 2, fetchPayload, checkInts},
	"res.len":     {0, 0, func(env *Env, _ []string) (Value, bool) { return intVal(int64(len(env.Buf))), true }, nil},
	"res.hdr":     {1, 2, fetchHdr, nil},
	"res.fhdr":    {1, 2, fetchHdr, nil},
	"res.body":    {0, 0, fetchBody, nil},
	"res.ver":     {0, 0, fetchVer, nil},
	"status":      {0, 0, fetchStatus, nil},
	"var":         {1, 1, fetchVar, checkVarName},
	"str":         {1, 1, func(_ *Env, a []string) (Value, bool) { return strVal([]byte(a[0])), true }, nil},
	"int":         {1, 1, fetchInt, checkInts},
	"date":        {0, 1, fetchDate, checkInts},
}

// convs are the converters checks know.
var convs = map[string]convRow{
	"cut_crlf": {0, 0, func(v Value, _ []string) (Value, bool) {
		b := v.bytes()
		for i, c := range b {
			if c == '\r' || c == '\n' {
				return strVal(b[:i]), true
			}
		}
		return strVal(b), true
	}, nil},
	"ltrim": {1, 1, func(v Value, a []string) (Value, bool) {
		return strVal([]byte(strings.TrimLeft(string(v.bytes()), a[0]))), true
	}, nil},
	"rtrim": {1, 1, func(v Value, a []string) (Value, bool) {
		return strVal([]byte(strings.TrimRight(string(v.bytes()), a[0]))), true
	}, nil},
	"lower": {0, 0, func(v Value, _ []string) (Value, bool) {
		return strVal([]byte(strings.ToLower(string(v.bytes())))), true
	}, nil},
	"upper": {0, 0, func(v Value, _ []string) (Value, bool) {
		return strVal([]byte(strings.ToUpper(string(v.bytes())))), true
	}, nil},
	"hex": {0, 0, func(v Value, _ []string) (Value, bool) {
		return strVal([]byte(strings.ToUpper(hex.EncodeToString(v.bytes())))), true
	}, nil},
	"htonl": {0, 0, func(v Value, _ []string) (Value, bool) {
		n, ok := v.int()
		if !ok {
			return Value{}, false
		}
		b := make([]byte, 4)
		binary.BigEndian.PutUint32(b, uint32(n))
		return strVal(b), true
	}, nil},
	"length": {0, 0, func(v Value, _ []string) (Value, bool) { return intVal(int64(len(v.bytes()))), true }, nil},
}

func (v Value) bytes() []byte {
	if v.IsInt {
		return []byte(strconv.FormatInt(v.I, 10))
	}
	return v.B
}

func (v Value) int() (int64, bool) {
	if v.IsInt {
		return v.I, true
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(v.B)), 10, 64)
	return n, err == nil
}

func checkInts(args []string) error {
	for _, a := range args {
		if _, err := strconv.Atoi(a); err != nil {
			return fmt.Errorf("expects an integer argument (got '%s')", a)
		}
	}
	return nil
}

func checkVarName(args []string) error {
	scope, name, ok := strings.Cut(args[0], ".")
	if !ok || name == "" {
		return fmt.Errorf("invalid variable name '%s'", args[0])
	}
	switch scope {
	case "check", "sess", "proc", "txn", "req", "res":
	default:
		return fmt.Errorf("invalid variable scope '%s' in '%s'", scope, args[0])
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("invalid character '%c' in variable name '%s'", c, args[0])
		}
	}
	return nil
}

// fetchPayload is res.payload(offset,length): length 0 means up to the end.
func fetchPayload(env *Env, a []string) (Value, bool) {
	off, _ := strconv.Atoi(a[0])
	n, _ := strconv.Atoi(a[1])
	if off < 0 || n < 0 || off > len(env.Buf) {
		return Value{}, false
	}
	end := len(env.Buf)
	if n > 0 {
		if off+n > len(env.Buf) {
			return Value{}, false
		}
		end = off + n
	}
	return strVal(env.Buf[off:end]), true
}

func fetchHdr(env *Env, a []string) (Value, bool) {
	if env.HTTP == nil {
		return Value{}, false
	}
	for i := len(env.HTTP.Headers) - 1; i >= 0; i-- {
		h := env.HTTP.Headers[i]
		if strings.EqualFold(h[0], a[0]) {
			return strVal([]byte(h[1])), true
		}
	}
	return Value{}, false
}

func fetchBody(env *Env, _ []string) (Value, bool) {
	if env.HTTP == nil {
		return Value{}, false
	}
	return strVal(env.HTTP.Body), true
}

func fetchVer(env *Env, _ []string) (Value, bool) {
	if env.HTTP == nil {
		return Value{}, false
	}
	return strVal([]byte(strings.TrimPrefix(env.HTTP.Version, "HTTP/"))), true
}

func fetchStatus(env *Env, _ []string) (Value, bool) {
	if env.HTTP == nil {
		return Value{}, false
	}
	return intVal(int64(env.HTTP.Status)), true
}

func fetchVar(env *Env, a []string) (Value, bool) {
	v, ok := env.Vars[a[0]]
	return v, ok
}

func fetchInt(_ *Env, a []string) (Value, bool) {
	n, err := strconv.ParseInt(a[0], 10, 64)
	return intVal(n), err == nil
}

func fetchDate(env *Env, a []string) (Value, bool) {
	now := time.Now
	if env.Now != nil {
		now = env.Now
	}
	t := now().Unix()
	if len(a) == 1 {
		off, _ := strconv.ParseInt(a[0], 10, 64)
		t += off
	}
	return intVal(t), true
}

// ParseExpr parses a sample expression: `fetch[(args)][,conv[(args)]]...`.
func ParseExpr(s string) (*Expr, error) {
	parts, err := splitTop(s)
	if err != nil {
		return nil, err
	}
	e := &Expr{src: s}
	name, args, err := callOf(parts[0])
	if err != nil {
		return nil, err
	}
	f, ok := fetches[name]
	if !ok {
		return nil, fmt.Errorf("unknown fetch method '%s' in a health check expression", name)
	}
	if len(args) < f.minArgs || len(args) > f.maxArgs {
		return nil, fmt.Errorf("fetch method '%s' expects %s", name, argCount(f.minArgs, f.maxArgs))
	}
	if f.check != nil {
		if err := f.check(args); err != nil {
			return nil, fmt.Errorf("fetch method '%s': %v", name, err)
		}
	}
	e.fetch, e.fargs = f, args
	for _, p := range parts[1:] {
		name, args, err := callOf(p)
		if err != nil {
			return nil, err
		}
		c, ok := convs[name]
		if !ok {
			return nil, fmt.Errorf("unknown converter '%s' in a health check expression", name)
		}
		if len(args) < c.minArgs || len(args) > c.maxArgs {
			return nil, fmt.Errorf("converter '%s' expects %s", name, argCount(c.minArgs, c.maxArgs))
		}
		if c.check != nil {
			if err := c.check(args); err != nil {
				return nil, fmt.Errorf("converter '%s': %v", name, err)
			}
		}
		e.convs = append(e.convs, convCall{c, args})
	}
	return e, nil
}

func argCount(lo, hi int) string {
	switch {
	case hi == 0:
		return "no argument"
	case lo == hi:
		return fmt.Sprintf("%d argument(s)", lo)
	}
	return fmt.Sprintf("%d to %d arguments", lo, hi)
}

// Eval computes the expression; ok is false when the fetch or a converter found no
// sample.
func (e *Expr) Eval(env *Env) (Value, bool) {
	v, ok := e.fetch.eval(env, e.fargs)
	for _, c := range e.convs {
		if !ok {
			return Value{}, false
		}
		v, ok = c.row.eval(v, c.args)
	}
	return v, ok
}

// String is the expression as written.
func (e *Expr) String() string { return e.src }

// splitTop splits at commas outside parentheses and quotes.
func splitTop(s string) ([]string, error) {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced ')' in '%s'", s)
			}
		case c == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if depth != 0 || quote != 0 {
		return nil, fmt.Errorf("missing closing ')' or quote in '%s'", s)
	}
	out = append(out, s[start:])
	for _, p := range out {
		if p == "" {
			return nil, fmt.Errorf("empty element in expression '%s'", s)
		}
	}
	return out, nil
}

// callOf splits `name(a,b)` into its name and arguments (quotes removed).
func callOf(s string) (string, []string, error) {
	i := strings.IndexByte(s, '(')
	if i < 0 {
		return s, nil, nil
	}
	if !strings.HasSuffix(s, ")") {
		return "", nil, fmt.Errorf("missing closing ')' after arguments to '%s'", s[:i])
	}
	inner := s[i+1 : len(s)-1]
	var args []string
	var cur strings.Builder
	var quote byte
	for j := 0; j < len(inner); j++ {
		c := inner[j]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '\\' && j+1 < len(inner):
			j++
			cur.WriteByte(inner[j])
		case c == ',':
			args = append(args, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if inner != "" {
		args = append(args, cur.String())
	}
	return s[:i], args, nil
}

// Format is a log-format string of a check (send-lf, on-success, ...): literal text
// and `%[expr]` samples.
type Format struct {
	src   string
	parts []fmtPart
}

type fmtPart struct {
	lit  string
	expr *Expr
}

// ParseFormat parses a log-format string. Check formats know `%[expr]` and `%%`; the
// `%x` log variables (`%ci`, `%H`...) are a parse error, as they describe a stream a
// check does not have (except %H, the host name, which some configs use).
func ParseFormat(s string) (*Format, error) {
	f := &Format{src: s}
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("unexpected end of log-format string '%s'", s)
		}
		switch s[i+1] {
		case '%':
			lit.WriteByte('%')
			i++
		case '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("missing ']' in log-format string '%s'", s)
			}
			e, err := ParseExpr(s[i+2 : i+end])
			if err != nil {
				return nil, err
			}
			if lit.Len() > 0 {
				f.parts = append(f.parts, fmtPart{lit: lit.String()})
				lit.Reset()
			}
			f.parts = append(f.parts, fmtPart{expr: e})
			i += end
		case 'H':
			lit.WriteString(hostname())
			i++
		default:
			return nil, fmt.Errorf("log-format variable '%%%c' is not supported in a health check (in '%s')", s[i+1], s)
		}
	}
	if lit.Len() > 0 {
		f.parts = append(f.parts, fmtPart{lit: lit.String()})
	}
	return f, nil
}

// Render evaluates the format; a sample that is not found renders as "-", as in
// log-format.
func (f *Format) Render(env *Env) []byte {
	var out []byte
	for _, p := range f.parts {
		if p.expr == nil {
			out = append(out, p.lit...)
			continue
		}
		if v, ok := p.expr.Eval(env); ok {
			out = append(out, v.bytes()...)
		} else {
			out = append(out, '-')
		}
	}
	return out
}

// String is the format as written.
func (f *Format) String() string { return f.src }
