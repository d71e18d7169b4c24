package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"hitless/internal/config"
	"hitless/internal/instance"
	"hitless/internal/logging"
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
	}
	if os.Getenv(daemonEnv) == "1" {
		e.daemonReady = reportToParent
	}
	return e
}

// run is the whole program: it returns the exit code.
func run(ctx context.Context, argv []string, e *env) int {
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
	cfg, err := config.Load(o.files, e.lookupEnv)
	if err != nil {
		if !quiet {
			var list config.ErrorList
			if errors.As(err, &list) {
				for _, le := range list {
					fmt.Fprintln(e.stderr, le.Error())
				}
			} else {
				fmt.Fprintln(e.stderr, err.Error())
			}
		}
		return 1
	}
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
	if msg := unsupportedModes(o, cfg); msg != "" {
		alert(msg)
		return 1
	}
	pidfile := o.pidfile
	if pidfile == "" {
		pidfile = cfg.Global.PidFile
	}
	daemon := (o.daemon || cfg.Global.Daemon) && !o.debug
	if daemon {
		if _, isChild := e.lookupEnv(daemonEnv); !isChild {
			pid, err := e.startDaemon(argv)
			if err != nil {
				alert(err.Error())
				return 1
			}
			if pidfile != "" {
				if err := writePidfile(pidfile, pid); err != nil {
					alert(fmt.Sprintf("[%s.main()] Cannot create pidfile %s", argv[0], pidfile))
					return 1
				}
			}
			return 0
		}
	}

	in, err := instance.Start(cfg, instance.Options{Events: events, MaxConn: o.maxconn})
	if err != nil {
		alert(err.Error())
		alert(fmt.Sprintf("[%s.main()] Some protocols failed to start their listeners! Exiting.", argv[0]))
		e.daemonReady(err)
		return 1
	}
	if pidfile != "" && !daemon {
		if err := writePidfile(pidfile, e.pid); err != nil {
			alert(fmt.Sprintf("[%s.main()] Cannot create pidfile %s", argv[0], pidfile))
			in.Stop()
			in.Wait(5 * time.Second)
			e.daemonReady(err)
			return 1
		}
	}
	e.daemonReady(nil)
	events.Debug(fmt.Sprintf("hitless %s started, listening on %s", version, strings.Join(in.Addrs(), " ")))

	sigs := make(chan os.Signal, 4)
	e.signals(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTTOU, syscall.SIGTTIN)
	for {
		select {
		case <-ctx.Done():
			in.Stop()
			in.Wait(5 * time.Second)
			return 0
		case s := <-sigs:
			switch s {
			case syscall.SIGHUP:
				dumpStates(in, events)
			case syscall.SIGUSR1:
				// Finish what is in flight, accept nothing new, then exit.
				events.Warn("SIGUSR1 received, stopping listeners and finishing established connections.")
				in.CloseListeners()
				go func() {
					in.Drain()
					signalSelf()
				}()
			default:
				// SIGUSR2, SIGTTOU and SIGTTIN do nothing in a standalone process yet.
			}
		}
	}
}

// unsupportedModes refuses the command-line modes that later work implements, rather
// than running without them and surprising the operator.
func unsupportedModes(o *options, cfg *config.Config) string {
	switch {
	case o.master || cfg.Global.MasterWorker:
		return "master-worker mode (-W, -Ws or 'master-worker') is not supported yet"
	case len(o.masterCLI) > 0:
		return "'-S' (master CLI) is not supported yet"
	case len(o.oldPids) > 0:
		return "'-sf'/'-st' (taking over from old processes) is not supported yet"
	case o.sockPath != "":
		return "'-x' (socket transfer) is not supported yet"
	}
	return ""
}

// writePidfile writes the pid atomically: a temporary file renamed over the path, so a
// reader never sees it empty.
func writePidfile(path string, pid int) error {
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
	line, _ := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSpace(line)
	if line != "ok" {
		cmd.Wait()
		if line == "" {
			line = "daemon exited during start-up"
		}
		return 0, errors.New(line)
	}
	cmd.Process.Release()
	return cmd.Process.Pid, nil
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
		msg = strings.ReplaceAll(err.Error(), "\n", " ") + "\n"
	}
	f.WriteString(msg)
	f.Close()
}

// signalSelf ends the main loop after a soft stop drained every connection.
func signalSelf() {
	p, _ := os.FindProcess(os.Getpid())
	p.Signal(syscall.SIGTERM)
}

// dumpStates answers SIGHUP as HAProxy does: one line per server and per backend.
func dumpStates(in *instance.Instance, events *slog.Logger) {
	events.Warn("SIGHUP received, dumping servers states.")
	for _, line := range in.StateLines() {
		events.Warn(line)
	}
}
