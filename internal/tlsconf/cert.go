// Package tlsconf turns the TLS settings of HAProxy's `bind ... ssl` and `server ...
// ssl` lines into crypto/tls configurations: certificates with their companion files,
// crt-lists and SNI selection as HAProxy 2.6 does it, OpenSSL cipher, curve and version
// names mapped to Go's, client and server certificate verification, and session-ticket
// keys (HAProxy's tls-ticket-keys files, or keys generated once and carried across
// reloads). The config package parses the keywords into Bind and Server specs and calls
// Load so that `hitless -c` reports bad files; the instance and proxy packages use the
// built *tls.Config values.
package tlsconf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// KeyType is the kind of a certificate's key, in HAProxy's order of preference.
type KeyType int

const (
	KeyECDSA KeyType = iota
	KeyRSA
	KeyOther
)

// Cert is one loaded certificate store: the PEM file with its chain and key and the
// companions found next to it.
type Cert struct {
	Path  string // the store's name: the path as joined with crt-base
	Cert  tls.Certificate
	Leaf  *x509.Certificate
	Type  KeyType
	Names []string // SAN dNSNames then subject CN, lower-cased, as HAProxy takes them
	// FileHash is the SHA-256 of the file as loaded: a certificate committed at
	// runtime is carried to the next process only while the file is unchanged.
	FileHash [32]byte
}

// Extras says which companion files are looked for (`ssl-load-extra-files`) and
// whether a ".crt" suffix is removed first (`ssl-load-extra-del-ext`).
type Extras struct {
	None, Bundle, SCTL, OCSP, Issuer, Key bool
	DelExt                                bool
}

// AllExtras is HAProxy's default: every companion.
var AllExtras = Extras{Bundle: true, SCTL: true, OCSP: true, Issuer: true, Key: true}

// bundleSuffixes are the multi-certificate bundle extensions HAProxy tries for a path
// that does not exist.
var bundleSuffixes = []string{".dsa", ".ecdsa", ".rsa"}

// LoadCertPath loads the certificate at path: a file, or when it does not exist and
// bundles are enabled, its .dsa/.ecdsa/.rsa variants (one store each). warn receives
// non-fatal findings (an expired certificate).
func LoadCertPath(path string, ex Extras, now time.Time, warn func(string)) ([]*Cert, error) {
	if _, err := os.Stat(path); err != nil && ex.Bundle && errors.Is(err, fs.ErrNotExist) {
		var out []*Cert
		for _, sfx := range bundleSuffixes {
			if _, err := os.Stat(path + sfx); err != nil {
				continue
			}
			c, err := LoadCert(path+sfx, ex, now, warn)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	c, err := LoadCert(path, ex, now, warn)
	if err != nil {
		return nil, err
	}
	return []*Cert{c}, nil
}

// LoadCert loads one PEM file: certificates (the first is the leaf, the rest its
// chain) and a private key, else the key from "<path>.key"; then ".ocsp", ".sctl"
// and ".issuer" when they exist. Messages are HAProxy 2.6's.
func LoadCert(path string, ex Extras, now time.Time, warn func(string)) (*Cert, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("unable to stat SSL certificate from file '%s' : %s.", path, osReason(err))
	}
	return ParseCert(path, data, ex, now, warn)
}

// ParseCert is LoadCert on bytes already read (the companions are still read from
// disk, named after path).
func ParseCert(path string, data []byte, ex Extras, now time.Time, warn func(string)) (*Cert, error) {
	chain, key, err := parsePEM(data)
	if err != nil {
		return nil, fmt.Errorf("unable to load certificate from file '%s': %v.", path, err)
	}
	hash := sha256.Sum256(data)
	base := path
	if ex.DelExt {
		base = strings.TrimSuffix(base, ".crt")
	}
	if key == nil && ex.Key && !ex.None {
		kp := base + ".key"
		kdata, err := os.ReadFile(kp)
		if err == nil {
			_, key, err = parsePEM(kdata)
			if err != nil {
				return nil, fmt.Errorf("unable to load private key from file '%s': %v.", kp, err)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("unable to load private key from file '%s': %s.", kp, osReason(err))
		}
		if key == nil {
			return nil, fmt.Errorf("No Private Key found in '%s'.", kp)
		}
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("unable to load certificate from file '%s': no certificate found.", path)
	}
	if key == nil {
		return nil, fmt.Errorf("No Private Key found in '%s'.", path)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("unable to load certificate from file '%s': %v.", path, err)
	}
	if !keyMatches(leaf, key) {
		return nil, fmt.Errorf("inconsistencies between private key and certificate loaded '%s'.", path)
	}
	c := newCert(path, chain, key, leaf)
	c.FileHash = hash
	if !ex.None {
		if err := c.loadCompanions(base, ex); err != nil {
			return nil, err
		}
	}
	if now.After(leaf.NotAfter) && warn != nil {
		warn(fmt.Sprintf("certificate '%s' expired on %s: clients that check dates will refuse it.", path, leaf.NotAfter.UTC().Format(time.RFC3339)))
	}
	return c, nil
}

// newCert describes a parsed certificate and key.
func newCert(path string, chain [][]byte, key crypto.Signer, leaf *x509.Certificate) *Cert {
	c := &Cert{Path: path, Leaf: leaf, Cert: tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}}
	switch leaf.PublicKey.(type) {
	case *ecdsa.PublicKey:
		c.Type = KeyECDSA
	case *rsa.PublicKey:
		c.Type = KeyRSA
	default:
		c.Type = KeyOther
	}
	for _, n := range leaf.DNSNames {
		c.Names = append(c.Names, strings.ToLower(n))
	}
	if cn := leaf.Subject.CommonName; cn != "" {
		c.Names = append(c.Names, strings.ToLower(cn))
	}
	return c
}

// loadCompanions reads "<base>.sctl", "<base>.ocsp" and, with an OCSP response and
// no issuer in the chain, "<base>.issuer". A companion that exists but is broken
// is an error, as in HAProxy.
func (c *Cert) loadCompanions(base string, ex Extras) error {
	if ex.SCTL {
		if b, ok, err := readIfExists(base + ".sctl"); err != nil {
			return err
		} else if ok {
			scts, err := parseSCTList(b)
			if err != nil {
				return fmt.Errorf("'%s.sctl' : %v", base, err)
			}
			c.Cert.SignedCertificateTimestamps = scts
		}
	}
	if ex.OCSP {
		if b, ok, err := readIfExists(base + ".ocsp"); err != nil {
			return err
		} else if ok {
			if len(b) == 0 || b[0] != 0x30 {
				return fmt.Errorf("'%s.ocsp' is not a DER OCSP response", base)
			}
			c.Cert.OCSPStaple = b
		}
	}
	if ex.Issuer && c.Cert.OCSPStaple != nil && len(c.Cert.Certificate) == 1 {
		if b, ok, err := readIfExists(base + ".issuer"); err != nil {
			return err
		} else if ok {
			chain, _, err := parsePEM(b)
			var iss *x509.Certificate
			if err == nil && len(chain) > 0 {
				iss, err = x509.ParseCertificate(chain[0])
			}
			if err != nil || iss == nil || c.Leaf.CheckSignatureFrom(iss) != nil {
				return fmt.Errorf("'%s.issuer' is not an issuer", base)
			}
		}
	}
	return nil
}

func readIfExists(p string) ([]byte, bool, error) {
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("unable to load '%s' : %s.", p, osReason(err))
	}
	return b, true, nil
}

// parseSCTList reads a TLS-encoded SignedCertificateTimestampList: a 2-byte length,
// then SCTs each with a 2-byte length.
func parseSCTList(b []byte) ([][]byte, error) {
	if len(b) < 2 || int(b[0])<<8|int(b[1]) != len(b)-2 {
		return nil, errors.New("malformed SCT list")
	}
	b = b[2:]
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errors.New("malformed SCT list")
		}
		n := int(b[0])<<8 | int(b[1])
		if n == 0 || len(b) < 2+n {
			return nil, errors.New("malformed SCT list")
		}
		out = append(out, b[2:2+n])
		b = b[2+n:]
	}
	return out, nil
}

// parsePEM returns the DER certificates and the first private key of a PEM file.
// Blocks of other types (DH parameters, EC parameters) are skipped as OpenSSL does.
func parsePEM(data []byte) (chain [][]byte, key crypto.Signer, err error) {
	rest := data
	found := false
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		found = true
		switch {
		case b.Type == "CERTIFICATE" || b.Type == "TRUSTED CERTIFICATE":
			if _, err := x509.ParseCertificate(b.Bytes); err != nil {
				return nil, nil, err
			}
			chain = append(chain, b.Bytes)
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			if key != nil {
				continue
			}
			if key, err = parseKey(b); err != nil {
				return nil, nil, err
			}
		}
	}
	if !found && len(bytes.TrimSpace(data)) > 0 {
		return nil, nil, errors.New("no PEM data")
	}
	return chain, key, nil
}

func parseKey(b *pem.Block) (crypto.Signer, error) {
	if strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") || b.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("encrypted private keys are not supported (HAProxy would ask for a passphrase)")
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("unreadable %s", b.Type)
}

// keyMatches reports whether key is the private half of the certificate's public key.
func keyMatches(leaf *x509.Certificate, key crypto.Signer) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := key.Public().(equaler)
	if !ok {
		return false
	}
	switch leaf.PublicKey.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return pub.Equal(leaf.PublicKey)
	}
	return false
}

// osReason words an OS error as strerror does ("No such file or directory").
func osReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	s := err.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
