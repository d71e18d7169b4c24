package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"hitless/internal/acl"
	"hitless/internal/sample"
)

// errorloc, errorloc302, errorloc303 and http-error: answers for the errors hitless
// generates, as rows of the keyword table. They take their place among the proxy's
// errorfile lines (the last one for a status wins).

func init() {
	proxyKeywords["errorloc"] = kw{"dfbl", kwErrorLoc}
	proxyKeywords["errorloc302"] = kw{"dfbl", kwErrorLoc}
	proxyKeywords["errorloc303"] = kw{"dfbl", kwErrorLoc}
	proxyKeywords["http-error"] = kw{"dfbl", kwHTTPError}
	options["originalto"] = optOriginalTo
	globalKeywords["set-var"] = kwGlobalSetVar
	globalKeywords["expose-experimental-directives"] = func(ps *parser, g *Global, a []string) error {
		g.Experimental = true
		return noArgs(a)
	}
}

// kwErrorLoc answers the status with a redirect to a URL, as HAProxy 2.6 writes it.
func kwErrorLoc(ps *parser, p *Proxy, a []string) error {
	if len(a) != 3 {
		return fmt.Errorf("%s : expects <status_code> and <url> as arguments.", a[0])
	}
	code, err := parseCode(a[1])
	if err != nil {
		return fmt.Errorf("%s : %v", a[0], err)
	}
	head := "HTTP/1.1 302 Found"
	if a[0] == "errorloc303" {
		head = "HTTP/1.1 303 See Other"
	}
	raw := head + "\r\ncache-control: no-cache\r\ncontent-length: 0\r\nlocation: " + a[2] + "\r\n\r\n"
	p.errDirectives = append(p.errDirectives, errDirective{pos: ps.pos, code: code, file: &ErrorFile{Pos: ps.pos, Raw: []byte(raw), Made: true}})
	return nil
}

// kwHTTPError is `http-error status N [content-type T] [string S | file F |
// errorfile F] [hdr NAME VALUE]...` with constant bodies and headers.
func kwHTTPError(ps *parser, p *Proxy, a []string) error {
	if len(a) < 3 || a[1] != "status" {
		return fmt.Errorf("'http-error' expects 'status <code>' as first argument.")
	}
	code, err := parseCode(a[2])
	if err != nil {
		return fmt.Errorf("'http-error' : %v", err)
	}
	var ctype, body, raw string
	var hdrs []string
	hasRaw := false
	args := a[3:]
	for len(args) > 0 {
		if len(args) < 2 {
			return fmt.Errorf("'http-error' : '%s' expects an argument", args[0])
		}
		switch args[0] {
		case "content-type":
			ctype = args[1]
		case "string":
			body = args[1]
		case "file":
			b, err := os.ReadFile(args[1])
			if err != nil {
				return fmt.Errorf("'http-error' : failed to open file '%s'.", args[1])
			}
			body = string(b)
		case "errorfile":
			_, f, err := ps.readErrorFile([]string{"errorfile", a[2], args[1]})
			if err != nil {
				return fmt.Errorf("'http-error' : %v", err)
			}
			raw, hasRaw = string(f.Raw), true
		case "hdr":
			if len(args) < 3 {
				return fmt.Errorf("'http-error' : 'hdr' expects a name and a value")
			}
			if strings.Contains(args[2], "%") {
				return fmt.Errorf("'http-error' : log-format header values are not supported yet")
			}
			hdrs = append(hdrs, strings.ToLower(args[1])+": "+args[2])
			args = args[1:]
		case "lf-string", "lf-file", "errorfiles", "default-errorfiles":
			return fmt.Errorf("'http-error' : '%s' is not supported yet", args[0])
		default:
			return fmt.Errorf("'http-error' : unknown keyword '%s'", args[0])
		}
		args = args[2:]
	}
	if !hasRaw {
		if body != "" && ctype == "" {
			return fmt.Errorf("'http-error' : a 'content-type' is required with a body")
		}
		raw = AnswerHead(code, hdrs, len(body), ctype) + body
	}
	p.errDirectives = append(p.errDirectives, errDirective{pos: ps.pos, code: code, file: &ErrorFile{Pos: ps.pos, Raw: []byte(raw), Made: !hasRaw}})
	return nil
}

// AnswerHead is the head of an answer hitless makes (return, http-error), as HAProxy
// 2.6 writes it: the status line, the rules' headers, content-length, then
// content-type when there is one.
func AnswerHead(status int, hdrs []string, length int, ctype string) string {
	var b strings.Builder
	b.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + Reason(status) + "\r\n")
	for _, h := range hdrs {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("content-length: " + strconv.Itoa(length) + "\r\n")
	if ctype != "" {
		b.WriteString("content-type: " + ctype + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// reasons are the reason phrases HAProxy writes.
var reasons = map[int]string{
	100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created", 202: "Accepted",
	203: "Non-Authoritative Information", 204: "No Content", 205: "Reset Content", 206: "Partial Content",
	300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
	307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized",
	402: "Payment Required", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
	407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict", 410: "Gone", 411: "Length Required",
	412: "Precondition Failed", 413: "Payload Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
	416: "Range Not Satisfiable", 417: "Expectation Failed", 418: "I'm a teapot", 421: "Misdirected Request",
	422: "Unprocessable Content", 425: "Too Early", 426: "Upgrade Required", 428: "Precondition Required",
	429: "Too Many Requests", 431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
	504: "Gateway Timeout", 505: "HTTP Version Not Supported",
}

// Reason is HAProxy's reason phrase for a status, "Unknown" when it has none.
func Reason(status int) string {
	if r := reasons[status]; r != "" {
		return r
	}
	return "Unknown"
}

// optOriginalTo is `option originalto [except NET] [header NAME]`: the address the
// client connected to, in X-Original-To.
func optOriginalTo(p *Proxy, on bool, args []string) error {
	p.Options.OriginalTo = on
	ot, err := addrHeaderOptions(args, false)
	p.OriginalTo = ot
	return err
}

// GlobalVar is a `set-var` line of the global section: evaluated once at start-up.
type GlobalVar struct {
	Pos  Pos
	Var  sample.VarRef
	Expr *sample.Expr
}

func kwGlobalSetVar(ps *parser, g *Global, a []string) error {
	if len(a) != 3 {
		return fmt.Errorf("'set-var' expects a variable name and a sample expression.")
	}
	v, err := sample.ParseVarName(a[1])
	if err != nil {
		return fmt.Errorf("'set-var' : %v", err)
	}
	if v.Scope != sample.ScopeProc {
		return fmt.Errorf("'set-var' : only 'proc' scope is supported in the global section.")
	}
	e, err := (ps.sampleParser()).Parse(a[2])
	if err != nil {
		return fmt.Errorf("'set-var' : %v", err)
	}
	if bad := e.Fetch().Use &^ (sample.SrcConst | sample.SrcInternal | sample.SrcVars); bad != 0 {
		return fmt.Errorf("'set-var' : fetch method '%s' extracts information from '%s', none of which is available here", e.Fetch().Name, (bad & -bad).Name())
	}
	g.Vars = append(g.Vars, GlobalVar{Pos: ps.pos, Var: v, Expr: e})
	return nil
}

// UseServer is one `use-server NAME if|unless COND` line.
type UseServer struct {
	Pos    Pos
	Server string
	Cond   *acl.Cond
}

func init() {
	proxyKeywords["use-server"] = kw{"bl", kwUseServer}
	proxyKeywords["force-persist"] = kw{"bl", kwPersist}
	proxyKeywords["ignore-persist"] = kw{"fbl", kwPersist}
}

func kwUseServer(ps *parser, p *Proxy, a []string) error {
	if len(a) < 2 {
		return fmt.Errorf("'use-server' expects a server name.")
	}
	if len(a) < 4 || (a[2] != "if" && a[2] != "unless") {
		return fmt.Errorf("'use-server' requires either 'if' or 'unless' followed by a condition.")
	}
	c, err := ps.cond(p, a[2:])
	if err != nil {
		return fmt.Errorf("error detected while parsing switching rule : %v.", err)
	}
	if w := c.Incompatible(sample.AtBESetSrv, "use-server"); w != "" {
		ps.warnf("%s", w)
	}
	p.UseServers = append(p.UseServers, UseServer{Pos: ps.pos, Server: a[1], Cond: c})
	return nil
}

// kwPersist is force-persist and ignore-persist. hitless has no cookie persistence
// yet, so ignore-persist has nothing to ignore; force-persist lets use-server pick a
// server that is down (not one in maintenance).
func kwPersist(ps *parser, p *Proxy, a []string) error {
	if len(a) < 3 || (a[1] != "if" && a[1] != "unless") {
		return fmt.Errorf("'%s' requires either 'if' or 'unless' followed by a condition.", a[0])
	}
	c, err := ps.cond(p, a[1:])
	if err != nil {
		return fmt.Errorf("error detected while parsing a '%s' rule : %v.", a[0], err)
	}
	if a[0] == "force-persist" {
		p.ForcePersist = append(p.ForcePersist, c)
	} else {
		p.IgnorePersist = append(p.IgnorePersist, c)
		ps.warnf("'ignore-persist' has no effect yet: hitless has no cookie persistence.")
	}
	return nil
}
