package config

import (
	"fmt"
	"strings"

	"hitless/internal/checkrule"
)

// Checks are the health-check settings of a proxy: which check runs (`option
// tcp-check`, `option httpchk`, a protocol check), the `tcp-check` and `http-check`
// lines, and the ruleset built from them once every file is read.
type Checks struct {
	// Type is "" (a TCP connect), "tcp-check", "httpchk" or a protocol check option
	// ("redis-check", "mysql-check", ...).
	Type    string
	TypePos Pos
	Args    []string // the protocol option's arguments
	// TCP and HTTP are the `tcp-check` and `http-check` rule lines, in order; they
	// are parsed once per line for errors and again per proxy at the end, so that
	// proxies never share rules.
	TCP, HTTP []ruleLine
	// tcpInherited and httpInherited tell lines copied from a defaults section: a
	// proxy's own first line replaces them.
	tcpInherited, httpInherited bool
	DisableOn404                bool
	SendState                   bool
	// ExternalCommand and ExternalPath are `external-check command` and `path`
	// (PATH of the program; empty when unset, as in HAProxy).
	ExternalCommand, ExternalPath string
	// Ruleset is what runs, built by finish; nil for a TCP connect.
	Ruleset *checkrule.Ruleset `json:"-"`
}

type ruleLine struct {
	Pos  Pos
	Args []string
}

func init() {
	proxyKeywords["tcp-check"] = kw{"dbl", kwTCPCheck}
	proxyKeywords["http-check"] = kw{"dbl", kwHTTPCheckRule}
	options["tcp-check"] = checkOption("tcp-check")
	options["httpchk"] = optHTTPChk
	for name := range checkrule.Options {
		options[name] = checkOption(name)
	}
	options["log-health-checks"] = flagOpt(func(p *Proxy) *bool { return &p.Options.LogHealthChecks })
	options["spop-check"] = func(p *Proxy, on bool, args []string) error {
		return fmt.Errorf("SPOP checks need an SPOE agent and are not supported yet")
	}
	options["external-check"] = checkOption("external-check")
	proxyKeywords["external-check"] = kw{"dbl", kwExternalCheck}
	globalKeywords["external-check"] = func(ps *parser, g *Global, a []string) error {
		g.ExternalCheck = true
		return noArgs(a)
	}
	globalKeywords["insecure-fork-wanted"] = func(ps *parser, g *Global, a []string) error {
		g.InsecureForkWanted = true
		return noArgs(a)
	}
}

// checkOption selects a check type. Protocol checks validate their arguments here.
func checkOption(name string) func(p *Proxy, on bool, args []string) error {
	return func(p *Proxy, on bool, args []string) error {
		if !on {
			if p.Checks.Type == name {
				p.Checks.Type, p.Checks.Args = "", nil
			}
			return nil
		}
		if o, ok := checkrule.Options[name]; ok {
			if _, err := o.Build(args); err != nil {
				return err
			}
		} else if len(args) > 0 {
			return fmt.Errorf("'%s' cannot handle unexpected argument '%s'.", name, args[0])
		}
		p.Checks.Type, p.Checks.Args = name, append([]string(nil), args...)
		return nil
	}
}

// optHTTPChk is `option httpchk [METHOD] [URI] [VERSION]`. A version followed by
// `\r\n` and header lines (the old way of adding headers) is split into them.
func optHTTPChk(p *Proxy, on bool, args []string) error {
	if !on {
		if p.Checks.Type == "httpchk" {
			p.Checks.Type = ""
		}
		p.HTTPCheck = nil
		return nil
	}
	hc := &HTTPCheck{Method: "OPTIONS", URI: "/", Version: "HTTP/1.0"}
	switch len(args) {
	case 0:
	case 1:
		hc.URI = args[0]
	case 2:
		hc.Method, hc.URI = args[0], args[1]
	case 3:
		hc.Method, hc.URI, hc.Version = args[0], args[1], args[2]
	default:
		return fmt.Errorf("'option httpchk' expects at most 3 arguments")
	}
	if v, extra, ok := strings.Cut(hc.Version, "\r\n"); ok {
		hc.Version = v
		for _, l := range strings.Split(extra, "\r\n") {
			name, value, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			hc.Headers = append(hc.Headers, [2]string{strings.TrimSpace(name), strings.TrimSpace(value)})
		}
	}
	p.HTTPCheck = hc
	p.Checks.Type = "httpchk"
	return nil
}

// kwExternalCheck is `external-check command CMD` and `external-check path PATH`.
func kwExternalCheck(ps *parser, p *Proxy, a []string) error {
	if len(a) != 3 || a[1] != "command" && a[1] != "path" {
		return fmt.Errorf("'external-check' expects 'command <command>' or 'path <path>'.")
	}
	if a[1] == "command" {
		p.Checks.ExternalCommand = a[2]
	} else {
		p.Checks.ExternalPath = a[2]
	}
	return nil
}

func kwTCPCheck(ps *parser, p *Proxy, a []string) error {
	if p.Checks.tcpInherited {
		p.Checks.TCP, p.Checks.tcpInherited = nil, false
	}
	return addRule(ps, &p.Checks.TCP, a)
}

// addRule parses a rule line and appends it. A connect must come first (after
// comments and variables), as HAProxy checks when it reads the connect.
func addRule(ps *parser, lines *[]ruleLine, a []string) error {
	r, err := checkrule.Parse(a)
	if err != nil {
		return err
	}
	if r.Action == checkrule.Connect {
		for _, l := range *lines {
			if len(l.Args) > 1 {
				switch prev := l.Args[1]; {
				case prev == "comment", prev == "connect", strings.HasPrefix(prev, "set-var"), strings.HasPrefix(prev, "unset-var"):
				default:
					return fmt.Errorf("'%s connect' : first step MUST also be a 'connect', optionally preceded by a 'set-var', an 'unset-var' or a 'comment', when there is a 'connect' step in the %s ruleset.", a[0], a[0])
				}
			}
		}
	}
	*lines = append(*lines, ruleLine{ps.pos, append([]string(nil), a...)})
	return nil
}

func kwHTTPCheckRule(ps *parser, p *Proxy, a []string) error {
	if len(a) >= 2 {
		switch a[1] {
		case "disable-on-404":
			p.Checks.DisableOn404 = true
			return noArgs(a[1:])
		case "send-state":
			p.Checks.SendState = true
			return noArgs(a[1:])
		}
	}
	if p.Checks.httpInherited {
		p.Checks.HTTP, p.Checks.httpInherited = nil, false
	}
	return addRule(ps, &p.Checks.HTTP, a)
}

// inheritChecks copies a defaults section's check settings into a proxy.
func inheritChecks(p, d *Proxy) {
	p.Checks = d.Checks
	p.Checks.Args = append([]string(nil), d.Checks.Args...)
	p.Checks.TCP = append([]ruleLine(nil), d.Checks.TCP...)
	p.Checks.HTTP = append([]ruleLine(nil), d.Checks.HTTP...)
	p.Checks.tcpInherited, p.Checks.httpInherited = true, true
	p.Checks.Ruleset = nil
}

// buildChecks builds the ruleset of a backend from its settings.
func (ps *parser) buildChecks(p *Proxy) {
	c := &p.Checks
	if !p.IsBackend() {
		return
	}
	// Rules of a check that does not run are ignored, with HAProxy's warning.
	kind := "backend"
	if p.Kind == "listen" {
		kind = "listener"
	}
	if len(c.TCP) > 0 && !c.tcpInherited && c.Type != "tcp-check" {
		ps.cfg.Warnings = append(ps.cfg.Warnings, fmt.Sprintf("%s '%s' uses tcp-check rules without 'option tcp-check', so the rules are ignored.", kind, p.Name))
	}
	if len(c.HTTP) > 0 && !c.httpInherited && c.Type != "httpchk" {
		ps.cfg.Warnings = append(ps.cfg.Warnings, fmt.Sprintf("%s '%s' uses http-check rules without 'option httpchk', so the rules are ignored.", kind, p.Name))
	}
	var rs *checkrule.Ruleset
	var lines []ruleLine
	switch c.Type {
	case "":
		return
	case "external-check":
		ps.checkExternal(p)
		return
	case "tcp-check":
		rs, lines = &checkrule.Ruleset{Kind: "tcp-check"}, c.TCP
	case "httpchk":
		rs, lines = &checkrule.Ruleset{Kind: "http-check", DisableOn404: c.DisableOn404, SendState: c.SendState}, c.HTTP
	default:
		built, err := checkrule.Options[c.Type].Build(c.Args)
		if err != nil {
			ps.errs = append(ps.errs, &Error{Pos: c.TypePos, Msg: fmt.Sprintf("'option %s' : %v", c.Type, err)})
			return
		}
		c.Ruleset = built
		return
	}
	for _, l := range lines {
		r, err := checkrule.Parse(l.Args)
		if err != nil {
			continue // reported where the line was read
		}
		rs.Rules = append(rs.Rules, r)
	}
	var req *checkrule.HTTPRequest
	if h := p.HTTPCheck; h != nil && c.Type == "httpchk" {
		req = &checkrule.HTTPRequest{Method: h.Method, URI: h.URI, Version: h.Version}
		for _, hd := range h.Headers {
			f, err := checkrule.ParseFormat(hd[1])
			if err != nil {
				ps.errs = append(ps.errs, &Error{Pos: c.TypePos, Msg: fmt.Sprintf("'option httpchk' : %v", err)})
				return
			}
			req.Headers = append(req.Headers, checkrule.HTTPHeader{Name: hd[0], Value: f})
		}
	}
	if err := rs.Finish(req); err != nil {
		pos := c.TypePos
		if len(lines) > 0 {
			pos = lines[0].Pos
		}
		ps.errs = append(ps.errs, &Error{Pos: pos, Msg: fmt.Sprintf("config: proxy '%s': %v.", p.Name, err)})
		return
	}
	c.Ruleset = rs
}

// checkExternal validates `option external-check`: HAProxy needs `external-check` in
// the global section and a command; hitless also refuses to fork a program per check
// unless `insecure-fork-wanted` says so (HAProxy only warns).
func (ps *parser) checkExternal(p *Proxy) {
	g := ps.cfg.Global
	var msg string
	switch {
	case !g.ExternalCheck:
		msg = fmt.Sprintf("Proxy '%s' : 'option external-check' unable to find required 'global.external-check'.", p.Name)
	case p.Checks.ExternalCommand == "":
		msg = fmt.Sprintf("Proxy '%s' : 'option external-check' unable to find required 'external-check command'.", p.Name)
	case !g.InsecureForkWanted:
		msg = fmt.Sprintf("Proxy '%s' : 'option external-check' forks a program per check: it needs 'insecure-fork-wanted' in the global section.", p.Name)
	default:
		return
	}
	ps.errs = append(ps.errs, &Error{Pos: p.Checks.TypePos, Msg: msg})
}
