package proxy

import (
	"strings"
	"sync"
	"testing"

	"hitless/internal/config"
)

// lines is an AccessLogger keeping what it receives.
type lines struct {
	mu  sync.Mutex
	out []string
}

func (l *lines) Log(level int, msg []byte) {
	l.mu.Lock()
	l.out = append(l.out, string(msg))
	l.mu.Unlock()
}

func (l *lines) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.out {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

func checkedServer(disabled bool) *config.Server {
	return &config.Server{Name: "s1", Check: true, Rise: 2, Fall: 3, Weight: 1, Disabled: disabled}
}

// TestServerTransitions walks the admin and health transitions operators make and
// checks each against what HAProxy 2.6 reports (captured with `show servers state`:
// op state, admin flags, health counter) and logs.
func TestServerTransitions(t *testing.T) {
	type want struct {
		op, admin, health int
		log               string // "" = no line
	}
	steps := []struct {
		name string
		do   func(s *Server) bool
		want want
	}{
		{"maint", func(s *Server) bool { return s.SetMaint(ByCLI) }, want{0, 1, 0, "Server be/s1 is going DOWN for maintenance. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."}},
		{"maint again", func(s *Server) bool { return s.SetMaint(ByCLI) }, want{0, 1, 0, ""}},
		{"health up in maint", func(s *Server) bool { return s.SetHealth(OpRunning, ByCLI) }, want{0, 1, 0, ""}},
		{"drain from maint", func(s *Server) bool { return s.SetDrain(ByCLI) }, want{2, 8, 2, "Server be/s1 is UP/DRAIN (leaving forced maintenance).|Server be/s1 remains in forced drain mode."}},
		{"ready from drain", func(s *Server) bool { return s.SetReady(ByCLI) }, want{2, 0, 2, "Server be/s1 is UP (leaving forced drain)."}},
		{"health down", func(s *Server) bool { return s.SetHealth(OpStopped, ByCLI) }, want{0, 0, 0, "Server be/s1 is DOWN, changed from CLI. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."}},
		{"health up", func(s *Server) bool { return s.SetHealth(OpRunning, ByWeb) }, want{2, 0, 4, "Server be/s1 is UP, changed from Web interface. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."}},
		{"stopping", func(s *Server) bool { return s.SetHealth(OpStopping, ByCLI) }, want{3, 0, 4, "Server be/s1 is stopping, changed from CLI. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."}},
		{"drain", func(s *Server) bool { s.SetHealth(OpRunning, Cause{Quiet: true}); return s.SetDrain(ByCLI) }, want{2, 8, 4, "Server be/s1 enters drain state. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."}},
		{"maint from drain", func(s *Server) bool { return s.SetMaint(ByWeb) }, want{0, 1, 0, "Server be/s1 is going DOWN for maintenance. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."}},
		{"ready", func(s *Server) bool { return s.SetReady(ByCLI) }, want{2, 0, 2, "Server be/s1 is UP/READY (leaving forced maintenance)."}},
		{"check down", func(s *Server) bool {
			return s.CheckChange(OpStopped, "reason: Layer4 timeout, check duration: 2001ms")
		}, want{0, 0, 2, "Server be/s1 is DOWN, reason: Layer4 timeout, check duration: 2001ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."}},
		{"maint while down", func(s *Server) bool { return s.SetMaint(ByCLI) }, want{0, 1, 0, "Server be/s1 was DOWN and now enters maintenance."}},
		{"check up in maint", func(s *Server) bool { return s.CheckChange(OpRunning, "x") }, want{0, 1, 0, ""}},
	}
	log := &lines{}
	b := backendOf(t, &config.Proxy{Servers: []*config.Server{checkedServer(false), {Name: "s2"}}})
	b.Log = log
	s := b.Servers[0]
	for _, st := range steps {
		before := len(log.out)
		changed := st.do(s)
		got := want{s.OpState(), int(s.Admin()), s.Health(), strings.Join(log.out[before:], "|")}
		if got != st.want {
			t.Errorf("%s:\n got %+v\nwant %+v", st.name, got, st.want)
		}
		if changed != (st.want.log != "") && st.name != "drain" {
			t.Errorf("%s: changed %v", st.name, changed)
		}
	}
}

// TestDisabledServerKeepsCMaint: `disabled` is FMAINT|CMAINT (5); ready clears only
// FMAINT, and the server takes traffic with CMAINT (4) left, as HAProxy shows it.
func TestDisabledServerKeepsCMaint(t *testing.T) {
	b := backendOf(t, &config.Proxy{Servers: []*config.Server{checkedServer(true)}})
	s := b.Servers[0]
	if s.Admin() != 5 || s.OpState() != OpStopped || s.Usable() {
		t.Fatalf("disabled: admin %d op %d", s.Admin(), s.OpState())
	}
	s.SetReady(ByCLI)
	if s.Admin() != 4 || s.OpState() != OpRunning || !s.Usable() {
		t.Fatalf("after ready: admin %d op %d usable %v", s.Admin(), s.OpState(), s.Usable())
	}
	s.SetMaint(ByCLI)
	if s.Admin() != 5 {
		t.Fatalf("after maint: admin %d", s.Admin())
	}
}

// TestConcurrentAdminActionsLoseNothing: the runtime API, the stats page and the
// checks change one server at once. Each change is one compare-and-swap, so none
// undoes another: CMAINT survives, every transition to stopped is counted once in
// chkdown and logged once, and the last action wins.
func TestConcurrentAdminActionsLoseNothing(t *testing.T) {
	log := &lines{}
	b := backendOf(t, &config.Proxy{Servers: []*config.Server{checkedServer(true), {Name: "s2"}}})
	b.Log = log
	s := b.Servers[0]
	var wg sync.WaitGroup
	const rounds = 300
	faces := []Cause{ByCLI, ByWeb}
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			c := faces[g%2]
			for i := 0; i < rounds; i++ {
				switch (g + i) % 4 {
				case 0:
					s.SetMaint(c)
				case 1:
					s.SetDrain(c)
				case 2:
					s.SetHealth(OpStopped, c)
				case 3:
					s.SetHealth(OpRunning, c)
					s.CheckChange(OpRunning-2*(i%2), "reason: Layer4 check passed, check duration: 0ms")
				}
				s.SetReady(c)
			}
		}(g)
	}
	wg.Wait()
	s.SetReady(ByCLI)
	s.SetHealth(OpRunning, ByCLI)
	if s.Admin() != AdminCMaint || !s.Usable() {
		t.Fatalf("end: admin %d op %d usable %v", s.Admin(), s.OpState(), s.Usable())
	}
	_, down := s.CheckFailures()
	logged := log.count("Server be/s1 is going DOWN") + log.count("Server be/s1 is DOWN") + log.count("Server be/s1 was DOWN")
	// chkdown counts transitions to stopped; "was DOWN and now enters maintenance" is
	// not one (the server was already stopped).
	if want := uint64(logged - log.count("was DOWN")); down != want {
		t.Fatalf("chkdown %d, %d transitions to stopped logged", down, want)
	}
	if ups, downs := log.count("(leaving forced maintenance)"), log.count("for maintenance")+log.count("now enters maintenance"); ups != downs+1 { // +1: start disabled
		t.Fatalf("%d maintenance entries, %d exits", downs, ups)
	}
}

// TestCheckAgentAndTrackTransitions: the checks' conditional passes, the agent's
// hold and tracking are transitions of the same state word, logged in HAProxy's
// words: NOLB while a check passes conditionally, DOWN held by the agent even when
// the checks pass, and a tracking server following with " via be/srv".
func TestCheckAgentAndTrackTransitions(t *testing.T) {
	type want struct {
		op   int
		down bool   // the agent holds it DOWN
		log  string // "" = no line
	}
	steps := []struct {
		name string
		do   func(s *Server) bool
		want want
	}{
		{"conditional pass", func(s *Server) bool {
			return s.CheckCond(true, "reason: Layer7 check conditionally passed, code: 404, check duration: 1ms")
		},
			want{OpStopping, false, "Server be/s1 is stopping, reason: Layer7 check conditionally passed, code: 404, check duration: 1ms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."}},
		{"full pass", func(s *Server) bool {
			return s.CheckCond(false, "reason: Layer7 check passed, code: 200, check duration: 1ms")
		},
			want{OpRunning, false, "Server be/s1 is UP, reason: Layer7 check passed, code: 200, check duration: 1ms. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."}},
		{"agent down", func(s *Server) bool {
			return s.AgentState(false, `reason: Layer7 wrong status, info: "via agent : down", check duration: 0ms`)
		},
			want{OpStopped, true, `Server be/s1 is DOWN, reason: Layer7 wrong status, info: "via agent : down", check duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.|Server be/t1 is DOWN via be/s1. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.|backend be has no server available!`}},
		{"check up while the agent holds it", func(s *Server) bool { return s.CheckChange(OpRunning, "reason: Layer4 check passed") },
			want{OpStopped, true, ""}},
		{"agent up", func(s *Server) bool {
			return s.AgentState(true, `reason: Layer7 check passed, code: 0, info: "via agent : up", check duration: 0ms`)
		},
			want{OpRunning, false, `Server be/s1 is UP, reason: Layer7 check passed, code: 0, info: "via agent : up", check duration: 0ms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.|Server be/t1 is UP via be/s1. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.`}},
		{"check down with log-health-checks", func(s *Server) bool { return s.CheckChange(OpStopped, "") },
			want{OpStopped, false, "Server be/s1 is DOWN. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.|Server be/t1 is DOWN via be/s1. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.|backend be has no server available!"}},
		{"agent up while the checks say down", func(s *Server) bool { s.Observe(CheckInfo{}, 0); return s.AgentState(true, "x") },
			want{OpStopped, false, ""}},
	}
	log := &lines{}
	b := backendOf(t, &config.Proxy{Servers: []*config.Server{checkedServer(false), {Name: "t1"}}})
	b.Log = log
	s, tr := b.Servers[0], b.Servers[1]
	s.trackers = []*Server{tr}
	for _, st := range steps {
		before := len(log.out)
		st.do(s)
		_, down, _ := s.Agent()
		got := want{s.OpState(), down, strings.Join(log.out[before:], "|")}
		if got != st.want {
			t.Errorf("%s:\n got %+v\nwant %+v", st.name, got, st.want)
		}
		if st.want.op != OpStopping && (tr.OpState() == OpStopped) != (st.want.op == OpStopped) {
			t.Errorf("%s: the tracking server is %d", st.name, tr.OpState())
		}
	}
	// The agent's drain shows as such until the drain ends, whoever ends it.
	s.SetHealth(OpRunning, Cause{Quiet: true})
	s.AgentAdmin("drain")
	if _, _, drain := s.Agent(); !drain || !s.Drain() {
		t.Fatal("agent drain not recorded")
	}
	s.SetReady(ByCLI)
	s.SetDrain(ByCLI)
	if _, _, drain := s.Agent(); drain || !s.Drain() {
		t.Fatal("a drain from the CLI shows as the agent's")
	}
}
