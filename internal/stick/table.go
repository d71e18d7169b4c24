package stick

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// ErrFull is returned when a table is full and cannot make room (nopurge, or every
// entry in use).
var ErrFull = errors.New("Unable to allocate a new entry")

// ErrInUse is returned when clearing an entry that a session still tracks.
var ErrInUse = errors.New("Entry currently in use, cannot remove")

// Entry is one key of a table. Its fields are guarded by its table's mu.
type Entry struct {
	key    string
	data   []uint32
	srvKey string
	exp    int64 // clock ms at which it expires; 0 = never
	ref    int32
	upd    uint32 // update id of its last local change (peers); 0 = none
	prev   *Entry // LRU list: least recently touched first
	next   *Entry
	// kb and small hold the key and the data when they fit, so that an entry is one
	// allocation (a hand-over creates a million of them in well under a second).
	kb    [16]byte
	small [9]uint32
}

// Key returns the entry's key in wire form.
func (e *Entry) Key() string { return e.key }

// Table is one stick table.
//
// Concurrency: every method may be called from any goroutine. mu guards the map, the
// LRU list, every entry's fields and the update log; each operation holds it for a
// map lookup and a few word updates, so that the request path pays one uncontended
// lock per call and allocates nothing for an existing key.
type Table struct {
	spec   Spec
	cols   [NumDataTypes]col
	stored []DataType // the stored types, in type order
	nslots int
	clock  func() int64 // ms

	mu      sync.Mutex
	entries map[string]*Entry
	// fresh is set by Reserve on an empty table and cleared by the first local
	// operation: Learn then inserts without looking up (a hand-over has no
	// duplicate keys), which halves the map work of a million-entry reload.
	fresh   bool
	listLen int    // entries on the LRU list while fresh
	head    *Entry // least recently touched
	tail    *Entry
	// update is the last update id handed out; the log lists the entries changed
	// locally since the peers last committed, in id order. It is kept only when
	// sync is set (the table is shared with peers).
	sync   bool
	update uint32
	commit uint32 // the highest id a peer session pushed
	log    []logRec
	// notify is the peers layer's wake-up, set once by SetSync; read without mu.
	notify atomic.Pointer[func()]
}

type logRec struct {
	id uint32
	e  *Entry
}

// col is where a stored type lives in an entry's data.
type col struct {
	off    int // -1 when not stored
	n      int
	period uint32
}

// Clock is the time source of tables: milliseconds, monotonic.
var Clock = func() func() int64 {
	base := time.Now()
	ms := base.UnixMilli()
	return func() int64 { return ms + time.Since(base).Milliseconds() }
}()

// New builds an empty table. clock is nil for the process clock (tests pass their own).
func New(s Spec, clock func() int64) *Table {
	if clock == nil {
		clock = Clock
	}
	t := &Table{spec: s, clock: clock, entries: map[string]*Entry{}}
	for i := range t.cols {
		t.cols[i].off = -1
	}
	for _, c := range s.Columns {
		t.stored = append(t.stored, c.Type)
		st := Types[c.Type].Storage
		t.cols[c.Type] = col{off: t.nslots, n: c.N, period: uint32(c.Period)}
		if st == Dict {
			t.cols[c.Type].off = 0
		}
		t.nslots += st.slots() * c.N
	}
	return t
}

// Reserve makes room in an empty table for n entries, so that a hand-over of a
// million entries does not rehash the map twenty times.
func (t *Table) Reserve(n int) {
	n = min(n, t.spec.Size)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.entries) == 0 && n > 0 {
		t.entries = make(map[string]*Entry, n)
		t.fresh = true
	}
}

// Loaded ends a hand-over started with Reserve: later Learns look keys up again.
// Should the dump have held a key twice, the orphaned entry leaves the LRU list.
func (t *Table) Loaded() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.fresh {
		return
	}
	t.fresh = false
	if t.listLen == len(t.entries) {
		return
	}
	for e := t.head; e != nil; {
		n := e.next
		if t.entries[e.key] != e {
			t.unlink(e)
		}
		e = n
	}
}

// Spec returns what the table was declared with.
func (t *Table) Spec() *Spec { return &t.spec }

// Name is the table's name.
func (t *Table) Name() string { return t.spec.Name }

// Stores reports whether the table stores data type d.
func (t *Table) Stores(d DataType) bool { return d >= 0 && d < NumDataTypes && t.cols[d].off >= 0 }

// Tick is HAProxy's now_ms: the clock in ms on 32 bits, never 0.
func (t *Table) Tick() uint32 { return tick(t.clock()) }

func tick(ms int64) uint32 {
	v := uint32(ms)
	if v == 0 {
		v = 1
	}
	return v
}

// Len is the number of entries.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}

// EntryBytes is the memory one entry of this table takes: the Entry, its data words,
// its key and the map's share (a pointer, the key header, and about one more word of
// bucket overhead).
func (t *Table) EntryBytes() int {
	n := t.spec.KeySize()
	if t.spec.Type == KeyString {
		n--
	}
	return int(unsafe.Sizeof(Entry{})) + 4*t.nslots + n + 8 + 16 + 8
}

// unlink removes e from the LRU list. Must be called with mu held.
func (t *Table) unlink(e *Entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		t.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		t.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// pushBack makes e the most recently touched. Must be called with mu held.
func (t *Table) pushBack(e *Entry) {
	e.prev, e.next = t.tail, nil
	if t.tail != nil {
		t.tail.next = e
	} else {
		t.head = e
	}
	t.tail = e
}

// expired reports whether e's expiry has passed. Must be called with mu held.
func (e *Entry) expired(now int64) bool { return e.exp != 0 && now >= e.exp }

// remove deletes e. Must be called with mu held.
func (t *Table) remove(e *Entry) {
	t.unlink(e)
	delete(t.entries, e.key)
}

// purge frees room for one entry when the table is full: expired entries first, then
// the least recently touched, up to size/256+1 of them (HAProxy trashes that batch
// by earliest expiry, which is the same order since a touch pushes the expiry back).
// Entries in use are skipped. It reports whether there is room. Must be called with
// mu held.
func (t *Table) purge(now int64) bool {
	if len(t.entries) < t.spec.Size {
		return true
	}
	if t.spec.NoPurge {
		// Only expired entries make room.
		for e := t.head; e != nil && len(t.entries) >= t.spec.Size; {
			n := e.next
			if e.ref == 0 && e.expired(now) {
				t.remove(e)
			}
			e = n
		}
		return len(t.entries) < t.spec.Size
	}
	batch := t.spec.Size/256 + 1
	freed, looked := 0, 0
	for e := t.head; e != nil && freed < batch && looked < 2*batch; {
		n := e.next
		looked++
		if e.ref == 0 {
			t.remove(e)
			freed++
		}
		e = n
	}
	return len(t.entries) < t.spec.Size
}

// lookup returns the live entry for k or nil, dropping it when it expired. Must be
// called with mu held.
func (t *Table) lookup(k []byte, now int64) *Entry {
	e := t.entries[string(k)]
	if e != nil && e.ref == 0 && e.expired(now) {
		t.remove(e)
		return nil
	}
	return e
}

// create adds an entry for k, making room if needed. Must be called with mu held.
func (t *Table) create(k []byte, now int64) (*Entry, error) {
	if !t.purge(now) {
		return nil, ErrFull
	}
	e := &Entry{}
	if len(k) <= len(e.kb) && len(k) > 0 {
		n := copy(e.kb[:], k)
		e.key = unsafe.String(&e.kb[0], n)
	} else {
		e.key = string(k)
	}
	if t.nslots <= len(e.small) {
		e.data = e.small[:t.nslots:t.nslots]
	} else {
		e.data = make([]uint32, t.nslots)
	}
	t.entries[e.key] = e
	t.pushBack(e)
	if t.fresh {
		t.listLen++
	}
	t.setExp(e, now)
	return e, nil
}

func (t *Table) setExp(e *Entry, now int64) {
	if t.spec.Expire > 0 {
		e.exp = now + t.spec.Expire
	} else {
		e.exp = 0
	}
}

// touch marks a local change: the expiry restarts, the entry moves to the end of
// the LRU list, and when peers share the table it gets an update id (reusing the one
// it has while that one is not yet pushed). Must be called with mu held.
func (t *Table) touch(e *Entry, now int64) {
	t.setExp(e, now)
	if t.tail != e {
		t.unlink(e)
		t.pushBack(e)
	}
	if t.sync {
		t.queue(e)
	}
}

// Track finds or creates the entry for key k, touches it and takes a reference on
// it, which keeps it from expiry and eviction until Release. The request path calls
// it once per tracked key; it allocates only when it creates the entry.
func (t *Table) Track(k []byte) (*Entry, error) {
	now := t.clock()
	t.mu.Lock()
	t.fresh = false
	e := t.lookup(k, now)
	if e == nil {
		var err error
		if e, err = t.create(k, now); err != nil {
			t.mu.Unlock()
			return nil, err
		}
	}
	e.ref++
	t.touch(e, now)
	t.mu.Unlock()
	t.kick()
	return e, nil
}

// Release drops a reference taken by Track, touching the entry (its expiry starts
// from the end of its use, as in HAProxy).
func (t *Table) Release(e *Entry) {
	now := t.clock()
	t.mu.Lock()
	if e.ref > 0 {
		e.ref--
	}
	if t.entries[e.key] == e {
		t.touch(e, now)
	}
	t.mu.Unlock()
	t.kick()
}

// Lookup returns the entry for k without creating, touching or referencing it
// (the src_* fetches), or nil.
func (t *Table) Lookup(k []byte) *Entry {
	now := t.clock()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lookup(k, now)
}

// kick tells the peers layer that an update is waiting.
func (t *Table) kick() {
	if f := t.notify.Load(); f != nil {
		(*f)()
	}
}

// Add counts n events of type d (element idx for arrays) on e: a counter grows by n,
// a frequency counter records n events now. It touches e. Types the table does not
// store are ignored, as HAProxy's tracking does.
func (t *Table) Add(e *Entry, d DataType, idx int, n uint64) {
	c := t.cols[d]
	if c.off < 0 || idx < 0 || idx >= c.n {
		return
	}
	now := t.clock()
	t.mu.Lock()
	t.add(e, d, c, idx, n, now)
	t.touch(e, now)
	t.mu.Unlock()
	t.kick()
}

// add does Add's work. Must be called with mu held.
func (t *Table) add(e *Entry, d DataType, c col, idx int, n uint64, now int64) {
	switch Types[d].Storage {
	case UInt, SInt:
		e.data[c.off+idx] += uint32(n)
	case ULL:
		o := c.off + 2*idx
		v := uint64(e.data[o])<<32 | uint64(e.data[o+1])
		v += n
		e.data[o], e.data[o+1] = uint32(v>>32), uint32(v)
	case Freq:
		o := c.off + 3*idx
		freqUpdate(e.data[o:o+3], tick(now), c.period, uint32(n))
	}
}

// Sub decrements counter d of e by n without going below 0 (conn_cur at the end of
// a connection).
func (t *Table) Sub(e *Entry, d DataType, n uint32) {
	c := t.cols[d]
	if c.off < 0 || Types[d].Storage != UInt {
		return
	}
	now := t.clock()
	t.mu.Lock()
	if v := e.data[c.off]; v >= n {
		e.data[c.off] = v - n
	} else {
		e.data[c.off] = 0
	}
	t.touch(e, now)
	t.mu.Unlock()
	t.kick()
}

// Get reads data type d of e (element idx): a counter's value, a frequency
// counter's rate now. ok is false when the table does not store it.
func (t *Table) Get(e *Entry, d DataType, idx int) (v uint64, ok bool) {
	c := t.cols[d]
	if c.off < 0 || idx < 0 || idx >= c.n || Types[d].Storage == Dict {
		return 0, false
	}
	now := t.clock()
	t.mu.Lock()
	v = t.get(e, d, c, idx, now)
	t.mu.Unlock()
	return v, true
}

// get does Get's work. Must be called with mu held.
func (t *Table) get(e *Entry, d DataType, c col, idx int, now int64) uint64 {
	switch Types[d].Storage {
	case SInt:
		return uint64(int64(int32(e.data[c.off+idx])))
	case UInt:
		return uint64(e.data[c.off+idx])
	case ULL:
		o := c.off + 2*idx
		return uint64(e.data[o])<<32 | uint64(e.data[o+1])
	case Freq:
		o := c.off + 3*idx
		return uint64(freqRead(e.data[o:o+3], tick(now), c.period))
	}
	return 0
}

// Set stores v in data type d of e (element idx): a counter takes the value, a
// frequency counter reads v for one period then fades (HAProxy's `set table`). It
// touches e.
func (t *Table) Set(e *Entry, d DataType, idx int, v uint64) bool {
	c := t.cols[d]
	if c.off < 0 || idx < 0 || idx >= c.n || Types[d].Storage == Dict {
		return false
	}
	now := t.clock()
	t.mu.Lock()
	t.set(e, d, c, idx, v, now)
	t.touch(e, now)
	t.mu.Unlock()
	t.kick()
	return true
}

func (t *Table) set(e *Entry, d DataType, c col, idx int, v uint64, now int64) {
	switch Types[d].Storage {
	case SInt, UInt:
		e.data[c.off+idx] = uint32(v)
	case ULL:
		o := c.off + 2*idx
		e.data[o], e.data[o+1] = uint32(v>>32), uint32(v)
	case Freq:
		o := c.off + 3*idx
		freqSet(e.data[o:o+3], tick(now), uint32(v))
	}
}

// Clear sets data type d of e to 0 and returns its previous value (sc_clr_gpc0).
func (t *Table) Clear(e *Entry, d DataType, idx int) uint64 {
	c := t.cols[d]
	if c.off < 0 || idx < 0 || idx >= c.n || Types[d].Storage == Dict {
		return 0
	}
	now := t.clock()
	t.mu.Lock()
	old := t.get(e, d, c, idx, now)
	switch Types[d].Storage {
	case Freq:
		o := c.off + 3*idx
		e.data[o+1], e.data[o+2] = 0, 0
	default:
		t.set(e, d, c, idx, 0, now)
	}
	t.touch(e, now)
	t.mu.Unlock()
	t.kick()
	return old
}

// SetServerKey stores the server_key string of e.
func (t *Table) SetServerKey(e *Entry, s string) {
	if t.cols[ServerKey].off < 0 {
		return
	}
	now := t.clock()
	t.mu.Lock()
	e.srvKey = s
	t.touch(e, now)
	t.mu.Unlock()
	t.kick()
}

// Uses reports how many sessions track e.
func (t *Table) Uses(e *Entry) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int(e.ref)
}

// Expire removes the entries whose expiry has passed and that no session tracks, as
// HAProxy's expiry task does, and returns how many it removed. The LRU list is in
// touch order, which is expiry order for local changes; the walk stops at the
// first live entry it finds after a run of max examined entries, so that one call
// holds the lock for a bounded time.
func (t *Table) Expire(max int) int {
	if t.spec.Expire == 0 {
		return 0
	}
	now := t.clock()
	t.mu.Lock()
	defer t.mu.Unlock()
	n, looked := 0, 0
	for e := t.head; e != nil && looked < max; {
		next := e.next
		looked++
		if e.expired(now) {
			if e.ref == 0 {
				t.remove(e)
				n++
			}
		} else if e.exp-now > t.spec.Expire/2 {
			// Entries after this one were touched later: nothing more to find
			// but learned entries with shorter expiries, which a later pass or
			// a lookup removes.
			break
		}
		e = next
	}
	return n
}
