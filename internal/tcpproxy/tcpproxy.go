// Package tcpproxy is the mode tcp engine: it routes an accepted connection to a
// backend, connects to a server and copies bytes both ways with io.Copy between the raw
// TCP connections so that Linux splices, handling half-closes and HAProxy's
// inactivity timeouts. The instance package calls Serve per accepted connection; the
// http engine calls Relay for upgraded (WebSocket) connections.
package tcpproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"hitless/internal/balance"
	"hitless/internal/logging"
	"hitless/internal/proxy"
)

// sample answers ACL fetches for a TCP connection; HTTP fetches find nothing.
type sample struct {
	src     netip.Addr
	dstPort int
}

func (s *sample) Path() string                          { return "" }
func (s *sample) Method() string                        { return "" }
func (s *sample) Header(string, func(string) bool) bool { return false }
func (s *sample) Src() netip.Addr                       { return s.src }
func (s *sample) DstPort() int                          { return s.dstPort }

// logBufs holds the buffers access-log lines are formatted into; Log copies the line.
var logBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// Syslog level of access-log lines, as HAProxy sends them.
const levelInfo = 6

// Serve handles one client connection of a mode tcp frontend until both directions
// are done or ctx ends (a hard stop: both connections are closed at once). It routes
// the connection (use_backend rules see src and dst_port), connects through the
// backend (timeout connect, retries and redispatch happen there), relays both ways
// and logs as `option tcplog` says, or logs "Connect from" at accept when the frontend
// has loggers but no log format. The caller counts fe.Counters.CurConns around Serve;
// Serve releases the server slot and closes c.
func Serve(ctx context.Context, c net.Conn, fe *proxy.Frontend) {
	start := time.Now()
	defer c.Close()
	src := addrPort(c.RemoteAddr())
	dst := addrPort(c.LocalAddr())
	opts := &fe.Cfg.Options
	if fe.Log != nil && !opts.TCPLog && !opts.HTTPLog {
		bp := logBufs.Get().(*[]byte)
		*bp = logging.AppendConnectLog((*bp)[:0], src, dst, fe.Name, false)
		fe.Log.Log(levelInfo, *bp)
		logBufs.Put(bp)
	}
	e := logging.Entry{
		ClientIP: src.Addr(), ClientPort: int(src.Port()), Accept: start,
		Frontend: fe.Name, TR: -1, Tw: -1, Tc: -1, Tr: -1, Ta: -1, Tt: -1, Term: [2]byte{'-', '-'},
	}
	var toClient, toServer int64
	defer func() {
		fe.Counters.BytesIn.Add(uint64(toServer))
		fe.Counters.BytesOut.Add(uint64(toClient))
		if fe.Log == nil || !(opts.TCPLog || opts.HTTPLog) || (opts.DontLogNull && toServer == 0) {
			return
		}
		e.Tt = time.Since(start)
		e.Bytes = toClient
		e.ActConn = int(fe.State.ActConns.Load())
		e.FeConn = int(fe.Counters.CurConns.Load())
		bp := logBufs.Get().(*[]byte)
		*bp = logging.AppendTCPLog((*bp)[:0], &e)
		fe.Log.Log(levelInfo, *bp)
		logBufs.Put(bp)
	}()

	smp := sample{src: src.Addr(), dstPort: int(dst.Port())}
	b := fe.Route(&smp)
	if b == nil {
		e.Term = [2]byte{'S', 'C'} // HAProxy: "fe fe/<NOSRV> -1/-1/0 0 SC"
		return
	}
	e.Backend = b.Name
	a, err := b.Connect(ctx, &balance.Request{Src: src.Addr()}, nil)
	e.Tw = a.Queue
	e.Retries = a.Retries
	e.BeQueue = b.Queued()
	if a.Server != nil {
		e.Server = a.Server.Name
	}
	if err != nil {
		e.Term = connectTerm(err, a, b.Cfg.Timeouts.Connect)
		if e.Term[1] == 'Q' || errors.Is(err, proxy.ErrNoServer) {
			e.Server = "" // never got a server: <NOSRV>
		}
		return
	}
	e.Tc = a.Connect
	srv := a.Server
	sc := a.Conn
	defer srv.Release()
	defer sc.Close()
	e.BeConn = int(b.Counters.CurConns.Load())
	e.SrvConn = srv.Conns()

	ft, bt := &fe.Cfg.Timeouts, &b.Cfg.Timeouts
	clientIdle, serverIdle := ft.Client, bt.Server
	if bt.Tunnel > 0 {
		clientIdle, serverIdle = bt.Tunnel, bt.Tunnel
	}
	stop := context.AfterFunc(ctx, func() {
		c.Close()
		sc.Close()
	})
	toServer, toClient, e.Term = Relay(c, sc, clientIdle, serverIdle, ft.ClientFin, bt.ServerFin)
	if !stop() {
		e.Term = [2]byte{'K', 'D'} // killed by a hard stop
	}
	srv.Counters.BytesIn.Add(uint64(toServer))
	srv.Counters.BytesOut.Add(uint64(toClient))
	b.Counters.BytesIn.Add(uint64(toServer))
	b.Counters.BytesOut.Add(uint64(toClient))
}

// connectTerm is the termination state of a failed connection attempt.
func connectTerm(err error, a *proxy.Attempt, connectTimeout time.Duration) [2]byte {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return [2]byte{'K', 'C'}
	case errors.Is(err, proxy.ErrQueueTimeout):
		return [2]byte{'s', 'Q'}
	case errors.Is(err, proxy.ErrQueueFull):
		return [2]byte{'S', 'Q'}
	case errors.Is(err, proxy.ErrConnect) && connectTimeout > 0 && a.Connect >= connectTimeout:
		return [2]byte{'s', 'C'} // timeout connect
	default:
		return [2]byte{'S', 'C'}
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	return netip.AddrPort{}
}

// Relay copies both directions between a client and a server connection until both
// are done: a FIN from one side is passed on as a half-close (CloseWrite) and the
// other direction goes on. clientIdle and serverIdle are inactivity timeouts (0 =
// none): a side that neither sent nor received anything for that long ends the
// connection, HAProxy's `timeout client` and `timeout server`. After the client's FIN
// the server side gets serverFin instead, and after the server's FIN the client side
// gets clientFin (`timeout server-fin`, `timeout client-fin`; 0 = keep the idle
// timeout). It returns the bytes sent to the server and to the client and HAProxy's
// two-letter termination state ("--", "cD", "sD", "CD", "SD"). Both connections are
// closed on a timeout or an error; otherwise the caller closes them.
func Relay(client, server net.Conn, clientIdle, serverIdle, clientFin, serverFin time.Duration) (up, down int64, term [2]byte) {
	p := &pipe{conn: [2]net.Conn{client, server}, fin: [2]time.Duration{clientFin, serverFin}}
	p.idle[clientSide].Store(int64(clientIdle))
	p.idle[serverSide].Store(int64(serverIdle))
	return p.run()
}

const (
	clientSide = 0
	serverSide = 1
)

// pipe copies both directions of a connected pair; one goroutine per direction.
type pipe struct {
	conn [2]net.Conn
	fin  [2]time.Duration
	// idle is each side's current inactivity timeout in nanoseconds (0 = none); a
	// half-close swaps in the fin timeout.
	idle [2]atomic.Int64
	// shut is set when a FIN had to be passed on by closing a connection that cannot
	// half-close: the other direction's error is then no abort.
	shut atomic.Bool
	// over[side] is closed when the direction reading from side has moved its last
	// byte.
	over [2]chan struct{}
	// mu guards term: the first reason to end wins.
	mu   sync.Mutex
	term [2]byte
}

func (p *pipe) run() (up, down int64, term [2]byte) {
	p.over[clientSide] = make(chan struct{})
	p.over[serverSide] = make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		up = p.copy(serverSide, clientSide)
	}()
	down = p.copy(clientSide, serverSide)
	<-done
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

// timeoutCode and abortCode are the first letter of the termination state per side.
var (
	timeoutCode = [2]byte{'c', 's'}
	abortCode   = [2]byte{'C', 'S'}
)

// copy moves bytes from side from to side to until EOF, error or inactivity. io.Copy
// runs between the raw connections (splice on Linux). Only reads have deadlines (a
// write deadline could expire with bytes already read and lose them); a run that
// ends on its deadline is re-armed unless a side has really been idle for its
// timeout, which TCP_INFO tells even when only the other direction moved. A write
// that stalls because a peer stopped reading is caught by the direction reading from
// that peer, or, once that one is over, by watch.
func (p *pipe) copy(to, from int) int64 {
	dst, src := p.conn[to], p.conn[from]
	var total int64
	for {
		src.SetReadDeadline(p.deadline(from, time.Now()))
		n, err := io.Copy(dst, src)
		total += n
		if err == nil {
			// EOF from src: pass the half-close on, give the side that has still to
			// finish its fin timeout, and watch from's side while it still receives.
			if !closeWrite(dst) {
				p.shut.Store(true)
			}
			p.armFin(to)
			close(p.over[from])
			p.watch(from)
			return total
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if n > 0 {
				continue
			}
			side := p.expired(from, to)
			if side < 0 {
				continue // the other direction kept the sides busy
			}
			p.setTerm(timeoutCode[side], 'D')
		} else if p.shut.Load() || isClosed(err) {
			// Closed under us: a timeout or abort of the other direction, a hard stop
			// (which set the state), or the end of a connection that cannot
			// half-close.
		} else {
			p.setTerm(abortCode[from], 'D')
		}
		p.closeBoth()
		close(p.over[from])
		return total
	}
}

func (p *pipe) closeBoth() {
	p.conn[clientSide].Close()
	p.conn[serverSide].Close()
}

// watch enforces side's inactivity timeout while the other direction still writes
// to it, until that direction is over.
func (p *pipe) watch(side int) {
	other := p.over[1-side]
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		idle := time.Duration(p.idle[side].Load())
		if idle <= 0 {
			<-other
			return
		}
		wait := time.Until(p.deadline(side, time.Now()))
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-other:
			return
		case <-timer.C:
			if p.expired(side, side) == side {
				p.setTerm(timeoutCode[side], 'D')
				p.closeBoth()
				<-other
				return
			}
		}
	}
}

// deadline is when side's current inactivity timeout would expire from now, counted
// from its last activity when TCP_INFO knows it; zero (none) when it has no timeout.
func (p *pipe) deadline(side int, now time.Time) time.Time {
	idle := time.Duration(p.idle[side].Load())
	if idle <= 0 {
		return time.Time{}
	}
	if quiet, ok := quietFor(p.conn[side]); ok && quiet < idle {
		return now.Add(idle - quiet)
	}
	return now.Add(idle)
}

// expired returns the side (of a and b, checked in that order) that has been inactive
// for its whole timeout, or -1 when both are still within it.
func (p *pipe) expired(a, b int) int {
	for _, side := range [2]int{a, b} {
		idle := time.Duration(p.idle[side].Load())
		if idle <= 0 {
			continue
		}
		quiet, ok := quietFor(p.conn[side])
		if !ok || quiet >= idle-idle/64 {
			return side
		}
	}
	return -1
}

// armFin switches side (which we just half-closed) to its fin timeout and makes the
// direction reading from it notice.
func (p *pipe) armFin(side int) {
	fin := p.fin[side]
	if fin <= 0 {
		return
	}
	p.idle[side].Store(int64(fin))
	p.conn[side].SetReadDeadline(time.Now().Add(fin))
}

// quietFor reports how long a TCP connection has neither sent nor received data,
// from the kernel's TCP_INFO; ok is false for other connections.
func quietFor(c net.Conn) (time.Duration, bool) {
	tc, isTCP := c.(*net.TCPConn)
	if !isTCP {
		return 0, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var info *unix.TCPInfo
	if rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}) != nil || err != nil {
		return 0, false
	}
	ms := min(info.Last_data_recv, info.Last_data_sent)
	return time.Duration(ms) * time.Millisecond, true
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed)
}

// closeWrite sends a FIN to c's peer; a connection that cannot half-close is closed
// and closeWrite returns false.
func closeWrite(c net.Conn) bool {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return true
	}
	c.Close()
	return false
}
