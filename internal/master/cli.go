package master

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"hitless/internal/config"
	"hitless/internal/listener"
	"hitless/internal/runtimeapi"
)

// cliIdle bounds how long a master CLI connection may stay silent.
const cliIdle = 10 * time.Minute

// bindCLI binds every -S socket.
func (m *Master) bindCLI() error {
	for _, ss := range m.opts.CLI {
		b := config.Bind{Pos: ss.Pos, Addr: ss.Addr, Mode: ss.Mode, HasMode: ss.HasMode, UID: ss.UID, GID: ss.GID}
		ln, err := listener.Listen(b, 16)
		if err != nil {
			for _, l := range m.cli {
				l.ln.Close()
			}
			m.cli = nil
			return fmt.Errorf("Can't create the master's CLI: %v", err)
		}
		m.cli = append(m.cli, cliListener{ln, runtimeapi.ParseLevel(ss.Level)})
	}
	m.serveCLI()
	return nil
}

// cliListener is one master CLI socket and the level it grants.
type cliListener struct {
	ln    net.Listener
	level runtimeapi.Level
}

// serveCLI accepts on every master CLI listener.
func (m *Master) serveCLI() {
	for _, cl := range m.cli {
		ln, level := cl.ln, cl.level
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					if errors.Is(err, net.ErrClosed) {
						return
					}
					time.Sleep(10 * time.Millisecond)
					continue
				}
				go m.cliSession(c, level)
			}
		}()
	}
}

// masterHelp is the master's own commands, as HAProxy's master CLI lists them.
var masterHelp = []string{
	runtimeapi.Usage("@!<pid>", "send a command to the <pid> process"),
	runtimeapi.Usage("@<relative pid>", "send a command to the <relative pid> process"),
	runtimeapi.Usage("@master", "send a command to the master process"),
	runtimeapi.Usage("operator", "lower the level of the current CLI session to operator"),
	runtimeapi.Usage("reload", "reload haproxy"),
	runtimeapi.Usage("show cli level", "display the level of the current CLI session"),
	runtimeapi.Usage("show proc", "show processes status"),
	runtimeapi.Usage("show version", "show version of the current process"),
	runtimeapi.Usage("user", "lower the level of the current CLI session to user"),
	runtimeapi.Usage("help [<command>]", "list matching or all commands"),
	runtimeapi.Usage("prompt", "toggle interactive mode with prompt"),
	runtimeapi.Usage("quit", "disconnect"),
}

// cliSession is one master CLI connection: several commands per connection, each
// handled by the master or forwarded to a worker; it ends when the client is done.
type cliSession struct {
	m      *Master
	c      net.Conn
	w      *bufio.Writer
	level  runtimeapi.Level
	prompt bool
	target string // "" = the master; else the prefix that names a worker
}

func (m *Master) cliSession(c net.Conn, level runtimeapi.Level) {
	defer c.Close()
	defer func() {
		// A bug in one session must never take the master, and so every worker, down.
		if r := recover(); r != nil {
			m.events.Error(fmt.Sprintf("master CLI session failed: %v", r))
		}
	}()
	s := &cliSession{m: m, c: c, w: bufio.NewWriter(c), level: level}
	br := bufio.NewReaderSize(c, 4096)
	for {
		c.SetReadDeadline(time.Now().Add(cliIdle))
		line, err := br.ReadString('\n')
		if err != nil && line == "" {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		more := true
		for _, cmd := range runtimeapi.SplitCommands(line) {
			if more = s.run(strings.TrimSpace(cmd)); !more {
				break
			}
		}
		if more && s.prompt {
			s.w.WriteString(s.promptText())
		}
		c.SetWriteDeadline(time.Now().Add(cliIdle))
		if s.w.Flush() != nil || !more {
			return
		}
	}
}

func (s *cliSession) promptText() string {
	if s.target != "" {
		if p := s.m.find(s.target); p != nil {
			return strconv.Itoa(p.pid) + "> "
		}
	}
	s.m.mu.Lock()
	failed := s.m.failed > 0
	s.m.mu.Unlock()
	if failed {
		return "master[ReloadFailed]> "
	}
	return "master> "
}

// run handles one command; false ends the session.
func (s *cliSession) run(cmd string) bool {
	if cmd == "" {
		return true
	}
	if strings.HasPrefix(cmd, "@") {
		prefix, rest, _ := strings.Cut(cmd, " ")
		rest = strings.TrimSpace(rest)
		target := strings.TrimPrefix(prefix, "@")
		if target == "" || target == "0" || target == "master" {
			target = ""
		} else if s.m.find(target) == nil {
			fmt.Fprintf(s.w, "Can't find the target PID matching the prefix '%s'\n", prefix)
			return false
		}
		if rest == "" {
			s.target = target
			return true
		}
		return s.dispatch(target, rest)
	}
	return s.dispatch(s.target, cmd)
}

// dispatch runs cmd on the master (target "") or forwards it to a worker.
func (s *cliSession) dispatch(target, cmd string) bool {
	words := strings.Fields(cmd)
	switch words[0] {
	case "prompt":
		s.prompt = !s.prompt
		return true
	case "quit":
		return false
	case "operator", "user":
		want := runtimeapi.ParseLevel(words[0])
		if want > s.level {
			s.w.WriteString("Permission denied!\n\n")
			return false
		}
		s.level = want
		return true
	}
	if target != "" {
		p := s.m.find(target)
		if p == nil {
			fmt.Fprintf(s.w, "Can't find the target PID matching the prefix '@%s'\n", target)
			return false
		}
		if err := s.forward(p, cmd); err != nil {
			s.w.WriteString("Can't connect to the target CLI!\n\n")
		}
		return true
	}
	switch strings.Join(words, " ") {
	case "help":
		for _, l := range masterHelp {
			s.w.WriteString("  " + l + "\n")
		}
		s.w.WriteString("\n")
	case "show proc":
		s.w.WriteString(s.m.showProc(time.Now()))
		s.w.WriteString("\n")
	case "show version":
		s.w.WriteString(s.m.version + "\n\n")
	case "show cli level":
		s.w.WriteString(s.level.String() + "\n\n")
	case "reload":
		if s.level < runtimeapi.LevelOperator {
			s.w.WriteString("Permission denied\n\n")
			return true
		}
		select {
		case s.m.reload <- struct{}{}:
		default:
		}
		return false
	default:
		s.w.WriteString("Unknown command, but maybe one of the following ones is a better match:\n")
		for _, l := range masterHelp {
			s.w.WriteString("  " + l + "\n")
		}
		s.w.WriteString("\n")
	}
	return true
}

// forward sends one command to a worker's Runtime API at the session's level and
// copies the answer.
func (s *cliSession) forward(p *proc, cmd string) error {
	return p.run(s.level, cmd, s.w, time.Minute)
}

// find resolves a routing prefix (without '@'): "1" is the current worker, "!PID" a
// worker by pid.
func (m *Master) find(target string) *proc {
	m.mu.Lock()
	defer m.mu.Unlock()
	if target == "1" {
		return m.current
	}
	if pid, ok := strings.CutPrefix(target, "!"); ok {
		n, err := strconv.Atoi(pid)
		if err != nil {
			return nil
		}
		for _, p := range m.procs {
			if p.pid == n {
				return p
			}
		}
	}
	return nil
}

// showProc is `show proc` in HAProxy's layout: every field left-aligned in 15 columns.
func (m *Master) showProc(now time.Time) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	row := func(pid int, typ, reloads string, since time.Time, version string) {
		fmt.Fprintf(&b, "%-15d %-15s %-15s %-15s %-15s\n", pid, typ, reloads, uptime(now.Sub(since)), version)
	}
	fmt.Fprintf(&b, "#%-14s %-15s %-15s %-15s %-15s\n", "<PID>", "<type>", "<reloads>", "<uptime>", "<version>")
	row(os.Getpid(), "master", fmt.Sprintf("%d [failed: %d]", m.reloads, m.failed), m.started, m.version)
	b.WriteString("# workers\n")
	if m.current != nil {
		row(m.current.pid, "worker", strconv.Itoa(m.current.reloads), m.current.started, m.current.version)
	}
	var old []*proc
	for _, p := range m.procs {
		if p != m.current {
			old = append(old, p)
		}
	}
	if len(old) > 0 {
		b.WriteString("# old workers\n")
		for _, p := range old {
			row(p.pid, "worker", strconv.Itoa(p.reloads), p.started, p.version)
		}
	}
	b.WriteString("# programs\n")
	return b.String()
}

// uptime is HAProxy's %dd%02dh%02dm%02ds.
func uptime(d time.Duration) string {
	s := int(d / time.Second)
	return fmt.Sprintf("%dd%02dh%02dm%02ds", s/86400, s/3600%24, s/60%60, s%60)
}
