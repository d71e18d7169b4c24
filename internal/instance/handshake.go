package instance

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"hitless/internal/proxyprotocol"
)

// An accepted connection goes through these steps before an engine serves it, in
// order, each one a function: setKeepAlive (SO_KEEPALIVE as `option clitcpka`
// says), readProxyHeader for `accept-proxy` (the PROXY header, whose addresses then
// stand for the connection's: src, dst, logs, send-proxy), then tlsHandshake for
// `ssl` (tls.go), which runs over what follows the header.

// setKeepAlive sets SO_KEEPALIVE on an accepted TCP connection only with `option
// clitcpka` (tuned by clitcpka-*), as HAProxy does; Go's listeners set it always.
func setKeepAlive(c net.Conn, bl *boundListener) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	if bl.fe.Cfg.Options.CliTCPKA {
		tc.SetKeepAliveConfig(bl.fe.Cfg.CliKeepAlive.Config())
	} else {
		tc.SetKeepAlive(false)
	}
}

// readProxyHeader reads the PROXY header of a connection accepted on an
// `accept-proxy` bind and returns the connection with the header's addresses. On
// error the connection is to be closed; the error says why in HAProxy's words.
func (in *Instance) readProxyHeader(c net.Conn, bl *boundListener) (out net.Conn, err error) {
	// A failure in here (a bug, not the peer's bytes, which are bounded and fuzzed)
	// drops this connection, never the process.
	defer func() {
		if r := recover(); r != nil {
			in.events.Error(fmt.Sprintf("frontend %s: connection handshake failed: %v", bl.fe.Name, r))
			out, err = nil, errHandshakePanic
		}
	}()
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	// The header must arrive within `timeout client` (HAProxy's handshake timeout
	// when no `timeout client-hs` is set); 5s when that is unset too.
	wait := bl.fe.Cfg.Timeouts.Client
	if wait <= 0 {
		wait = 5 * time.Second
	}
	h, err := proxyprotocol.Read(tc, wait)
	if err != nil {
		return nil, err
	}
	if h.Local {
		return c, nil
	}
	return &proxiedConn{TCPConn: tc, remote: net.TCPAddrFromAddrPort(h.Src), local: net.TCPAddrFromAddrPort(h.Dst)}, nil
}

// errHandshakePanic is the error of a handshake that failed inside hitless.
var errHandshakePanic = errors.New("Internal error during the connection handshake")

// proxiedConn is an accepted connection whose addresses came in a PROXY header. It
// embeds the *net.TCPConn, so that copies still splice and half-closes still work.
type proxiedConn struct {
	*net.TCPConn
	remote, local net.Addr
}

func (c *proxiedConn) RemoteAddr() net.Addr { return c.remote }
func (c *proxiedConn) LocalAddr() net.Addr  { return c.local }

// proxyHeaderFailed counts and logs a connection dropped because of its PROXY
// header.
func (in *Instance) proxyHeaderFailed(c net.Conn, bl *boundListener, at time.Time, err error) {
	bl.fe.Counters.HandshakeErrors.Add(1)
	embryonicLog(bl, c.RemoteAddr(), at, err.Error())
}

// embryonicLog logs a connection dropped before it was served, as HAProxy logs an
// embryonic session: `src:port [date] frontend/listener: reason`, the listener named
// by its number when it has no name.
func embryonicLog(bl *boundListener, remote net.Addr, at time.Time, reason string) {
	fe := bl.fe
	if fe.Log == nil {
		return
	}
	name := bl.bind.Name
	if name == "" {
		name = strconv.Itoa(bl.id)
	}
	level := 6
	if fe.Cfg.Options.LogSeparateErrors {
		level = 3
	}
	msg := remote.String() + " [" + at.Format("02/Jan/2006:15:04:05.000") + "] " + fe.Name + "/" + name + ": " + reason
	fe.Log.Log(level, []byte(msg))
}
