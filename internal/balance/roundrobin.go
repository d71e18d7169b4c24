package balance

import "sync"

// roundRobin is smooth weighted round robin (nginx's scheme: each pick adds every
// eligible server's weight to its credit, takes the server with the most credit and
// charges it the total), which spreads each server's turns evenly instead of in
// bursts. It reads the current weights at every pick, so a weight change (or a server
// becoming ineligible, weight 0) applies at once. It serves `roundrobin`, `static-rr`
// (which differs in HAProxy only by not accepting weight changes, a difference the
// proxy's weights already carry) and the fallback of the hash algorithms.
type roundRobin struct {
	// mu guards cur.
	mu sync.Mutex
	// cur is each server's credit; len(cur) is the pool size seen last.
	cur []int
}

func newRoundRobin(n int) *roundRobin { return &roundRobin{cur: make([]int, n)} }

func (r *roundRobin) Pick(p Pool, _ *Request) int {
	n := p.Len()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cur) != n {
		// Only when the caller's pool does not have the size given to New.
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
