package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// Server is what a `server ... ssl` line says about TLS, as parsed.
type Server struct {
	Options
	Crt          string   `json:",omitempty"` // client certificate
	SNI          *SNIExpr `json:",omitempty"`
	VerifyHost   string   `json:",omitempty"`
	NoVerifyHost bool     `json:",omitempty"`
	NoReuse      bool     `json:",omitempty"` // no-ssl-reuse
	CheckSSL     bool     `json:",omitempty"`
	CheckSNI     string   `json:",omitempty"`
	CheckALPN    []string `json:",omitempty"`
}

// SNIExpr is a server's `sni` expression: `str(TEXT)`, `req.hdr(NAME)` (or
// `hdr(NAME)`), or `ssl_fc_sni`, optionally followed by `,lower`.
type SNIExpr struct {
	Fetch string // "str", "hdr", "ssl_fc_sni"
	Arg   string
	Lower bool
}

// ParseSNIExpr reads a `sni` argument.
func ParseSNIExpr(s string) (*SNIExpr, error) {
	e := &SNIExpr{}
	body := s
	if b, ok := strings.CutSuffix(s, ",lower"); ok {
		body, e.Lower = b, true
	}
	name, arg, hasArg := strings.Cut(body, "(")
	if hasArg {
		if !strings.HasSuffix(arg, ")") {
			return nil, fmt.Errorf("missing closing ')' in '%s'", s)
		}
		arg = arg[:len(arg)-1]
	}
	switch {
	case name == "str" && hasArg:
		e.Fetch, e.Arg = "str", arg
	case (name == "req.hdr" || name == "hdr") && hasArg && arg != "" && !strings.Contains(arg, ","):
		e.Fetch, e.Arg = "hdr", strings.ToLower(arg)
	case name == "ssl_fc_sni" && !hasArg:
		e.Fetch = "ssl_fc_sni"
	default:
		return nil, fmt.Errorf("sample expression '%s' is not supported yet (use str(NAME), req.hdr(NAME) or ssl_fc_sni, optionally with ,lower)", s)
	}
	return e, nil
}

// SNISource is what an SNI expression reads: the request's headers and the client's
// own SNI. The engines implement it.
type SNISource interface {
	Get(name string) (string, bool)
	ClientSNI() string
}

// Eval computes the server name to send; "" sends none.
func (e *SNIExpr) Eval(src SNISource) string {
	var v string
	switch e.Fetch {
	case "str":
		v = e.Arg
	case "hdr":
		if src != nil {
			v, _ = src.Get(e.Arg)
			// Host carries the port; a server name does not.
			if h, _, err := net.SplitHostPort(v); err == nil {
				v = h
			}
		}
	case "ssl_fc_sni":
		if src != nil {
			v = src.ClientSNI()
		}
	}
	if e.Lower {
		v = strings.ToLower(v)
	}
	return v
}

// Client is the TLS side of connections to one server.
type Client struct {
	spec    *Server
	base    *tls.Config
	verify  bool
	roots   *x509.CertPool
	crls    []*x509.RevocationList
	byName  sync.Map // SNI -> *tls.Config, so that a connection does not clone
	entries int      // guarded by mu: how many byName holds
	mu      sync.Mutex
}

// maxSNIConfigs bounds the configurations cached by server name.
const maxSNIConfigs = 1024

// ClientEnv is what building a server's TLS side needs beyond its line.
type ClientEnv struct {
	CRTBase, CABase string
	// VerifyDefault is `ssl-server-verify`: "none" turns the default to verify none.
	VerifyDefault string
	Warn          func(string)
}

// NewClient builds the TLS configuration for connections to a server.
func NewClient(s *Server, env ClientEnv) (*Client, error) {
	c := &Client{spec: s, base: &tls.Config{}}
	notes, err := s.applyCommon(c.base)
	if err != nil {
		return nil, err
	}
	for _, n := range notes {
		if env.Warn != nil {
			env.Warn(n)
		}
	}
	verify := s.Verify
	if verify == "" {
		verify = "required"
		if env.VerifyDefault == "none" {
			verify = "none"
		}
	}
	c.verify = verify == "required"
	if c.verify && s.CAFile == "" {
		return nil, errors.New("verify is enabled by default but no CA file specified. If you're running on a LAN where you're certain to trust the server's certificate, please set an explicit 'verify none' statement on the 'server' line, or use 'ssl-server-verify none' in the global section to disable server-side verifications by default.")
	}
	if s.CAFile != "" {
		if c.roots, _, err = loadCAFile(join(env.CABase, s.CAFile)); err != nil {
			return nil, err
		}
	}
	if s.CRLFile != "" {
		if c.crls, err = loadCRLFile(join(env.CABase, s.CRLFile)); err != nil {
			return nil, err
		}
	}
	if s.Crt != "" {
		cert, err := LoadCert(join(env.CRTBase, s.Crt), AllExtras, time.Now(), env.Warn)
		if err != nil {
			return nil, err
		}
		c.base.Certificates = []tls.Certificate{cert.Cert}
	}
	// Verification is done here rather than by Go's default, to follow HAProxy: the
	// name checked is verifyhost, else the SNI sent, else none.
	c.base.InsecureSkipVerify = true
	c.base.VerifyConnection = c.verifyServer
	if !s.NoReuse {
		c.base.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	}
	return c, nil
}

// verifyServer checks the server's certificate against ca-file and crl-file and its
// name against verifyhost or the SNI sent.
func (c *Client) verifyServer(cs tls.ConnectionState) error {
	if !c.verify {
		return nil
	}
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, x := range cs.PeerCertificates[1:] {
		inter.AddCert(x)
	}
	opts := x509.VerifyOptions{Roots: c.roots, Intermediates: inter}
	if !c.spec.NoVerifyHost {
		opts.DNSName = c.spec.VerifyHost
		if opts.DNSName == "" {
			opts.DNSName = cs.ServerName
		}
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(opts); err != nil {
		return err
	}
	for _, crl := range c.crls {
		if string(crl.RawIssuer) != string(leaf.RawIssuer) {
			continue
		}
		for _, r := range crl.RevokedCertificateEntries {
			if r.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
				return errors.New("the server's certificate is revoked")
			}
		}
	}
	return nil
}

// config returns the configuration that sends sni.
func (c *Client) config(sni string, alpn []string) *tls.Config {
	if sni == "" && alpn == nil {
		return c.base
	}
	key := sni
	if alpn != nil {
		key = sni + "\x00" + strings.Join(alpn, ",")
	}
	if v, ok := c.byName.Load(key); ok {
		return v.(*tls.Config)
	}
	cfg := c.base.Clone()
	cfg.ServerName = sni
	if alpn != nil {
		cfg.NextProtos = alpn
	}
	c.mu.Lock()
	if c.entries < maxSNIConfigs {
		c.entries++
		c.byName.Store(key, cfg)
	}
	c.mu.Unlock()
	return cfg
}

// Handshake runs the client handshake on c, with the server name from the line's
// `sni` expression evaluated on src, bounded by timeout (0: none) and ctx.
func (c *Client) Handshake(ctx context.Context, conn net.Conn, src SNISource, timeout time.Duration) (*tls.Conn, error) {
	sni := ""
	if c.spec.SNI != nil {
		sni = c.spec.SNI.Eval(src)
	}
	return c.handshake(ctx, conn, c.config(sni, nil), timeout)
}

// CheckHandshake is Handshake for health checks: `check-sni` and `check-alpn`.
func (c *Client) CheckHandshake(ctx context.Context, conn net.Conn, timeout time.Duration) (net.Conn, error) {
	tc, err := c.handshake(ctx, conn, c.config(c.spec.CheckSNI, c.spec.CheckALPN), timeout)
	if err != nil {
		return nil, err
	}
	return tc, nil
}

func (c *Client) handshake(ctx context.Context, conn net.Conn, cfg *tls.Config, timeout time.Duration) (*tls.Conn, error) {
	tc := tls.Client(conn, cfg)
	if timeout > 0 {
		tc.SetDeadline(time.Now().Add(timeout))
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	tc.SetDeadline(time.Time{})
	return tc, nil
}

// CheckSSL reports whether health checks of the server use TLS (`check-ssl`).
func (c *Client) CheckSSL() bool { return c.spec.CheckSSL }
