// Package checkrule is the rule language of health checks: `tcp-check` and
// `http-check` lines parsed into rules, the rulesets HAProxy 2.6 builds for its protocol
// checks (`option redis-check`, `mysql-check`, `pgsql-check`, `smtpchk`, `ldap-check`,
// `ssl-hello-chk`), and the evaluation of an expectation against received bytes with
// HAProxy's check statuses and messages. The config package parses rules with it; the
// health package runs them over connections.
package checkrule

import (
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Action is what a rule does.
type Action int

// The rule actions.
const (
	Connect Action = iota
	Send
	Expect
	Comment
	SetVar
	UnsetVar
)

// Rule is one step of a check.
type Rule struct {
	Action Action
	// Index is the rule's position in its ruleset counted as HAProxy counts steps
	// (comments included); an implicit connect has index 0 and is reported as the
	// "initial connection step".
	Index   int
	Comment string

	Connect *ConnectRule
	Send    *SendRule
	Expect  *ExpectRule
	Var     *VarRule
}

// ConnectRule is `tcp-check connect` / `http-check connect`.
type ConnectRule struct {
	Implicit  bool // added before a ruleset that does not start with a connect
	Default   bool // `default`: the server's check options apply
	Port      int  // 0: the check port, else the server's port
	Addr      string
	SendProxy bool
	Linger    bool
}

// SendRule is `send`, `send-lf`, `send-binary`, `send-binary-lf`, or an HTTP request.
type SendRule struct {
	Data   []byte  // send, send-binary
	Format *Format // send-lf, send-binary-lf
	Binary bool    // the format renders hex digits
	HTTP   *HTTPRequest
}

// HTTPRequest is `http-check send` (or the request of `option httpchk`).
type HTTPRequest struct {
	Method, URI, Version string
	URIFormat            *Format
	Headers              []HTTPHeader
	Body                 string
	BodyFormat           *Format
	// setMethod, setURI, setVersion tell the fields given on an `http-check send`
	// line, so that the first one takes the others from `option httpchk`.
	setMethod, setURI, setVersion bool
}

// HTTPHeader is one `hdr NAME FMT` of `http-check send`.
type HTTPHeader struct {
	Name  string
	Value *Format
}

// VarRule is set-var(NAME) EXPR, set-var-fmt(NAME) FMT or unset-var(NAME).
type VarRule struct {
	Name   string
	Expr   *Expr
	Format *Format
}

// ExpectRule is `tcp-check expect` / `http-check expect`.
type ExpectRule struct {
	Kind    string // string, rstring, binary, rbinary, string-lf, binary-lf, status, rstatus, hdr, fhdr, custom
	Inverse bool
	MinRecv int // -1 when unset
	// Pattern is the text (string, binary decoded) of exact matches.
	Pattern []byte
	Regex   *regexp.Regexp
	Format  *Format
	Codes   [][2]int // status ranges
	Header  *HeaderMatch
	// Statuses override the defaults (L7OK, L7RSP, L7TOUT); "" = default.
	OKStatus, ErrStatus, ToutStatus string
	OnSuccess, OnError              *Format
	StatusCode                      *Expr
	// Custom evaluates protocol checks that a pattern cannot express (mysql, ldap).
	Custom func(env *Env, last bool) CustomResult
	// Implicit marks the expect an http-check adds after its last send.
	Implicit bool
}

// CustomResult is the verdict of a custom expectation.
type CustomResult struct {
	Wait   bool   // more data needed
	OK     bool   // passed: the next rule runs
	Status string // on failure (and on success when it is the last rule): the check status
	Info   string
	Code   int
}

// HeaderMatch is the `hdr`/`fhdr` pattern of `http-check expect`.
type HeaderMatch struct {
	Full        bool // fhdr: the whole value, commas not splitting it
	Name, Value string
	NameMeth    string // str, beg, end, sub, reg
	ValueMeth   string
	NameRe      *regexp.Regexp
	ValueRe     *regexp.Regexp
	HasValue    bool
}

// connectOptions are the words of a connect rule, as rows: the number of arguments and
// what each sets. Options HAProxy has that need TLS or SOCKS are reported as not
// supported yet.
var connectOptions = map[string]struct {
	args int
	set  func(c *ConnectRule, v string) error
}{
	"default":    {0, func(c *ConnectRule, _ string) error { c.Default = true; return nil }},
	"send-proxy": {0, func(c *ConnectRule, _ string) error { c.SendProxy = true; return nil }},
	"linger":     {0, func(c *ConnectRule, _ string) error { c.Linger = true; return nil }},
	"port": {1, func(c *ConnectRule, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("expects a valid TCP port (from range 1 to 65535) or a sample-fetch expression, got %s", v)
		}
		c.Port = n
		return nil
	}},
	"addr": {1, func(c *ConnectRule, v string) error {
		c.Addr = v
		return nil
	}},
}

// unsupportedConnect are connect options that depend on work not done yet.
var unsupportedConnect = map[string]int{"via-socks4": 0, "ssl": 0, "sni": 1, "alpn": 1, "proto": 1}

func parseConnect(kw string, args []string) (*Rule, error) {
	c := &ConnectRule{}
	r := &Rule{Action: Connect, Connect: c}
	for i := 0; i < len(args); i++ {
		o := args[i]
		if o == "comment" {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("'%s' : '%s' expects a string as argument.", kw, o)
			}
			i++
			r.Comment = args[i]
			continue
		}
		if n, ok := unsupportedConnect[o]; ok {
			_ = n
			return nil, fmt.Errorf("'%s' : '%s' is not supported yet", kw, o)
		}
		row, ok := connectOptions[o]
		if !ok {
			return nil, fmt.Errorf("'%s' : expects 'comment', 'port', 'addr', 'send-proxy', 'via-socks4', 'ssl', 'sni', 'alpn', 'proto', 'linger' or 'default' but got '%s' as argument.", kw, o)
		}
		v := ""
		if row.args == 1 {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("'%s' : '%s' expects an argument.", kw, o)
			}
			i++
			v = args[i]
		}
		if err := row.set(c, v); err != nil {
			return nil, fmt.Errorf("'%s' : '%s' %v", kw, o, err)
		}
	}
	if c.Addr != "" {
		if err := checkAddr(c.Addr); err != nil {
			return nil, fmt.Errorf("'%s' : %v", kw, err)
		}
	}
	return r, nil
}

// checkAddr accepts an IP literal (names would need DNS at check time).
func checkAddr(a string) error {
	host := a
	if h, _, ok := strings.Cut(a, ":"); ok && strings.Count(a, ":") == 1 {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if !isIP(host) {
		return fmt.Errorf("'addr' expects an IP address, got '%s'", a)
	}
	return nil
}

func isIP(s string) bool {
	return regexp.MustCompile(`^[0-9.]+$|^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$`).MatchString(s)
}

// trailingComment takes `comment MSG` off the end of a send rule's arguments.
func trailingComment(kw string, args []string) ([]string, string, error) {
	for i, a := range args {
		if a == "comment" {
			if i+1 >= len(args) {
				return nil, "", fmt.Errorf("'%s' : '%s' expects a string as argument.", kw, a)
			}
			if i+2 != len(args) {
				return nil, "", fmt.Errorf("'%s' : unexpected argument '%s'.", kw, args[i+2])
			}
			return args[:i], args[i+1], nil
		}
	}
	return args, "", nil
}

func parseSend(kw, verb string, args []string) (*Rule, error) {
	args, comment, err := trailingComment(kw+" "+verb, args)
	if err != nil {
		return nil, err
	}
	if len(args) != 1 {
		if len(args) == 0 {
			return nil, fmt.Errorf("'%s %s' expects a %s as argument.", kw, verb, map[bool]string{true: "hexa-string", false: "string"}[strings.HasPrefix(verb, "send-binary")])
		}
		return nil, fmt.Errorf("'%s %s' : unexpected argument '%s'.", kw, verb, args[1])
	}
	s := &SendRule{}
	switch verb {
	case "send":
		s.Data = []byte(args[0])
	case "send-binary":
		b, err := hex.DecodeString(args[0])
		if err != nil {
			return nil, fmt.Errorf("'%s %s' : invalid hexa-string '%s'.", kw, verb, args[0])
		}
		s.Data = b
	case "send-lf", "send-binary-lf":
		f, err := ParseFormat(args[0])
		if err != nil {
			return nil, fmt.Errorf("'%s %s' : failed to parse log-format '%s' : %v.", kw, verb, args[0], err)
		}
		s.Format, s.Binary = f, verb == "send-binary-lf"
	}
	return &Rule{Action: Send, Send: s, Comment: comment}, nil
}

// httpSendOptions are the words of `http-check send`, as rows.
var httpSendOptions = map[string]func(h *HTTPRequest, v []string) error{
	"meth": func(h *HTTPRequest, v []string) error { h.Method, h.setMethod = v[0], true; return nil },
	"uri":  func(h *HTTPRequest, v []string) error { h.URI, h.URIFormat, h.setURI = v[0], nil, true; return nil },
	"uri-lf": func(h *HTTPRequest, v []string) error {
		f, err := ParseFormat(v[0])
		h.URIFormat, h.setURI = f, true
		return err
	},
	"ver": func(h *HTTPRequest, v []string) error { h.Version, h.setVersion = v[0], true; return nil },
	"hdr": func(h *HTTPRequest, v []string) error {
		f, err := ParseFormat(v[1])
		if err != nil {
			return err
		}
		name := strings.ToLower(v[0])
		if name == "content-length" || name == "transfer-encoding" {
			return nil // computed from the body, as HAProxy does
		}
		h.Headers = append(h.Headers, HTTPHeader{Name: v[0], Value: f})
		return nil
	},
	"body": func(h *HTTPRequest, v []string) error { h.Body, h.BodyFormat = v[0], nil; return nil },
	"body-lf": func(h *HTTPRequest, v []string) error {
		f, err := ParseFormat(v[0])
		h.BodyFormat = f
		return err
	},
}

func parseHTTPSend(args []string) (*Rule, error) {
	h := &HTTPRequest{}
	r := &Rule{Action: Send, Send: &SendRule{HTTP: h}}
	for i := 0; i < len(args); i++ {
		o := args[i]
		n := 1
		if o == "hdr" {
			n = 2
		}
		if o == "comment" {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("'http-check send' : '%s' expects a string as argument.", o)
			}
			i++
			r.Comment = args[i]
			continue
		}
		f, ok := httpSendOptions[o]
		if !ok {
			return nil, fmt.Errorf("'http-check send' : expects 'comment', 'meth', 'uri', 'uri-lf', 'ver', 'hdr', 'body' or 'body-lf' but got '%s' as argument.", o)
		}
		if i+n >= len(args) {
			return nil, fmt.Errorf("'http-check send' : '%s' expects %d argument(s).", o, n)
		}
		if err := f(h, args[i+1:i+1+n]); err != nil {
			return nil, fmt.Errorf("'http-check send' : '%s' : %v", o, err)
		}
		i += n
	}
	return r, nil
}

// statusSets are the statuses each expect option accepts.
var statusSets = map[string]string{
	"ok-status":    "L7OK L7OKC L6OK L4OK",
	"error-status": "L7OKC L7RSP L7STS L6RSP L4CON",
	"tout-status":  "L7TOUT L6TOUT L4TOUT",
}

// expectKinds are the match keywords, with where they are allowed (t tcp-check, h
// http-check) and how their pattern is read.
var expectKinds = map[string]struct {
	where string
	parse func(x *ExpectRule, pat []string) (int, error) // returns the words consumed
}{
	"string": {"th", func(x *ExpectRule, p []string) (int, error) {
		if p[0] == "" {
			return 0, fmt.Errorf("empty pattern")
		}
		x.Pattern = []byte(p[0])
		return 1, nil
	}},
	"binary": {"t", func(x *ExpectRule, p []string) (int, error) {
		b, err := hex.DecodeString(p[0])
		if err != nil || len(b) == 0 {
			return 0, fmt.Errorf("invalid hexa-string '%s'", p[0])
		}
		x.Pattern = b
		return 1, nil
	}},
	"rstring": {"th", parseRegex},
	"rbinary": {"t", parseRegex},
	"rstatus": {"h", parseRegex},
	"string-lf": {"th", func(x *ExpectRule, p []string) (int, error) {
		f, err := ParseFormat(p[0])
		x.Format = f
		return 1, err
	}},
	"binary-lf": {"t", func(x *ExpectRule, p []string) (int, error) {
		f, err := ParseFormat(p[0])
		x.Format = f
		return 1, err
	}},
	"status": {"h", func(x *ExpectRule, p []string) (int, error) {
		codes, err := parseCodes(p[0])
		x.Codes = codes
		return 1, err
	}},
	"hdr":  {"h", func(x *ExpectRule, p []string) (int, error) { return parseHdr(x, p, false) }},
	"fhdr": {"h", func(x *ExpectRule, p []string) (int, error) { return parseHdr(x, p, true) }},
}

func parseRegex(x *ExpectRule, p []string) (int, error) {
	re, err := regexp.Compile(p[0])
	if err != nil {
		return 0, fmt.Errorf("regex '%s' : %v", p[0], err)
	}
	x.Regex = re
	return 1, nil
}

// parseCodes reads `200,201,300-310`.
func parseCodes(s string) ([][2]int, error) {
	var out [][2]int
	for _, one := range strings.Split(s, ",") {
		lo, hi, rng := strings.Cut(one, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if rng {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 100 || b > 999 || b < a {
			return nil, fmt.Errorf("invalid status code or range '%s'", one)
		}
		out = append(out, [2]int{a, b})
	}
	return out, nil
}

func parseHdr(x *ExpectRule, p []string, full bool) (int, error) {
	h := &HeaderMatch{Full: full, NameMeth: "str", ValueMeth: "str"}
	i := 0
	word := func() (string, error) {
		if i >= len(p) {
			return "", fmt.Errorf("missing argument")
		}
		i++
		return p[i-1], nil
	}
	meth := func(dst *string) error {
		if i+1 < len(p) && p[i] == "-m" {
			switch p[i+1] {
			case "str", "beg", "end", "sub", "reg":
				*dst = p[i+1]
			default:
				return fmt.Errorf("'-m' expects 'str', 'beg', 'end', 'sub' or 'reg' (got '%s')", p[i+1])
			}
			i += 2
		}
		return nil
	}
	w, err := word()
	if err != nil {
		return 0, err
	}
	if w == "name-lf" {
		return 0, fmt.Errorf("'name-lf' is not supported yet")
	}
	if w != "name" {
		return 0, fmt.Errorf("expects 'name' but got '%s'", w)
	}
	if err := meth(&h.NameMeth); err != nil {
		return 0, err
	}
	if h.Name, err = word(); err != nil {
		return 0, fmt.Errorf("'name' expects a pattern")
	}
	if i < len(p) && (p[i] == "value" || p[i] == "value-lf") {
		if p[i] == "value-lf" {
			return 0, fmt.Errorf("'value-lf' is not supported yet")
		}
		i++
		if err := meth(&h.ValueMeth); err != nil {
			return 0, err
		}
		if h.Value, err = word(); err != nil {
			return 0, fmt.Errorf("'value' expects a pattern")
		}
		h.HasValue = true
	}
	if h.NameMeth == "reg" {
		if h.NameRe, err = regexp.Compile("(?i)" + h.Name); err != nil {
			return 0, err
		}
	}
	if h.HasValue && h.ValueMeth == "reg" {
		if h.ValueRe, err = regexp.Compile(h.Value); err != nil {
			return 0, err
		}
	}
	x.Header = h
	return i, nil
}

func parseExpect(kw string, args []string, http bool) (*Rule, error) {
	x := &ExpectRule{MinRecv: -1}
	r := &Rule{Action: Expect, Expect: x}
	where := byte('t')
	if http {
		where = 'h'
	}
	for i := 0; i < len(args); i++ {
		o := args[i]
		need := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("'%s expect' : '%s' expects an argument.", kw, o)
			}
			i++
			return args[i], nil
		}
		switch {
		case o == "min-recv":
			v, err := need()
			if err != nil {
				return nil, err
			}
			n, perr := strconv.Atoi(v)
			if perr != nil || n < -1 {
				return nil, fmt.Errorf("'%s expect' : '%s' expects an integer as argument.", kw, o)
			}
			x.MinRecv = n
		case o == "comment":
			v, err := need()
			if err != nil {
				return nil, err
			}
			r.Comment = v
		case statusSets[o] != "":
			v, err := need()
			if err != nil {
				return nil, err
			}
			if !strings.Contains(" "+statusSets[o]+" ", " "+v+" ") {
				return nil, fmt.Errorf("'%s expect' : '%s' only supports '%s' (got '%s').", kw, o, strings.ReplaceAll(statusSets[o], " ", "', '"), v)
			}
			switch o {
			case "ok-status":
				x.OKStatus = v
			case "error-status":
				x.ErrStatus = v
			default:
				x.ToutStatus = v
			}
		case o == "on-success" || o == "on-error":
			v, err := need()
			if err != nil {
				return nil, err
			}
			f, perr := ParseFormat(v)
			if perr != nil {
				return nil, fmt.Errorf("'%s expect' : '%s' : %v.", kw, o, perr)
			}
			if o == "on-success" {
				x.OnSuccess = f
			} else {
				x.OnError = f
			}
		case o == "status-code":
			v, err := need()
			if err != nil {
				return nil, err
			}
			e, perr := ParseExpr(v)
			if perr != nil {
				return nil, fmt.Errorf("'%s expect' : '%s' : %v.", kw, o, perr)
			}
			x.StatusCode = e
		case o == "!":
			x.Inverse = true
		default:
			name := o
			if strings.HasPrefix(name, "!") {
				x.Inverse, name = true, name[1:]
			}
			k, ok := expectKinds[name]
			if !ok || !strings.ContainsRune(k.where, rune(where)) {
				if http {
					return nil, fmt.Errorf("'http-check expect' : expects 'min-recv', 'comment', 'ok-status', 'error-status', 'tout-status', 'on-success', 'on-error', 'status-code', '!' or a match among 'status', 'rstatus', 'hdr', 'fhdr', 'string', 'rstring', 'string-lf' but got '%s' as argument.", o)
				}
				return nil, fmt.Errorf("'tcp-check expect' : expects 'min-recv', 'comment', 'ok-status', 'error-status', 'tout-status', 'on-success', 'on-error', 'status-code', '!' or a match among 'string', 'rstring', 'binary', 'rbinary', 'string-lf', 'binary-lf' but got '%s' as argument.", o)
			}
			if i+1 >= len(args) {
				return nil, fmt.Errorf("'%s expect %s' expects <pattern> as an argument.", kw, name)
			}
			x.Kind = name
			n, err := k.parse(x, args[i+1:])
			if err != nil {
				return nil, fmt.Errorf("'%s expect %s' : %v.", kw, name, err)
			}
			i += n
			// Options may follow the pattern too.
		}
	}
	if x.Kind == "" {
		return nil, fmt.Errorf("'%s expect' expects a pattern type ('string', 'rstring', ...).", kw)
	}
	return r, nil
}

// varRule reads `set-var(NAME) EXPR`, `set-var-fmt(NAME) FMT` and `unset-var(NAME)`.
func parseVar(kw, verb string, args []string) (*Rule, error) {
	open := strings.IndexByte(verb, '(')
	if open < 0 || !strings.HasSuffix(verb, ")") {
		return nil, fmt.Errorf("'%s %s' expects a variable name between parentheses.", kw, verb)
	}
	name := verb[open+1 : len(verb)-1]
	if c := strings.IndexByte(name, ','); c >= 0 {
		return nil, fmt.Errorf("'%s %s' : conditions are not supported yet.", kw, verb)
	}
	if err := checkVarName([]string{name}); err != nil {
		return nil, fmt.Errorf("'%s %s' : %v.", kw, verb, err)
	}
	scope, _, _ := strings.Cut(name, ".")
	if scope != "check" && scope != "sess" && scope != "proc" {
		return nil, fmt.Errorf("'%s %s' : only the 'proc', 'sess' and 'check' scopes are allowed in a check.", kw, verb)
	}
	v := &VarRule{Name: name}
	switch verb[:open] {
	case "unset-var":
		if len(args) != 0 {
			return nil, fmt.Errorf("'%s %s' : unexpected argument '%s'.", kw, verb, args[0])
		}
		return &Rule{Action: UnsetVar, Var: v}, nil
	case "set-var", "set-var-fmt":
		if len(args) != 1 {
			return nil, fmt.Errorf("'%s %s' expects one argument.", kw, verb)
		}
		var err error
		if verb[:open] == "set-var" {
			v.Expr, err = ParseExpr(args[0])
		} else {
			v.Format, err = ParseFormat(args[0])
		}
		if err != nil {
			return nil, fmt.Errorf("'%s %s' : %v.", kw, verb, err)
		}
		return &Rule{Action: SetVar, Var: v}, nil
	}
	return nil, fmt.Errorf("'%s' : unknown action '%s'.", kw, verb)
}

// Parse reads one `tcp-check` or `http-check` rule line (the keyword first). Directives
// that are not rules (`http-check disable-on-404`, `send-state`) are Settings.
func Parse(args []string) (*Rule, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("a check rule needs a keyword")
	}
	kw := args[0]
	http := kw == "http-check"
	if len(args) < 2 {
		return nil, fmt.Errorf("'%s' expects 'comment', 'connect', 'send', 'expect', 'set-var' or 'unset-var'.", kw)
	}
	verb, rest := args[1], args[2:]
	switch {
	case verb == "comment":
		if len(rest) != 1 {
			return nil, fmt.Errorf("'%s comment' expects a string as argument.", kw)
		}
		return &Rule{Action: Comment, Comment: rest[0]}, nil
	case verb == "connect":
		return parseConnect(kw+" connect", rest)
	case verb == "expect":
		return parseExpect(kw, rest, http)
	case http && verb == "send":
		return parseHTTPSend(rest)
	case !http && (verb == "send" || verb == "send-lf" || verb == "send-binary" || verb == "send-binary-lf"):
		return parseSend(kw, verb, rest)
	case strings.HasPrefix(verb, "set-var(") || strings.HasPrefix(verb, "set-var-fmt(") || strings.HasPrefix(verb, "unset-var("):
		return parseVar(kw, verb, rest)
	}
	if http {
		return nil, fmt.Errorf("'http-check' expects 'comment', 'connect', 'disable-on-404', 'expect', 'send', 'send-state', 'set-var' or 'unset-var' but got '%s'.", verb)
	}
	return nil, fmt.Errorf("'tcp-check' expects 'comment', 'connect', 'send', 'send-lf', 'send-binary', 'send-binary-lf', 'expect', 'set-var' or 'unset-var' but got '%s'.", verb)
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}
