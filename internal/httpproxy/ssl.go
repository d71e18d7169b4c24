package httpproxy

import (
	"crypto/tls"

	"hitless/internal/logging"
	"hitless/internal/tlsconf"
)

// tlsEntry fills the TLS fields of an access-log entry.
func (s *session) tlsEntry(e *logging.Entry) {
	if st := s.TLS(); st != nil {
		e.SSLVersion, e.SSLCipher = tlsconf.VersionName(st.Version), tlsconf.SuiteName(st.CipherSuite)
	}
}

// The TLS facts of a session, for ACL fetches (ssl_fc*, ssl_c_*, ssl_bc), log
// formats (%sslv, %sslc, the '~' of %ft) and server-side `sni` expressions.

// TLS returns the client connection's TLS state; nil on a plain connection.
func (s *session) TLS() *tls.ConnectionState {
	if s.tlsState == nil {
		tc, ok := s.c.(*tls.Conn)
		if !ok {
			return nil
		}
		st := tc.ConnectionState()
		s.tlsState = &st
	}
	return s.tlsState
}

// ClientSNI is the server name the client sent (tlsconf.SNISource).
func (s *session) ClientSNI() string {
	if st := s.TLS(); st != nil {
		return st.ServerName
	}
	return ""
}

// BackendTLS reports whether the connection to the server of the request in flight
// (or the last one) uses TLS.
func (s *session) BackendTLS() *tls.ConnectionState {
	if sc := s.cur; sc != nil {
		if tc, ok := sc.Conn.(*tls.Conn); ok {
			st := tc.ConnectionState()
			return &st
		}
	}
	return nil
}
