package tlsconf

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// OpenSSL's X509_V_ERR codes that hitless reports and that `ca-ignore-err` and
// `crt-ignore-err` name.
const (
	errUnableToGetIssuerCert        = 2
	errCertSignatureFailure         = 7
	errCertNotYetValid              = 9
	errCertHasExpired               = 10
	errDepthZeroSelfSigned          = 18
	errSelfSignedInChain            = 19
	errUnableToGetIssuerCertLocally = 20
	errCertRevoked                  = 23
	errInvalidPurpose               = 26
)

var verifyErrNames = map[string]int{
	"X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT":         errUnableToGetIssuerCert,
	"X509_V_ERR_CERT_SIGNATURE_FAILURE":            errCertSignatureFailure,
	"X509_V_ERR_CERT_NOT_YET_VALID":                errCertNotYetValid,
	"X509_V_ERR_CERT_HAS_EXPIRED":                  errCertHasExpired,
	"X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT":       errDepthZeroSelfSigned,
	"X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN":         errSelfSignedInChain,
	"X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY": errUnableToGetIssuerCertLocally,
	"X509_V_ERR_CERT_REVOKED":                      errCertRevoked,
	"X509_V_ERR_INVALID_PURPOSE":                   errInvalidPurpose,
}

// ignoreSet is a parsed `ca-ignore-err` / `crt-ignore-err` value.
type ignoreSet struct {
	all   bool
	codes map[int]bool
}

func (s ignoreSet) has(code int) bool { return s.all || s.codes[code] }

// ParseIgnoreErr reads "all" or a comma-separated list of error IDs (numbers, or
// X509_V_ERR_* names).
func ParseIgnoreErr(v string) (ignoreSet, error) {
	if v == "all" {
		return ignoreSet{all: true}, nil
	}
	s := ignoreSet{codes: map[int]bool{}}
	for _, w := range strings.Split(v, ",") {
		if n, err := strconv.Atoi(w); err == nil && n >= 0 {
			s.codes[n] = true
			continue
		}
		if n, ok := verifyErrNames[w]; ok {
			s.codes[n] = true
			continue
		}
		return ignoreSet{}, fmt.Errorf("'%s' is not an error ID (a number, 'all', or an X509_V_ERR_* name)", w)
	}
	return s, nil
}

// verifyError is a failed certificate check with OpenSSL's code and depth.
type verifyError struct {
	code, depth int
	err         error
}

func (e *verifyError) Error() string {
	return fmt.Sprintf("certificate verify failed (error %d at depth %d): %v", e.code, e.depth, e.err)
}

// clientVerifier checks client certificates as HAProxy does: against ca-file (plus
// ca-verify-file) and crl-file, each error ignorable by depth.
type clientVerifier struct {
	rootList  []*x509.Certificate
	crls      []*x509.RevocationList
	caIgnore  ignoreSet // depth > 0
	crtIgnore ignoreSet // depth 0
	now       func() time.Time
}

// verify is tls.Config.VerifyPeerCertificate for binds with `verify optional|required`.
func (v *clientVerifier) verify(raw [][]byte, _ [][]*x509.Certificate) error {
	if len(raw) == 0 {
		return nil // verify optional without a certificate; required is enforced by Go
	}
	certs := make([]*x509.Certificate, 0, len(raw))
	for _, r := range raw {
		c, err := x509.ParseCertificate(r)
		if err != nil {
			return err
		}
		certs = append(certs, c)
	}
	for _, e := range v.check(certs) {
		ign := v.crtIgnore
		if e.depth > 0 {
			ign = v.caIgnore
		}
		if !ign.has(e.code) {
			return e
		}
	}
	return nil
}

// check lists every problem of the chain, leaf first, as OpenSSL reports them: each
// certificate's dates against now, and the path to a CA of ca-file built by name and
// signature.
func (v *clientVerifier) check(certs []*x509.Certificate) []*verifyError {
	now := v.now()
	var out []*verifyError
	dates := func(c *x509.Certificate, depth int) {
		if now.Before(c.NotBefore) {
			out = append(out, &verifyError{errCertNotYetValid, depth, errors.New("certificate is not yet valid")})
		} else if now.After(c.NotAfter) {
			out = append(out, &verifyError{errCertHasExpired, depth, errors.New("certificate has expired")})
		}
	}
	leaf := certs[0]
	if !usableForClientAuth(leaf) {
		out = append(out, &verifyError{errInvalidPurpose, 0, errors.New("unsupported certificate purpose")})
	}
	cur, depth := leaf, 0
	dates(cur, 0)
	for ; depth < 10; depth++ {
		if root := findIssuer(cur, v.rootList); root != nil {
			if !bytes.Equal(root.Raw, cur.Raw) {
				dates(root, depth+1)
			}
			break
		}
		next := findIssuer(cur, certs[1:])
		if next == nil || bytes.Equal(next.Raw, cur.Raw) {
			code := errUnableToGetIssuerCertLocally
			if bytes.Equal(cur.RawIssuer, cur.RawSubject) {
				code = errSelfSignedInChain
				if depth == 0 {
					code = errDepthZeroSelfSigned
				}
			}
			out = append(out, &verifyError{code, depth, errors.New("no trusted issuer")})
			break
		}
		cur = next
		dates(cur, depth+1)
	}
	// The CRL file is the administrator's: a list is trusted as given, matched to a
	// certificate by its issuer name.
	for depth, c := range certs {
		for _, crl := range v.crls {
			if string(crl.RawIssuer) != string(c.RawIssuer) {
				continue
			}
			for _, r := range crl.RevokedCertificateEntries {
				if r.SerialNumber.Cmp(c.SerialNumber) == 0 {
					out = append(out, &verifyError{errCertRevoked, depth, errors.New("certificate revoked")})
				}
			}
		}
	}
	return out
}

// findIssuer returns the certificate of list that issued c (by name and signature).
func findIssuer(c *x509.Certificate, list []*x509.Certificate) *x509.Certificate {
	for _, p := range list {
		if bytes.Equal(p.Raw, c.Raw) {
			return p // c itself is trusted
		}
	}
	for _, p := range list {
		if bytes.Equal(p.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(p) == nil {
			return p
		}
	}
	return nil
}

func usableForClientAuth(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) == 0 {
		return true
	}
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

// pemBlocks returns the DER bodies of the PEM blocks of the given types.
func pemBlocks(b []byte, types ...string) [][]byte {
	var out [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		for _, t := range types {
			if blk.Type == t {
				out = append(out, blk.Bytes)
			}
		}
	}
}

// loadCAFile reads a PEM file of CA certificates.
func loadCAFile(path string) (*x509.CertPool, []*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("unable to load CA file '%s' : %s.", path, osReason(err))
	}
	pool := x509.NewCertPool()
	var list []*x509.Certificate
	for _, der := range pemBlocks(b, "CERTIFICATE", "TRUSTED CERTIFICATE") {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, fmt.Errorf("unable to load CA file '%s' : %v.", path, err)
		}
		pool.AddCert(c)
		list = append(list, c)
	}
	if len(list) == 0 {
		return nil, nil, fmt.Errorf("unable to load CA file '%s' : no certificate found.", path)
	}
	return pool, list, nil
}

// loadCRLFile reads a PEM (or DER) file of certificate revocation lists.
func loadCRLFile(path string) ([]*x509.RevocationList, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("unable to load CRL file '%s' : %s.", path, osReason(err))
	}
	ders := pemBlocks(b, "X509 CRL")
	if len(ders) == 0 {
		ders = [][]byte{b}
	}
	var out []*x509.RevocationList
	for _, der := range ders {
		l, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("unable to load CRL file '%s' : %v.", path, err)
		}
		out = append(out, l)
	}
	return out, nil
}
