package runtimeapi

import (
	"bufio"
	"strconv"

	"hitless/internal/proxy"
	"hitless/internal/stats"
)

// StatCommand is `show stat`: the rows of package stats in HAProxy 2.6's CSV, typed
// or JSON form.
func StatCommand(st *proxy.State, proxyIDs map[string]int, l Limits) Command {
	return Command{Words: []string{"show", "stat"}, Level: LevelUser, Usage: Usage("show stat [desc|json|no-maint|typed|up]*", "report counters for each proxy and server"),
		Run: func(s *Session, args []string, w *bufio.Writer) error {
			format := "csv"
			o := stats.Options{Types: -1, ServerID: -1, Private: s.Level >= LevelOperator}
			var words []string
			for _, a := range args {
				switch a {
				case "up":
					o.UpOnly = true
				case "no-maint":
					o.NoMaint = true
				case "typed", "json":
					format = a
				case "desc":
					w.WriteString("'show stat desc' is not supported yet.\n")
					return nil
				default:
					words = append(words, a)
				}
			}
			if len(words) == 3 {
				o.Proxy = words[0]
				if o.Proxy == "-1" {
					o.Proxy = ""
				}
				o.Types, _ = strconv.Atoi(words[1])
				o.ServerID, _ = strconv.Atoi(words[2])
				if o.Proxy != "" && st.Backends[o.Proxy] == nil && !hasFrontend(st, o.Proxy) {
					if _, err := strconv.Atoi(o.Proxy); err != nil {
						w.WriteString("No such proxy.\n")
						return nil
					}
				}
			}
			out := stats.NewWriter(w, format)
			for _, r := range stats.Collect(st, proxyIDs, l, o) {
				out.Row(r)
			}
			out.End()
			return nil
		}}
}

func hasFrontend(st *proxy.State, name string) bool {
	for _, fe := range st.Frontends {
		if fe.Name == name {
			return true
		}
	}
	return false
}
