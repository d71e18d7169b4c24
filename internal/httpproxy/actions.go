package httpproxy

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"hitless/internal/config"
	"hitless/internal/http1"
	"hitless/internal/proxy"
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
			return ruleAnswered, s.answer(s.answerPage(r), r.Status, [2]byte{'L', 'R'}, true)
		},
		"use-service": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			s.intercepted(p)
			return ruleAnswered, s.service(p, r.Service, head)
		},
		"redirect": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			if !s.skipBody(head) {
				return ruleAnswered, false
			}
			page := s.redirect(r.Redirect)
			if page == nil {
				s.countFailedRewrite()
				return ruleAnswered, s.fail(page500, 500, [2]byte{'P', 'R'}, false)
			}
			return ruleAnswered, s.answer(page, r.Redirect.Code, [2]byte{'L', 'R'}, true)
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
			if !s.replaceHeader(s.req.Headers, r, false) {
				return s.rewriteFailed(head)
			}
			return ruleNext, false
		},
		"replace-value": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			if !s.replaceHeader(s.req.Headers, r, true) {
				return s.rewriteFailed(head)
			}
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
		"set-map": patternAction(func(s *session, r *config.HTTPRule) {
			r.File.Upsert(string(s.expand(r.Value)), string(s.expand(r.Value2)))
		}),
		"add-acl": patternAction(func(s *session, r *config.HTTPRule) { r.File.AddMissing(string(s.expand(r.Value))) }),
		"del-map": patternAction(func(s *session, r *config.HTTPRule) { r.File.Delete(string(s.expand(r.Value))) }),
		"del-acl": patternAction(func(s *session, r *config.HTTPRule) { r.File.Delete(string(s.expand(r.Value))) }),
		"capture": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			s.capture(r, s.reqCaps, s.fe.Cfg.ReqCaptures)
			return ruleNext, false
		},
		"auth": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			if !s.skipBody(head) {
				return ruleAnswered, false
			}
			return ruleAnswered, s.answer(s.e.authPage(r), 401, [2]byte{'L', 'R'}, true)
		},
		"early-hint": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			// A 103 per rule, at once, as HAProxy 2.6 sends them (not to HTTP/1.0).
			if s.req.Minor == 0 {
				return ruleNext, false
			}
			v := s.expand(r.Value)
			s.bw.WriteString("HTTP/1.1 103 Early Hints\r\n")
			s.bw.WriteString(strings.ToLower(r.Header))
			s.bw.WriteString(": ")
			s.bw.Write(v)
			s.bw.WriteString("\r\n\r\n")
			s.bw.Flush()
			return ruleNext, false
		},
		"normalize-uri": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			if !s.normalize(r) {
				if !s.skipBody(head) {
					return ruleAnswered, false
				}
				return ruleAnswered, s.fail(page400Parse, 400, [2]byte{'P', 'R'}, false)
			}
			return ruleNext, false
		},
		"disable-l7-retry": func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
			return ruleNext, false // hitless has no layer 7 retries to disable (retry-on)
		},
		"set-src":      setAddr(func(s *session) *netip.AddrPort { return &s.src }, false),
		"set-src-port": setAddr(func(s *session) *netip.AddrPort { return &s.src }, true),
		"set-dst":      setAddr(func(s *session) *netip.AddrPort { return &s.dst }, false),
		"set-dst-port": setAddr(func(s *session) *netip.AddrPort { return &s.dst }, true),
	}
}

// patternAction wraps the set-map, add-acl, del-map and del-acl actions. They change
// the file for every request at once (a pattern that does not compile is refused).
func patternAction(f func(s *session, r *config.HTTPRule)) requestAction {
	return func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
		f(s, r)
		return ruleNext, false
	}
}

// setAddr is set-src, set-dst and their -port forms: the expression's address or
// port replaces the connection's, for the following rules, the server and the log.
func setAddr(field func(s *session) *netip.AddrPort, port bool) requestAction {
	return func(s *session, p *config.Proxy, r *config.HTTPRule, head []byte) (ruleResult, bool) {
		m := s.smp.Mark()
		defer s.smp.Release(m)
		ap := field(s)
		if port {
			if v, ok := r.Expr.EvalAs(&s.smp, sample.TInt); ok && v.Int >= 0 && v.Int <= 65535 {
				*ap = netip.AddrPortFrom(ap.Addr(), uint16(v.Int))
			}
		} else if v, ok := r.Expr.EvalAs(&s.smp, sample.TAddr); ok {
			*ap = netip.AddrPortFrom(v.Addr, ap.Port())
		}
		e := &s.entry
		e.ClientIP, e.ClientPort, e.FrontendAddr = s.src.Addr(), int(s.src.Port()), s.dst
		return ruleNext, false
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
	if r.ContentType != "" || r.Raw != nil || len(r.Hdrs) > 0 {
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
	if r.BodyFormat == nil && len(r.Hdrs) == 0 {
		return s.e.returnPage(r)
	}
	var body []byte
	if r.BodyFormat != nil {
		body = s.expand(r.BodyFormat)
	} else {
		body = []byte(r.Body)
	}
	// The headers' values first, then the answer after them in the arena.
	type hv struct{ name, value []byte }
	var local [4]hv
	vals := local[:0]
	for _, h := range r.Hdrs {
		v := s.expand(h.Value)
		if !http1.ValidFieldValue(v) {
			// A value built from request data must not split the answer's head: the
			// header is left out and the failed rewrite counted.
			s.countFailedRewrite()
			continue
		}
		vals = append(vals, hv{sbytes(h.Name), v})
	}
	start := len(s.arena)
	s.arena = append(s.arena, "HTTP/1.1 "...)
	s.arena = strconv.AppendInt(s.arena, int64(r.Status), 10)
	s.arena = append(s.arena, ' ')
	s.arena = append(s.arena, reasonOf(r.Status)...)
	s.arena = append(s.arena, "\r\n"...)
	for _, h := range vals {
		s.arena = append(append(append(append(s.arena, h.name...), ": "...), h.value...), "\r\n"...)
	}
	s.arena = append(s.arena, "content-length: "...)
	s.arena = strconv.AppendInt(s.arena, int64(len(body)), 10)
	if r.ContentType != "" {
		s.arena = append(append(s.arena, "\r\ncontent-type: "...), r.ContentType...)
	}
	s.arena = append(s.arena, "\r\n\r\n"...)
	s.arena = append(s.arena, body...)
	return s.arena[start:]
}

// sbytes views a constant string as bytes that are only read.
func sbytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func reasonOf(status int) string { return config.Reason(status) }

// redirect builds the answer of a redirect rule as HAProxy 2.6 writes it.
//
// It returns nil when the location built from the request holds a control byte (a
// decoded line break would split the answer's head).
func (s *session) redirect(rd *config.Redirect) []byte {
	start := len(s.arena)
	loc := s.expand(rd.Value)
	if !http1.ValidFieldValue(loc) {
		return nil
	}
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
		b = appendRedirectPath(b, rd, path, query)
	case "scheme":
		b = append(b, loc...)
		b = append(b, "://"...)
		if h, ok := s.req.Get("host"); ok {
			b = append(b, h...)
		}
		b = appendRedirectPath(b, rd, path, query)
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

// appendRedirectPath appends the request's path (with a slash added for
// append-slash) and its query (unless drop-query) to a prefix or scheme redirect.
func appendRedirectPath(b []byte, rd *config.Redirect, path, query []byte) []byte {
	b = append(b, path...)
	if rd.AppendSlash && (len(path) == 0 || path[len(path)-1] != '/') {
		b = append(b, '/')
	}
	if !rd.DropQuery && query != nil {
		b = append(b, '?')
		b = append(b, query...)
	}
	return b
}

// rewriteFailed answers a request whose rewrite would have produced an invalid
// request line or field: 500, counted in wrew, as HAProxy 2.6 does under its default
// `strict-mode on`.
func (s *session) rewriteFailed(head []byte) (ruleResult, bool) {
	s.countFailedRewrite()
	s.skipBody(head)
	return ruleAnswered, s.fail(page500, 500, [2]byte{'P', 'R'}, false)
}

// countFailedRewrite counts a rewrite refused for its result (wrew).
func (s *session) countFailedRewrite() {
	s.fe.Counters.FailedRewrites.Add(1)
	if s.be != nil {
		s.be.Counters.FailedRewrites.Add(1)
	}
}

// replaceHeader rewrites the values of a header with a regex and a format: the whole
// line (replace-header) or each comma-separated value (replace-value). The new
// values live in the arena. It reports false, leaving the value as it was, when a
// new value holds a control byte (a line break would split the head).
func (s *session) replaceHeader(hs []http1.Header, r *config.HTTPRule, each bool) bool {
	ok := true
	s.hdrGen++
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
		if v := s.arena[start:len(s.arena):len(s.arena)]; http1.ValidFieldValue(v) {
			h.Value = v
		} else {
			ok = false
		}
	}
	return ok
}

// appendReplace appends v with the whole match of the regex replaced (HAProxy
// replaces the whole value when the regex matches it, with \1 references).
func appendReplace(b []byte, r *config.HTTPRule, v, repl []byte) []byte {
	m := r.Regex.FindSubmatchIndex(v)
	if m == nil || m[0] != 0 || m[1] != len(v) {
		return append(b, v...)
	}
	return r.Regex.Expand(b, sample.Backrefs(repl), v, m)
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

// setPart rebuilds the request target (or method) with part replaced by v. It
// reports false, changing nothing, when the result is not a valid request line
// (http1.Request.SetTarget): a value built from request data (a decoded URL, a
// header) must not split the line or change its form.
func (s *session) setPart(part linePart, v []byte) bool {
	req := &s.req
	if part == lineMethod {
		return req.SetMethod(v) == nil
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
	return req.SetTarget(s.arena[start:len(s.arena):len(s.arena)]) == nil
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
		if !s.setPart(part, s.expand(r.Value)) {
			return s.rewriteFailed(head)
		}
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
		s.arena = r.Regex.Expand(s.arena, sample.Backrefs(repl), cur, m)
		if !s.setPart(part, s.arena[start:len(s.arena):len(s.arena)]) {
			return s.rewriteFailed(head)
		}
		return ruleNext, false
	}
}

// responseAction runs one http-response rule; it returns false when the response
// is denied.
type responseAction func(s *session, r *config.HTTPRule) (ruleResult, bool)

var responseActions map[string]responseAction

func init() {
	responseActions = map[string]responseAction{
		"allow":    func(*session, *config.HTTPRule) (ruleResult, bool) { return ruleStop, true },
		"deny":     func(*session, *config.HTTPRule) (ruleResult, bool) { return ruleStop, false },
		"return":   func(*session, *config.HTTPRule) (ruleResult, bool) { return ruleStop, false },
		"redirect": func(*session, *config.HTTPRule) (ruleResult, bool) { return ruleStop, false },
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
			if !s.replaceHeader(s.resp.Headers, r, false) {
				// The value stays as the server sent it; the failure is counted.
				s.countFailedRewrite()
			}
			return ruleNext, true
		},
		"replace-value": func(s *session, r *config.HTTPRule) (ruleResult, bool) {
			if !s.replaceHeader(s.resp.Headers, r, true) {
				// The value stays as the server sent it; the failure is counted.
				s.countFailedRewrite()
			}
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
		"capture": func(s *session, r *config.HTTPRule) (ruleResult, bool) {
			s.capture(r, s.resCaps, s.fe.Cfg.ResCaptures)
			return ruleNext, true
		},
	}
	for _, name := range []string{"set-map", "add-acl", "del-map", "del-acl"} {
		req := requestActions[name]
		responseActions[name] = func(s *session, r *config.HTTPRule) (ruleResult, bool) {
			req(s, nil, r, nil)
			return ruleNext, true
		}
	}
}

// answerResponse answers in place of the server's response when an http-response
// rule denies it, returns its own answer or redirects.
func (s *session) answerResponse(r *config.HTTPRule, keep bool) bool {
	switch r.Action {
	case "return":
		return s.answer(s.answerPage(r), r.Status, [2]byte{'L', 'H'}, keep)
	case "redirect":
		page := s.redirect(r.Redirect)
		if page == nil {
			s.countFailedRewrite()
			return s.fail(page502, 502, [2]byte{'P', 'H'}, false)
		}
		return s.answer(page, r.Redirect.Code, [2]byte{'L', 'H'}, keep)
	}
	s.fe.Counters.Denied.Add(1)
	page := denyPage(r.Status)
	if r.ContentType != "" || r.Raw != nil || len(r.Hdrs) > 0 {
		page = s.answerPage(r)
	}
	return s.fail(page, r.Status, [2]byte{'P', 'H'}, keep)
}

// responseRules runs http-response (or http-after-response) rules; it returns the
// denying rule, or nil.
func (s *session) responseRules(rules []config.HTTPRule) *config.HTTPRule {
	if !s.resCaptured {
		// The response's header captures, once, before its first rules run.
		s.resCaptured = true
		s.captureHeaders(s.fe.Cfg.ResCaptures, s.resCaps, s.resp.Headers)
	}
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
	s.originalTo(fe, be)
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

// originalTo applies `option originalto`: X-Original-To (or its header) with the
// address the client connected to, unless it is in the except network.
func (s *session) originalTo(fe, be *config.Proxy) {
	for _, p := range [2]*config.Proxy{be, fe} {
		if !p.Options.OriginalTo {
			continue
		}
		ot := &p.OriginalTo
		dst := s.dst.Addr().Unmap()
		if ot.Except.IsValid() && ot.Except.Contains(dst) {
			return
		}
		name := ot.Header
		if name == "" {
			name = "x-original-to"
		}
		start := len(s.arena)
		s.arena = dst.AppendTo(s.arena)
		s.edits = append(s.edits, edit{add: true, name: name, value: s.arena[start:len(s.arena):len(s.arena)]})
		return
	}
}

// connectionRules runs the tcp-request connection and session rules of a new
// connection; false means it is rejected (closed without an answer).
func connectionRules(c *sample.Ctx, fe *config.Proxy, counters *proxy.Counters) bool {
	if !runTCPRules(c, fe.TCPRequest, "connection") {
		counters.DeniedConn.Add(1)
		return false
	}
	if !runTCPRules(c, fe.TCPRequest, "session") {
		counters.DeniedSess.Add(1)
		return false
	}
	return true
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
	s.logged = true // HAProxy does not log monitor requests
	return true, s.answer(page(status), status, [2]byte{'L', 'R'}, true)
}

// startCaptures sizes the capture slots of a new request and captures its headers.
func (s *session) startCaptures() {
	p := s.fe.Cfg
	s.reqCaps, s.resCaps = slots(s.reqCaps, len(p.ReqCaptures)), slots(s.resCaps, len(p.ResCaptures))
	s.entry.ReqCaptures, s.entry.ResCaptures = nil, nil
	if len(s.reqCaps) > 0 {
		s.entry.ReqCaptures = s.reqCaps
	}
	if len(s.resCaps) > 0 {
		s.entry.ResCaptures = s.resCaps
	}
	s.smp.SetCaptures(s.reqCaps, s.resCaps)
	s.captureHeaders(p.ReqCaptures, s.reqCaps, s.req.Headers)
	s.resCaptured = false
}

func slots(b [][]byte, n int) [][]byte {
	b = b[:0]
	for i := 0; i < n; i++ {
		b = append(b, nil)
	}
	return b
}

// captureHeaders copies the last occurrence of each captured header, cut to its
// length, into its slot.
func (s *session) captureHeaders(caps []config.Capture, into [][]byte, hs []http1.Header) {
	for i, c := range caps {
		if c.Header == "" {
			continue
		}
		for j := len(hs) - 1; j >= 0; j-- {
			if equalFold(hs[j].Name, c.Header) {
				into[i] = s.keep(hs[j].Value, c.Len)
				break
			}
		}
	}
}

// keep copies at most n bytes of v into the arena.
func (s *session) keep(v []byte, n int) []byte {
	if len(v) > n {
		v = v[:n]
	}
	start := len(s.arena)
	s.arena = append(s.arena, v...)
	return s.arena[start:len(s.arena):len(s.arena)]
}

// capture is `http-request|http-response capture SAMPLE len|id N`.
func (s *session) capture(r *config.HTTPRule, into [][]byte, caps []config.Capture) {
	if r.Status >= len(into) {
		return
	}
	m := s.smp.Mark()
	defer s.smp.Release(m)
	v, ok := r.Expr.EvalAs(&s.smp, sample.TStr)
	if !ok {
		return
	}
	into[r.Status] = s.keep(v.B, caps[r.Status].Len)
}

// authPage is the 401 of `http-request auth`: HAProxy's page with the realm in
// www-authenticate (a '"' in the realm becomes '\”), built once per rule.
func (e *Engine) authPage(r *config.HTTPRule) []byte {
	if b, ok := e.answers.Load(r); ok {
		return b.([]byte)
	}
	p := page(401)
	i := indexHeadEnd(p)
	realm := bytes.ReplaceAll([]byte(r.Body), []byte(`"`), []byte("'"))
	b := append(append([]byte(nil), p[:i+2]...), "www-authenticate: Basic realm=\""...)
	b = append(append(b, realm...), "\"\r\n"...)
	b = append(b, p[i+2:]...)
	v, _ := e.answers.LoadOrStore(r, b)
	return v.([]byte)
}
