package config

import (
	"fmt"
	"strings"

	"hitless/internal/tlsconf"
)

// TLS options of `server` and `default-server` lines: the rows of sslServerRows,
// which serverOptions consults for any option it does not own. The TLS side of each
// server is built by finishServerTLS once every file is read (CA and client
// certificate files are loaded then, so that `-c` reports them).

// ServerSSL is the TLS part of a server line.
type ServerSSL struct {
	Enabled bool // `ssl` (`no-ssl` clears it)
	tlsconf.Server
	Seen  map[string]bool `json:"-"`
	owner *Server         // the server this copy belongs to (default-server lines are copied)
}

// serverRow is one TLS keyword of a server line.
type serverRow struct {
	args int
	set  func(sv *ServerSSL, kw string, args []string) error
}

// fromBind reuses a bind row that sets shared Options.
func fromBind(kw string) serverRow {
	r := sslBindRows[kw]
	return serverRow{r.args, func(sv *ServerSSL, k string, a []string) error {
		return r.set(&parser{sslKw: k}, &BindSSL{}, &sv.Options, a)
	}}
}

var sslServerRows = map[string]serverRow{
	"ssl":    {0, func(sv *ServerSSL, k string, a []string) error { sv.Enabled = true; return nil }},
	"no-ssl": {0, func(sv *ServerSSL, k string, a []string) error { sv.Enabled = false; return nil }},
	"verify": {1, func(sv *ServerSSL, k string, a []string) error {
		if a[0] != "none" && a[0] != "required" {
			return fmt.Errorf("expects 'none' or 'required' (got '%s')", a[0])
		}
		sv.Verify = a[0]
		return nil
	}},
	"sni": {1, func(sv *ServerSSL, k string, a []string) error {
		e, err := tlsconf.ParseSNIExpr(a[0])
		if err != nil {
			return err
		}
		sv.SNI = e
		return nil
	}},
	"crt":           {1, func(sv *ServerSSL, k string, a []string) error { sv.Crt = a[0]; return nil }},
	"verifyhost":    {1, func(sv *ServerSSL, k string, a []string) error { sv.VerifyHost = a[0]; return nil }},
	"no-verifyhost": {0, func(sv *ServerSSL, k string, a []string) error { sv.NoVerifyHost = true; return nil }},
	"no-ssl-reuse":  {0, func(sv *ServerSSL, k string, a []string) error { sv.NoReuse = true; return nil }},
	"ssl-reuse":     {0, func(sv *ServerSSL, k string, a []string) error { sv.NoReuse = false; return nil }},
	"tls-tickets":   {0, func(sv *ServerSSL, k string, a []string) error { sv.NoTickets = false; return nil }},
	"check-ssl":     {0, func(sv *ServerSSL, k string, a []string) error { sv.CheckSSL = true; return nil }},
	"check-sni":     {1, func(sv *ServerSSL, k string, a []string) error { sv.CheckSNI = a[0]; return nil }},
	"check-alpn": {1, func(sv *ServerSSL, k string, a []string) error {
		o := tlsconf.Options{}
		if err := setALPN(nil, nil, &o, a); err != nil {
			return err
		}
		sv.CheckALPN = o.ALPN
		return nil
	}},
}

func init() {
	for _, kw := range []string{"alpn", "ca-file", "crl-file", "ssl-min-ver", "ssl-max-ver", "ciphers", "ciphersuites",
		"curves", "no-tls-tickets", "allow-0rtt", "npn", "sigalgs", "client-sigalgs"} {
		sslServerRows[kw] = fromBind(kw)
	}
	for _, v := range []string{"sslv3", "tlsv10", "tlsv11", "tlsv12", "tlsv13"} {
		sslServerRows["no-"+v] = fromBind("no-" + v)
		sslServerRows["force-"+v] = fromBind("force-" + v)
	}
}

// serverSSLOption applies the TLS keyword at opts[0] of a server line; it returns how
// many words it used, 0 when opts[0] is not one.
func serverSSLOption(s *Server, opts []string) (int, error) {
	kw := opts[0]
	row, ok := sslServerRows[kw]
	if !ok {
		return 0, nil
	}
	if len(opts) < 1+row.args {
		return 0, fmt.Errorf("'%s' expects an argument", kw)
	}
	if s.SSL == nil {
		s.SSL = &ServerSSL{Seen: map[string]bool{}, owner: s}
	} else if s.SSL.owner != s {
		// Inherited from default-server: this server gets its own copy.
		c := *s.SSL
		c.Seen = map[string]bool{}
		for k, v := range s.SSL.Seen {
			c.Seen[k] = v
		}
		c.ALPN = append([]string(nil), c.ALPN...)
		c.NoVers = append([]uint16(nil), c.NoVers...)
		c.owner = s
		s.SSL = &c
	}
	if err := row.set(s.SSL, kw, opts[1:1+row.args]); err != nil {
		return 0, fmt.Errorf("'%s' %v", kw, err)
	}
	s.SSL.Seen[kw] = true
	return 1 + row.args, nil
}

// finishServerTLS builds the TLS side of every server with `ssl` or `check-ssl`.
func (ps *parser) finishServerTLS() {
	g := &ps.cfg.Global
	defaults := ps.sslDefaults(g.SSLServer)
	for _, p := range ps.cfg.Proxies {
		for _, s := range p.Servers {
			if s.SSL == nil || (!s.SSL.Enabled && !s.SSL.CheckSSL) {
				continue
			}
			if s.SSL.owner != s {
				c := *s.SSL
				c.owner = s
				s.SSL = &c
			}
			mergeSSLDefaults(&s.SSL.Options, s.SSL.Seen, defaults)
			warn := func(m string) {
				ps.cfg.Warnings = append(ps.cfg.Warnings, fmt.Sprintf("parsing [%s] : 'server %s/%s' : %s", s.Pos, p.Name, s.Name, m))
			}
			c, err := tlsconf.NewClient(&s.SSL.Server, tlsconf.ClientEnv{CRTBase: g.CRTBase, CABase: g.CABase,
				VerifyDefault: g.TLS.ServerVerify, Warn: warn})
			if err != nil {
				ps.errs = append(ps.errs, &Error{Pos: s.Pos, Msg: fmt.Sprintf("'server %s/%s' : %s", p.Name, s.Name, strings.TrimSuffix(err.Error(), "\n"))})
				continue
			}
			s.TLS = c
		}
	}
}
