package tlsconf

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"hitless/internal/testcert"
)

func TestParseCrtList(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []CrtListLine
		warn     string
		err      string
	}{
		{"plain", "a.pem\n", []CrtListLine{{Line: 1, Path: "a.pem"}}, "", ""},
		{"comments and blanks count", "# c\n\n   \nb.pem x.test *.y.test !z.y.test\n",
			[]CrtListLine{{Line: 4, Path: "b.pem", Filters: []string{"x.test", "*.y.test", "!z.y.test"}}}, "", ""},
		{"indented hash is a path", "  # not a comment\n", []CrtListLine{{Line: 1, Path: "#", Filters: []string{"not", "a", "comment"}}}, "", ""},
		{"options", "c.pem [alpn h2 ssl-min-ver TLSv1.2] w.test\n",
			[]CrtListLine{{Line: 1, Path: "c.pem", Options: []string{"alpn", "h2", "ssl-min-ver", "TLSv1.2"}, Filters: []string{"w.test"}}}, "", ""},
		{"brackets cut words", "c.pem [alpn h2]w.test\n",
			[]CrtListLine{{Line: 1, Path: "c.pem", Options: []string{"alpn", "h2"}, Filters: []string{"w.test"}}}, "", ""},
		{"filters before options are dropped", "c.pem z.test [alpn h2]\n",
			[]CrtListLine{{Line: 1, Path: "c.pem", Options: []string{"alpn", "h2"}}}, "l:1: malformated line, filters can't be between filename and options!", ""},
		{"crlf", "a.pem x.test\r\n", []CrtListLine{{Line: 1, Path: "a.pem", Filters: []string{"x.test"}}}, "", ""},
		{"no LF", "a.pem", nil, "", "Missing LF on last line, file might have been truncated at position 5."},
		{"NUL", "a.pem\x00\n", nil, "", "Stray NUL character at position 5."},
		{"starts with bracket", "[alpn h2] a.pem\n", nil, "", "l:1: file must start with a cert"},
		{"two opens", "a.pem [ [ alpn h2 ]\n", nil, "", "l:1: too many '['"},
		{"two closes", "a.pem [ alpn h2 ] ]\n", nil, "", "l:1: too many ']'"},
		{"close first", "a.pem ] x\n", nil, "", "l:1: missing '['"},
		{"unclosed", "\na.pem [alpn h2\n", nil, "", "l:2: missing ']'"},
		{"bad filter", "a.pem *x.test\n", nil, "", "l:1: invalid SNI filter '*x.test'"},
		{"bad filter char", "a.pem x/y\n", nil, "", "l:1: invalid SNI filter 'x/y': character '/' is not allowed"},
		{"long line", strings.Repeat("a", 70000) + "\n", nil, "", "l:1: line too long, limit is 65535 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, warns, err := ParseCrtList("l", []byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			w := ""
			if len(warns) > 0 {
				w = warns[0].Error()
			}
			if w != tc.warn {
				t.Errorf("warning %q, want %q", w, tc.warn)
			}
		})
	}
}

// FuzzParseCrtList: any bytes give lines or an error, never a panic, and every line
// has a path and a line number within the file.
func FuzzParseCrtList(f *testing.F) {
	for _, s := range []string{"a.pem\n", "b.pem [alpn h2,http/1.1 ssl-min-ver TLSv1.2] *.x.test !y.x.test\n", "# c\n\r\n[\n", "a ] [\n", "a [b] c [d]\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, _, err := ParseCrtList("f", b)
		if err != nil {
			return
		}
		n := strings.Count(string(b), "\n")
		for _, l := range lines {
			if l.Path == "" || l.Line < 1 || l.Line > n {
				t.Fatalf("bad line %+v for %q", l, b)
			}
			for _, f := range l.Filters {
				if checkFilter(f) != nil {
					t.Fatalf("accepted bad filter %q", f)
				}
			}
		}
	})
}

func TestLoadCert(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "Test Root CA")
	ok := ca.Issue(t, []string{"www.example.test"}, testcert.Options{})
	other := ca.Issue(t, []string{"other.test"}, testcert.Options{})
	old := ca.Issue(t, []string{"old.test"}, testcert.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	bundle := testcert.Write(t, filepath.Join(dir, "bundle.pem"), ok.Bundle())
	sep := testcert.Write(t, filepath.Join(dir, "sep.pem"), ok.CertPEM)
	testcert.Write(t, sep+".key", ok.KeyPEM)
	crt := testcert.Write(t, filepath.Join(dir, "c.crt"), ok.CertPEM)
	testcert.Write(t, filepath.Join(dir, "c.key"), ok.KeyPEM)
	nokey := testcert.Write(t, filepath.Join(dir, "nokey.pem"), ok.CertPEM)
	mism := testcert.Write(t, filepath.Join(dir, "mismatch.pem"), append(append([]byte(nil), ok.CertPEM...), other.KeyPEM...))
	junk := testcert.Write(t, filepath.Join(dir, "junk.pem"), []byte("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"))
	expired := testcert.Write(t, filepath.Join(dir, "expired.pem"), old.Bundle())
	delExt := AllExtras
	delExt.DelExt = true
	for _, tc := range []struct {
		name, path string
		ex         Extras
		err, warn  string
	}{
		{"bundle", bundle, AllExtras, "", ""},
		{"key companion", sep, AllExtras, "", ""},
		{"key companion after .crt removed", crt, delExt, "", ""},
		{"no key", nokey, AllExtras, "No Private Key found in '" + nokey + ".key'.", ""},
		{"key lookup disabled", sep, Extras{}, "No Private Key found in '" + sep + "'.", ""},
		{"mismatch", mism, AllExtras, "inconsistencies between private key and certificate loaded '" + mism + "'.", ""},
		{"malformed", junk, AllExtras, "unable to load certificate from file '" + junk + "'", ""},
		{"missing", filepath.Join(dir, "none.pem"), AllExtras, "unable to stat SSL certificate from file '" + filepath.Join(dir, "none.pem") + "' : No such file or directory.", ""},
		{"expired is a warning", expired, AllExtras, "", "certificate '" + expired + "' expired on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var warns []string
			c, err := LoadCert(tc.path, tc.ex, time.Now(), func(m string) { warns = append(warns, m) })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Leaf == nil || c.Type != KeyECDSA {
				t.Fatalf("cert %+v", c)
			}
			if tc.warn != "" && (len(warns) != 1 || !strings.Contains(warns[0], tc.warn)) {
				t.Fatalf("warnings %q, want %q", warns, tc.warn)
			}
		})
	}
}

// hello builds a ClientHello that supports ECDSA (or only RSA).
func hello(name string, ecdsa bool) *tls.ClientHelloInfo {
	h := &tls.ClientHelloInfo{ServerName: name, SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
		SupportedCurves: []tls.CurveID{tls.X25519, tls.CurveP256}, SupportedPoints: []uint8{0},
		CipherSuites: []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
	h.SignatureSchemes = []tls.SignatureScheme{tls.PSSWithSHA256, tls.PKCS1WithSHA256}
	if ecdsa {
		h.SignatureSchemes = append(h.SignatureSchemes, tls.ECDSAWithP256AndSHA256)
	}
	return h
}

// TestSNISelection checks HAProxy 2.6's choices (captured, see the reference notes):
// key type before exactness, negative filters only against the same line's wildcards,
// one label per wildcard, the first line as the default.
func TestSNISelection(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "Test Root CA")
	write := func(name string, names []string, key string) string {
		return testcert.Write(t, filepath.Join(dir, name), ca.Issue(t, names, testcert.Options{Key: key}).Bundle())
	}
	write("default.pem", []string{"default.test"}, testcert.ECDSA)
	write("other.pem", []string{"mix.example.test"}, testcert.RSA)
	write("wild.pem", []string{"*.example.test"}, testcert.RSA)
	write("wild_ec.pem", []string{"*.example.test"}, testcert.ECDSA)
	write("www_rsa.pem", []string{"www.example.test"}, testcert.RSA)
	write("dup.pem", []string{"dup.test"}, testcert.ECDSA)
	write("dup2.pem", []string{"dup.test"}, testcert.ECDSA)
	list := testcert.Write(t, filepath.Join(dir, "list.txt"), []byte(
		"default.pem\n"+
			"other.pem mix.example.test\n"+
			"wild.pem *.example.test !excluded.example.test\n"+
			"www_rsa.pem [alpn h2] www.example.test\n"+
			"dup.pem dup.test\n"+
			"dup2.pem dup.test\n"+
			"# the ECDSA wildcard comes last\n"+
			"wild_ec.pem *.example.test\n"))
	b := &Bind{Certs: []CertRef{{List: true, Path: list}}}
	l, errs := Load(b, Env{CRTBase: dir, Extras: AllExtras, LineOptions: func(o *Options, w []string) error {
		if len(w) == 2 && w[0] == "alpn" {
			o.ALPN = []string{w[1]}
		}
		return nil
	}})
	if errs != nil {
		t.Fatal(errs)
	}
	for _, tc := range []struct {
		sni   string
		ecdsa bool
		want  string
	}{
		{"", true, "default.pem"},
		{"nomatch.test", true, "default.pem"},
		{"mix.example.test", true, "wild_ec.pem"}, // the ECDSA wildcard beats the exact RSA name
		{"mix.example.test", false, "other.pem"},
		{"MIX.Example.TEST", false, "other.pem"},
		{"a.example.test", false, "wild.pem"},
		{"excluded.example.test", true, "wild_ec.pem"},  // the negative filter only drops wild.pem
		{"excluded.example.test", false, "wild_ec.pem"}, // and does not fall back to the default
		{"a.b.example.test", true, "default.pem"},       // one label per wildcard
		{"www.example.test", false, "www_rsa.pem"},
		{"dup.test", true, "dup.pem"},
	} {
		e, err := l.sel.Load().pick(hello(tc.sni, tc.ecdsa))
		if err != nil {
			t.Fatalf("%s: %v", tc.sni, err)
		}
		if got := filepath.Base(e.Cert().Path); got != tc.want {
			t.Errorf("SNI %q (ecdsa %v): got %s, want %s", tc.sni, tc.ecdsa, got, tc.want)
		}
	}
	e, _ := l.sel.Load().pick(hello("www.example.test", false))
	if !reflect.DeepEqual(e.config.NextProtos, []string{"h2"}) {
		t.Errorf("crt-list line options not applied: %v", e.config.NextProtos)
	}
	b.StrictSNI = true
	l, _ = Load(b, Env{CRTBase: dir, Extras: AllExtras, LineOptions: func(*Options, []string) error { return nil }})
	for _, sni := range []string{"", "nomatch.test"} {
		if _, err := l.sel.Load().pick(hello(sni, true)); err == nil {
			t.Errorf("strict-sni: %q got a certificate", sni)
		}
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "Test Root CA")
	a := ca.Issue(t, []string{"a.test"}, testcert.Options{})
	bc := ca.Issue(t, []string{"b.test"}, testcert.Options{})
	testcert.Write(t, filepath.Join(dir, "a_default.pem"), a.Bundle())
	testcert.Write(t, filepath.Join(dir, "b_other.crt"), bc.CertPEM)
	testcert.Write(t, filepath.Join(dir, "b_other.crt.key"), bc.KeyPEM)
	testcert.Write(t, filepath.Join(dir, ".hidden"), []byte("junk"))
	l, errs := Load(&Bind{Certs: []CertRef{{Path: dir + "/"}}}, Env{Extras: AllExtras})
	if errs != nil {
		t.Fatal(errs)
	}
	if len(l.Entries) != 2 || filepath.Base(l.Entries[0].Cert().Path) != "a_default.pem" || l.Entries[1].List != dir {
		t.Fatalf("entries %+v", l.Entries)
	}
}

func TestCipherList(t *testing.T) {
	for _, tc := range []struct {
		in    string
		want  []uint16
		notes string
		err   string
	}{
		{"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256", []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, "", ""},
		{"ECDHE+AESGCM:!aRSA", []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, "", ""},
		{"ECDHE+CHACHA20:-ECDSA", []uint16{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}, "", ""},
		{"ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, "'DHE-RSA-AES128-GCM-SHA256' (Go's TLS has no finite-field DHE key exchange)", ""},
		{"HIGH:!aNULL:!MD5:!3DES:!RC4:!SHA1:!SHA256:!SHA384:!AES:!CHACHA20", nil, "", "selects no suite"},
		{"DHE-RSA-AES256-GCM-SHA384", nil, "", "Go's TLS has no finite-field DHE"},
		{"FOO", nil, "", "unknown cipher 'FOO'"},
		{"AES;X", nil, "", "invalid character ';'"},
	} {
		ids, notes, err := ParseCipherList(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(ids, tc.want) {
			t.Errorf("%s: got %x, want %x", tc.in, ids, tc.want)
		}
		if n := strings.Join(notes, ";"); (tc.notes == "") != (n == "") || !strings.Contains(n, tc.notes) {
			t.Errorf("%s: notes %q, want %q", tc.in, n, tc.notes)
		}
	}
	if SuiteName(tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384) != "ECDHE-ECDSA-AES256-GCM-SHA384" || SuiteName(tls.TLS_AES_256_GCM_SHA384) != "TLS_AES_256_GCM_SHA384" {
		t.Error("suite names are not OpenSSL's")
	}
}

func TestVersionRange(t *testing.T) {
	for _, tc := range []struct {
		o      Options
		lo, hi uint16
		err    string
	}{
		{Options{}, tls.VersionTLS12, tls.VersionTLS13, ""},
		{Options{MinVer: tls.VersionTLS10}, tls.VersionTLS10, tls.VersionTLS13, ""},
		{Options{MinVer: tls.VersionTLS10, NoVers: []uint16{tls.VersionTLS10, tls.VersionTLS13}}, tls.VersionTLS11, tls.VersionTLS12, ""},
		{Options{Force: tls.VersionTLS12}, tls.VersionTLS12, tls.VersionTLS12, ""},
		{Options{MinVer: tls.VersionTLS11, NoVers: []uint16{tls.VersionTLS12}}, 0, 0, "'no-tlsv12' leaves a hole between TLSv1.1 and TLSv1.3"},
		{Options{Force: VersionSSL3}, 0, 0, "Go's TLS has no SSLv3"},
		{Options{NoVers: []uint16{tls.VersionTLS12, tls.VersionTLS13}}, 0, 0, "every TLS version is disabled"},
	} {
		lo, hi, _, err := tc.o.versionRange()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: err = %v, want %q", tc.o, err, tc.err)
			}
			continue
		}
		if err != nil || lo != tc.lo || hi != tc.hi {
			t.Errorf("%+v: got %x-%x %v, want %x-%x", tc.o, lo, hi, err, tc.lo, tc.hi)
		}
	}
}

// TestTicketKeysFileOrder: the second-to-last line encrypts, then the last ("next"),
// then the third-to-last ("previous"); only the last three lines count.
func TestTicketKeysFileOrder(t *testing.T) {
	var lines []string
	var raw [][]byte
	for i := 0; i < 4; i++ {
		k := make([]byte, 48)
		k[0] = byte(i + 1)
		raw = append(raw, k)
		lines = append(lines, base64.StdEncoding.EncodeToString(k))
	}
	keys, err := ParseTicketKeys("k", []byte(strings.Join(lines, "\n")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := TicketKeys{sha256.Sum256(raw[2]), sha256.Sum256(raw[3]), sha256.Sum256(raw[1])}
	if !keys.Equal(want) {
		t.Fatalf("keys not in HAProxy's order (current, next, previous)")
	}
	for _, tc := range []struct{ in, err string }{
		{lines[0] + "\n" + lines[1] + "\n", "please supply at least 3 keys"},
		{lines[0] + "\n!!\n" + lines[1] + "\n", "unable to decode base64 key on line 2"},
		{lines[0] + "\n" + base64.StdEncoding.EncodeToString(make([]byte, 80)) + "\n" + lines[1] + "\n", "wrong sized key on line 2"},
		{lines[0] + "\n\n" + lines[1] + "\n", "wrong sized key on line 2"},
	} {
		if _, err := ParseTicketKeys("k", []byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("err = %v, want %q", err, tc.err)
		}
	}
}

// TestProcessKeysRotate: one key at first, a new encrypting key every day, keys older
// eight days old dropped; the encoding goes both ways and refuses anything else.
func TestProcessKeysRotate(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	k, changed := ProcessKeys(nil).Rotate(t0)
	if !changed || len(k) != 1 {
		t.Fatalf("first rotation: %d keys", len(k))
	}
	if k2, changed := k.Rotate(t0.Add(23 * time.Hour)); changed || len(k2) != 1 {
		t.Fatal("rotated before a day")
	}
	for d := 1; d <= 10; d++ {
		k, _ = k.Rotate(t0.Add(time.Duration(d) * 24 * time.Hour))
	}
	if len(k) != 8 || k[0].Created != t0.Add(240*time.Hour).Unix() || k[7].Created != t0.Add(72*time.Hour).Unix() {
		t.Fatalf("after 10 days: %d keys, newest %d, oldest %d", len(k), k[0].Created, k[len(k)-1].Created)
	}
	if s := k.Secrets(); len(s) != 8 || s[0] != k[0].Secret {
		t.Fatal("secrets not newest first")
	}
	enc := k.Encode()
	back, err := DecodeProcessKeys(enc)
	if err != nil || back.Encode() != enc {
		t.Fatalf("encode/decode: %v", err)
	}
	for _, bad := range []string{"bad\n", "12 !!\n", "x " + strings.Repeat("A", 44) + "\n", ""} {
		if _, err := DecodeProcessKeys(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestCompanionsAndBundles: .ocsp is stapled, .sctl sent, a wrong .issuer refused, and
// a path that does not exist loads its .rsa/.ecdsa variants as separate stores.
func TestCompanionsAndBundles(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "Test Root CA")
	other := testcert.NewCA(t, "Other CA")
	leaf := ca.Issue(t, []string{"c.test"}, testcert.Options{})
	p := testcert.Write(t, filepath.Join(dir, "c.pem"), leaf.Bundle())
	ocsp := []byte{0x30, 0x03, 0x0a, 0x01, 0x00}
	testcert.Write(t, p+".ocsp", ocsp)
	testcert.Write(t, p+".sctl", []byte{0, 5, 0, 3, 'a', 'b', 'c'})
	testcert.Write(t, p+".issuer", ca.PEM)
	c, err := LoadCert(p, AllExtras, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Cert.OCSPStaple) != string(ocsp) || len(c.Cert.SignedCertificateTimestamps) != 1 || string(c.Cert.SignedCertificateTimestamps[0]) != "abc" {
		t.Fatalf("companions not loaded: %+v", c.Cert)
	}
	testcert.Write(t, p+".issuer", other.PEM)
	if _, err := LoadCert(p, AllExtras, time.Now(), nil); err == nil || !strings.Contains(err.Error(), "c.pem.issuer' is not an issuer") {
		t.Fatalf("wrong issuer: %v", err)
	}
	testcert.Write(t, p+".sctl", []byte{0, 9, 1})
	if _, err := LoadCert(p, Extras{SCTL: true, Key: true}, time.Now(), nil); err == nil || !strings.Contains(err.Error(), "malformed SCT list") {
		t.Fatalf("broken .sctl: %v", err)
	}
	b := filepath.Join(dir, "bundle.pem")
	testcert.Write(t, b+".ecdsa", ca.Issue(t, []string{"b.test"}, testcert.Options{}).Bundle())
	testcert.Write(t, b+".rsa", ca.Issue(t, []string{"b.test"}, testcert.Options{Key: testcert.RSA}).Bundle())
	certs, err := LoadCertPath(b, AllExtras, time.Now(), nil)
	if err != nil || len(certs) != 2 || certs[0].Path != b+".ecdsa" || certs[0].Type != KeyECDSA || certs[1].Type != KeyRSA {
		t.Fatalf("bundle: %v %+v", err, certs)
	}
	if _, err := LoadCertPath(b, Extras{Key: true}, time.Now(), nil); err == nil {
		t.Fatal("a bundle loaded with bundles disabled")
	}
}
