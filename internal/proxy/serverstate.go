package proxy

import (
	"fmt"
	"time"

	"hitless/internal/config"
)

// Admin state flags, with HAProxy's values (`show servers state` prints them).
const (
	AdminFMaint = 0x01 // maintenance: set by an operator, or with AdminCMaint
	AdminCMaint = 0x04 // `disabled` in the configuration; it stays when FMaint is cleared
	AdminFDrain = 0x08 // drain, set by an operator
)

// Operational states, HAProxy's SRV_ST_* (`show servers state` srv_op_state).
const (
	OpStopped  = 0 // DOWN: by its checks, by an operator, or in maintenance
	OpStarting = 1
	OpRunning  = 2
	OpStopping = 3 // NOLB: serves what it has, takes no new balanced traffic
)

// srvState is a server's state in one word, so that every change is one
// compare-and-swap whoever makes it (runtime API, stats page, checks, a reload):
// admin flags in bits 0-7, operational state in bits 8-9, HAProxy's health counter
// (0..rise+fall-1) in bits 16-23, bit 24 set when the state was forced outside the
// checks, until the checker takes the new health counter up, bit 25 while the agent
// (`agent-check`) holds the server DOWN, and bit 26 when a drain was the agent's.
type srvState uint32

const (
	srvForced     = 1 << 24
	srvAgentDown  = 1 << 25 // the agent said down, fail or stopped, and not up since
	srvAgentDrain = 1 << 26 // the agent said drain (`DRAIN (agent)`); only with AdminFDrain
	agentBits     = srvAgentDown | srvAgentDrain
)

func (v srvState) admin() uint32 { return uint32(v) & 0xff }
func (v srvState) op() int       { return int(v>>8) & 3 }
func (v srvState) health() int   { return int(v>>16) & 0xff }
func (v srvState) maint() bool   { return v&AdminFMaint != 0 }
func (v srvState) drain() bool   { return v&AdminFDrain != 0 }

func makeState(admin uint32, op, health int) srvState {
	return srvState(admin&0xff | uint32(op&3)<<8 | uint32(min(max(health, 0), 0xff))<<16)
}

// set is makeState keeping v's agent bits.
func (v srvState) set(admin uint32, op, health int) srvState {
	return makeState(admin, op, health) | v&agentBits
}

func (v srvState) withHealth(h int) srvState {
	return v&^(0xff<<16) | srvState(min(max(h, 0), 0xff))<<16
}

// initialState is a server's state at start-up: running with its health counter at
// rise (HAProxy's start, so that the first failed check takes it down), or in
// maintenance when the configuration says `disabled`.
func initialState(sc *config.Server) srvState {
	if sc.Disabled {
		return makeState(AdminFMaint|AdminCMaint, OpStopped, 0)
	}
	return makeState(0, OpRunning, sc.Rise)
}

// Cause says who changes a server's state, in the words of HAProxy's log line
// ("changed from CLI", or a check's "reason: ..."; nothing with `option
// log-health-checks`, which logged the check already), or Via names the tracked
// server ("be/srv") a tracking server follows. A Quiet change is not logged.
type Cause struct {
	Text  string
	Via   string
	Quiet bool
}

// suffix is what the log line says after the server's new state.
func (c Cause) suffix() string {
	switch {
	case c.Via != "":
		return " via " + c.Via
	case c.Text != "":
		return ", " + c.Text
	}
	return ""
}

// The causes of changes that do not come from a check.
var (
	ByCLI       = Cause{Text: "changed from CLI"}
	ByWeb       = Cause{Text: "changed from Web interface"}
	ByStateFile = Cause{Text: "changed from server-state after a reload"}
	ByReload    = Cause{Quiet: true} // the state an older process handed over
)

// Admin returns the admin state flags (AdminFMaint, AdminCMaint, AdminFDrain).
func (s *Server) Admin() uint32 { return srvState(s.state.Load()).admin() }

// OpState is the operational state (OpStopped .. OpStopping).
func (s *Server) OpState() int { return srvState(s.state.Load()).op() }

// Health is HAProxy's health counter: 0..rise+fall-1, up from rise on, 0 while stopped
// or in maintenance.
func (s *Server) Health() int { return srvState(s.state.Load()).health() }

// Up reports whether the server is not stopped (running or stopping).
func (s *Server) Up() bool { return s.OpState() != OpStopped }

// Maint reports whether the server is in maintenance.
func (s *Server) Maint() bool { return srvState(s.state.Load()).maint() }

// Drain reports whether the server is draining (no new balanced traffic).
func (s *Server) Drain() bool { return srvState(s.state.Load()).drain() }

// Usable reports whether the server may take traffic, ignoring maxconn.
func (s *Server) Usable() bool {
	v := srvState(s.state.Load())
	return v.op() == OpRunning && !v.maint() && !v.drain() && s.weight.Load() > 0
}

// Downtime is the total time the server spent stopped (downtime), maintenance included.
func (s *Server) Downtime() time.Duration {
	d := s.downFor.Load()
	if s.OpState() == OpStopped {
		d += time.Now().Unix() - s.downAt.Load()
	}
	return time.Duration(d) * time.Second
}

// CheckFailures returns the failed checks of the server while it was not already
// down (chkfail) and its transitions to stopped (chkdown).
func (s *Server) CheckFailures() (failed, down uint64) { return s.chkFail.Load(), s.chkDown.Load() }

// SetMaint puts the server in maintenance (`set server state maint`, `disable
// server`, the stats page): it leaves drain, stops, and its checks pause.
func (s *Server) SetMaint(c Cause) bool { return s.update(c, s.toMaint) }

// SetDrain drains the server (`set server state drain`); leaving maintenance so, it
// runs again with its health counter at rise, as after a start.
func (s *Server) SetDrain(c Cause) bool {
	return s.update(c, func(v srvState) srvState { return s.toDrain(v) &^ srvAgentDrain })
}

// SetReady ends maintenance and drain (`set server state ready`, `enable server`).
func (s *Server) SetReady(c Cause) bool { return s.update(c, s.toReady) }

func (s *Server) toMaint(v srvState) srvState {
	if v.maint() {
		return v
	}
	return v.set(v.admin()&^AdminFDrain|AdminFMaint, OpStopped, 0)
}

func (s *Server) toDrain(v srvState) srvState {
	if v.maint() {
		return v.set(v.admin()&^AdminFMaint|AdminFDrain, OpRunning, s.leaveMaintHealth()) | srvForced
	}
	return v.set(v.admin()|AdminFDrain, v.op(), v.health()) | v&srvForced
}

func (s *Server) toReady(v srvState) srvState {
	if v.maint() {
		return v.set(v.admin()&^(AdminFMaint|AdminFDrain), OpRunning, s.leaveMaintHealth()) | srvForced
	}
	return v.set(v.admin()&^AdminFDrain, v.op(), v.health()) | v&srvForced
}

// leaveMaintHealth is the health counter of a server leaving maintenance: rise for a
// checked server, as after a start; a server without checks keeps 0, as in HAProxy.
func (s *Server) leaveMaintHealth() int {
	if s.Cfg.Check {
		return s.Cfg.Rise
	}
	return 0
}

// SetHealth forces the operational state from outside the checks (`set server
// health`, the stats page): OpRunning or OpStopping at full health, or OpStopped at 0.
// A server in maintenance ignores it, as in HAProxy. The checker starts from there.
func (s *Server) SetHealth(op int, c Cause) bool {
	full := s.Cfg.Rise + s.Cfg.Fall - 1
	return s.update(c, func(v srvState) srvState {
		if v.maint() {
			return v
		}
		switch op {
		case OpRunning:
			return v.set(v.admin(), OpRunning, full) | srvForced
		case OpStopping:
			return v.set(v.admin(), OpStopping, full) | srvForced
		}
		return v.set(v.admin(), OpStopped, 0) | srvForced
	})
}

// CheckChange applies a transition decided by the health checks: to OpStopped, to
// OpRunning, or to OpStopping when the check passed only conditionally
// (`http-check disable-on-404`). why is the check's "reason: ..." text ("" when
// `option log-health-checks` logged the check). A server in maintenance ignores it,
// and one the agent holds DOWN stays so.
func (s *Server) CheckChange(op int, why string) bool {
	return s.update(Cause{Text: why}, func(v srvState) srvState {
		if v.maint() {
			return v
		}
		if op != OpStopped && v&srvAgentDown != 0 {
			op = OpStopped
		}
		return v.set(v.admin(), op, v.health()) | v&srvForced
	})
}

// CheckCond applies a passed check to a server that is up: a conditional pass (cond,
// L7OKC) makes it NOLB (OpStopping), a full pass makes it run again, as HAProxy's
// checks do at every pass.
func (s *Server) CheckCond(cond bool, why string) bool {
	return s.update(Cause{Text: why}, func(v srvState) srvState {
		if v.maint() || v.op() == OpStopped || v.op() == OpStarting {
			return v
		}
		op := OpRunning
		if cond {
			op = OpStopping
		}
		return v.set(v.admin(), op, v.health()) | v&srvForced
	})
}

// AgentState applies an agent's operational word: up releases the server (it runs
// again when its health check, if any, says it is up: health counter at rise or
// more), down (also fail and stopped) stops it and holds it so until the agent says
// up. why is the agent check's "reason: ..." text.
func (s *Server) AgentState(up bool, why string) bool {
	return s.update(Cause{Text: why}, func(v srvState) srvState {
		if !up {
			if v.maint() {
				return v | srvAgentDown
			}
			return v.set(v.admin(), OpStopped, v.health()) | v&srvForced | srvAgentDown
		}
		v &^= srvAgentDown
		if v.maint() || v.op() != OpStopped || s.Cfg.Check && v.health() < s.Cfg.Rise {
			return v
		}
		return v.set(v.admin(), OpRunning, v.health()) | v&srvForced
	})
}

// AgentAdmin applies an agent's admin word: "ready", "drain" or "maint", as the
// runtime API's `set server state` does; a drain so shows as `DRAIN (agent)`.
func (s *Server) AgentAdmin(word string) bool {
	var f func(v srvState) srvState
	switch word {
	case "ready":
		f = s.toReady
	case "drain":
		f = func(v srvState) srvState { return s.toDrain(v) | srvAgentDrain }
	case "maint":
		f = s.toMaint
	default:
		return false
	}
	return s.update(Cause{}, f)
}

// follow applies the operational state of the tracked server t to s, which tracks it
// (`track`), and so on down the trackers of s.
func (s *Server) follow(up bool, t *Server) bool {
	return s.update(Cause{Via: t.Backend.Name + "/" + t.Name}, func(v srvState) srvState {
		if v.maint() {
			return v
		}
		op := OpStopped
		if up && v&srvAgentDown == 0 {
			op = OpRunning
		}
		return v.set(v.admin(), op, v.health()) | v&srvForced
	})
}

// Restore sets the admin flags and the running state that an older process or a
// state file recorded.
func (s *Server) Restore(admin uint32, running bool, c Cause) bool {
	return s.update(c, func(v srvState) srvState {
		switch {
		case admin&AdminFMaint != 0:
			return v.set(admin, OpStopped, 0) | srvForced
		case running:
			h := v.health()
			if v.op() == OpStopped {
				h = s.leaveMaintHealth()
			}
			return v.set(admin, OpRunning, h) | srvForced
		}
		return v.set(admin, OpStopped, 0) | srvForced
	})
}

// Observe records one health check outcome and the health counter after it. A
// failure counts in chkfail only while the server was not already at 0, as in HAProxy.
func (s *Server) Observe(c CheckInfo, health int) {
	s.check.Store(c)
	for {
		old := srvState(s.state.Load())
		if old.maint() {
			return
		}
		if s.state.CompareAndSwap(uint32(old), uint32(old.withHealth(health))) {
			if !c.OK && old.health() > 0 {
				s.chkFail.Add(1)
			}
			return
		}
	}
}

// TakeForcedHealth returns the health counter set outside the checks since the last
// call, for the checker to start from; ok is false when there is none.
func (s *Server) TakeForcedHealth() (health int, ok bool) {
	for {
		old := srvState(s.state.Load())
		if old&srvForced == 0 {
			return 0, false
		}
		if s.state.CompareAndSwap(uint32(old), uint32(old&^srvForced)) {
			return old.health(), true
		}
	}
}

// update applies f to the state in one compare-and-swap (retried when another
// change came first), then accounts for and logs what changed.
func (s *Server) update(c Cause, f func(v srvState) srvState) bool {
	for {
		old := srvState(s.state.Load())
		n := f(old)
		if !n.drain() {
			n &^= srvAgentDrain
		}
		if n == old {
			return false
		}
		if s.state.CompareAndSwap(uint32(old), uint32(n)) {
			s.afterChange(old, n, c)
			return true
		}
	}
}

// afterChange accounts for a state change: chkdown and downtime, the last change time,
// the queue, the backend's state, and HAProxy's log lines.
func (s *Server) afterChange(old, n srvState, c Cause) {
	if old.admin() == n.admin() && old.op() == n.op() {
		return // only the health counter moved
	}
	now := time.Now().Unix()
	switch {
	case old.op() != OpStopped && n.op() == OpStopped:
		s.downAt.Store(now)
		s.chkDown.Add(1)
	case old.op() == OpStopped && n.op() != OpStopped:
		s.downFor.Add(now - s.downAt.Load())
		s.upAt.Store(time.Now().UnixNano()) // slowstart ramps up from here
	}
	s.touch()
	b := s.Backend
	if s.Usable() {
		b.wake()
	}
	lost := b.noteState()
	if !c.Quiet {
		s.report(old, n, c, lost)
	}
	// Going DOWN or coming back UP (maintenance aside): the sessions that
	// on-marked-down/up name are shut, and the trackers follow.
	if was, is := old.op() != OpStopped, n.op() != OpStopped; was != is && old.maint() == n.maint() {
		s.markedActions(is)
		for _, f := range s.trackers {
			f.follow(is, s)
		}
	}
}

// markedActions closes the sessions that `on-marked-down shutdown-sessions` (the
// server's own, when it goes DOWN) and `on-marked-up shutdown-backup-sessions` (its
// backend's backup servers', when an active server comes UP) name.
func (s *Server) markedActions(up bool) {
	b := s.Backend
	if b.streams == nil {
		return
	}
	switch {
	case !up && s.Cfg.OnMarkedDown == "shutdown-sessions":
		b.streams.kill(func(srv *Server) bool { return srv == s })
	case up && s.Cfg.OnMarkedUp == "shutdown-backup-sessions" && !s.Cfg.Backup:
		b.streams.kill(func(srv *Server) bool { return srv.Backend == b && srv.Cfg.Backup })
	}
}

// Syslog levels of the state-change lines, as HAProxy sends them.
const (
	levelEmerg  = 0
	levelAlert  = 1
	levelNotice = 5
)

// report logs a state change in HAProxy 2.6's words, to the backend's log targets
// and as a warning on the event log (stderr).
func (s *Server) report(old, n srvState, c Cause, lost bool) {
	b := s.Backend
	name := b.Name + "/" + s.Name
	act, bck := b.UsableServers()
	left := fmt.Sprintf("%d active and %d backup servers left. %d sessions active, 0 requeued, 0 remaining in queue.", act, bck, s.Conns())
	online := fmt.Sprintf("%d active and %d backup servers online. 0 sessions requeued, %d total in queue.", act, bck, b.Queued())
	// Going down is an alert, unless the server was already out of the balancing.
	downLevel := levelAlert
	if old.op() == OpStopping || old.drain() {
		downLevel = levelNotice
	}
	switch {
	case !old.maint() && n.maint():
		if old.op() == OpStopped {
			b.event(levelNotice, "Server "+name+" was DOWN and now enters maintenance.")
		} else {
			b.event(downLevel, "Server "+name+" is going DOWN for maintenance. "+left)
		}
	case old.maint() && !n.maint():
		state := "UP/READY"
		if n.drain() {
			state = "UP/DRAIN"
		}
		b.event(levelNotice, "Server "+name+" is "+state+" (leaving forced maintenance).")
		if n.drain() {
			b.event(levelNotice, "Server "+name+" remains in forced drain mode.")
		}
	case n.maint():
	case !old.drain() && n.drain():
		b.event(levelNotice, "Server "+name+" enters drain state. "+online)
	case old.drain() && !n.drain():
		b.event(levelNotice, "Server "+name+" is UP (leaving forced drain).")
	case n.op() == OpStopped:
		b.event(downLevel, "Server "+name+" is DOWN"+c.suffix()+". "+left)
	case n.op() == OpRunning:
		b.event(levelNotice, "Server "+name+" is UP"+c.suffix()+". "+online)
	case n.op() == OpStopping:
		b.event(levelNotice, "Server "+name+" is stopping"+c.suffix()+". "+online)
	}
	if lost {
		if b.Events != nil {
			b.Events.Error("backend '" + b.Name + "' has no server available!")
		}
		if b.Log != nil {
			b.Log.Log(levelEmerg, []byte("backend "+b.Name+" has no server available!"))
		}
	}
}

// event sends one server state line to the backend's log targets and, as HAProxy
// prints it, as a warning to the event log.
func (b *Backend) event(level int, msg string) {
	if b.Events != nil {
		b.Events.Warn(msg)
	}
	if b.Log != nil {
		b.Log.Log(level, []byte(msg))
	}
}
