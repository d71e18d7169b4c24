package stick

// The update log: what the peers protocol pushes. A local change gives the entry an
// update id (a new one unless no peer has pushed its last one yet) and appends it to
// the log; each peer session reads the log from the id it last pushed and reports
// it with Pushed. The log is HAProxy's update tree: one live record per changed
// entry, in id order, plus stale records of entries that changed again or left,
// which compaction drops. Entries learned from a
// peer or handed over by an older process are not logged: HAProxy does not forward
// them either, except in a full resynchronisation, which walks the whole table.

// SetSync turns the update log on (the table is shared with peers); notify is
// called, without the table's lock, after each local change, and must not block.
func (t *Table) SetSync(notify func()) {
	t.mu.Lock()
	t.sync = true
	t.mu.Unlock()
	t.notify.Store(&notify)
}

// queue logs a local change of e. Must be called with mu held.
func (t *Table) queue(e *Entry) {
	if e.upd != 0 && int32(e.upd-t.commit) > 0 {
		return
	}
	t.update++
	if t.update == 0 {
		t.update++
	}
	e.upd = t.update
	t.log = append(t.log, logRec{id: t.update, e: e})
	if len(t.log) > 2*t.spec.Size+1024 {
		t.compact()
	}
}

// compact drops the records of deleted entries. Must be called with mu held.
func (t *Table) compact() {
	out := t.log[:0]
	for _, r := range t.log {
		if t.entries[r.e.key] == r.e && r.e.upd == r.id {
			out = append(out, r)
		}
	}
	clear(t.log[len(out):])
	t.log = out
}

// LastUpdate is the last update id handed out.
func (t *Table) LastUpdate() uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.update
}

// Updates calls fn for up to max logged changes with an id after `after`, in id
// order, and returns how many it called fn for and the last id it looked at (stale
// records of deleted entries included; `after` when none). fn gets the Row (ms left
// in Exp) and must not call the table.
func (t *Table) Updates(after uint32, max int, fn func(id uint32, r *Row)) (int, uint32) {
	now := t.clock()
	t.mu.Lock()
	defer t.mu.Unlock()
	// The log is in id order: find the first record after `after`.
	lo, hi := 0, len(t.log)
	for lo < hi {
		m := (lo + hi) / 2
		if int32(t.log[m].id-after) > 0 {
			hi = m
		} else {
			lo = m + 1
		}
	}
	var r Row
	n, last := 0, after
	for _, rec := range t.log[lo:] {
		if n >= max {
			break
		}
		last = rec.id
		e := rec.e
		if t.entries[e.key] != e || e.upd != rec.id {
			continue
		}
		t.rowOf(e, now, &r)
		fn(rec.id, &r)
		n++
	}
	return n, last
}

// Pending reports whether the log holds changes after id `after`.
func (t *Table) Pending(after uint32) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int32(t.update-after) > 0
}

// Pushed tells the table that a peer session pushed the changes up to id: an entry
// changed again after that gets a new id, so that the session sees the change.
func (t *Table) Pushed(id uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if int32(id-t.commit) > 0 {
		t.commit = id
	}
}

// Committed is the highest update id a peer session pushed (`show peers`'s
// commitupdate).
func (t *Table) Committed() uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.commit
}
