package balance

import "math/rand/v2"

// random draws two servers at random, by weight, and keeps the less loaded one
// (HAProxy's `random(2)`, the power of two choices).
type random struct{}

func newRandom() random { return random{} }

func (random) Pick(p Pool, _ *Request) int {
	total := 0
	for i := 0; i < p.Len(); i++ {
		if w := p.Weight(i); w > 0 {
			total += w
		}
	}
	if total == 0 {
		return -1
	}
	draw := func() int {
		slot := rand.IntN(total)
		for i := 0; i < p.Len(); i++ {
			w := p.Weight(i)
			if w <= 0 {
				continue
			}
			if slot < w {
				return i
			}
			slot -= w
		}
		return -1
	}
	a, b := draw(), draw()
	if a < 0 {
		return b
	}
	if b < 0 || b == a {
		return a
	}
	// Less loaded relative to weight.
	if p.Conns(b)*p.Weight(a) < p.Conns(a)*p.Weight(b) {
		return b
	}
	return a
}
