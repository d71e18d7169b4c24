package logformat

import "testing"

// TestTLSVariables: %sslv and %sslc, and the '~' that %ft adds on TLS (HAProxy 2.6's
// captured lines: "fe_tls~ fe_tls sslv=TLSv1.3 sslc=TLS_AES_256_GCM_SHA384").
func TestTLSVariables(t *testing.T) {
	f, err := Parse(`%ft %f %{+Q}ft sslv=%sslv sslc=%sslc`)
	if err != nil {
		t.Fatal(err)
	}
	e := &Entry{Frontend: "fe_tls", SSLVersion: "TLSv1.3", SSLCipher: "TLS_AES_256_GCM_SHA384"}
	if got, want := string(f.Append(nil, e)), `fe_tls~ fe_tls "fe_tls~" sslv=TLSv1.3 sslc=TLS_AES_256_GCM_SHA384`; got != want {
		t.Errorf("TLS: %q, want %q", got, want)
	}
	e = &Entry{Frontend: "fe"}
	if got, want := string(f.Append(nil, e)), `fe fe "fe" sslv=- sslc=-`; got != want {
		t.Errorf("plain: %q, want %q", got, want)
	}
}
