package balance

// first picks the first eligible server in declaration order; the proxy makes a
// server at its maxconn ineligible, so the next one fills only then.
type first struct{}

func (first) Pick(p Pool, _ *Request) int {
	for i := 0; i < p.Len(); i++ {
		if p.Weight(i) > 0 {
			return i
		}
	}
	return -1
}
