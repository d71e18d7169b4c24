package runtimeapi

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"time"

	"hitless/internal/proxy"
)

// MiscCommands are the small commands of HAProxy's CLI: show env, show version,
// set timeout cli, and clear counters.
func MiscCommands(st *proxy.State, version string) []Command {
	return []Command{
		{Words: []string{"show", "env"}, Level: LevelOperator, Usage: Usage("show env [var]", "dump environment variables known to the process"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				for _, kv := range os.Environ() {
					if len(args) > 0 {
						name, _, _ := strings.Cut(kv, "=")
						if name != args[0] {
							continue
						}
						w.WriteString(kv)
						w.WriteByte('\n')
						return nil
					}
					w.WriteString(kv)
					w.WriteByte('\n')
				}
				if len(args) > 0 {
					w.WriteString("Variable not found\n")
				}
				return nil
			}},
		{Words: []string{"show", "version"}, Level: LevelUser, Usage: Usage("show version", "show version of the current process"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				w.WriteString(version)
				w.WriteByte('\n')
				return nil
			}},
		{Words: []string{"set", "timeout"}, Level: LevelUser, Usage: Usage("set timeout [cli] <delay>", "change a timeout setting"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				if len(args) == 0 || args[0] != "cli" {
					w.WriteString("'set timeout' only supports 'cli'.\n")
					return nil
				}
				if len(args) < 2 {
					w.WriteString("Expects an integer value.\n")
					return nil
				}
				n, err := strconv.Atoi(args[1])
				if err != nil || n <= 0 || n > 1<<31/1000 {
					w.WriteString("Invalid timeout value.\n")
					return nil
				}
				s.Timeout = time.Duration(n) * time.Second
				return nil
			}},
		// `clear counters` resets the maxima (smax, qmax, rate maxima); `all` zeroes
		// every proxy and server counter.
		{Words: []string{"clear", "counters"}, Level: LevelOperator, Usage: Usage("clear counters [all]", "clear max statistics counters (or all counters)"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				all := len(args) > 0 && args[0] == "all"
				if all && s.Level < LevelAdmin {
					w.WriteString("Permission denied\n")
					return nil
				}
				clear := (*proxy.Counters).ClearMax
				if all {
					clear = (*proxy.Counters).Clear
				}
				for _, fe := range st.Frontends {
					clear(&fe.Counters)
				}
				for _, b := range st.Backends {
					clear(&b.Counters)
					b.ClearMaxQueued()
					for _, srv := range b.Servers {
						clear(&srv.Counters)
					}
				}
				return nil
			}},
	}
}
