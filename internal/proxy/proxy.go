// Package proxy holds the live state built from a configuration: frontends with their
// routing rules, backends with their servers, balancing and queues. The instance package
// builds a State with Build, and the tcp and http engines use it per connection: Route
// to choose a backend, Connect to get a server connection, Release when done.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"hitless/internal/acl"
	"hitless/internal/balance"
	"hitless/internal/config"
	"hitless/internal/sample"
)

// Errors returned by Acquire and Connect. The engines map them to 503 (or a closed
// connection in mode tcp) and to the termination state of the access log.
var (
	ErrNoServer     = errors.New("no server available")
	ErrQueueTimeout = errors.New("queue timeout")
	ErrQueueFull    = errors.New("queue full")
	ErrConnect      = errors.New("cannot connect to server")
)

// AccessLogger receives finished access log lines; logging.Logger implements it.
type AccessLogger interface {
	// Log sends one message at a syslog level (0 emerg .. 7 debug). It must not block.
	Log(level int, msg []byte)
}

// Counters are the per-proxy and per-server figures kept on the hot path with atomics
// (no lock): `show stat` and `show info` read them.
type Counters struct {
	CurConns   atomic.Int64
	MaxConns   atomic.Int64 // smax: highest CurConns since start or `clear counters`
	TotalConns atomic.Uint64
	Requests   atomic.Uint64
	BytesIn    atomic.Uint64 // from clients
	BytesOut   atomic.Uint64 // to clients
	// Responses counts HTTP responses by class: 1xx..5xx, then other (hrsp_*).
	Responses  [6]atomic.Uint64
	ReqErrors  atomic.Uint64 // ereq: invalid requests (frontend)
	ConnErrors atomic.Uint64 // econ: failed connections to a server
	RespErrors atomic.Uint64 // eresp: invalid or missing responses from a server
	Denied     atomic.Uint64 // dreq: requests denied by http-request rules
	Retries    atomic.Uint64 // wretr: connection attempts retried
	Redispatch atomic.Uint64 // wredis: retries sent to another server
	CliAborts  atomic.Uint64 // cli_abrt: transfers the client aborted
	SrvAborts  atomic.Uint64 // srv_abrt: transfers the server aborted
	Connects   atomic.Uint64 // connect: connection attempts to servers
	LBTotal    atomic.Uint64 // lbtot: times the balancing algorithm picked a server
	Reuses     atomic.Uint64 // reuse: idle server connections reused
	// HandshakeErrors counts connections dropped before they were served: a
	// missing, late or malformed PROXY header on an accept-proxy listener.
	HandshakeErrors atomic.Uint64
	// Intercepted counts the requests a frontend answered itself (http-request
	// return, use-service).
	Intercepted atomic.Uint64
	// FailedRewrites counts rewrites refused because their result was not a valid
	// request line or field (wrew).
	FailedRewrites atomic.Uint64
	DeniedConn     atomic.Uint64 // dcon: connections rejected by tcp-request connection rules
	DeniedSess     atomic.Uint64 // dses: sessions rejected by tcp-request session rules
	// CompIn, CompOut, CompByp and CompRsp are the compression figures: bytes into and
	// out of the compressor, bytes of responses not compressed while compression is
	// configured, and responses compressed.
	CompIn, CompOut, CompByp, CompRsp atomic.Uint64
	LastSess                          atomic.Int64 // unix time of the last connection to a server (lastsess)
	ConnRate                          Rate         // new connections (frontend) or sessions (backend, server) per second
	ReqRate                           Rate         // HTTP requests per second (frontend)
	// Times are the sliding averages and maxima of a backend's or server's queue,
	// connect, response and total times (qtime, ctime, rtime, ttime and their _max).
	Times [4]Timing
	// timed counts the samples of Times, for the averaging window.
	timed atomic.Uint64
}

// The Times of Counters.
const (
	TimeQueue = iota
	TimeConnect
	TimeResponse
	TimeTotal
)

// timeSamples is HAProxy's TIME_STATS_SAMPLES: the window of the time averages.
const timeSamples = 512

// Timing is a sliding average in milliseconds over the last timeSamples values, kept
// as HAProxy's swrate does (sum -= sum/n; sum += v), and the highest value.
type Timing struct {
	sum atomic.Uint64
	max atomic.Uint64
}

func (t *Timing) add(v, n uint64) {
	for {
		old := t.sum.Load()
		if t.sum.CompareAndSwap(old, old-(old+n-1)/n+v) {
			break
		}
	}
	for m := t.max.Load(); v > m && !t.max.CompareAndSwap(m, v); m = t.max.Load() {
	}
}

// AddTimes records one finished session's queue, connect, response and total times;
// a negative one (not measured, as the response time in mode tcp) counts as 0.
func (c *Counters) AddTimes(q, conn, resp, total time.Duration) {
	n := min(c.timed.Add(1), timeSamples)
	for i, d := range [4]time.Duration{q, conn, resp, total} {
		c.Times[i].add(uint64(max(d, 0).Milliseconds()), n)
	}
}

// Average returns the sliding average of Times[i] in milliseconds.
func (c *Counters) Average(i int) uint64 {
	n := min(c.timed.Load(), timeSamples)
	if n == 0 {
		return 0
	}
	return (c.Times[i].sum.Load() + n - 1) / n
}

// Max returns the highest value of Times[i] in milliseconds.
func (c *Counters) Max(i int) uint64 { return c.Times[i].max.Load() }

// AddConn counts a new connection at unix second now: current, maximum, total, rate.
func (c *Counters) AddConn(now int64) {
	n := c.CurConns.Add(1)
	for m := c.MaxConns.Load(); n > m && !c.MaxConns.CompareAndSwap(m, n); m = c.MaxConns.Load() {
	}
	c.TotalConns.Add(1)
	c.ConnRate.Add(now)
}

// AddAbort counts a transfer ended by the client (term 'C' or 'c') or the server.
func (c *Counters) AddAbort(term byte) {
	switch term {
	case 'C', 'c':
		c.CliAborts.Add(1)
	case 'S', 's':
		c.SrvAborts.Add(1)
	}
}

// AddResponse counts one HTTP response by its status class.
func (c *Counters) AddResponse(status int) {
	i := status/100 - 1
	if i < 0 || i > 4 {
		i = 5
	}
	c.Responses[i].Add(1)
}

// ClearMax resets the maxima (`clear counters`).
func (c *Counters) ClearMax() {
	c.MaxConns.Store(c.CurConns.Load())
	c.ConnRate.max.Store(0)
	c.ReqRate.max.Store(0)
	for i := range c.Times {
		c.Times[i].max.Store(0)
	}
}

// Clear zeroes every counter except the current connections (`clear counters all`).
func (c *Counters) Clear() {
	c.ClearMax()
	for _, a := range []*atomic.Uint64{&c.TotalConns, &c.Requests, &c.BytesIn, &c.BytesOut, &c.ReqErrors,
		&c.ConnErrors, &c.RespErrors, &c.Denied, &c.Retries, &c.Redispatch, &c.CliAborts, &c.SrvAborts, &c.Connects, &c.LBTotal, &c.Reuses, &c.Intercepted,
		&c.FailedRewrites, &c.DeniedConn, &c.DeniedSess, &c.CompIn, &c.CompOut, &c.CompByp, &c.CompRsp, &c.Responses[0], &c.Responses[1], &c.Responses[2],
		&c.Responses[3], &c.Responses[4], &c.Responses[5]} {
		a.Store(0)
	}
	c.LastSess.Store(0)
	c.timed.Store(0)
	for i := range c.Times {
		c.Times[i].sum.Store(0)
	}
}

// Rate counts events per second as HAProxy's freq counters do: the count of the
// current second, the one before, and the highest one-second count seen.
type Rate struct {
	cur  atomic.Uint64 // unix second << 32 | count in that second
	prev atomic.Uint32 // count of the second before cur's
	max  atomic.Uint32
}

// Add counts one event at unix second now.
func (r *Rate) Add(now int64) {
	for {
		old := r.cur.Load()
		sec, n := int64(old>>32), uint32(old)
		var next uint64
		if sec == now&0xffffffff {
			next = old + 1
			n++
		} else {
			next, n = uint64(now)<<32|1, 1
		}
		if !r.cur.CompareAndSwap(old, next) {
			continue
		}
		if sec != now&0xffffffff {
			var p uint32
			if sec == (now-1)&0xffffffff {
				p = uint32(old)
			}
			r.prev.Store(p)
		}
		for m := r.max.Load(); n > m && !r.max.CompareAndSwap(m, n); m = r.max.Load() {
		}
		return
	}
}

// Per returns the events of the last second at time now: the current second's count
// plus the previous second's weighted by the part of it still inside the window, as
// HAProxy's read_freq_ctr does.
func (r *Rate) Per(now time.Time) uint64 {
	v := r.cur.Load()
	sec, n := int64(v>>32), uint64(uint32(v))
	unix := now.Unix() & 0xffffffff
	switch {
	case sec == unix:
		rest := uint64(time.Second - time.Duration(now.Nanosecond()))
		return n + uint64(r.prev.Load())*rest/uint64(time.Second)
	case sec == unix-1:
		rest := uint64(time.Second - time.Duration(now.Nanosecond()))
		return n * rest / uint64(time.Second)
	}
	return 0
}

// Max is the highest one-second count.
func (r *Rate) Max() uint64 { return uint64(r.max.Load()) }

// State is everything one configuration runs with. It is immutable once built, except
// for the atomic fields of its frontends, backends and servers.
type State struct {
	Config    *config.Config
	Frontends []*Frontend
	Backends  map[string]*Backend
	// ActConns counts the connections of the whole process (%ac in logs).
	ActConns atomic.Int64
	// ConnRate counts the connections the process accepts (ConnRate in `show info`).
	ConnRate Rate
	// Streams are the connections being served (`show sess`).
	Streams Streams
	// ErrorEvents counts the invalid messages captured (`show errors`).
	ErrorEvents atomic.Uint64
	// Vars holds the process-wide variables (scope proc, `set-var` in global).
	Vars *sample.Store
	// ReqCounter counts HTTP requests and TCP sessions (%rt in log formats).
	ReqCounter atomic.Uint64
	// IDs are the proxies' numeric ids (`iid`, `be_id`), numbered once here.
	IDs map[string]int
}

// Frontend is a frontend or the frontend half of a listen section.
type Frontend struct {
	Name     string
	ID       int // HAProxy's proxy id (fe_id, iid)
	Cfg      *config.Proxy
	State    *State
	Default  *Backend // nil when none
	Rules    []Rule   // use_backend rules in order
	Log      AccessLogger
	Counters Counters
	// LastError is the last invalid request received (`show errors`).
	LastError atomic.Pointer[ErrorCapture]
}

// Rule is one compiled use_backend line.
type Rule struct {
	Backend *Backend
	Cond    *acl.Cond // nil = always
}

// Route returns the backend for a connection or request: the first use_backend rule
// whose condition holds, else the default backend; nil when there is none.
func (f *Frontend) Route(s *sample.Ctx) *Backend {
	for i := range f.Rules {
		r := &f.Rules[i]
		if r.Cond == nil || r.Cond.Eval(s) {
			return r.Backend
		}
	}
	return f.Default
}

// Backend is a backend or the backend half of a listen section.
type Backend struct {
	Name    string
	ID      int // HAProxy's proxy id (be_id, iid)
	Cfg     *config.Proxy
	Servers []*Server
	// Persist runs the backend's stick rules (nil when none); set once before
	// serving.
	Persist  Persister
	Log      AccessLogger // the proxy's loggers, for server state changes; may be nil
	Events   *slog.Logger
	Counters Counters
	// LastError is the last invalid response received from a server (`show errors`).
	LastError atomic.Pointer[ErrorCapture]
	// maxQueued is the highest queue length seen (qmax).
	maxQueued atomic.Int64

	// downMu guards down, downs, downAt and downFor: whether no server is usable,
	// how often that happened (chkdown), and the time spent so (downtime).
	downMu  sync.Mutex
	down    bool
	downs   uint64
	downAt  time.Time
	downFor time.Duration
	changed time.Time // last UP/DOWN change of the backend (lastchg)

	active, backup tier
	algo, balgo    balance.Algorithm
	useServers     []useServer // `use-server` rules, resolved
	retries        int
	redispatch     bool
	connectTimeout time.Duration
	queueTimeout   time.Duration
	dialer         dialer
	streams        *Streams // the State's, for on-marked-down/up (set by Build)
	fullconn       int      // `fullconn`, or HAProxy's default (see Build)
	maxQueue       int      // the sum of the servers' maxqueue, 0 when one has none

	// mu guards waiters. queued mirrors len(waiters) for the lock-free check in Release.
	mu      sync.Mutex
	waiters []chan struct{}
	queued  atomic.Int64
}

// Server is one server of a backend with its live state.
type Server struct {
	Name    string
	ID      int // `id`, else the next free number in order (HAProxy's puid)
	Backend *Backend
	Cfg     *config.Server

	addr    atomic.Pointer[ServerAddr] // `set server addr` replaces it
	chkFail atomic.Uint64              // failed checks (chkfail)
	chkDown atomic.Uint64              // transitions to STOPPED (chkdown)
	downFor atomic.Int64               // seconds spent STOPPED before the current state
	downAt  atomic.Int64               // unix time of the last transition to STOPPED

	// state is the admin flags, operational state and health counter in one word,
	// changed only by compare-and-swap (see serverstate.go).
	state    atomic.Uint32
	weight   atomic.Int32
	upAt     atomic.Int64 // unix nanoseconds of the last DOWN to UP change (slowstart)
	conns    atomic.Int64
	changed  atomic.Int64 // unix time of the last state change
	maxconn  atomic.Int64 // 0 = unlimited; `maxconn`, or `set maxconn server`
	noChecks atomic.Bool  // `disable health`
	checking atomic.Bool  // a health check is running
	// obsErrs counts consecutive failed connections for `observe layer4`; at
	// `error-limit` a signal goes to Observed.
	obsErrs atomic.Int64
	// Observed receives a signal when `observe layer4` saw error-limit consecutive
	// failed connections; the health checker applies `on-error`. Nil without observe.
	Observed chan struct{}
	// IdleConns counts the idle keep-alive connections to the server that the http
	// engine keeps for reuse (idle_conn_cur).
	IdleConns atomic.Int64
	check     atomic.Value // last health check outcome (CheckInfo)
	agent     atomic.Value // last agent check outcome (CheckInfo)
	// trackers are the servers that `track` this one: they follow its operational
	// state (set once by Build).
	trackers []*Server
	Counters Counters
}

// CheckInfo is the last health check outcome of a server, for the runtime API.
type CheckInfo struct {
	Status   string // L4OK, L4CON, ...
	OK       bool
	Desc     string
	Info     string        // the detail: "Connection refused", an HTTP reason
	Code     int           // HTTP status of a layer 7 check, status-code, ...
	HasCode  bool          // the status shows its code (L7OK, L7OKC, L7STS)
	Duration time.Duration // how long the check took
	At       time.Time     // when it ended
}

// ServerAddr is where a server is: an IP (or the configured host name) and a port.
type ServerAddr struct {
	Host     string
	Port     int
	HostPort string // host:port, ready for net.Dial
}

func newServerAddr(host string, port int) *ServerAddr {
	return &ServerAddr{Host: host, Port: port, HostPort: net.JoinHostPort(host, strconv.Itoa(port))}
}

// Addr returns host:port, ready for net.Dial.
func (s *Server) Addr() string { return s.addr.Load().HostPort }

// Address returns the server's current host and port.
func (s *Server) Address() ServerAddr { return *s.addr.Load() }

// SetAddress moves the server (`set server addr`): new connections and checks go there.
func (s *Server) SetAddress(host string, port int) { s.addr.Store(newServerAddr(host, port)) }

// ObserveAgent records one agent check outcome, for show stat's agent columns.
func (s *Server) ObserveAgent(c CheckInfo) { s.agent.Store(c) }

// Agent returns the last agent check outcome (zero before the first) and whether the
// agent holds the server DOWN and asked for its drain (both in the state word).
func (s *Server) Agent() (c CheckInfo, down, drain bool) {
	c, _ = s.agent.Load().(CheckInfo)
	v := srvState(s.state.Load())
	return c, v&srvAgentDown != 0, v.drain() && v&srvAgentDrain != 0
}

// SetChecking records that a health check started (true) or ended.
func (s *Server) SetChecking(on bool) { s.checking.Store(on) }

// Checking reports whether a health check is running.
func (s *Server) Checking() bool { return s.checking.Load() }

// SetWeight changes the current weight (0-256).
func (s *Server) SetWeight(w int) {
	s.weight.Store(int32(w))
	s.Backend.wake()
	s.Backend.noteState()
}

// MaxConn is the server's connection limit (0 = unlimited).
func (s *Server) MaxConn() int { return int(s.maxconn.Load()) }

// SetMaxConn changes the connection limit; queued requests get a chance at once.
func (s *Server) SetMaxConn(n int) {
	s.maxconn.Store(int64(n))
	s.Backend.wake()
}

// ChecksEnabled reports whether health checks run (`enable health` / `disable health`).
func (s *Server) ChecksEnabled() bool { return !s.noChecks.Load() }

// SetChecksEnabled starts or stops the server's health checks; its state stays as it is.
func (s *Server) SetChecksEnabled(on bool) { s.noChecks.Store(!on) }

// LastChange is the time of the last state change.
func (s *Server) LastChange() time.Time { return time.Unix(s.changed.Load(), 0) }

func (s *Server) touch() { s.changed.Store(time.Now().Unix()) }

// Check returns the last health check outcome (zero before the first check).
func (s *Server) Check() CheckInfo {
	c, _ := s.check.Load().(CheckInfo)
	return c
}

// observeConn counts a connection's outcome for `observe layer4`: a run of
// error-limit (10 by default) failures signals Observed, without blocking.
func (s *Server) observeConn(ok bool) {
	if s.Observed == nil {
		return
	}
	if ok {
		s.obsErrs.Store(0)
		return
	}
	limit := int64(s.Cfg.ErrorLimit)
	if limit <= 0 {
		limit = 10
	}
	if s.obsErrs.Add(1) >= limit {
		s.obsErrs.Store(0)
		select {
		case s.Observed <- struct{}{}:
		default:
		}
	}
}

// EffectiveWeight is the weight the balancer uses: the current weight, ramped up
// from 1 over `slowstart` after the server came back from DOWN (not at start-up).
func (s *Server) EffectiveWeight() int {
	w := int(s.weight.Load())
	ss := s.Cfg.Slowstart
	if ss <= 0 || w == 0 {
		return w
	}
	up := s.upAt.Load()
	if up == 0 {
		return w
	}
	el := time.Duration(time.Now().UnixNano() - up)
	if el >= ss {
		return w
	}
	return max(1, int(int64(w)*int64(el)/int64(ss)))
}

// Weight is the server's current weight.
func (s *Server) Weight() int { return int(s.weight.Load()) }

// Conns is the number of connections currently held on the server.
func (s *Server) Conns() int { return int(s.conns.Load()) }

func (s *Server) full() bool {
	m := s.limit()
	return m > 0 && s.conns.Load() >= m
}

// limit is the server's connection limit now: maxconn, or with `minconn` HAProxy's
// dynamic limit, from minconn up to maxconn as the backend's load approaches
// `fullconn`.
func (s *Server) limit() int64 {
	m := s.maxconn.Load()
	lo := int64(s.Cfg.MinConn)
	if lo <= 0 || m <= 0 || lo >= m {
		return m
	}
	full := int64(s.Backend.fullconn)
	if full <= 0 {
		return m
	}
	dyn := m * s.Backend.Counters.CurConns.Load() / full
	return max(lo, min(dyn, m))
}

// Release gives back the slot taken by Connect, ends the backend's session and lets a
// queued request in.
func (s *Server) Release() {
	s.Backend.Counters.CurConns.Add(-1)
	s.release()
}

// release gives back a server slot taken by takeSlot.
func (s *Server) release() {
	s.conns.Add(-1)
	s.Counters.CurConns.Add(-1)
	if s.Backend.queued.Load() > 0 {
		s.Backend.wake()
	}
}

// Persister keeps clients on their server: Server returns the server (its id,
// Backend.ServerID) stored for the request, 0 when none; Store records the one chosen, with
// its name and address (a table's `srvkey` picks which one it keeps).
type Persister interface {
	Server(c *sample.Ctx) int
	Store(c *sample.Ctx, id int, name, addr string)
}

// ServerID is the id of s (HAProxy's puid: `id`, else numbered by position), 0 when
// s is not one of the backend's servers: what stick tables store as server_id.
func (b *Backend) ServerID(s *Server) int {
	if s != nil && s.Backend == b {
		return s.ID
	}
	return 0
}

// serverByID returns the server whose id is id, nil when none.
func (b *Backend) serverByID(id int) *Server {
	if id > 0 && id <= len(b.Servers) && b.Servers[id-1].ID == id {
		return b.Servers[id-1] // the usual case: ids by position
	}
	for _, s := range b.Servers {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// tier is a balance.Pool over the active or the backup servers.
type tier struct {
	servers []*Server
	avoid   *Server
	// firstOnly limits the tier to its first usable server (backups without
	// `option allbackups`).
	firstOnly bool
}

func (t *tier) Len() int { return len(t.servers) }

func (t *tier) Weight(i int) int {
	s := t.servers[i]
	if !s.Usable() || s.full() || s == t.avoid {
		return 0
	}
	if t.firstOnly {
		for _, o := range t.servers[:i] {
			if o.Usable() && o != t.avoid {
				return 0
			}
		}
	}
	return s.EffectiveWeight()
}

func (t *tier) Conns(i int) int { return int(t.servers[i].conns.Load()) }

// anyUsable reports whether a server of the tier is usable (maxconn ignored), and
// whether at least one of those is not full.
func (t *tier) anyUsable() (usable, free bool) {
	for _, s := range t.servers {
		if s.Usable() && s != t.avoid {
			usable = true
			if !s.full() {
				return true, true
			}
		}
	}
	return usable, false
}

// Acquire picks a server for one connection or request and takes a slot on it. When
// every usable server is at its maxconn it waits in the backend's queue, up to
// `timeout queue` (else `timeout connect`). avoid, when not nil, is skipped unless it is
// the only choice (redispatch). The caller must call release on the returned server.
func (b *Backend) acquire(ctx context.Context, r *balance.Request, avoid *Server) (*Server, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		s, waitable := b.tryAcquire(r, avoid)
		if s != nil {
			return s, nil
		}
		if !waitable {
			if avoid != nil {
				// The avoided server may be the only one left.
				avoid = nil
				continue
			}
			return nil, ErrNoServer
		}
		// With `maxqueue` on every server, the queue holds at most their sum.
		if b.maxQueue > 0 && b.queued.Load() >= int64(b.maxQueue) {
			return nil, ErrQueueFull
		}
		ch := make(chan struct{}, 1)
		b.mu.Lock()
		b.waiters = append(b.waiters, ch)
		if q := b.queued.Add(1); q > b.maxQueued.Load() {
			b.maxQueued.Store(q) // under mu: no other writer
		}
		b.mu.Unlock()
		// Re-check once queued: a slot may have been released in between.
		if s, _ := b.tryAcquire(r, avoid); s != nil {
			b.dequeue(ch)
			return s, nil
		}
		var expire <-chan time.Time
		if b.queueTimeout > 0 {
			if timer == nil {
				timer = time.NewTimer(b.queueTimeout)
			}
			expire = timer.C
		}
		select {
		case <-ch:
		case <-expire:
			b.dequeue(ch)
			return nil, ErrQueueTimeout
		case <-ctx.Done():
			b.dequeue(ch)
			return nil, ctx.Err()
		}
	}
}

// tryAcquire attempts one pick. waitable reports that usable servers exist but all are
// full, so queueing makes sense. An avoided server the algorithm picks is passed
// over and the algorithm asked again, so that, as in HAProxy's round robin, a
// redispatch takes the next server in turn and the turns go on from there.
func (b *Backend) tryAcquire(r *balance.Request, avoid *Server) (s *Server, waitable bool) {
	if r.Pin > 0 && avoid == nil {
		if s := b.serverByID(r.Pin); s != nil && b.takeSlot(s) {
			return s, false
		}
	}
	t, algo := &b.active, b.algo
	at := &tier{servers: b.active.servers, avoid: avoid}
	usable, free := at.anyUsable()
	if !usable {
		t, algo = &b.backup, b.balgo
		at = &tier{servers: b.backup.servers, avoid: avoid, firstOnly: b.backup.firstOnly}
		usable, free = at.anyUsable()
	}
	if !usable {
		return nil, false
	}
	if !free {
		return nil, true
	}
	for tries := 0; tries < 4+len(t.servers); tries++ {
		pool := t
		if tries >= len(t.servers) {
			// The algorithm keeps choosing the avoided server (a hash): choose
			// among the others.
			pool = at
		}
		i := algo.Pick(pool, r)
		if i < 0 {
			return nil, true
		}
		s := t.servers[i]
		if s == avoid {
			continue
		}
		if b.takeSlot(s) {
			s.Counters.LBTotal.Add(1)
			b.Counters.LBTotal.Add(1)
			return s, false
		}
	}
	return nil, true
}

// takeSlot takes a slot on s directly (a retry on the same server) when s is usable
// and below its maxconn.
func (b *Backend) takeSlot(s *Server) bool {
	if !s.Usable() {
		return false
	}
	n := s.conns.Add(1)
	if m := s.limit(); m > 0 && n > m {
		s.conns.Add(-1)
		return false
	}
	now := time.Now().Unix()
	s.Counters.AddConn(now)
	s.Counters.LastSess.Store(now)
	b.Counters.LastSess.Store(now)
	return true
}

func (b *Backend) dequeue(ch chan struct{}) {
	b.mu.Lock()
	for i, w := range b.waiters {
		if w == ch {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			b.queued.Add(-1)
			b.mu.Unlock()
			return
		}
	}
	b.mu.Unlock()
	// Already woken: pass the wake-up on so that it is not lost.
	select {
	case <-ch:
		b.wake()
	default:
	}
}

// wake lets the oldest queued request try again.
func (b *Backend) wake() {
	b.mu.Lock()
	if len(b.waiters) == 0 {
		b.mu.Unlock()
		return
	}
	ch := b.waiters[0]
	b.waiters = b.waiters[1:]
	b.queued.Add(-1)
	b.mu.Unlock()
	ch <- struct{}{}
}

// Queued is the number of requests waiting for a server.
func (b *Backend) Queued() int { return int(b.queued.Load()) }

// MaxQueued is the highest number of requests that waited at once (qmax).
func (b *Backend) MaxQueued() int { return int(b.maxQueued.Load()) }

// ClearMaxQueued resets MaxQueued to the current queue length (`clear counters`).
func (b *Backend) ClearMaxQueued() {
	b.mu.Lock()
	b.maxQueued.Store(b.queued.Load())
	b.mu.Unlock()
}

// noteState records whether the backend has a usable server, after a server changed,
// and reports whether it just lost its last one.
func (b *Backend) noteState() (lost bool) {
	act, bck := b.UsableServers()
	down := act+bck == 0 && len(b.Servers) > 0
	b.downMu.Lock()
	defer b.downMu.Unlock()
	if down == b.down {
		return false
	}
	now := time.Now()
	b.down, b.changed = down, now
	if down {
		b.downs++
		b.downAt = now
	} else {
		b.downFor += now.Sub(b.downAt)
	}
	return down
}

// Downs returns how often the backend lost its last usable server, the total time
// it had none, and when that last changed (start-up when it never did).
func (b *Backend) Downs() (count uint64, downtime time.Duration, changed time.Time) {
	b.downMu.Lock()
	defer b.downMu.Unlock()
	d := b.downFor
	if b.down {
		d += time.Since(b.downAt)
	}
	return b.downs, d, b.changed
}

// UsableServers counts the active and backup servers that can take traffic.
func (b *Backend) UsableServers() (active, backup int) {
	for _, s := range b.active.servers {
		if s.Usable() {
			active++
		}
	}
	for _, s := range b.backup.servers {
		if s.Usable() {
			backup++
		}
	}
	return active, backup
}

// Attempt is the outcome of Connect.
type Attempt struct {
	Conn    net.Conn
	Server  *Server
	Queue   time.Duration // time spent waiting for a server slot (%Tw)
	Connect time.Duration // time of the successful connect (%Tc)
	Retries int           // %rc
	// Redispatched is set when a retry went to another server (the '+' of %rc).
	Redispatched bool
	Reused       bool // the connection came from idle
}

// IdleFunc returns an idle connection to s that can be reused, or nil.
type IdleFunc func(s *Server) net.Conn

// Connect picks a server and connects to it as HAProxy 2.6 does: `timeout connect`
// per attempt, up to `retries` more attempts after a failure. A retry stays on the
// same server, except with `option redispatch` when the server is not running, on
// the last retry, or on every retry when the algorithm is round-robin-like and more
// than one active server is usable: then the algorithm picks another one. A failed
// connect (not a timeout) waits HAProxy's turn-around, min(timeout connect, 1s),
// before a retry on the same server (or when the algorithm is not round-robin-like,
// or fewer than two active servers are usable); a redispatch goes at once. idle,
// when not nil, is asked first for a reusable connection.
//
// Counters as HAProxy keeps them: the backend counts one session per Connect, a
// server one per attempt on it; lbtot counts the algorithm's picks, connect every
// connection attempt, wretr a retry on the same server, wredis one that went to
// another server (counted on the server it left), econ the final failure.
//
// On success the server's slot is held: the caller must call a.Server.Release. On
// failure the returned Attempt still carries the timings and the last server tried.
func (b *Backend) Connect(ctx context.Context, r *balance.Request, idle IdleFunc) (*Attempt, error) {
	return b.ConnectTo(ctx, r, idle, nil, false)
}

// ConnectTo is Connect that tries want first (a use-server rule): when want is usable
// (or, with force, merely not in maintenance) and below its maxconn; else the
// balancing algorithm picks as usual.
func (b *Backend) ConnectTo(ctx context.Context, r *balance.Request, idle IdleFunc, want *Server, force bool) (*Attempt, error) {
	a := &Attempt{}
	start := time.Now()
	b.Counters.AddConn(start.Unix())
	fail := func(err error) (*Attempt, error) {
		b.Counters.CurConns.Add(-1)
		return a, err
	}
	var avoid, same, prev *Server
	if want != nil && (want.Usable() || force && !want.Maint()) {
		same = want
	}
	for try := 0; ; try++ {
		var s *Server
		switch {
		case try == 0 && same != nil && force && !same.Usable():
			// A down server that force-persist allows: its slot, whatever its state.
			same.conns.Add(1)
			same.Counters.AddConn(time.Now().Unix())
			s = same
		case same != nil && b.takeSlot(same):
			s = same
		default:
			qstart := time.Now()
			var err error
			s, err = b.acquire(ctx, r, avoid)
			a.Queue += time.Since(qstart)
			if err != nil {
				return fail(err)
			}
		}
		if prev != nil {
			// A retry: on the same server, or redispatched to another one.
			if s == prev {
				prev.Counters.Retries.Add(1)
				b.Counters.Retries.Add(1)
			} else {
				prev.Counters.Redispatch.Add(1)
				b.Counters.Redispatch.Add(1)
				a.Redispatched = true
			}
		}
		a.Server = s
		if idle != nil && !s.Private() {
			if c := idle(s); c != nil {
				a.Conn, a.Reused = c, true
				s.Counters.Reuses.Add(1)
				b.Counters.Reuses.Add(1)
				return a, nil
			}
		}
		cstart := time.Now()
		s.Counters.Connects.Add(1)
		b.Counters.Connects.Add(1)
		// The PROXY header (send-proxy) goes first, then the TLS handshake (ssl).
		c, err := b.dialer.dial(ctx, s, r)
		if err == nil && s.Cfg.SSL != nil && s.Cfg.SSL.Enabled && s.Cfg.TLS != nil {
			c, err = s.handshake(ctx, c, r, b.connectTimeout)
		}
		a.Connect = time.Since(cstart)
		if err == nil {
			a.Conn = c
			s.observeConn(true)
			return a, nil
		}
		s.release()
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		s.observeConn(false)
		if try >= b.retries {
			s.Counters.ConnErrors.Add(1)
			b.Counters.ConnErrors.Add(1)
			return fail(fmt.Errorf("%w %s/%s after %s: %v", ErrConnect, b.Name, s.Name, time.Since(start).Round(time.Millisecond), err))
		}
		a.Retries++
		prev = s
		act, _ := b.UsableServers()
		rrLike := b.rrLike()
		if b.redispatch && (s.OpState() != OpRunning || try == b.retries-1 || rrLike && act > 1) {
			avoid, same = s, nil
		} else {
			avoid, same = nil, s
		}
		if !isTimeout(err) && (same != nil || !rrLike || act <= 1) {
			pause := time.Second
			if b.connectTimeout > 0 && b.connectTimeout < pause {
				pause = b.connectTimeout
			}
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return fail(ctx.Err())
			}
		}
	}
}

// rrLike reports whether the backend's algorithm is of HAProxy's round-robin kind
// (roundrobin, static-rr, random), with which a redispatch goes to another server
// at once.
func (b *Backend) rrLike() bool {
	switch b.Cfg.Balance.Algorithm {
	case "", "roundrobin", "static-rr", "random":
		return true
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Build turns a validated configuration into live state. Nothing listens yet.
func Build(cfg *config.Config, events *slog.Logger, logs func(p *config.Proxy) (AccessLogger, error)) (*State, error) {
	ids := IDs(cfg)
	st := &State{Config: cfg, Backends: map[string]*Backend{}, Vars: sample.NewStore(), IDs: ids}
	// The global section's set-var lines, in order (a later one may read an earlier one).
	in := &sample.Static{V: sample.Vars{Proc: st.Vars}}
	c := sample.NewCtx(in)
	for _, gv := range cfg.Global.Vars {
		if v, ok := gv.Expr.Eval(c); ok {
			st.Vars.Set(gv.Var.Name, v)
		}
	}
	for _, p := range cfg.Proxies {
		if !p.IsBackend() {
			continue
		}
		b, err := newBackend(p, events)
		if err != nil {
			return nil, err
		}
		b.ID = ids[p.Name]
		b.streams = &st.Streams
		if logs != nil {
			if b.Log, err = logs(p); err != nil {
				return nil, err
			}
		}
		st.Backends[p.Name] = b
	}
	for _, p := range cfg.Proxies {
		if !p.IsFrontend() {
			continue
		}
		f := &Frontend{Name: p.Name, Cfg: p, State: st, ID: ids[p.Name]}
		if p.IsBackend() {
			f.Default = st.Backends[p.Name]
		}
		if p.DefaultBackend != "" {
			f.Default = st.Backends[p.DefaultBackend]
			if f.Default == nil {
				return nil, fmt.Errorf("proxy '%s': unable to find required default_backend: '%s'", p.Name, p.DefaultBackend)
			}
		}
		for _, u := range p.UseBackends {
			b := st.Backends[u.Backend]
			if b == nil {
				return nil, fmt.Errorf("proxy '%s': unable to find required use_backend: '%s'", p.Name, u.Backend)
			}
			f.Rules = append(f.Rules, Rule{Backend: b, Cond: u.Cond})
		}
		if logs != nil {
			var err error
			if f.Log, err = logs(p); err != nil {
				return nil, err
			}
		}
		st.Frontends = append(st.Frontends, f)
	}
	setFullConn(st)
	linkTrackers(st)
	return st, nil
}

// linkTrackers lists, on each tracked server, the servers that `track` it, in
// configuration order.
func linkTrackers(st *State) {
	byCfg := map[*config.Server]*Server{}
	var all []*Server
	for _, p := range st.Config.Proxies {
		if b := st.Backends[p.Name]; b != nil && b.Cfg == p {
			for _, s := range b.Servers {
				byCfg[s.Cfg] = s
				all = append(all, s)
			}
		}
	}
	for _, s := range all {
		if t := byCfg[s.Cfg.TrackServer]; t != nil {
			t.trackers = append(t.trackers, s)
		}
	}
}

// setFullConn gives each backend its `fullconn`, or HAProxy's default: a tenth of the
// maxconn of the frontends that may send it traffic (each frontend's maxconn, else
// the global one, else 2000), at least 1.
func setFullConn(st *State) {
	for _, b := range st.Backends {
		if b.Cfg.FullConn > 0 {
			b.fullconn = b.Cfg.FullConn
			continue
		}
		sum := 0
		for _, f := range st.Frontends {
			uses := f.Default == b
			for _, r := range f.Rules {
				uses = uses || r.Backend == b
			}
			if !uses {
				continue
			}
			m := f.Cfg.MaxConn
			if m == 0 {
				m = st.Config.Global.MaxConn
			}
			if m == 0 {
				m = 2000
			}
			sum += m
		}
		b.fullconn = max(1, sum/10)
	}
}

func newBackend(p *config.Proxy, events *slog.Logger) (*Backend, error) {
	b := &Backend{
		Name:           p.Name,
		Cfg:            p,
		Events:         events,
		retries:        p.Retries,
		redispatch:     p.Redispatch,
		connectTimeout: p.Timeouts.Connect,
		queueTimeout:   p.Timeouts.Queue,
	}
	if b.queueTimeout == 0 {
		b.queueTimeout = p.Timeouts.Connect
	}
	b.dialer = dialer{timeout: p.Timeouts.Connect, keepAlive: p.Options.SrvTCPKA, tuning: p.SrvKeepAlive}
	b.changed = time.Now()
	used := map[int]bool{}
	for _, sc := range p.Servers {
		if sc.ID > 0 {
			used[sc.ID] = true
		}
	}
	next := 1
	b.maxQueue = 0
	allQueued := len(p.Servers) > 0
	for _, sc := range p.Servers {
		s := &Server{
			Name:    sc.Name,
			Backend: b,
			Cfg:     sc,
			ID:      sc.ID,
		}
		// As HAProxy numbers them: the first free id from the server's position on.
		if s.ID == 0 {
			id := next
			for used[id] {
				id++
			}
			s.ID = id
			used[id] = true
		}
		next++
		if sc.MaxQueue > 0 {
			b.maxQueue += sc.MaxQueue
		} else {
			allQueued = false
		}
		s.addr.Store(newServerAddr(sc.Host, sc.Port))
		s.maxconn.Store(int64(sc.MaxConn))
		s.state.Store(uint32(initialState(sc)))
		if sc.Observe == "layer4" {
			s.Observed = make(chan struct{}, 1)
		}
		s.touch()
		s.weight.Store(int32(sc.Weight))
		b.Servers = append(b.Servers, s)
		if sc.Backup {
			b.backup.servers = append(b.backup.servers, s)
		} else {
			b.active.servers = append(b.active.servers, s)
		}
	}
	for _, u := range p.UseServers {
		var srv *Server
		for _, s := range b.Servers {
			if s.Name == u.Server {
				srv = s
			}
		}
		if srv == nil {
			return nil, fmt.Errorf("backend '%s' : unable to find server '%s' referenced in a 'use-server' rule.", p.Name, u.Server)
		}
		b.useServers = append(b.useServers, useServer{srv, u.Cond})
	}
	if !allQueued {
		b.maxQueue = 0
	}
	b.backup.firstOnly = !p.AllBackups
	if act, bck := b.UsableServers(); act+bck == 0 && len(b.Servers) > 0 {
		b.down, b.downAt = true, b.changed
	}
	var err error
	if b.algo, err = balance.New(p.Balance, len(b.active.servers)); err != nil {
		return nil, fmt.Errorf("backend '%s': %w", p.Name, err)
	}
	if b.balgo, err = balance.New(p.Balance, len(b.backup.servers)); err != nil {
		return nil, fmt.Errorf("backend '%s': %w", p.Name, err)
	}
	return b, nil
}

type useServer struct {
	srv  *Server
	cond *acl.Cond
}

// UseServer evaluates the use-server rules for a request: the server the first
// matching rule names, and whether a force-persist condition holds (then the server
// is used even when down).
func (b *Backend) UseServer(c *sample.Ctx) (want *Server, force bool) {
	for _, u := range b.useServers {
		if u.cond.Eval(c) {
			want = u.srv
			break
		}
	}
	if want == nil {
		return nil, false
	}
	for _, f := range b.Cfg.ForcePersist {
		if f.Eval(c) {
			return want, true
		}
	}
	return want, false
}

// IDs numbers the proxies as HAProxy does: declaration order, after the internal CLI
// proxy's slot when a stats socket exists.
func IDs(cfg *config.Config) map[string]int {
	ids := map[string]int{}
	first := 1
	if len(cfg.Global.StatsSockets) > 0 {
		first = 2
	}
	for i, p := range cfg.Proxies {
		if _, dup := ids[p.Name]; !dup || p.IsBackend() {
			ids[p.Name] = first + i
		}
	}
	return ids
}

// Info is what the sample fetches read about a frontend (fe_*).
func (f *Frontend) Info() sample.ProxyInfo {
	return sample.ProxyInfo{Found: true, Name: f.Name, ID: f.ID, Conns: int(f.Counters.CurConns.Load()),
		SessRate: int(f.Counters.ConnRate.Per(time.Now()))}
}

// Info is what the sample fetches read about a backend (nbsrv, be_conn, queue,
// connslots, ...).
func (b *Backend) Info() sample.ProxyInfo {
	act, bck := b.UsableServers()
	usable := act
	if act == 0 {
		usable = bck
	}
	slots := 0
	for _, s := range b.Servers {
		if !s.Usable() {
			continue
		}
		if s.MaxConn() == 0 {
			slots = -1
			break
		}
		slots += s.MaxConn() - s.Conns()
		if q := s.Cfg.MaxQueue; q > 0 {
			slots += q
		}
	}
	return sample.ProxyInfo{Found: true, Name: b.Name, ID: b.ID, Usable: usable, Conns: int(b.Counters.CurConns.Load()),
		Queue: b.Queued(), Slots: slots, SessRate: int(b.Counters.ConnRate.Per(time.Now()))}
}

// ServerInfo is what the sample fetches read about a server (srv_*); i is its
// position in the backend.
func (b *Backend) ServerInfo(name string) sample.ServerInfo {
	for i, s := range b.Servers {
		if s.Name == name {
			return s.info(i + 1)
		}
	}
	return sample.ServerInfo{}
}

func (s *Server) info(id int) sample.ServerInfo {
	return sample.ServerInfo{Found: true, Name: s.Name, ID: id, Up: s.Usable(), Conns: s.Conns()}
}

// Info is what the sample fetches read about a server.
func (s *Server) Info() sample.ServerInfo {
	for i, o := range s.Backend.Servers {
		if o == s {
			return s.info(i + 1)
		}
	}
	return s.info(0)
}
