package master

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"hitless/internal/config"
	"hitless/internal/runtimeapi"
)

// proc is one worker as the master sees it.
type proc struct {
	pid     int
	ipc     *net.UnixConn // the master's end of the worker's private socket
	reloads int           // reloads survived; the current worker has the fewest
	started time.Time
	version string

	sendMu sync.Mutex // one descriptor handed over at a time
}

// exit is a worker's end, as wait reports it.
type exit struct {
	p    *proc
	code int    // exit status, or 128 + signal
	why  string // "Exit" or the signal's name, as HAProxy prints them
}

// readyTimeout bounds how long a new worker may take to serve its listeners.
const readyTimeout = 30 * time.Second

// spawn starts a worker on the listening descriptors fds with the configuration the
// master validated and the server state to start from (may be empty), and returns
// once it reports ready or has failed.
func (m *Master) spawn(fds []int, start startup) (*proc, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot create the worker's socket: %v", err)
	}
	defer func() {
		if pair[1] >= 0 {
			unix.Close(pair[1])
		}
	}()
	stateFD, err := start.memfd()
	if err != nil {
		unix.Close(pair[0])
		return nil, fmt.Errorf("cannot hand the configuration to the worker: %v", err)
	}
	defer unix.Close(stateFD)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		unix.Close(pair[0])
		return nil, err
	}
	defer devnull.Close()
	// fd 0 is /dev/null, 1 and 2 are ours, 3 the private socket, 4 the state (or
	// /dev/null), then the listeners.
	var null uintptr
	if rc, err := devnull.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { null = fd })
	}
	files := []uintptr{null, 1, 2, uintptr(pair[1]), uintptr(stateFD)}
	desc := workerFDs{ipc: 3, state: 4, first: 5, nlisten: len(fds)}
	for _, fd := range fds {
		files = append(files, uintptr(fd))
	}
	pid, err := syscall.ForkExec(m.binary, m.args, &syscall.ProcAttr{
		Env:   childEnv(workerEnv + "=" + desc.String()),
		Files: files,
	})
	if err != nil {
		unix.Close(pair[0])
		return nil, fmt.Errorf("cannot start a worker from %s: %v", m.binary, err)
	}
	ipc, err := unixConn(pair[0])
	if err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		return nil, err
	}
	p := &proc{pid: pid, ipc: ipc, started: time.Now(), version: m.version}
	m.watch(p)
	unix.Close(pair[1])
	pair[1] = -1
	if err := awaitReady(ipc); err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		ipc.Close()
		return p, err
	}
	return p, nil
}

// startup is what a new worker starts from, on the descriptor named state=: its
// JSON, then, after a newline, the stick tables as raw bytes (a million entries
// are 30 MB, which base64 in JSON would only slow down).
type startup struct {
	Config []config.Source `json:"config"`
	States string          `json:"states,omitempty"` // `show servers state`
	// TicketKeys are the TLS session-ticket keys (tlsconf.ProcessKeys.Encode): a
	// secret, carried only in this anonymous memory file.
	TicketKeys string `json:"ticket_keys,omitempty"`
	// Certs are the certificates committed at runtime (tlsconf.Store.Committed).
	Certs  string `json:"certs,omitempty"`
	Tables []byte `json:"-"` // the previous worker's `_tables`
}

// maxStartup bounds what a worker reads from the master: the configuration and
// server state, and the tables.
const maxStartup = 256<<20 + 1<<30

// splitStartup separates the JSON of a startup from the tables that follow it
// (JSON never holds a raw newline).
func splitStartup(b []byte) (js, tables []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// memfd writes s to an anonymous in-memory file and returns its descriptor.
func (s startup) memfd() (int, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return -1, err
	}
	if len(s.Tables) > 0 {
		b = append(append(b, '\n'), s.Tables...)
	}
	fd, err := unix.MemfdCreate("hitless-worker-startup", unix.MFD_CLOEXEC)
	if err != nil {
		return -1, err
	}
	if _, err := unix.Pwrite(fd, b, 0); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// awaitReady reads the worker's start-up report.
func awaitReady(ipc *net.UnixConn) error {
	ipc.SetReadDeadline(time.Now().Add(readyTimeout))
	defer ipc.SetReadDeadline(time.Time{})
	line, err := bufio.NewReaderSize(ipc, 4096).ReadString('\n')
	switch {
	case line == "ready\n":
		return nil
	case strings.HasPrefix(line, "failed "):
		return errors.New(strings.TrimSpace(strings.TrimPrefix(line, "failed ")))
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("the new worker did not become ready within %v", readyTimeout)
	default:
		return errors.New("the new worker exited during start-up")
	}
}

// unixConn wraps a socket descriptor, taking ownership of it.
func unixConn(fd int) (*net.UnixConn, error) {
	f := os.NewFile(uintptr(fd), "worker-ipc")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, errors.New("not a unix socket")
	}
	return uc, nil
}

// watch reaps p when it exits and reports it on m.exits.
func (m *Master) watch(p *proc) {
	go func() {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(p.pid, &ws, 0, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				// Not our child (any more): poll until it is gone.
				for unix.Kill(p.pid, 0) == nil {
					time.Sleep(100 * time.Millisecond)
				}
				m.exits <- exit{p: p, code: 0, why: "Exit"}
				return
			}
			break
		}
		e := exit{p: p, code: ws.ExitStatus(), why: "Exit"}
		if ws.Signaled() {
			e.code = 128 + int(ws.Signal())
			e.why = signalName(ws.Signal())
		}
		m.exits <- e
	}()
}

// signalName is the C library's description of a signal, as HAProxy prints it.
func signalName(s unix.Signal) string {
	names := map[unix.Signal]string{
		unix.SIGKILL: "Killed", unix.SIGTERM: "Terminated", unix.SIGINT: "Interrupt",
		unix.SIGSEGV: "Segmentation fault", unix.SIGABRT: "Aborted", unix.SIGBUS: "Bus error",
		unix.SIGQUIT: "Quit", unix.SIGHUP: "Hangup", unix.SIGPIPE: "Broken pipe",
		unix.SIGUSR1: "User defined signal 1", unix.SIGUSR2: "User defined signal 2",
		unix.SIGFPE: "Floating point exception", unix.SIGILL: "Illegal instruction",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return s.String()
}

// dial opens a Runtime API connection to the worker at the given level: a fresh
// socket pair whose other end travels over the private socket.
func (p *proc) dial(level runtimeapi.Level) (net.Conn, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	p.sendMu.Lock()
	p.ipc.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, _, err = p.ipc.WriteMsgUnix([]byte{levelByte(level)}, unix.UnixRights(pair[1]), nil)
	p.sendMu.Unlock()
	unix.Close(pair[1])
	if err != nil {
		unix.Close(pair[0])
		return nil, fmt.Errorf("cannot reach worker %d: %v", p.pid, err)
	}
	return unixConn(pair[0])
}

// ask runs one Runtime API command on the worker and returns its whole answer.
func (p *proc) ask(level runtimeapi.Level, cmd string, timeout time.Duration) (string, error) {
	var b strings.Builder
	err := p.run(level, cmd, &limitedWriter{w: &b, n: 64 << 20}, timeout)
	return b.String(), err
}

// tables fetches the worker's stick tables (`_tables`) for its successor.
func (p *proc) tables(timeout time.Duration) []byte {
	var b bytes.Buffer
	if err := p.run(runtimeapi.LevelAdmin, "_tables", &limitedWriter{w: &b, n: 1 << 30}, timeout); err != nil {
		return nil
	}
	return b.Bytes()
}

// run sends one Runtime API command to the worker and copies its answer to w.
func (p *proc) run(level runtimeapi.Level, cmd string, w io.Writer, timeout time.Duration) error {
	c, err := p.dial(level)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return err
	}
	c.(*net.UnixConn).CloseWrite()
	_, err = io.Copy(w, c)
	return err
}

// limitedWriter keeps at most n bytes and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if len(b) > l.n {
		l.w.Write(b[:l.n])
		l.n = 0
		return len(b), nil
	}
	l.n -= len(b)
	return l.w.Write(b)
}
