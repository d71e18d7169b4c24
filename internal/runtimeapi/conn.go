package runtimeapi

import (
	"context"
	"net"
)

// ServeConn serves one already connected client, as Serve does for each accepted
// one, and closes it. The worker of master-worker mode uses it for the connections
// the master hands over its private socket; ctx ending closes the connection.
func (srv *Server) ServeConn(ctx context.Context, c net.Conn, level Level, exposeFD bool) {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	srv.serveSession(c, level, exposeFD)
}

// serveSession runs one session and closes its connection; a panic in a command ends
// that session only.
func (srv *Server) serveSession(c net.Conn, level Level, exposeFD bool) {
	defer func() {
		if r := recover(); r != nil && srv.Events != nil {
			srv.Events.Error("runtime API session failed", "panic", r)
		}
		c.Close()
	}()
	srv.session(&Session{Conn: c, Level: level, ExposeFD: exposeFD})
}

// SplitCommands splits a command line on the ';' that are not escaped with '\', as
// every command line of the Runtime API is split. The master CLI uses it too.
func SplitCommands(line string) []string { return splitCommands(line) }
