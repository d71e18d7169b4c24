package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"hitless/internal/tlsconf"
)

// TLS options of `bind` lines and of crt-list `[...]` options: the rows of
// sslBindRows, which kwBind consults for any option it does not own. Certificates
// and crt-lists are loaded by loadBindTLS once every file is read, so that `-c`
// reports a missing or broken file with the bind line's (or crt-list line's)
// position. HAProxy 2.6's bind SSL keywords each either work or are refused here by
// name with the reason.

// BindSSL is the TLS part of a bind line.
type BindSSL struct {
	Enabled bool // `ssl`
	tlsconf.Bind
	// Seen lists the TLS options written, so that defaults from ssl-default-bind-*
	// fill only what the line leaves unset.
	Seen map[string]bool `json:"-"`
}

// sslRow is one TLS keyword of a bind line or crt-list line.
type sslRow struct {
	args    int  // arguments it takes
	crtList bool // also allowed between a crt-list line's brackets
	// set applies the keyword; b is nil on a crt-list line.
	set func(ps *parser, b *BindSSL, o *tlsconf.Options, args []string) error
}

// sslBindRows are the TLS keywords of `bind`.
var sslBindRows = map[string]sslRow{
	"ssl": {0, false, func(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error { b.Enabled = true; return nil }},
	"crt": {1, false, func(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error {
		b.Certs = append(b.Certs, tlsconf.CertRef{Path: a[0]})
		return nil
	}},
	"crt-list": {1, false, func(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error {
		b.Certs = append(b.Certs, tlsconf.CertRef{List: true, Path: a[0]})
		return nil
	}},
	"alpn":         {1, true, setALPN},
	"ssl-min-ver":  {1, true, setVersion},
	"ssl-max-ver":  {1, true, setVersion},
	"ciphers":      {1, true, setCiphers},
	"ciphersuites": {1, true, setCiphersuites},
	"curves":       {1, true, setCurves},
	"ecdhe":        {1, true, setCurves},
	"verify":       {1, true, setVerify},
	"ca-file":      {1, true, func(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error { o.CAFile = a[0]; return nil }},
	"ca-verify-file": {1, true, func(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error {
		o.CAVerifyFile = a[0]
		return nil
	}},
	"crl-file":       {1, true, func(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error { o.CRLFile = a[0]; return nil }},
	"ca-ignore-err":  {1, false, setIgnoreErr},
	"crt-ignore-err": {1, false, setIgnoreErr},
	"no-ca-names":    {0, true, func(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error { o.NoCANames = true; return nil }},
	"strict-sni":     {0, false, func(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error { b.StrictSNI = true; return nil }},
	"no-tls-tickets": {0, false, func(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error { o.NoTickets = true; return nil }},
	"tls-ticket-keys": {1, false, func(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error {
		b.TicketKeysFile = a[0]
		return nil
	}},
	"prefer-client-ciphers": {0, false, func(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error {
		ps.warnf("'prefer-client-ciphers' : Go's TLS chooses the cipher suite itself (AES-GCM first, ChaCha20 first for clients without AES hardware); the client's order is not followed.")
		return nil
	}},
	"allow-0rtt":            {0, true, refuse("Go's TLS has no early data (0-RTT)")},
	"npn":                   {1, true, refuse("Go's TLS has no NPN; use 'alpn'")},
	"sigalgs":               {1, false, refuse("Go's TLS does not let the signature algorithms be chosen")},
	"client-sigalgs":        {1, false, refuse("Go's TLS does not let the client-certificate signature algorithms be chosen")},
	"generate-certificates": {0, false, refuse("certificates generated on the fly are not supported yet")},
	"ca-sign-file":          {1, false, refuse("certificates generated on the fly are not supported yet")},
	"ca-sign-pass":          {1, false, refuse("certificates generated on the fly are not supported yet")},
}

func init() {
	for _, v := range []string{"sslv3", "tlsv10", "tlsv11", "tlsv12", "tlsv13"} {
		ver := tlsconf.FlagVersions[v]
		sslBindRows["no-"+v] = sslRow{0, false, func(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error {
			o.NoVers = append(o.NoVers, ver)
			return nil
		}}
		sslBindRows["force-"+v] = sslRow{0, false, func(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error {
			if ver == tlsconf.VersionSSL3 {
				return fmt.Errorf("'force-sslv3' is not available: Go's TLS has no SSLv3")
			}
			o.Force = ver
			return nil
		}}
	}
}

// refuse makes a row for a keyword Go's TLS cannot honour: an error naming it.
func refuse(why string) func(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error {
	return func(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error {
		return fmt.Errorf("is not available: %s", why)
	}
}

func setALPN(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error {
	o.ALPN = nil
	for _, p := range strings.Split(a[0], ",") {
		if p == "" || len(p) > 255 {
			return fmt.Errorf("invalid protocol name '%s'", p)
		}
		o.ALPN = append(o.ALPN, p)
	}
	return nil
}

func setVersion(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error {
	v, ok := tlsconf.ParseVersion(a[0])
	if !ok {
		return fmt.Errorf("unknown version '%s' (expects SSLv3, TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3)", a[0])
	}
	if ps.sslKw == "ssl-min-ver" {
		o.MinVer = v
	} else {
		o.MaxVer = v
	}
	return nil
}

func setCiphers(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error {
	if _, _, err := tlsconf.ParseCipherList(a[0]); err != nil {
		return err
	}
	o.Ciphers = a[0]
	return nil
}

func setCiphersuites(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error {
	if err := tlsconf.CheckCiphersuites(a[0]); err != nil {
		return err
	}
	o.Ciphersuites = a[0]
	return nil
}

func setCurves(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error {
	ids, err := tlsconf.ParseCurves(a[0])
	if err != nil {
		return err
	}
	if ps.sslKw == "ecdhe" {
		if len(ids) != 1 {
			return fmt.Errorf("expects one curve name")
		}
		o.ECDHE = a[0]
	} else {
		o.Curves = a[0]
	}
	return nil
}

func setVerify(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error {
	switch a[0] {
	case "none", "optional", "required":
		o.Verify = a[0]
		return nil
	}
	return fmt.Errorf("expects 'none', 'optional' or 'required' (got '%s')", a[0])
}

func setIgnoreErr(ps *parser, b *BindSSL, o *tlsconf.Options, a []string) error {
	if _, err := tlsconf.ParseIgnoreErr(a[0]); err != nil {
		return err
	}
	if ps.sslKw == "ca-ignore-err" {
		o.CAIgnoreErr = a[0]
	} else {
		o.CrtIgnoreErr = a[0]
	}
	return nil
}

// bindSSLOption applies the TLS keyword at opts[0] of a bind line; it returns how
// many words it used, 0 when opts[0] is not a TLS keyword.
func (ps *parser) bindSSLOption(b *Bind, addr string, opts []string) (int, error) {
	row, ok := sslBindRows[opts[0]]
	if !ok {
		return 0, nil
	}
	kw := opts[0]
	if len(opts) < 1+row.args {
		return 0, fmt.Errorf("'bind %s' : '%s' expects an argument", addr, kw)
	}
	if b.SSL == nil {
		b.SSL = &BindSSL{Seen: map[string]bool{}}
	}
	ps.sslKw = kw
	if err := row.set(ps, b.SSL, &b.SSL.Options, opts[1:1+row.args]); err != nil {
		return 0, fmt.Errorf("'bind %s' : '%s' %v", addr, kw, err)
	}
	b.SSL.Seen[kw] = true
	return 1 + row.args, nil
}

// crtListOptions applies the `[...]` words of a crt-list line, with HAProxy's
// messages for unknown keywords and for values that fall outside the brackets.
func (ps *parser) crtListOptions(o *tlsconf.Options, words []string) error {
	for len(words) > 0 {
		kw := words[0]
		row, ok := sslBindRows[kw]
		if !ok || !row.crtList {
			return fmt.Errorf("unknown ssl keyword %s", kw)
		}
		if len(words) < 1+row.args {
			return fmt.Errorf("ssl args out of '[]' for %s", kw)
		}
		ps.sslKw = kw
		if err := row.set(ps, nil, o, words[1:1+row.args]); err != nil {
			return fmt.Errorf("'%s' %v", kw, err)
		}
		words = words[1+row.args:]
	}
	return nil
}

// loadBindTLS loads the certificates of every `bind ... ssl` line (finish calls it
// once every file is read): errors carry the bind line's or the crt-list line's
// position, an expired certificate is a warning.
func (ps *parser) loadBindTLS() {
	g := &ps.cfg.Global
	defaults := ps.sslDefaults(g.SSLBind)
	ps.cfg.TicketFiles = &tlsconf.TicketFiles{}
	for _, p := range ps.cfg.Proxies {
		for i := range p.Binds {
			b := &p.Binds[i]
			if b.SSL == nil {
				continue
			}
			if !b.SSL.Enabled {
				ps.cfg.Warnings = append(ps.cfg.Warnings, fmt.Sprintf("parsing [%s] : 'bind %s' : TLS options without 'ssl' have no effect.", b.Pos, bindName(b.Addr)))
				continue
			}
			if len(b.SSL.Certs) == 0 {
				ps.errs = append(ps.errs, &Error{Pos: b.Pos, Msg: fmt.Sprintf("Proxy '%s': no SSL certificate specified for bind '%s' (use 'crt').", p.Name, bindName(b.Addr))})
				continue
			}
			mergeSSLDefaults(&b.SSL.Options, b.SSL.Seen, defaults)
			warn := func(m string) {
				ps.cfg.Warnings = append(ps.cfg.Warnings, fmt.Sprintf("parsing [%s] : %s", b.Pos, m))
			}
			l, errs := tlsconf.Load(&b.SSL.Bind, tlsconf.Env{CRTBase: g.CRTBase, CABase: g.CABase, Extras: g.SSLExtras(),
				Now: time.Now(), Warn: warn, LineOptions: ps.crtListOptions, NoH2: p.Mode == ModeHTTP,
				TicketFiles: ps.cfg.TicketFiles})
			for _, err := range errs {
				if ce, ok := err.(*tlsconf.CrtListError); ok && ce.Line > 0 {
					ps.errs = append(ps.errs, &Error{Pos: Pos{File: ce.File, Line: ce.Line}, Msg: fmt.Sprintf("%s (crt-list of 'bind %s' at %s)", ce.Msg, bindName(b.Addr), b.Pos)})
					continue
				}
				ps.errs = append(ps.errs, &Error{Pos: b.Pos, Msg: fmt.Sprintf("'bind %s' : %v", bindName(b.Addr), err)})
			}
			b.TLS = l
		}
	}
}

// sslDefaults parses ssl-default-bind-* (or -server-*) into options through the
// same rows as a bind line; the words were checked when the global section was read.
func (ps *parser) sslDefaults(d SSLDefaults) sslDefault {
	out := sslDefault{seen: map[string]bool{}}
	o := &out.opts
	o.Ciphers, o.Ciphersuites, o.Curves = d.Ciphers, d.Ciphersuites, d.Curves
	if d.Ciphers != "" {
		out.seen["ciphers"] = true
	}
	if d.Ciphersuites != "" {
		out.seen["ciphersuites"] = true
	}
	if d.Curves != "" {
		out.seen["curves"] = true
	}
	words := d.Options
	for len(words) > 0 {
		row, ok := sslBindRows[words[0]]
		if !ok {
			break
		}
		n := 1 + row.args
		if len(words) < n {
			break
		}
		ps.sslKw = words[0]
		if err := row.set(ps, &BindSSL{}, o, words[1:n]); err == nil {
			out.seen[words[0]] = true
		}
		words = words[n:]
	}
	return out
}

type sslDefault struct {
	opts tlsconf.Options
	seen map[string]bool
}

// versionKeywords are the options that decide the protocol range: a line with any
// of them ignores the default ones.
func versionKeyword(k string) bool {
	return k == "ssl-min-ver" || k == "ssl-max-ver" || strings.HasPrefix(k, "no-sslv") || strings.HasPrefix(k, "no-tlsv") || strings.HasPrefix(k, "force-")
}

// mergeSSLDefaults fills what a line left unset from the global defaults.
func mergeSSLDefaults(o *tlsconf.Options, seen map[string]bool, d sslDefault) {
	anyVer := false
	for k := range seen {
		if versionKeyword(k) {
			anyVer = true
		}
	}
	if !anyVer {
		o.MinVer, o.MaxVer, o.Force, o.NoVers = d.opts.MinVer, d.opts.MaxVer, d.opts.Force, d.opts.NoVers
	}
	if !seen["ciphers"] {
		o.Ciphers = d.opts.Ciphers
	}
	if !seen["ciphersuites"] {
		o.Ciphersuites = d.opts.Ciphersuites
	}
	if !seen["curves"] && !seen["ecdhe"] {
		o.Curves = d.opts.Curves
	}
	if d.seen["no-tls-tickets"] {
		o.NoTickets = true
	}
}

// bindName is a bind address as messages name it: "127.0.0.1:443", "[::]:443" or a
// unix path.
func bindName(a Addr) string {
	if a.Network == "unix" {
		return a.Path
	}
	return net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
}
