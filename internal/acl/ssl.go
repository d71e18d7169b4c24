package acl

import (
	"crypto/tls"

	"hitless/internal/tlsconf"
)

// The TLS fetches (ssl_fc*, ssl_c_*, ssl_bc) as rows of the fetch table. They read the
// connection's TLS state through TLSSample, which the engines' samples implement, so
// that a sample engine can take these rows over as they are. Booleans match when true
// (`{ ssl_fc }`), as HAProxy's boolean fetches do without a pattern.

// TLSSample is what the TLS fetches read. A Sample that does not implement it is a
// plain connection.
type TLSSample interface {
	// TLS is the client connection's state; nil on a plain connection.
	TLS() *tls.ConnectionState
	// BackendTLS is the state of the connection to the server; nil when it is plain
	// or not established.
	BackendTLS() *tls.ConnectionState
}

// tlsField is what a TLS fetch reads.
type tlsField int

const (
	tlsNone tlsField = iota
	tlsFC
	tlsSNI
	tlsHasSNI
	tlsProtocol
	tlsCipher
	tlsALPN
	tlsResumed
	tlsHasCrt
	tlsCUsed
	tlsCVerify
	tlsSDN
	tlsIDN
	tlsSerial
	tlsNotAfter
	tlsNotBefore
	tlsBC
)

// tlsFields are the TLS fetches with what each reads; init adds them to the fetch
// table.
var tlsFields = map[string]tlsField{
	"ssl_fc": tlsFC, "ssl_fc_sni": tlsSNI, "ssl_fc_has_sni": tlsHasSNI, "ssl_fc_protocol": tlsProtocol,
	"ssl_fc_cipher": tlsCipher, "ssl_fc_alpn": tlsALPN, "ssl_fc_is_resumed": tlsResumed, "ssl_fc_has_crt": tlsHasCrt,
	"ssl_c_used": tlsCUsed, "ssl_c_verify": tlsCVerify, "ssl_c_s_dn": tlsSDN, "ssl_c_i_dn": tlsIDN,
	"ssl_c_serial": tlsSerial, "ssl_c_notafter": tlsNotAfter, "ssl_c_notbefore": tlsNotBefore, "ssl_bc": tlsBC,
}

func init() {
	for name, f := range tlsFields {
		m := mStr
		switch {
		case f.isBool():
			m = mFound
		case f == tlsCVerify:
			m = mInt
		}
		fetches[name] = fetch{src: srcTLS, match: m}
		delete(unsupported, name)
	}
}

// optArg reports whether the fetch takes an optional (FIELD) argument.
func (f tlsField) optArg() bool { return f == tlsSDN || f == tlsIDN }

// isBool reports whether the TLS fetch is a boolean.
func (f tlsField) isBool() bool {
	switch f {
	case tlsFC, tlsHasSNI, tlsResumed, tlsHasCrt, tlsCUsed, tlsBC:
		return true
	}
	return false
}

// evalTLS evaluates a TLS fetch.
func (d *Def) evalTLS(s Sample) bool {
	var st, bst *tls.ConnectionState
	if ts, ok := s.(TLSSample); ok {
		st = ts.TLS()
		if d.tls == tlsBC {
			bst = ts.BackendTLS()
		}
	}
	f := d.tls
	if f.isBool() {
		v := TLSBool(f, st, bst)
		if d.match == mFound {
			return v
		}
		n := int64(0)
		if v {
			n = 1
		}
		return d.matchInt(n)
	}
	if f == tlsCVerify {
		if st == nil {
			return false
		}
		return d.matchInt(0) // a connection is accepted only once its certificate verified
	}
	if st == nil {
		return false
	}
	v, ok := TLSString(f, st, d.header)
	if !ok {
		return false
	}
	return d.matchStr(v)
}

// TLSBool is a boolean TLS fetch.
func TLSBool(f tlsField, st, bst *tls.ConnectionState) bool {
	switch f {
	case tlsFC:
		return st != nil
	case tlsBC:
		return bst != nil
	}
	if st == nil {
		return false
	}
	switch f {
	case tlsHasSNI:
		return st.ServerName != ""
	case tlsResumed:
		return st.DidResume
	case tlsCUsed:
		return len(st.PeerCertificates) > 0
	case tlsHasCrt:
		// Sent on this connection, not restored from a resumed session.
		return len(st.PeerCertificates) > 0 && !st.DidResume
	}
	return false
}

// TLSString is a string TLS fetch; ok is false when the sample does not exist (no
// client certificate). arg is the DN field of ssl_c_s_dn(CN).
func TLSString(f tlsField, st *tls.ConnectionState, arg string) (string, bool) {
	switch f {
	case tlsSNI:
		return st.ServerName, st.ServerName != ""
	case tlsProtocol:
		return tlsconf.VersionName(st.Version), true
	case tlsCipher:
		return tlsconf.SuiteName(st.CipherSuite), true
	case tlsALPN:
		return st.NegotiatedProtocol, st.NegotiatedProtocol != ""
	}
	if len(st.PeerCertificates) == 0 {
		return "", false
	}
	c := st.PeerCertificates[0]
	switch f {
	case tlsSDN:
		return tlsconf.DN(c.RawSubject, arg)
	case tlsIDN:
		return tlsconf.DN(c.RawIssuer, arg)
	case tlsSerial:
		return string(c.SerialNumber.Bytes()), true
	case tlsNotAfter:
		return tlsconf.ASN1Time(c.RawTBSCertificate, true)
	case tlsNotBefore:
		return tlsconf.ASN1Time(c.RawTBSCertificate, false)
	}
	return "", false
}
