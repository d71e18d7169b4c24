package stick

import (
	"sort"
	"unsafe"
)

// Values is an entry's data in a form independent of the table's layout: what the
// peers protocol sends and receives, what a reload hands over, and what `show table`
// prints. Has says which types are present; N their element count.
type Values struct {
	Has    [NumDataTypes]bool
	N      [NumDataTypes]int
	U      [NumDataTypes][]uint64  // counters (server_id sign-extended)
	F      [NumDataTypes][]FreqVal // frequency counters
	Period [NumDataTypes]uint32    // frequency counters' period, ms
	SrvKey string
	owner  *Table // the table export last filled it for: only its types are set
}

// FreqVal is a frequency counter with its start expressed as an age, so that it
// moves between clocks (peers, processes): Age ms ago the current period began.
type FreqVal struct {
	Age        uint32
	Curr, Prev uint32
}

// Reset empties v for reuse, keeping its slices.
func (v *Values) Reset() {
	for i := range v.Has {
		v.Has[i], v.N[i] = false, 0
		v.U[i], v.F[i] = v.U[i][:0], v.F[i][:0]
	}
	v.SrvKey = ""
	v.owner = nil
}

// export fills v from e. Must be called with mu held.
func (t *Table) export(e *Entry, now uint32, v *Values) {
	if v.owner != t {
		v.Reset()
		v.owner = t
	}
	for _, d := range t.stored {
		c := t.cols[d]
		v.U[d], v.F[d] = v.U[d][:0], v.F[d][:0]
		v.Has[d], v.N[d], v.Period[d] = true, c.n, c.period
		for i := 0; i < c.n; i++ {
			switch Types[d].Storage {
			case Freq:
				o := c.off + 3*i
				v.F[d] = append(v.F[d], FreqVal{Age: now - e.data[o], Curr: e.data[o+1], Prev: e.data[o+2]})
			case Dict:
				v.SrvKey = e.srvKey
			default:
				v.U[d] = append(v.U[d], t.get(e, d, c, i, 0))
			}
		}
	}
}

// apply writes v into e, skipping local types when learned. Must be called with mu
// held.
func (t *Table) apply(e *Entry, now uint32, v *Values, learned bool) {
	for _, d := range t.stored {
		c := t.cols[d]
		if !v.Has[d] || (learned && Types[d].Local) {
			continue
		}
		switch Types[d].Storage {
		case Freq:
			for i := 0; i < c.n && i < len(v.F[d]); i++ {
				o := c.off + 3*i
				f := v.F[d][i]
				e.data[o], e.data[o+1], e.data[o+2] = (now-f.Age)&^1, f.Curr, f.Prev
			}
		case Dict:
			e.srvKey = v.SrvKey
		default:
			for i := 0; i < c.n && i < len(v.U[d]); i++ {
				t.set(e, d, c, i, v.U[d][i], 0)
			}
		}
	}
}

// Row is one entry as `show table` and the hand-over see it.
type Row struct {
	// Ref identifies the entry (the address `show table` prints).
	Ref uintptr
	Key []byte
	Use int
	// Exp is the ms left before expiry, -1 when the entry never expires.
	Exp int64
	Values
}

// Learn stores an entry received from a peer or an older process: values
// overwrite the local ones (conn_cur excepted when learned from a peer), and the
// entry expires after exp ms (the table's expire when exp < 0). It is not queued for
// pushing to peers. A full nopurge table drops it, as HAProxy does; the result says
// whether it was stored.
func (t *Table) Learn(k []byte, exp int64, v *Values, fromPeer bool) bool {
	now := t.clock()
	t.mu.Lock()
	defer t.mu.Unlock()
	var e *Entry
	if !t.fresh {
		e = t.lookup(k, now)
	}
	if e == nil {
		var err error
		if e, err = t.create(k, now); err != nil {
			return false
		}
	}
	t.apply(e, tick(now), v, fromPeer)
	if exp >= 0 {
		if t.spec.Expire > 0 || exp > 0 {
			e.exp = now + exp
		}
	} else {
		t.setExp(e, now)
	}
	if t.tail != e {
		t.unlink(e)
		t.pushBack(e)
	}
	return true
}

// rowOf fills r from e. Must be called with mu held.
func (t *Table) rowOf(e *Entry, now int64, r *Row) {
	r.Ref = uintptr(unsafe.Pointer(e))
	r.Key = append(r.Key[:0], e.key...)
	r.Use = int(e.ref)
	r.Exp = -1
	if e.exp != 0 {
		r.Exp = max(e.exp-now, 0)
	}
	t.export(e, tick(now), &r.Values)
}

// Walk calls fn for every live entry, sorted by key as HAProxy's tree is, dropping
// expired ones on the way. fn gets a Row it must not keep; returning false stops.
// The table is locked for a copy of the keys, then once per entry.
func (t *Table) Walk(fn func(r *Row) bool) {
	now := t.clock()
	t.mu.Lock()
	keys := make([]string, 0, len(t.entries))
	for k, e := range t.entries {
		if e.ref == 0 && e.expired(now) {
			t.remove(e)
			continue
		}
		keys = append(keys, k)
	}
	t.mu.Unlock()
	sort.Strings(keys)
	var r Row
	for _, k := range keys {
		t.mu.Lock()
		e := t.entries[k]
		if e != nil {
			t.rowOf(e, now, &r)
		}
		t.mu.Unlock()
		if e != nil && !fn(&r) {
			return
		}
	}
}

// Each calls fn for every live entry in no particular order, with the table locked
// throughout: the fast path of the hand-over, which copies a million entries in
// tens of milliseconds. fn must not call the table.
func (t *Table) Each(fn func(r *Row)) {
	now := t.clock()
	t.mu.Lock()
	defer t.mu.Unlock()
	var r Row
	for _, e := range t.entries {
		if e.ref == 0 && e.expired(now) {
			continue
		}
		t.rowOf(e, now, &r)
		fn(&r)
	}
}

// Find returns the row of key k, or false.
func (t *Table) Find(k []byte) (Row, bool) {
	now := t.clock()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.lookup(k, now)
	if e == nil {
		return Row{}, false
	}
	var r Row
	t.rowOf(e, now, &r)
	return r, true
}

// Delete removes the entry of key k; ErrInUse when a session tracks it. A missing
// key is no error.
func (t *Table) Delete(k []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[string(k)]
	if e == nil {
		return nil
	}
	if e.ref > 0 {
		return ErrInUse
	}
	t.remove(e)
	return nil
}

// DeleteIf removes every unreferenced entry for which match returns true, and
// reports how many entries matched but were in use.
func (t *Table) DeleteIf(match func(r *Row) bool) (inUse int) {
	now := t.clock()
	t.mu.Lock()
	defer t.mu.Unlock()
	var r Row
	for _, e := range t.entries {
		t.rowOf(e, now, &r)
		if !match(&r) {
			continue
		}
		if e.ref > 0 {
			inUse++
			continue
		}
		t.remove(e)
	}
	return inUse
}

// Upsert finds or creates the entry of key k and runs fn on it as a local change
// (the Runtime API's `set table`): fn gets a setter that works like Set. The entry
// is touched even when fn stops early.
func (t *Table) Upsert(k []byte, fn func(set func(d DataType, idx int, v uint64) bool)) error {
	e, err := t.Track(k)
	if err != nil {
		return err
	}
	defer t.Release(e)
	fn(func(d DataType, idx int, v uint64) bool { return t.Set(e, d, idx, v) })
	return nil
}
