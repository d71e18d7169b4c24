package config

import (
	"fmt"
	"strconv"
	"strings"

	"hitless/internal/logformat"
	"hitless/internal/sample"
)

// splitCond separates a rule's words from its trailing `if|unless` condition.
func splitCond(args []string) (rule, cond []string) {
	for i, w := range args {
		if w == "if" || w == "unless" {
			return args[:i], args[i:]
		}
	}
	return args, nil
}

func kwHTTPRequest(ps *parser, p *Proxy, a []string) error {
	ps.needHTTP(p, "'http-request' rules")
	r, err := parseHTTPRule(ps, p, a, map[string]bool{"return": true, "deny": true, "set-header": true, "add-header": true, "del-header": true, "use-service": true})
	if err != nil {
		return err
	}
	p.HTTPRequest = append(p.HTTPRequest, r)
	return nil
}

func kwHTTPResponse(ps *parser, p *Proxy, a []string) error {
	ps.needHTTP(p, "'http-response' rules")
	r, err := parseHTTPRule(ps, p, a, map[string]bool{"set-header": true, "del-header": true, "add-header": true})
	if err != nil {
		return err
	}
	p.HTTPResponse = append(p.HTTPResponse, r)
	return nil
}

// haproxyHTTPActions are HAProxy 2.6's http-request/http-response actions.
const haproxyHTTPActions = "add-acl add-header allow auth cache-use capture del-acl del-header del-map deny disable-l7-retry do-resolve early-hint normalize-uri redirect reject replace-header replace-path replace-pathq replace-uri replace-value return sc-inc-gpc sc-inc-gpc0 sc-inc-gpc1 sc-set-gpt0 send-spoe-group set-dst set-dst-port set-header set-log-level set-map set-mark set-method set-nice set-path set-pathq set-priority-class set-priority-offset set-query set-src set-src-port set-timeout set-tos set-uri set-var silent-drop strict-mode tarpit track-sc0 track-sc1 track-sc2 unset-var use-service wait-for-body wait-for-handshake set-status cache-store"

func parseHTTPRule(ps *parser, p *Proxy, a []string, allowed map[string]bool) (HTTPRule, error) {
	r := HTTPRule{Pos: ps.pos}
	if len(a) < 2 {
		return r, fmt.Errorf("'%s' expects an action", a[0])
	}
	words, cond := splitCond(a[1:])
	if len(words) == 0 {
		return r, fmt.Errorf("'%s' expects an action before '%s'", a[0], cond[0])
	}
	action := words[0]
	args := words[1:]
	if !allowed[action] {
		if strings.Contains(" "+haproxyHTTPActions+" ", " "+action+" ") {
			return r, fmt.Errorf("'%s %s' is not supported yet", a[0], action)
		}
		return r, fmt.Errorf("'%s' unknown action '%s'", a[0], action)
	}
	r.Action = action
	switch action {
	case "return":
		r.Status = 200
		for len(args) > 0 {
			if len(args) < 2 {
				return r, fmt.Errorf("'%s return' : '%s' expects an argument", a[0], args[0])
			}
			switch args[0] {
			case "status":
				n, err := strconv.Atoi(args[1])
				if err != nil || n < 200 || n > 599 {
					return r, fmt.Errorf("'%s return' : status code must be between 200 and 599 (got '%s')", a[0], args[1])
				}
				r.Status = n
			case "content-type":
				r.ContentType = args[1]
			case "string":
				r.Body = args[1]
			case "lf-string", "file", "lf-file", "errorfile", "errorfiles", "hdr":
				return r, fmt.Errorf("'%s return' : '%s' is not supported yet", a[0], args[0])
			default:
				return r, fmt.Errorf("'%s return' : unknown keyword '%s'", a[0], args[0])
			}
			args = args[2:]
		}
		if r.Body != "" && r.ContentType == "" {
			return r, fmt.Errorf("'%s return' : a 'content-type' is required with a body", a[0])
		}
	case "deny":
		r.Status = 403
		for len(args) > 0 {
			if args[0] != "deny_status" || len(args) < 2 {
				return r, fmt.Errorf("'%s deny' : '%s' is not supported yet", a[0], args[0])
			}
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 200 || n > 599 {
				return r, fmt.Errorf("'%s deny' : status code must be between 200 and 599 (got '%s')", a[0], args[1])
			}
			r.Status = n
			args = args[2:]
		}
	case "set-header", "add-header":
		if len(args) != 2 {
			return r, fmt.Errorf("'%s %s' expects exactly 2 arguments.", a[0], action)
		}
		if err := validHeaderName(args[0]); err != nil {
			return r, fmt.Errorf("'%s %s' : %v", a[0], action, err)
		}
		t, err := ps.parseTemplate(p, a[0], args[1])
		if err != nil {
			return r, fmt.Errorf("'%s %s' : %v", a[0], action, err)
		}
		r.Header, r.Value = args[0], t
	case "use-service":
		if len(args) == 0 {
			return r, fmt.Errorf("'%s use-service' expects a service name.", a[0])
		}
		if !HTTPServices[args[0]] {
			return r, fmt.Errorf("'%s use-service' : '%s' unknown service name.", a[0], args[0])
		}
		if len(args) > 1 {
			return r, fmt.Errorf("'%s use-service' expects either 'if' or 'unless' followed by a condition but found '%s'.", a[0], args[1])
		}
		r.Service = args[0]
	case "del-header":
		if len(args) != 1 {
			if len(args) > 1 && args[1] == "-m" {
				return r, fmt.Errorf("'%s del-header -m' is not supported yet", a[0])
			}
			return r, fmt.Errorf("'%s del-header' expects exactly 1 argument.", a[0])
		}
		if err := validHeaderName(args[0]); err != nil {
			return r, fmt.Errorf("'%s del-header' : %v", a[0], err)
		}
		r.Header = args[0]
	}
	if cond != nil {
		c, err := ps.cond(p, cond)
		if err != nil {
			return r, fmt.Errorf("error detected while parsing an '%s %s' condition : %v.", a[0], action, err)
		}
		r.Cond = c
	}
	return r, nil
}

func validHeaderName(h string) error {
	if h == "" {
		return fmt.Errorf("empty header name")
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return fmt.Errorf("invalid character in header name '%s'", h)
		}
	}
	return nil
}

// where is the evaluation point of a rule of kind ("http-request", "http-response",
// "tcp-request connection", ...) in p: a listen section runs its rules at the
// frontend's and the backend's point at once.
func where(p *Proxy, kind string) sample.Where {
	var w sample.Where
	fe, be := p.Cap&CapFrontend != 0 || p.Kind == "defaults", p.Cap&CapBackend != 0 || p.Kind == "defaults"
	pick := func(f, b sample.Where) {
		if fe {
			w |= f
		}
		if be {
			w |= b
		}
	}
	switch kind {
	case "http-request":
		pick(sample.AtFEHReq, sample.AtBEHReq)
	case "http-response":
		pick(sample.AtFEHRes, sample.AtBEHRes)
	case "http-after-response":
		w = sample.AtAfterRes
	case "tcp-request connection":
		w = sample.AtFEConn
	case "tcp-request session":
		w = sample.AtFESess
	case "tcp-request content":
		pick(sample.AtFEContent, sample.AtBEContent)
	case "use_backend":
		w = sample.AtFESetBack
	case "use-server":
		w = sample.AtBESetSrv
	}
	return w
}

// parseTemplate parses a header value or lf-string: a log-format string whose
// %[...] expressions run where the rule runs.
func (ps *parser) parseTemplate(p *Proxy, kind, s string) (*logformat.Format, error) {
	return logformat.ParseAt(s, where(p, kind), &sample.Parser{Files: ps.cfg.Patterns})
}
