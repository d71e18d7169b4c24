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
		{"check down", func(s *Server) bool { return s.CheckChange(false, "reason: Layer4 timeout, check duration: 2001ms") }, want{0, 0, 2, "Server be/s1 is DOWN, reason: Layer4 timeout, check duration: 2001ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."}},
		{"maint while down", func(s *Server) bool { return s.SetMaint(ByCLI) }, want{0, 1, 0, "Server be/s1 was DOWN and now enters maintenance."}},
		{"check up in maint", func(s *Server) bool { return s.CheckChange(true, "x") }, want{0, 1, 0, ""}},
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
					s.CheckChange(i%2 == 0, "reason: Layer4 check passed, check duration: 0ms")
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
