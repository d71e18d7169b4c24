package instance

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"hitless/internal/config"
	"hitless/internal/peers"
	"hitless/internal/persist"
	"hitless/internal/stick"
)

// startTables builds the configuration's stick tables and fills them with what an
// older process handed over (a peers-protocol dump: opts.Tables), before anything
// is accepted: a reload keeps every counter, ban and persistence entry.
func (in *Instance) startTables(cfg *config.Config, handover io.Reader) {
	in.Tables = stick.NewSet(cfg.Tables, nil)
	if handover == nil {
		return
	}
	// The load allocates one object per entry: a million of them would make the
	// collector run a dozen times on the way; let the heap grow 4x between cycles
	// while it lasts.
	gc := debug.SetGCPercent(400)
	t0 := time.Now()
	n, err := peers.Load(handover, in.Tables)
	debug.SetGCPercent(gc)
	in.tablesHandedOver = err == nil
	if errors.Is(err, peers.ErrNoHandOver) {
		return
	}
	if err != nil {
		in.events.Warn(fmt.Sprintf("stick tables: %v; %d entries taken over from the previous process", err, n))
		return
	}
	in.events.Debug(fmt.Sprintf("stick tables: %d entries taken over from the previous process in %s", n, time.Since(t0).Round(time.Millisecond)))
}

// startPersistence gives every backend with stick rules its persist.Rules.
func (in *Instance) startPersistence() {
	for _, b := range in.State.Backends {
		if r := persist.New(b.Cfg.StickRules, in.Tables); r != nil {
			b.Persist = r
		}
	}
}

// runExpiry removes expired entries once a second while the instance lives.
func (in *Instance) runExpiry() {
	in.loops.Add(1)
	go func() {
		defer in.loops.Done()
		in.Tables.RunExpiry(in.ctx.Done(), time.Second)
	}()
}

// DumpTables writes every table for a newer process (`_tables`).
func (in *Instance) DumpTables(w io.Writer) error { return peers.Dump(w, in.Tables) }
