package instance

import (
	"testing"
	"time"
)

// TestProcSamplerIdle: an idle second reads as mostly idle, a second with one
// thread busy as little idle, and calls less than a second apart repeat the figure.
func TestProcSamplerIdle(t *testing.T) {
	start := time.Now()
	p := newProcSampler(start)
	time.Sleep(1100 * time.Millisecond)
	idle, _ := p.sample(time.Now(), 1, 0)
	if idle < 50 {
		t.Errorf("idle second: Idle_pct %d", idle)
	}
	stop := time.Now().Add(1100 * time.Millisecond)
	spins := 0
	for time.Now().Before(stop) {
		spins++ // one thread busy
	}
	busy, rate := p.sample(time.Now(), 1, 4000)
	if busy > 80 || busy >= idle {
		t.Errorf("busy second: Idle_pct %d (idle second %d)", busy, idle)
	}
	if rate < 2000 || rate > 4000 {
		t.Errorf("BytesOutRate %d for 4000 bytes in about a second", rate)
	}
	if again, _ := p.sample(time.Now(), 1, 8000); again != busy {
		t.Errorf("a call within the second gave %d, then %d", busy, again)
	}
}

func TestRuntimeFigures(t *testing.T) {
	tasks, _, held, used := runtimeFigures()
	if tasks == 0 || used == 0 || held < used {
		t.Fatalf("tasks %d, heap held %d, used %d", tasks, held, used)
	}
	if d := releaseDate(); len(d) != 10 || d[4] != '/' || d[7] != '/' {
		t.Fatalf("release date %q", d)
	}
}

// TestDefaultMaxConnIsHAProxys: the global maxconn HAProxy 2.6.12 derived from a
// limit of 20000 open files, by threads and listeners plus checks (measured).
func TestDefaultMaxConnIsHAProxys(t *testing.T) {
	for _, c := range []struct{ threads, eaters, want int }{
		{2, 2, 9986}, {2, 3, 9985}, {2, 5, 9984}, {2, 6, 9984}, {2, 9, 9982},
		{1, 2, 9987}, {4, 2, 9983},
	} {
		if got := defaultMaxConn(20000, c.threads, c.eaters); got != c.want {
			t.Errorf("%d threads, %d listeners and checks: %d, HAProxy %d", c.threads, c.eaters, got, c.want)
		}
	}
}
