package balance

import "sync/atomic"

// leastConn picks the server with the fewest connections relative to its weight,
// rotating among equals so that idle servers share the load.
type leastConn struct {
	next atomic.Uint32
}

func (l *leastConn) Pick(p Pool, _ *Request) int {
	n := p.Len()
	if n == 0 {
		return -1
	}
	start := int(l.next.Add(1) % uint32(n))
	best := -1
	var bestConns, bestW int
	for k := 0; k < n; k++ {
		i := (start + k) % n
		w := p.Weight(i)
		if w <= 0 {
			continue
		}
		c := p.Conns(i)
		// c/w < bestConns/bestW without division.
		if best < 0 || c*bestW < bestConns*w {
			best, bestConns, bestW = i, c, w
		}
	}
	return best
}
