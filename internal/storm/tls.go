package storm

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// errHandshake marks a failed TLS handshake.
var errHandshake = errors.New("tls handshake")

// offerCache wraps the configuration's session cache to see whether a handshake
// offers a session (a resumption attempt).
type offerCache struct {
	tls.ClientSessionCache
	offered *bool
}

func (c offerCache) Get(key string) (*tls.ClientSessionState, bool) {
	s, ok := c.ClientSessionCache.Get(key)
	if ok && c.offered != nil {
		*c.offered = true
	}
	return s, ok
}

// dial connects to the target, over TLS when o.TLS is set, and counts the handshake
// and whether an offered session was resumed.
func dial(ctx context.Context, o Options, c *collector) (net.Conn, error) {
	d := net.Dialer{Timeout: o.Timeout}
	conn, err := d.DialContext(ctx, "tcp", o.Target)
	if err != nil || o.TLS == nil {
		return conn, err
	}
	cfg := o.TLS
	offered := false
	if cfg.ClientSessionCache != nil {
		cfg = cfg.Clone()
		cfg.ClientSessionCache = offerCache{o.TLS.ClientSessionCache, &offered}
	}
	tc := tls.Client(conn, cfg)
	tc.SetDeadline(time.Now().Add(o.Timeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errHandshake, err)
	}
	c.handshakes.Add(1)
	if offered {
		c.offered.Add(1)
		if !tc.ConnectionState().DidResume {
			c.resumeFails.Add(1)
		}
	}
	return tc, nil
}
