package httpproxy

import (
	"bytes"
	"strconv"
	"time"

	"hitless/internal/config"
	"hitless/internal/http1"
	"hitless/internal/sample"
	"hitless/internal/tcpproxy"
)

// The actions of http-request and http-response rules, one row each; config parses
// them (internal/config/actions.go).

// ruleResult says what the rule list does after an action.
type ruleResult int

const (
	ruleNext     ruleResult = iota // go on with the next rule
	ruleStop                       // stop evaluating this list (allow)
	ruleAnswered                   // the request was answered
)

type requestAction func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool)

var requestActions map[string]requestAction

func init() {
	requestActions = map[string]requestAction{
		"allow":  func(*session, *config.Proxy, *config.HTTPRule, []byte) (ruleResult, bool) { return ruleStop, false },
		"deny":   actDeny,
		"tarpit": actTarpit,
		"return": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			s.intercepted(p)
			if !s.skipBody(head) {
				return ruleAnswered, false
			}
			return ruleAnswered, s.answer(s.answerPage(r), r.Status, [2]byte{'P', 'R'}, true)
		},
		"use-service": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			s.intercepted(p)
			return ruleAnswered, s.service(p, r.Service, head)
		},
		"redirect": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			if !s.skipBody(head) {
				return ruleAnswered, false
			}
			return ruleAnswered, s.answer(s.redirect(r.Redirect), r.Redirect.Code, [2]byte{'P', 'R'}, true)
		},
		"set-header": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			s.edits = append(s.edits, edit{del: true, add: true, name: r.Header, value: s.expand(r.Value)})
			return ruleNext, false
		},
		"add-header": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			s.edits = append(s.edits, edit{add: true, name: r.Header, value: s.expand(r.Value)})
			return ruleNext, false
		},
		"del-header": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			s.edits = append(s.edits, edit{del: true, name: r.Header})
			return ruleNext, false
		},
		"replace-header": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			s.replaceHeader(s.req.Headers, r, false)
			return ruleNext, false
		},
		"replace-value": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			s.replaceHeader(s.req.Headers, r, true)
			return ruleNext, false
		},
		"set-path":      setLine(linePath),
		"set-pathq":     setLine(linePathQ),
		"set-query":     setLine(lineQuery),
		"set-uri":       setLine(lineURI),
		"set-method":    setLine(lineMethod),
		"replace-path":  replaceLine(linePath),
		"replace-pathq": replaceLine(linePathQ),
		"replace-uri":   replaceLine(lineURI),
		"set-var": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			setVar(&s.smp, &s.vars, r.Var, r.Expr)
			return ruleNext, false
		},
		"unset-var": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			s.vars.Unset(r.Var)
			return ruleNext, false
		},
		"set-log-level": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			s.logLevel = r.Level
			return ruleNext, false
		},
	}
}

// setVar stores an expression's value (nothing when it has no sample).
func setVar(c *sample.Ctx, vs *sample.Vars, ref sample.VarRef, e *sample.Expr) {
	m := c.Mark()
	if v, ok := e.Eval(c); ok {
		vs.Set(ref, v)
	}
	c.Release(m)
}

func runTCPRules(c *sample.Ctx, rules []config.TCPRule, kind string) bool {
	return tcpproxy.TCPRules(c, rules, kind)
}

func actDeny(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
	s.fe.Counters.Denied.Add(1)
	if !s.skipBody(head) {
		return ruleAnswered, false
	}
	page := denyPage(r.Status)
	if r.ContentType != "" {
		page = s.answerPage(r)
	}
	// HAProxy closes after a denial with 400 or 408, keeps the connection otherwise.
	return ruleAnswered, s.fail(page, r.Status, [2]byte{'P', 'R'}, r.Status != 400 && r.Status != 408)
}

// actTarpit holds the request for `timeout tarpit` (else `timeout connect`), then
// answers as deny does (500 by default).
func actTarpit(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
	d := p.Timeouts.Tarpit
	if d == 0 {
		d = p.Timeouts.Connect
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-s.ctx.Done():
		t.Stop()
		return ruleAnswered, false
	}
	s.entry.Term = [2]byte{'P', 'T'}
	res, _ := actDeny(s, p, r, head)
	s.lingerClose()
	return res, false
}

// answerPage is the answer of return (and deny with a body): cached when its body
// is a constant string, built per request for an lf-string.
func (s *session) answerPage(r *config.HTTPRule) []byte {
	if r.BodyFormat == nil {
		return s.e.returnPage(r)
	}
	start := len(s.arena)
	body := s.expand(r.BodyFormat)
	s.arena = append(s.arena[:start+len(body)], "HTTP/1.1 "...)
	s.arena = strconv.AppendInt(s.arena, int64(r.Status), 10)
	s.arena = append(s.arena, ' ')
	s.arena = append(s.arena, reasonOf(r.Status)...)
	s.arena = append(s.arena, "\r\ncontent-length: "...)
	s.arena = strconv.AppendInt(s.arena, int64(len(body)), 10)
	s.arena = append(s.arena, "\r\ncontent-type: "...)
	s.arena = append(s.arena, r.ContentType...)
	s.arena = append(s.arena, "\r\n\r\n"...)
	s.arena = append(s.arena, body...)
	return s.arena[start+len(body):]
}

func reasonOf(status int) string {
	if r := reasons[status]; r != "" {
		return r
	}
	return "Unknown"
}

// redirect builds the answer of a redirect rule as HAProxy 2.6 writes it.
func (s *session) redirect(rd *config.Redirect) []byte {
	start := len(s.arena)
	loc := s.expand(rd.Value)
	b := s.arena
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(rd.Code), 10)
	b = append(b, ' ')
	b = append(b, reasonOf(rd.Code)...)
	b = append(b, "\r\ncontent-length: 0\r\nlocation: "...)
	target := s.req.Target
	path, query, _ := sample.SplitTarget(target)
	switch rd.Type {
	case "location":
		b = append(b, loc...)
	case "prefix":
		if !(len(loc) == 1 && loc[0] == '/') {
			b = append(b, loc...)
		}
		b = append(b, path...)
		if rd.AppendSlash && (len(path) == 0 || path[len(path)-1] != '/') {
			b = append(b, '/')
		}
		if !rd.DropQuery && query != nil {
			b = append(b, '?')
			b = append(b, query...)
		}
	case "scheme":
		b = append(b, loc...)
		b = append(b, "://"...)
		if h, ok := s.req.Get("host"); ok {
			b = append(b, h...)
		}
		b = append(b, path...)
		if rd.AppendSlash && (len(path) == 0 || path[len(path)-1] != '/') {
			b = append(b, '/')
		}
		if !rd.DropQuery && query != nil {
			b = append(b, '?')
			b = append(b, query...)
		}
	}
	b = append(b, "\r\n"...)
	if rd.Code == 302 || rd.Code == 303 || rd.Code == 307 {
		b = append(b, "cache-control: no-cache\r\n"...)
	}
	if rd.SetCookie != "" {
		b = append(b, "set-cookie: "...)
		b = append(b, rd.SetCookie...)
		b = append(b, "; path=/;\r\n"...)
	}
	if rd.ClearCookie != "" {
		b = append(b, "set-cookie: "...)
		b = append(b, rd.ClearCookie...)
		b = append(b, "; path=/; Max-Age=0;\r\n"...)
	}
	b = append(b, "\r\n"...)
	s.arena = b
	return b[start+len(loc):]
}

// replaceHeader rewrites the values of a header with a regex and a format: the whole
// line (replace-header) or each comma-separated value (replace-value). The new
// values live in the arena.
func (s *session) replaceHeader(hs []http1.Header, r *config.HTTPRule, each bool) {
	repl := s.expand(r.Value)
	for i := range hs {
		h := &hs[i]
		if !equalFold(h.Name, r.Header) {
			continue
		}
		start := len(s.arena)
		if !each {
			s.arena = appendReplace(s.arena, r, h.Value, repl)
		} else {
			v := h.Value
			for first := true; ; first = false {
				part := v
				j := bytes.IndexByte(v, ',')
				if j >= 0 {
					part, v = v[:j], v[j+1:]
				}
				if !first {
					s.arena = append(s.arena, ',')
				}
				lead := len(part) - len(bytes.TrimLeft(part, " \t"))
				s.arena = append(s.arena, part[:lead]...)
				s.arena = appendReplace(s.arena, r, bytes.TrimLeft(part, " \t"), repl)
				if j < 0 {
					break
				}
			}
		}
		h.Value = s.arena[start:len(s.arena):len(s.arena)]
	}
}

// appendReplace appends v with the whole match of the regex replaced (HAProxy
// replaces the whole value when the regex matches it, with \1 references).
func appendReplace(b []byte, r *config.HTTPRule, v, repl []byte) []byte {
	m := r.Regex.FindSubmatchIndex(v)
	if m == nil || m[0] != 0 || m[1] != len(v) {
		return append(b, v...)
	}
	return r.Regex.Expand(b, goTemplate(repl), v, m)
}

// goTemplate turns \N references into Go's ${N}.
func goTemplate(t []byte) []byte {
	if bytes.IndexByte(t, '\\') < 0 && bytes.IndexByte(t, '$') < 0 {
		return t
	}
	out := make([]byte, 0, len(t)+8)
	for i := 0; i < len(t); i++ {
		switch {
		case t[i] == '\\' && i+1 < len(t) && t[i+1] >= '0' && t[i+1] <= '9':
			out = append(out, '$', '{', t[i+1], '}')
			i++
		case t[i] == '$':
			out = append(out, '$', '$')
		default:
			out = append(out, t[i])
		}
	}
	return out
}

// The parts of the request line that set-* and replace-* rewrite.
type linePart int

const (
	linePath linePart = iota
	linePathQ
	lineQuery
	lineURI
	lineMethod
)

// setTarget rebuilds the request target (or method) with part replaced by v.
func (s *session) setPart(part linePart, v []byte) {
	req := &s.req
	if part == lineMethod {
		req.Method = v
		return
	}
	t := req.Target
	pq, _ := sample.PathQuery(t)
	prefix := t[:len(t)-len(pq)] // the scheme and authority of an absolute-form target
	path, query, _ := sample.SplitTarget(t)
	start := len(s.arena)
	switch part {
	case lineURI:
		s.arena = append(s.arena, v...)
	case linePathQ:
		s.arena = append(append(s.arena, prefix...), v...)
	case linePath:
		s.arena = append(append(s.arena, prefix...), v...)
		if query != nil {
			s.arena = append(append(s.arena, '?'), query...)
		}
	case lineQuery:
		s.arena = append(append(s.arena, prefix...), path...)
		if len(v) > 0 {
			s.arena = append(append(s.arena, '?'), v...)
		}
	}
	req.Target = s.arena[start:len(s.arena):len(s.arena)]
}

func (s *session) linePart(part linePart) []byte {
	switch part {
	case lineMethod:
		return s.req.Method
	case lineURI:
		return s.req.Target
	case linePathQ:
		pq, _ := sample.PathQuery(s.req.Target)
		return pq
	}
	p, _, _ := sample.SplitTarget(s.req.Target)
	return p
}

func setLine(part linePart) requestAction {
	return func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
		s.setPart(part, s.expand(r.Value))
		return ruleNext, false
	}
}

func replaceLine(part linePart) requestAction {
	return func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
		cur := s.linePart(part)
		m := r.Regex.FindSubmatchIndex(cur)
		if m == nil {
			return ruleNext, false
		}
		repl := s.expand(r.Value)
		start := len(s.arena)
		s.arena = r.Regex.Expand(s.arena, goTemplate(repl), cur, m)
		s.setPart(part, s.arena[start:len(s.arena):len(s.arena)])
		return ruleNext, false
	}
}

// responseAction runs one http-response rule; it returns false when the response
// is denied.
type responseAction func(s *session, r *config.HTTPRule) (ruleResult, bool)

var responseActions map[string]responseAction

func init() {
	responseActions = map[string]responseAction{
		"allow": func(*session, *config.HTTPRule) (ruleResult, bool) { return ruleStop, true },
		"deny":  func(*session, *config.HTTPRule) (ruleResult, bool) { return ruleStop, false },
		"set-header": func(s *session, r *config.HTTPRule) (ruleResult, bool) {
			s.redits = append(s.redits, edit{del: true, add: true, name: r.Header, value: s.expand(r.Value)})
			return ruleNext, true
		},
		"add-header": func(s *session, r *config.HTTPRule) (ruleResult, bool) {
			s.redits = append(s.redits, edit{add: true, name: r.Header, value: s.expand(r.Value)})
			return ruleNext, true
		},
		"del-header": func(s *session, r *config.HTTPRule) (ruleResult, bool) {
			s.redits = append(s.redits, edit{del: true, name: r.Header})
			return ruleNext, true
		},
		"replace-header": func(s *session, r *config.HTTPRule) (ruleResult, bool) {
			s.replaceHeader(s.resp.Headers, r, false)
			return ruleNext, true
		},
		"replace-value": func(s *session, r *config.HTTPRule) (ruleResult, bool) {
			s.replaceHeader(s.resp.Headers, r, true)
			return ruleNext, true
		},
		"set-status": func(s *session, r *config.HTTPRule) (ruleResult, bool) {
			s.resp.Status = r.Status
			if r.Reason != "" {
				s.resp.Reason = []byte(r.Reason)
			} else {
				s.resp.Reason = []byte(reasonOf(r.Status))
			}
			return ruleNext, true
		},
		"set-var": func(s *session, r *config.HTTPRule) (ruleResult, bool) {
			setVar(&s.smp, &s.vars, r.Var, r.Expr)
			return ruleNext, true
		},
		"unset-var": func(s *session, r *config.HTTPRule) (ruleResult, bool) {
			s.vars.Unset(r.Var)
			return ruleNext, true
		},
		"set-log-level": func(s *session, r *config.HTTPRule) (ruleResult, bool) {
			s.logLevel = r.Level
			return ruleNext, true
		},
	}
}

// responseRules runs http-response (or http-after-response) rules; it returns the
// denying rule, or nil.
func (s *session) responseRules(rules []config.HTTPRule) *config.HTTPRule {
	for i := range rules {
		r := &rules[i]
		if r.Cond != nil && !r.Cond.Eval(&s.smp) {
			continue
		}
		act := responseActions[r.Action]
		if act == nil {
			continue
		}
		res, ok := act(s, r)
		if !ok {
			return r
		}
		if res == ruleStop {
			return nil
		}
	}
	return nil
}

// forwardFor applies `option forwardfor` of the frontend or the backend: it reports
// whether writeRequestHead adds the plain x-forwarded-for header, or adds the header
// itself as an edit when it has another name or conditions.
func (s *session) forwardFor(fe, be *config.Proxy) bool {
	for _, p := range [2]*config.Proxy{be, fe} {
		if !p.Options.ForwardFor {
			continue
		}
		ff := &p.ForwardFor
		src := s.src.Addr().Unmap()
		if ff.Except.IsValid() && ff.Except.Contains(src) {
			return false
		}
		name := ff.Header
		if name == "" {
			name = "x-forwarded-for"
		}
		if ff.IfNone {
			if _, ok := s.Get(name); ok {
				return false
			}
		}
		if ff.Header == "" && !ff.IfNone && !ff.Except.IsValid() {
			return true
		}
		start := len(s.arena)
		s.arena = src.AppendTo(s.arena)
		s.edits = append(s.edits, edit{add: true, name: name, value: s.arena[start:len(s.arena):len(s.arena)]})
		return false
	}
	return false
}

// connectionRules runs the tcp-request connection and session rules of a new
// connection; false means it is rejected (closed without an answer).
func connectionRules(c *sample.Ctx, fe *config.Proxy) bool {
	return runTCPRules(c, fe.TCPRequest, "connection") && runTCPRules(c, fe.TCPRequest, "session")
}

// monitor answers a request for `monitor-uri`: 200, or 503 when a `monitor fail`
// condition holds.
func (s *session) monitor(head []byte) (done, keep bool) {
	p := s.fe.Cfg
	if p.MonitorURI == "" || string(s.req.Target) != p.MonitorURI {
		return false, false
	}
	status := 200
	for _, c := range p.MonitorFail {
		if c.Eval(&s.smp) {
			status = 503
			break
		}
	}
	if !s.skipBody(head) {
		return true, false
	}
	return true, s.answer(page(status), status, [2]byte{'P', 'R'}, true)
}
