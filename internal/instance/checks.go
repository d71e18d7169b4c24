package instance

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"hitless/internal/checkrule"
	"hitless/internal/config"
	"hitless/internal/health"
	"hitless/internal/proxy"
)

// serverHealth combines what decides a server's operational state: its health
// check and its agent (`agent-check`: down, fail or stopped take it DOWN until the
// agent says up), and lists the servers that `track` it.
type serverHealth struct {
	mu    sync.Mutex // guards check, agent and applied
	check bool       // the health check says UP (true without checks)
	agent bool       // the agent does not hold it DOWN
	// applied is the state the checks last gave the server: a different one was
	// forced from outside (runtime API, stats page).
	applied   bool
	followers []*proxy.Server
}

// startChecks starts one health checker per server with `check`, one agent checker
// per server with `agent-check`, and links tracking servers to the servers they track.
func (in *Instance) startChecks() {
	in.health = map[*proxy.Server]*serverHealth{}
	byCfg := map[*config.Server]*proxy.Server{}
	for _, b := range in.State.Backends {
		for _, s := range b.Servers {
			in.health[s] = &serverHealth{check: s.Up(), agent: true, applied: s.Up()}
			byCfg[s.Cfg] = s
		}
	}
	for s, h := range in.health {
		if t := byCfg[s.Cfg.TrackServer]; t != nil {
			in.health[t].followers = append(in.health[t].followers, s)
			_ = h
		}
	}
	g := in.State.Config.Global
	// The first checks of all servers are spread evenly over their interval, in
	// configuration order across backends, as HAProxy starts them.
	total, pos := 0, 0
	for _, b := range in.State.Backends {
		for _, s := range b.Servers {
			if s.Cfg.Check {
				total++
			}
		}
	}
	for _, p := range in.State.Config.Proxies {
		b := in.State.Backends[p.Name]
		if b == nil || b.Cfg != p {
			continue
		}
		for _, s := range b.Servers {
			if s.Cfg.Check {
				cfg := in.checkConfig(b, s)
				cfg.Spread, cfg.MaxSpread = g.SpreadChecks, g.MaxSpreadChecks
				cfg.Slot, cfg.Slots = pos, total
				pos++
				cfg.Observed, cfg.OnError, cfg.ErrorLimit = s.Observed, s.Cfg.OnError, s.Cfg.ErrorLimit
				cfg.Forced = in.forcedState(s)
				in.loops.Add(1)
				go func() {
					defer in.loops.Done()
					health.Run(in.ctx, cfg, s.Up(), func(up bool, r health.Result) {
						in.setHealth(b, s, func(h *serverHealth) { h.check = up }, r, "")
					})
				}()
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
}

// forcedState tells a server's checker when its state was set from outside the
// checks since they last set it.
func (in *Instance) forcedState(s *proxy.Server) func() (bool, bool) {
	return func() (bool, bool) {
		h := in.health[s]
		h.mu.Lock()
		defer h.mu.Unlock()
		if up := s.Up(); up != h.applied {
			h.applied, h.check = up, up
			return up, true
		}
		return false, false
	}
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

// applyAgent applies an agent's reply: weight, maxconn, admin state, and the
// operational state (down, fail and stopped hold the server DOWN; up releases it),
// and records the outcome for show stat's agent columns.
func (in *Instance) applyAgent(b *proxy.Backend, s *proxy.Server, r health.AgentReply) {
	h := in.health[s]
	_, _, drain := s.Agent()
	defer func() {
		h.mu.Lock()
		down := !h.agent
		h.mu.Unlock()
		res := r.Result
		s.ObserveAgent(proxy.CheckInfo{Status: res.Status, OK: res.OK, Desc: res.Reason, Info: res.Info, Code: res.Code,
			HasCode: checkrule.HasCode(res.Status), Duration: res.Duration, At: time.Now()}, down, drain)
	}()
	if r.Err != "" {
		return
	}
	if r.Weight != nil {
		s.SetWeight(min(256, s.Cfg.Weight**r.Weight/100))
	}
	if r.MaxConn != nil {
		s.SetMaxConn(*r.MaxConn)
	}
	switch r.Admin {
	case "ready":
		s.SetAdmin(s.Admin() &^ (proxy.AdminFMaint | proxy.AdminFDrain))
		drain = false
	case "drain":
		s.SetAdmin(s.Admin()&^proxy.AdminFMaint | proxy.AdminFDrain)
		drain = true
	case "maint":
		s.SetAdmin(s.Admin() | proxy.AdminFMaint)
		drain = false
	}
	if r.State == "" {
		return
	}
	up := r.State == "up"
	in.setHealth(b, s, func(h *serverHealth) { h.agent = up }, r.Result, ", "+r.Result.Describe())
}

// setHealth changes one input of a server's state and applies the outcome, to the
// server and to the servers tracking it.
func (in *Instance) setHealth(b *proxy.Backend, s *proxy.Server, change func(*serverHealth), r health.Result, agentReason string) {
	h := in.health[s]
	h.mu.Lock()
	change(h)
	up := h.check && h.agent
	followers := h.followers
	h.mu.Unlock()
	if s.Up() == up {
		h.mu.Lock()
		h.applied = up
		h.mu.Unlock()
		return
	}
	reason := ", " + r.Describe()
	switch {
	case agentReason != "":
		reason = agentReason
	case b.Cfg.Options.LogHealthChecks:
		reason = ""
	}
	in.serverChanged(b, s, up, reason)
	h.mu.Lock()
	h.applied = up
	h.mu.Unlock()
	for _, f := range followers {
		in.follow(f, s, up)
	}
}

// follow applies a tracked server's change to a server that tracks it (and on down
// the chain).
func (in *Instance) follow(f, t *proxy.Server, up bool) {
	if f.Up() == up {
		return
	}
	in.serverChanged(f.Backend, f, up, " via "+t.Backend.Name+"/"+t.Name)
	h := in.health[f]
	h.mu.Lock()
	next := h.followers
	h.mu.Unlock()
	for _, n := range next {
		in.follow(n, f, up)
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
		Enabled:   s.ChecksEnabled,
		BufSize:   in.State.Config.Global.TuneBufSize,
		Down:      func() bool { return !s.Up() },
		State:     func() *checkrule.ServerState { return sendState(b, s, in.State.Config.Global.Node) },
		Started:   func() { s.SetChecking(true) },
		Observe: func(r health.Result, before, after int) {
			s.SetChecking(false)
			s.Observe(proxy.CheckInfo{Status: r.Status, OK: r.OK, Desc: r.Reason, Info: r.Info, Code: r.Code,
				HasCode: checkrule.HasCode(r.Status), Duration: r.Duration, At: time.Now(), Health: after})
			if r.OK {
				s.SetNOLB(r.Cond)
			}
			if b.Cfg.Options.LogHealthChecks {
				in.logHealthCheck(b, s, r, before, after)
			}
		},
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
	id := proxyIDs(in.State.Config)[b.Name]
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
	c := s.Check()
	rise, fall := s.Cfg.Rise, s.Cfg.Fall
	h := c.Health
	if c.At.IsZero() {
		if s.Up() {
			h = rise
		} else {
			h = 0
		}
	}
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

// serverChanged applies a transition and logs it in HAProxy's words, with reason
// after the server's name (", reason: ...", " via be/srv", or nothing when `option
// log-health-checks` logged it already); then `on-marked-down shutdown-sessions` and
// `on-marked-up shutdown-backup-sessions` close the sessions they name.
func (in *Instance) serverChanged(b *proxy.Backend, s *proxy.Server, up bool, reason string) {
	active := s.Conns()
	s.SetUp(up)
	act, bck := b.UsableServers()
	var msg string
	level := 5 // notice
	if up {
		msg = fmt.Sprintf("Server %s/%s is UP%s. %d active and %d backup servers online. 0 sessions requeued, %d total in queue.",
			b.Name, s.Name, reason, act, bck, b.Queued())
		in.events.Warn(msg)
	} else {
		level = 1 // alert
		msg = fmt.Sprintf("Server %s/%s is DOWN%s. %d active and %d backup servers left. %d sessions active, 0 requeued, 0 remaining in queue.",
			b.Name, s.Name, reason, act, bck, active)
		in.events.Warn(msg)
	}
	if b.Log != nil {
		b.Log.Log(level, []byte(msg))
	}
	switch {
	case !up && s.Cfg.OnMarkedDown == "shutdown-sessions":
		in.shutdownSessions(func(srv *proxy.Server) bool { return srv == s })
	case up && s.Cfg.OnMarkedUp == "shutdown-backup-sessions" && !s.Cfg.Backup:
		in.shutdownSessions(func(srv *proxy.Server) bool { return srv.Backend == b && srv.Cfg.Backup })
	}
	if !up && act == 0 && bck == 0 {
		in.events.Error(fmt.Sprintf("backend '%s' has no server available!", b.Name))
		if b.Log != nil {
			b.Log.Log(0, []byte(fmt.Sprintf("backend %s has no server available!", b.Name)))
		}
	}
}

// shutdownSessions closes the client connections whose current server matches.
func (in *Instance) shutdownSessions(match func(*proxy.Server) bool) {
	for _, st := range in.State.Streams.List() {
		if _, srv := st.Target(); srv != nil && match(srv) {
			st.Kill()
		}
	}
}
