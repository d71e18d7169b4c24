package runtimeapi

import (
	"bufio"
	"net"

	"hitless/internal/fdpass"
)

// Field is one `show info` line.
type Field struct {
	Name, Value string
}

// Process is what the commands read from the running process.
type Process interface {
	// Info returns the `show info` fields in HAProxy's order.
	Info() []Field
	// Sockets returns the listening sockets to hand over with _getsocks, as fds that
	// stay valid until release is called.
	Sockets() (socks []fdpass.Socket, release func(), err error)
}

// ProcessCommands are the commands that read the running process.
func ProcessCommands(p Process) []Command {
	return []Command{
		{Words: []string{"show", "info"}, Level: LevelUser, Usage: Usage("show info [desc|json|typed|float]*", "report information about the running process"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				format := ""
				for _, a := range args {
					switch a {
					case "typed", "json":
						format = a
					case "desc", "float":
						w.WriteString("'show info " + a + "' is not supported yet.\n")
						return nil
					}
				}
				writeInfo(w, p.Info(), format)
				return nil
			}},
		// _getsocks is undocumented and has no level of its own, as in HAProxy: only
		// `expose-fd listeners` on the socket allows it.
		{Words: []string{"_getsocks"}, Level: LevelUser,
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				uc, ok := s.Conn.(*net.UnixConn)
				if !s.ExposeFD || !ok {
					return errEnd
				}
				w.Flush()
				socks, release, err := p.Sockets()
				if err != nil {
					return errEnd
				}
				defer release()
				if err := fdpass.Send(uc, socks); err != nil {
					return errEnd
				}
				return errEnd
			}},
	}
}
