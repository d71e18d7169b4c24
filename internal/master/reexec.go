package master

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"

	"hitless/internal/runtimeapi"
)

// errStopping ends a reload that a stop overtook.
var errStopping = errors.New("the master is stopping")

// precheckTimeout bounds the check of a new binary and configuration.
const precheckTimeout = 30 * time.Second

// precheck runs the binary on disk with -c on the same command line before the master
// replaces itself with it: a configuration with errors, or a binary that does not
// start, fails here and the master stays as it is.
func (m *Master) precheck() error {
	ctx, cancel := context.WithTimeout(context.Background(), precheckTimeout)
	defer cancel()
	args := append([]string{"-c"}, m.args[1:]...)
	cmd := exec.CommandContext(ctx, m.binary, args...)
	cmd.Args[0] = m.args[0]
	cmd.Env = childEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(out.String())
	if ctx.Err() != nil {
		msg += fmt.Sprintf("\nchecking the new configuration took more than %v", precheckTimeout)
	}
	if msg == "" {
		msg = fmt.Sprintf("%s -c failed: %v", m.binary, err)
	}
	return fmt.Errorf("%s", msg)
}

// reexec replaces the master's image with the binary on disk, handing over every
// descriptor it holds and its process list. It returns only on failure.
func (m *Master) reexec() error {
	// A stop that arrives from now on must reach the next image: the stop handler
	// writes the signal into this pipe, whose read end the next image inherits.
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return err
	}
	defer unix.Close(pipe[0])
	m.mu.Lock()
	if m.stopping {
		m.mu.Unlock()
		unix.Close(pipe[1])
		return errStopping
	}
	m.stopPipe = pipe[1]
	defer func() {
		m.mu.Lock()
		m.stopPipe = -1
		m.mu.Unlock()
		unix.Close(pipe[1])
	}()
	st := &savedState{
		StopFD:  pipe[0],
		Started: m.started.UnixMilli(),
		Reloads: m.reloads,
		Failed:  m.failed,
		Binary:  m.binary,
	}
	for _, t := range m.crashes {
		st.Crashes = append(st.Crashes, t.UnixMilli())
	}
	if m.current != nil {
		st.Current = m.current.pid
	}
	fds := []int{pipe[0]}
	for _, p := range m.procs {
		fd := connFD(p.ipc)
		st.Procs = append(st.Procs, savedProc{Pid: p.pid, IPC: fd, Reloads: p.reloads, Started: p.started.UnixMilli(), Version: p.version})
		fds = append(fds, fd)
	}
	st.Last = -1
	if m.last.Config != nil {
		if fd, err := m.last.memfd(); err == nil {
			st.Last = fd
			fds = append(fds, fd)
			defer unix.Close(fd)
		}
	}
	st.Listeners = append(st.Listeners, m.listeners...)
	fds = append(fds, m.listeners...)
	for _, cl := range m.cli {
		fd := connFD(cl.ln.(syscall.Conn))
		st.CLI = append(st.CLI, savedCLI{FD: fd, Level: cl.level.String()})
		fds = append(fds, fd)
	}
	m.mu.Unlock()
	for _, fd := range fds {
		setInheritable(fd, true)
	}
	env := append(childEnv(), stateEnv+"="+st.encode())
	if s, ok := os.LookupEnv("NOTIFY_SOCKET"); ok {
		env = append(env, "NOTIFY_SOCKET="+s)
	}
	// Signals that arrive while the next image starts stay pending until it listens
	// for them: block them on the thread that calls execve (the mask survives it).
	// SIGHUP cannot stay blocked in a Go program, but an ignored one stays ignored
	// until the next image asks for it: a SIGHUP in that window is lost, not fatal.
	signal.Ignore(syscall.SIGHUP)
	runtime.LockOSThread()
	var set, old unix.Sigset_t
	for _, s := range []unix.Signal{unix.SIGUSR1, unix.SIGUSR2, unix.SIGTTOU, unix.SIGTTIN} {
		set.Val[(s-1)/64] |= 1 << (uint(s-1) % 64)
	}
	unix.PthreadSigmask(unix.SIG_BLOCK, &set, &old)
	err := syscall.Exec(m.binary, m.args, env)
	unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	runtime.UnlockOSThread()
	for _, fd := range fds {
		setInheritable(fd, false)
	}
	if m.sigs != nil {
		m.opts.Signals(m.sigs, syscall.SIGHUP)
	}
	return err
}

// connFD is the descriptor number of a socket the master holds.
func connFD(c syscall.Conn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	rc.Control(func(s uintptr) { fd = int(s) })
	return fd
}

// restore takes over the state the previous image saved: its workers (still our
// children), listening sockets and master CLI.
func (m *Master) restore(st *savedState) {
	m.binary = st.Binary
	m.started = time.UnixMilli(st.Started)
	if st.StopFD > 0 {
		// A stop signal that came while the previous image was handing over.
		var b [1]byte
		if n, _ := unix.Read(st.StopFD, b[:]); n == 1 {
			m.stopping, m.stopSignal = true, syscall.Signal(b[0])
			if m.stopSignal == syscall.SIGINT {
				m.exitCode = 130
			}
		}
		unix.Close(st.StopFD)
	}
	m.reloads, m.failed = st.Reloads, st.Failed
	m.listeners = st.Listeners
	for _, fd := range st.Listeners {
		setInheritable(fd, false)
	}
	if st.Last >= 0 {
		m.last = readStartup(st.Last)
		unix.Close(st.Last)
	}
	for _, t := range st.Crashes {
		m.crashes = append(m.crashes, time.UnixMilli(t))
	}
	for _, sp := range st.Procs {
		setInheritable(sp.IPC, false)
		ipc, err := unixConn(sp.IPC)
		if err != nil {
			m.events.Error(fmt.Sprintf("lost the socket of worker %d: %v", sp.Pid, err))
			continue
		}
		p := &proc{pid: sp.Pid, ipc: ipc, reloads: sp.Reloads, started: time.UnixMilli(sp.Started), version: sp.Version}
		m.procs = append(m.procs, p)
		if sp.Pid == st.Current {
			m.current = p
		}
		m.watch(p)
	}
	for _, sc := range st.CLI {
		setInheritable(sc.FD, false)
		f := os.NewFile(uintptr(sc.FD), "master-cli")
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			m.events.Error(fmt.Sprintf("lost a master CLI socket: %v", err))
			continue
		}
		m.cli = append(m.cli, cliListener{ln, runtimeapi.ParseLevel(sc.Level)})
	}
	m.serveCLI()
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, for RELOADING=1.
func monotonicUsec() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Sec*1e6 + ts.Nsec/1e3
}

// sdNotify sends one message to systemd (NOTIFY_SOCKET), ignoring its absence.
func sdNotify(state string) {
	daemon.SdNotify(false, state)
}

// readStartup reads a startup memfd from its beginning.
func readStartup(fd int) startup {
	var st startup
	var stat unix.Stat_t
	if unix.Fstat(fd, &stat) != nil || stat.Size <= 0 || stat.Size > 256<<20 {
		return st
	}
	b := make([]byte, stat.Size)
	if n, err := unix.Pread(fd, b, 0); err == nil && n == len(b) {
		json.Unmarshal(b, &st)
	}
	return st
}
