package instance

import (
	"context"
	"sync"
	"sync/atomic"
)

// limit is a connection limit (global or frontend maxconn) that `set maxconn` can
// change while accept loops wait on it. An accept loop takes a slot before accepting,
// so that beyond the limit connections wait in the kernel's backlog.
type limit struct {
	// mu guards waiting and wake, and every write of n and max (atomics, so that
	// hold and get can read them without it).
	mu      sync.Mutex
	n, max  atomic.Int64
	waiting int
	wake    chan struct{} // closed and replaced when a slot frees or max changes
}

func newLimit(max int) *limit {
	l := &limit{wake: make(chan struct{})}
	l.max.Store(int64(max))
	return l
}

// acquire takes a slot, waiting while the limit is reached; false when ctx ended.
func (l *limit) acquire(ctx context.Context) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.waitLocked(ctx, func() bool { return l.n.Load() < l.max.Load() }) {
		return false
	}
	l.n.Add(1)
	return true
}

// hold waits, with a slot taken, until the slot is within the limit again: a limit
// lowered while an accept loop waited in Accept holds for the connection it got.
// It returns false when ctx ended.
func (l *limit) hold(ctx context.Context) bool {
	// Almost always within the limit: only a lowered limit makes it wait.
	within := func() bool { return l.n.Load() <= l.max.Load() }
	if within() {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waitLocked(ctx, within)
}

// waitLocked waits until ok holds or ctx ends. Must be called with mu held; mu is
// released while waiting.
func (l *limit) waitLocked(ctx context.Context, ok func() bool) bool {
	for !ok() {
		w := l.wake
		l.waiting++
		l.mu.Unlock()
		var done bool
		select {
		case <-w:
		case <-ctx.Done():
			done = true
		}
		l.mu.Lock()
		l.waiting--
		if done {
			return false
		}
	}
	return true
}

// release gives a slot back.
func (l *limit) release() {
	l.mu.Lock()
	l.n.Add(-1)
	l.wakeLocked()
	l.mu.Unlock()
}

// set changes the limit; waiting accept loops re-check it at once.
func (l *limit) set(max int) {
	l.mu.Lock()
	l.max.Store(int64(max))
	l.wakeLocked()
	l.mu.Unlock()
}

// get returns the limit.
func (l *limit) get() int { return int(l.max.Load()) }

// Must be called with mu held.
func (l *limit) wakeLocked() {
	if l.waiting > 0 {
		close(l.wake)
		l.wake = make(chan struct{})
	}
}
