package balance

import "math/rand/v2"

// random draws two servers at random, by weight, and keeps the less loaded one
// (HAProxy's `random(2)`, the power of two choices).
type random struct{}

func (random) Pick(p Pool, _ *Request) int {
	total := totalWeight(p)
	if total == 0 {
		return -1
	}
	a, b := bySlot(p, rand.IntN(total)), bySlot(p, rand.IntN(total))
	if a < 0 {
		// A weight changed between totalWeight and bySlot.
		if b < 0 {
			return first{}.Pick(p, nil)
		}
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
