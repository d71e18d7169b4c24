package instance

import (
	"context"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"hitless/internal/config"
	"hitless/internal/fdpass"
	"hitless/internal/listener"
	"hitless/internal/proxy"
	"hitless/internal/runtimeapi"
)

// startStats binds every `stats socket` and serves the Runtime API on it.
func (in *Instance) startStats(cfg *config.Config) error {
	in.cli = in.cliServer(cfg, in.State.IDs, nil)
	for n, ss := range cfg.Global.StatsSockets {
		b := config.Bind{Pos: ss.Pos, Addr: ss.Addr, Mode: ss.Mode, HasMode: ss.HasMode, UID: ss.UID, GID: ss.GID}
		ln, err := listener.Listen(b, 16)
		if err != nil {
			for _, l := range in.stats {
				l.Close()
			}
			return fmt.Errorf("binding [%s] for stats socket: %w", ss.Pos, err)
		}
		in.stats = append(in.stats, ln)
		srv := in.cliServer(cfg, in.State.IDs, in.trackCLI(n+1))
		level, expose := runtimeapi.ParseLevel(ss.Level), ss.ExposeFD
		in.loops.Add(1)
		go func() {
			defer in.loops.Done()
			srv.Serve(in.statsCtx(), ln, level, expose)
		}()
	}
	return nil
}

// cliServer builds the Runtime API command table for this instance.
// track lists its sessions in `show sess` (nil: not listed).
func (in *Instance) cliServer(cfg *config.Config, ids map[string]int, track func(net.Conn) func()) *runtimeapi.Server {
	srv := &runtimeapi.Server{Timeout: cfg.Global.StatsTimeout, Events: in.events, Track: track}
	srv.Commands = append(runtimeapi.BaseCommands(srv), runtimeapi.ProcessCommands(in)...)
	srv.Commands = append(srv.Commands, runtimeapi.ServerCommands(in.State, ids)...)
	srv.Commands = append(srv.Commands, runtimeapi.StatCommand(in.State, ids, in))
	srv.Commands = append(srv.Commands, runtimeapi.FrontendCommands(in.State, ids, in)...)
	srv.Commands = append(srv.Commands, runtimeapi.SessionCommands(in.State, ids)...)
	srv.Commands = append(srv.Commands, runtimeapi.MiscCommands(in.State, in.version)...)
	srv.Commands = append(srv.Commands, runtimeapi.TicketKeysCommand(func() string { return in.TicketKeys().Encode() }))
	srv.Commands = append(srv.Commands, runtimeapi.CertCommands(in.certs)...)
	srv.Commands = append(srv.Commands, runtimeapi.TicketFileCommands(cfg.TicketFiles)...)
	srv.Commands = append(srv.Commands, runtimeapi.TableCommands(in.Tables, in.DumpTables)...)
	srv.Commands = append(srv.Commands, runtimeapi.PeersCommand(in.Peers))
	return srv
}

// ServeCLI serves the Runtime API on one connection at the given level, with
// `expose-fd listeners`: the master of master-worker mode reaches its workers so.
func (in *Instance) ServeCLI(c net.Conn, level runtimeapi.Level) {
	in.cli.ServeConn(in.ctx, c, level, true)
}

// trackCLI lists the sessions of the n-th stats socket in `show sess`, as HAProxy
// lists its CLI streams (frontend GLOBAL, source unix:<n> for a unix socket).
func (in *Instance) trackCLI(n int) func(c net.Conn) func() {
	return func(c net.Conn) func() {
		st := &proxy.Stream{Start: time.Now(), Remote: c.RemoteAddr(), Listener: n}
		in.State.Streams.Add(st)
		in.cliTotal.Add(1)
		in.cliCur.Add(1)
		return func() {
			in.cliCur.Add(-1)
			in.State.Streams.Remove(st)
		}
	}
}

// statsCtx ends with the instance: the stats socket stays up during a soft stop, so
// that a newer process can still fetch the listeners from it.
func (in *Instance) statsCtx() context.Context { return in.ctx }

// rawFD runs f with a listener's descriptor without changing its blocking mode.
func rawFD(ln net.Listener, f func(fd int)) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) { f(int(fd)) })
}

// Sockets duplicates every listening descriptor (frontends and stats sockets) for
// _getsocks, in ascending descriptor order as HAProxy sends them.
func (in *Instance) Sockets() ([]fdpass.Socket, func(), error) {
	in.mu.Lock()
	var lns []net.Listener
	for _, bl := range in.listeners {
		if !bl.closed {
			lns = append(lns, bl.ln)
		}
	}
	lns = append(lns, in.stats...)
	in.mu.Unlock()
	type pair struct{ orig, dup int }
	var pairs []pair
	for _, ln := range lns {
		rawFD(ln, func(fd int) {
			d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
			if err == nil {
				pairs = append(pairs, pair{fd, d})
			}
		})
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].orig < pairs[j].orig })
	socks := make([]fdpass.Socket, len(pairs))
	for i, p := range pairs {
		socks[i] = fdpass.Socket{FD: p.dup}
	}
	release := func() {
		for _, p := range pairs {
			unix.Close(p.dup)
		}
	}
	return socks, release, nil
}

// Info returns every `show info` field of HAProxy 2.6, in its order: hitless's
// figures where it has them (rates, Idle_pct from the process's CPU time, Tasks and
// Run_queue from the Go scheduler, memory from the Go heap) and HAProxy's value for a
// feature that is idle here (0 for SSL, compression, pipes and peers).
func (in *Instance) Info() []runtimeapi.Field {
	now := time.Now()
	up := now.Sub(in.started)
	secs := int64(up / time.Second)
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	// As HAProxy counts them: CumReq counts streams (valid HTTP requests, TCP sessions
	// and runtime API sessions), Jobs the listeners and every open connection, the
	// runtime API's included, CurrConns only the proxied ones.
	var cum, req, bytesOut uint64
	var cur int64
	for _, fe := range in.State.Frontends {
		cum += fe.Counters.TotalConns.Load()
		if fe.Cfg.Mode == config.ModeHTTP {
			// Invalid requests get no stream in HAProxy (its HTTP parser answers them).
			// Errors first: each is counted after its request, so none goes negative.
			errs := fe.Counters.ReqErrors.Load()
			req += fe.Counters.Requests.Load() - errs
		} else {
			req += fe.Counters.TotalConns.Load()
		}
		bytesOut += fe.Counters.BytesOut.Load()
		cur += fe.Counters.CurConns.Load()
	}
	cum += in.cliTotal.Load()
	req += in.cliTotal.Load()
	node := in.State.Config.Global.Node
	if node == "" {
		node, _ = os.Hostname()
	}
	stopping := "0"
	if in.stopping.Load() {
		stopping = "1"
	}
	in.mu.Lock()
	nlisten := len(in.listeners) + len(in.stats)
	var dropped uint64
	for _, l := range in.loggers {
		dropped += l.Dropped.Load()
	}
	in.mu.Unlock()
	threads := gomaxprocs()
	idle, outRate := in.sampler.sample(now, threads, bytesOut)
	tasks, runnable, heapHeld, heapUsed := runtimeFigures()
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	f := func(n, v string) runtimeapi.Field { return runtimeapi.Field{Name: n, Value: v} }
	connRate, maxConnRate := u(in.State.ConnRate.Per(now)), u(in.State.ConnRate.Max())
	return []runtimeapi.Field{
		f("Name", "hitless"),
		f("Version", in.version),
		f("Release_date", releaseDate()),
		f("Nbthread", i(int64(threads))),
		f("Nbproc", "1"),
		f("Process_num", "1"),
		f("Pid", i(int64(os.Getpid()))),
		f("Uptime", fmt.Sprintf("%dd %dh%02dm%02ds", secs/86400, secs/3600%24, secs/60%60, secs%60)),
		f("Uptime_sec", i(secs)),
		f("Memmax_MB", "0"),
		f("PoolAlloc_MB", u(heapHeld>>20)),
		f("PoolUsed_MB", u(heapUsed>>20)),
		f("PoolFailed", "0"),
		f("Ulimit-n", u(lim.Cur)),
		f("Maxsock", u(lim.Cur)),
		f("Maxconn", i(int64(in.global.get()))),
		f("Hard_maxconn", i(int64(in.maxconn))),
		f("CurrConns", i(cur)),
		f("CumConns", u(cum)),
		f("CumReq", u(req)),
		f("MaxSslConns", "0"),
		f("CurrSslConns", strconv.FormatInt(in.sslCur.Load(), 10)),
		f("CumSslConns", u(in.sslConns.Load())),
		f("Maxpipes", "0"),
		f("PipesUsed", "0"),
		f("PipesFree", "0"),
		f("ConnRate", connRate),
		f("ConnRateLimit", "0"),
		f("MaxConnRate", maxConnRate),
		// Every accepted connection is a session here, as in HAProxy without
		// tcp-request connection rules.
		f("SessRate", connRate),
		f("SessRateLimit", "0"),
		f("MaxSessRate", maxConnRate),
		f("SslRate", "0"),
		f("SslRateLimit", "0"),
		f("MaxSslRate", "0"),
		f("SslFrontendKeyRate", "0"),
		f("SslFrontendMaxKeyRate", "0"),
		f("SslFrontendSessionReuse_pct", "0"),
		f("SslBackendKeyRate", "0"),
		f("SslBackendMaxKeyRate", "0"),
		f("SslCacheLookups", "0"),
		f("SslCacheMisses", "0"),
		f("CompressBpsIn", "0"),
		f("CompressBpsOut", "0"),
		f("CompressBpsRateLim", "0"),
		f("Tasks", u(tasks)),
		f("Run_queue", u(runnable)),
		f("Idle_pct", i(int64(idle))),
		f("node", node),
		f("Stopping", stopping),
		f("Jobs", i(int64(nlisten)+cur+in.cliCur.Load())),
		f("Unstoppable Jobs", "0"),
		f("Listeners", i(int64(nlisten))),
		f("ActivePeers", "0"),
		f("ConnectedPeers", "0"),
		f("DroppedLogs", u(dropped)),
		f("BusyPolling", "0"),
		f("FailedResolutions", "0"),
		f("TotalBytesOut", u(bytesOut)),
		f("TotalSplicdedBytesOut", "0"),
		f("BytesOutRate", u(outRate)),
		f("DebugCommandsIssued", "0"),
		f("CumRecvLogs", "0"),
		f("Build info", in.version),
		f("Memmax_bytes", "0"),
		f("PoolAlloc_bytes", u(heapHeld)),
		f("PoolUsed_bytes", u(heapUsed)),
		f("Start_time_sec", i(in.started.Unix())),
		f("Tainted", "0"),
	}
}

// FrontendMaxConn is a frontend's connection limit: its own maxconn capped by the
// global one, or what `set maxconn frontend` set.
func (in *Instance) FrontendMaxConn(fe *proxy.Frontend) int { return in.fronts[fe].limit.get() }

// SetFrontendMaxConn changes a frontend's connection limit; connections waiting in the
// kernel's queue are accepted at once when it grows.
func (in *Instance) SetFrontendMaxConn(fe *proxy.Frontend, n int) {
	ctl := in.fronts[fe]
	ctl.limit.set(n)
	in.wakeAccepts(func(bl *boundListener) bool { return bl.ctl == ctl })
}

// wakeAccepts makes the matching accept loops that wait in Accept give their slot
// back and take one again, so that a lowered limit holds at once.
func (in *Instance) wakeAccepts(match func(*boundListener) bool) {
	in.pauseMu.Lock()
	defer in.pauseMu.Unlock()
	in.setDeadlines(time.Unix(1, 0), match)
}

// MaxConn returns the global connection limit and the one it started with.
func (in *Instance) MaxConn() (cur, initial int) { return in.global.get(), in.maxconn }

// SetMaxConn changes the global connection limit (`set maxconn global`); 0 restores the
// initial one.
func (in *Instance) SetMaxConn(n int) {
	if n == 0 {
		n = in.maxconn
	}
	in.global.set(n)
	in.wakeAccepts(func(*boundListener) bool { return true })
}

// FrontendStatus is a frontend's `status` in `show stat`: OPEN, PAUSED (SIGTTOU or
// `disable frontend`) or STOP (soft stop).
func (in *Instance) FrontendStatus(fe *proxy.Frontend) string {
	if in.stopping.Load() {
		return "STOP"
	}
	in.pauseMu.Lock()
	defer in.pauseMu.Unlock()
	if in.fronts[fe].disabled || in.pausedLocked() {
		return "PAUSED"
	}
	return "OPEN"
}

// DisableFrontend stops accepting on a frontend's listeners without closing them: new
// connections wait in the kernel's queue. It reports false when already disabled.
func (in *Instance) DisableFrontend(fe *proxy.Frontend) bool {
	in.pauseMu.Lock()
	defer in.pauseMu.Unlock()
	ctl := in.fronts[fe]
	if ctl.disabled {
		return false
	}
	ctl.disabled = true
	ctl.gate = make(chan struct{})
	in.setDeadlines(time.Unix(1, 0), func(bl *boundListener) bool { return bl.ctl == ctl })
	return true
}

// EnableFrontend accepts again on a disabled frontend. It reports false when it was
// not disabled.
func (in *Instance) EnableFrontend(fe *proxy.Frontend) bool {
	in.pauseMu.Lock()
	defer in.pauseMu.Unlock()
	ctl := in.fronts[fe]
	if !ctl.disabled {
		return false
	}
	ctl.disabled = false
	close(ctl.gate) // its accept loops clear their wake-up deadline themselves
	return true
}

// Must be called with pauseMu held.
func (in *Instance) pausedLocked() bool {
	select {
	case <-in.pauseCh:
		return false
	default:
		return true
	}
}

// Pause stops accepting (SIGTTOU): new connections wait in the kernel's queues.
func (in *Instance) Pause() {
	in.pauseMu.Lock()
	defer in.pauseMu.Unlock()
	if in.pausedLocked() {
		return
	}
	in.pauseCh = make(chan struct{})
	// Wake the accept loops blocked in Accept so that they see the gate.
	in.setDeadlines(time.Unix(1, 0), func(*boundListener) bool { return true })
}

// setDeadlines sets a wake-up deadline on the listeners that match; the accept loops
// clear it once they may accept again. Must be called with pauseMu held.
func (in *Instance) setDeadlines(t time.Time, match func(*boundListener) bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, bl := range in.listeners {
		if d, ok := bl.ln.(interface{ SetDeadline(time.Time) error }); ok && !bl.closed && match(bl) {
			d.SetDeadline(t)
			bl.woken = true
		}
	}
}

// Resume accepts again after Pause (SIGTTIN); disabled frontends stay disabled.
func (in *Instance) Resume() {
	in.pauseMu.Lock()
	defer in.pauseMu.Unlock()
	if !in.pausedLocked() {
		return
	}
	close(in.pauseCh) // the accept loops clear their wake-up deadline themselves
}

// SoftStop is SIGUSR1: after grace, stop accepting and close this process's copy of
// every listening socket (never shutdown(): a newer process may be accepting from the
// same queue), let requests in flight finish, and answer the next request of each
// keep-alive connection with Connection: close.
func (in *Instance) SoftStop(grace time.Duration) {
	if !in.stopping.CompareAndSwap(false, true) {
		return
	}
	in.http.Drain()
	if grace > 0 {
		time.Sleep(grace)
	}
	in.mu.Lock()
	for _, bl := range in.listeners {
		bl.closed = true
		bl.ln.Close()
	}
	for _, l := range in.stats {
		l.Close()
	}
	in.mu.Unlock()
	in.stopAccepts()
	in.teachSuccessor()
}

// Stopping reports whether a soft stop began.
func (in *Instance) Stopping() bool { return in.stopping.Load() }
