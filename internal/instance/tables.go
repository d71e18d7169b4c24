package instance

import (
	"bytes"
	"fmt"
	"io"

	"hitless/internal/config"
	"hitless/internal/peers"
	"hitless/internal/stick"
)

// startTables builds the configuration's stick tables and fills them with what an
// older process handed over (a peers-protocol dump: opts.Tables), before anything
// is accepted: a reload keeps every counter, ban and persistence entry.
func (in *Instance) startTables(cfg *config.Config, handover []byte) {
	in.Tables = stick.NewSet(cfg.Tables, nil)
	if len(handover) == 0 {
		return
	}
	n, err := peers.Load(bytes.NewReader(handover), in.Tables)
	in.tablesHandedOver = err == nil
	if err != nil {
		in.events.Warn(fmt.Sprintf("stick tables: %v; %d entries taken over from the previous process", err, n))
		return
	}
	in.events.Debug(fmt.Sprintf("stick tables: %d entries taken over from the previous process", n))
}

// DumpTables writes every table for a newer process (`_tables`).
func (in *Instance) DumpTables(w io.Writer) error { return peers.Dump(w, in.Tables) }
