package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"hitless/internal/acl"
	"hitless/internal/auth"
	"hitless/internal/pattern"
)

// parser holds the state of one Load: the configuration being built and the section
// being read.
type parser struct {
	lookupEnv func(string) (string, bool)
	cfg       *Config
	errs      ErrorList

	file    string
	pos     Pos
	section string // "global", "defaults", "frontend", "backend", "listen", or "" (also for skipped sections)
	px      *Proxy // the proxy or defaults section being read

	defaults     map[string]*Proxy // named defaults sections
	lastDefaults *Proxy            // the most recent defaults section, named or not
	acls         map[*Proxy]map[string][]*acl.Def
	seen         map[string]*Proxy // "frontend:name" / "backend:name" → first declaration

	// conds is the stack of .if blocks: whether the current branch is active, and
	// whether a branch of the block was already taken.
	conds []condState

	// httpOnly lists what needs `mode http`, checked once the proxy's mode is final.
	httpOnly []httpOnly

	httpErrs map[string]*httpErrors // http-errors sections by name
	httpErr  *httpErrors            // the http-errors section being read

	sslKw string      // the TLS keyword being applied (ssl_bind.go)
	peers *peersState // peers sections and stick tables (stick.go)
	// users and authParser read the userlist sections (userlist.go).
	users      *users
	authParser *auth.Parser
}

// sectionHandler reads a section kind that has its own file: start opens it, line
// reads one of its lines.
type sectionHandler struct {
	start, line func(ps *parser, w []string)
}

// sectionHandlers are the section kinds registered by the files of their concern.
var sectionHandlers = map[string]sectionHandler{}

type httpOnly struct {
	pos  Pos
	p    *Proxy
	what string
}

// needHTTP records that the current line needs the proxy to be in mode http.
func (ps *parser) needHTTP(p *Proxy, what string) {
	ps.httpOnly = append(ps.httpOnly, httpOnly{pos: ps.pos, p: p, what: what})
}

type condState struct {
	active, taken, sawElse bool
}

func newParser(lookupEnv func(string) (string, bool)) *parser {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	return &parser{
		lookupEnv: lookupEnv,
		cfg:       &Config{Patterns: pattern.NewRegistry(), Users: auth.NewRegistry()},
		defaults:  map[string]*Proxy{},
		acls:      map[*Proxy]map[string][]*acl.Def{},
		seen:      map[string]*Proxy{},
		httpErrs:  map[string]*httpErrors{},
	}
}

func (ps *parser) errorf(format string, a ...any) {
	ps.errs = append(ps.errs, &Error{Pos: ps.pos, Msg: fmt.Sprintf(format, a...)})
}

func (ps *parser) warnf(format string, a ...any) {
	ps.cfg.Warnings = append(ps.cfg.Warnings, fmt.Sprintf("parsing [%s] : ", ps.pos)+fmt.Sprintf(format, a...))
}

func (ps *parser) sectionName() string {
	if ps.px != nil {
		return ps.px.Name
	}
	return ps.section
}

func (ps *parser) endSection() {
	ps.section, ps.px = "", nil
}

// sectionKinds are HAProxy's section keywords and whether hitless reads them
// (sections with their own file register in sectionHandlers, which come first).
var sectionKinds = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true,
	"userlist": true, "peers": true, "mailers": false, "resolvers": false, "http-errors": true,
	"program": false, "cache": false, "ring": false, "log-forward": false, "fcgi-app": false,
	"namespace_list": false, "crt-store": false, "traces": false,
}

// line dispatches one lexed line.
func (ps *parser) line(w []string) {
	if strings.HasPrefix(w[0], ".") {
		ps.directive(w)
		return
	}
	if !ps.active() {
		return
	}
	if h, ok := sectionHandlers[w[0]]; ok {
		h.start(ps, w)
		return
	}
	if supported, ok := sectionKinds[w[0]]; ok {
		if !supported {
			ps.errorf("'%s' is not supported yet", w[0])
			ps.section, ps.px = "skip", nil
			return
		}
		if w[0] == "http-errors" {
			ps.startHTTPErrors(w)
			return
		}
		if w[0] == "userlist" {
			ps.startUserlist(w)
			return
		}
		ps.startSection(w)
		return
	}
	switch ps.section {
	case "":
		ps.errorf("unknown keyword '%s' out of section.", w[0])
	case "skip":
		// Inside an unsupported section: its error was already reported.
	case "global":
		ps.globalKeyword(w)
	case "http-errors":
		ps.httpErrorsKeyword(w)
	case "userlist":
		ps.userlistKeyword(w)
	default:
		if h, ok := sectionHandlers[ps.section]; ok {
			h.line(ps, w)
			return
		}
		ps.proxyKeyword(w)
	}
}

func (ps *parser) active() bool {
	for _, c := range ps.conds {
		if !c.active {
			return false
		}
	}
	return true
}

// directive handles .if/.elif/.else/.endif and the message directives.
func (ps *parser) directive(w []string) {
	parentActive := func() bool {
		for _, c := range ps.conds[:len(ps.conds)-1] {
			if !c.active {
				return false
			}
		}
		return true
	}
	switch w[0] {
	case ".if":
		v, err := evalCond(strings.Join(w[1:], " "), ps.lookupEnv)
		if err != nil {
			ps.errorf("%v in '.if'", err)
		}
		ps.conds = append(ps.conds, condState{active: v, taken: v})
	case ".elif":
		if len(ps.conds) == 0 {
			ps.errorf("lone '.elif' with no matching '.if'.")
			return
		}
		c := &ps.conds[len(ps.conds)-1]
		if c.sawElse {
			ps.errorf("'.elif' after '.else' is not permitted.")
			return
		}
		v, err := evalCond(strings.Join(w[1:], " "), ps.lookupEnv)
		if err != nil {
			ps.errorf("%v in '.elif'", err)
		}
		c.active = !c.taken && v
		c.taken = c.taken || v
	case ".else":
		if len(ps.conds) == 0 {
			ps.errorf("lone '.else' with no matching '.if'.")
			return
		}
		if len(w) > 1 {
			ps.errorf("Unexpected argument '%s' for '.else'.", w[1])
		}
		c := &ps.conds[len(ps.conds)-1]
		if c.sawElse {
			ps.errorf("'.else' after '.else' is not permitted.")
			return
		}
		c.sawElse = true
		c.active = !c.taken
		c.taken = true
	case ".endif":
		if len(ps.conds) == 0 {
			ps.errorf("lone '.endif' with no matching '.if'.")
			return
		}
		ps.conds = ps.conds[:len(ps.conds)-1]
	case ".notice", ".warning", ".alert", ".diag":
		if len(ps.conds) > 0 && (!ps.conds[len(ps.conds)-1].active || !parentActive()) {
			return
		}
		if len(w) != 2 {
			if len(w) > 2 {
				ps.errorf("Unexpected argument '%s' for '%s'. Use quotes if the message should contain spaces.", w[2], w[0])
			} else {
				ps.errorf("'%s' expects a message.", w[0])
			}
			return
		}
		switch w[0] {
		case ".warning":
			ps.warnf("'%s'.", w[1])
		case ".alert":
			ps.errorf("'%s'.", w[1])
		}
	default:
		if ps.active() {
			ps.errorf("unknown directive '%s'.", w[0])
		}
	}
}

// startSection opens a global, defaults, frontend, backend or listen section.
func (ps *parser) startSection(w []string) {
	kind := w[0]
	ps.section = kind
	ps.px = nil
	if kind == "global" {
		if len(w) > 1 {
			ps.errorf("'global' section takes no argument (got '%s')", w[1])
		}
		if ps.cfg.Global.Pos.File == "" {
			ps.cfg.Global.Pos = ps.pos
		}
		return
	}
	var name string
	args := w[1:]
	if len(args) > 0 && args[0] != "from" {
		name = args[0]
		args = args[1:]
	}
	if kind != "defaults" && name == "" {
		ps.errorf("'%s' expects <name> as an argument.", kind)
		ps.section = "skip"
		return
	}
	base := ps.lastDefaults
	if len(args) > 0 {
		if args[0] != "from" || len(args) != 2 {
			ps.errorf("'%s %s' : unexpected argument '%s'; expected 'from <defaults>'", kind, name, args[0])
		} else if d := ps.defaults[args[1]]; d == nil {
			ps.errorf("'%s %s' : unable to find defaults section '%s'", kind, name, args[1])
		} else {
			base = d
		}
	}
	if name != "" {
		for _, c := range name {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
				ps.errorf("character '%c' is not permitted in '%s' name '%s'.", c, kind, name)
				break
			}
		}
	}
	p := &Proxy{Pos: ps.pos, Kind: kind, Name: name, Retries: 3, DefaultServer: defaultServer()}
	if kind != "defaults" && base != nil {
		inherit(p, base)
	}
	switch kind {
	case "frontend":
		p.Cap = CapFrontend
	case "backend":
		p.Cap = CapBackend
	case "listen":
		p.Cap = CapListen
	case "defaults":
		p.Cap = CapDefaults
		ps.cfg.Defaults = append(ps.cfg.Defaults, p)
		ps.lastDefaults = p
		if name != "" {
			ps.defaults[name] = p
		}
		ps.px = p
		return
	}
	// Duplicate names: frontends and backends may share a name; listen conflicts with both.
	for _, k := range []string{"frontend", "backend"} {
		if (k == "frontend" && !p.IsFrontend()) || (k == "backend" && !p.IsBackend()) {
			continue
		}
		if prev := ps.seen[k+":"+name]; prev != nil {
			ps.errs = append(ps.errs, &Error{Pos: ps.pos, Msg: fmt.Sprintf("%s '%s' has the same name as %s '%s' declared at %s.", kind, name, prev.Kind, name, prev.Pos)})
			break
		}
	}
	for _, k := range []string{"frontend", "backend"} {
		if (k == "frontend" && p.IsFrontend()) || (k == "backend" && p.IsBackend()) {
			if ps.seen[k+":"+name] == nil {
				ps.seen[k+":"+name] = p
			}
		}
	}
	ps.cfg.Proxies = append(ps.cfg.Proxies, p)
	ps.px = p
}

func defaultServer() Server {
	return Server{Inter: 2 * time.Second, Rise: 2, Fall: 3, Weight: 1}
}

// inherit copies what a proxy takes from its defaults section.
func inherit(p, d *Proxy) {
	p.Mode = d.Mode
	p.Timeouts = d.Timeouts
	p.Options = d.Options
	p.Balance = d.Balance
	p.Retries = d.Retries
	p.Redispatch = d.Redispatch
	p.AllBackups = d.AllBackups
	p.LoadServerState = d.LoadServerState
	p.ServerStateFileName = d.ServerStateFileName
	p.MaxConn = d.MaxConn
	p.DefaultBackend = d.DefaultBackend
	p.DefaultBackendPos = d.DefaultBackendPos
	p.DefaultServer = d.DefaultServer
	p.LogGlobal = d.LogGlobal
	p.Formats = d.Formats
	inheritChecks(p, d)
	p.Logs = append([]LogTarget(nil), d.Logs...)
	p.Stats = copyStats(d.Stats)
	p.errDirectives = append([]errDirective(nil), d.errDirectives...)
	if d.HTTPCheck != nil {
		hc := *d.HTTPCheck
		p.HTTPCheck = &hc
	}
}

// finish runs the checks that need every file, then returns the config or the errors.
func (ps *parser) finish(files []string) (*Config, error) {
	ps.pos = Pos{}
	cfg := ps.cfg
	cfg.Files = files
	ps.finishUserlists()
	byName := map[string]*Proxy{}
	for _, p := range cfg.Proxies {
		if p.IsBackend() {
			byName[p.Name] = p
		}
	}
	ps.checkServers(byName)
	for _, p := range cfg.Proxies {
		ps.buildChecks(p)
		ps.resolveErrorFiles(p)
		ps.checkFormatModes(p)
		// `log global` takes the global targets as they are once every file is read.
		if p.LogGlobal {
			var own []LogTarget
			for _, l := range p.Logs {
				if !l.Global {
					own = append(own, l)
				}
			}
			p.Logs = append(append([]LogTarget(nil), cfg.Global.Logs...), own...)
		}
		if !p.IsFrontend() {
			continue
		}
		if p.DefaultBackend != "" && byName[p.DefaultBackend] == nil {
			ps.errs = append(ps.errs, &Error{Pos: p.DefaultBackendPos, Msg: fmt.Sprintf("proxy '%s': unable to find required default_backend: '%s'.", p.Name, p.DefaultBackend)})
		}
		for _, u := range p.UseBackends {
			if byName[u.Backend] == nil {
				ps.errs = append(ps.errs, &Error{Pos: u.Pos, Msg: fmt.Sprintf("proxy '%s': unable to find required use_backend: '%s'.", p.Name, u.Backend)})
			}
		}
	}
	for _, p := range cfg.Proxies {
		if missingTimeouts(p) {
			cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("missing timeouts for %s '%s'.\n   | While not properly invalid, you will certainly encounter various problems\n   | with such a configuration. To fix this, please ensure that all following\n   | timeouts are set to a non-zero value: 'client', 'connect', 'server'.", p.Kind, p.Name))
		}
	}
	for _, p := range cfg.Proxies {
		if p.Stats != nil && p.Mode != ModeHTTP {
			cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("'stats' statement ignored for %s '%s' as it requires HTTP mode.", p.Kind, p.Name))
			p.Stats = nil
		}
	}
	ps.loadBindTLS()
	ps.finishServerTLS()
	for _, h := range ps.httpOnly {
		if h.p.Mode != ModeHTTP && h.p.Kind != "defaults" {
			ps.errs = append(ps.errs, &Error{Pos: h.pos, Msg: fmt.Sprintf("%s need 'mode http' (%s '%s' is in mode tcp)", h.what, h.p.Kind, h.p.Name)})
		}
	}
	ps.finishPeers()
	ps.finishStickRules()
	if len(ps.errs) > 0 {
		return nil, ps.errs
	}
	return cfg, nil
}

// missingTimeouts is HAProxy 2.6's rule for the "missing timeouts" warning: a frontend
// side without `timeout client`, or a backend side that has servers but lacks
// `timeout connect`, or `timeout server` (which `timeout tunnel` replaces in mode tcp).
func missingTimeouts(p *Proxy) bool {
	t := p.Timeouts
	if p.IsFrontend() && t.Client == 0 {
		return true
	}
	if p.IsBackend() && len(p.Servers) > 0 {
		if t.Connect == 0 {
			return true
		}
		if t.Server == 0 && (p.Mode == ModeHTTP || t.Tunnel == 0) {
			return true
		}
	}
	return false
}

// HasListener reports whether an enabled frontend or listen section binds an address,
// or a `stats socket` is declared: HAProxy 2.6 counts its CLI as a listener, so that
// Debian's default haproxy.cfg (no frontend) is valid and runs.
func (c *Config) HasListener() bool {
	if len(c.Global.StatsSockets) > 0 {
		return true
	}
	for _, p := range c.Proxies {
		if p.IsFrontend() && len(p.Binds) > 0 {
			return true
		}
	}
	return false
}

// errTimerOverflow is ParseTime's error for a value above HAProxy's 2^31-1 ms; callers
// name the argument and keyword with timeErr.
var errTimerOverflow = errors.New("timer overflow (maximum value is 2147483647 ms or ~24.8 days)")

// timeErr words a ParseTime error for argument arg of keyword kw as HAProxy 2.6 does.
func timeErr(err error, arg, kw string) error {
	if errors.Is(err, errTimerOverflow) {
		return fmt.Errorf("timer overflow in argument '%s' to '%s' (maximum value is 2147483647 ms or ~24.8 days)", arg, kw)
	}
	return fmt.Errorf("%v in '%s'", err, kw)
}

// ParseTime parses HAProxy's time syntax: digits and an optional unit (us, ms, s, m, h,
// d); unit is the default unit when none is given.
func ParseTime(s string, unit time.Duration) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		if s == "" {
			return 0, fmt.Errorf("missing value")
		}
		return 0, fmt.Errorf("unexpected character '%c'", s[0])
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > 1<<40 {
		return 0, errTimerOverflow
	}
	u := unit
	switch s[i:] {
	case "":
	case "us":
		u = time.Microsecond
	case "ms":
		u = time.Millisecond
	case "s":
		u = time.Second
	case "m":
		u = time.Minute
	case "h":
		u = time.Hour
	case "d":
		u = 24 * time.Hour
	default:
		return 0, fmt.Errorf("unexpected character '%c'", s[i])
	}
	d := time.Duration(n) * u
	if d/u != time.Duration(n) || d > (1<<31-1)*time.Millisecond {
		return 0, errTimerOverflow
	}
	return d, nil
}

// ParseSize parses a size with an optional k, m or g suffix (powers of 1024).
func ParseSize(s string) (int64, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("'%s' is not a size", s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("'%s' is too large", s)
	}
	mult := int64(1)
	switch strings.ToLower(s[i:]) {
	case "":
	case "k":
		mult = 1 << 10
	case "m":
		mult = 1 << 20
	case "g":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("unexpected character '%c' in size '%s'", s[i], s)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("'%s' is too large", s)
	}
	return n * mult, nil
}

// parseInt parses a non-negative decimal integer no larger than max.
func parseInt(s string, max int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		return 0, fmt.Errorf("'%s' is not a valid number", s)
	}
	return n, nil
}
