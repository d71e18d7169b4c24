package config

import (
	"fmt"
	"maps"
	"os/user"
	"strconv"
	"strings"
	"time"

	"hitless/internal/acl"
)

// kw is one row of a keyword table: the sections it is allowed in and its parser. args
// holds the whole line, keyword first.
type kw struct {
	sections string // letters: d defaults, f frontend, b backend, l listen
	parse    func(ps *parser, p *Proxy, args []string) error
}

// proxyKeywords is the keyword table of defaults, frontend, backend and listen sections.
// Files of other concerns add their rows in their own init (in any order).
var proxyKeywords = map[string]kw{}

func init() {
	maps.Copy(proxyKeywords, map[string]kw{
		"mode":            {"dfbl", kwMode},
		"bind":            {"fl", kwBind},
		"default_backend": {"dfl", kwDefaultBackend},
		"use_backend":     {"fl", kwUseBackend},
		"acl":             {"fbl", kwACL},
		"server":          {"bl", kwServer},
		"default-server":  {"dbl", kwDefaultServer},
		"balance":         {"dbl", kwBalance},
		"option":          {"dfbl", kwOption},
		"log":             {"dfbl", kwLog},
		"timeout":         {"dfbl", kwTimeout},
		"maxconn":         {"dfl", kwMaxConn},
		"retries":         {"dbl", kwRetries},
		"http-request":    {"fbl", kwHTTPRequest},
		"http-response":   {"fbl", kwHTTPResponse},
		"stats":           {"dfbl", kwProxyStats},
		// A frontend accepts them with a warning, as HAProxy does.
		"load-server-state-from-file": {"dfbl", kwLoadServerState},
		"server-state-file-name":      {"dfbl", kwServerStateFileName},
		"errorfile":                   {"dfbl", kwErrorFile},
		"errorfiles":                  {"dfbl", kwErrorFiles},
		"log-format":                  {"dfl", kwLogFormat},
		"log-format-sd":               {"dfl", kwLogFormat},
		"unique-id-format":            {"dfl", kwLogFormat},
		"unique-id-header":            {"dfl", kwUniqueIDHeader},
	})
}

func kwLoadServerState(ps *parser, p *Proxy, a []string) error {
	if p.Kind == "frontend" {
		ps.warnf("'%s' ignored because frontend '%s' has no backend capability.", a[0], p.Name)
		return nil
	}
	v := ""
	if len(a) > 1 {
		v = a[1]
	}
	switch v {
	case "global", "local":
		p.LoadServerState = v
	case "none":
		p.LoadServerState = ""
	default:
		return fmt.Errorf("'%s' expects 'global', 'local' or 'none'. Got '%s'", a[0], v)
	}
	return nil
}

func kwServerStateFileName(ps *parser, p *Proxy, a []string) error {
	if p.Kind == "frontend" {
		ps.warnf("'%s' ignored because frontend '%s' has no backend capability.", a[0], p.Name)
		return nil
	}
	if len(a) > 2 {
		return fmt.Errorf("'%s' cannot handle unexpected argument '%s'.", a[0], a[2])
	}
	p.ServerStateFileName = ""
	if len(a) == 2 && a[1] != "use-backend-name" {
		p.ServerStateFileName = a[1]
	}
	return nil
}

// globalKeywords is the keyword table of the global section.
var globalKeywords = map[string]func(ps *parser, g *Global, args []string) error{
	"maxconn": func(ps *parser, g *Global, a []string) error {
		return intArg(a, 1<<30, &g.MaxConn)
	},
	"daemon": func(ps *parser, g *Global, a []string) error {
		g.Daemon = true
		return noArgs(a)
	},
	"pidfile": func(ps *parser, g *Global, a []string) error {
		if len(a) != 2 {
			return fmt.Errorf("'pidfile' expects a file name as an argument")
		}
		g.PidFile = a[1]
		return nil
	},
	"log": func(ps *parser, g *Global, a []string) error {
		if len(a) == 2 && a[1] == "global" {
			return fmt.Errorf("'log global' makes no sense in the global section")
		}
		t, err := parseLog(a[1:])
		if err != nil {
			return err
		}
		t.Pos = ps.pos
		g.Logs = append(g.Logs, t)
		return nil
	},
	"nbthread": func(ps *parser, g *Global, a []string) error {
		if err := intArg(a, 4096, &g.NbThread); err != nil {
			return err
		}
		if g.NbThread < 1 {
			return fmt.Errorf("'nbthread' expects a positive integer argument")
		}
		return nil
	},
	"hard-stop-after": func(ps *parser, g *Global, a []string) error {
		return timeArg(a, &g.HardStopAfter)
	},
	"grace": func(ps *parser, g *Global, a []string) error {
		return timeArg(a, &g.Grace)
	},
	"master-worker": func(ps *parser, g *Global, a []string) error {
		if len(a) > 1 && a[1] != "no-exit-on-failure" {
			return fmt.Errorf("'master-worker' only supports 'no-exit-on-failure' option")
		}
		g.MasterWorker = true
		return nil
	},
	"mworker-max-reloads": func(ps *parser, g *Global, a []string) error {
		if len(a) == 2 && strings.HasPrefix(a[1], "-") {
			return fmt.Errorf("'mworker-max-reloads' : invalid value %s, must be >= 0", a[1])
		}
		g.MworkerMaxReloadsSet = true
		return intArg(a, 1<<30, &g.MworkerMaxReloads)
	},
	"stats": kwStats,
	"server-state-file": func(ps *parser, g *Global, a []string) error {
		if len(a) < 2 {
			return fmt.Errorf("'server-state-file' expect one argument: a file path.")
		}
		g.ServerStateFile = a[1]
		return nil
	},
	"server-state-base": func(ps *parser, g *Global, a []string) error {
		if len(a) < 2 {
			return fmt.Errorf("'server-state-base' expects one argument: a directory path.")
		}
		g.ServerStateBase = a[1]
		return nil
	},
}

// StateFile returns the server-state file a backend loads at start-up, or "" when it
// loads none: `load-server-state-from-file global` reads `server-state-file`, `local`
// reads `server-state-file-name` (the backend's name by default); a relative path is
// taken from `server-state-base` when set.
func (c *Config) StateFile(p *Proxy) string {
	var f string
	switch p.LoadServerState {
	case "global":
		f = c.Global.ServerStateFile
	case "local":
		f = p.ServerStateFileName
		if f == "" {
			f = p.Name
		}
	}
	if f == "" || strings.HasPrefix(f, "/") || c.Global.ServerStateBase == "" {
		return f
	}
	return strings.TrimSuffix(c.Global.ServerStateBase, "/") + "/" + f
}

func noArgs(a []string) error {
	if len(a) > 1 {
		return fmt.Errorf("'%s' cannot handle unexpected argument '%s'.", a[0], a[1])
	}
	return nil
}

func intArg(a []string, max int, dst *int) error {
	if len(a) != 2 {
		return fmt.Errorf("'%s' expects an integer argument.", a[0])
	}
	n, err := parseInt(a[1], max)
	if err != nil {
		return fmt.Errorf("'%s' expects an integer argument (got '%s').", a[0], a[1])
	}
	*dst = n
	return nil
}

func timeArg(a []string, dst *time.Duration) error {
	if len(a) != 2 {
		return fmt.Errorf("'%s' expects <time> as argument.", a[0])
	}
	d, err := ParseTime(a[1], time.Millisecond)
	if err != nil {
		return timeErr(err, a[1], a[0])
	}
	*dst = d
	return nil
}

func kwStats(ps *parser, g *Global, a []string) error {
	if len(a) < 2 {
		return fmt.Errorf("'stats' expects 'socket', 'maxconn', 'bind-process' or 'timeout'")
	}
	switch a[1] {
	case "timeout":
		if len(a) != 3 {
			return fmt.Errorf("'stats timeout' expects a positive value")
		}
		d, err := ParseTime(a[2], time.Millisecond)
		if err != nil || d == 0 {
			return fmt.Errorf("'stats timeout' expects a positive value")
		}
		g.StatsTimeout = d
		return nil
	case "socket":
		if len(a) < 3 {
			return fmt.Errorf("'stats socket' in global section expects an address or a path to a UNIX socket")
		}
		s := StatsSocket{Pos: ps.pos, UID: -1, GID: -1, Level: "operator"}
		spec := a[2]
		if strings.HasPrefix(spec, "/") || strings.HasPrefix(spec, "unix@") {
			s.Addr = Addr{Network: "unix", Path: strings.TrimPrefix(spec, "unix@")}
		} else {
			addrs, err := parseOneBind(spec)
			if err != nil {
				return fmt.Errorf("'stats socket' : %v", err)
			}
			if len(addrs) != 1 {
				return fmt.Errorf("'stats socket' takes a single address (got '%s')", spec)
			}
			s.Addr = addrs[0]
		}
		opts := a[3:]
		for len(opts) > 0 {
			o := opts[0]
			if len(opts) < 2 {
				return fmt.Errorf("'stats socket' : '%s' expects an argument", o)
			}
			v := opts[1]
			switch o {
			case "mode":
				m, err := strconv.ParseUint(v, 8, 32)
				if err != nil {
					return fmt.Errorf("'stats socket' : 'mode' expects an octal value (got '%s')", v)
				}
				s.Mode, s.HasMode = uint32(m), true
			case "uid", "gid":
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 {
					return fmt.Errorf("'stats socket' : '%s' expects a number (got '%s')", o, v)
				}
				if o == "uid" {
					s.UID = n
				} else {
					s.GID = n
				}
			case "user":
				u, err := user.Lookup(v)
				if err != nil {
					return fmt.Errorf("'stats socket' : unknown user '%s'", v)
				}
				s.User = v
				s.UID, _ = strconv.Atoi(u.Uid)
			case "group":
				gr, err := user.LookupGroup(v)
				if err != nil {
					return fmt.Errorf("'stats socket' : unknown group '%s'", v)
				}
				s.Group = v
				s.GID, _ = strconv.Atoi(gr.Gid)
			case "level":
				if v != "user" && v != "operator" && v != "admin" {
					return fmt.Errorf("'level' only supports 'user', 'operator', and 'admin' (got '%s')", v)
				}
				s.Level = v
			case "expose-fd":
				if v != "listeners" {
					return fmt.Errorf("'expose-fd' only supports 'listeners' (got '%s')", v)
				}
				s.ExposeFD = true
			default:
				return fmt.Errorf("'stats socket' : '%s' is not supported yet", o)
			}
			opts = opts[2:]
		}
		g.StatsSockets = append(g.StatsSockets, s)
		return nil
	case "maxconn", "bind-process":
		return fmt.Errorf("'stats %s' is not supported yet", a[1])
	}
	return fmt.Errorf("'stats' only supports 'socket', 'maxconn', 'bind-process' and 'timeout' (got '%s')", a[1])
}

func (ps *parser) globalKeyword(w []string) {
	if f, ok := globalKeywords[w[0]]; ok {
		if err := f(ps, &ps.cfg.Global, w); err != nil {
			ps.errorf("%v", err)
		}
		return
	}
	ps.unknown(w[0], "global", haproxyGlobalKeywords, nil)
}

// unknown reports a keyword that is not in hitless's table: "not supported yet" when
// HAProxy has it, "unknown keyword" (with a suggestion) otherwise.
func (ps *parser) unknown(word, section string, haproxy string, ours map[string]kw) {
	if strings.Contains(" "+haproxy+" ", " "+word+" ") {
		ps.errorf("'%s' is not supported yet", word)
		return
	}
	msg := fmt.Sprintf("unknown keyword '%s' in '%s' section", word, section)
	if s := suggest(word, haproxy, ours); s != "" {
		msg += fmt.Sprintf("; did you mean '%s' maybe ?", s)
	}
	ps.errorf("%s", msg)
}

// suggest finds a close keyword (edit distance at most 2).
func suggest(word, haproxy string, ours map[string]kw) string {
	best, bestD := "", 3
	try := func(c string) {
		if d := editDistance(word, c); d < bestD {
			best, bestD = c, d
		}
	}
	for k := range ours {
		try(k)
	}
	for _, k := range strings.Fields(haproxy) {
		try(k)
	}
	if ours == nil {
		for k := range globalKeywords {
			try(k)
		}
	}
	return best
}

func editDistance(a, b string) int {
	if a == b {
		return 0
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// removedProxyKeywords are the pre-2.1 timeout keywords with their replacements;
// HAProxy 2.6 names the replacement in its error.
var removedProxyKeywords = map[string]string{
	"contimeout": "timeout connect",
	"clitimeout": "timeout client",
	"srvtimeout": "timeout server",
}

func (ps *parser) proxyKeyword(w []string) {
	p := ps.px
	if p == nil {
		return
	}
	word := w[0]
	args := w
	neg := false
	if word == "no" || word == "default" {
		if len(w) < 2 || (w[1] != "option" && w[1] != "log") {
			ps.errorf("negation/default currently supported only for options, log, busy-polling, set-dumpable, strict-limits, insecure-fork-wanted and numa-cpu-mapping.")
			return
		}
		neg = word == "no"
		if word == "default" {
			ps.errorf("'default %s' is not supported yet", w[1])
			return
		}
		word, args = w[1], w[1:]
	}
	k, ok := proxyKeywords[word]
	if !ok {
		if repl, gone := removedProxyKeywords[word]; gone {
			ps.errorf("the '%s' directive is not supported anymore since HAProxy 2.1. Use '%s'.", word, repl)
			return
		}
		ps.unknown(word, p.Kind, haproxyProxyKeywords, proxyKeywords)
		return
	}
	if !strings.ContainsRune(k.sections, rune(p.Kind[0])) {
		if word == "use_backend" && p.Kind == "defaults" {
			ps.errorf("'use_backend' not allowed in 'defaults' section.")
			return
		}
		ps.errorf("'%s' not allowed in '%s' section.", word, p.Kind)
		return
	}
	if neg {
		switch word {
		case "option":
			if err := setOption(ps, p, args, false); err != nil {
				ps.errorf("%v", err)
			}
		case "log":
			if len(args) > 1 {
				ps.errorf("'no log' does not expect arguments")
			}
			p.Logs, p.LogGlobal = nil, false
		}
		return
	}
	if err := k.parse(ps, p, args); err != nil {
		ps.errorf("%v", err)
	}
}

func kwMode(ps *parser, p *Proxy, a []string) error {
	if len(a) != 2 {
		return fmt.Errorf("'mode' expects one of 'tcp' or 'http'")
	}
	switch a[1] {
	case "tcp":
		p.Mode = ModeTCP
	case "http":
		p.Mode = ModeHTTP
	case "health":
		return fmt.Errorf("'mode health' doesn't exist anymore. Please use 'http-request return status 200' instead.")
	default:
		return fmt.Errorf("unknown proxy mode '%s'.", a[1])
	}
	return nil
}

func kwBind(ps *parser, p *Proxy, a []string) error {
	if len(a) < 2 {
		return fmt.Errorf("'bind' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments.")
	}
	addrs, err := parseBindAddrs(a[1])
	if err != nil {
		return fmt.Errorf("'bind' : %v", err)
	}
	b := Bind{Pos: ps.pos, UID: -1, GID: -1}
	opts := a[2:]
	for len(opts) > 0 {
		if n, err := tableOption(bindKeywords, &b, opts); err != nil {
			return fmt.Errorf("'bind %s' : %v", a[1], err)
		} else if n > 0 {
			opts = opts[n:]
			continue
		}
		o := opts[0]
		need := func() (string, error) {
			if len(opts) < 2 {
				return "", fmt.Errorf("'bind %s' : '%s' expects an argument", a[1], o)
			}
			opts = opts[1:]
			return opts[0], nil
		}
		switch o {
		case "name":
			v, err := need()
			if err != nil {
				return err
			}
			b.Name = v
		case "v4v6":
			b.V4V6 = true
		case "v6only":
			b.V6Only = true
		case "backlog":
			v, err := need()
			if err != nil {
				return err
			}
			n, err := parseInt(v, 1<<20)
			if err != nil || n == 0 {
				return fmt.Errorf("'bind %s' : 'backlog' expects a positive integer (got '%s')", a[1], v)
			}
			b.Backlog = n
		case "mode":
			v, err := need()
			if err != nil {
				return err
			}
			m, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				return fmt.Errorf("'bind %s' : 'mode' expects an octal value (got '%s')", a[1], v)
			}
			b.Mode, b.HasMode = uint32(m), true
		case "uid", "gid", "user", "group":
			v, err := need()
			if err != nil {
				return err
			}
			id, err := lookupID(o, v)
			if err != nil {
				return fmt.Errorf("'bind %s' : %v", a[1], err)
			}
			if o == "uid" || o == "user" {
				b.UID = id
			} else {
				b.GID = id
			}
		default:
			if n, err := ps.bindSSLOption(&b, a[1], opts); err != nil {
				return err
			} else if n > 0 {
				opts = opts[n:]
				continue
			}
			if strings.Contains(" "+haproxyBindOptions+" ", " "+o+" ") {
				return fmt.Errorf("'bind %s' : '%s' is not supported yet", a[1], o)
			}
			return fmt.Errorf("'bind %s' in section '%s': unknown keyword '%s'", a[1], p.Kind, o)
		}
		opts = opts[1:]
	}
	if b.V4V6 && b.V6Only {
		return fmt.Errorf("'bind %s' : 'v4v6' and 'v6only' are mutually exclusive", a[1])
	}
	for _, ad := range addrs {
		nb := b
		nb.Addr = ad
		p.Binds = append(p.Binds, nb)
	}
	return nil
}

func lookupID(kind, v string) (int, error) {
	switch kind {
	case "uid", "gid":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("'%s' expects a number (got '%s')", kind, v)
		}
		return n, nil
	case "user":
		u, err := user.Lookup(v)
		if err != nil {
			return 0, fmt.Errorf("unknown user '%s'", v)
		}
		return strconv.Atoi(u.Uid)
	default:
		g, err := user.LookupGroup(v)
		if err != nil {
			return 0, fmt.Errorf("unknown group '%s'", v)
		}
		return strconv.Atoi(g.Gid)
	}
}

func kwDefaultBackend(ps *parser, p *Proxy, a []string) error {
	if len(a) != 2 {
		return fmt.Errorf("'default_backend' expects a backend name.")
	}
	p.DefaultBackend = a[1]
	p.DefaultBackendPos = ps.pos
	return nil
}

func kwUseBackend(ps *parser, p *Proxy, a []string) error {
	if len(a) < 2 {
		return fmt.Errorf("'use_backend' expects a backend name.")
	}
	u := UseBackend{Pos: ps.pos, Backend: a[1]}
	if strings.Contains(a[1], "%") {
		return fmt.Errorf("'use_backend' with a dynamic backend name is not supported yet")
	}
	if len(a) > 2 {
		c, err := ps.cond(p, a[2:])
		if err != nil {
			return fmt.Errorf("error detected while parsing switching rule : %v.", err)
		}
		u.Cond = c
	}
	p.UseBackends = append(p.UseBackends, u)
	return nil
}

// cond parses an if/unless condition against the proxy's ACLs seen so far.
func (ps *parser) cond(p *Proxy, args []string) (*acl.Cond, error) {
	c, err := acl.ParseCond(args, func(name string) []*acl.Def { return ps.acls[p][name] }, ps.sampleParser())
	if err != nil {
		return nil, err
	}
	if c.NeedsHTTP() {
		ps.needHTTP(p, "conditions with HTTP sample fetches")
	}
	return c, nil
}

func kwACL(ps *parser, p *Proxy, a []string) error {
	d, err := acl.ParseDef(a[1:], ps.sampleParser())
	if err != nil {
		return fmt.Errorf("error detected while parsing ACL '%s' : %v.", strings.Join(a[1:min(2, len(a))], ""), err)
	}
	if ps.acls[p] == nil {
		ps.acls[p] = map[string][]*acl.Def{}
	}
	ps.acls[p][d.Name] = append(ps.acls[p][d.Name], d)
	p.ACLs = append(p.ACLs, d)
	return nil
}

func kwServer(ps *parser, p *Proxy, a []string) error {
	if len(a) < 3 {
		return fmt.Errorf("'server' expects <name> and <addr>[:<port>] as arguments.")
	}
	s := p.DefaultServer
	s.Pos, s.Name = ps.pos, a[1]
	host, port, mode, err := parseServerAddr(a[2])
	if err != nil {
		host, port, mode, err = initAddr(a[2], a[3:], &s, err)
	}
	if err != nil {
		return fmt.Errorf("'server %s/%s' : %v", p.Name, a[1], err)
	}
	s.Host, s.Port, s.PortMode = host, port, mode
	if err := serverOptions(&s, a[3:]); err != nil {
		return fmt.Errorf("'server %s/%s' : %v", p.Name, a[1], err)
	}
	for _, o := range p.Servers {
		if o.Name == s.Name {
			return fmt.Errorf("backend '%s', another server named '%s' was already defined at line %d, please use distinct names.", p.Name, s.Name, o.Pos.Line)
		}
	}
	fillIntervals(&s)
	p.Servers = append(p.Servers, &s)
	return nil
}

func kwDefaultServer(ps *parser, p *Proxy, a []string) error {
	s := p.DefaultServer
	if err := serverOptions(&s, a[1:]); err != nil {
		return fmt.Errorf("'default-server' : %v", err)
	}
	p.DefaultServer = s
	return nil
}

func fillIntervals(s *Server) {
	if s.FastInter == 0 {
		s.FastInter = s.Inter
	}
	if s.DownInter == 0 {
		s.DownInter = s.Inter
	}
}

// serverOptions applies server keywords (also for default-server): the rows of
// serverKeywords (server.go), then those below.
func serverOptions(s *Server, opts []string) error {
	for len(opts) > 0 {
		if n, err := tableOption(serverKeywords, s, opts); err != nil {
			return err
		} else if n > 0 {
			opts = opts[n:]
			continue
		}
		o := opts[0]
		arg := func() (string, error) {
			if len(opts) < 2 {
				return "", fmt.Errorf("'%s' expects an argument", o)
			}
			opts = opts[1:]
			return opts[0], nil
		}
		timeOpt := func(dst *time.Duration) error {
			v, err := arg()
			if err != nil {
				return err
			}
			d, err := ParseTime(v, time.Millisecond)
			if err != nil || d == 0 {
				return fmt.Errorf("invalid value '%s' for argument '%s' of server %s.", v, o, s.Name)
			}
			*dst = d
			return nil
		}
		countOpt := func(dst *int, name string) error {
			v, err := arg()
			if err != nil {
				return err
			}
			n, err := parseInt(v, 1<<30)
			if err != nil || n == 0 {
				return fmt.Errorf("'%s' has to be > 0.", name)
			}
			*dst = n
			return nil
		}
		var err error
		switch o {
		case "check":
			s.Check = true
		case "no-check":
			s.Check = false
		case "inter":
			err = timeOpt(&s.Inter)
		case "fastinter":
			err = timeOpt(&s.FastInter)
		case "downinter":
			err = timeOpt(&s.DownInter)
		case "rise":
			err = countOpt(&s.Rise, "rise")
		case "fall":
			err = countOpt(&s.Fall, "fall")
		case "weight":
			var v string
			if v, err = arg(); err == nil {
				n, perr := strconv.Atoi(v)
				if perr != nil || n < 0 || n > 256 {
					err = fmt.Errorf("weight of server %s is not within 0 and 256 (%s).", s.Name, v)
				} else {
					s.Weight = n
				}
			}
		case "backup":
			s.Backup = true
		case "no-backup":
			s.Backup = false
		case "maxconn", "maxqueue":
			var v string
			if v, err = arg(); err == nil {
				n, perr := parseInt(v, 1<<30)
				if perr != nil {
					err = fmt.Errorf("'%s' expects an integer argument (got '%s')", o, v)
				} else if o == "maxconn" {
					s.MaxConn = n
				} else {
					s.MaxQueue = n
				}
			}
		case "disabled":
			s.Disabled = true
		case "enabled":
			s.Disabled = false
		default:
			if n, err := serverSSLOption(s, opts); err != nil {
				return err
			} else if n > 0 {
				opts = opts[n:]
				continue
			}
			if strings.Contains(" "+haproxyServerOptions+" ", " "+o+" ") {
				return fmt.Errorf("'%s' is not supported yet", o)
			}
			msg := fmt.Sprintf("unknown keyword '%s'", o)
			if sg := suggestFrom(o, "check inter fastinter downinter rise fall weight backup maxconn maxqueue disabled "+haproxyServerOptions); sg != "" {
				msg += fmt.Sprintf("; did you mean '%s' maybe ?", sg)
			}
			return fmt.Errorf("%s", msg)
		}
		if err != nil {
			return err
		}
		opts = opts[1:]
	}
	return nil
}

func suggestFrom(word, list string) string {
	best, bestD := "", 3
	for _, c := range strings.Fields(list) {
		if d := editDistance(word, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func kwBalance(ps *parser, p *Proxy, a []string) error {
	if len(a) < 2 {
		return fmt.Errorf("'balance' requires an algorithm.")
	}
	algo := a[1]
	b := Balance{Algorithm: algo}
	extra := a[2:]
	switch {
	case algo == "roundrobin" || algo == "static-rr" || algo == "leastconn" || algo == "first" || algo == "source" || algo == "uri" || algo == "random":
	case algo == "url_param":
		if len(extra) == 0 {
			return fmt.Errorf("'balance url_param' requires an URL parameter name.")
		}
		b.Param, extra = extra[0], extra[1:]
	case strings.HasPrefix(algo, "hdr(") && strings.HasSuffix(algo, ")"):
		b.Algorithm, b.Param = "hdr", strings.ToLower(algo[4:len(algo)-1])
		if b.Param == "" {
			return fmt.Errorf("'balance hdr' requires an http header field name.")
		}
	case strings.HasPrefix(algo, "random("), strings.HasPrefix(algo, "rdp-cookie"), algo == "hash":
		return fmt.Errorf("'balance %s' is not supported yet", algo)
	default:
		return fmt.Errorf("'balance' only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hdr(name)' and 'rdp-cookie(name)' options.")
	}
	if len(extra) > 0 {
		return fmt.Errorf("'balance %s %s' is not supported yet", algo, strings.Join(extra, " "))
	}
	if p.Kind == "frontend" {
		ps.warnf("'balance' ignored because frontend '%s' has no backend capability.", p.Name)
		return nil
	}
	p.Balance = b
	return nil
}

// options is the table of `option` names hitless implements, with the flag each sets.
var options = map[string]func(p *Proxy, on bool, args []string) error{
	"forwardfor":          flagOpt(func(p *Proxy) *bool { return &p.Options.ForwardFor }),
	"http-server-close":   flagOpt(func(p *Proxy) *bool { return &p.Options.HTTPServerClose }),
	"http-keep-alive":     flagOpt(func(p *Proxy) *bool { return &p.Options.HTTPKeepAlive }),
	"httpclose":           flagOpt(func(p *Proxy) *bool { return &p.Options.HTTPClose }),
	"httplog":             flagOpt(func(p *Proxy) *bool { return &p.Options.HTTPLog }),
	"tcplog":              flagOpt(func(p *Proxy) *bool { return &p.Options.TCPLog }),
	"dontlognull":         flagOpt(func(p *Proxy) *bool { return &p.Options.DontLogNull }),
	"log-separate-errors": flagOpt(func(p *Proxy) *bool { return &p.Options.LogSeparateErrors }),
	"logasap":             flagOpt(func(p *Proxy) *bool { return &p.Options.LogASAP }),
	"redispatch":          flagOpt(func(p *Proxy) *bool { return &p.Redispatch }),
	"allbackups":          flagOpt(func(p *Proxy) *bool { return &p.AllBackups }),
}

// flagOpt makes an option that takes no argument and toggles one flag.
func flagOpt(field func(p *Proxy) *bool) func(p *Proxy, on bool, args []string) error {
	return func(p *Proxy, on bool, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("arguments to this option are not supported yet ('%s')", strings.Join(args, " "))
		}
		*field(p) = on
		return nil
	}
}

func kwOption(ps *parser, p *Proxy, a []string) error {
	return setOption(ps, p, a, true)
}

func setOption(ps *parser, p *Proxy, a []string, on bool) error {
	if len(a) < 2 {
		return fmt.Errorf("'option' expects an option name.")
	}
	name := a[1]
	f, ok := options[name]
	if !ok {
		if strings.Contains(" "+haproxyOptions+" ", " "+name+" ") {
			return fmt.Errorf("'option %s' is not supported yet", name)
		}
		msg := fmt.Sprintf("unknown option '%s'", name)
		if sg := suggestFrom(name, haproxyOptions); sg != "" {
			msg += fmt.Sprintf("; did you mean '%s' maybe ?", sg)
		}
		return fmt.Errorf("%s.", msg)
	}
	if err := f(p, on, a[2:]); err != nil {
		return fmt.Errorf("'option %s' : %v", name, err)
	}
	if on && p.Checks.Type == name {
		p.Checks.TypePos = ps.pos
	}
	// The HTTP connection modes exclude each other: the last one wins.
	if on {
		switch name {
		case "http-server-close":
			p.Options.HTTPClose, p.Options.HTTPKeepAlive = false, false
		case "httpclose":
			p.Options.HTTPServerClose, p.Options.HTTPKeepAlive = false, false
		case "http-keep-alive":
			p.Options.HTTPServerClose, p.Options.HTTPClose = false, false
		case "httplog":
			p.Options.TCPLog = false
			p.Formats.Log = nil
		case "tcplog":
			p.Options.HTTPLog = false
			p.Formats.Log = nil
		}
	}
	return nil
}

func kwLog(ps *parser, p *Proxy, a []string) error {
	if len(a) == 2 && a[1] == "global" {
		p.LogGlobal = true
		return nil
	}
	t, err := parseLog(a[1:])
	if err != nil {
		return err
	}
	t.Pos = ps.pos
	p.Logs = append(p.Logs, t)
	return nil
}

// timeouts maps each `timeout` name to its field.
var timeouts = map[string]func(t *Timeouts) *time.Duration{
	"connect":         func(t *Timeouts) *time.Duration { return &t.Connect },
	"client":          func(t *Timeouts) *time.Duration { return &t.Client },
	"server":          func(t *Timeouts) *time.Duration { return &t.Server },
	"http-request":    func(t *Timeouts) *time.Duration { return &t.HTTPRequest },
	"http-keep-alive": func(t *Timeouts) *time.Duration { return &t.HTTPKeepAlive },
	"queue":           func(t *Timeouts) *time.Duration { return &t.Queue },
	"tunnel":          func(t *Timeouts) *time.Duration { return &t.Tunnel },
	"check":           func(t *Timeouts) *time.Duration { return &t.Check },
	"client-fin":      func(t *Timeouts) *time.Duration { return &t.ClientFin },
	"server-fin":      func(t *Timeouts) *time.Duration { return &t.ServerFin },
}

func kwTimeout(ps *parser, p *Proxy, a []string) error {
	if len(a) < 2 {
		return fmt.Errorf("'timeout' expects a timeout name and a value")
	}
	f, ok := timeouts[a[1]]
	if !ok {
		if a[1] == "tarpit" {
			return fmt.Errorf("'timeout tarpit' is not supported yet")
		}
		return fmt.Errorf("'timeout' supports 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' and 'server-fin' (got '%s')", a[1])
	}
	if len(a) != 3 {
		return fmt.Errorf("'timeout %s' expects an integer value (in milliseconds)", a[1])
	}
	d, err := ParseTime(a[2], time.Millisecond)
	if err != nil {
		return timeErr(err, a[2], "timeout "+a[1])
	}
	*f(&p.Timeouts) = d
	return nil
}

func kwMaxConn(ps *parser, p *Proxy, a []string) error {
	return intArg(a, 1<<30, &p.MaxConn)
}

func kwRetries(ps *parser, p *Proxy, a []string) error {
	return intArg(a, 1000, &p.Retries)
}
