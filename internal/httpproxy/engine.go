// Package httpproxy is the mode http engine: HTTP/1.1 and 1.0 keep-alive to clients,
// pooled keep-alive connections to servers, streamed bodies in both directions,
// http-request/http-response rules, X-Forwarded-For, WebSocket upgrades, and HAProxy's
// error answers. It parses with internal/http1 in place, over pooled buffers, so that a
// request costs no allocation in the steady state. The instance package calls Serve
// per accepted connection of a mode http frontend.
package httpproxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"hitless/internal/balance"
	"hitless/internal/config"
	"hitless/internal/http1"
	"hitless/internal/logformat"
	"hitless/internal/logging"
	"hitless/internal/proxy"
	"hitless/internal/sample"
)

const (
	bufSize          = 16 << 10
	maxIdlePerServer = 512
)

// Engine is shared by every frontend of one proxy.State.
type Engine struct {
	st     *proxy.State
	events *slog.Logger
	// pools holds one *idlePool per server.
	pools   sync.Map
	readers sync.Pool
	writers sync.Pool
	// draining is set by a soft stop: every response then closes its connection.
	draining atomic.Bool
	// answers caches the bytes of each `http-request return` rule
	// (*config.HTTPRule → []byte): built once, then shared read-only.
	answers sync.Map
	// applets are the stats pages and services; set once before the first Serve.
	applets Applets
	pid     int    // %pid
	host    string // %H
	maxHdr  int    // header fields a message may carry (tune.http.maxhdr - 1)
}

// returnPage is the cached answer of an `http-request return` rule.
func (e *Engine) returnPage(r *config.HTTPRule) []byte {
	if b, ok := e.answers.Load(r); ok {
		return b.([]byte)
	}
	b, _ := e.answers.LoadOrStore(r, returnPage(r))
	return b.([]byte)
}

// Drain makes every following response end its connection (Connection: close), so
// that keep-alive clients move to the new process without an idle connection ever
// being closed under a request in flight.
func (e *Engine) Drain() { e.draining.Store(true) }

// New returns an engine for st.
func New(st *proxy.State, events *slog.Logger) *Engine {
	if events == nil {
		events = slog.New(slog.DiscardHandler)
	}
	e := &Engine{st: st, events: events, pid: os.Getpid(), maxHdr: http1.DefaultMaxHeaders}
	if st != nil && st.Config != nil && st.Config.Global.TuneMaxHdr > 0 {
		e.maxHdr = st.Config.Global.TuneMaxHdr - 1
	}
	e.host, _ = os.Hostname()
	e.readers.New = func() any { return bufio.NewReaderSize(nil, bufSize) }
	e.writers.New = func() any { return bufio.NewWriterSize(nil, bufSize) }
	return e
}

// srvConn is a connection to a server with its buffers.
type srvConn struct {
	net.Conn
	br  *bufio.Reader
	bw  *bufio.Writer
	srv *proxy.Server

	rc      syscall.RawConn // nil when the connection is not a socket
	peekFn  func(fd uintptr) bool
	peekBuf [1]byte
	peekOK  bool
}

// idlePool keeps idle keep-alive connections to one server.
type idlePool struct {
	// mu guards conns.
	mu    sync.Mutex
	conns []*srvConn
}

func (e *Engine) pool(s *proxy.Server) *idlePool {
	if p, ok := e.pools.Load(s); ok {
		return p.(*idlePool)
	}
	p, _ := e.pools.LoadOrStore(s, &idlePool{})
	return p.(*idlePool)
}

// getIdle returns a live idle connection to s, or nil. A connection the server closed
// while idle is detected (a pending EOF) and dropped.
func (e *Engine) getIdle(s *proxy.Server) net.Conn {
	p := e.pool(s)
	for {
		p.mu.Lock()
		n := len(p.conns)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		sc := p.conns[n-1]
		p.conns = p.conns[:n-1]
		p.mu.Unlock()
		s.IdleConns.Add(-1)
		if sc.br.Buffered() == 0 && sc.alive() {
			return sc
		}
		e.closeConn(sc)
	}
}

// alive checks without blocking that the server has not closed the connection (or
// sent something unexpected) while it was idle: one non-blocking MSG_PEEK.
func (sc *srvConn) alive() bool {
	if sc.rc == nil {
		return true // not a socket (tests may use pipes)
	}
	sc.peekOK = false
	if err := sc.rc.Read(sc.peekFn); err != nil {
		return false
	}
	return sc.peekOK
}

// peek is the body of alive, bound once per connection so that a check allocates
// nothing: EAGAIN means nothing is pending, the connection is idle and open.
func (sc *srvConn) peek(fd uintptr) bool {
	_, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&sc.peekBuf[0])), 1,
		unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	sc.peekOK = errno == unix.EAGAIN
	return true
}

func (e *Engine) putIdle(sc *srvConn) {
	p := e.pool(sc.srv)
	p.mu.Lock()
	if len(p.conns) < maxIdlePerServer {
		p.conns = append(p.conns, sc)
		p.mu.Unlock()
		sc.srv.IdleConns.Add(1)
		return
	}
	p.mu.Unlock()
	e.closeConn(sc)
}

func (e *Engine) closeConn(sc *srvConn) {
	sc.Conn.Close()
	e.release(sc)
}

// release returns a server connection's buffers to the pools.
func (e *Engine) release(sc *srvConn) {
	if sc.br != nil {
		sc.br.Reset(nil)
		e.readers.Put(sc.br)
		sc.br = nil
	}
	if sc.bw != nil {
		sc.bw.Reset(nil)
		e.writers.Put(sc.bw)
		sc.bw = nil
	}
}

func (e *Engine) wrap(c net.Conn, s *proxy.Server) *srvConn {
	if sc, ok := c.(*srvConn); ok {
		return sc
	}
	br := e.readers.Get().(*bufio.Reader)
	br.Reset(c)
	bw := e.writers.Get().(*bufio.Writer)
	bw.Reset(c)
	sc := &srvConn{Conn: c, br: br, bw: bw, srv: s}
	var raw net.Conn = c
	if tc, ok := c.(*tls.Conn); ok {
		raw = tc.NetConn() // a pending TLS record (close_notify) also means "do not reuse"
	}
	if sys, ok := raw.(syscall.Conn); ok {
		if rc, err := sys.SyscallConn(); err == nil {
			sc.rc = rc
			sc.peekFn = sc.peek
		}
	}
	return sc
}

// Close closes every idle server connection.
func (e *Engine) Close() {
	e.pools.Range(func(k, v any) bool {
		p := v.(*idlePool)
		p.mu.Lock()
		conns := p.conns
		p.conns = nil
		p.mu.Unlock()
		for _, sc := range conns {
			sc.srv.IdleConns.Add(-1)
			e.closeConn(sc)
		}
		return true
	})
}

// session is one client connection.
type session struct {
	e   *Engine
	fe  *proxy.Frontend
	c   net.Conn
	br  *bufio.Reader
	bw  *bufio.Writer
	ctx context.Context
	// stream is this connection in `show sess`; nil when served outside an instance.
	stream *proxy.Stream
	be     *proxy.Backend // the backend of the request in flight, else nil
	srv    *proxy.Server  // its server once chosen, else nil

	src, dst netip.AddrPort
	req      http1.Request
	resp     http1.Response
	edits    []edit
	redits   []edit
	scratch  []byte
	logBuf   []byte
	sdBuf    []byte
	reqLine  []byte
	entry    logging.Entry
	requests int
	logged   bool // the request was logged already (option logasap)
	// uncounted makes the next answer count 0 bytes (%B, bout): an answer
	// HAProxy's H1 layer gives before any stream (see reject).
	uncounted bool
	reqBody   int64  // request body bytes relayed, set by the relay goroutine
	uid       []byte // the request's unique id (unique-id-format)

	// tlsState is the client's TLS state, read once (ssl.go).
	tlsState *tls.ConnectionState

	// Per-request state kept here so that a request allocates nothing.
	breq balance.Request
	cur  *srvConn // the server connection of the request in flight
	// inflight is cur for the hard-stop callback, which runs on another goroutine.
	inflight atomic.Pointer[srvConn]
	bodyDone chan error // the request-body relay's result (capacity 1)
	reqTick  func()     // s.tickRequest, bound once
	respTick func()     // s.tickResponse, bound once

	// smp evaluates samples (ACLs, rules, templates) for this session; vars holds
	// its variables; hasResp is set once the response head is parsed.
	smp     sample.Ctx
	vars    sample.Vars
	hasResp bool
	arena   []byte // header values computed by rules for the request in flight
	// reqCopy and resCopy make the fetches read logReq and logRes, copies that
	// outlive the buffers of the request and response heads: the request's once its
	// body went through the buffer, both while the log line is written.
	reqCopy, resCopy bool
	logReq           http1.Request
	logRes           http1.Response
	logLevel         int // set-log-level: -2 = unset, -1 = silent
	// reqCaps and resCaps are the frontend's capture slots for this request.
	reqCaps, resCaps [][]byte
	resCaptured      bool
	compAlgo         string // the compression chosen for the request, "" = none
	// reqView and resView show the heads with the rules' header edits to the
	// fetches; hdrGen changes whenever rules rewrite header values in place.
	reqView, resView headView
	hdrGen           uint64
}

// edit is a header change decided by http-request/http-response rules.
type edit struct {
	del   bool   // remove existing headers of that name
	name  string // header name
	value []byte // value to add (nil for del-header)
	add   bool
}

// Serve handles one client connection until it closes.
func (e *Engine) Serve(ctx context.Context, c net.Conn, fe *proxy.Frontend) {
	s := &session{e: e, fe: fe, c: c, ctx: ctx, bodyDone: make(chan error, 1), stream: proxy.StreamOf(ctx)}
	s.reqTick, s.respTick = s.tickRequest, s.tickResponse
	s.req.MaxHeaders, s.resp.MaxHeaders = max(e.maxHdr, 1), max(e.maxHdr, 1)
	if fe.State != nil {
		s.vars.Proc = fe.State.Vars
	}
	s.br = e.readers.Get().(*bufio.Reader)
	s.br.Reset(c)
	s.bw = e.writers.Get().(*bufio.Writer)
	s.bw.Reset(c)
	s.src = addrPort(c.RemoteAddr())
	s.dst = addrPort(c.LocalAddr())
	stop := context.AfterFunc(ctx, func() {
		c.Close()
		if sc := s.inflight.Load(); sc != nil {
			sc.Conn.Close()
		}
	})
	defer func() {
		stop()
		if r := recover(); r != nil {
			e.events.Error(fmt.Sprintf("frontend %s: request handler failed: %v", fe.Name, r))
		}
		c.Close()
		s.br.Reset(nil)
		e.readers.Put(s.br)
		s.bw.Reset(nil)
		e.writers.Put(s.bw)
	}()
	if fe.Cfg != nil && len(fe.Cfg.TCPRequest) > 0 {
		s.smp.Reset(s)
		if !connectionRules(&s.smp, fe.Cfg, &fe.Counters) {
			return
		}
	}
	if fe.Log != nil && !fe.Cfg.Options.HTTPLog && !fe.Cfg.Options.TCPLog && fe.Cfg.Formats.Log == nil {
		fe.Log.Log(6, logging.AppendConnectLog(nil, s.src, s.dst, fe.Name, true))
	}
	for s.serveOne() {
		s.requests++
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	return netip.AddrPort{}
}

// headTimeout is how long the next request head may take to arrive.
func (s *session) headTimeout() time.Duration {
	t := s.fe.Cfg.Timeouts
	if s.requests > 0 && t.HTTPKeepAlive > 0 {
		return t.HTTPKeepAlive
	}
	if t.HTTPRequest > 0 {
		return t.HTTPRequest
	}
	return t.Client
}

func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// serveOne reads and answers one request; it reports whether to read another.
func (s *session) serveOne() bool {
	fe := s.fe
	s.entry.Frontend = "" // a new exchange: reject() starts a fresh log entry
	s.be, s.srv, s.logged, s.reqBody, s.hasResp, s.reqCopy, s.logLevel = nil, nil, false, 0, false, false, -2
	s.vars.EndTxn()
	s.c.SetReadDeadline(deadline(s.headTimeout()))
	begin := time.Now()
	head, err := http1.ReadHead(s.br)
	start := time.Now()
	if err != nil {
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			if s.br.Buffered() > 0 || s.requests == 0 {
				s.reject(page408Parse, 408, [2]byte{'c', 'R'})
			}
		case errors.Is(err, http1.ErrHeadTooLarge):
			buf, _ := s.br.Peek(s.br.Buffered())
			s.captureRequest(buf, len(buf))
			s.reject(page400Parse, 400, [2]byte{'C', 'R'})
		case errors.Is(err, io.ErrUnexpectedEOF):
			s.clientClosed(begin, false)
		case s.requests == 0:
			s.clientClosed(begin, true)
		}
		return false
	}
	e := &s.entry
	*e = logging.Entry{ClientIP: s.src.Addr(), ClientPort: int(s.src.Port()), Accept: start, Request: start,
		Frontend: fe.Name, TR: 0, Tw: -1, Tc: -1, Tr: -1, Ta: -1, Tt: -1, FrontendAddr: s.dst,
		ReqCounter: fe.State.ReqCounter.Add(1) - 1, PID: s.e.pid, Host: s.e.host, BytesIn: int64(len(head))}
	s.tlsEntry(e)
	s.reqLine = s.reqLine[:0]
	if err := http1.ParseRequest(head, &s.req); err != nil {
		fe.Counters.BytesIn.Add(uint64(len(head))) // HAProxy counts them in bin too
		s.captureRequest(head, http1.ErrorPos(err))
		s.reqLine = append(s.reqLine, "<BADREQ>"...)
		s.reject(page400Parse, 400, [2]byte{'P', 'R'})
		return false
	}
	fe.Counters.Requests.Add(1)
	fe.Counters.ReqRate.Add(start.Unix())
	fe.Counters.BytesIn.Add(uint64(len(head)))
	req := &s.req
	s.smp.Reset(s)
	s.hdrGen++ // a new head: every view is stale
	s.arena = s.arena[:0]
	e.Smp = &s.smp
	s.startCaptures()
	if s.e.draining.Load() {
		req.ConnClose = true
	}
	s.reqLine = appendRequestLine(s.reqLine[:0], req)
	s.edits, s.redits = s.edits[:0], s.redits[:0]
	if f := fe.Cfg.Formats.UniqueID; f != nil {
		e.RequestLine = bstr(s.reqLine)
		s.uid = f.Append(s.uid[:0], e)
		e.RequestLine = ""
		e.UniqueID = s.uid
		if h := fe.Cfg.Formats.UniqueIDHeader; h != "" {
			s.edits = append(s.edits, edit{add: true, name: h, value: s.uid})
		}
	}

	// The monitor URI, the frontend's rules, then routing, then the backend's rules.
	if done, keep := s.monitor(head); done {
		return keep
	}
	if done, keep := s.applyRules(fe.Cfg, head); done {
		return keep
	}
	if done, keep := s.stats(fe.Cfg, head); done {
		return keep
	}
	b := fe.Route(&s.smp)
	if b == nil {
		// HAProxy answers 503 and keeps the connection when the body could be skipped.
		return s.fail(page503, 503, [2]byte{'S', 'C'}, s.skipBody(head))
	}
	e.Backend = b.Name
	s.be = b
	if b.Cfg != fe.Cfg {
		if done, keep := s.applyRules(b.Cfg, head); done {
			return keep
		}
		if done, keep := s.stats(b.Cfg, head); done {
			return keep
		}
	}
	s.prepareCompression(fe.Cfg, b.Cfg)
	return s.forward(b, head, start)
}

// appendRequestLine keeps a copy of the request line for the log: the head's buffer
// is reused once the body is read.
func appendRequestLine(b []byte, r *http1.Request) []byte {
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = append(b, r.Target...)
	if r.Minor == 0 {
		return append(b, " HTTP/1.0"...)
	}
	return append(b, " HTTP/1.1"...)
}

// applyRules runs the tcp-request content, http-request and legacy redirect rules of
// p. done reports that a rule answered the request; keep then says whether the
// connection stays open.
func (s *session) applyRules(p *config.Proxy, head []byte) (done, keep bool) {
	if !runTCPRules(&s.smp, p.TCPRequest, "content") {
		s.fe.Counters.Denied.Add(1)
		s.entry.Term = [2]byte{'P', 'R'}
		return true, false
	}
	for _, rules := range [2][]config.HTTPRule{p.HTTPRequest, p.Redirects} {
		for i := range rules {
			r := &rules[i]
			if r.Cond != nil && !r.Cond.Eval(&s.smp) {
				continue
			}
			act := requestActions[r.Action]
			if act == nil {
				continue
			}
			switch res, keep := act(s, p, r, head); res {
			case ruleAnswered:
				return true, keep
			case ruleStop:
				return false, false
			}
		}
	}
	return false, false
}

// intercepted counts a request the proxy answers itself by a rule of p (HAProxy's
// intercepted, on the frontend); answered in a backend's section, it also counts as
// the backend's session and request, as HAProxy's stream reached the backend.
func (s *session) intercepted(p *config.Proxy) {
	s.fe.Counters.Intercepted.Add(1)
	s.backendAnswers(p)
}

// backendAnswers counts a request answered in backend p's section, without a server.
func (s *session) backendAnswers(p *config.Proxy) {
	if b := s.be; b != nil && b.Cfg == p && p != s.fe.Cfg {
		b.Counters.TotalConns.Add(1)
		b.Counters.Requests.Add(1)
	}
}

// skipBody consumes the request head and body of a request answered by the proxy
// itself, so that the connection can carry the next request. It reports false when
// the body cannot be skipped (then the connection closes).
func (s *session) skipBody(head []byte) bool {
	req := &s.req
	s.br.Discard(len(head))
	switch {
	case req.Chunked:
		s.c.SetReadDeadline(deadline(s.fe.Cfg.Timeouts.Client))
		_, err := http1.CopyChunked(nil, s.br, false, nil)
		return err == nil
	case req.ContentLength > 0:
		if req.ContentLength > 1<<20 {
			return false
		}
		s.c.SetReadDeadline(deadline(s.fe.Cfg.Timeouts.Client))
		_, err := s.br.Discard(int(req.ContentLength))
		return err == nil
	}
	return true
}

// expand evaluates a header value for this request into the session's arena: the
// slice stays valid until the next request.
func (s *session) expand(f *logformat.Format) []byte {
	start := len(s.arena)
	s.entry.Smp = &s.smp
	s.entry.RequestLine = bstr(s.reqLine)
	s.arena = f.Append(s.arena, &s.entry)
	s.entry.RequestLine = ""
	return s.arena[start:len(s.arena):len(s.arena)]
}

// captureRequest keeps an invalid request for `show errors`.
func (s *session) captureRequest(buf []byte, pos int) {
	s.fe.State.CaptureError(proxy.ErrorCapture{When: time.Now(), Frontend: s.fe, Src: s.src, Buf: buf, Pos: pos})
}

// target records where the request goes: for `show sess`, and for counting the
// answers the proxy itself gives on the backend's behalf (502, 503, 504).
func (s *session) target(b *proxy.Backend, srv *proxy.Server) {
	s.be, s.srv = b, srv
	if s.stream != nil {
		s.stream.SetTarget(b, srv)
	}
}

// countInvalid counts an invalid or timed-out request: HAProxy counts it in req_tot
// and its rate as well as in ereq.
func (s *session) countInvalid(now time.Time) {
	s.fe.Counters.Requests.Add(1)
	s.fe.Counters.ReqRate.Add(now.Unix())
	s.fe.Counters.ReqErrors.Add(1)
}

// reject answers an invalid or timed-out request and closes.
// clientClosed ends a connection whose client closed before a whole request came
// (null: before sending anything). HAProxy counts an invalid request answered 400
// (option http-ignore-probes aside), sends nothing, and logs it as
// `fe/<NOSRV> -1/-1/-1/-1/Tt 400 0 ... CR-- "<BADREQ>"` (option dontlognull keeps
// a null connection out of the log).
func (s *session) clientClosed(begin time.Time, null bool) {
	now := time.Now()
	s.countInvalid(now)
	s.fe.Counters.AddResponse(400)
	s.entry = logging.Entry{ClientIP: s.src.Addr(), ClientPort: int(s.src.Port()), Accept: begin,
		Request: begin, Frontend: s.fe.Name, TR: -1, Tw: -1, Tc: -1, Tr: -1, Ta: -1, Tt: -1,
		FrontendAddr: s.dst, PID: s.e.pid, Host: s.e.host, Status: 400, Term: [2]byte{'C', 'R'}}
	s.reqLine = append(s.reqLine[:0], "<BADREQ>"...)
	if !(null && s.fe.Cfg.Options.DontLogNull) {
		s.log()
	}
}

// reject answers a request that cannot be parsed and closes. In HAProxy its H1 layer
// answers these itself, before any stream: the log shows no %TR and %B 0, and bout
// does not count the page.
func (s *session) reject(page []byte, status int, term [2]byte) {
	now := time.Now()
	s.countInvalid(now)
	if s.entry.Frontend == "" {
		s.entry = logging.Entry{ClientIP: s.src.Addr(), ClientPort: int(s.src.Port()), Accept: now,
			Request: now, Frontend: s.fe.Name, TR: -1, Tw: -1, Tc: -1, Tr: -1, Ta: -1, Tt: -1,
			FrontendAddr: s.dst, PID: s.e.pid, Host: s.e.host}
		s.tlsEntry(&s.entry)
		s.reqLine = append(s.reqLine[:0], "<BADREQ>"...)
	}
	s.entry.TR = -1
	s.uncounted = true
	s.fail(page, status, term, false)
}

// errorFile returns the `errorfile` for status of the request's backend, else of the
// frontend (HAProxy's order), or nil.
func (s *session) errorFile(status int) *config.ErrorFile {
	if s.be != nil {
		if f := s.be.Cfg.ErrorFiles[status]; f != nil {
			return f
		}
	}
	return s.fe.Cfg.ErrorFiles[status]
}

// fail answers an error: the configured error file for status, sent verbatim and
// followed by a close (its framing is the file's business), else the built-in page.
func (s *session) fail(builtin []byte, status int, term [2]byte, keep bool) bool {
	if f := s.errorFile(status); f != nil {
		if f.Made {
			return s.answer(f.Raw, status, term, keep)
		}
		return s.write(f.Raw, status, term, false, true)
	}
	return s.answer(builtin, status, term, keep)
}

// connClose is the header write inserts in a page when the connection closes after it.
const connClose = "connection: close\r\n"

// answer writes a response generated by the proxy; keep says whether the connection
// may carry another request (the client's wishes permitting).
func (s *session) answer(page []byte, status int, term [2]byte, keep bool) bool {
	return s.write(page, status, term, keep, false)
}

// write sends page; verbatim pages (error files) are sent as they are.
func (s *session) write(page []byte, status int, term [2]byte, keep, verbatim bool) bool {
	s.c.SetWriteDeadline(deadline(s.fe.Cfg.Timeouts.Client))
	keep = keep && s.req.KeepAlive() && !s.fe.Cfg.Options.HTTPClose
	if !keep && !verbatim && !hasClose(page) {
		// Insert Connection: close before the end of the head.
		if i := indexHeadEnd(page); i > 0 {
			s.bw.Write(page[:i+2])
			s.bw.WriteString(connClose)
			s.bw.Write(page[i+2:])
		} else {
			s.bw.Write(page)
		}
	} else {
		s.bw.Write(page)
	}
	n := countedSize(page) // as HAProxy counts it, not with the inserted header
	if s.uncounted {
		n, s.uncounted = 0, false
	}
	err := s.bw.Flush()
	s.fe.Counters.BytesOut.Add(uint64(n))
	s.fe.Counters.AddResponse(status)
	// An answer given on a backend's behalf (502, 503, 504) counts there too, and
	// its bytes on the server that caused it, as in HAProxy.
	if s.be != nil {
		s.be.Counters.AddResponse(status)
		s.be.Counters.BytesOut.Add(uint64(n))
	}
	if s.srv != nil {
		s.srv.Counters.BytesOut.Add(uint64(n))
	}
	e := &s.entry
	e.Status = status
	e.Term = term
	e.Bytes = int64(n)
	s.log()
	if !keep {
		s.lingerClose()
	}
	return keep && err == nil
}

func hasClose(page []byte) bool {
	end := indexHeadEnd(page)
	if end < 0 {
		return false
	}
	for _, h := range [][]byte{[]byte("\nconnection: close"), []byte("\nConnection: close")} {
		if idx := indexBytes(page[:end+2], h); idx >= 0 {
			return true
		}
	}
	return false
}

func indexHeadEnd(b []byte) int {
	for i := 0; i+3 < len(b); i++ {
		if b[i] == '\r' && b[i+1] == '\n' && b[i+2] == '\r' && b[i+3] == '\n' {
			return i
		}
	}
	return -1
}

func indexBytes(b, sub []byte) int {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return i
		}
	}
	return -1
}

// lingerClose half-closes and drains briefly, so that the client reads the answer
// instead of a reset caused by unread request bytes.
func (s *session) lingerClose() {
	if tc, ok := s.c.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
		s.c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		io.CopyN(io.Discard, s.c, 256<<10)
	}
}

func (s *session) log() {
	fe := s.fe
	format := fe.Cfg.Formats.Log
	if fe.Log == nil || s.logged || (format == nil && !fe.Cfg.Options.HTTPLog) {
		return
	}
	e := &s.entry
	e.Tt = time.Since(e.Accept)
	if e.Ta < 0 {
		e.Ta = e.Tt
	}
	e.ActConn = int(fe.State.ActConns.Load())
	e.FeConn = int(fe.Counters.CurConns.Load())
	// %bc and %sc as HAProxy reads them when it logs, at the end of the stream, once
	// its server slot is given back: this request's own slot does not count.
	if b := s.be; b != nil {
		held := 0
		if s.cur != nil {
			held = 1
		}
		e.BeConn = int(b.Counters.CurConns.Load()) - held
		if s.srv != nil {
			e.SrvConn = s.srv.Conns() - held
		}
	}
	if e.RequestLine == "" {
		e.RequestLine = bstr(s.reqLine)
	}
	s.copyRequest()
	s.logRes.Status, s.logRes.Minor, s.logRes.Headers = s.resp.Status, s.resp.Minor, nil
	s.resCopy = true
	defer func() { s.resCopy = false }()
	if format != nil {
		s.logBuf = format.Append(s.logBuf[:0], e)
	} else {
		s.logBuf = logging.AppendHTTPLog(s.logBuf[:0], e)
	}
	e.RequestLine = ""
	level := 6
	if fe.Cfg.Options.LogSeparateErrors && logging.IsError(e, true) {
		level = 3
	}
	switch {
	case s.logLevel == -1:
		return // set-log-level silent
	case s.logLevel >= 0:
		level = s.logLevel
	}
	if sd := fe.Cfg.Formats.SD; sd != nil {
		if l, ok := fe.Log.(logging.SDLogger); ok {
			s.sdBuf = sd.Append(s.sdBuf[:0], e)
			l.LogSD(level, s.logBuf, s.sdBuf)
			return
		}
	}
	fe.Log.Log(level, s.logBuf)
}

// copyRequest points the request fetches at a copy of the request line (kept for
// the log), which stays valid once the head's buffer is reused by the body.
func (s *session) copyRequest() {
	line := s.reqLine
	r := &s.logReq
	r.Method, r.Target, r.Headers, r.Minor = nil, nil, nil, s.req.Minor
	if i := bytes.IndexByte(line, ' '); i > 0 {
		r.Method = line[:i]
		rest := line[i+1:]
		if j := bytes.LastIndexByte(rest, ' '); j >= 0 {
			r.Target = rest[:j]
		}
	}
	s.reqCopy = true
}
