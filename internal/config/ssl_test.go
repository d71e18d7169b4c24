package config

import (
	"crypto/tls"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"hitless/internal/testcert"
)

// TestBindSSLOptions gives every TLS row of `bind` a line: what it builds, or the
// error that names it.
func TestBindSSLOptions(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "Test Root CA")
	testcert.Write(t, filepath.Join(dir, "site.pem"), ca.Issue(t, []string{"www.example.test"}, testcert.Options{}).Bundle())
	testcert.Write(t, filepath.Join(dir, "ca.pem"), ca.PEM)
	head := fmt.Sprintf("global\n crt-base %s\n ca-base %s\ndefaults\n timeout client 5s\nfrontend f\n", dir, dir)
	type check func(c *tls.Config) bool
	for _, tc := range []struct {
		opts  string
		check check
		err   string
		warn  string
	}{
		{"alpn h2,http/1.1", func(c *tls.Config) bool { return strings.Join(c.NextProtos, ",") == "h2,http/1.1" }, "", ""},
		{"ssl-min-ver TLSv1.0", func(c *tls.Config) bool { return c.MinVersion == tls.VersionTLS10 && c.MaxVersion == tls.VersionTLS13 }, "", ""},
		{"ssl-max-ver TLSv1.2", func(c *tls.Config) bool { return c.MinVersion == tls.VersionTLS12 && c.MaxVersion == tls.VersionTLS12 }, "", ""},
		{"no-tlsv13", func(c *tls.Config) bool { return c.MaxVersion == tls.VersionTLS12 }, "", ""},
		{"no-sslv3 no-tlsv10 no-tlsv11", func(c *tls.Config) bool { return c.MinVersion == tls.VersionTLS12 }, "", ""},
		{"force-tlsv13", func(c *tls.Config) bool { return c.MinVersion == tls.VersionTLS13 && c.MaxVersion == tls.VersionTLS13 }, "", ""},
		{"force-sslv3", nil, "'force-sslv3' is not available: Go's TLS has no SSLv3", ""},
		{"ssl-min-ver TLSv9", nil, "'ssl-min-ver' unknown version 'TLSv9'", ""},
		{"ssl-min-ver TLSv1.1 no-tlsv12", nil, "'no-tlsv12' leaves a hole between TLSv1.1 and TLSv1.3", ""},
		{"ciphers ECDHE+AESGCM", func(c *tls.Config) bool { return len(c.CipherSuites) == 4 }, "", ""},
		{"ciphers ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256", func(c *tls.Config) bool { return len(c.CipherSuites) == 1 }, "", "Go's TLS has no finite-field DHE"},
		{"ciphers DHE-RSA-AES128-GCM-SHA256", nil, "'ciphers' cipher list 'DHE-RSA-AES128-GCM-SHA256' selects no suite that Go's TLS implements", ""},
		{"ciphersuites TLS_AES_128_GCM_SHA256", nil, "'ciphersuites' Go's TLS 1.3 always offers", ""},
		{"ciphersuites TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256", func(c *tls.Config) bool { return true }, "", ""},
		{"curves X25519:P-256", func(c *tls.Config) bool { return len(c.CurvePreferences) == 2 && c.CurvePreferences[0] == tls.X25519 }, "", ""},
		{"curves X448", nil, "'curves' curve 'X448' is not available", ""},
		{"ecdhe secp384r1", func(c *tls.Config) bool {
			return len(c.CurvePreferences) == 1 && c.CurvePreferences[0] == tls.CurveP384
		}, "", ""},
		{"verify required ca-file ca.pem", func(c *tls.Config) bool { return c.ClientAuth == tls.RequireAnyClientCert && c.ClientCAs != nil }, "", ""},
		{"verify optional ca-file ca.pem no-ca-names", func(c *tls.Config) bool { return c.ClientAuth == tls.RequestClientCert && c.ClientCAs == nil }, "", ""},
		{"verify required", nil, "verify is enabled but no CA file specified", ""},
		{"verify sometimes", nil, "'verify' expects 'none', 'optional' or 'required' (got 'sometimes')", ""},
		{"verify required ca-file nosuch.pem", nil, "unable to load CA file '" + dir + "/nosuch.pem'", ""},
		{"ca-ignore-err 10,X509_V_ERR_CERT_REVOKED crt-ignore-err all verify optional ca-file ca.pem", func(c *tls.Config) bool { return c.VerifyPeerCertificate != nil }, "", ""},
		{"ca-ignore-err foo", nil, "'ca-ignore-err' 'foo' is not an error ID", ""},
		{"no-tls-tickets", func(c *tls.Config) bool { return c.SessionTicketsDisabled }, "", ""},
		{"tls-ticket-keys nosuch.keys", nil, "unable to load ssl tickets keys file", ""},
		{"strict-sni", func(c *tls.Config) bool { return c.GetConfigForClient != nil }, "", ""},
		{"prefer-client-ciphers", func(c *tls.Config) bool { return true }, "", "the client's order is not followed"},
		{"allow-0rtt", nil, "'allow-0rtt' is not available: Go's TLS has no early data (0-RTT)", ""},
		{"npn h2", nil, "'npn' is not available: Go's TLS has no NPN", ""},
		{"sigalgs RSA+SHA256", nil, "'sigalgs' is not available", ""},
		{"client-sigalgs RSA+SHA256", nil, "'client-sigalgs' is not available", ""},
		{"generate-certificates", nil, "'generate-certificates' is not available", ""},
		{"ca-sign-file x", nil, "'ca-sign-file' is not available", ""},
		{"crt", nil, "'crt' expects an argument", ""},
	} {
		t.Run(tc.opts, func(t *testing.T) {
			cfg, err := LoadBytes("t.cfg", []byte(head+" bind 127.0.0.1:8443 ssl crt site.pem "+tc.opts+"\n"), nil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), "t.cfg:7: ") || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want t.cfg:7: ...%q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b := cfg.Proxies[0].Binds[0]
			if !tc.check(b.TLS.Entries[0].Config()) && !tc.check(b.TLS.Config) {
				t.Fatalf("not applied: %+v", b.TLS.Entries[0].Config())
			}
			w := strings.Join(cfg.Warnings, "\n")
			if tc.warn != "" && !strings.Contains(w, tc.warn) {
				t.Fatalf("warnings %q, want %q", w, tc.warn)
			}
		})
	}
}

// TestGlobalSSLSettings: ssl-default-bind-* fill what a bind line leaves unset, and
// the tune.ssl.* and DH settings warn (once for DH) with what Go does instead.
func TestGlobalSSLSettings(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "Test Root CA")
	leaf := ca.Issue(t, []string{"www.example.test"}, testcert.Options{})
	testcert.Write(t, filepath.Join(dir, "site.pem"), leaf.Bundle())
	testcert.Write(t, filepath.Join(dir, "sep.pem"), leaf.CertPEM)
	testcert.Write(t, filepath.Join(dir, "sep.pem.key"), leaf.KeyPEM)
	for _, tc := range []struct {
		global, bind string
		check        func(c *tls.Config) bool
		err, warn    string
	}{
		{"ssl-default-bind-options ssl-min-ver TLSv1.1 no-tls-tickets", "", func(c *tls.Config) bool {
			return c.MinVersion == tls.VersionTLS11 && c.SessionTicketsDisabled
		}, "", ""},
		{"ssl-default-bind-options ssl-min-ver TLSv1.1", "ssl-max-ver TLSv1.2", func(c *tls.Config) bool {
			return c.MinVersion == tls.VersionTLS12 && c.MaxVersion == tls.VersionTLS12 // the line's version options win as a whole
		}, "", ""},
		{"ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256", "", func(c *tls.Config) bool { return len(c.CipherSuites) == 1 }, "", ""},
		{"ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256", "ciphers ECDHE+AESGCM", func(c *tls.Config) bool { return len(c.CipherSuites) == 4 }, "", ""},
		{"ssl-default-bind-curves P-384", "", func(c *tls.Config) bool {
			return len(c.CurvePreferences) == 1 && c.CurvePreferences[0] == tls.CurveP384
		}, "", ""},
		{"ssl-default-bind-curves X448", "", nil, "curve 'X448' is not available", ""},
		{"tune.ssl.default-dh-param 2048\n ssl-dh-param-file /x", "", func(c *tls.Config) bool { return true }, "", "DHE cipher suites are not offered"},
		{"tune.ssl.cachesize 100000", "", func(c *tls.Config) bool { return true }, "", "'tune.ssl.cachesize' has no effect: Go's TLS resumes sessions with tickets only"},
		{"tune.ssl.lifetime 600", "", func(c *tls.Config) bool { return true }, "", "'tune.ssl.lifetime' has no effect"},
		{"tune.ssl.maxrecord 1400", "", func(c *tls.Config) bool { return true }, "", "'tune.ssl.maxrecord' has no effect"},
		{"ssl-default-bind-sigalgs RSA+SHA256", "", nil, "'ssl-default-bind-sigalgs' is not available", ""},
		{"ssl-server-verify maybe", "", nil, "'ssl-server-verify' expects 'none' or 'required' as argument.", ""},
		{"ssl-load-extra-files none all", "", nil, "'ssl-load-extra-files' 'none' and 'all' can be only used alone", ""},
	} {
		t.Run(tc.global+tc.bind, func(t *testing.T) {
			text := fmt.Sprintf("global\n crt-base %s\n %s\ndefaults\n timeout client 5s\nfrontend f\n bind 127.0.0.1:8443 ssl crt site.pem %s\n", dir, tc.global, tc.bind)
			cfg := loadOrErr(t, text, tc.err)
			if cfg == nil {
				return
			}
			if c := cfg.Proxies[0].Binds[0].TLS.Entries[0].Config(); !tc.check(c) {
				t.Fatalf("not applied: %+v", c)
			}
			w := strings.Join(cfg.Warnings, "\n")
			if tc.warn != "" && strings.Count(w, tc.warn) != 1 {
				t.Fatalf("warnings %q, want one %q", w, tc.warn)
			}
		})
	}
	// ssl-load-extra-files without key: the .key companion is not looked for.
	text := fmt.Sprintf("global\n crt-base %s\n ssl-load-extra-files ocsp\ndefaults\n timeout client 5s\nfrontend f\n bind 127.0.0.1:8443 ssl crt sep.pem\n", dir)
	if _, err := LoadBytes("t.cfg", []byte(text), nil); err == nil || !strings.Contains(err.Error(), "No Private Key found in '"+dir+"/sep.pem'.") {
		t.Fatalf("err = %v", err)
	}
	text = strings.Replace(text, "ssl-load-extra-files ocsp", "ssl-load-extra-files key", 1)
	if _, err := LoadBytes("t.cfg", []byte(text), nil); err != nil {
		t.Fatal(err)
	}
}

// TestServerSSLOptions: the TLS rows of server and default-server lines.
func TestServerSSLOptions(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "Test Root CA")
	testcert.Write(t, filepath.Join(dir, "ca.pem"), ca.PEM)
	testcert.Write(t, filepath.Join(dir, "client.pem"), ca.Issue(t, nil, testcert.Options{Client: true, CN: "c"}).Bundle())
	for _, tc := range []struct {
		global, lines string
		check         func(s []*Server) bool
		err           string
	}{
		{"", "server s1 127.0.0.1:443 ssl verify none", func(s []*Server) bool { return s[0].TLS != nil }, ""},
		{"ssl-server-verify none", "server s1 127.0.0.1:443 ssl", func(s []*Server) bool { return s[0].TLS != nil }, ""},
		{"", "server s1 127.0.0.1:443 ssl ca-file ca.pem crt client.pem sni req.hdr(host),lower alpn h2,http/1.1 verifyhost x.test",
			func(s []*Server) bool {
				return s[0].SSL.SNI.Fetch == "hdr" && s[0].SSL.SNI.Lower && s[0].SSL.VerifyHost == "x.test"
			}, ""},
		{"", "default-server ssl verify none alpn h2\n server s1 127.0.0.1:443\n server s2 127.0.0.1:444 no-ssl\n server s3 127.0.0.1:445 alpn http/1.1",
			func(s []*Server) bool {
				return s[0].TLS != nil && s[1].TLS == nil && s[0].SSL.ALPN[0] == "h2" && s[2].SSL.ALPN[0] == "http/1.1"
			}, ""},
		{"", "server s1 127.0.0.1:80 check check-ssl check-sni c.test check-alpn h2 verify none",
			func(s []*Server) bool { return s[0].TLS != nil && s[0].TLS.CheckSSL() && !s[0].SSL.Enabled }, ""},
		{"", "server s1 127.0.0.1:443 ssl", nil, "verify is enabled by default but no CA file specified"},
		{"", "server s1 127.0.0.1:443 ssl verify optional", nil, "'verify' expects 'none' or 'required' (got 'optional')"},
		{"", "server s1 127.0.0.1:443 ssl verify none sni path", nil, "sample expression 'path' is not supported yet"},
		{"", "server s1 127.0.0.1:443 ssl verify none crt nosuch.pem", nil, "nosuch.pem' : No such file or directory."},
		{"", "server s1 127.0.0.1:443 ssl verify none allow-0rtt", nil, "'allow-0rtt' is not available: Go's TLS has no early data"},
		{"", "server s1 127.0.0.1:443 ssl verify none ciphers FOO", nil, "unknown cipher 'FOO'"},
	} {
		t.Run(tc.lines, func(t *testing.T) {
			text := fmt.Sprintf("global\n ca-base %s\n crt-base %s\n %s\ndefaults\n timeout connect 1s\n timeout server 1s\nbackend b\n %s\n", dir, dir, tc.global, tc.lines)
			cfg := loadOrErr(t, text, tc.err)
			if cfg == nil {
				return
			}
			if !tc.check(cfg.Proxies[0].Servers) {
				t.Fatalf("not applied: %+v", cfg.Proxies[0].Servers[0].SSL)
			}
		})
	}
}

// loadOrErr loads text; with want set it checks that loading fails with it and
// returns nil.
func loadOrErr(t *testing.T, text, want string) *Config {
	t.Helper()
	cfg, err := LoadBytes("t.cfg", []byte(text), nil)
	if want != "" {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want %q", err, want)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestModeHTTPDoesNotOfferH2: mode http speaks HTTP/1.1 only, so `alpn h2,http/1.1`
// offers http/1.1 and says so; mode tcp offers what it is told.
func TestModeHTTPDoesNotOfferH2(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "Test Root CA")
	testcert.Write(t, filepath.Join(dir, "site.pem"), ca.Issue(t, []string{"www.example.test"}, testcert.Options{}).Bundle())
	for _, mode := range []string{"http", "tcp"} {
		cfg := loadOrErr(t, fmt.Sprintf("global\n crt-base %s\ndefaults\n timeout client 5s\nfrontend f\n mode %s\n bind 127.0.0.1:8443 ssl crt site.pem alpn h2,http/1.1\n", dir, mode), "")
		got := strings.Join(cfg.Proxies[0].Binds[0].TLS.Entries[0].Config().NextProtos, ",")
		warned := strings.Contains(strings.Join(cfg.Warnings, "\n"), "HTTP/2 is not supported yet in mode http: 'h2' is not offered")
		if mode == "http" && (got != "http/1.1" || !warned) || mode == "tcp" && (got != "h2,http/1.1" || warned) {
			t.Errorf("mode %s: ALPN %q, warned %v", mode, got, warned)
		}
	}
}

// TestTicketKeysFileIsNotJoinedWithCrtBase: as in HAProxy, tls-ticket-keys is opened
// as written, while crt is joined with crt-base.
func TestTicketKeysFileIsNotJoinedWithCrtBase(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "Test Root CA")
	testcert.Write(t, filepath.Join(dir, "site.pem"), ca.Issue(t, []string{"www.example.test"}, testcert.Options{}).Bundle())
	keys := strings.Repeat(strings.Repeat("A", 64)+"\n", 3)
	testcert.Write(t, filepath.Join(dir, "ticket.keys"), []byte(keys))
	text := "global\n crt-base " + dir + "\ndefaults\n timeout client 5s\nfrontend f\n bind 127.0.0.1:8443 ssl crt site.pem tls-ticket-keys %s\n"
	loadOrErr(t, fmt.Sprintf(text, filepath.Join(dir, "ticket.keys")), "")
	loadOrErr(t, fmt.Sprintf(text, "ticket.keys"), "'ticket.keys' : unable to load ssl tickets keys file")
}
