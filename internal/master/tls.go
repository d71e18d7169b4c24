package master

import (
	"strings"
	"time"

	"hitless/internal/runtimeapi"
	"hitless/internal/tlsconf"
)

// ticketKeys returns the TLS session-ticket keys the next worker serves with: the
// current worker's (it is the one clients hold tickets from), else those the last
// worker started with (a worker that crashed), else new ones, made here so that a
// worker started after a crash of the first one still has them. They travel in the
// worker's start-up memory file only.
func (m *Master) ticketKeys(cur *proc) string {
	if cur != nil {
		if s, err := cur.ask(runtimeapi.LevelAdmin, "_tls-session-keys", 5*time.Second); err == nil {
			if k, err := tlsconf.DecodeProcessKeys(strings.TrimSpace(s)); err == nil {
				return k.Encode()
			}
		}
	}
	m.mu.Lock()
	last := m.last.TicketKeys
	m.mu.Unlock()
	if last != "" {
		return last
	}
	k, _ := tlsconf.ProcessKeys(nil).Rotate(time.Now())
	return k.Encode()
}

// committedCerts returns the certificates committed at runtime in the current worker
// (else in the last one started), so that the next worker keeps them.
func (m *Master) committedCerts(cur *proc) string {
	if cur != nil {
		if s, err := cur.ask(runtimeapi.LevelAdmin, "_tls-committed-certs", 5*time.Second); err == nil && strings.HasPrefix(s, "[") {
			return strings.TrimSpace(s)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last.Certs
}
