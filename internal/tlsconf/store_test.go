package tlsconf

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hitless/internal/testcert"
)

// TestStoreTransactions: set, commit and abort with HAProxy 2.6's answers; a commit
// serves the new certificate in every bind that had the old one.
func TestStoreTransactions(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "Test Root CA")
	a := testcert.Write(t, filepath.Join(dir, "a.pem"), ca.Issue(t, []string{"a.test"}, testcert.Options{}).Bundle())
	b := testcert.Write(t, filepath.Join(dir, "b.pem"), ca.Issue(t, []string{"b.test"}, testcert.Options{}).Bundle())
	l1, errs := Load(&Bind{Certs: []CertRef{{Path: a}, {Path: b}}}, Env{Extras: AllExtras})
	l2, errs2 := Load(&Bind{Certs: []CertRef{{Path: a}}}, Env{Extras: AllExtras})
	if errs != nil || errs2 != nil {
		t.Fatal(errs, errs2)
	}
	s := NewStore([]*Listener{l1, l2})
	if names, tx := s.Names(); strings.Join(names, ",") != a+","+b || tx != "" {
		t.Fatalf("names %v %q", names, tx)
	}
	next := ca.Issue(t, []string{"new.test"}, testcert.Options{Key: testcert.RSA})
	other := ca.Issue(t, []string{"other.test"}, testcert.Options{})
	for _, tc := range []struct{ do, want string }{
		{"commit " + a, "No ongoing transaction! !\nCan't commit " + a + "!\n"},
		{"abort " + a, "No ongoing transaction!\n"},
		{"set " + dir + "/nope.pem", "Can't replace a certificate which is not referenced by the configuration!\nCan't update " + dir + "/nope.pem!\n"},
		{"set " + a + " junk", "unable to load certificate from file '" + a + "'.\nCan't load the payload\nCan't update " + a + "!\n"},
		{"set " + a + " next-cert", "Transaction created for certificate " + a + "!\n"},
		{"commit " + a, "inconsistencies between private key and certificate loaded '" + a + "'.\nCan't commit " + a + "!\n"},
		{"set " + a + ".key next-key", "Transaction updated for certificate " + a + "!\n"},
		{"set " + b + " other", "Transaction updated for certificate " + a + "!\n"}, // 2.6.12's quirk
		{"commit " + b, "The ongoing transaction is about '" + a + "' but you are trying to set '" + b + "'\nCan't commit " + b + "!\n"},
		{"set " + a + " next", "Transaction updated for certificate " + a + "!\n"},
		{"commit " + a, "Committing " + a + ".\nSuccess!\n"},
		{"set " + b + " other", "Transaction created for certificate " + b + "!\n"},
		{"abort " + b, "Transaction aborted for certificate '" + b + "'!\n"},
	} {
		verb, arg, _ := strings.Cut(tc.do, " ")
		name, payload, _ := strings.Cut(arg, " ")
		payload = map[string]string{"junk": "junk\n", "next-cert": string(next.CertPEM), "next-key": string(next.KeyPEM),
			"other": string(other.Bundle()), "next": string(next.Bundle())}[payload]
		var got string
		switch verb {
		case "set":
			got = s.Set(name, payload)
			if _, tx := s.Names(); tx == "" && strings.HasPrefix(got, "Transaction") {
				t.Errorf("%s: no transaction listed", tc.do)
			}
		case "commit":
			got = s.Commit(name)
		case "abort":
			got = s.Abort(name)
		}
		if got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.do, got, tc.want)
		}
	}
	for _, l := range []*Listener{l1, l2} {
		e, err := l.sel.Load().pick(hello("new.test", false))
		if err != nil || e.Cert().Leaf.Subject.CommonName != "new.test" {
			t.Errorf("the committed certificate is not served for its new name: %v", err)
		}
		c, _ := e.Config().GetCertificate(&tls.ClientHelloInfo{})
		if c.Leaf.Subject.CommonName != "new.test" {
			t.Error("the handshake configuration does not serve the committed certificate")
		}
	}
	if d, ok := s.Show(a); !ok || !strings.Contains(d, "Filename: "+a+"\nStatus: Used\n") || !strings.Contains(d, "Algorithm: RSA2048\n") || !strings.Contains(d, "Subject Alternative Name: DNS:new.test\n") {
		t.Errorf("show ssl cert:\n%s", d)
	}

	// The committed certificate goes to a new store while the file is unchanged; a
	// changed file wins.
	enc := s.Committed()
	l3, _ := Load(&Bind{Certs: []CertRef{{Path: a}}}, Env{Extras: AllExtras})
	if got := NewStore([]*Listener{l3}).Apply(enc); len(got) != 1 || l3.Entries[0].Cert().Leaf.Subject.CommonName != "new.test" {
		t.Fatalf("carried: %v", got)
	}
	os.WriteFile(a, ca.Issue(t, []string{"disk.test"}, testcert.Options{}).Bundle(), 0o600)
	l4, _ := Load(&Bind{Certs: []CertRef{{Path: a}}}, Env{Extras: AllExtras})
	if got := NewStore([]*Listener{l4}).Apply(enc); len(got) != 0 || l4.Entries[0].Cert().Leaf.Subject.CommonName != "disk.test" {
		t.Fatalf("a changed file must win: %v", got)
	}
	if NewStore(nil).Committed() != "[]" {
		t.Error("nothing committed must encode as []")
	}
}

// TestSetTLSKeyRotatesTheBindsKeys: after set ssl tls-key, the old "next" encrypts and
// both binds that name the file use the new order.
func TestSetTLSKeyRotatesTheBindsKeys(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "Test Root CA")
	site := testcert.Write(t, filepath.Join(dir, "s.pem"), ca.Issue(t, []string{"s.test"}, testcert.Options{}).Bundle())
	var lines []string
	for i := 0; i < 3; i++ {
		lines = append(lines, strings.Repeat(string(rune('A'+i)), 64))
	}
	kf := testcert.Write(t, filepath.Join(dir, "t.keys"), []byte(strings.Join(lines, "\n")+"\n"))
	files := &TicketFiles{}
	b := &Bind{Certs: []CertRef{{Path: site}}, TicketKeysFile: kf}
	l1, e1 := Load(b, Env{Extras: AllExtras, TicketFiles: files})
	l2, e2 := Load(b, Env{Extras: AllExtras, TicketFiles: files})
	if e1 != nil || e2 != nil || len(files.files) != 1 {
		t.Fatal(e1, e2, len(files.files))
	}
	cache := tls.NewLRUClientSessionCache(4)
	resumes := func(l *Listener) bool {
		c1, c2 := net.Pipe()
		defer c1.Close()
		defer c2.Close()
		go func() {
			s := tls.Server(c1, l.Config)
			if s.Handshake() == nil {
				s.Write([]byte("x")) // TLS 1.3 tickets follow the handshake
			}
		}()
		c := tls.Client(c2, &tls.Config{InsecureSkipVerify: true, ServerName: "s.test", ClientSessionCache: cache})
		if c.Handshake() != nil {
			return false
		}
		c.Read(make([]byte, 1))
		return c.ConnectionState().DidResume
	}
	resumes(l1) // a ticket under the file's current key
	before := files.files[0].keys()
	if got := files.Set("#0", strings.Repeat("D", 64)); got != "TLS ticket key updated!\n" {
		t.Fatalf("set: %q", got)
	}
	after := files.files[0].keys()
	if after[0] != before[1] || after[2] != before[0] || after[1] == before[2] {
		t.Fatal("the keys did not move on as HAProxy's do")
	}
	if !strings.HasSuffix(files.Show("#0"), "0.2 "+strings.Repeat("D", 64)+"\n") {
		t.Fatalf("show: %q", files.Show("#0"))
	}
	if !resumes(l2) {
		t.Error("a ticket of the previous key no longer resumes on the other bind")
	}
	// Two more keys push the first ticket's key out: no resumption with it then.
	files.Set("#0", strings.Repeat("E", 64))
	files.Set("#0", strings.Repeat("F", 64))
	cache.Put("s.test", nil)
	resumes(l1)
	files.Set("#0", strings.Repeat("G", 64))
	files.Set("#0", strings.Repeat("H", 64))
	files.Set("#0", strings.Repeat("I", 64))
	if resumes(l1) {
		t.Error("a ticket resumed after its key was replaced three times")
	}
}
