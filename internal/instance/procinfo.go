package instance

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"syscall"
	"time"
)

// procSampler derives `show info`'s per-interval figures from cumulative ones: the
// idle share of the process's threads from its CPU time, and the rate of bytes sent
// to clients. Each call covers the time since the previous one (at least a second
// apart; closer calls repeat the last figures), the first since the start.
type procSampler struct {
	// mu guards the fields below.
	mu       sync.Mutex
	at       time.Time
	cpu      time.Duration
	bytesOut uint64
	idle     int
	outRate  uint64
}

func newProcSampler(start time.Time) *procSampler {
	return &procSampler{at: start, cpu: processCPU(), idle: 100}
}

// sample returns Idle_pct for threads threads and BytesOutRate, given the total of
// bytes sent so far.
func (p *procSampler) sample(now time.Time, threads int, bytesOut uint64) (idle int, outRate uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	wall := now.Sub(p.at)
	if wall < time.Second {
		return p.idle, p.outRate
	}
	cpu := processCPU()
	busy := float64(cpu-p.cpu) / float64(wall*time.Duration(max(threads, 1)))
	p.idle = min(max(int(100*(1-busy)+0.5), 0), 100)
	if bytesOut >= p.bytesOut {
		p.outRate = uint64(float64(bytesOut-p.bytesOut) / wall.Seconds())
	}
	p.at, p.cpu, p.bytesOut = now, cpu, bytesOut
	return p.idle, p.outRate
}

// processCPU is the user and system CPU time of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runtimeFigures reads what `show info` reports of the engine from the Go runtime:
// goroutines (Tasks) and runnable ones (Run_queue), the heap memory held (PoolAlloc)
// and the part in live objects (PoolUsed).
func runtimeFigures() (tasks, runnable, heapHeld, heapUsed uint64) {
	s := []metrics.Sample{
		{Name: "/sched/goroutines:goroutines"},
		{Name: "/sched/goroutines/runnable:goroutines"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() == metrics.KindUint64 {
			return s[i].Value.Uint64()
		}
		return 0
	}
	return v(0), v(1), v(2) + v(3) + v(4), v(2)
}

// releaseDate is `show info`'s Release_date: the day of the commit the binary was
// built from, else the day the binary was written, as YYYY/MM/DD.
var releaseDate = sync.OnceValue(func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" {
				if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
					return t.UTC().Format("2006/01/02")
				}
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			return fi.ModTime().UTC().Format("2006/01/02")
		}
	}
	return "1970/01/01"
})
