package main

import (
	"io"
	"net"
	"time"

	"hitless/internal/peers"
)

// fetchTables asks the older process for its stick tables (`_tables` on the -x
// socket), so that a reload keeps them; nil when it cannot answer (an HAProxy, or
// an older hitless, closes the connection at once).
func fetchTables(path string) []byte {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "_tables\n"); err != nil {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(c, peers.MaxDump))
	if err != nil {
		return nil
	}
	return b
}
