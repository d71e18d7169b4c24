package balance

import "strings"

type keyKind int

const (
	keySource keyKind = iota
	keyURI
	keyParam
	keyHeader
)

// hashed maps a request key (source address, URI path, a URL parameter or a header)
// over the eligible servers by weight, like HAProxy's default map-based hashing: the
// same key reaches the same server while the set of servers does not change. A
// missing key falls back to round robin.
type hashed struct {
	key   keyKind
	param string
	rr    *roundRobin
}

func newHashed(k keyKind, param string, n int) *hashed {
	return &hashed{key: k, param: param, rr: newRoundRobin(n)}
}

// fnv1a is a fixed hash, so that every process maps keys the same way.
func fnv1a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func (h *hashed) Pick(p Pool, r *Request) int {
	var sum uint64
	if h.key == keySource {
		if r == nil || !r.Src.IsValid() {
			return h.rr.Pick(p, r)
		}
		// Hashed from the array, not a string of it, so that nothing escapes.
		b := r.Src.Unmap().As16()
		sum = fnvOffset
		for _, c := range b {
			sum ^= uint64(c)
			sum *= fnvPrime
		}
	} else {
		v, ok := h.keyOf(r)
		if !ok {
			return h.rr.Pick(p, r)
		}
		sum = fnv1a(fnvOffset, v)
	}
	sum = fnvMix(sum)
	// Weights may change between totalWeight and bySlot; retry a few times then.
	for range 3 {
		total := totalWeight(p)
		if total == 0 {
			return -1
		}
		if i := bySlot(p, int(sum%uint64(total))); i >= 0 {
			return i
		}
	}
	return -1
}

// totalWeight is the sum of the eligible servers' weights.
func totalWeight(p Pool) int {
	total := 0
	for i := 0; i < p.Len(); i++ {
		if w := p.Weight(i); w > 0 {
			total += w
		}
	}
	return total
}

// bySlot maps a slot in [0, totalWeight) to the server owning it, each server owning
// as many consecutive slots as its weight.
func bySlot(p Pool, slot int) int {
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

// fnvMix spreads the low bits, which the modulo uses.
func fnvMix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x
}

// keyOf returns the string key of a uri, url_param or hdr request, and false when the
// request has none (then Pick falls back to round robin).
func (h *hashed) keyOf(r *Request) (string, bool) {
	if r == nil {
		return "", false
	}
	switch h.key {
	case keyURI:
		if r.URI == "" {
			return "", false
		}
		path, _, _ := strings.Cut(r.URI, "?")
		return path, true
	case keyParam:
		_, q, ok := strings.Cut(r.URI, "?")
		if !ok {
			return "", false
		}
		for q != "" {
			var kv string
			kv, q, _ = strings.Cut(q, "&")
			k, v, _ := strings.Cut(kv, "=")
			if k == h.param {
				return v, v != ""
			}
		}
		return "", false
	case keyHeader:
		if r.Header == nil {
			return "", false
		}
		// An empty header is as good as none (HAProxy then uses round robin).
		v, ok := r.Header.Get(h.param)
		return v, ok && v != ""
	}
	return "", false
}
