// Package tcpproxy is the mode tcp engine: it routes an accepted connection to a
// backend, connects to a server and copies bytes both ways with io.Copy between the raw
// TCP connections so that Linux splices, handling half-closes and HAProxy's
// inactivity timeouts. The instance package calls Serve per accepted connection.
package tcpproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"hitless/internal/acl"
	"hitless/internal/balance"
	"hitless/internal/config"
	"hitless/internal/http1"
	"hitless/internal/logging"
	"hitless/internal/proxy"
	"hitless/internal/sample"
	"hitless/internal/tlsconf"
)

// input answers sample fetches for a TCP connection; HTTP fetches find nothing.
type input struct {
	src, dst netip.AddrPort
	fe       *proxy.Frontend
	be       *proxy.Backend
	srv      *proxy.Server
	vars     sample.Vars
	tls      *tls.ConnectionState // nil on a plain connection
}

func (in *input) Src() netip.AddrPort        { return in.src }
func (in *input) Dst() netip.AddrPort        { return in.dst }
func (in *input) Frontend() sample.ProxyInfo { return in.fe.Info() }
func (in *input) Request() *http1.Request    { return nil }
func (in *input) Response() *http1.Response  { return nil }
func (in *input) Vars() *sample.Vars         { return &in.vars }
func (in *input) TLS() *tls.ConnectionState  { return in.tls }

// BackendTLS is the server connection's TLS state (ssl_bc): mode tcp routes before it
// connects, so there is none yet.
func (in *input) BackendTLS() *tls.ConnectionState { return nil }

// Get finds no header: there are none in mode tcp (tlsconf.SNISource).
func (in *input) Get(string) (string, bool) { return "", false }

// ClientSNI is the server name the client sent (tlsconf.SNISource).
func (in *input) ClientSNI() string {
	if in.tls != nil {
		return in.tls.ServerName
	}
	return ""
}
func (in *input) Backend(name string) sample.ProxyInfo {
	return BackendInfo(in.fe, in.be, name)
}
func (in *input) Server(be, name string) sample.ServerInfo {
	return ServerInfo(in.fe, in.srv, be, name)
}

// BackendInfo answers the backend fetches of a session of fe whose backend is cur
// (nil before routing): the named backend, else cur, else fe's own backend half.
func BackendInfo(fe *proxy.Frontend, cur *proxy.Backend, name string) sample.ProxyInfo {
	if name != "" {
		if b := fe.State.Backends[name]; b != nil {
			return b.Info()
		}
		return sample.ProxyInfo{}
	}
	if cur == nil {
		cur = fe.State.Backends[fe.Name]
	}
	if cur == nil {
		return sample.ProxyInfo{}
	}
	return cur.Info()
}

// ServerInfo answers the server fetches: the named server of the named backend, or
// the session's server cur.
func ServerInfo(fe *proxy.Frontend, cur *proxy.Server, be, name string) sample.ServerInfo {
	if be == "" && name == "" {
		if cur == nil {
			return sample.ServerInfo{}
		}
		return cur.Info()
	}
	if b := fe.State.Backends[be]; b != nil {
		return b.ServerInfo(name)
	}
	return sample.ServerInfo{}
}

// Serve handles one client connection until both directions are done or ctx ends.
func Serve(ctx context.Context, c net.Conn, fe *proxy.Frontend) {
	start := time.Now()
	defer c.Close()
	src := addrPort(c.RemoteAddr())
	dst := addrPort(c.LocalAddr())
	in := &input{src: src, dst: dst, fe: fe}
	e := logging.Entry{
		ClientIP: src.Addr(), ClientPort: int(src.Port()), Accept: start,
		Frontend: fe.Name, Tw: -1, Tc: -1, Tt: -1, FrontendAddr: dst,
		ReqCounter: fe.State.ReqCounter.Add(1) - 1, PID: pid, Host: host,
	}
	if tc, ok := c.(*tls.Conn); ok {
		st := tc.ConnectionState()
		in.tls = &st
		e.SSLVersion, e.SSLCipher = tlsconf.VersionName(st.Version), tlsconf.SuiteName(st.CipherSuite)
	}
	if f := fe.Cfg.Formats.UniqueID; f != nil {
		e.UniqueID = f.Append(nil, &e) // %ID; headers are for mode http
	}
	format := fe.Cfg.Formats.Log
	logged := false
	// The backend and server once connected: %bc and %sc are read when the line is
	// logged, as in HAProxy (after the server's slot is given back at the end).
	var logBackend *proxy.Backend
	var logServer *proxy.Server
	logLine := func() {
		if fe.Log == nil || logged || (format == nil && !fe.Cfg.Options.TCPLog) {
			return
		}
		logged = true
		e.ActConn = int(fe.State.ActConns.Load())
		e.FeConn = int(fe.Counters.CurConns.Load())
		if logServer != nil {
			e.BeConn, e.SrvConn = int(logBackend.Counters.CurConns.Load()), logServer.Conns()
		}
		level := 6
		if fe.Cfg.Options.LogSeparateErrors && logging.IsError(&e, false) {
			level = 3
		}
		if format != nil {
			fe.Log.Log(level, format.Append(make([]byte, 0, 256), &e))
		} else {
			fe.Log.Log(level, logging.AppendTCPLog(make([]byte, 0, 256), &e))
		}
	}
	if fe.Log != nil && !fe.Cfg.Options.TCPLog && !fe.Cfg.Options.HTTPLog && fe.Cfg.Formats.Log == nil {
		fe.Log.Log(6, logging.AppendConnectLog(nil, src, dst, fe.Name, false))
	}
	in.vars.Proc = fe.State.Vars
	var smp sample.Ctx
	smp.Reset(in)
	if !TCPRules(&smp, fe.Cfg.TCPRequest, "connection") {
		fe.Counters.DeniedConn.Add(1)
		return // a rejected connection is not logged, as in HAProxy
	}
	if !TCPRules(&smp, fe.Cfg.TCPRequest, "session") {
		fe.Counters.DeniedSess.Add(1)
		return
	}
	early, ok := inspect(c, &smp, fe.Cfg, start)
	if !ok {
		fe.Counters.Denied.Add(1)
		return
	}
	b := fe.Route(&smp)
	var toClient, toServer int64
	defer func() {
		e.Tt = time.Since(start)
		e.Bytes = toClient
		fe.Counters.BytesIn.Add(uint64(toServer))
		fe.Counters.BytesOut.Add(uint64(toClient))
		if !(fe.Cfg.Options.DontLogNull && toServer == 0 && toClient == 0) {
			logLine()
		}
	}()
	if b == nil {
		e.Term = [2]byte{'S', 'C'}
		return
	}
	e.Backend = b.Name
	in.be = b
	want, force := b.UseServer(&smp)
	breq := balance.Request{Src: src.Addr(), Sample: &smp, Client: src, Frontend: dst}
	if b.Persist != nil && want == nil {
		breq.Pin = b.Persist.Server(&smp) // stick match / stick on
	}
	a, err := b.ConnectTo(ctx, &breq, nil, want, force)
	if err == nil && b.Persist != nil && !a.Server.Cfg.NonStick {
		b.Persist.Store(&smp, b.ServerID(a.Server), a.Server.Name, a.Server.Address().HostPort)
	}
	e.Tw = a.Queue
	e.Retries, e.Redispatched = a.Retries, a.Redispatched
	e.BeQueue = b.Queued()
	if a.Server != nil {
		e.Server = a.Server.Name
	}
	if err != nil {
		switch {
		case errors.Is(err, proxy.ErrQueueTimeout):
			e.Term = [2]byte{'s', 'Q'}
		case errors.Is(err, context.Canceled):
			e.Term = [2]byte{'K', 'C'}
		default:
			e.Term = [2]byte{'S', 'C'}
		}
		return
	}
	e.Tc = a.Connect
	srv := a.Server
	in.be, in.srv = b, srv
	if st := proxy.StreamOf(ctx); st != nil {
		st.SetTarget(b, srv)
	}
	sc := a.Conn
	defer srv.Release()
	defer sc.Close()
	logBackend, logServer = b, srv
	e.ServerAddr = addrPort(sc.RemoteAddr())
	e.BackendSrc = addrPort(sc.LocalAddr())
	if fe.Cfg.Options.LogASAP {
		// option logasap: log once connected, '+' before %Tt and %B.
		e.Tt, e.Partial = time.Since(start), true
		logLine()
	}

	t := fe.Cfg.Timeouts
	bt := b.Cfg.Timeouts
	clientIdle, serverIdle := t.Client, bt.Server
	if bt.Tunnel > 0 {
		clientIdle, serverIdle = bt.Tunnel, bt.Tunnel
	}
	stop := context.AfterFunc(ctx, func() {
		c.Close()
		sc.Close()
	})
	defer stop()
	if len(early) > 0 {
		// What the content rules inspected goes first.
		sc.SetWriteDeadline(time.Now().Add(serverIdle + time.Second))
		if _, err := sc.Write(early); err != nil {
			e.Term = [2]byte{'S', 'D'}
			return
		}
		sc.SetWriteDeadline(time.Time{})
	}
	toServer, toClient, e.Term = Relay(c, sc, clientIdle, serverIdle, t.ClientFin, bt.ServerFin)
	toServer += int64(len(early))
	if ctx.Err() != nil {
		e.Term = [2]byte{'K', 'D'}
	}
	srv.Counters.AddAbort(e.Term[0])
	b.Counters.AddAbort(e.Term[0])
	total := time.Since(start)
	srv.Counters.AddTimes(a.Queue, a.Connect, -1, total)
	b.Counters.AddTimes(a.Queue, a.Connect, -1, total)
	srv.Counters.BytesIn.Add(uint64(toServer))
	srv.Counters.BytesOut.Add(uint64(toClient))
	b.Counters.BytesIn.Add(uint64(toServer))
	b.Counters.BytesOut.Add(uint64(toClient))
}

// pid and host are %pid and %H of log formats.
var (
	pid     = os.Getpid()
	host, _ = os.Hostname()
)

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	return netip.AddrPort{}
}

// Relay copies both directions between a client and a server connection until both
// are done: half-closes are passed on, idle timeouts (0 = none) end a silent side, and
// after one side's FIN the other gets its fin timeout. It returns the bytes sent to the
// server and to the client and HAProxy's two-letter termination state. The http engine
// uses it for upgraded (WebSocket) connections.
func Relay(client, server net.Conn, clientIdle, serverIdle, clientFin, serverFin time.Duration) (up, down int64, term [2]byte) {
	p := &pipe{client: client, server: server, clientIdle: clientIdle, serverIdle: serverIdle,
		clientFin: clientFin, serverFin: serverFin}
	return p.run()
}

// pipe copies both directions of a connected pair.
type pipe struct {
	client, server         net.Conn
	clientIdle, serverIdle time.Duration // inactivity timeouts; 0 = none
	clientFin, serverFin   time.Duration // timeouts after the peer's half-close
	// finished counts the directions that ended cleanly (FIN seen).
	finished atomic.Int32
	// mu guards term.
	mu   sync.Mutex
	term [2]byte
}

// run copies until both directions end; it returns the bytes each way and the
// termination state.
func (p *pipe) run() (up, down int64, term [2]byte) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// client -> server; the client's FIN arms server-side fin timeout on the other
		// direction.
		up = p.copy(p.server, p.client, p.clientIdle, 'c', 'C')
	}()
	down = p.copy(p.client, p.server, p.serverIdle, 's', 'S')
	wg.Wait()
	p.mu.Lock()
	term = p.term
	p.mu.Unlock()
	if term[0] == 0 {
		term = [2]byte{'-', '-'}
	}
	return up, down, term
}

func (p *pipe) setTerm(a, b byte) {
	p.mu.Lock()
	if p.term[0] == 0 {
		p.term = [2]byte{a, b}
	}
	p.mu.Unlock()
}

// copy moves src to dst until EOF, error or inactivity, re-arming the deadline while
// bytes move. On EOF it half-closes dst and, for the other direction, shortens the
// remaining time to the fin timeout.
func (p *pipe) copy(dst, src net.Conn, idle time.Duration, timeoutCode, abortCode byte) int64 {
	var total int64
	for {
		if idle > 0 {
			src.SetReadDeadline(time.Now().Add(idle))
		}
		n, err := io.Copy(dst, src)
		total += n
		if err == nil {
			// EOF from src: pass the half-close on.
			closeWrite(dst)
			if p.finished.Add(1) == 1 {
				p.armFin(src)
			}
			return total
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if n > 0 {
				continue // activity since the deadline was set: keep going
			}
			p.setTerm(timeoutCode, 'D')
		} else {
			p.setTerm(abortCode, 'D')
		}
		p.client.Close()
		p.server.Close()
		return total
	}
}

// armFin applies client-fin / server-fin to the direction still open once src has
// sent its FIN: the other side then has that long to finish.
func (p *pipe) armFin(finished net.Conn) {
	if finished == p.client && p.serverFin > 0 {
		p.server.SetReadDeadline(time.Now().Add(p.serverFin))
	}
	if finished == p.server && p.clientFin > 0 {
		p.client.SetReadDeadline(time.Now().Add(p.clientFin))
	}
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

// TCPRules runs the tcp-request rules of one kind ("connection", "session",
// "content") without waiting for data; it reports false when one rejects.
func TCPRules(c *sample.Ctx, rules []config.TCPRule, kind string) bool {
	for i := range rules {
		r := &rules[i]
		if r.Kind != kind || (r.Cond != nil && !r.Cond.Eval(c)) {
			continue
		}
		if v := tcpAction(c, r); v != verdictNone {
			return v == verdictAccept
		}
	}
	return true
}

// tcpAction runs the action of a tcp-request rule whose condition holds.
func tcpAction(c *sample.Ctx, r *config.TCPRule) verdict {
	switch r.Action {
	case "accept":
		return verdictAccept
	case "reject":
		return verdictReject
	case "set-var":
		m := c.Mark()
		if v, ok := r.Expr.Eval(c); ok {
			c.In.Vars().Set(r.Var, v)
		}
		c.Release(m)
	case "unset-var":
		c.In.Vars().Unset(r.Var)
	}
	return verdictNone
}

// inspect runs the tcp-request content rules. When a rule cannot decide yet on the
// bytes received (a TLS ClientHello cut short, wait_end), it waits for more, until
// `tcp-request inspect-delay` after the connection was accepted or until its buffer is
// full. It returns the bytes read (to be sent to the server first) and false when a
// rule rejects the connection.
func inspect(c net.Conn, smp *sample.Ctx, p *config.Proxy, start time.Time) ([]byte, bool) {
	var rules []config.TCPRule
	for _, r := range p.TCPRequest {
		if r.Kind == "content" {
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 {
		return nil, true
	}
	var buf []byte
	if p.InspectDelay > 0 {
		buf = make([]byte, 0, inspectBuf)
	}
	deadline := start.Add(p.InspectDelay)
	final := p.InspectDelay <= 0
	for {
		smp.SetPayload(buf, final)
		switch contentVerdict(smp, rules) {
		case verdictAccept:
			c.SetReadDeadline(time.Time{})
			return buf, true
		case verdictReject:
			return nil, false
		}
		if final {
			c.SetReadDeadline(time.Time{})
			return buf, true
		}
		c.SetReadDeadline(deadline)
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil || len(buf) == cap(buf) {
			final = true
		}
	}
}

// inspectBuf is how much a connection may send before its content rules decide
// (HAProxy's buffer less its reserve).
const inspectBuf = 15 << 10

type verdict int

const (
	verdictNone verdict = iota // no rule decided: accepted at the end
	verdictAccept
	verdictReject
	verdictWait // a rule may decide once more bytes arrive
)

// contentVerdict evaluates the content rules on the payload given to smp.
func contentVerdict(c *sample.Ctx, rules []config.TCPRule) verdict {
	for i := range rules {
		r := &rules[i]
		if r.Cond != nil {
			switch r.Cond.EvalMiss(c) {
			case acl.Miss:
				return verdictWait
			case acl.Fail:
				continue
			}
		}
		if v := tcpAction(c, r); v != verdictNone {
			return v
		}
	}
	return verdictNone
}
