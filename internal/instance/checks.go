package instance

import (
	"fmt"
	"os"
	"time"

	"hitless/internal/checkrule"
	"hitless/internal/health"
	"hitless/internal/proxy"
)

// startChecks starts one health checker per server with `check`.
func (in *Instance) startChecks() {
	for _, b := range in.State.Backends {
		for _, s := range b.Servers {
			if !s.Cfg.Check {
				continue
			}
			cfg := in.checkConfig(b, s)
			in.loops.Add(1)
			go func() {
				defer in.loops.Done()
				health.Run(in.ctx, cfg, s.Up(), func(up bool, r health.Result) {
					in.serverChanged(b, s, up, r)
				})
			}()
		}
	}
}

func (in *Instance) checkConfig(b *proxy.Backend, s *proxy.Server) health.Config {
	t := b.Cfg.Timeouts
	c := health.Config{
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
		Observe: func(r health.Result, before, after int) {
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

// serverChanged applies a health transition and logs it in HAProxy's words; with
// `option log-health-checks` the reason was on the health check line already.
func (in *Instance) serverChanged(b *proxy.Backend, s *proxy.Server, up bool, r health.Result) {
	s.SetUp(up)
	act, bck := b.UsableServers()
	reason := ", " + r.Describe()
	if b.Cfg.Options.LogHealthChecks {
		reason = ""
	}
	var msg string
	level := 5 // notice
	if up {
		msg = fmt.Sprintf("Server %s/%s is UP%s. %d active and %d backup servers online. 0 sessions requeued, %d total in queue.",
			b.Name, s.Name, reason, act, bck, b.Queued())
		in.events.Warn(msg)
	} else {
		level = 1 // alert
		msg = fmt.Sprintf("Server %s/%s is DOWN%s. %d active and %d backup servers left. %d sessions active, 0 requeued, 0 remaining in queue.",
			b.Name, s.Name, reason, act, bck, s.Conns())
		in.events.Warn(msg)
	}
	if b.Log != nil {
		b.Log.Log(level, []byte(msg))
	}
	if !up && act == 0 && bck == 0 {
		in.events.Error(fmt.Sprintf("backend '%s' has no server available!", b.Name))
		if b.Log != nil {
			b.Log.Log(0, []byte(fmt.Sprintf("backend %s has no server available!", b.Name)))
		}
	}
}
