package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"hitless/internal/http1"
	"hitless/internal/pattern"
	"hitless/internal/sample"
)

// This file runs its init after keywords.go (file order), whose table it extends.
//
// The rule language's actions: `http-request`, `http-response`,
// `http-after-response`, the legacy `redirect`, `tcp-request`, `monitor-uri`,
// `monitor fail` and `option forwardfor`'s arguments. Each action is a row of
// httpActions: which rule kinds accept it and how its words parse. The engines run
// the rules (internal/httpproxy, internal/tcpproxy).

// Rule kinds, as bits of a row's `kinds`.
const (
	onRequest = 1 << iota
	onResponse
	onAfter
)

type httpAction struct {
	kinds int
	parse func(ps *parser, p *Proxy, r *HTTPRule, kw string, args []string) error
}

var httpActions map[string]httpAction

func init() {
	httpActions = map[string]httpAction{
		"allow":          {onRequest | onResponse | onAfter, noActionArgs},
		"deny":           {onRequest | onResponse, parseDeny},
		"tarpit":         {onRequest, parseDeny},
		"return":         {onRequest | onResponse, parseReturn},
		"redirect":       {onRequest | onResponse, parseRedirectRule},
		"set-header":     {onRequest | onResponse | onAfter, parseSetHeader},
		"add-header":     {onRequest | onResponse | onAfter, parseSetHeader},
		"del-header":     {onRequest | onResponse | onAfter, parseDelHeader},
		"replace-header": {onRequest | onResponse | onAfter, parseReplaceHeader},
		"replace-value":  {onRequest | onResponse | onAfter, parseReplaceHeader},
		"set-path":       {onRequest, parseSetFormat},
		"set-pathq":      {onRequest, parseSetFormat},
		"set-query":      {onRequest, parseSetFormat},
		"set-uri":        {onRequest, parseSetFormat},
		"set-method":     {onRequest, parseSetFormat},
		"replace-path":   {onRequest, parseReplaceLine},
		"replace-pathq":  {onRequest, parseReplaceLine},
		"replace-uri":    {onRequest, parseReplaceLine},
		"set-status":     {onResponse | onAfter, parseSetStatus},
		"set-log-level":  {onRequest | onResponse | onAfter, parseLogLevel},
		"use-service":    {onRequest, parseUseService},
	}
	proxyKeywords["http-request"] = kw{"fbl", kwHTTPRequest}
	proxyKeywords["http-response"] = kw{"fbl", kwHTTPResponse}
	proxyKeywords["http-after-response"] = kw{"fbl", kwHTTPAfterResponse}
	proxyKeywords["redirect"] = kw{"fbl", kwRedirect}
	proxyKeywords["tcp-request"] = kw{"fbl", kwTCPRequest}
	proxyKeywords["monitor-uri"] = kw{"dfl", kwMonitorURI}
	proxyKeywords["monitor"] = kw{"fl", kwMonitor}
	options["forwardfor"] = optForwardFor
	timeouts["tarpit"] = func(t *Timeouts) *time.Duration { return &t.Tarpit }
}

func kwHTTPRequest(ps *parser, p *Proxy, a []string) error {
	ps.needHTTP(p, "'http-request' rules")
	return addHTTPRule(ps, p, a, onRequest, &p.HTTPRequest)
}

func kwHTTPResponse(ps *parser, p *Proxy, a []string) error {
	ps.needHTTP(p, "'http-response' rules")
	return addHTTPRule(ps, p, a, onResponse, &p.HTTPResponse)
}

func kwHTTPAfterResponse(ps *parser, p *Proxy, a []string) error {
	ps.needHTTP(p, "'http-after-response' rules")
	return addHTTPRule(ps, p, a, onAfter, &p.HTTPAfterResponse)
}

func addHTTPRule(ps *parser, p *Proxy, a []string, kind int, dst *[]HTTPRule) error {
	r := HTTPRule{Pos: ps.pos}
	if len(a) < 2 {
		return fmt.Errorf("'%s' expects an action", a[0])
	}
	words, cond := splitCond(a[1:])
	if len(words) == 0 {
		return fmt.Errorf("'%s' expects an action before '%s'", a[0], cond[0])
	}
	action := words[0]
	row, ok := httpActions[action]
	if !ok && strings.HasPrefix(action, "set-var(") {
		row, ok = httpAction{onRequest | onResponse | onAfter, parseSetVar}, true
	}
	if !ok && strings.HasPrefix(action, "unset-var(") {
		row, ok = httpAction{onRequest | onResponse | onAfter, parseUnsetVar}, true
	}
	if !ok || row.kinds&kind == 0 {
		name, _, _ := strings.Cut(action, "(")
		if strings.Contains(" "+haproxyHTTPActions+" ", " "+name+" ") {
			return fmt.Errorf("'%s %s' is not supported yet", a[0], name)
		}
		return fmt.Errorf("'%s' unknown action '%s'", a[0], action)
	}
	r.Action = action
	if i := strings.IndexByte(action, '('); i > 0 {
		r.Action = action[:i]
	}
	if err := row.parse(ps, p, &r, a[0]+" "+action, words[1:]); err != nil {
		return err
	}
	if r.Header != "" && !http1.EndToEndName(r.Header) {
		ps.warnf("'%s %s %s' has no effect: hitless writes the framing and connection fields of every message it forwards from what it parsed.", a[0], action, r.Header)
	}
	if cond != nil {
		c, err := ps.cond(p, cond)
		if err != nil {
			return fmt.Errorf("error detected while parsing an '%s %s' condition : %v.", a[0], r.Action, err)
		}
		if w := c.Incompatible(where(p, a[0]), a[0]); w != "" {
			ps.warnf("%s", w)
		}
		r.Cond = c
	}
	*dst = append(*dst, r)
	return nil
}

// haproxyHTTPActions are HAProxy 2.6's http-request/http-response actions.
const haproxyHTTPActions = "add-acl add-header allow auth cache-use capture del-acl del-header del-map deny disable-l7-retry do-resolve early-hint normalize-uri redirect reject replace-header replace-path replace-pathq replace-uri replace-value return sc-inc-gpc sc-inc-gpc0 sc-inc-gpc1 sc-set-gpt0 send-spoe-group set-dst set-dst-port set-header set-log-level set-map set-mark set-method set-nice set-path set-pathq set-priority-class set-priority-offset set-query set-src set-src-port set-timeout set-tos set-uri set-var silent-drop strict-mode tarpit track-sc0 track-sc1 track-sc2 unset-var use-service wait-for-body wait-for-handshake set-status cache-store"

func noActionArgs(ps *parser, p *Proxy, r *HTTPRule, kw string, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("'%s' expects either 'if' or 'unless' followed by a condition but found '%s'.", kw, args[0])
	}
	return nil
}

func parseStatus(kw, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 200 || n > 599 {
		return 0, fmt.Errorf("'%s' : status code must be between 200 and 599 (got '%s')", kw, v)
	}
	return n, nil
}

// parseAnswer reads the options of deny and return: a status, a content type and a
// body given as a string or an lf-string.
func parseAnswer(ps *parser, p *Proxy, r *HTTPRule, kw string, args []string, statusWord string) error {
	for len(args) > 0 {
		if len(args) < 2 {
			return fmt.Errorf("'%s' : '%s' expects an argument", kw, args[0])
		}
		switch args[0] {
		case statusWord:
			n, err := parseStatus(kw, args[1])
			if err != nil {
				return err
			}
			r.Status = n
		case "content-type":
			r.ContentType = args[1]
		case "string":
			r.Body = args[1]
		case "lf-string":
			f, err := ps.parseTemplate(p, strings.Fields(kw)[0], args[1])
			if err != nil {
				return fmt.Errorf("'%s' : %v", kw, err)
			}
			r.BodyFormat = f
		case "file", "lf-file", "errorfile", "errorfiles", "hdr":
			return fmt.Errorf("'%s' : '%s' is not supported yet", kw, args[0])
		default:
			return fmt.Errorf("'%s' : unknown keyword '%s'", kw, args[0])
		}
		args = args[2:]
	}
	if (r.Body != "" || r.BodyFormat != nil) && r.ContentType == "" {
		return fmt.Errorf("'%s' : a 'content-type' is required with a body", kw)
	}
	return nil
}

func parseReturn(ps *parser, p *Proxy, r *HTTPRule, kw string, args []string) error {
	r.Status = 200
	return parseAnswer(ps, p, r, kw, args, "status")
}

func parseDeny(ps *parser, p *Proxy, r *HTTPRule, kw string, args []string) error {
	r.Status = 403
	if strings.HasPrefix(kw, "http-response") {
		r.Status = 502
	}
	if r.Action == "tarpit" {
		r.Status = 500
	}
	return parseAnswer(ps, p, r, kw, args, "deny_status")
}

func parseSetHeader(ps *parser, p *Proxy, r *HTTPRule, kw string, args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("'%s' expects exactly 2 arguments.", kw)
	}
	if err := validHeaderName(args[0]); err != nil {
		return fmt.Errorf("'%s' : %v", kw, err)
	}
	t, err := ps.parseTemplate(p, strings.Fields(kw)[0], args[1])
	if err != nil {
		return fmt.Errorf("'%s' : %v", kw, err)
	}
	r.Header, r.Value = args[0], t
	return nil
}

func parseDelHeader(ps *parser, p *Proxy, r *HTTPRule, kw string, args []string) error {
	if len(args) != 1 {
		if len(args) > 1 && args[1] == "-m" {
			return fmt.Errorf("'%s -m' is not supported yet", kw)
		}
		return fmt.Errorf("'%s' expects exactly 1 argument.", kw)
	}
	if err := validHeaderName(args[0]); err != nil {
		return fmt.Errorf("'%s' : %v", kw, err)
	}
	r.Header = args[0]
	return nil
}

func parseReplaceHeader(ps *parser, p *Proxy, r *HTTPRule, kw string, args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("'%s' expects exactly 3 arguments.", kw)
	}
	if err := validHeaderName(args[0]); err != nil {
		return fmt.Errorf("'%s' : %v", kw, err)
	}
	re, err := pattern.CompileRegexp(args[1], false)
	if err != nil {
		return fmt.Errorf("'%s' : %v", kw, err)
	}
	t, err := ps.parseTemplate(p, strings.Fields(kw)[0], args[2])
	if err != nil {
		return fmt.Errorf("'%s' : %v", kw, err)
	}
	r.Header, r.Regex, r.Value = args[0], re, t
	return nil
}

func parseSetFormat(ps *parser, p *Proxy, r *HTTPRule, kw string, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("'%s' expects exactly 1 argument <format>.", kw)
	}
	t, err := ps.parseTemplate(p, "http-request", args[0])
	if err != nil {
		return fmt.Errorf("'%s' : %v", kw, err)
	}
	r.Value = t
	return nil
}

func parseReplaceLine(ps *parser, p *Proxy, r *HTTPRule, kw string, args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("'%s' expects exactly 2 arguments <match-regex> and <replace-format>.", kw)
	}
	re, err := pattern.CompileRegexp(args[0], false)
	if err != nil {
		return fmt.Errorf("'%s' : %v", kw, err)
	}
	t, err := ps.parseTemplate(p, "http-request", args[1])
	if err != nil {
		return fmt.Errorf("'%s' : %v", kw, err)
	}
	r.Regex, r.Value = re, t
	return nil
}

func parseSetStatus(ps *parser, p *Proxy, r *HTTPRule, kw string, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("'%s' expects a status code", kw)
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 100 || n > 999 {
		return fmt.Errorf("'%s' : expects an integer status code between 100 and 999.", kw)
	}
	r.Status = n
	if len(args) == 3 && args[1] == "reason" {
		r.Reason = args[2]
	} else if len(args) != 1 {
		return fmt.Errorf("'%s' expects a status code and an optional 'reason' keyword followed by a reason.", kw)
	}
	return nil
}

// logLevels are syslog's level names.
var logLevels = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

func parseLogLevel(ps *parser, p *Proxy, r *HTTPRule, kw string, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("'%s' expects exactly 1 argument.", kw)
	}
	if args[0] == "silent" {
		r.Level = -1
		return nil
	}
	for i, l := range logLevels {
		if l == args[0] {
			r.Level = i
			return nil
		}
	}
	return fmt.Errorf("'%s': unsupported log level '%s'.", kw, args[0])
}

func parseUseService(ps *parser, p *Proxy, r *HTTPRule, kw string, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("'%s' expects a service name.", kw)
	}
	if !HTTPServices[args[0]] {
		return fmt.Errorf("'%s' : '%s' unknown service name.", kw, args[0])
	}
	if len(args) > 1 {
		return fmt.Errorf("'%s' expects either 'if' or 'unless' followed by a condition but found '%s'.", kw, args[1])
	}
	r.Service = args[0]
	return nil
}

// varName reads the NAME of set-var(NAME) or unset-var(NAME).
func varName(kw, action string) (sample.VarRef, error) {
	i, j := strings.IndexByte(action, '('), strings.LastIndexByte(action, ')')
	if i < 0 || j != len(action)-1 {
		return sample.VarRef{}, fmt.Errorf("'%s' : missing closing ')' after variable name", kw)
	}
	v, err := sample.ParseVarName(action[i+1 : j])
	if err != nil {
		return v, fmt.Errorf("'%s' : %v", kw, err)
	}
	return v, nil
}

func (ps *parser) expr(p *Proxy, kind, kw, s string) (*sample.Expr, error) {
	e, err := (&sample.Parser{Files: ps.cfg.Patterns}).Parse(s)
	if err != nil {
		return nil, fmt.Errorf("'%s' : %v", kw, err)
	}
	if err := e.Check(where(p, kind)); err != nil {
		return nil, fmt.Errorf("'%s' : %v", kw, err)
	}
	return e, nil
}

func parseSetVar(ps *parser, p *Proxy, r *HTTPRule, kw string, args []string) error {
	v, err := varName(kw, strings.Fields(kw)[1])
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return fmt.Errorf("'%s' expects exactly 1 argument (a sample expression).", kw)
	}
	e, err := ps.expr(p, strings.Fields(kw)[0], kw, args[0])
	if err != nil {
		return err
	}
	r.Var, r.Expr = v, e
	return nil
}

func parseUnsetVar(ps *parser, p *Proxy, r *HTTPRule, kw string, args []string) error {
	v, err := varName(kw, strings.Fields(kw)[1])
	if err != nil {
		return err
	}
	r.Var = v
	return noActionArgs(ps, p, r, kw, args)
}

// parseRedirect reads `location|prefix|scheme VALUE [code N] [drop-query]
// [append-slash] [set-cookie NAME=VALUE] [clear-cookie NAME]`.
func parseRedirect(ps *parser, p *Proxy, kw string, args []string) (*Redirect, error) {
	if len(args) < 2 {
		return nil, fmt.Errorf("'%s' expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query' or 'append-slash' (was '')", kw)
	}
	rd := &Redirect{Code: 302}
	for len(args) > 0 {
		o := args[0]
		need := func() (string, error) {
			if len(args) < 2 {
				return "", fmt.Errorf("'%s': missing argument for '%s'", kw, o)
			}
			args = args[1:]
			return args[0], nil
		}
		switch o {
		case "location", "prefix", "scheme":
			v, err := need()
			if err != nil {
				return nil, err
			}
			f, err := ps.parseTemplate(p, "http-request", v)
			if err != nil {
				return nil, fmt.Errorf("'%s' : %v", kw, err)
			}
			rd.Type, rd.Value = o, f
		case "code":
			v, err := need()
			if err != nil {
				return nil, err
			}
			n, _ := strconv.Atoi(v)
			if n != 301 && n != 302 && n != 303 && n != 307 && n != 308 {
				return nil, fmt.Errorf("'%s': unsupported HTTP code '%s' (must be one of 301, 302, 303, 307 or 308)", kw, v)
			}
			rd.Code = n
		case "drop-query":
			rd.DropQuery = true
		case "append-slash":
			rd.AppendSlash = true
		case "set-cookie", "clear-cookie":
			v, err := need()
			if err != nil {
				return nil, err
			}
			if o == "set-cookie" {
				rd.SetCookie = v
			} else {
				rd.ClearCookie = v
			}
		default:
			return nil, fmt.Errorf("'%s' expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query' or 'append-slash' (was '%s')", kw, o)
		}
		args = args[1:]
	}
	if rd.Type == "" {
		return nil, fmt.Errorf("'%s' expects a redirection type ('prefix', 'location', or 'scheme')", kw)
	}
	return rd, nil
}

func parseRedirectRule(ps *parser, p *Proxy, r *HTTPRule, kw string, args []string) error {
	rd, err := parseRedirect(ps, p, kw, args)
	if err != nil {
		return err
	}
	r.Redirect = rd
	return nil
}

// kwRedirect is the legacy `redirect` keyword: its rules run after the proxy's
// http-request rules, as in HAProxy.
func kwRedirect(ps *parser, p *Proxy, a []string) error {
	ps.needHTTP(p, "'redirect' rules")
	r := HTTPRule{Pos: ps.pos, Action: "redirect"}
	words, cond := splitCond(a[1:])
	rd, err := parseRedirect(ps, p, "redirect", words)
	if err != nil {
		return err
	}
	r.Redirect = rd
	if cond != nil {
		c, err := ps.cond(p, cond)
		if err != nil {
			return fmt.Errorf("error detected while parsing redirect condition : %v.", err)
		}
		r.Cond = c
	}
	p.Redirects = append(p.Redirects, r)
	return nil
}

func kwTCPRequest(ps *parser, p *Proxy, a []string) error {
	if len(a) < 2 {
		return fmt.Errorf("'%s' expects 'inspect-delay', 'connection', 'session' or 'content'.", a[0])
	}
	kind := a[1]
	switch kind {
	case "inspect-delay":
		if len(a) != 3 {
			return fmt.Errorf("'tcp-request inspect-delay' expects a positive delay in milliseconds.")
		}
		d, err := ParseTime(a[2], time.Millisecond)
		if err != nil {
			return fmt.Errorf("'tcp-request inspect-delay' expects a positive delay in milliseconds, in proxy '%s'", p.Name)
		}
		p.InspectDelay = d
		return nil
	case "connection", "session", "content":
	default:
		return fmt.Errorf("'%s' expects 'inspect-delay', 'connection', 'session' or 'content' (got '%s').", a[0], kind)
	}
	if kind != "content" && p.Kind == "backend" {
		return fmt.Errorf("'tcp-request %s' is not allowed in backend sections", kind)
	}
	words, cond := splitCond(a[2:])
	if len(words) == 0 {
		return fmt.Errorf("'tcp-request %s' expects an action", kind)
	}
	r := TCPRule{Pos: ps.pos, Kind: kind, Action: words[0]}
	kw := "tcp-request " + kind
	switch {
	case words[0] == "accept" || words[0] == "reject":
		if len(words) > 1 {
			return fmt.Errorf("'%s %s' expects either 'if' or 'unless' followed by a condition but found '%s'.", kw, words[0], words[1])
		}
	case strings.HasPrefix(words[0], "set-var("):
		v, err := varName(kw, words[0])
		if err != nil {
			return err
		}
		if len(words) != 2 {
			return fmt.Errorf("'%s %s' expects exactly 1 argument (a sample expression).", kw, words[0])
		}
		e, err := ps.expr(p, kw, kw+" "+words[0], words[1])
		if err != nil {
			return err
		}
		r.Action, r.Var, r.Expr = "set-var", v, e
	case strings.HasPrefix(words[0], "unset-var("):
		v, err := varName(kw, words[0])
		if err != nil {
			return err
		}
		r.Action, r.Var = "unset-var", v
	default:
		name, _, _ := strings.Cut(words[0], "(")
		if strings.Contains(" "+haproxyTCPActions+" ", " "+name+" ") {
			return fmt.Errorf("'%s %s' is not supported yet", kw, name)
		}
		return fmt.Errorf("'%s' unknown action '%s'", kw, words[0])
	}
	if cond != nil {
		c, err := ps.cond(p, cond)
		if err != nil {
			return fmt.Errorf("error detected while parsing a '%s %s' condition : %v.", kw, r.Action, err)
		}
		if w := c.Incompatible(where(p, kw), kw); w != "" {
			ps.warnf("%s", w)
		}
		r.Cond = c
	}
	p.TCPRequest = append(p.TCPRequest, r)
	return nil
}

const haproxyTCPActions = "accept reject expect-proxy expect-netscaler-cip capture do-resolve set-dst set-dst-port set-src set-src-port set-mark set-tos set-nice set-log-level sc-inc-gpc sc-inc-gpc0 sc-inc-gpc1 sc-set-gpt0 track-sc0 track-sc1 track-sc2 send-spoe-group set-priority-class set-priority-offset silent-drop switch-mode use-service attach-srv"

func kwMonitorURI(ps *parser, p *Proxy, a []string) error {
	if len(a) != 2 {
		return fmt.Errorf("'monitor-uri' expects an URI.")
	}
	p.MonitorURI = a[1]
	return nil
}

func kwMonitor(ps *parser, p *Proxy, a []string) error {
	if len(a) < 3 || a[1] != "fail" || (a[2] != "if" && a[2] != "unless") {
		return fmt.Errorf("'monitor' expects 'fail' followed by 'if' or 'unless' and a condition.")
	}
	c, err := ps.cond(p, a[2:])
	if err != nil {
		return fmt.Errorf("error detected while parsing a 'monitor fail' condition : %v.", err)
	}
	p.MonitorFail = append(p.MonitorFail, c)
	return nil
}

// optForwardFor is `option forwardfor [except NET] [header NAME] [if-none]`.
func optForwardFor(p *Proxy, on bool, args []string) error {
	p.Options.ForwardFor = on
	ff := ForwardFor{}
	for len(args) > 0 {
		switch args[0] {
		case "except":
			if len(args) < 2 {
				return fmt.Errorf("'except' expects <address>[/mask] as argument.")
			}
			n, err := pattern.ParsePrefix(args[1])
			if err != nil {
				return fmt.Errorf("'except' expects <address>[/mask] as argument.")
			}
			ff.Except = n
			args = args[2:]
		case "header":
			if len(args) < 2 {
				return fmt.Errorf("'header' requires an argument.")
			}
			ff.Header = args[1]
			args = args[2:]
		case "if-none":
			ff.IfNone = true
			args = args[1:]
		default:
			return fmt.Errorf("expects 'except', 'header' and 'if-none'. Got '%s'", args[0])
		}
	}
	p.ForwardFor = ff
	return nil
}
