// Package runtimeapi serves HAProxy's Runtime API on `stats socket` listeners: the
// framing (one command per line, `;` separators, `prompt` interactive mode, `quit`), the
// access levels, and a table of commands, among them `_getsocks`, which hands the
// listening sockets to a new process. The instance package starts one Server per
// configured socket.
package runtimeapi

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"time"
)

// Level is a CLI access level.
type Level int

// The levels, lowest first.
const (
	LevelUser Level = iota + 1
	LevelOperator
	LevelAdmin
)

// ParseLevel maps a `level` word to its Level.
func ParseLevel(s string) Level {
	switch s {
	case "user":
		return LevelUser
	case "admin":
		return LevelAdmin
	}
	return LevelOperator
}

func (l Level) String() string {
	switch l {
	case LevelUser:
		return "user"
	case LevelAdmin:
		return "admin"
	}
	return "operator"
}

// Command is one row of the command table.
type Command struct {
	Words []string // the words that name it: {"show", "info"}
	Level Level
	Usage string // the help line after the two leading spaces, empty for hidden commands
	// Run writes the answer for args (the words after the command's own). A command
	// that takes over the connection (_getsocks) returns errTakeover.
	Run func(s *Session, args []string, w *bufio.Writer) error
}

// errEnd ends the session after the command's answer (quit, _getsocks).
var errEnd = errors.New("end of session")

// Session is one client connection.
type Session struct {
	Conn     net.Conn
	Level    Level
	ExposeFD bool
	// Timeout replaces the server's idle timeout for this session (set timeout cli).
	Timeout time.Duration
	// Payload is what followed a command line ending with "<<", up to an empty line
	// (`set ssl cert NAME <<`); "" without one.
	Payload string
	prompt  bool
}

// Server serves one stats socket.
type Server struct {
	Commands []Command
	Timeout  time.Duration // `stats timeout`; 10s when zero
	Events   *slog.Logger
	// Track, when set, is told of every session (`show sess` lists them, as HAProxy
	// lists its CLI streams); the returned func is called when the session ends.
	Track func(c net.Conn) (done func())

	// mu guards conns.
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// maxLine bounds a command line.
const maxLine = 64 << 10

// Serve accepts on ln until it is closed or ctx ends.
func (srv *Server) Serve(ctx context.Context, ln net.Listener, level Level, exposeFD bool) {
	srv.mu.Lock()
	if srv.conns == nil {
		srv.conns = map[net.Conn]struct{}{}
	}
	srv.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		srv.mu.Lock()
		for c := range srv.conns {
			c.Close()
		}
		srv.mu.Unlock()
	})
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				srv.wg.Wait()
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		srv.mu.Lock()
		srv.conns[c] = struct{}{}
		srv.mu.Unlock()
		srv.wg.Add(1)
		untrack := func() {}
		if srv.Track != nil {
			untrack = srv.Track(c)
		}
		go func() {
			defer srv.wg.Done()
			defer untrack()
			defer func() {
				srv.mu.Lock()
				delete(srv.conns, c)
				srv.mu.Unlock()
			}()
			srv.serveSession(c, level, exposeFD)
		}()
	}
}

func (srv *Server) timeout() time.Duration {
	if srv.Timeout > 0 {
		return srv.Timeout
	}
	return 10 * time.Second
}

// session reads command lines and answers them with HAProxy's framing: every answer
// ends with the prompt ("\n", or "\n> " in interactive mode); without prompt mode the
// session ends when no further input is buffered.
func (srv *Server) session(s *Session) {
	br := bufio.NewReaderSize(s.Conn, 4096)
	bw := bufio.NewWriterSize(s.Conn, 16<<10)
	timeout := func() time.Duration {
		if s.Timeout > 0 {
			return s.Timeout
		}
		return srv.timeout()
	}
	for {
		s.Conn.SetReadDeadline(time.Now().Add(timeout()))
		line, err := readLine(br)
		if err != nil {
			return
		}
		s.Payload = ""
		if l, ok := strings.CutSuffix(line, "<<"); ok {
			line = strings.TrimRight(l, " \t")
			if s.Payload, err = readPayload(br); err != nil {
				return
			}
		}
		for _, cmd := range splitCommands(line) {
			err := srv.run(s, cmd, bw)
			if errors.Is(err, errEnd) {
				bw.Flush()
				return
			}
			if s.prompt {
				bw.WriteString("\n> ")
			} else {
				bw.WriteString("\n")
			}
		}
		s.Conn.SetWriteDeadline(time.Now().Add(timeout()))
		if err := bw.Flush(); err != nil {
			return
		}
		if !s.prompt && br.Buffered() == 0 {
			return
		}
	}
}

// readLine reads one line without its "\n" (and a "\r" before it); a last line
// without "\n" is dropped as HAProxy does.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := br.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) > maxLine {
			return "", errors.New("line too long")
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return "", err
	}
	b = b[:len(b)-1]
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return string(b), nil
}

// maxPayload bounds a `<<` payload.
const maxPayload = 1 << 20

// readPayload reads the lines that follow a command ending with "<<", up to an empty
// line (or the end of the input), each with its "\n".
func readPayload(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		l, err := readLine(br)
		if err != nil || l == "" {
			if err != nil && b.Len() == 0 {
				return "", err
			}
			return b.String(), nil
		}
		if b.Len()+len(l) > maxPayload {
			return "", errors.New("payload too large")
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
}

// splitCommands splits a line on ';' not preceded by '\'; the pieces keep their
// escapes for splitWords.
func splitCommands(line string) []string {
	var out []string
	start := 0
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' {
			i++
			continue
		}
		if line[i] == ';' {
			out = append(out, line[start:i])
			start = i + 1
		}
	}
	return append(out, line[start:])
}

// splitWords splits on spaces and tabs; '\' makes the next character literal.
func splitWords(cmd string) []string {
	var words []string
	var cur strings.Builder
	in := false
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		switch {
		case c == '\\' && i+1 < len(cmd):
			i++
			cur.WriteByte(cmd[i])
			in = true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
		if len(words) >= 64 {
			break
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// run finds and runs one command.
func (srv *Server) run(s *Session, cmd string, w *bufio.Writer) error {
	words := splitWords(cmd)
	best := -1
	for i := range srv.Commands {
		c := &srv.Commands[i]
		if len(words) >= len(c.Words) && equalWords(words[:len(c.Words)], c.Words) {
			if best < 0 || len(c.Words) > len(srv.Commands[best].Words) {
				best = i
			}
		}
	}
	if best < 0 {
		srv.unknown(words, w)
		return nil
	}
	c := &srv.Commands[best]
	if s.Level < c.Level {
		w.WriteString("Permission denied\n")
		return nil
	}
	return c.Run(s, words[len(c.Words):], w)
}

func equalWords(a, b []string) bool {
	for i := range b {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// unknown answers an unknown command with the usage list, as HAProxy does: the
// candidates are the commands that share the most leading words with the line.
func (srv *Server) unknown(words []string, w *bufio.Writer) {
	best := 0
	for _, c := range srv.Commands {
		if c.Usage != "" && !isFixed(c.Words) {
			best = max(best, leadingMatch(c.Words, words))
		}
	}
	var cands []string
	for _, c := range srv.Commands {
		if c.Usage == "" || isFixed(c.Words) {
			continue
		}
		if best == 0 || leadingMatch(c.Words, words) == best {
			cands = append(cands, c.Usage)
		}
	}
	if best > 0 {
		w.WriteString("Unknown command, but maybe one of the following ones is a better match:\n")
	} else {
		w.WriteString("Unknown command. Please enter one of the following commands only:\n")
	}
	srv.usage(cands, w)
}

// leadingMatch counts the leading words of a command that the line repeats.
func leadingMatch(cmd, words []string) int {
	n := 0
	for n < len(cmd) && n < len(words) && cmd[n] == words[n] {
		n++
	}
	return n
}

func isFixed(words []string) bool {
	return len(words) == 1 && (words[0] == "help" || words[0] == "prompt" || words[0] == "quit")
}

// usage prints the sorted usage lines, then the three fixed ones.
func (srv *Server) usage(lines []string, w *bufio.Writer) {
	sort.Strings(lines)
	for _, l := range lines {
		w.WriteString("  ")
		w.WriteString(l)
		w.WriteByte('\n')
	}
	for _, c := range srv.Commands {
		if isFixed(c.Words) {
			w.WriteString("  ")
			w.WriteString(c.Usage)
			w.WriteByte('\n')
		}
	}
}

// Usage formats a help line with the description at column 40, as HAProxy does.
func Usage(syntax, desc string) string {
	if len(syntax) < 40 {
		syntax += strings.Repeat(" ", 40-len(syntax))
	}
	return syntax + ": " + desc
}

// BaseCommands are the framing commands every socket has: help, prompt, quit.
func BaseCommands(srv *Server) []Command {
	return []Command{
		{Words: []string{"help"}, Level: LevelUser, Usage: Usage("help [<command>]", "list matching or all commands"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				var lines []string
				for _, c := range srv.Commands {
					if c.Usage != "" && !isFixed(c.Words) && (len(args) == 0 || strings.HasPrefix(strings.Join(c.Words, " "), strings.Join(args, " "))) {
						lines = append(lines, c.Usage)
					}
				}
				w.WriteString("The following commands are valid at this level:\n")
				srv.usage(lines, w)
				return nil
			}},
		{Words: []string{"prompt"}, Level: LevelUser, Usage: Usage("prompt", "toggle interactive mode with prompt"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				s.prompt = !s.prompt
				return nil
			}},
		{Words: []string{"quit"}, Level: LevelUser, Usage: Usage("quit", "disconnect"),
			Run: func(s *Session, args []string, w *bufio.Writer) error { return errEnd }},
		{Words: []string{"user"}, Level: LevelUser, Usage: Usage("user", "lower the level of the current CLI session to user"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				s.Level = LevelUser
				return nil
			}},
		{Words: []string{"operator"}, Level: LevelUser, Usage: Usage("operator", "lower the level of the current CLI session to operator"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				if s.Level < LevelOperator {
					w.WriteString("Permission denied\n")
					return nil
				}
				s.Level = LevelOperator
				return nil
			}},
		{Words: []string{"show", "cli", "level"}, Level: LevelUser, Usage: Usage("show cli level", "display the level of the current CLI session"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				w.WriteString(s.Level.String())
				w.WriteByte('\n')
				return nil
			}},
	}
}
