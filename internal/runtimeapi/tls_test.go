package runtimeapi

import "testing"

// fakeStore records what the certificate commands pass it.
type fakeStore struct{ payload string }

func (f *fakeStore) Names() ([]string, string)  { return []string{"/a.pem", "/b.pem"}, "" }
func (f *fakeStore) Show(string) (string, bool) { return "", false }
func (f *fakeStore) Set(name, p string) string  { f.payload = p; return "set " + name + "\n" }
func (f *fakeStore) Commit(name string) string  { return "commit " + name + "\n" }
func (f *fakeStore) Abort(name string) string   { return "abort " + name + "\n" }
func (f *fakeStore) Committed() string          { return "[]" }

func serveTLS(t *testing.T, level Level, expose bool, st CertStore) string {
	t.Helper()
	return serveWith(t, level, expose, append(CertCommands(st), TicketKeysCommand(func() string { return "1 secret\n" }))...)
}

// TestTLSSecretsNeedAdminAndExposeFD: the session keys and committed certificates go
// only to admin sessions on a socket with expose-fd listeners.
func TestTLSSecretsNeedAdminAndExposeFD(t *testing.T) {
	st := &fakeStore{}
	for _, tc := range []struct {
		level  Level
		expose bool
		want   string
	}{
		{LevelAdmin, true, "1 secret\n\n[]\n\n"},
		{LevelAdmin, false, "Permission denied\n\nPermission denied\n\n"},
		{LevelOperator, true, "Permission denied\n\nPermission denied\n\n"},
	} {
		path := serveTLS(t, tc.level, tc.expose, st)
		if got := exchange(t, path, "_tls-session-keys\n_tls-committed-certs\n"); got != tc.want {
			t.Errorf("level %v expose %v: %q, want %q", tc.level, tc.expose, got, tc.want)
		}
	}
}

// TestPayloadFraming: a line ending with "<<" takes the lines up to an empty line as
// its payload; the commands after it run as usual.
func TestPayloadFraming(t *testing.T) {
	st := &fakeStore{}
	path := serveTLS(t, LevelAdmin, false, st)
	got := exchange(t, path, "set ssl cert /a.pem <<\nline 1\nline 2\n\nshow ssl cert\n")
	if got != "set /a.pem\n\n# filename\n/a.pem\n/b.pem\n\n" || st.payload != "line 1\nline 2\n" {
		t.Fatalf("answer %q, payload %q", got, st.payload)
	}
	if got := exchange(t, path, "set ssl cert /a.pem\n"); got != "'set ssl cert expects a filename and a certificate as a payload\n\n" {
		t.Fatalf("without payload: %q", got)
	}
	if got := serveTLS(t, LevelOperator, false, st); exchange(t, got, "commit ssl cert /a.pem\n") != "Permission denied\n\n" {
		t.Fatal("commit allowed below admin")
	}
}
