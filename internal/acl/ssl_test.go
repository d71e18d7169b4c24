package acl

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"hitless/internal/testcert"
)

// tlsSample is a connection with a TLS state (nil: plain).
type tlsSample struct{ st, bst *tls.ConnectionState }

func TestTLSFetches(t *testing.T) {
	ca := testcert.NewCA(t, "Test Root CA")
	na := time.Date(2027, 12, 2, 2, 9, 55, 0, time.UTC)
	cl := ca.Issue(t, nil, testcert.Options{Client: true, Serial: 0x1A2B3C, NotAfter: na,
		Subject: &pkix.Name{Country: []string{"US"}, Province: []string{"CA"}, Organization: []string{"Test Org"}, OrganizationalUnit: []string{"Dev"}, CommonName: "client1"}})
	withCert := &tls.ConnectionState{Version: tls.VersionTLS12, CipherSuite: tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		ServerName: "www.example.test", NegotiatedProtocol: "h2", DidResume: true, PeerCertificates: []*x509.Certificate{cl.Cert}}
	plainTLS := &tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_256_GCM_SHA384}
	for _, tc := range []struct {
		expr string
		s    tlsSample
		want bool
	}{
		{"ssl_fc", tlsSample{st: plainTLS}, true},
		{"ssl_fc", tlsSample{}, false},
		{"ssl_fc_has_sni", tlsSample{st: plainTLS}, false},
		{"ssl_fc_has_sni", tlsSample{st: withCert}, true},
		{"ssl_fc_sni -i WWW.example.test", tlsSample{st: withCert}, true},
		{"ssl_fc_sni -m end .example.test", tlsSample{st: withCert}, true},
		{"ssl_fc_protocol TLSv1.3", tlsSample{st: plainTLS}, true},
		{"ssl_fc_cipher ECDHE-ECDSA-AES256-GCM-SHA384", tlsSample{st: withCert}, true},
		{"ssl_fc_cipher TLS_AES_256_GCM_SHA384", tlsSample{st: plainTLS}, true},
		{"ssl_fc_alpn h2", tlsSample{st: withCert}, true},
		{"ssl_fc_is_resumed", tlsSample{st: withCert}, true},
		{"ssl_fc_is_resumed", tlsSample{st: plainTLS}, false},
		{"ssl_c_used", tlsSample{st: withCert}, true},
		{"ssl_fc_has_crt", tlsSample{st: plainTLS}, false},
		{"ssl_fc_has_crt", tlsSample{st: withCert}, false}, // resumed: the certificate came with the session
		{"ssl_c_used", tlsSample{st: withCert}, true},
		{"ssl_c_verify 0", tlsSample{st: withCert}, true},
		{"ssl_c_s_dn /C=US/ST=CA/O=Test Org/OU=Dev/CN=client1", tlsSample{st: withCert}, true},
		{"ssl_c_s_dn(CN) client1", tlsSample{st: withCert}, true},
		{"ssl_c_s_dn(cn) client1", tlsSample{st: withCert}, true},
		{"ssl_c_i_dn /C=US/O=Test CA/CN=Test Root CA", tlsSample{st: withCert}, true},
		{"ssl_c_i_dn(O) -m beg Test", tlsSample{st: withCert}, true},
		{"ssl_c_serial \x1a\x2b\x3c", tlsSample{st: withCert}, true},
		{"ssl_c_notafter 271202020955Z", tlsSample{st: withCert}, true},
		{"ssl_c_notbefore -m len 13", tlsSample{st: withCert}, true},
		{"ssl_c_notafter x", tlsSample{st: plainTLS}, false},
		{"ssl_c_s_dn -m found", tlsSample{st: plainTLS}, false},
		{"ssl_bc", tlsSample{st: plainTLS, bst: plainTLS}, true},
		{"ssl_bc", tlsSample{st: plainTLS}, false},
	} {
		d, err := ParseDef(append([]string{"a"}, splitExpr(tc.expr)...), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if got := d.Eval(ctxOf(&fakeSample{tls: tc.s.st, btls: tc.s.bst})); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.expr, got, tc.want)
		}
		if d.NeedsHTTP() {
			t.Errorf("%s needs mode http", tc.expr)
		}
	}
}

// splitExpr splits on spaces except inside a DN value.
func splitExpr(s string) []string {
	name, rest, ok := cutSpace(s)
	if !ok {
		return []string{name}
	}
	if rest[0] == '-' {
		flag, rest2, _ := cutSpace(rest)
		if flag == "-i" {
			return []string{name, flag, rest2}
		}
		arg, rest3, _ := cutSpace(rest2)
		if rest3 == "" {
			return []string{name, flag, arg}
		}
		return []string{name, flag, arg, rest3}
	}
	return []string{name, rest}
}

func cutSpace(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
