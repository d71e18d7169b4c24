package sample

import (
	"crypto/tls"
	"slices"

	"hitless/internal/tlsconf"
)

// The TLS fetches (ssl_fc*, ssl_c_*, ssl_bc): they read the connection's TLS state
// (Input.TLS, Input.BackendTLS), with OpenSSL's words for protocols, suites and
// distinguished names (tlsconf). A plain connection has no sample for the string
// fetches and false for the boolean ones.

func init() {
	addFetches(
		&Fetch{Name: "ssl_fc", Out: TBool, Use: SrcL5Cli, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Bool(c.In.TLS() != nil); return true }},
		&Fetch{Name: "ssl_bc", Out: TBool, Use: SrcServer, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Bool(c.In.BackendTLS() != nil); return true }},
		tlsBool("ssl_fc_has_sni", func(st *tls.ConnectionState) bool { return st.ServerName != "" }),
		tlsBool("ssl_fc_is_resumed", func(st *tls.ConnectionState) bool { return st.DidResume }),
		tlsBool("ssl_c_used", func(st *tls.ConnectionState) bool { return len(st.PeerCertificates) > 0 }),
		// Sent on this connection, not restored from a resumed session.
		tlsBool("ssl_fc_has_crt", func(st *tls.ConnectionState) bool { return len(st.PeerCertificates) > 0 && !st.DidResume }),
		tlsStr("ssl_fc_sni", "", func(st *tls.ConnectionState, _ string) (string, bool) { return st.ServerName, st.ServerName != "" }),
		tlsStr("ssl_fc_protocol", "", func(st *tls.ConnectionState, _ string) (string, bool) { return tlsconf.VersionName(st.Version), true }),
		tlsStr("ssl_fc_cipher", "", func(st *tls.ConnectionState, _ string) (string, bool) { return tlsconf.SuiteName(st.CipherSuite), true }),
		tlsStr("ssl_fc_alpn", "", func(st *tls.ConnectionState, _ string) (string, bool) {
			return st.NegotiatedProtocol, st.NegotiatedProtocol != ""
		}),
		tlsStr("ssl_c_s_dn", "|s", peerCert(func(raw, tbs []byte, arg string) (string, bool) { return tlsconf.DN(raw, arg) }, true)),
		tlsStr("ssl_c_i_dn", "|s", peerCert(func(raw, tbs []byte, arg string) (string, bool) { return tlsconf.DN(raw, arg) }, false)),
		tlsStr("ssl_c_notafter", "", peerCert(func(_, tbs []byte, _ string) (string, bool) { return tlsconf.ASN1Time(tbs, true) }, true)),
		tlsStr("ssl_c_notbefore", "", peerCert(func(_, tbs []byte, _ string) (string, bool) { return tlsconf.ASN1Time(tbs, false) }, true)),
		&Fetch{Name: "ssl_c_serial", Out: TBin, Use: SrcL5Cli, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			st := c.In.TLS()
			if st == nil || len(st.PeerCertificates) == 0 {
				return false
			}
			n := st.PeerCertificates[0].SerialNumber
			start, size := len(c.buf), (n.BitLen()+7)/8
			c.buf = slices.Grow(c.buf, size)[:start+size]
			n.FillBytes(c.buf[start:])
			*v = Value{Type: TBin, B: c.grab(start)}
			return true
		}},
		// A connection is accepted only once its certificate verified (or verify is
		// not required): the result is always X509_V_OK.
		&Fetch{Name: "ssl_c_verify", Out: TInt, Use: SrcL5Cli, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			if c.In.TLS() == nil {
				return false
			}
			*v = Int(0)
			return true
		}},
	)
}

func tlsBool(name string, f func(*tls.ConnectionState) bool) *Fetch {
	return &Fetch{Name: name, Out: TBool, Use: SrcL5Cli, Fn: func(c *Ctx, a []Arg, v *Value) bool {
		st := c.In.TLS()
		*v = Bool(st != nil && f(st))
		return true
	}}
}

func tlsStr(name, args string, f func(*tls.ConnectionState, string) (string, bool)) *Fetch {
	return &Fetch{Name: name, Args: args, Out: TStr, Use: SrcL5Cli, Fn: func(c *Ctx, a []Arg, v *Value) bool {
		st := c.In.TLS()
		if st == nil {
			return false
		}
		arg := ""
		if len(a) > 0 {
			arg = a[0].S
		}
		s, ok := f(st, arg)
		if !ok {
			return false
		}
		start := len(c.buf)
		c.buf = append(c.buf, s...)
		*v = Str(c.grab(start))
		return true
	}}
}

// peerCert reads the client certificate's subject (or issuer) and to-be-signed part.
func peerCert(f func(raw, tbs []byte, arg string) (string, bool), subject bool) func(*tls.ConnectionState, string) (string, bool) {
	return func(st *tls.ConnectionState, arg string) (string, bool) {
		if len(st.PeerCertificates) == 0 {
			return "", false
		}
		c := st.PeerCertificates[0]
		raw := c.RawIssuer
		if subject {
			raw = c.RawSubject
		}
		return f(raw, c.RawTBSCertificate, arg)
	}
}
