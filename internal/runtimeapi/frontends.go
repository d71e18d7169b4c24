package runtimeapi

import (
	"bufio"
	"strconv"
	"strings"

	"hitless/internal/proxy"
)

// Limits is what the frontend and maxconn commands read and change in the running
// process; the instance package implements it.
type Limits interface {
	FrontendMaxConn(fe *proxy.Frontend) int
	SetFrontendMaxConn(fe *proxy.Frontend, n int)
	// FrontendStatus is OPEN, PAUSED or STOP.
	FrontendStatus(fe *proxy.Frontend) string
	// DisableFrontend and EnableFrontend report false when there was nothing to do.
	DisableFrontend(fe *proxy.Frontend) bool
	EnableFrontend(fe *proxy.Frontend) bool
	MaxConn() (cur, initial int)
	SetMaxConn(n int)
}

// findFrontend resolves a frontend by name or by "#<id>", as HAProxy does.
func findFrontend(st *proxy.State, proxyIDs map[string]int, arg string) *proxy.Frontend {
	for _, fe := range st.Frontends {
		if fe.Name == arg {
			return fe
		}
		if id, ok := strings.CutPrefix(arg, "#"); ok && id == strconv.Itoa(proxyIDs[fe.Name]) {
			return fe
		}
	}
	return nil
}

// FrontendCommands are `set maxconn frontend|global` and `enable|disable frontend`.
func FrontendCommands(st *proxy.State, proxyIDs map[string]int, l Limits) []Command {
	// onFrontend wraps a command whose first argument names a frontend.
	onFrontend := func(f func(fe *proxy.Frontend, args []string, w *bufio.Writer)) func(*Session, []string, *bufio.Writer) error {
		return func(s *Session, args []string, w *bufio.Writer) error {
			if len(args) == 0 || args[0] == "" {
				w.WriteString("A frontend name is expected.\n")
				return nil
			}
			fe := findFrontend(st, proxyIDs, args[0])
			if fe == nil {
				w.WriteString("No such frontend.\n")
				return nil
			}
			f(fe, args[1:], w)
			return nil
		}
	}
	return []Command{
		{Words: []string{"set", "maxconn", "frontend"}, Level: LevelAdmin, Usage: Usage("set maxconn frontend <frontend> <value>", "change a frontend's maxconn setting"),
			Run: onFrontend(func(fe *proxy.Frontend, args []string, w *bufio.Writer) {
				if len(args) == 0 || args[0] == "" {
					w.WriteString("Integer value expected.\n")
					return
				}
				n := atoi(args[0])
				if n < 0 {
					w.WriteString("Value out of range.\n")
					return
				}
				l.SetFrontendMaxConn(fe, n)
			})},
		{Words: []string{"set", "maxconn", "global"}, Level: LevelAdmin, Usage: Usage("set maxconn global <value>", "change the per-process maxconn setting"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				if len(args) == 0 || args[0] == "" {
					w.WriteString("Expects an integer value.\n")
					return nil
				}
				n := atoi(args[0])
				if _, initial := l.MaxConn(); n < 0 || n > initial {
					w.WriteString("Value out of range.\n")
					return nil
				}
				l.SetMaxConn(n)
				return nil
			}},
		{Words: []string{"disable", "frontend"}, Level: LevelAdmin, Usage: Usage("disable frontend <frontend>", "temporarily disable specific frontend"),
			Run: onFrontend(func(fe *proxy.Frontend, args []string, w *bufio.Writer) {
				if !l.DisableFrontend(fe) {
					w.WriteString("All sockets are already disabled.\n")
				}
			})},
		{Words: []string{"enable", "frontend"}, Level: LevelAdmin, Usage: Usage("enable frontend <frontend>", "re-enable specific frontend"),
			Run: onFrontend(func(fe *proxy.Frontend, args []string, w *bufio.Writer) {
				if !l.EnableFrontend(fe) {
					w.WriteString("All sockets are already enabled.\n")
				}
			})},
	}
}

// atoi reads a leading decimal number as C's atoi does: "12x" is 12, "abc" is 0.
func atoi(s string) int {
	i, neg := 0, false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	n := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1<<31 {
			n = 1 << 31
		}
	}
	if neg {
		return -n
	}
	return n
}
