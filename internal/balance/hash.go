package balance

import (
	"strings"
)

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
	rr    roundRobin
}

// fnv1a is a fixed hash, so that every process maps keys the same way.
func fnv1a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

const fnvOffset = 14695981039346656037

func (h *hashed) Pick(p Pool, r *Request) int {
	v, ok := h.keyOf(r)
	if !ok {
		return h.rr.Pick(p, r)
	}
	sum := fnvMix(fnv1a(fnvOffset, v))
	total := totalWeight(p)
	if total == 0 {
		return -1
	}
	return bySlot(p, int(sum%uint64(total)))
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

func (h *hashed) keyOf(r *Request) (string, bool) {
	if r == nil {
		return "", false
	}
	switch h.key {
	case keySource:
		if !r.Src.IsValid() {
			return "", false
		}
		b := r.Src.Unmap().As16()
		return string(b[:]), true
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
		return r.Header.Get(h.param)
	}
	return "", false
}
