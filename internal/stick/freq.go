package stick

// A frequency counter is three words, as in HAProxy 2.6 (freq_ctr): the tick (ms,
// 32 bits, bit 0 clear) at which the current period started, the count of the
// current period and the count of the previous one. Its semantics follow
// update_freq_ctr_period and read_freq_ctr_period to the unit, so that a rate reads
// the same in hitless and in HAProxy for the same events, and a counter copied
// between them (peers protocol) keeps its value.

// freqUpdate adds inc at tick now to the counter f (tick, curr, prev) of period p.
func freqUpdate(f []uint32, now uint32, p uint32, inc uint32) {
	tick := f[0]
	if now-tick < p {
		f[1] += inc
		return
	}
	f[2] = f[1]
	f[1] = inc
	tick += p
	if now-tick >= p {
		// At least two periods were missed.
		f[2] = 0
		tick = now
	}
	f[0] = tick &^ 1
}

// freqRead returns the counter's rate over period p at tick now.
func freqRead(f []uint32, now uint32, p uint32) uint32 {
	curr, past := uint64(f[1]), uint64(f[2])
	remain := int32(f[0] + p - now)
	if remain < 0 {
		remain += int32(p)
		if remain >= 0 {
			past = curr
		} else {
			past = 0
		}
		curr = 0
	}
	if past <= 1 && curr == 0 {
		return uint32(past)
	}
	if remain < 0 {
		remain = 0
	}
	return uint32((past*uint64(remain))/uint64(p) + curr)
}

// freqSet makes the counter read v for one full period from now, as
// `set table ... data.<rate> V` does.
func freqSet(f []uint32, now uint32, v uint32) {
	f[0] = now &^ 1
	f[1] = v
	f[2] = 0
}

// ReadFreq returns the rate of a counter taken from a Row (its start given as an
// age) over period p.
func ReadFreq(f FreqVal, p uint32) uint32 {
	var w [3]uint32
	w[0], w[1], w[2] = 0-f.Age, f.Curr, f.Prev
	return freqRead(w[:], 0, p)
}
