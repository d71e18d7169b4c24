// Package master runs master-worker mode (-W, -Ws): a master process that carries no
// traffic holds every listening socket, starts workers that serve on them, re-executes
// its own binary on reload (so that a replaced binary takes over), replaces a worker
// that crashes, speaks the systemd notify protocol, and serves the master CLI (-S).
// cmd/hitless calls Run in the master and Attach in each worker.
package master

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"hitless/internal/config"
	"hitless/internal/listener"
	"hitless/internal/runtimeapi"
)

// Options are the master's settings from the command line.
type Options struct {
	// Args is the command line the master runs again on reload and gives its workers:
	// argv[0] first, without -sf, -st and -x.
	Args    []string
	Version string
	Pidfile string
	Notify  bool                 // -Ws: speak the systemd notify protocol
	CLI     []config.StatsSocket // -S
	Events  *slog.Logger
	// Signals is signal.Notify (replaceable in tests).
	Signals func(c chan<- os.Signal, sig ...os.Signal)
	// Ready is told once whether the first worker serves (-D reports it to its
	// parent). Not called when the master resumes after a re-execution.
	Ready func(error)
}

// Master is the running master. Its loop goroutine does every start, reload and
// replacement; mu guards what the master CLI reads.
type Master struct {
	opts    Options
	binary  string
	args    []string
	version string
	events  *slog.Logger
	notify  func(state string)

	exits   chan exit
	reload  chan struct{} // `reload` on the master CLI
	stopped chan struct{} // nudges the loop after a stop signal
	sigs    chan os.Signal

	mu         sync.Mutex
	procs      []*proc // current and old workers
	current    *proc
	reloads    int
	failed     int
	started    time.Time
	listeners  []int         // listening sockets, in bind order of the last good load
	cli        []cliListener // master CLI
	crashes    []time.Time   // recent crashes of the current worker
	stopping   bool
	exitCode   int    // 130 after SIGINT, as HAProxy's master
	lastError  string // why the last reload failed, while failed > 0
	stopPipe   int    // during a re-execution: where a stop signal goes (else -1)
	stopSignal syscall.Signal
	last       startup // what the current worker started from
	maxReloads int     // -1: no limit
	restartAt  time.Time
}

// crash-loop policy: a worker that crashes is replaced at once, up to crashBurst times
// within crashWindow; beyond that each replacement waits twice as long as the last,
// from 100 ms up to 10 s.
const (
	crashWindow = 10 * time.Second
	crashBurst  = 15
	maxBackoff  = 10 * time.Second
)

// Run is the master's whole life: it returns the exit code. cfg is the configuration
// this image loaded, or cfgErr why it could not (already printed): at first start that
// ends the master, after a reload the old workers go on serving.
func Run(ctx context.Context, opts Options, cfg *config.Config, src []config.Source, cfgErr error) int {
	m := &Master{
		opts:       opts,
		args:       opts.Args,
		version:    opts.Version,
		events:     opts.Events,
		exits:      make(chan exit, 16),
		reload:     make(chan struct{}, 1),
		stopped:    make(chan struct{}, 1),
		maxReloads: -1,
		stopPipe:   -1,
	}
	if m.events == nil {
		m.events = slog.New(slog.DiscardHandler)
	}
	m.notify = func(string) {}
	if opts.Notify {
		m.notify = sdNotify
	}
	if opts.Ready == nil {
		opts.Ready = func(error) {}
	}
	sigs := make(chan os.Signal, 8)
	opts.Signals(sigs, syscall.SIGUSR2, syscall.SIGHUP, syscall.SIGTTOU, syscall.SIGTTIN, syscall.SIGQUIT)
	m.sigs = sigs
	// Stop signals are handled at once, even while the loop waits for a new worker.
	stops := make(chan os.Signal, 4)
	opts.Signals(stops, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for {
			select {
			case s := <-stops:
				m.stop(s.(syscall.Signal))
			case <-ctx.Done():
				m.stop(syscall.SIGTERM)
				return
			}
		}
	}()

	saved, isReload := os.LookupEnv(stateEnv)
	os.Unsetenv(stateEnv)
	if !isReload {
		if cfgErr != nil {
			return 1
		}
		exe, err := os.Executable()
		if err != nil {
			m.events.Error(fmt.Sprintf("cannot find the path of the executable: %v", err))
			return 1
		}
		m.binary, m.started = exe, time.Now()
		if err := m.bindCLI(); err != nil {
			m.events.Error(err.Error())
			opts.Ready(err)
			return 1
		}
		m.setLimits(cfg)
		if err := m.load(cfg, src); err != nil {
			m.events.Error(err.Error())
			m.closeAll()
			opts.Ready(err)
			return 1
		}
		opts.Ready(nil)
	} else {
		st, err := decodeState(saved)
		if err != nil {
			m.events.Error(err.Error())
			return 1
		}
		m.restore(st)
		if m.stopping {
			// Stopped during the hand-over: pass the signal on, load nothing.
			m.events.Warn("Exiting Master process...")
			m.signalAll(m.stopSignal)
			return m.loop(ctx, sigs)
		}
		if cfgErr == nil {
			m.setLimits(cfg)
			cfgErr = m.load(cfg, src)
		}
		if cfgErr != nil {
			m.loadFailed(cfgErr)
		}
	}
	m.notify("READY=1\nMAINPID=" + strconv.Itoa(os.Getpid()) + "\nSTATUS=" + m.status())
	return m.loop(ctx, sigs)
}

func (m *Master) setLimits(cfg *config.Config) {
	m.maxReloads = -1
	if cfg.Global.MworkerMaxReloadsSet {
		m.maxReloads = cfg.Global.MworkerMaxReloads
	}
}

// status is the one-line summary sent to systemd as STATUS=.
func (m *Master) status() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := fmt.Sprintf("%d worker(s), %d reload(s), %d failed", len(m.procs), m.reloads, m.failed)
	if m.current == nil && !m.stopping {
		s = "no worker serving; " + s
	}
	if m.failed > 0 {
		s += "; last reload failed: " + m.lastError
	}
	return s
}

// loop handles signals, reload requests and worker exits until every worker is gone
// after a stop.
func (m *Master) loop(ctx context.Context, sigs chan os.Signal) int {
	var restart *time.Timer
	var restartC <-chan time.Time
	if m.current == nil {
		// The current worker had crashed and was not yet replaced before a re-execution.
		restart = time.NewTimer(time.Until(m.restartAt))
		restartC = restart.C
	}
	for {
		select {
		case <-m.stopped:
		case s := <-sigs:
			switch s {
			case syscall.SIGUSR2, syscall.SIGHUP:
				m.doReload()
			case syscall.SIGTTOU, syscall.SIGTTIN:
				m.signalAll(s.(syscall.Signal))
			}
		case <-m.reload:
			m.doReload()
		case e := <-m.exits:
			if m.exited(e) && restart == nil {
				restart = time.NewTimer(time.Until(m.restartAt))
				restartC = restart.C
			}
		case <-restartC:
			restart, restartC = nil, nil
			if !m.replace() {
				restart = time.NewTimer(time.Until(m.restartAt))
				restartC = restart.C
			}
		}
		m.mu.Lock()
		over := m.stopping && len(m.procs) == 0
		code := m.exitCode
		m.mu.Unlock()
		if over {
			m.events.Warn(fmt.Sprintf("All workers exited. Exiting... (%d)", code))
			m.closeAll()
			return code
		}
	}
}

// doReload is SIGUSR2, SIGHUP and `reload`: check the new binary and configuration,
// then re-execute. It returns only when the reload did not happen.
func (m *Master) doReload() {
	m.mu.Lock()
	if m.stopping {
		m.mu.Unlock()
		return
	}
	m.reloads++
	for _, p := range m.procs {
		p.reloads++
	}
	m.mu.Unlock()
	m.events.Info("Reloading hitless")
	m.notify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d\nSTATUS=reloading", monotonicUsec()))
	if err := m.precheck(); err != nil {
		m.loadFailed(err)
		m.notify("READY=1\nSTATUS=" + m.status())
		return
	}
	err := m.reexec()
	if errors.Is(err, errStopping) {
		return
	}
	m.events.Warn(fmt.Sprintf("Failed to reexecute the master process [%d]: %v", os.Getpid(), err))
	m.loadFailed(errors.New("re-execution failed"))
	m.notify("READY=1\nSTATUS=" + m.status())
}

// loadFailed records a reload that did not take: the old workers go on serving.
func (m *Master) loadFailed(err error) {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	m.mu.Lock()
	m.failed++
	m.lastError = lines[0]
	m.mu.Unlock()
	for _, line := range lines {
		if line != "" {
			m.events.Error(line)
		}
	}
	m.events.Warn("Loading failure!")
}

// load binds what cfg needs (keeping every socket it already holds that still
// matches), starts a worker with the server state of the current one, and only once it
// serves tells the older workers to leave.
func (m *Master) load(cfg *config.Config, src []config.Source) error {
	fds, fresh, err := m.bindListeners(cfg)
	if err != nil {
		return err
	}
	start := startup{Config: src}
	m.mu.Lock()
	cur := m.current
	m.mu.Unlock()
	if cur != nil {
		if s, err := cur.ask(runtimeapi.LevelAdmin, "show servers state", 5*time.Second); err == nil && strings.HasPrefix(s, "1\n") {
			start.States = s
		}
		start.Tables = cur.tables(10 * time.Second)
	}
	start.TicketKeys = m.ticketKeys(cur)
	start.Certs = m.committedCerts(cur)
	w, err := m.spawn(fds, start)
	if err != nil {
		for _, fd := range fresh {
			unix.Close(fd)
		}
		return err
	}
	m.mu.Lock()
	old := append([]*proc(nil), m.procs...)
	keep := map[int]bool{}
	for _, fd := range fds {
		keep[fd] = true
	}
	var unused []int
	for _, fd := range m.listeners {
		if !keep[fd] {
			unused = append(unused, fd)
		}
	}
	m.listeners = fds
	m.procs = append(m.procs, w)
	m.current = w
	m.last = start
	m.failed = 0
	max := m.maxReloads
	if m.stopping {
		syscall.Kill(w.pid, syscall.SIGTERM) // a stop came while it started
	}
	m.mu.Unlock()
	for _, fd := range unused {
		unix.Close(fd)
	}
	if m.opts.Pidfile != "" {
		if err := WritePidfile(m.opts.Pidfile, os.Getpid()); err != nil {
			m.events.Error(fmt.Sprintf("Cannot create pidfile %s", m.opts.Pidfile))
		}
	}
	for _, p := range old {
		syscall.Kill(p.pid, syscall.SIGUSR1)
		if max >= 0 && p.reloads > max {
			syscall.Kill(p.pid, syscall.SIGTERM)
		}
	}
	m.events.Info(fmt.Sprintf("New worker (%d) forked", w.pid))
	m.events.Info("Loading success.")
	return nil
}

// bindListeners returns a listening socket for every bind line of cfg, in order:
// one the master already holds when it matches, a new one otherwise (also in fresh).
func (m *Master) bindListeners(cfg *config.Config) (fds, fresh []int, err error) {
	m.mu.Lock()
	have := append([]int(nil), m.listeners...)
	m.mu.Unlock()
	used := map[int]bool{}
	for _, p := range cfg.Proxies {
		if !p.IsFrontend() {
			continue
		}
		backlog := p.MaxConn
		if backlog == 0 {
			backlog = cfg.Global.MaxConn
		}
		for _, b := range p.Binds {
			fd := -1
			for _, h := range have {
				if !used[h] && listener.MatchFD(b, h) {
					fd = h
					break
				}
			}
			if fd < 0 {
				ln, err := listener.Listen(b, backlog)
				if err == nil {
					fd, err = dupListener(ln)
					ln.Close()
				}
				if err != nil {
					for _, f := range fresh {
						unix.Close(f)
					}
					return nil, nil, fmt.Errorf("binding [%s] for frontend %s: %w", b.Pos, p.Name, err)
				}
				fresh = append(fresh, fd)
			}
			used[fd] = true
			fds = append(fds, fd)
		}
	}
	return fds, fresh, nil
}

// dupListener returns a close-on-exec duplicate of a listener's descriptor, which the
// master keeps as a plain number (never as an *os.File, whose Fd would make the shared
// socket blocking for every worker).
func dupListener(ln net.Listener) (int, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return -1, errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) })
	return fd, derr
}

// exited handles a worker's end. It reports whether a replacement must be scheduled
// (at m.restartAt).
func (m *Master) exited(e exit) bool {
	m.mu.Lock()
	idx := -1
	for i, p := range m.procs {
		if p == e.p {
			idx = i
		}
	}
	if idx < 0 {
		m.mu.Unlock()
		return false // a worker that never became ready
	}
	m.procs = append(m.procs[:idx], m.procs[idx+1:]...)
	e.p.ipc.Close()
	wasCurrent := m.current == e.p
	stopping := m.stopping
	if wasCurrent {
		m.current = nil
	}
	m.mu.Unlock()
	if !wasCurrent {
		m.events.Warn(fmt.Sprintf("Former worker (%d) exited with code %d (%s)", e.p.pid, e.code, e.why))
		return false
	}
	if stopping {
		m.events.Warn(fmt.Sprintf("Current worker (%d) exited with code %d (%s)", e.p.pid, e.code, e.why))
		return false
	}
	m.events.Error(fmt.Sprintf("Current worker (%d) exited with code %d (%s)", e.p.pid, e.code, e.why))
	m.scheduleRestart(time.Now())
	return true
}

// scheduleRestart sets when the next replacement worker starts, from the crash
// history: at once, unless the worker keeps crashing.
func (m *Master) scheduleRestart(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	recent := m.crashes[:0]
	for _, t := range m.crashes {
		if now.Sub(t) < crashWindow {
			recent = append(recent, t)
		}
	}
	m.crashes = append(recent, now)
	m.restartAt = now
	if n := len(m.crashes); n > crashBurst {
		d := 100 * time.Millisecond << min(n-crashBurst-1, 10)
		m.restartAt = now.Add(min(d, maxBackoff))
		m.events.Error(fmt.Sprintf("Workers keep exiting (%d times in %v): next start in %v", n, crashWindow, min(d, maxBackoff)))
	}
}

// replace starts a worker in place of one that crashed, on the same sockets. It
// reports false when it must be tried again later (at m.restartAt).
func (m *Master) replace() bool {
	m.mu.Lock()
	if m.stopping || m.current != nil {
		m.mu.Unlock()
		return true
	}
	fds, start := append([]int(nil), m.listeners...), m.last
	m.mu.Unlock()
	w, err := m.spawn(fds, start)
	if err != nil {
		m.events.Error(fmt.Sprintf("Cannot start a new worker: %v", err))
		m.scheduleRestart(time.Now())
		m.notify("STATUS=" + m.status())
		return false
	}
	m.mu.Lock()
	m.procs = append(m.procs, w)
	m.current = w
	if m.stopping {
		syscall.Kill(w.pid, syscall.SIGTERM)
	}
	m.mu.Unlock()
	m.events.Info(fmt.Sprintf("New worker (%d) forked", w.pid))
	m.notify("STATUS=" + m.status())
	return true
}

// stop is SIGTERM, SIGINT or SIGUSR1 to the master: the same signal goes to every
// worker, and the master leaves when they are all gone.
func (m *Master) stop(sig syscall.Signal) {
	m.mu.Lock()
	first := !m.stopping
	m.stopping = true
	if sig == syscall.SIGINT {
		m.exitCode = 130
	}
	if m.stopPipe >= 0 {
		unix.Write(m.stopPipe, []byte{byte(sig)})
	}
	m.mu.Unlock()
	if first {
		m.notify("STOPPING=1")
		m.events.Warn("Exiting Master process...")
	}
	m.signalAll(sig)
	select {
	case m.stopped <- struct{}{}:
	default:
	}
}

func (m *Master) signalAll(sig syscall.Signal) {
	m.mu.Lock()
	procs := append([]*proc(nil), m.procs...)
	m.mu.Unlock()
	for _, p := range procs {
		syscall.Kill(p.pid, sig)
	}
}

// closeAll closes every descriptor the master holds.
func (m *Master) closeAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, fd := range m.listeners {
		unix.Close(fd)
	}
	m.listeners = nil
	for _, cl := range m.cli {
		cl.ln.Close()
	}
	m.cli = nil
}

// WritePidfile writes the pid atomically: a temporary file renamed over the path.
func WritePidfile(path string, pid int) error {
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
