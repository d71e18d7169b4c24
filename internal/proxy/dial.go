package proxy

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"hitless/internal/balance"
	"hitless/internal/config"
	"hitless/internal/proxyprotocol"
)

// dialer is how a backend connects to its servers, built once from the backend's
// and the servers' options.
type dialer struct {
	timeout time.Duration
	// keepAlive is `option srvtcpka` (or `tcpka`): SO_KEEPALIVE on server
	// connections, which HAProxy does not set otherwise, tuned by srvtcpka-*.
	keepAlive bool
	tuning    config.KeepAlive
}

// Target returns where a connection for the client r goes: the server's address, or
// for a server written without a port the port the client connected to (plus the
// offset of `+N`/`-N`).
func (s *Server) Target(r *balance.Request) string {
	a := s.addr.Load()
	switch s.Cfg.PortMode {
	case config.PortClient:
		return net.JoinHostPort(a.Host, strconv.Itoa(int(r.Frontend.Port())))
	case config.PortOffset:
		return net.JoinHostPort(a.Host, strconv.Itoa(int(r.Frontend.Port())+a.Port))
	}
	return a.HostPort
}

// Private reports whether a connection to s belongs to one client only: one that
// started with a PROXY header, or went to the client's own port. Such connections
// are never reused for another client.
func (s *Server) Private() bool {
	return s.Cfg.SendProxy != 0 || s.Cfg.PortMode != config.PortFixed
}

// dial opens a connection to s for the client r: from the server's `source` address
// when set, with TCP fast open for `tfo`, keep-alive only with `option srvtcpka`, and
// the PROXY header first for `send-proxy`/`send-proxy-v2`.
func (d *dialer) dial(ctx context.Context, s *Server, r *balance.Request) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.timeout, KeepAlive: -1}
	if d.keepAlive {
		// The system's values unless srvtcpka-* set them.
		nd.KeepAliveConfig = d.tuning.Config()
		nd.KeepAlive = 0
	}
	if src := s.Cfg.Source; src != "" {
		if ap, err := netip.ParseAddrPort(src); err == nil {
			nd.LocalAddr = net.TCPAddrFromAddrPort(ap)
		} else if ip, err := netip.ParseAddr(src); err == nil {
			nd.LocalAddr = &net.TCPAddr{IP: ip.AsSlice()}
		}
	}
	if s.Cfg.TFO {
		nd.Control = func(network, address string, c syscall.RawConn) error {
			var serr error
			c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpFastOpenConnect, 1)
			})
			return serr
		}
	}
	c, err := nd.DialContext(ctx, "tcp", s.Target(r))
	if err != nil {
		return nil, err
	}
	if v := s.Cfg.SendProxy; v != 0 {
		hdr := proxyprotocol.Append(nil, v, r.Client, r.Frontend, s.proxyTLVs(r))
		c.SetWriteDeadline(time.Now().Add(d.timeout))
		if _, err := c.Write(hdr); err != nil {
			c.Close()
			return nil, err
		}
		c.SetWriteDeadline(time.Time{})
	}
	return c, nil
}

// tcpFastOpenConnect is Linux's TCP_FASTOPEN_CONNECT.
const tcpFastOpenConnect = 30

// proxyTLVs are the TLVs `proxy-v2-options` asks for, in HAProxy 2.6's order
// whatever the order of the options: crc32c, authority (when there is one),
// unique-id (even when empty).
func (s *Server) proxyTLVs(r *balance.Request) []proxyprotocol.TLV {
	var out []proxyprotocol.TLV
	has := func(o string) bool {
		for _, x := range s.Cfg.ProxyV2Options {
			if x == o {
				return true
			}
		}
		return false
	}
	if has("crc32c") {
		out = append(out, proxyprotocol.TLV{Type: proxyprotocol.TLVCRC32C})
	}
	if has("authority") && r.Authority != "" {
		out = append(out, proxyprotocol.TLV{Type: proxyprotocol.TLVAuthority, Value: []byte(r.Authority)})
	}
	if has("unique-id") {
		out = append(out, proxyprotocol.TLV{Type: proxyprotocol.TLVUniqueID, Value: []byte(r.UniqueID)})
	}
	return out
}
