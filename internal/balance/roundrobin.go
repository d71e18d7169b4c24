package balance

import "sync"

// roundRobin is smooth weighted round robin (the sequence spreads each server's turns
// evenly). Dynamic (roundrobin) reads the current weights at every pick; static
// (static-rr) behaves the same here since weights only change through the runtime API.
type roundRobin struct {
	dynamic bool
	// mu guards cur.
	mu  sync.Mutex
	cur []int
}

func newRoundRobin(dynamic bool) *roundRobin { return &roundRobin{dynamic: dynamic} }

func (r *roundRobin) Pick(p Pool, _ *Request) int {
	n := p.Len()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cur) != n {
		r.cur = make([]int, n)
	}
	best, total := -1, 0
	for i := 0; i < n; i++ {
		w := p.Weight(i)
		if w <= 0 {
			r.cur[i] = 0
			continue
		}
		r.cur[i] += w
		total += w
		if best < 0 || r.cur[i] > r.cur[best] {
			best = i
		}
	}
	if best >= 0 {
		r.cur[best] -= total
	}
	return best
}
