package instance

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"hitless/internal/checkrule"
	"hitless/internal/config"
	"hitless/internal/health"
	"hitless/internal/proxy"
)

// Health checks, agent checks and tracking only decide; every change they make to a
// server is one transition of its state word in package proxy (CheckChange,
// CheckCond, AgentState, AgentAdmin, and the trackers following there), which logs
// it in HAProxy's words. The agent's hold on the server (down until it says up) is
// a bit of that word, so a check passing cannot bring up a server its agent holds
// DOWN.

// startChecks starts one health checker per server with `check` and one agent
// checker per server with `agent-check`.
func (in *Instance) startChecks() {
	g := in.State.Config.Global
	// HAProxy spreads the first checks evenly over the shortest interval (at most
	// max-spread-checks), in configuration order: the first server is checked at once.
	var checked []*proxy.Server
	var mininter time.Duration
	for _, p := range in.State.Config.Proxies {
		b := in.State.Backends[p.Name]
		if b == nil || b.Cfg != p {
			continue
		}
		for _, s := range b.Servers {
			if s.Cfg.Check {
				checked = append(checked, s)
				inter := s.Cfg.Inter
				if s.Cfg.FastInter > 0 { // a server starts below full health
					inter = s.Cfg.FastInter
				}
				if mininter == 0 || inter > 0 && inter < mininter {
					mininter = inter
				}
			}
			if s.Cfg.Agent.Enabled {
				ac := in.agentConfig(b, s)
				in.loops.Add(1)
				go func() {
					defer in.loops.Done()
					health.RunAgent(in.ctx, ac, func(r health.AgentReply) { in.applyAgent(b, s, r) })
				}()
			}
		}
	}
	if g.MaxSpreadChecks > 0 && mininter > g.MaxSpreadChecks {
		mininter = g.MaxSpreadChecks
	}
	for pos, s := range checked {
		b := s.Backend
		cfg := in.checkConfig(b, s)
		first := mininter * time.Duration(pos) / time.Duration(len(checked))
		cfg.First = &first
		cfg.Spread = g.SpreadChecks
		cfg.Observed, cfg.OnError, cfg.ErrorLimit = s.Observed, s.Cfg.OnError, s.Cfg.ErrorLimit
		in.loops.Add(1)
		go func() {
			defer in.loops.Done()
			health.Run(in.ctx, cfg, s.Up(), func(up bool, r health.Result) {
				op := proxy.OpStopped
				if up {
					op = proxy.OpRunning
					if r.Cond {
						op = proxy.OpStopping
					}
				}
				s.CheckChange(op, checkReason(b, r))
			})
		}()
	}
}

// checkReason is what a state change's log line says of the check that caused it:
// its "reason: ..." text, or nothing with `option log-health-checks`, whose own line
// said it already.
func checkReason(b *proxy.Backend, r health.Result) string {
	if b.Cfg.Options.LogHealthChecks {
		return ""
	}
	return r.Describe()
}

// agentConfig describes a server's agent check: agent-addr (else the server's
// address) and agent-port, every agent-inter (else inter), bounded by the check
// timeouts.
func (in *Instance) agentConfig(b *proxy.Backend, s *proxy.Server) health.AgentConfig {
	host := s.Address().Host
	if s.Cfg.Agent.Addr != "" {
		host = s.Cfg.Agent.Addr
	}
	inter := s.Cfg.Agent.Inter
	if inter <= 0 {
		inter = s.Cfg.Inter
	}
	timeout := inter
	if t := b.Cfg.Timeouts.Check; t > 0 {
		timeout = t
	}
	return health.AgentConfig{Addr: net.JoinHostPort(host, strconv.Itoa(s.Cfg.Agent.Port)), Source: sourceAddr(s.Cfg.Source), Send: s.Cfg.Agent.Send,
		Inter: inter, Timeout: timeout, Enabled: s.ChecksEnabled}
}

// applyAgent applies an agent's reply: weight, maxconn, admin state (ready, drain,
// maint) and operational state (down, fail and stopped hold the server DOWN; up
// releases it), and records the outcome for show stat's agent columns.
func (in *Instance) applyAgent(b *proxy.Backend, s *proxy.Server, r health.AgentReply) {
	res := r.Result
	defer s.ObserveAgent(proxy.CheckInfo{Status: res.Status, OK: res.OK, Desc: res.Reason, Info: res.Info, Code: res.Code,
		HasCode: checkrule.HasCode(res.Status), Duration: res.Duration, At: time.Now()})
	if r.Err != "" {
		return
	}
	if r.Weight != nil {
		s.SetWeight(min(256, s.Cfg.Weight**r.Weight/100))
	}
	if r.MaxConn != nil {
		s.SetMaxConn(*r.MaxConn)
	}
	if r.Admin != "" {
		s.AgentAdmin(r.Admin)
	}
	if r.State != "" {
		s.AgentState(r.State == "up", res.Describe())
	}
}

func (in *Instance) checkConfig(b *proxy.Backend, s *proxy.Server) health.Config {
	t := b.Cfg.Timeouts
	c := health.Config{
		Source:    sourceAddr(s.Cfg.Source),
		Port:      s.Cfg.CheckPort,
		Host:      s.Cfg.CheckAddr,
		SendProxy: checkProxyVersion(s.Cfg),
		Addr:      s.Addr(),
		Target:    s.Addr,
		Rules:     b.Cfg.Checks.Ruleset,
		Inter:     s.Cfg.Inter,
		FastInter: s.Cfg.FastInter,
		DownInter: s.Cfg.DownInter,
		Rise:      s.Cfg.Rise,
		Fall:      s.Cfg.Fall,
		// Checks pause while the server is in maintenance, as in HAProxy.
		Enabled: func() bool { return s.ChecksEnabled() && !s.Maint() },
		Sync:    s.TakeForcedHealth,
		BufSize: in.State.Config.Global.TuneBufSize,
		Down:    func() bool { return !s.Up() },
		State:   func() *checkrule.ServerState { return sendState(b, s, in.State.Config.Global.Node) },
		Started: func() { s.SetChecking(true) },
		Observe: func(r health.Result, before, after int) {
			s.SetChecking(false)
			s.Observe(proxy.CheckInfo{Status: r.Status, OK: r.OK, Desc: r.Reason, Info: r.Info, Code: r.Code,
				HasCode: checkrule.HasCode(r.Status), Duration: r.Duration, At: time.Now()}, after)
			if b.Cfg.Options.LogHealthChecks {
				in.logHealthCheck(b, s, r, before, after)
			}
			if r.OK {
				// A pass keeps an up server running, or NOLB for a conditional one.
				s.CheckCond(r.Cond, checkReason(b, r))
			}
		},
	}
	// Checks run over TLS with check-ssl, or when the server uses ssl and its checks
	// go where its traffic goes (no `port` nor `addr`), as HAProxy inherits it.
	if t := s.Cfg.TLS; t != nil && (t.CheckSSL() || s.Cfg.SSL != nil && s.Cfg.SSL.Enabled && s.Cfg.CheckPort == 0 && s.Cfg.CheckAddr == "") {
		c.Handshake = t.CheckHandshake
	}
	if b.Cfg.Checks.Type == "external-check" {
		c.External = in.externalCheck(b, s)
	}
	// HAProxy: with `timeout check`, connect takes min(timeout connect, inter) and the
	// response `timeout check`; without it, inter bounds both.
	c.ConnectTimeout = s.Cfg.Inter
	c.ReadTimeout = s.Cfg.Inter
	if t.Check > 0 {
		if t.Connect > 0 && t.Connect < c.ConnectTimeout {
			c.ConnectTimeout = t.Connect
		}
		c.ReadTimeout = t.Check
	}
	return c
}

// externalCheck describes `option external-check` for a server: HAProxy's four
// arguments and its environment, nothing else but PATH (`external-check path`).
func (in *Instance) externalCheck(b *proxy.Backend, s *proxy.Server) *health.External {
	pAddr, pPort := "NOT_USED", "NOT_USED"
	envAddr, envPort := "", ""
	if binds := b.Cfg.Binds; len(binds) > 0 {
		if a := binds[0].Addr; a.Network == "unix" {
			pAddr, envAddr = a.Path, a.Path
		} else {
			pAddr, pPort = a.Host, strconv.Itoa(a.Port)
			envAddr, envPort = pAddr, pPort
		}
	}
	id := in.State.IDs[b.Name]
	proto := "tcp"
	if b.Cfg.Mode == config.ModeHTTP {
		proto = "h1"
	}
	return &health.External{
		Command: b.Cfg.Checks.ExternalCommand,
		Args: func() []string {
			a := s.Address()
			return []string{pAddr, pPort, a.Host, strconv.Itoa(a.Port)}
		},
		Env: func() []string {
			a := s.Address()
			return []string{
				"HAPROXY_PROXY_ADDR=" + envAddr,
				"HAPROXY_PROXY_ID=" + strconv.Itoa(id),
				"HAPROXY_PROXY_NAME=" + b.Name,
				"HAPROXY_PROXY_PORT=" + envPort,
				"HAPROXY_SERVER_ADDR=" + a.Host,
				"HAPROXY_SERVER_CURCONN=" + strconv.Itoa(s.Conns()),
				"HAPROXY_SERVER_ID=" + strconv.Itoa(s.ID),
				"HAPROXY_SERVER_MAXCONN=" + strconv.Itoa(s.MaxConn()),
				"HAPROXY_SERVER_NAME=" + s.Name,
				"HAPROXY_SERVER_PORT=" + strconv.Itoa(a.Port),
				"HAPROXY_SERVER_PROTO=" + proto,
				"HAPROXY_SERVER_SSL=0",
				"PATH=" + b.Cfg.Checks.ExternalPath,
			}
		},
	}
}

// sourceAddr is the IP of a `source ADDR[:PORT]`, or the zero Addr.
func sourceAddr(src string) netip.Addr {
	if ap, err := netip.ParseAddrPort(src); err == nil {
		return ap.Addr()
	}
	ip, _ := netip.ParseAddr(src)
	return ip
}

// checkProxyVersion is the PROXY protocol version checks send: with
// `check-send-proxy` the server's version (1 when it sends none); otherwise the
// server's when its checks go where its traffic goes (no `port` nor `addr`).
func checkProxyVersion(s *config.Server) int {
	switch {
	case s.CheckSendProxy && s.SendProxy == 0:
		return 1
	case s.CheckSendProxy:
		return s.SendProxy
	case s.CheckPort == 0 && s.CheckAddr == "":
		return s.SendProxy
	}
	return 0
}

// sendState is what `http-check send-state` tells a server about itself.
func sendState(b *proxy.Backend, s *proxy.Server, node string) *checkrule.ServerState {
	if node == "" {
		node, _ = os.Hostname()
	}
	rise, fall := s.Cfg.Rise, s.Cfg.Fall
	h := s.Health()
	st := &checkrule.ServerState{Backend: b.Name, Name: s.Name, Node: node, Weight: s.Weight(),
		Conns: s.Conns(), BeConns: int(b.Counters.CurConns.Load())}
	a := s.Address()
	st.Addr, st.Port = a.Host, a.Port
	for _, o := range b.Servers {
		if o.Usable() {
			st.Total += o.Weight()
		}
	}
	switch {
	case !s.Up():
		st.State = fmt.Sprintf("DOWN %d/%d", h, rise)
		if h == 0 {
			st.State = "DOWN"
		}
	case h == rise+fall-1:
		st.State = "UP"
	default:
		st.State = fmt.Sprintf("UP %d/%d", h-rise+1, fall)
	}
	return st
}

// logHealthCheck writes `option log-health-checks`' line for a check that changed the
// server's health counter, as HAProxy words it.
func (in *Instance) logHealthCheck(b *proxy.Backend, s *proxy.Server, r health.Result, before, after int) {
	full := s.Cfg.Rise + s.Cfg.Fall - 1
	if !(r.OK && before != full || !r.OK && before != 0) {
		return
	}
	verb := "failed"
	if r.OK {
		verb = "succeeded"
	}
	state := "DOWN"
	num, den := after, s.Cfg.Rise
	if after >= s.Cfg.Rise {
		num, den = after-s.Cfg.Rise+1, s.Cfg.Fall
		state = "UP"
	}
	msg := fmt.Sprintf("Health check for server %s/%s %s, %s, status: %d/%d %s.", b.Name, s.Name, verb, r.Describe(), num, den, state)
	in.events.Warn(msg)
	if b.Log != nil {
		b.Log.Log(5, []byte(msg))
	}
}
