package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ServerOptions are the server keywords of health checks, agents, state tracking,
// addresses and the PROXY protocol; `server` and `default-server` lines fill them from
// serverKeywords.
type ServerOptions struct {
	// PortMode tells how Port is read: PortFixed (host:port), PortClient (no port:
	// the port the client connected to) or PortOffset (+N/-N: that port plus Port).
	PortMode int
	// CheckPort and CheckAddr are `port` and `addr`: where checks go instead of the
	// server's address.
	CheckPort      int
	CheckAddr      string
	CheckSendProxy bool // `check-send-proxy`
	Agent          Agent
	// OnMarkedDown is "shutdown-sessions" or ""; OnMarkedUp "shutdown-backup-sessions" or "".
	OnMarkedDown, OnMarkedUp string
	// Observe is "layer4", "layer7" or "" (none); OnError what a run of ErrorLimit
	// observed errors does: "fastinter" (default), "fail-check", "sudden-death",
	// "mark-down".
	Observe    string
	OnError    string
	ErrorLimit int           // default 10
	Slowstart  time.Duration // 0 = none
	// Track is `track [BACKEND/]SERVER`: the server takes that server's check state.
	Track       string
	TrackServer *Server `json:"-"` // the server tracked, resolved once every file is read
	// InitAddr is `init-addr`: the methods in order ("libc", "none" or an IP).
	InitAddr []string `json:",omitempty"`
	MinConn  int
	ID       int // `id`; 0 = assigned in order
	NonStick bool
	// Source is `source ADDR[:PORT]`: the local address of connections to the server.
	Source string
	TFO    bool
	// SendProxy is the PROXY protocol version sent to the server first: 0 none, 1
	// (`send-proxy`) or 2 (`send-proxy-v2`); ProxyV2Options its TLVs.
	SendProxy      int
	ProxyV2Options []string `json:",omitempty"`
}

// Agent is `agent-check` with its options.
type Agent struct {
	Enabled bool
	Port    int
	Addr    string
	Inter   time.Duration // 0 = the server's inter
	Send    string
}

// Port modes of ServerOptions.PortMode.
const (
	PortFixed = iota
	PortClient
	PortOffset
)

// KeepAlive is `clitcpka-*` or `srvtcpka-*`: TCP_KEEPCNT, TCP_KEEPIDLE and
// TCP_KEEPINTVL; 0 = the system's.
type KeepAlive struct {
	Count          int
	Idle, Interval time.Duration
}

// Config is the keep-alive to set on a socket: on, with the values set here and the
// system's for the others.
func (k KeepAlive) Config() net.KeepAliveConfig {
	c := net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}
	if k.Idle > 0 {
		c.Idle = k.Idle
	}
	if k.Interval > 0 {
		c.Interval = k.Interval
	}
	if k.Count > 0 {
		c.Count = k.Count
	}
	return c
}

// keepAliveTime reads a keep-alive timer: seconds by default, whole seconds only.
func keepAliveTime(a []string, dst *time.Duration) error {
	if len(a) != 2 {
		return fmt.Errorf("'%s' expects an integer value", a[0])
	}
	d, err := ParseTime(a[1], time.Second)
	if err != nil {
		return timeErr(err, a[1], a[0])
	}
	if d%time.Second != 0 || d <= 0 {
		return fmt.Errorf("'%s' expects a positive number of seconds (got '%s')", a[0], a[1])
	}
	*dst = d
	return nil
}

// GlobalChecks are the global settings of health checks.
type GlobalChecks struct {
	SpreadChecks    int           // `spread-checks` percent, 0-50
	MaxSpreadChecks time.Duration // `max-spread-checks`
	// ExternalCheck and InsecureForkWanted are `external-check` and
	// `insecure-fork-wanted`: both are needed for `option external-check`.
	ExternalCheck, InsecureForkWanted bool
}

func init() {
	globalKeywords["spread-checks"] = func(ps *parser, g *Global, a []string) error {
		if err := intArg(a, 1<<30, &g.SpreadChecks); err != nil {
			return err
		}
		if g.SpreadChecks > 50 {
			return fmt.Errorf("'spread-checks' needs a positive value < 50.")
		}
		return nil
	}
	globalKeywords["max-spread-checks"] = func(ps *parser, g *Global, a []string) error {
		return timeArg(a, &g.MaxSpreadChecks)
	}
	// TCP keep-alive tuning of client (cli) and server (srv) connections, applied
	// when the matching tcpka option is on.
	for _, side := range []string{"cli", "srv"} {
		sections := "dfl"
		if side == "srv" {
			sections = "dbl"
		}
		field := func(p *Proxy) *KeepAlive {
			if side == "cli" {
				return &p.CliKeepAlive
			}
			return &p.SrvKeepAlive
		}
		proxyKeywords[side+"tcpka-cnt"] = kw{sections, func(ps *parser, p *Proxy, a []string) error {
			return intArg(a, 1<<20, &field(p).Count)
		}}
		proxyKeywords[side+"tcpka-idle"] = kw{sections, func(ps *parser, p *Proxy, a []string) error {
			return keepAliveTime(a, &field(p).Idle)
		}}
		proxyKeywords[side+"tcpka-intvl"] = kw{sections, func(ps *parser, p *Proxy, a []string) error {
			return keepAliveTime(a, &field(p).Interval)
		}}
	}
	proxyKeywords["fullconn"] = kw{"dbl", func(ps *parser, p *Proxy, a []string) error {
		return intArg(a, 1<<30, &p.FullConn)
	}}
	options["clitcpka"] = flagOpt(func(p *Proxy) *bool { return &p.Options.CliTCPKA })
	options["srvtcpka"] = flagOpt(func(p *Proxy) *bool { return &p.Options.SrvTCPKA })
	options["tcpka"] = func(p *Proxy, on bool, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("'tcpka' cannot handle unexpected argument '%s'.", args[0])
		}
		p.Options.CliTCPKA, p.Options.SrvTCPKA = on, on
		return nil
	}
}

// serverKeywords are the server options of this file, for `server` and
// `default-server` alike. Options of other concerns stay in serverOptions' list in
// keywords.go.
var serverKeywords = map[string]optionRow[Server]{
	"port": {1, func(s *Server, v string) error { return portArg(v, &s.CheckPort, "port") }},
	"addr": {1, func(s *Server, v string) error {
		ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(v, "["), "]"))
		if err != nil {
			return fmt.Errorf("'addr' expects an IP address (got '%s'); names need DNS, which is not supported yet", v)
		}
		s.CheckAddr = ip.String()
		return nil
	}},
	"check-send-proxy":    {0, func(s *Server, _ string) error { s.CheckSendProxy = true; return nil }},
	"no-check-send-proxy": {0, func(s *Server, _ string) error { s.CheckSendProxy = false; return nil }},
	"agent-check":         {0, func(s *Server, _ string) error { s.Agent.Enabled = true; return nil }},
	"no-agent-check":      {0, func(s *Server, _ string) error { s.Agent.Enabled = false; return nil }},
	"agent-port":          {1, func(s *Server, v string) error { return portArg(v, &s.Agent.Port, "agent-port") }},
	"agent-addr": {1, func(s *Server, v string) error {
		ip, err := netip.ParseAddr(v)
		if err != nil {
			return fmt.Errorf("'agent-addr' expects an IP address (got '%s')", v)
		}
		s.Agent.Addr = ip.String()
		return nil
	}},
	"agent-inter": {1, func(s *Server, v string) error { return positiveTime(v, &s.Agent.Inter, "agent-inter", s.Name) }},
	"agent-send":  {1, func(s *Server, v string) error { s.Agent.Send = v; return nil }},
	"on-marked-down": {1, func(s *Server, v string) error {
		if v != "shutdown-sessions" {
			return fmt.Errorf("'on-marked-down' expects 'shutdown-sessions' but got '%s'", v)
		}
		s.OnMarkedDown = v
		return nil
	}},
	"on-marked-up": {1, func(s *Server, v string) error {
		if v != "shutdown-backup-sessions" {
			return fmt.Errorf("'on-marked-up' expects 'shutdown-backup-sessions' but got '%s'", v)
		}
		s.OnMarkedUp = v
		return nil
	}},
	"observe": {1, func(s *Server, v string) error {
		if v != "none" && v != "layer4" && v != "layer7" {
			return fmt.Errorf("'observe' expects one of 'none', 'layer4', 'layer7' but got '%s'", v)
		}
		if v == "layer7" {
			return fmt.Errorf("'observe layer7' (passive checks of HTTP responses) is not supported yet")
		}
		s.Observe = strings.TrimPrefix(v, "none")
		return nil
	}},
	"on-error": {1, func(s *Server, v string) error {
		switch v {
		case "fastinter", "fail-check", "sudden-death", "mark-down":
			s.OnError = v
			return nil
		}
		return fmt.Errorf("'on-error' expects one of 'fastinter', 'fail-check', 'sudden-death' or 'mark-down' but got '%s'", v)
	}},
	"error-limit": {1, func(s *Server, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("'error-limit' has to be > 0.")
		}
		s.ErrorLimit = n
		return nil
	}},
	"slowstart": {1, func(s *Server, v string) error {
		d, err := ParseTime(v, time.Millisecond)
		if err != nil {
			return fmt.Errorf("invalid value '%s' for argument 'slowstart' of server %s.", v, s.Name)
		}
		s.Slowstart = d
		return nil
	}},
	"track": {1, func(s *Server, v string) error { s.Track = v; return nil }},
	"init-addr": {1, func(s *Server, v string) error {
		s.InitAddr = nil
		for _, m := range strings.Split(v, ",") {
			switch {
			case m == "libc" || m == "none":
			case m == "last":
				return fmt.Errorf("'init-addr last' needs a server-state file with addresses and is not supported yet")
			default:
				if _, err := netip.ParseAddr(m); err != nil {
					return fmt.Errorf("'init-addr' : unknown method or address '%s'", m)
				}
			}
			s.InitAddr = append(s.InitAddr, m)
		}
		return nil
	}},
	"minconn": {1, func(s *Server, v string) error {
		n, err := parseInt(v, 1<<30)
		if err != nil {
			return fmt.Errorf("'minconn' expects an integer argument (got '%s')", v)
		}
		s.MinConn = n
		return nil
	}},
	"id": {1, func(s *Server, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("custom id has to be > 0.")
		}
		s.ID = n
		return nil
	}},
	"non-stick":    {0, func(s *Server, _ string) error { s.NonStick = true; return nil }},
	"no-non-stick": {0, func(s *Server, _ string) error { s.NonStick = false; return nil }},
	"source": {1, func(s *Server, v string) error {
		if _, err := parseSource(v); err != nil {
			return err
		}
		s.Source = v
		return nil
	}},
	"tfo":                  {0, func(s *Server, _ string) error { s.TFO = true; return nil }},
	"no-tfo":               {0, func(s *Server, _ string) error { s.TFO = false; return nil }},
	"send-proxy":           {0, func(s *Server, _ string) error { s.SendProxy = 1; return nil }},
	"no-send-proxy":        {0, func(s *Server, _ string) error { s.SendProxy = 0; return nil }},
	"send-proxy-v2":        {0, func(s *Server, _ string) error { s.SendProxy = 2; return nil }},
	"no-send-proxy-v2":     {0, func(s *Server, _ string) error { s.SendProxy = 0; return nil }},
	"proxy-v2-options":     {1, parseProxyV2Options},
	"send-proxy-v2-ssl":    {0, needsTLS("send-proxy-v2-ssl")},
	"send-proxy-v2-ssl-cn": {0, needsTLS("send-proxy-v2-ssl-cn")},
	"redir": {1, func(s *Server, v string) error {
		return fmt.Errorf("'redir' is not supported yet")
	}},
	"usesrc": {1, func(s *Server, v string) error {
		return fmt.Errorf("'usesrc' (transparent source addresses) needs CAP_NET_ADMIN and IP_TRANSPARENT and is not supported yet")
	}},
	"namespace": {1, func(s *Server, v string) error {
		return fmt.Errorf("'namespace' (network namespaces) is not supported yet")
	}},
}

func needsTLS(name string) func(s *Server, v string) error {
	return func(s *Server, v string) error {
		return fmt.Errorf("'%s' carries TLS details and is not supported yet", name)
	}
}

// proxyV2Options are the TLVs `proxy-v2-options` may ask for; those that need TLS
// are not supported yet.
var proxyV2Options = map[string]bool{"authority": true, "crc32c": true, "unique-id": true,
	"ssl": false, "cert-cn": false, "ssl-cipher": false, "cert-sig": false, "cert-key": false}

func parseProxyV2Options(s *Server, v string) error {
	s.ProxyV2Options = nil
	for _, o := range strings.Split(v, ",") {
		ok, known := proxyV2Options[o]
		if !known {
			return fmt.Errorf("'proxy-v2-options' : unknown option '%s'", o)
		}
		if !ok {
			return fmt.Errorf("'proxy-v2-options %s' carries TLS details and is not supported yet", o)
		}
		s.ProxyV2Options = append(s.ProxyV2Options, o)
	}
	return nil
}

func portArg(v string, dst *int, name string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("'%s' expects a valid port number (1-65535), got '%s'", name, v)
	}
	*dst = n
	return nil
}

func positiveTime(v string, dst *time.Duration, opt, server string) error {
	d, err := ParseTime(v, time.Millisecond)
	if err != nil || d == 0 {
		return fmt.Errorf("invalid value '%s' for argument '%s' of server %s.", v, opt, server)
	}
	*dst = d
	return nil
}

// parseSource reads `source ADDR[:PORT]`; port ranges and usesrc are not supported.
func parseSource(v string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return ap, nil
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(v, "["), "]"))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("'source' expects an IP address with an optional port (got '%s')", v)
	}
	return netip.AddrPortFrom(ip, 0), nil
}

// initAddr applies `init-addr` when a server's name did not resolve: its methods in
// order, `libc` (the resolution that just failed), an IP address to use instead, or
// `none` (the server starts without an address, in maintenance, as HAProxy does). The
// server line's own init-addr wins over default-server's.
func initAddr(spec string, opts []string, s *Server, resolveErr error) (string, int, int, error) {
	methods := s.InitAddr
	for i := 0; i+1 < len(opts); i++ {
		if opts[i] == "init-addr" {
			methods = strings.Split(opts[i+1], ",")
		}
	}
	if len(methods) == 0 || !strings.Contains(resolveErr.Error(), "could not resolve") {
		return "", 0, 0, resolveErr
	}
	port := ""
	if i := strings.LastIndexByte(spec, ':'); i >= 0 {
		port = spec[i:]
	}
	for _, m := range methods {
		switch m {
		case "libc":
			continue
		case "none":
			s.Disabled = true
			m = "0.0.0.0"
		}
		return parseServerAddr(m + port)
	}
	return "", 0, 0, resolveErr
}

// splitServerPort reads a server address's port part: "" (the client's port), +N/-N
// (an offset to it) or a port.
func splitServerPort(p string) (port, mode int, err error) {
	switch {
	case p == "":
		return 0, PortClient, nil
	case p[0] == '+' || p[0] == '-':
		n, err := strconv.Atoi(p)
		if err != nil || n < -65535 || n > 65535 {
			return 0, 0, fmt.Errorf("invalid port offset '%s'", p)
		}
		return n, PortOffset, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, 0, fmt.Errorf("invalid port '%s'", p)
	}
	return n, PortFixed, nil
}

// checkServers validates what needs every server of every backend: a tracked server
// exists and is checked, and a checked server has a port to check.
func (ps *parser) checkServers(byName map[string]*Proxy) {
	for _, p := range ps.cfg.Proxies {
		if !p.IsBackend() {
			continue
		}
		for _, s := range p.Servers {
			if s.Check && s.PortMode != PortFixed && s.CheckPort == 0 {
				ps.errs = append(ps.errs, &Error{Pos: s.Pos, Msg: fmt.Sprintf("config: backend '%s': server '%s' has neither service port nor check port.", p.Name, s.Name)})
			}
			if s.Agent.Enabled && s.Agent.Port == 0 {
				ps.errs = append(ps.errs, &Error{Pos: s.Pos, Msg: fmt.Sprintf("'server %s/%s' : server %s does not have agent port. Agent check has been disabled.", p.Name, s.Name, s.Name)})
			}
			if s.Check && s.Track != "" {
				ps.errs = append(ps.errs, &Error{Pos: s.Pos, Msg: fmt.Sprintf("'server %s/%s' : unable to enable checks and tracking at the same time!", p.Name, s.Name)})
				continue
			}
			if s.Track == "" {
				continue
			}
			be, name, ok := strings.Cut(s.Track, "/")
			if !ok {
				be, name = p.Name, s.Track
			}
			tp := byName[be]
			var t *Server
			if tp != nil {
				for _, o := range tp.Servers {
					if o.Name == name {
						t = o
					}
				}
			}
			var msg string
			switch {
			case tp == nil:
				msg = fmt.Sprintf("unable to find required proxy '%s' for tracking.", be)
			case t == nil:
				msg = fmt.Sprintf("unable to find required server '%s' for tracking.", name)
			case t == s:
				msg = "unable to track itself."
			case !t.Check && !t.Agent.Enabled && t.Track == "":
				msg = fmt.Sprintf("unable to use %s/%s for tracking as it does not have any check nor agent enabled.", be, name)
			default:
				s.TrackServer = t
				continue
			}
			ps.errs = append(ps.errs, &Error{Pos: s.Pos, Msg: fmt.Sprintf("'server %s/%s' : %s", p.Name, s.Name, msg)})
		}
	}
}
