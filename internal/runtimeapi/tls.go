package runtimeapi

import "bufio"

// TicketKeysCommand is `_tls-session-keys`: the process's TLS session-ticket keys, one
// base64 line each, encryption key first, for the process that takes over at a reload
// (`-sf -x`, or the master's next worker), so that its clients resume their sessions.
// Undocumented like `_getsocks`; the keys are secrets, so it needs both the admin
// level and `expose-fd listeners` (the master's private link has both).
func TicketKeysCommand(keys func() string) Command {
	return Command{Words: []string{"_tls-session-keys"}, Level: LevelAdmin,
		Run: func(s *Session, args []string, w *bufio.Writer) error {
			if !s.ExposeFD {
				w.WriteString("Permission denied\n")
				return nil
			}
			w.WriteString(keys())
			return nil
		}}
}
