package proxy

import (
	"sync"
	"testing"
	"time"

	"hitless/internal/config"
)

func TestRateCountsPerSecond(t *testing.T) {
	var r Rate
	base := time.Unix(1_000_000, 0)
	for i := 0; i < 5; i++ {
		r.Add(base.Unix())
	}
	if got := r.Per(base.Add(500 * time.Millisecond)); got != 5 {
		t.Fatalf("same second: %d", got)
	}
	for i := 0; i < 2; i++ {
		r.Add(base.Unix() + 1)
	}
	// 2 this second, plus the 5 of the previous one weighted by the 3/4 of it still
	// in the last second.
	if got := r.Per(base.Add(1250 * time.Millisecond)); got != 2+5*3/4 {
		t.Fatalf("next second: %d", got)
	}
	if got := r.Per(base.Add(2500 * time.Millisecond)); got != 1 {
		t.Fatalf("a second later: %d", got)
	}
	if got := r.Per(base.Add(5 * time.Second)); got != 0 || r.Max() != 5 {
		t.Fatalf("later: %d, max %d", got, r.Max())
	}
	r.Add(base.Unix() + 10)
	if got := r.Per(base.Add(10 * time.Second)); got != 1 {
		t.Fatalf("after a gap the previous second counts nothing: %d", got)
	}
}

func TestCountersConcurrentAreExact(t *testing.T) {
	var c Counters
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				c.AddConn(time.Now().Unix())
				c.AddResponse(200 + i%2*300) // 2xx and 5xx
				c.CurConns.Add(-1)
			}
		}()
	}
	wg.Wait()
	if c.TotalConns.Load() != 8000 || c.CurConns.Load() != 0 || c.Responses[1].Load() != 4000 || c.Responses[4].Load() != 4000 {
		t.Fatalf("total %d cur %d 2xx %d 5xx %d", c.TotalConns.Load(), c.CurConns.Load(), c.Responses[1].Load(), c.Responses[4].Load())
	}
	if m := c.MaxConns.Load(); m < 1 || m > 8 {
		t.Fatalf("smax %d", m)
	}
	c.AddResponse(99)
	c.AddResponse(600)
	if c.Responses[5].Load() != 2 {
		t.Fatalf("other: %d", c.Responses[5].Load())
	}
	c.Clear()
	if c.TotalConns.Load() != 0 || c.Responses[1].Load() != 0 || c.MaxConns.Load() != 0 {
		t.Fatal("Clear left counts")
	}
}

func TestTimesAverageAndMax(t *testing.T) {
	var c Counters
	c.AddTimes(0, 10*time.Millisecond, -1, 100*time.Millisecond)
	c.AddTimes(0, 30*time.Millisecond, -1, 300*time.Millisecond)
	// HAProxy's swrate: sum = 10, then 10 - (10+1)/2 + 30 = 35; (35+1)/2 = 18.
	if got := c.Average(TimeConnect); got != 18 {
		t.Fatalf("ctime %d", got)
	}
	if c.Max(TimeTotal) != 300 || c.Average(TimeResponse) != 0 || c.Average(TimeQueue) != 0 {
		t.Fatalf("ttime_max %d rtime %d", c.Max(TimeTotal), c.Average(TimeResponse))
	}
	// Over a long run the average follows the recent values.
	for i := 0; i < 5000; i++ {
		c.AddTimes(0, 50*time.Millisecond, 0, 0)
	}
	if got := c.Average(TimeConnect); got < 49 || got > 51 {
		t.Fatalf("ctime after many samples %d", got)
	}
	c.ClearMax()
	if c.Max(TimeTotal) != 0 {
		t.Fatal("ClearMax kept a maximum")
	}
}

func TestBackendDownsAndServerDowntime(t *testing.T) {
	b := backendOf(t, &config.Proxy{Name: "b", Servers: []*config.Server{{Name: "s1", Host: "127.0.0.1", Port: 1, Weight: 1}}})
	s := b.Servers[0]
	if n, d, _ := b.Downs(); n != 0 || d != 0 {
		t.Fatalf("fresh backend: %d downs, %v", n, d)
	}
	s.SetHealth(OpStopped, ByCLI)
	s.SetHealth(OpStopped, ByCLI)
	if n, _, _ := b.Downs(); n != 1 {
		t.Fatalf("%d downs after one failure", n)
	}
	if _, down := s.CheckFailures(); down != 1 {
		t.Fatalf("server chkdown %d", down)
	}
	s.SetHealth(OpRunning, ByCLI)
	s.SetMaint(ByCLI)
	if n, _, _ := b.Downs(); n != 2 {
		t.Fatalf("%d downs after maintenance", n)
	}
	if s.Downtime() < 0 || s.Downtime() > time.Second {
		t.Fatalf("downtime %v", s.Downtime())
	}
}

func TestStreamsList(t *testing.T) {
	var r Streams
	a, b := &Stream{}, &Stream{}
	r.Add(a)
	r.Add(b)
	if l := r.List(); len(l) != 2 || l[0] != a || l[1] != b || a.ID != 1 || b.ID != 2 {
		t.Fatalf("list %v", l)
	}
	r.Remove(a)
	if l := r.List(); len(l) != 1 || l[0] != b {
		t.Fatalf("after remove %v", l)
	}
}
