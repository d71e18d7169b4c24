package stick

import "testing"

// The worked example of the reference (HAProxy's read_freq_ctr_period): P = 10 s,
// curr_tick = T, curr = 7, prev = 3.
func TestFreqReadHAProxyExample(t *testing.T) {
	const T, P = 1_000_000, 10000
	for _, c := range []struct {
		now  uint32
		want uint32
	}{
		{T, 10}, // remain = P: 3·P/P + 7
		{T + 4000, 8},
		{T + 9999, 7},
		{T + 12000, 5},
		{T + 19999, 0},
		{T + 20000, 0},
		{T + 30000, 0},
	} {
		f := []uint32{T, 7, 3}
		if got := freqRead(f, c.now, P); got != c.want {
			t.Errorf("now=T+%d: rate %d, want %d", c.now-T, got, c.want)
		}
	}
}

// Event sequences, with the values HAProxy's update_freq_ctr_period and
// read_freq_ctr_period give for them (computed by hand from freq_ctr.h/freq_ctr.c).
func TestFreqEventSequences(t *testing.T) {
	type ev struct {
		at  uint32 // ms
		inc uint32 // 0 = read
		// want is the rate read at `at` when inc == 0.
		want uint32
	}
	const P = 1000
	for _, c := range []struct {
		name string
		evs  []ev
	}{
		{"first events open a period at the first tick", []ev{
			{5000, 1, 0}, {5000, 0, 1}, {5100, 1, 0}, {5200, 1, 0}, {5500, 0, 3},
		}},
		{"rotation keeps the previous period and fades it", []ev{
			{5000, 4, 0}, {5999, 0, 4}, {6000, 2, 0},
			{6000, 0, 6}, // prev 4 · remain 1000/1000 + 2
			{6250, 0, 5}, // 4·750/1000 = 3 + 2
			{6500, 0, 4}, // 4·500/1000 = 2 + 2
			{7000, 0, 2}, // past = 2 (curr of the last period), remain 1000: 2
			{7500, 0, 1}, // 2·500/1000
			{7999, 0, 0}, // 2·1/1000
			{8000, 0, 0},
		}},
		{"two missed periods drop the past", []ev{
			{5000, 9, 0}, {7500, 1, 0}, {7500, 0, 1}, {8499, 0, 1}, {8500, 0, 1}, {9500, 0, 1}, {9501, 0, 0},
		}},
		{"anti-flapping: a single past event reads 1 for a whole period", []ev{
			{5000, 1, 0}, {6000, 0, 1}, {6900, 0, 1}, {7000, 0, 1}, {7001, 0, 0},
		}},
		{"tick bit 0 is the lock bit and stays clear", []ev{
			{5001, 3, 0}, {6000, 0, 3}, {6001, 0, 2}, // the period began at 5000, not 5001
		}},
	} {
		f := make([]uint32, 3)
		for i, e := range c.evs {
			if e.inc > 0 {
				freqUpdate(f, e.at, P, e.inc)
				if f[0]&1 != 0 {
					t.Fatalf("%s: event %d: tick %d has bit 0 set", c.name, i, f[0])
				}
				continue
			}
			if got := freqRead(f, e.at, P); got != e.want {
				t.Errorf("%s: read %d at %d: %d, want %d (state %v)", c.name, i, e.at, got, e.want, f)
			}
		}
	}
}

// `set table ... data.http_req_rate V` reads V for one period then fades to 0.
func TestFreqSet(t *testing.T) {
	f := make([]uint32, 3)
	freqSet(f, 10001, 17)
	for _, c := range []struct{ now, want uint32 }{{10001, 17}, {14999, 17}, {15000, 17}, {16000, 13}, {17500, 8}, {19999, 0}, {20000, 0}} {
		if got := freqRead(f, c.now, 5000); got != c.want {
			t.Errorf("at %d: %d, want %d", c.now, got, c.want)
		}
	}
}

// Ticks wrap at 2^32 ms (49 days): the arithmetic is modular, as in HAProxy.
func TestFreqWraps(t *testing.T) {
	f := make([]uint32, 3)
	start := uint32(1<<32 - 500)
	freqUpdate(f, start, 1000, 5)
	freqUpdate(f, start+600, 1000, 1) // crosses 0
	if got := freqRead(f, start+900, 1000); got != 6 {
		t.Fatalf("rate across the wrap: %d, want 6", got)
	}
}
