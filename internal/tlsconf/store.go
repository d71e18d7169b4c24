package tlsconf

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Store holds every certificate of a running configuration by name (its path as
// joined with crt-base), for the Runtime API's `show ssl cert`, `set ssl cert`,
// `commit ssl cert` and `abort ssl cert`, with the single transaction HAProxy 2.6
// allows at a time. A commit replaces the certificate in every bind that serves it,
// for the next handshake. The runtimeapi package words the answers; the instance
// package builds one Store per running configuration and carries what was committed
// to the next process (Committed, Apply).
type Store struct {
	mu    sync.Mutex // guards certs and tx
	certs map[string]*stored
	tx    *transaction
}

type stored struct {
	cert      *Cert
	entries   []*Entry
	listeners []*Listener
	committed bool // changed at runtime: carried to the next process
}

// transaction is an uncommitted `set ssl cert`.
type transaction struct {
	name  string
	chain [][]byte
	key   crypto.Signer
	ocsp  []byte
	scts  [][]byte
}

// NewStore indexes the certificates of the listeners.
func NewStore(ls []*Listener) *Store {
	s := &Store{certs: map[string]*stored{}}
	for _, l := range ls {
		for _, e := range l.Entries {
			c := e.Cert()
			st := s.certs[c.Path]
			if st == nil {
				st = &stored{cert: c}
				s.certs[c.Path] = st
			}
			st.entries = append(st.entries, e)
			if len(st.listeners) == 0 || st.listeners[len(st.listeners)-1] != l {
				st.listeners = append(st.listeners, l)
			}
		}
	}
	return s
}

// Names lists the certificates in byte order, and the name of the open transaction
// ("" when none).
func (s *Store) Names() (names []string, tx string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n := range s.certs {
		names = append(names, n)
	}
	sort.Strings(names)
	if s.tx != nil {
		tx = s.tx.name
	}
	return names, tx
}

// Show describes one certificate; "*NAME" describes the open transaction for NAME.
func (s *Store) Show(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := strings.CutPrefix(name, "*"); ok {
		if s.tx == nil || s.tx.name != n || len(s.tx.chain) == 0 {
			return "", false
		}
		leaf, err := x509.ParseCertificate(s.tx.chain[0])
		if err != nil {
			return "", false
		}
		return Describe(name, "Unused", newCert(n, s.tx.chain, s.tx.key, leaf)), true
	}
	st := s.certs[name]
	if st == nil {
		return "", false
	}
	return Describe(name, "Used", st.cert), true
}

// partSuffixes are the `set ssl cert NAME.<part>` forms that update one part.
var partSuffixes = []string{".key", ".ocsp", ".issuer", ".sctl"}

// Set is `set ssl cert NAME <payload>`; it returns HAProxy 2.6's answer. As in
// 2.6.12, a payload for another certificate while a transaction is open goes into
// that transaction (the commit then refuses the mismatch).
func (s *Store) Set(name, payload string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	base, part := name, ""
	if s.certs[name] == nil {
		for _, sfx := range partSuffixes {
			if b, ok := strings.CutSuffix(name, sfx); ok && s.certs[b] != nil {
				base, part = b, sfx
			}
		}
	}
	st := s.certs[base]
	if st == nil {
		return fmt.Sprintf("Can't replace a certificate which is not referenced by the configuration!\nCan't update %s!\n", name)
	}
	tx := s.tx
	created := tx == nil
	if created {
		tx = &transaction{name: base, chain: st.cert.Cert.Certificate, ocsp: st.cert.Cert.OCSPStaple, scts: st.cert.Cert.SignedCertificateTimestamps}
		tx.key, _ = st.cert.Cert.PrivateKey.(crypto.Signer)
	}
	bad := fmt.Sprintf("unable to load certificate from file '%s'.\nCan't load the payload\nCan't update %s!\n", name, name)
	switch part {
	case "":
		chain, key, err := parsePEM([]byte(payload))
		if err != nil || len(chain) == 0 {
			return bad
		}
		tx.chain = chain
		if key != nil {
			tx.key = key
		}
	case ".key":
		_, key, err := parsePEM([]byte(payload))
		if err != nil || key == nil {
			return bad
		}
		tx.key = key
	case ".ocsp":
		b, err := decodeBase64Payload(payload)
		if err != nil || len(b) == 0 || b[0] != 0x30 {
			return bad
		}
		tx.ocsp = b
	case ".sctl":
		b, err := decodeBase64Payload(payload)
		var scts [][]byte
		if err == nil {
			scts, err = parseSCTList(b)
		}
		if err != nil {
			return bad
		}
		tx.scts = scts
	case ".issuer":
		chain, _, err := parsePEM([]byte(payload))
		if err != nil || len(chain) == 0 {
			return bad
		}
	}
	s.tx = tx
	if created {
		return fmt.Sprintf("Transaction created for certificate %s!\n", tx.name)
	}
	return fmt.Sprintf("Transaction updated for certificate %s!\n", tx.name)
}

// Commit is `commit ssl cert NAME`.
func (s *Store) Commit(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tx == nil {
		return fmt.Sprintf("No ongoing transaction! !\nCan't commit %s!\n", name)
	}
	if s.tx.name != name {
		return fmt.Sprintf("The ongoing transaction is about '%s' but you are trying to set '%s'\nCan't commit %s!\n", s.tx.name, name, name)
	}
	tx := s.tx
	leaf, err := x509.ParseCertificate(tx.chain[0])
	if err != nil || tx.key == nil || !keyMatches(leaf, tx.key) {
		return fmt.Sprintf("inconsistencies between private key and certificate loaded '%s'.\nCan't commit %s!\n", name, name)
	}
	st := s.certs[name]
	c := newCert(name, tx.chain, tx.key, leaf)
	c.Cert.OCSPStaple, c.Cert.SignedCertificateTimestamps = tx.ocsp, tx.scts
	c.FileHash = st.cert.FileHash
	s.install(st, c)
	s.tx = nil
	return fmt.Sprintf("Committing %s.\nSuccess!\n", name)
}

// install serves c in every bind that served st's certificate.
func (s *Store) install(st *stored, c *Cert) {
	st.cert, st.committed = c, true
	for _, e := range st.entries {
		e.cert.Store(c)
	}
	for _, l := range st.listeners {
		l.Rebuild()
	}
}

// Abort is `abort ssl cert NAME`.
func (s *Store) Abort(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tx == nil {
		return "No ongoing transaction!\n"
	}
	n := s.tx.name
	s.tx = nil
	return fmt.Sprintf("Transaction aborted for certificate '%s'!\n", n)
}

// carried is a committed certificate on its way to the next process.
type carried struct {
	Name     string   `json:"name"`
	FileHash string   `json:"file_sha256"`
	Chain    [][]byte `json:"chain"`
	Key      []byte   `json:"key"` // PKCS #8
	OCSP     []byte   `json:"ocsp,omitempty"`
	SCTs     [][]byte `json:"scts,omitempty"`
}

// Committed encodes the certificates committed at runtime (with their keys: a
// secret, handed over only on the admin stats socket or the master's private link).
func (s *Store) Committed() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []carried{}
	for name, st := range s.certs {
		if !st.committed {
			continue
		}
		key, err := x509.MarshalPKCS8PrivateKey(st.cert.Cert.PrivateKey)
		if err != nil {
			continue
		}
		out = append(out, carried{Name: name, FileHash: hex.EncodeToString(st.cert.FileHash[:]), Chain: st.cert.Cert.Certificate,
			Key: key, OCSP: st.cert.Cert.OCSPStaple, SCTs: st.cert.Cert.SignedCertificateTimestamps})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	b, _ := json.Marshal(out)
	return string(b)
}

// Apply serves what an older process committed, for the certificates this
// configuration still has and whose file did not change since the older process
// loaded it (a changed file wins). It returns the names applied.
func (s *Store) Apply(enc string) []string {
	var in []carried
	if json.Unmarshal([]byte(enc), &in) != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var done []string
	for _, c := range in {
		st := s.certs[c.Name]
		if st == nil || c.FileHash != hex.EncodeToString(st.cert.FileHash[:]) || len(c.Chain) == 0 {
			continue
		}
		k, err := x509.ParsePKCS8PrivateKey(c.Key)
		key, ok := k.(crypto.Signer)
		if err != nil || !ok {
			continue
		}
		leaf, err := x509.ParseCertificate(c.Chain[0])
		if err != nil || !keyMatches(leaf, key) {
			continue
		}
		nc := newCert(c.Name, c.Chain, key, leaf)
		nc.Cert.OCSPStaple, nc.Cert.SignedCertificateTimestamps = c.OCSP, c.SCTs
		nc.FileHash = st.cert.FileHash
		s.install(st, nc)
		done = append(done, c.Name)
	}
	return done
}

// decodeBase64Payload reads a binary part (.ocsp, .sctl) sent as base64 text.
func decodeBase64Payload(p string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(p), ""))
}
