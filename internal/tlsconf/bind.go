package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CertRef is one `crt FILE|DIR` or `crt-list FILE` of a bind line, in order.
type CertRef struct {
	List bool
	Path string
}

// Bind is what a `bind ... ssl` line says about TLS, as parsed.
type Bind struct {
	Options
	Certs          []CertRef
	StrictSNI      bool `json:",omitempty"`
	TicketKeysFile string
}

// Env is what loading needs beyond the bind line: the global settings and where to
// report warnings.
type Env struct {
	CRTBase, CABase string
	Extras          Extras
	Now             time.Time
	Warn            func(msg string)
	// LineOptions applies the `[...]` words of a crt-list line to a copy of the
	// bind's options (the config package's keyword rows).
	LineOptions func(o *Options, words []string) error
	// TicketFiles is where tls-ticket-keys files are registered, shared by the binds
	// of a configuration (nil: a private one).
	TicketFiles *TicketFiles
	// NoH2 leaves "h2" out of ALPN (mode http speaks HTTP/1.1 only): a client told
	// h2 would send HTTP/2 to an HTTP/1 parser.
	NoH2 bool
}

func (env *Env) warn(msg string) {
	if env.Warn != nil {
		env.Warn(msg)
	}
}

// join puts base in front of a relative path, as crt-base and ca-base do.
func join(base, p string) string {
	if base == "" || p == "" || strings.HasPrefix(p, "/") {
		return p
	}
	return strings.TrimSuffix(base, "/") + "/" + p
}

// Listener is the TLS side of one bind, ready for tls.Server.
type Listener struct {
	Config  *tls.Config
	Entries []*Entry
	// configs are every handshake configuration (one per certificate): session-ticket
	// keys are set on all of them.
	configs []*tls.Config
	ownKeys bool // tls-ticket-keys or no-tls-tickets: process keys do not apply
	strict  bool
	// sel picks the certificate; Rebuild replaces it after a certificate changed.
	sel atomic.Pointer[selector]
}

// Rebuild recomputes the SNI lookup from the certificates served now (their names
// may have changed with `commit ssl cert`).
func (l *Listener) Rebuild() { l.sel.Store(newSelector(l.Entries, l.strict)) }

// OwnsTicketKeys reports whether the bind has its own keys (a tls-ticket-keys file)
// or no tickets at all, so that the process's keys do not apply.
func (l *Listener) OwnsTicketKeys() bool { return l.ownKeys }

// SetTicketKeys gives every handshake configuration of the bind the process's
// session-ticket keys (no effect when the bind has its own).
func (l *Listener) SetTicketKeys(k TicketKeys) {
	if l.ownKeys || len(k) == 0 {
		return
	}
	for _, c := range l.configs {
		c.SetSessionTicketKeys(k)
	}
}

// job is one certificate path to load, with the crt-list line it came from.
type job struct {
	path   string
	list   string
	line   int
	opts   []string
	filt   []string
	lopts  *Options
	certs  []*Cert
	err    error
	warned []string
}

// Load reads every certificate, crt-list, CA and CRL file of a bind and builds its
// handshake configuration. Errors name the crt-list file and line where there is one
// (as *CrtListError); the caller prefixes the others with the bind line's position.
func Load(b *Bind, env Env) (*Listener, []error) {
	if env.Now.IsZero() {
		env.Now = time.Now()
	}
	var errs []error
	var jobs []*job
	for _, ref := range b.Certs {
		if ref.List {
			data, err := os.ReadFile(ref.Path)
			if err != nil {
				errs = append(errs, fmt.Errorf("'crt-list' : cannot open file '%s' : %s.", ref.Path, osReason(err)))
				continue
			}
			lines, warns, err := ParseCrtList(ref.Path, data)
			for _, w := range warns {
				env.warn(w.Error())
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, l := range lines {
				o := b.Options
				o.ALPN = append([]string(nil), o.ALPN...)
				if len(l.Options) > 0 && env.LineOptions != nil {
					if err := env.LineOptions(&o, l.Options); err != nil {
						errs = append(errs, &CrtListError{File: ref.Path, Line: l.Line, Msg: err.Error()})
						continue
					}
				}
				jobs = append(jobs, &job{path: join(env.CRTBase, l.Path), list: ref.Path, line: l.Line, opts: l.Options, filt: l.Filters, lopts: &o})
			}
			continue
		}
		p := join(env.CRTBase, ref.Path)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			files, err := dirCerts(p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, f := range files {
				jobs = append(jobs, &job{path: f, list: strings.TrimSuffix(p, "/")})
			}
			continue
		}
		jobs = append(jobs, &job{path: p})
	}
	loadParallel(jobs, env)
	for _, j := range jobs {
		for _, w := range j.warned {
			env.warn(w)
		}
		if j.err != nil {
			if j.line > 0 {
				errs = append(errs, &CrtListError{File: j.list, Line: j.line, Msg: j.err.Error()})
			} else {
				errs = append(errs, j.err)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	l := &Listener{}
	base, err := b.build(&b.Options, env)
	if err != nil {
		return nil, []error{err}
	}
	built := map[*Options]*tls.Config{}
	for _, j := range jobs {
		cfg := base
		if j.lopts != nil && len(j.opts) > 0 {
			if built[j.lopts] == nil {
				c, err := b.build(j.lopts, env)
				if err != nil {
					errs = append(errs, &CrtListError{File: j.list, Line: j.line, Msg: err.Error()})
					continue
				}
				built[j.lopts] = c
			}
			cfg = built[j.lopts]
		}
		for _, c := range j.certs {
			e := newEntry(c, cfg)
			e.List, e.Line, e.Options, e.Filters = j.list, j.line, j.opts, j.filt
			l.Entries = append(l.Entries, e)
			l.configs = append(l.configs, e.config)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(l.Entries) == 0 {
		return nil, []error{fmt.Errorf("'ssl' : no certificate: 'crt' or 'crt-list' is needed")}
	}
	l.strict = b.StrictSNI
	l.Rebuild()
	if b.TicketKeysFile != "" {
		files := env.TicketFiles
		if files == nil {
			files = &TicketFiles{}
		}
		// As written: HAProxy does not join it with crt-base.
		f, err := files.load(b.TicketKeysFile)
		if err != nil {
			return nil, []error{err}
		}
		files.mu.Lock()
		f.listeners = append(f.listeners, l)
		f.apply()
		files.mu.Unlock()
		l.ownKeys = true
	}
	if b.NoTickets {
		l.ownKeys = true
	}
	if len(l.Entries) == 1 && !b.StrictSNI {
		l.Config = l.Entries[0].config
	} else {
		l.Config = base.Clone()
		l.Config.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			e, err := l.sel.Load().pick(h)
			if err != nil {
				return nil, err
			}
			return e.config, nil
		}
	}
	return l, nil
}

// loadParallel loads the certificate files on every core.
func loadParallel(jobs []*job, env Env) {
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			j.certs, j.err = LoadCertPath(j.path, env.Extras, env.Now, func(m string) { j.warned = append(j.warned, m) })
		}()
	}
	wg.Wait()
}

// dirCerts lists the certificates of a `crt DIR` as HAProxy does: every regular file
// in byte order except dot files and .issuer, .ocsp, .sctl and .key companions.
func dirCerts(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("unable to scan directory '%s' : %s.", dir, osReason(err))
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") {
			continue
		}
		switch filepath.Ext(n) {
		case ".issuer", ".ocsp", ".sctl", ".key":
			continue
		}
		p := filepath.Join(dir, n)
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// build makes the handshake configuration of one set of options, without its
// certificate.
func (b *Bind) build(o *Options, env Env) (*tls.Config, error) {
	c := &tls.Config{}
	notes, err := o.applyCommon(c)
	if err != nil {
		return nil, err
	}
	if env.NoH2 && slices.Contains(c.NextProtos, "h2") {
		c.NextProtos = slices.DeleteFunc(c.NextProtos, func(p string) bool { return p == "h2" })
		notes = append(notes, "'alpn' : HTTP/2 is not supported yet in mode http: 'h2' is not offered, so clients use HTTP/1.1.")
	}
	for _, n := range notes {
		env.warn(n)
	}
	switch o.Verify {
	case "", "none":
	case "optional", "required":
		if o.CAFile == "" {
			return nil, fmt.Errorf("verify is enabled but no CA file specified")
		}
	}
	if o.CAFile != "" {
		pool, list, err := loadCAFile(join(env.CABase, o.CAFile))
		if err != nil {
			return nil, err
		}
		roots := list
		if o.CAVerifyFile != "" {
			_, more, err := loadCAFile(join(env.CABase, o.CAVerifyFile))
			if err != nil {
				return nil, err
			}
			roots = append(append([]*x509.Certificate(nil), list...), more...)
		}
		if o.Verify == "optional" || o.Verify == "required" {
			v := &clientVerifier{rootList: roots, now: time.Now}
			if v.caIgnore, err = ignoreOf(o.CAIgnoreErr); err != nil {
				return nil, fmt.Errorf("'ca-ignore-err' : %v", err)
			}
			if v.crtIgnore, err = ignoreOf(o.CrtIgnoreErr); err != nil {
				return nil, fmt.Errorf("'crt-ignore-err' : %v", err)
			}
			if o.CRLFile != "" {
				if v.crls, err = loadCRLFile(join(env.CABase, o.CRLFile)); err != nil {
					return nil, err
				}
			}
			c.ClientAuth = tls.RequestClientCert
			if o.Verify == "required" {
				c.ClientAuth = tls.RequireAnyClientCert
			}
			c.VerifyPeerCertificate = v.verify
			if !o.NoCANames {
				c.ClientCAs = pool
			}
		}
	}
	return c, nil
}

func ignoreOf(v string) (ignoreSet, error) {
	if v == "" {
		return ignoreSet{}, nil
	}
	return ParseIgnoreErr(v)
}
