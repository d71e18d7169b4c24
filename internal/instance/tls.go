package instance

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"hitless/internal/config"
	"hitless/internal/tlsconf"
)

// TLS termination for `bind ... ssl`: the handshake runs in the connection's own
// goroutine before the tcp or http engine sees the connection, bounded by the
// frontend's `timeout http-request` (mode http) or `timeout client`, so that a client
// that stalls or sends garbage costs only its own connection.

// setTicketKeys gives every TLS bind without its own tls-ticket-keys file the
// process's session-ticket keys: those carried from the older process, else new ones,
// rotated by time (once at start, then checked every hour until the instance stops).
func (in *Instance) setTicketKeys(cfg *config.Config, carried tlsconf.ProcessKeys) {
	ls := tlsListeners(cfg)
	in.ticketKeys = carried
	in.rotateTicketKeys(ls, time.Now(), true)
	in.loops.Add(1)
	go func() {
		defer in.loops.Done()
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-in.ctx.Done():
				return
			case now := <-t.C:
				in.rotateTicketKeys(ls, now, false)
			}
		}
	}()
}

// rotateTicketKeys rotates the keys when due and gives them to the listeners.
func (in *Instance) rotateTicketKeys(ls []*tlsconf.Listener, now time.Time, always bool) {
	in.keysMu.Lock()
	keys, changed := in.ticketKeys.Rotate(now)
	in.ticketKeys = keys
	in.keysMu.Unlock()
	if !changed && !always {
		return
	}
	secrets := keys.Secrets()
	for _, l := range ls {
		l.SetTicketKeys(secrets)
	}
}

// TicketKeys returns the process's session-ticket keys, for the next process.
func (in *Instance) TicketKeys() tlsconf.ProcessKeys {
	in.keysMu.Lock()
	defer in.keysMu.Unlock()
	return in.ticketKeys
}

// buildCertStore indexes the certificates of every TLS bind for the Runtime API and
// serves those an older process committed at runtime (when their files did not change
// since).
func (in *Instance) buildCertStore(cfg *config.Config, committed string) {
	in.certs = tlsconf.NewStore(tlsListeners(cfg))
	if committed == "" {
		return
	}
	for _, name := range in.certs.Apply(committed) {
		in.events.Info(fmt.Sprintf("certificate '%s' keeps the content committed in the older process", name))
	}
}

// CommittedCerts returns the certificates committed at runtime, for the next process.
func (in *Instance) CommittedCerts() string { return in.certs.Committed() }

// tlsListeners are the TLS sides of every bind of cfg.
func tlsListeners(cfg *config.Config) []*tlsconf.Listener {
	var ls []*tlsconf.Listener
	for _, p := range cfg.Proxies {
		for _, b := range p.Binds {
			if b.TLS != nil {
				ls = append(ls, b.TLS)
			}
		}
	}
	return ls
}

// handshakeTimeout bounds a TLS handshake as HAProxy bounds it.
func handshakeTimeout(p *config.Proxy) time.Duration {
	t := p.Timeouts
	if p.Mode == config.ModeHTTP && t.HTTPRequest > 0 && (t.Client == 0 || t.HTTPRequest < t.Client) {
		return t.HTTPRequest
	}
	return t.Client
}

// tlsHandshake terminates TLS on c; it returns nil (after closing c and logging the
// failure as HAProxy does: "SSL handshake failure") when the handshake fails.
func (in *Instance) tlsHandshake(ctx context.Context, c net.Conn, bl *boundListener) net.Conn {
	tc := tls.Server(c, bl.bind.TLS.Config)
	if d := handshakeTimeout(bl.fe.Cfg); d > 0 {
		tc.SetDeadline(time.Now().Add(d))
	}
	err := tc.HandshakeContext(ctx)
	if err != nil {
		embryonicLog(bl, c.RemoteAddr(), time.Now(), "SSL handshake failure")
		c.Close()
		return nil
	}
	tc.SetDeadline(time.Time{})
	in.sslConns.Add(1)
	return tc
}
