package config

import (
	"fmt"
	"strings"

	"hitless/internal/tlsconf"
)

// The TLS keywords of `global` beyond ssl-default-*-ciphers|ciphersuites|options
// (process.go): curves, server verification, the companion files looked up next to
// certificates, and the tune.ssl.* and DH settings, which Go's TLS either applies or
// which are accepted with a warning that says what Go does instead.

// GlobalTLS holds the TLS settings of `global`.
type GlobalTLS struct {
	// ServerVerify is `ssl-server-verify`: "none" or "required" (the default).
	ServerVerify string `json:",omitempty"`
	// Extras are `ssl-load-extra-files` (nil = all) and `ssl-load-extra-del-ext`.
	Extras []string `json:",omitempty"`
	DelExt bool     `json:",omitempty"`
	// dhWarned makes the DHE warning appear once per configuration.
	dhWarned bool
}

// SSLExtras is the companion-file lookup for certificates.
func (g *Global) SSLExtras() tlsconf.Extras {
	if g.TLS.Extras == nil {
		ex := tlsconf.AllExtras
		ex.DelExt = g.TLS.DelExt
		return ex
	}
	var ex tlsconf.Extras
	for _, w := range g.TLS.Extras {
		switch w {
		case "none":
			ex.None = true
		case "all":
			ex = tlsconf.AllExtras
		case "bundle":
			ex.Bundle = true
		case "sctl":
			ex.SCTL = true
		case "ocsp":
			ex.OCSP = true
		case "issuer":
			ex.Issuer = true
		case "key":
			ex.Key = true
		}
	}
	ex.DelExt = g.TLS.DelExt
	return ex
}

// sslGlobalKeywords are rows of the global keyword table; init adds them.
var sslGlobalKeywords = map[string]func(ps *parser, g *Global, args []string) error{
	"ssl-default-bind-curves": func(ps *parser, g *Global, a []string) error {
		return curvesArg(a, &g.SSLBind.Curves)
	},
	"ssl-default-server-curves": func(ps *parser, g *Global, a []string) error {
		return curvesArg(a, &g.SSLServer.Curves)
	},
	"ssl-default-bind-sigalgs":          refuseGlobal("Go's TLS does not let the signature algorithms be chosen"),
	"ssl-default-bind-client-sigalgs":   refuseGlobal("Go's TLS does not let the client-certificate signature algorithms be chosen"),
	"ssl-default-server-sigalgs":        refuseGlobal("Go's TLS does not let the signature algorithms be chosen"),
	"ssl-default-server-client-sigalgs": refuseGlobal("Go's TLS does not let the client-certificate signature algorithms be chosen"),
	"ssl-engine":                        refuseGlobal("Go's TLS uses no OpenSSL engine"),
	"ssl-mode-async":                    refuseGlobal("Go's TLS uses no OpenSSL asynchronous engine"),
	"ssl-server-verify": func(ps *parser, g *Global, a []string) error {
		if len(a) != 2 || (a[1] != "none" && a[1] != "required") {
			return fmt.Errorf("'%s' expects 'none' or 'required' as argument.", a[0])
		}
		g.TLS.ServerVerify = a[1]
		return nil
	},
	"ssl-load-extra-files": func(ps *parser, g *Global, a []string) error {
		if len(a) < 2 {
			return fmt.Errorf("'%s' expects one or multiple arguments (none, all, bundle, sctl, ocsp, issuer).", a[0])
		}
		for _, w := range a[1:] {
			switch w {
			case "none", "all":
				if len(a) > 2 {
					return fmt.Errorf("'%s' 'none' and 'all' can be only used alone", a[0])
				}
			case "bundle", "sctl", "ocsp", "issuer", "key":
			default:
				return fmt.Errorf("'%s' expects one or multiple arguments (none, all, bundle, sctl, ocsp, issuer).", a[0])
			}
		}
		g.TLS.Extras = append([]string(nil), a[1:]...)
		return nil
	},
	"ssl-load-extra-del-ext": func(ps *parser, g *Global, a []string) error {
		g.TLS.DelExt = true
		return noArgs(a)
	},
	"ssl-skip-self-issued-ca": func(ps *parser, g *Global, a []string) error {
		// Go sends the chain as loaded; a self-issued CA in it is sent too.
		ps.warnf("'%s' : the chain is sent as it is in the certificate file; remove the self-issued CA from the file instead.", a[0])
		return noArgs(a)
	},
	"ssl-dh-param-file":         dhParam,
	"tune.ssl.default-dh-param": dhParam,
	"tune.ssl.cachesize":        tuneSSL("Go's TLS resumes sessions with tickets only and keeps no server-side session cache"),
	"tune.ssl.lifetime":         tuneSSL("Go's TLS session tickets are valid for up to 7 days"),
	"tune.ssl.maxrecord":        tuneSSL("Go's TLS sizes its records itself (small records first, then full 16 kB records)"),
	"tune.ssl.hard-maxrecord":   tuneSSL("Go's TLS sizes its records itself"),
	"tune.ssl.force-private-cache": func(ps *parser, g *Global, a []string) error {
		ps.warnf("'%s' : Go's TLS keeps no session cache, private or shared.", a[0])
		return noArgs(a)
	},
	"tune.ssl.ssl-ctx-cache-size": tuneSSL("certificates are not generated on the fly"),
}

func init() {
	for k, f := range sslGlobalKeywords {
		globalKeywords[k] = f
	}
}

func refuseGlobal(why string) func(ps *parser, g *Global, a []string) error {
	return func(ps *parser, g *Global, a []string) error {
		return fmt.Errorf("'%s' is not available: %s", a[0], why)
	}
}

func curvesArg(a []string, dst *string) error {
	if len(a) != 2 {
		return fmt.Errorf("global statement '%s' expects a curves list as an argument.", a[0])
	}
	if _, err := tlsconf.ParseCurves(a[1]); err != nil {
		return fmt.Errorf("'%s' : %v", a[0], err)
	}
	*dst = a[1]
	return nil
}

// dhParam accepts the DH settings and says once that Go offers no DHE suites.
func dhParam(ps *parser, g *Global, a []string) error {
	if len(a) != 2 {
		return fmt.Errorf("'%s' expects an argument.", a[0])
	}
	if a[0] == "tune.ssl.default-dh-param" {
		if _, err := parseInt(a[1], 1<<20); err != nil {
			return fmt.Errorf("'%s' expects an integer argument.", a[0])
		}
	}
	if !g.TLS.dhWarned {
		g.TLS.dhWarned = true
		ps.warnf("'%s' : DHE cipher suites are not offered (Go's TLS has no finite-field Diffie-Hellman); ECDHE suites are.", a[0])
	}
	return nil
}

func tuneSSL(what string) func(ps *parser, g *Global, a []string) error {
	return func(ps *parser, g *Global, a []string) error {
		if len(a) != 2 {
			return fmt.Errorf("'%s' expects an argument.", a[0])
		}
		if strings.HasPrefix(a[1], "-") {
			return fmt.Errorf("'%s' expects a positive value.", a[0])
		}
		ps.warnf("'%s' has no effect: %s.", a[0], what)
		return nil
	}
}
