package runtimeapi

import (
	"bufio"
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hitless/internal/fdpass"
)

type fakeProcess struct{}

func (fakeProcess) Info() []Field { return []Field{{"Name", "hitless"}, {"Pid", "42"}} }
func (fakeProcess) Sockets() ([]fdpass.Socket, func(), error) {
	return nil, func() {}, nil
}

// serve starts a server on a unix socket and returns its path.
func serve(t *testing.T, level Level, expose bool) string {
	t.Helper()
	return serveWith(t, level, expose, append(ProcessCommands(fakeProcess{}), Command{Words: []string{"disable", "server"}, Level: LevelAdmin,
		Usage: Usage("disable server (DEPRECATED)", "disable a server for maintenance (use 'set server' instead)"),
		Run: func(s *Session, args []string, w *bufio.Writer) error {
			w.WriteString("done " + strings.Join(args, ",") + "\n")
			return nil
		}})...)
}

// serveWith starts a server with the base commands and cmds.
func serveWith(t *testing.T, level Level, expose bool, cmds ...Command) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Timeout: 2 * time.Second}
	srv.Commands = append(BaseCommands(srv), cmds...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln, level, expose); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return path
}

func exchange(t *testing.T, path, input string) string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, input)
	out, _ := io.ReadAll(c)
	return string(out)
}

func TestFraming(t *testing.T) {
	path := serve(t, LevelOperator, false)
	tests := []struct {
		name, in, want string
	}{
		{"one command", "show info\n", "Name: hitless\nPid: 42\n\n"},
		{"semicolons", "show info;show cli level\n", "Name: hitless\nPid: 42\n\noperator\n\n"},
		{"two lines at once", "show cli level\nshow cli level\n", "operator\n\noperator\n\n"},
		{"crlf", "show cli level\r\n", "operator\n\n"},
		{"quit says nothing", "quit\n", ""},
		{"lowering the level", "user;show cli level;disable server b/s1\n", "\nuser\n\nPermission denied\n\n"},
		{"raising is refused", "user;operator;show cli level\n", "\nPermission denied\n\nuser\n\n"},
		{"permission", "disable server b/s1\n", "Permission denied\n\n"},
		{"escaped semicolon", "disable\\ server\n", "Unknown command"},
		{"prompt mode", "prompt\nshow cli level\nquit\n", "\n> operator\n\n> "},
		{"last line without newline is ignored", "show cli level", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exchange(t, path, tt.in)
			if tt.name == "escaped semicolon" {
				if !strings.HasPrefix(got, tt.want) {
					t.Fatalf("got %q", got)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUnknownCommandListsUsage(t *testing.T) {
	path := serve(t, LevelAdmin, false)
	got := exchange(t, path, "foobar\n")
	if !strings.HasPrefix(got, "Unknown command. Please enter one of the following commands only:\n  disable server (DEPRECATED)             : disable") ||
		!strings.HasSuffix(got, "  help [<command>]                        : list matching or all commands\n  prompt                                  : toggle interactive mode with prompt\n  quit                                    : disconnect\n\n") {
		t.Fatalf("got %q", got)
	}
	got = exchange(t, path, "show foo\n")
	if !strings.HasPrefix(got, "Unknown command, but maybe one of the following ones is a better match:\n  show cli level") {
		t.Fatalf("got %q", got)
	}
	got = exchange(t, path, "help\n")
	if !strings.HasPrefix(got, "The following commands are valid at this level:\n  disable server") {
		t.Fatalf("help: %q", got)
	}
}

func TestGetsocksNeedsExposeFD(t *testing.T) {
	path := serve(t, LevelAdmin, false)
	if got := exchange(t, path, "_getsocks\n"); got != "" {
		t.Fatalf("_getsocks without expose-fd answered %q", got)
	}
}

func TestSlowClientDoesNotBlockOthers(t *testing.T) {
	path := serve(t, LevelOperator, false)
	idle, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "show")
	start := time.Now()
	if got := exchange(t, path, "show cli level\n"); got != "operator\n\n" {
		t.Fatalf("got %q", got)
	}
	if time.Since(start) > time.Second {
		t.Fatal("a stalled client delayed another")
	}
}

func FuzzCommandLine(f *testing.F) {
	f.Add("show info;show cli level")
	f.Add("a\\;b\\ c \\\\ ;;")
	f.Add("prompt")
	f.Fuzz(func(t *testing.T, line string) {
		for _, cmd := range splitCommands(line) {
			words := splitWords(cmd)
			if len(words) > 64 {
				t.Fatalf("%d words", len(words))
			}
		}
	})
}
