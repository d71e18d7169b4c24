// Package instance runs one configuration in this process: it builds the live state,
// binds the listeners, starts health checks and accept loops, and hands each accepted
// connection to the tcp or http engine. cmd/hitless creates one Instance per start.
package instance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"hitless/internal/config"
	"hitless/internal/httpproxy"
	"hitless/internal/listener"
	"hitless/internal/logging"
	"hitless/internal/peers"
	"hitless/internal/proxy"
	"hitless/internal/runtimeapi"
	"hitless/internal/stick"
	"hitless/internal/tcpproxy"
	"hitless/internal/tlsconf"
)

// Options are the process-level settings that do not come from the configuration.
type Options struct {
	Events  *slog.Logger
	MaxConn int // -n; 0 = from the config or the fd limit
	// Inherited are listening sockets received from an older process (-x); binds that
	// match one adopt it instead of binding.
	Inherited []*listener.Inherited
	Version   string
	// ServerStates is what an older process reported with `show servers state`:
	// maintenance, drain, weights and health carry over to the matching servers.
	ServerStates []runtimeapi.ServerState
	// TicketKeys are the session-ticket keys of the older process (nil: new ones),
	// so that its clients resume their TLS sessions here.
	TicketKeys tlsconf.ProcessKeys
	// CommittedCerts are the certificates the older process had committed at runtime
	// (tlsconf.Store.Committed), so that a reload does not revert them.
	CommittedCerts string
	// Tables streams the stick tables an older process hands over (peers.Dump);
	// nil when none. Start reads it to the end before it serves.
	Tables io.Reader
	// Patterns are the pattern and map files an older process changed at runtime
	// (path -> `show acl FILE`): they replace the files' contents before serving.
	Patterns map[string]string
	// BeforeServe, when set, runs once every listener and stats socket is bound and
	// every log target open, before anything is accepted or checked: the place to write
	// the pidfile and drop privileges. An error stops the start.
	BeforeServe func() error
}

// Instance is a running configuration. Its lifetime: Start, then Stop (hard stop), then
// Wait returns once every connection goroutine has ended.
type Instance struct {
	State  *proxy.State
	Tables *stick.Set       // the stick tables (tables.go)
	peers  []*peers.Section // guarded by mu
	// tablesHandedOver: an older process handed every table over, so the peers
	// sections need no resynchronisation.
	tablesHandedOver bool
	events           *slog.Logger
	http             *httpproxy.Engine

	ctx    context.Context
	cancel context.CancelFunc
	// acceptCtx ends when the listeners close (soft or hard stop): the accept loops
	// wait on it.
	acceptCtx   context.Context
	stopAccepts context.CancelFunc

	// global bounds the connections of the whole process (global maxconn).
	global *limit
	// fronts holds the runtime controls of each frontend, by name.
	fronts map[*proxy.Frontend]*frontendCtl

	// mu guards listeners, stats and loggers.
	mu        sync.Mutex
	listeners []*boundListener
	stats     []net.Listener
	cli       *runtimeapi.Server // the command table, for connections from the master
	loggers   map[string]*logging.Logger

	// keysMu guards ticketKeys, the session-ticket keys of the TLS binds (tls.go).
	keysMu     sync.Mutex
	ticketKeys tlsconf.ProcessKeys
	// sslConns counts completed handshakes and sslCur the TLS connections open (show
	// info's CumSslConns and CurrSslConns).
	sslConns atomic.Uint64
	sslCur   atomic.Int64
	certs    *tlsconf.Store // the certificates, for `show/set/commit ssl cert`

	version  string
	started  time.Time
	sampler  *procSampler // Idle_pct and BytesOutRate for `show info`
	maxconn  int
	adopted  int
	stopping atomic.Bool
	// cliTotal and cliCur count the runtime API sessions, for `show info`.
	cliTotal atomic.Uint64
	cliCur   atomic.Int64
	// pauseMu guards pauseCh and the gate and disabled fields of every frontendCtl:
	// the accept loops wait on both gates (SIGTTOU / SIGTTIN, `disable frontend`).
	pauseMu sync.Mutex
	pauseCh chan struct{} // closed while running; a fresh open one while paused

	conns   sync.WaitGroup // one per accepted connection
	accepts sync.WaitGroup // accept loops
	loops   sync.WaitGroup // accept loops, health checks, stats sockets
}

type boundListener struct {
	bind   config.Bind
	id     int // the bind line's number in its frontend, from 1
	fe     *proxy.Frontend
	ctl    *frontendCtl
	ln     net.Listener
	closed bool // guarded by Instance.mu
	woken  bool // a wake-up deadline is set on ln; guarded by Instance.pauseMu
}

// frontendCtl is what the runtime API changes on a frontend: its maxconn (shared by
// its listeners) and whether it accepts (`disable frontend`).
type frontendCtl struct {
	limit *limit
	// gate is closed while the frontend accepts, open while it is disabled; guarded
	// by Instance.pauseMu.
	gate     chan struct{}
	disabled bool
}

// Start builds the state for cfg, binds every listener and starts serving. On error
// nothing is left open.
func Start(cfg *config.Config, opts Options) (*Instance, error) {
	ev := opts.Events
	if ev == nil {
		ev = slog.New(slog.DiscardHandler)
	}
	if n := cfg.Global.NbThread; n > 0 {
		runtime.GOMAXPROCS(n)
	}
	in := &Instance{events: ev, loggers: map[string]*logging.Logger{}, version: opts.Version, started: time.Now()}
	in.sampler = newProcSampler(in.started)
	in.pauseCh = make(chan struct{})
	close(in.pauseCh)
	in.ctx, in.cancel = context.WithCancel(context.Background())
	in.acceptCtx, in.stopAccepts = context.WithCancel(in.ctx)

	st, err := proxy.Build(cfg, ev, in.accessLogger)
	if err != nil {
		in.closeLoggers()
		return nil, err
	}
	in.State = st
	in.startTables(cfg, opts.Tables)
	in.startPersistence()
	in.applyPatterns(cfg, opts.Patterns)
	in.http = httpproxy.New(st, ev)
	in.http.SetApplets(in.applets(cfg))
	in.setTicketKeys(cfg, opts.TicketKeys)
	in.buildCertStore(cfg, opts.CommittedCerts)

	maxconn := opts.MaxConn
	if maxconn == 0 {
		maxconn = cfg.Global.MaxConn
	}
	if maxconn == 0 {
		maxconn = defaultMaxConn(fdLimit(), gomaxprocs(), socketEaters(cfg))
	}
	in.global = newLimit(maxconn)
	in.maxconn = maxconn
	in.fronts = map[*proxy.Frontend]*frontendCtl{}

	for _, fe := range st.Frontends {
		femax := fe.Cfg.MaxConn
		if femax == 0 || femax > maxconn {
			femax = maxconn
		}
		ctl := &frontendCtl{limit: newLimit(femax), gate: make(chan struct{})}
		close(ctl.gate)
		in.fronts[fe] = ctl
		for i, b := range fe.Cfg.Binds {
			ln, adopted, err := listener.Adopt(b, opts.Inherited)
			if adopted {
				in.adopted++
			}
			if err == nil && !adopted {
				ln, err = listener.Listen(b, femax)
			}
			if err != nil {
				in.closeListeners()
				in.closeLoggers()
				return nil, fmt.Errorf("binding [%s] for frontend %s: %w", b.Pos, fe.Name, err)
			}
			in.listeners = append(in.listeners, &boundListener{bind: b, id: i + 1, fe: fe, ctl: ctl, ln: ln})
		}
	}
	// HAProxy's state files first, then what the older process reported over -x
	// (the state at the moment of the reload): applied before the stats socket and
	// the listeners serve, so that no request and no `show servers state` sees the
	// configured state in between (and the files are read before any chroot).
	in.loadStateFiles(cfg)
	in.applyServerStates(opts.ServerStates, proxy.ByReload)
	if err := in.startStats(cfg); err != nil {
		in.closeListeners()
		in.closeLoggers()
		return nil, err
	}
	sections, err := in.bindPeers(cfg, in.tablesHandedOver)
	if err != nil {
		in.closeListeners()
		in.closeLoggers()
		return nil, err
	}
	if opts.BeforeServe != nil {
		if err := opts.BeforeServe(); err != nil {
			for _, ps := range sections {
				if ps.ln != nil {
					ps.ln.Close()
				}
			}
			in.Stop()
			in.Wait(time.Second)
			return nil, &BeforeServeError{Err: err}
		}
	}
	for _, bl := range in.listeners {
		in.loops.Add(1)
		in.accepts.Add(1)
		go in.acceptLoop(bl)
	}
	in.startPeers(sections)
	in.runExpiry()
	in.startChecks()
	return in, nil
}

// applyServerStates keeps the state an older process had for servers that still
// exist (matched by backend and server name): maintenance and drain set by an
// operator, a changed weight (when the configured weight did not change), the
// address set with `set server addr` (HAProxy keeps it across reloads too), and
// health, so that a server that was DOWN gets no traffic until its checks pass.
// A change of `disabled` in the configuration wins over the recorded maintenance,
// as in HAProxy. cause says where the rows come from.
func (in *Instance) applyServerStates(rows []runtimeapi.ServerState, cause proxy.Cause) {
	for _, r := range rows {
		b := in.State.Backends[r.Backend]
		if b == nil {
			continue
		}
		for _, s := range b.Servers {
			if s.Name != r.Server {
				continue
			}
			admin := r.Admin & (proxy.AdminFMaint | proxy.AdminFDrain | proxy.AdminCMaint)
			if s.Cfg.Disabled != (r.Admin&proxy.AdminCMaint != 0) {
				// `disabled` was added or removed: the configuration decides.
				admin = r.Admin & proxy.AdminFDrain
				if s.Cfg.Disabled {
					admin |= proxy.AdminFMaint | proxy.AdminCMaint
				}
			}
			s.Restore(admin, r.Running, cause)
			if r.IWeight == s.Cfg.Weight && r.UWeight >= 0 && r.UWeight <= 256 {
				s.SetWeight(r.UWeight)
			}
			if ip, err := netip.ParseAddr(r.Addr); err == nil && r.Port > 0 && r.Port < 65536 {
				if a := s.Address(); a.Host != ip.String() || a.Port != r.Port {
					s.SetAddress(ip.String(), r.Port)
				}
			}
		}
	}
}

// BeforeServeError is Start's error when Options.BeforeServe failed.
type BeforeServeError struct{ Err error }

func (e *BeforeServeError) Error() string { return e.Err.Error() }
func (e *BeforeServeError) Unwrap() error { return e.Err }

// Adopted is the number of listeners taken over from an older process.
func (in *Instance) Adopted() int { return in.adopted }

// defaultMaxConn derives the global maxconn from the file-descriptor limit as HAProxy
// 2.6 does: of the limit, 20 descriptors are kept, 3 per thread (its poller and
// wake-up pipe), one per listener and health check (eaters), and two go to each
// proxied connection (measured against HAProxy with 1, 2 and 4 threads, 1 to 6
// listeners and 0 to 3 checks).
func defaultMaxConn(limit, threads, eaters int) int {
	if limit <= 0 {
		return 1024
	}
	n := (min(limit, 1<<22) - 20 - 3*threads - eaters) / 2
	return max(n, 100)
}

// fdLimit is the soft limit on open files, 0 when unknown.
func fdLimit() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return int(min(lim.Cur, 1<<30))
}

// socketEaters counts what holds a descriptor for the whole run in HAProxy's
// accounting: each listener (bind lines and stats sockets) and each health check.
func socketEaters(cfg *config.Config) int {
	n := len(cfg.Global.StatsSockets)
	for _, p := range cfg.Proxies {
		n += len(p.Binds)
		for _, s := range p.Servers {
			if s.Check {
				n++
			}
		}
	}
	return n
}

// accessLogger returns the logger for a proxy's `log` lines, shared between proxies
// with identical targets; nil when the proxy has none.
func (in *Instance) accessLogger(p *config.Proxy) (proxy.AccessLogger, error) {
	if len(p.Logs) == 0 {
		return nil, nil
	}
	key := fmt.Sprint(p.Logs)
	in.mu.Lock()
	defer in.mu.Unlock()
	if l, ok := in.loggers[key]; ok {
		return l, nil
	}
	// No hostname in the syslog header: HAProxy sends one only with log-send-hostname.
	l, err := logging.New(p.Logs, logging.Options{Tag: "hitless", PID: os.Getpid()})
	if err != nil {
		return nil, fmt.Errorf("proxy '%s': %w", p.Name, err)
	}
	in.loggers[key] = l
	return l, nil
}

func (in *Instance) acceptLoop(bl *boundListener) {
	defer in.loops.Done()
	defer in.accepts.Done()
	fe := bl.fe
	var delay time.Duration
	for {
		// While paused (SIGTTOU) or disabled (`disable frontend`), connections wait
		// in the kernel's queue.
		in.pauseMu.Lock()
		gate, feGate := in.pauseCh, bl.ctl.gate
		if bl.woken && !in.pausedLocked() && !bl.ctl.disabled {
			// Undo a wake-up deadline (Pause, disable frontend, a lowered limit):
			// under pauseMu, so that a new Pause cannot be undone here.
			if d, ok := bl.ln.(interface{ SetDeadline(time.Time) error }); ok {
				d.SetDeadline(time.Time{})
			}
			bl.woken = false
		}
		in.pauseMu.Unlock()
		// Every wait ends when the listeners close (soft stop), not only at the hard
		// stop: a paused or disabled frontend must not hold the old process.
		for _, g := range []chan struct{}{gate, feGate} {
			select {
			case <-g:
			case <-in.acceptCtx.Done():
				return
			}
		}
		// Take a slot before accepting: beyond maxconn, new connections wait in the
		// kernel's backlog instead of being refused.
		if !bl.ctl.limit.acquire(in.acceptCtx) {
			return
		}
		if !in.global.acquire(in.acceptCtx) {
			bl.ctl.limit.release()
			return
		}
		c, err := bl.ln.Accept()
		if err != nil {
			in.global.release()
			bl.ctl.limit.release()
			if errors.Is(err, net.ErrClosed) || in.ctx.Err() != nil {
				return
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue // woken by Pause: check the gate again
			}
			// Out of descriptors or a transient error: back off briefly, keep serving.
			delay = min(max(delay*2, 5*time.Millisecond), time.Second)
			in.events.Warn(fmt.Sprintf("accept on frontend %s failed: %v", fe.Name, err))
			select {
			case <-time.After(delay):
			case <-in.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		// The limits may have been lowered while Accept waited: this connection
		// then waits for its turn as it would have in the kernel's queue.
		// At a soft stop the held connection is served anyway: it was accepted.
		if (!bl.ctl.limit.hold(in.acceptCtx) || !in.global.hold(in.acceptCtx)) && in.ctx.Err() != nil {
			c.Close()
			in.global.release()
			bl.ctl.limit.release()
			return
		}
		now := time.Now().Unix()
		if !bl.bind.AcceptProxy {
			fe.Counters.AddConn(now) // else once its PROXY header was read (serve)
		}
		in.State.ConnRate.Add(now)
		in.State.ActConns.Add(1)
		in.conns.Add(1)
		go in.serve(c, bl)
	}
}

func (in *Instance) serve(c net.Conn, bl *boundListener) {
	fe := bl.fe
	start := time.Now()
	setKeepAlive(c, bl)
	if bl.bind.AcceptProxy {
		hc, err := in.readProxyHeader(c, bl)
		if err != nil {
			in.proxyHeaderFailed(c, bl, start, err)
			c.Close()
			in.State.ActConns.Add(-1)
			in.global.release()
			bl.ctl.limit.release()
			in.conns.Done()
			return
		}
		c = hc
		// Counted once the header was read, as HAProxy counts sessions.
		fe.Counters.AddConn(start.Unix())
	}
	st := &proxy.Stream{Frontend: fe, Start: time.Now(), Remote: c.RemoteAddr(), Listener: bl.id}
	in.State.Streams.Add(st)
	defer func() {
		if r := recover(); r != nil {
			in.events.Error(fmt.Sprintf("frontend %s: connection handler failed: %v", fe.Name, r))
			c.Close()
		}
		in.State.Streams.Remove(st)
		fe.Counters.CurConns.Add(-1)
		in.State.ActConns.Add(-1)
		in.global.release()
		bl.ctl.limit.release()
		in.conns.Done()
	}()
	ctx, cancel := context.WithCancel(proxy.WithStream(in.ctx, st))
	defer cancel()
	st.SetKill(cancel) // on-marked-down shutdown-sessions, on-marked-up shutdown-backup-sessions
	if bl.bind.TLS != nil {
		if c = in.tlsHandshake(ctx, c, bl); c == nil {
			return
		}
		in.sslCur.Add(1)
		defer in.sslCur.Add(-1)
	}
	if fe.Cfg.Mode == config.ModeHTTP {
		in.http.Serve(ctx, c, fe)
	} else {
		tcpproxy.Serve(ctx, c, fe)
	}
}

// FrontendNames lists the frontends in configuration order.
func (in *Instance) FrontendNames() []string {
	var out []string
	for _, fe := range in.State.Frontends {
		out = append(out, fe.Name)
	}
	return out
}

// Addrs lists the bound addresses, for messages and tests.
func (in *Instance) Addrs() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, bl := range in.listeners {
		out = append(out, bl.ln.Addr().String())
	}
	return out
}

// Stop is the hard stop: it closes the listeners and every connection at once.
func (in *Instance) Stop() {
	in.closeListeners()
	in.cancel()
}

// Wait blocks until every accept loop, health check and connection has ended, up to
// timeout; it reports whether all ended.
func (in *Instance) Wait(timeout time.Duration) bool {
	done := make(chan struct{})
	go func() {
		in.loops.Wait()
		in.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
		in.http.Close()
		in.closeLoggers()
		return true
	case <-time.After(timeout):
		return false
	}
}

// CloseListeners stops accepting: this process's listening sockets are closed.
func (in *Instance) CloseListeners() { in.closeListeners() }

// Drain waits until the accept loops have stopped and every accepted connection has
// ended.
func (in *Instance) Drain() {
	in.accepts.Wait()
	in.conns.Wait()
}

// StateLines describes every server and backend as HAProxy's SIGHUP dump does.
func (in *Instance) StateLines() []string {
	var out []string
	for _, p := range in.State.Config.Proxies {
		b := in.State.Backends[p.Name]
		if b == nil || !p.IsBackend() {
			continue
		}
		for _, s := range b.Servers {
			state := "UP"
			switch {
			case s.Maint():
				state = "MAINT"
			case !s.Up():
				state = "DOWN"
			}
			out = append(out, fmt.Sprintf("SIGHUP: Server %s/%s is %s. Conn: %d act, 0 pend, %d tot.",
				b.Name, s.Name, state, s.Conns(), s.Counters.TotalConns.Load()))
		}
		act, bck := b.UsableServers()
		var fe int64
		var fetot uint64
		for _, f := range in.State.Frontends {
			if f.Name == b.Name {
				fe, fetot = f.Counters.CurConns.Load(), f.Counters.TotalConns.Load()
			}
		}
		conn := fmt.Sprintf("Conn: act(FE+BE): %d+%d, %d pend (%d unass), tot(FE+BE): %d+%d.",
			fe, b.Counters.CurConns.Load(), b.Queued(), b.Queued(), fetot, b.Counters.TotalConns.Load())
		switch {
		case len(b.Servers) == 0:
			out = append(out, fmt.Sprintf("SIGHUP: Proxy %s has no servers. %s", b.Name, conn))
		case act == 0 && bck == 0:
			out = append(out, fmt.Sprintf("SIGHUP: Proxy %s has no server available ! %s", b.Name, conn))
		case act == 0:
			out = append(out, fmt.Sprintf("SIGHUP: Proxy %s is running on backup servers ! %s", b.Name, conn))
		default:
			out = append(out, fmt.Sprintf("SIGHUP: Proxy %s has %d active servers and %d backup servers available. %s", b.Name, act, bck, conn))
		}
	}
	return out
}

func (in *Instance) closeListeners() {
	in.stopAccepts()
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, bl := range in.listeners {
		bl.closed = true
		bl.ln.Close()
	}
	for _, l := range in.stats {
		l.Close()
	}
}

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }

func (in *Instance) closeLoggers() {
	in.mu.Lock()
	defer in.mu.Unlock()
	for k, l := range in.loggers {
		l.Close()
		delete(in.loggers, k)
	}
}

// applyPatterns gives the pattern and map files the contents an older process had
// changed at runtime (a map edited with `add map` survives the reload).
func (in *Instance) applyPatterns(cfg *config.Config, dumps map[string]string) {
	for path, dump := range dumps {
		f := cfg.Patterns.Lookup(path)
		if f == nil {
			continue
		}
		if err := f.Replace(runtimeapi.ParsePatternDump(dump, f.IsMap)); err != nil {
			in.events.Warn(fmt.Sprintf("cannot keep the runtime contents of '%s': %v", path, err))
		}
	}
}
