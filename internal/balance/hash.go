package balance

import (
	"strings"

	"hitless/internal/sample"
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
	key  keyKind
	expr *sample.Expr // the key of uri, url_param and hdr, read through the sample engine
	rr   *roundRobin
}

// keyExprs are the sample expressions behind the hashed keys: the path for uri, the
// first occurrence of the parameter or of the header's full value.
var keyExprs = map[keyKind]string{keyURI: "path", keyParam: "url_param(%s)", keyHeader: "req.fhdr(%s,1)"}

func newHashed(k keyKind, param string, n int) *hashed {
	h := &hashed{key: k, rr: newRoundRobin(n)}
	if src, ok := keyExprs[k]; ok {
		e, err := sample.Parse(strings.Replace(src, "%s", param, 1))
		if err == nil {
			h.expr = e
		}
	}
	return h
}

// fnv1a is a fixed hash, so that every process maps keys the same way.
func fnv1a(h uint64, s []byte) uint64 {
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
		if r != nil && r.Sample != nil {
			defer r.Sample.Release(r.Sample.Mark())
		}
		_, v, ok := h.keyOf(r)
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

// keyOf evaluates the key of a uri, url_param or hdr request; ok is false when the
// request has none, or an empty one (then Pick falls back to round robin). The key is
// valid until the Ctx evaluates again.
func (h *hashed) keyOf(r *Request) (*sample.Ctx, []byte, bool) {
	if r == nil || r.Sample == nil || h.expr == nil {
		return nil, nil, false
	}
	v, ok := h.expr.EvalAs(r.Sample, sample.TStr)
	if !ok || (h.key != keyURI && len(v.B) == 0) {
		return nil, nil, false
	}
	return r.Sample, v.B, true
}
