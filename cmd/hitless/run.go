package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"hitless/internal/config"
	"hitless/internal/fdpass"
	"hitless/internal/instance"
	"hitless/internal/listener"
	"hitless/internal/logging"
	"hitless/internal/master"
	"hitless/internal/privilege"
	"hitless/internal/runtimeapi"
	"hitless/internal/tlsconf"
)

// env is every effect run has on the operating system beyond the instance itself, so
// that tests can run it in-process.
type env struct {
	stdout, stderr io.Writer
	pid            int
	lookupEnv      func(string) (string, bool)
	signals        func(c chan<- os.Signal, sig ...os.Signal) // signal.Notify
	startDaemon    func(args []string) (pid int, err error)
	daemonReady    func(err error) // the child of -D reports its start-up outcome
	// attach returns this worker's link to its master (nil outside master-worker mode).
	attach func() (*master.Link, error)
}

const daemonEnv = "HITLESS_DAEMON_CHILD"

func defaultEnv() *env {
	e := &env{
		stdout:      os.Stdout,
		stderr:      os.Stderr,
		pid:         os.Getpid(),
		lookupEnv:   os.LookupEnv,
		signals:     signal.Notify,
		startDaemon: startDaemon,
		daemonReady: func(error) {},
		attach:      master.Attach,
	}
	if os.Getenv(daemonEnv) == "1" {
		e.daemonReady = reportToParent
	}
	return e
}

// run is the whole program: it returns the exit code.
func run(ctx context.Context, argv []string, e *env) (code int) {
	prog := filepath.Base(argv[0])
	o, err := parseArgs(argv[1:])
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: %v\n", prog, err)
		fmt.Fprintf(e.stderr, usageText, prog)
		return 1
	}
	if o.version {
		fmt.Fprintf(e.stdout, "hitless version %s - HAProxy 2.6 configuration compatible\nRunning on: %s/%s %s\n",
			version, runtime.GOOS, runtime.GOARCH, runtime.Version())
		return 0
	}
	quiet := o.quiet && !o.verbose && !o.debug
	_, isChild := e.lookupEnv(daemonEnv)
	link, err := e.attach()
	if err != nil {
		fmt.Fprintf(e.stderr, "[ALERT]    (%d) : %v\n", e.pid, err)
		return 1
	}
	// A worker, and a master that re-executed itself, are already where they belong.
	reexec := master.Reexecuted()
	settled := link != nil || reexec || o.systemd
	if o.daemon && !o.check && !isChild && !settled {
		// -D: the child does all the work once, and tells us how start-up went.
		if _, err := e.startDaemon(argv); err != nil {
			if !quiet {
				fmt.Fprint(e.stderr, strings.TrimSuffix(err.Error(), "\n")+"\n")
			}
			return 1
		}
		return 0
	}
	if isChild {
		// Our stderr is /dev/null: keep what we print, for the parent to show.
		var captured syncBuffer
		real := *e
		e = &real
		e.stderr = io.MultiWriter(e.stderr, &captured)
		reported := false
		ready := e.daemonReady
		e.daemonReady = func(err error) {
			reported = true
			if err != nil && captured.Len() > 0 {
				err = errors.New(captured.String())
			}
			ready(err)
		}
		defer func() {
			if !reported {
				msg := captured.String()
				if msg == "" {
					msg = fmt.Sprintf("daemon exited with status %d during start-up", code)
				}
				ready(errors.New(msg))
			}
		}()
		quiet = false
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	var evw io.Writer = e.stderr
	if quiet {
		evw = io.Discard
	}
	events := slog.New(logging.NewEventHandler(evw, e.pid, level))
	alert := func(msg string) {
		if !quiet {
			fmt.Fprintf(e.stderr, "[ALERT]    (%d) : %s\n", e.pid, msg)
		}
	}

	if o.chdir != "" {
		if err := os.Chdir(o.chdir); err != nil {
			alert(fmt.Sprintf("Could not change to directory %s : %v", o.chdir, err))
			return 1
		}
	}
	masterOpts := func() master.Options {
		var clis []config.StatsSocket
		for _, spec := range o.masterCLI {
			if s, err := config.ParseMasterCLI(spec); err == nil {
				clis = append(clis, s)
			}
		}
		return master.Options{Args: masterArgs(argv), Version: version, Notify: o.systemd, CLI: clis,
			Events: events, Signals: e.signals, Ready: e.daemonReady}
	}
	var src []config.Source
	if link != nil && link.Config != nil {
		src = link.Config // what the master validated, whatever the files hold now
	} else {
		src, err = config.Read(o.files)
	}
	var cfg *config.Config
	if err == nil {
		cfg, err = config.LoadSources(src, e.lookupEnv)
	}
	if err != nil {
		if !quiet {
			var list config.ErrorList
			switch {
			case o.verbose:
				writeAlerts(e.stderr, e.pid, err)
			case errors.As(err, &list):
				for _, le := range list {
					fmt.Fprintln(e.stderr, le.Error())
				}
			default:
				fmt.Fprintln(e.stderr, err.Error())
			}
		}
		if link != nil {
			link.Ready(errors.New("errors in the configuration"))
		}
		if reexec {
			// A reload with a broken configuration: the master stays, the old workers
			// go on serving.
			return master.Run(ctx, masterOpts(), nil, nil, errors.New("Fatal errors found in configuration."))
		}
		return 1
	}
	cfg.ResolvePeers(o.localPeer)
	if !quiet {
		for _, w := range cfg.Warnings {
			fmt.Fprintf(e.stderr, "[WARNING]  (%d) : config : %s\n", e.pid, w)
		}
	}
	if o.check {
		if !quiet && len(cfg.Warnings) > 0 {
			fmt.Fprintln(e.stdout, "Warnings were found.")
		}
		if !cfg.HasListener() {
			if !quiet {
				fmt.Fprintln(e.stdout, "Configuration file has no error but will not start (no listener) => exit(2).")
			}
			return 2
		}
		if !quiet {
			fmt.Fprintln(e.stdout, "Configuration file is valid")
		}
		return 0
	}
	if !cfg.HasListener() {
		alert(fmt.Sprintf("[%s.main()] No enabled listener found (check for 'bind' directives) ! Exiting.", argv[0]))
		return 1
	}
	pidfile := o.pidfile
	if pidfile == "" {
		pidfile = cfg.Global.PidFile
	}
	isMaster := (o.master || cfg.Global.MasterWorker) && link == nil
	if len(o.masterCLI) > 0 && !isMaster && link == nil && !quiet {
		fmt.Fprintf(e.stderr, "[WARNING]  (%d) : a master CLI socket was defined, but master-worker mode (-W) is not enabled.\n", e.pid)
	}
	if isMaster {
		for _, spec := range o.masterCLI {
			if _, err := config.ParseMasterCLI(spec); err != nil {
				alert(err.Error())
				alert("Can't create the master's CLI.")
				return 1
			}
		}
	}
	if cfg.Global.Daemon && !o.debug && !isChild && !settled {
		// `daemon` in the configuration: the same as -D.
		if _, err := e.startDaemon(argv); err != nil {
			if !quiet {
				fmt.Fprint(e.stderr, strings.TrimSuffix(err.Error(), "\n")+"\n")
			}
			return 1
		}
		return 0
	}

	g := cfg.Global
	drop := privilege.Settings{Chroot: g.Chroot, UID: g.UID, GID: g.GID}
	if err := privilege.Check(drop); err != nil {
		alert(err.Error())
		e.daemonReady(err)
		return 1
	}

	if isMaster {
		mo := masterOpts()
		mo.Pidfile = pidfile
		return master.Run(ctx, mo, cfg, src, nil)
	}

	// Signals are caught from here on: one sent as soon as the pidfile names this
	// process (SIGTTOU, SIGUSR1) waits for the loop instead of killing it.
	sigs := make(chan os.Signal, 8)
	e.signals(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTTOU, syscall.SIGTTIN)

	var inherited []*listener.Inherited
	var states []runtimeapi.ServerState
	var keys tlsconf.ProcessKeys
	var certs string
	var tables io.Reader
	if link != nil {
		tables = tablesOf(link.Tables)
		for _, f := range link.Listeners {
			inherited = append(inherited, &listener.Inherited{File: f})
		}
		states = runtimeapi.ParseServersState(link.States)
		keys, _ = tlsconf.DecodeProcessKeys(link.TicketKeys)
		certs = link.Certs
		pidfile, o.oldPids = "", nil
	} else if o.sockPath != "" && o.sockPath != "/dev/null" {
		var err error
		if inherited, err = fetchSockets(o.sockPath); err != nil {
			warn := func(msg string) {
				if !quiet {
					fmt.Fprintf(e.stderr, "[WARNING]  (%d) : %s\n", e.pid, msg)
				}
			}
			warn(fmt.Sprintf("Failed to connect to the old process socket '%s'", o.sockPath))
			warn(fmt.Sprintf("Failed to get the sockets from the old process (%v); binding new sockets with SO_REUSEPORT.", err))
		}
	}
	if inherited != nil && link == nil {
		states = fetchServerStates(o.sockPath)
		keys = fetchTicketKeys(o.sockPath)
		certs = askOld(o.sockPath, "_tls-committed-certs")
		if c := fetchTables(o.sockPath); c != nil {
			tables = c // read by the start, closed right after it
		}
	}
	// Once everything is bound and every log target open, before serving: the pidfile
	// (written while still privileged), then chroot, setgid, setuid.
	beforeServe := func() error {
		if pidfile != "" && master.WritePidfile(pidfile, e.pid) != nil {
			return fmt.Errorf("[%s.main()] Cannot create pidfile %s", argv[0], pidfile)
		}
		return privilege.Drop(drop)
	}
	in, err := startWithRetries(cfg, instance.Options{Events: events, MaxConn: o.maxconn, Inherited: inherited,
		Version: version, ServerStates: states, TicketKeys: keys, CommittedCerts: certs, Tables: tables, BeforeServe: beforeServe}, o.oldPids)
	listener.CloseInherited(inherited)
	if c, ok := tables.(io.Closer); ok {
		c.Close()
	}
	if bs := (*instance.BeforeServeError)(nil); errors.As(err, &bs) {
		alert(bs.Error())
		signalPids(o.oldPids, syscall.SIGTTIN)
		e.daemonReady(err)
		return 1
	}
	if err != nil {
		alert(err.Error())
		alert(fmt.Sprintf("[%s.main()] Some protocols failed to start their listeners! Exiting.", argv[0]))
		e.daemonReady(err)
		if link != nil {
			link.Ready(err)
		}
		return 1
	}
	// Every listener is ready: only now are the old processes told to leave.
	if o.terminate {
		signalPids(o.oldPids, syscall.SIGTERM)
	} else {
		signalPids(o.oldPids, syscall.SIGUSR1)
	}
	e.daemonReady(nil)
	if link != nil {
		link.Ready(nil)
		go func() {
			link.Serve(in.ServeCLI)
			// The master is gone: leave as on SIGUSR1, finishing what is in flight.
			events.Warn("The master process is gone: stopping.")
			sigs <- syscall.SIGUSR1
		}()
	}
	events.Debug(fmt.Sprintf("hitless %s started, listening on %s (%d listeners taken over)", version, strings.Join(in.Addrs(), " "), in.Adopted()))

	drained := make(chan struct{})
	var hardStop <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			in.Stop()
			in.Wait(5 * time.Second)
			return 0
		case <-drained:
			in.Stop()
			in.Wait(5 * time.Second)
			return 0
		case <-hardStop:
			events.Warn("hard-stop-after reached: closing the remaining connections.")
			in.Stop()
			in.Wait(5 * time.Second)
			return 0
		case s := <-sigs:
			switch s {
			case syscall.SIGHUP:
				dumpStates(in, events)
			case syscall.SIGUSR1:
				if in.Stopping() {
					continue
				}
				for _, name := range in.FrontendNames() {
					events.Warn(fmt.Sprintf("Proxy %s stopped.", name))
				}
				if d := cfg.Global.HardStopAfter; d > 0 {
					hardStop = time.After(d)
				}
				go func() {
					in.SoftStop(cfg.Global.Grace)
					in.Drain()
					close(drained)
				}()
			case syscall.SIGTTOU:
				in.Pause()
				events.Warn("Paused all frontends.")
			case syscall.SIGTTIN:
				in.Resume()
				events.Warn("Resumed all frontends.")
			}
		}
	}
}

// fetchSockets asks an older process (hitless or HAProxy) for its listening sockets
// over its stats socket.
func fetchSockets(path string) ([]*listener.Inherited, error) {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	socks, err := fdpass.Receive(c.(*net.UnixConn))
	if err != nil {
		return nil, err
	}
	out := make([]*listener.Inherited, len(socks))
	for i, s := range socks {
		out[i] = &listener.Inherited{File: s.File, Namespace: s.Namespace, Interface: s.Interface}
	}
	return out, nil
}

// fetchServerStates asks the older process for `show servers state`, so that server
// state survives the reload; nil when it cannot answer.
func fetchServerStates(path string) []runtimeapi.ServerState {
	return runtimeapi.ParseServersState(askOld(path, "show servers state"))
}

// fetchTicketKeys asks the older process for its TLS session-ticket keys, so that its
// clients resume their sessions here; nil when it cannot answer (HAProxy, or a socket
// without admin level and expose-fd listeners): new keys are made then.
func fetchTicketKeys(path string) tlsconf.ProcessKeys {
	k, err := tlsconf.DecodeProcessKeys(strings.TrimSpace(askOld(path, "_tls-session-keys")))
	if err != nil {
		return nil
	}
	return k
}

// askOld sends one command to the older process's stats socket and returns the
// answer, "" when it cannot be reached.
func askOld(path, cmd string) string {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return ""
	}
	b, err := io.ReadAll(io.LimitReader(c, 64<<20))
	if err != nil {
		return ""
	}
	return string(b)
}

// startWithRetries starts the instance; when a port is still held by an old process
// that does not share it (no SO_REUSEPORT), it asks the old processes to pause their
// listeners (SIGTTOU) and retries every 10 ms for about 2 s, as HAProxy does, then
// tells them to resume (SIGTTIN) if it gives up.
func startWithRetries(cfg *config.Config, opts instance.Options, oldPids []int) (*instance.Instance, error) {
	var retried bool
	for try := 0; ; try++ {
		in, err := instance.Start(cfg, opts)
		if err == nil {
			return in, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) || len(oldPids) == 0 || try >= 200 {
			if retried {
				signalPids(oldPids, syscall.SIGTTIN)
			}
			return nil, err
		}
		if signalPids(oldPids, syscall.SIGTTOU) == 0 {
			return nil, err
		}
		retried = true
		time.Sleep(10 * time.Millisecond)
	}
}

// signalPids sends sig to each pid and returns how many it reached.
func signalPids(pids []int, sig syscall.Signal) int {
	n := 0
	for _, pid := range pids {
		if syscall.Kill(pid, sig) == nil {
			n++
		}
	}
	return n
}

// startDaemon re-executes the binary in a new session with stdio on /dev/null, and
// waits for it to report that its listeners are bound (or why not) on a pipe.
func startDaemon(argv []string) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("cannot find own executable: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	cmd := exec.Command(exe, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = append(os.Environ(), daemonEnv+"=1")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return 0, fmt.Errorf("cannot start daemon: %w", err)
	}
	w.Close()
	msg, _ := io.ReadAll(r)
	if string(msg) != "ok\n" {
		cmd.Wait()
		if len(msg) == 0 {
			msg = []byte("daemon exited during start-up")
		}
		return 0, errors.New(string(msg))
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	return pid, nil
}

// reportToParent tells the process that started this daemon how start-up went, on the
// pipe it passed as fd 3, then closes it.
func reportToParent(err error) {
	f := os.NewFile(3, "daemon-ready")
	if f == nil {
		return
	}
	msg := "ok\n"
	if err != nil {
		msg = err.Error()
	}
	f.WriteString(msg)
	f.Close()
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of event logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// dumpStates answers SIGHUP as HAProxy does: one line per server and per backend.
func dumpStates(in *instance.Instance, events *slog.Logger) {
	events.Warn("SIGHUP received, dumping servers states.")
	for _, line := range in.StateLines() {
		events.Warn(line)
	}
}

// writeAlerts prints configuration errors in HAProxy 2.6's form, for -V and the
// scripts that parse HAProxy's output: "[ALERT]    (PID) : config : parsing
// [FILE:LINE] : MSG" per error, then one "Error(s) found in configuration file : FILE"
// per file with errors, then "Fatal errors found in configuration.".
func writeAlerts(w io.Writer, pid int, err error) {
	alert := func(msg string) { fmt.Fprintf(w, "[ALERT]    (%d) : config : %s\n", pid, msg) }
	var list config.ErrorList
	if !errors.As(err, &list) {
		alert(err.Error())
		alert("Fatal errors found in configuration.")
		return
	}
	var files []string
	for _, le := range list {
		if le.Pos.File == "" {
			alert(le.Msg)
			continue
		}
		alert(fmt.Sprintf("parsing [%s:%d] : %s", le.Pos.File, le.Pos.Line, le.Msg))
		if !slices.Contains(files, le.Pos.File) {
			files = append(files, le.Pos.File)
		}
	}
	for _, f := range files {
		alert("Error(s) found in configuration file : " + f)
	}
	alert("Fatal errors found in configuration.")
}
