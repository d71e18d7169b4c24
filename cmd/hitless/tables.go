package main

import (
	"bytes"
	"io"
	"net"
	"time"
)

// fetchTables asks the older process for its stick tables (`_tables` on the -x
// socket), so that a reload keeps them: the instance reads the answer while the old
// process writes it. It returns nil when the socket cannot be reached; an HAProxy,
// or an older hitless, closes the connection at once, which reads as an empty
// hand-over. The caller closes the connection.
func fetchTables(path string) io.ReadCloser {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "_tables\n"); err != nil {
		c.Close()
		return nil
	}
	return c
}

// tablesOf is what the master handed over, as a reader (nil when nothing).
func tablesOf(b []byte) io.Reader {
	if len(b) == 0 {
		return nil
	}
	return bytes.NewReader(b)
}
