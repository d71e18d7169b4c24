package proxy

import (
	"context"
	"net"
	"time"

	"hitless/internal/balance"
	"hitless/internal/tlsconf"
)

// handshake runs the TLS client handshake to a server with `ssl`, bounded by `timeout
// connect`: the server name comes from the line's `sni` expression, which reads the
// request (r.Header, when it also knows the client's SNI) in the engines.
func (s *Server) handshake(ctx context.Context, c net.Conn, r *balance.Request, timeout time.Duration) (net.Conn, error) {
	var src tlsconf.SNISource
	if r != nil {
		src, _ = r.Header.(tlsconf.SNISource)
	}
	tc, err := s.Cfg.TLS.Handshake(ctx, c, src, timeout)
	if err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}
