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

// CertStore is what the certificate commands drive (tlsconf.Store implements it).
type CertStore interface {
	Names() (names []string, tx string)
	Show(name string) (string, bool)
	Set(name, payload string) string
	Commit(name string) string
	Abort(name string) string
	Committed() string
}

// CertCommands are `show ssl cert`, `set ssl cert`, `commit ssl cert` and `abort ssl
// cert` with HAProxy 2.6's answers, and the undocumented `_tls-committed-certs`, which
// hands the certificates committed at runtime (with their keys) to the next process;
// like `_tls-session-keys` it needs admin level and `expose-fd listeners`.
func CertCommands(st CertStore) []Command {
	return []Command{
		{Words: []string{"show", "ssl", "cert"}, Level: LevelOperator,
			Usage: Usage("show ssl cert [<certfile>]", "display the SSL certificates used in memory, or the details of a file"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				if len(args) > 0 {
					d, ok := st.Show(args[0])
					if !ok {
						w.WriteString("Can't display the certificate: Not found or the certificate is a bundle!\n")
						return nil
					}
					w.WriteString(d)
					return nil
				}
				names, tx := st.Names()
				if tx != "" {
					w.WriteString("# transaction\n*" + tx + "\n")
				}
				w.WriteString("# filename\n")
				for _, n := range names {
					w.WriteString(n + "\n")
				}
				return nil
			}},
		{Words: []string{"set", "ssl", "cert"}, Level: LevelAdmin,
			Usage: Usage("set ssl cert <certfile> <payload>", "replace a certificate file"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				if len(args) == 0 || s.Payload == "" {
					w.WriteString("'set ssl cert expects a filename and a certificate as a payload\n")
					return nil
				}
				w.WriteString(st.Set(args[0], s.Payload))
				return nil
			}},
		{Words: []string{"commit", "ssl", "cert"}, Level: LevelAdmin,
			Usage: Usage("commit ssl cert <certfile>", "commit a certificate file"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				if len(args) == 0 {
					w.WriteString("'commit ssl cert' expects a filename\n")
					return nil
				}
				w.WriteString(st.Commit(args[0]))
				return nil
			}},
		{Words: []string{"abort", "ssl", "cert"}, Level: LevelAdmin,
			Usage: Usage("abort ssl cert <certfile>", "abort a transaction for a certificate file"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				if len(args) == 0 {
					w.WriteString("'abort ssl cert' expects a filename\n")
					return nil
				}
				w.WriteString(st.Abort(args[0]))
				return nil
			}},
		{Words: []string{"_tls-committed-certs"}, Level: LevelAdmin,
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				if !s.ExposeFD {
					w.WriteString("Permission denied\n")
					return nil
				}
				w.WriteString(st.Committed() + "\n")
				return nil
			}},
	}
}

// TicketFileKeys is what the tls-ticket-keys commands drive (tlsconf.TicketFiles).
type TicketFileKeys interface {
	Show(ref string) string
	Set(ref, key string) string
}

// TicketFileCommands are `show tls-keys [id|*]` and `set ssl tls-key <id|file> <key>`
// with HAProxy 2.6's answers. As in HAProxy, a user-level session gets the list but
// no key; unlike it, changing a key needs the admin level.
func TicketFileCommands(t TicketFileKeys) []Command {
	return []Command{
		{Words: []string{"show", "tls-keys"}, Level: LevelUser,
			Usage: Usage("show tls-keys [id|*]", "show tls keys references or dump tls ticket keys when id specified"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				ref := ""
				if len(args) > 0 {
					ref = args[0]
					if s.Level < LevelOperator {
						return nil
					}
				}
				w.WriteString(t.Show(ref))
				return nil
			}},
		{Words: []string{"set", "ssl", "tls-key"}, Level: LevelAdmin,
			Usage: Usage("set ssl tls-key [id|file] <key>", "set the next TLS key for the <id> or <file> listener to <key>"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				ref, key := "", ""
				if len(args) > 0 {
					ref = args[0]
				}
				if len(args) > 1 {
					key = args[1]
				}
				w.WriteString(t.Set(ref, key))
				return nil
			}},
	}
}
