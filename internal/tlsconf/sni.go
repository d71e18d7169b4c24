package tlsconf

import (
	"crypto/tls"
	"errors"
	"strings"
	"sync/atomic"
)

// Entry is one certificate of a bind: from `crt`, a directory, or a crt-list line.
type Entry struct {
	List    string // the crt-list (or directory) it came from; "" for `crt FILE`
	Line    int    // its crt-list line, 0 otherwise
	Options []string
	Filters []string
	config  *tls.Config // the handshake configuration with this certificate
	// cert is the certificate served; `commit ssl cert` replaces it while handshakes
	// read it.
	cert atomic.Pointer[Cert]
}

func newEntry(c *Cert, cfg *tls.Config) *Entry {
	e := &Entry{}
	e.cert.Store(c)
	e.config = cfg.Clone()
	e.config.Certificates = nil
	e.config.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &e.cert.Load().Cert, nil }
	return e
}

// Cert is the certificate the entry serves now.
func (e *Entry) Cert() *Cert { return e.cert.Load() }

// Config is the handshake configuration that serves this certificate.
func (e *Entry) Config() *tls.Config { return e.config }

// selector picks the certificate for a ClientHello as HAProxy 2.6 does
// (ssl_sock_switchctx_cbk): exact names and wildcards are both looked up, the first
// entry of each key type is kept, and the key type the client supports best wins
// (ECDSA, then RSA, then others), not the exact name. Without a match the first
// certificate of the bind serves, unless strict-sni.
type selector struct {
	def    *Entry
	exact  map[string][]*Entry
	wild   map[string][]*Entry        // keyed by the part after '*' (".example.test")
	negs   map[*Entry]map[string]bool // each line's `!name` filters
	strict bool
}

func newSelector(entries []*Entry, strict bool) *selector {
	s := &selector{exact: map[string][]*Entry{}, wild: map[string][]*Entry{}, negs: map[*Entry]map[string]bool{}, strict: strict}
	if len(entries) > 0 {
		s.def = entries[0]
	}
	for _, e := range entries {
		names := e.Filters
		if len(names) == 0 {
			names = e.Cert().Names
		}
		for _, f := range names {
			f = strings.ToLower(f)
			if n, ok := strings.CutPrefix(f, "!"); ok {
				if !strings.HasPrefix(n, "*") {
					if s.negs[e] == nil {
						s.negs[e] = map[string]bool{}
					}
					s.negs[e][n] = true
				}
				continue
			}
			if w, ok := strings.CutPrefix(f, "*"); ok {
				s.wild[w] = appendOnce(s.wild[w], e)
				continue
			}
			s.exact[f] = appendOnce(s.exact[f], e)
		}
	}
	return s
}

func appendOnce(l []*Entry, e *Entry) []*Entry {
	for _, x := range l {
		if x == e {
			return l
		}
	}
	return append(l, e)
}

// errNoCert is the handshake error with strict-sni and no matching name.
var errNoCert = errors.New("no certificate for this server name (strict-sni)")

// pick returns the entry for a ClientHello.
func (s *selector) pick(h *tls.ClientHelloInfo) (*Entry, error) {
	name := strings.ToLower(strings.TrimSuffix(h.ServerName, "."))
	if name == "" {
		if s.strict || s.def == nil {
			return nil, errNoCert
		}
		return s.def, nil
	}
	var found [3]*Entry // by KeyType
	for _, e := range s.exact[name] {
		if t := e.Cert().Type; found[t] == nil {
			found[t] = e
		}
	}
	if i := strings.IndexByte(name, '.'); i >= 0 {
		for _, e := range s.wild[name[i:]] {
			if t := e.Cert().Type; found[t] == nil && !s.negs[e][name] {
				found[t] = e
			}
		}
	}
	for _, t := range []KeyType{KeyECDSA, KeyRSA, KeyOther} {
		if e := found[t]; e != nil && h.SupportsCertificate(&e.Cert().Cert) == nil {
			return e, nil
		}
	}
	for _, t := range []KeyType{KeyECDSA, KeyRSA, KeyOther} {
		if e := found[t]; e != nil {
			return e, nil
		}
	}
	if s.strict || s.def == nil {
		return nil, errNoCert
	}
	return s.def, nil
}
