// Package statspage is HAProxy's statistics page (`stats enable`, `stats uri`, ...):
// Basic authentication, the HTML report of every frontend, backend and server, its
// `;csv` variant (the same CSV as `show stat`), `;up` and `;norefresh`, and the admin
// form of `stats admin if COND`, which sets servers ready, drain or maint and turns
// their health checks on and off. It keeps no counters: each view runs `show stat`.
// The instance package builds one Page per proxy with `stats` keywords; the http
// engine runs it as an applet when a request's URI starts with the page's prefix.
package statspage

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"hitless/internal/config"
	"hitless/internal/proxy"
	"hitless/internal/runtimeapi"
	"hitless/internal/sample"
	"hitless/internal/stats"
)

// Process is what every page reads from the running process.
type Process struct {
	Version  string
	State    *proxy.State
	ProxyIDs map[string]int                     // HAProxy's proxy ids (the admin form names backends by id)
	Info     func() []runtimeapi.Field          // `show info`
	Stat     func(o stats.Options) []*stats.Row // the statistics, as `show stat` has them
}

// Page is the stats page of one proxy.
type Page struct {
	cfg  *config.StatsPage
	proc *Process
	// scope is the set of proxy names `stats scope` lets the page show; nil = all.
	scope map[string]bool
}

// New returns the page configured by px's `stats` keywords.
func New(px *config.Proxy, proc *Process) *Page {
	p := &Page{cfg: px.Stats, proc: proc}
	for _, name := range px.Stats.Scope {
		if p.scope == nil {
			p.scope = map[string]bool{}
		}
		if name == "." {
			name = px.Name
		}
		p.scope[name] = true
	}
	return p
}

// shown reports whether a proxy is on the page: within `stats scope`, and its name
// containing the scope the user typed (case-insensitive, as HAProxy matches it).
func (p *Page) shown(name, typed string) bool {
	if p.scope != nil && !p.scope[name] {
		return false
	}
	return typed == "" || strings.Contains(strings.ToLower(name), strings.ToLower(typed))
}

// options are the `;word` flags after the page's URI prefix.
type options struct {
	csv, up, norefresh bool
	status             string // ;st=CODE, the outcome of an admin action
	scope              string // scope=TEXT, the page's filter field
}

func (p *Page) options(r *http.Request) options {
	var o options
	rest := strings.TrimPrefix(r.RequestURI, p.cfg.URI)
	for _, w := range strings.FieldsFunc(rest, func(c rune) bool { return c == ';' || c == '?' || c == '&' }) {
		switch {
		case strings.HasPrefix(w, "scope="):
			o.scope, _ = url.QueryUnescape(strings.TrimPrefix(w, "scope="))
		case w == "csv":
			o.csv = true
		case w == "up":
			o.up = true
		case w == "norefresh":
			o.norefresh = true
		case strings.HasPrefix(w, "st="):
			o.status = strings.TrimPrefix(w, "st=")
		}
	}
	return o
}

// unauthorized is HAProxy 2.6's 401 body.
const unauthorized = "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"

// ServeApplet answers one request for the page.
func (p *Page) ServeApplet(w http.ResponseWriter, r *http.Request, s *sample.Ctx) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	if !p.authorized(r) {
		h.Set("Content-Type", "text/html")
		h.Set("WWW-Authenticate", `Basic realm="`+strings.ReplaceAll(p.cfg.Realm, `"`, `'`)+`"`)
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(unauthorized))
		return
	}
	o := p.options(r)
	admin := p.cfg.Admin != nil && s != nil && p.cfg.Admin.Eval(s)
	if r.Method == http.MethodPost {
		st := "DENY"
		if admin {
			st = p.adminAction(r)
		}
		h.Set("Content-Type", "text/plain")
		h.Set("Location", p.cfg.URI+";st="+st)
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	if p.cfg.Refresh > 0 && !o.norefresh {
		h.Set("Refresh", strconv.FormatInt(int64((p.cfg.Refresh+time.Second-1)/time.Second), 10))
	}
	// As a user-level socket sees them: no addresses, no algorithms.
	var rows []*stats.Row
	for _, row := range p.proc.Stat(stats.Options{Types: -1, ServerID: -1, UpOnly: o.up}) {
		if p.shown(row.Text("pxname"), o.scope) {
			rows = append(rows, row)
		}
	}
	if o.csv {
		h.Set("Content-Type", "text/plain")
		var b bytes.Buffer
		bw := bufio.NewWriter(&b)
		stats.WriteHeader(bw)
		for _, row := range rows {
			stats.WriteCSV(bw, row)
		}
		bw.Flush()
		w.Write(b.Bytes())
		return
	}
	var page bytes.Buffer
	page.Grow(4096 + 700*len(rows)) // a row is about 600 bytes of HTML
	if err := p.render(&page, o, admin, rows); err != nil {
		http.Error(w, "stats page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h.Set("Content-Type", "text/html")
	w.Write(page.Bytes())
}

// authorized checks Basic credentials against the `stats auth` accounts.
func (p *Page) authorized(r *http.Request) bool {
	if len(p.cfg.Users) == 0 {
		return true
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	good := 0
	for _, u := range p.cfg.Users {
		good |= subtle.ConstantTimeCompare([]byte(user), []byte(u.User)) & subtle.ConstantTimeCompare([]byte(pass), []byte(u.Password))
	}
	return good == 1
}

// adminActions are the actions of the admin form, HAProxy's values and labels. The
// health actions do nothing on a server without `check`, and HAProxy still counts
// them as done.
var adminActions = []struct {
	value, label string
	apply        func(s *proxy.Server)
}{
	{"ready", "Set state to READY", func(s *proxy.Server) { s.SetReady(proxy.ByWeb) }},
	{"drain", "Set state to DRAIN", func(s *proxy.Server) { s.SetDrain(proxy.ByWeb) }},
	{"maint", "Set state to MAINT", func(s *proxy.Server) { s.SetMaint(proxy.ByWeb) }},
	{"dhlth", "Health: disable checks", checked(func(s *proxy.Server) { s.SetChecksEnabled(false) })},
	{"ehlth", "Health: enable checks", checked(func(s *proxy.Server) { s.SetChecksEnabled(true) })},
	{"hrunn", "Health: force UP", checked(func(s *proxy.Server) { s.SetHealth(proxy.OpRunning, proxy.ByWeb) })},
	{"hnolb", "Health: force NOLB", checked(func(s *proxy.Server) { s.SetHealth(proxy.OpStopping, proxy.ByWeb) })},
	{"hdown", "Health: force DOWN", checked(func(s *proxy.Server) { s.SetHealth(proxy.OpStopped, proxy.ByWeb) })},
}

func checked(f func(s *proxy.Server)) func(s *proxy.Server) {
	return func(s *proxy.Server) {
		if s.Cfg.Check {
			f(s)
		}
	}
}

// maxForm bounds the admin form's body, as HAProxy bounds it by its buffer.
const maxForm = 16 << 10

// adminAction applies a POSTed admin form (b: backend name or #id, action, s: server
// names) and returns HAProxy's outcome code for the `;st=` redirect.
func (p *Page) adminAction(r *http.Request) string {
	body := make([]byte, maxForm+1)
	n, _ := io.ReadFull(r.Body, body)
	if n > maxForm {
		return "EXCD"
	}
	form, err := url.ParseQuery(string(body[:n]))
	if err != nil {
		return "ERRP"
	}
	b := p.backend(form.Get("b"))
	var apply func(s *proxy.Server)
	for _, a := range adminActions {
		if a.value == form.Get("action") {
			apply = a.apply
		}
	}
	if b == nil || apply == nil {
		return "ERRP"
	}
	total, altered := 0, 0
	for _, name := range form["s"] {
		total++
		for _, s := range b.Servers {
			if s.Name == name {
				apply(s)
				altered++
				break
			}
		}
	}
	switch {
	case total == 0:
		return "NONE"
	case altered == total:
		return "DONE"
	case altered == 0:
		return "ERRP"
	}
	return "PART"
}

// backend finds the form's backend by name or "#id".
func (p *Page) backend(v string) *proxy.Backend {
	st := p.proc.State
	if id, ok := strings.CutPrefix(v, "#"); ok {
		for name, i := range p.proc.ProxyIDs {
			if strconv.Itoa(i) == id {
				return st.Backends[name]
			}
		}
		return nil
	}
	return st.Backends[v]
}

// statusMessages are HAProxy's texts for each `;st=` code, with the box's class.
var statusMessages = map[string]struct{ class, text string }{
	"DONE": {"ok", "Action processed successfully."},
	"NONE": {"warn", "Nothing has changed."},
	"PART": {"warn", "Action partially processed. Some server names are probably unknown or ambiguous (duplicated names in the backend)."},
	"ERRP": {"err", "Action not processed because of invalid parameters. The action is maybe unknown. Invalid key parameter (empty or too long). The backend name is probably unknown or ambiguous (duplicated names). Some server names are probably unknown or ambiguous (duplicated names in the backend)."},
	"EXCD": {"err", "Action not processed : the buffer couldn't store all the data. You should retry with less servers at a time."},
	"DENY": {"err", "Action denied."},
	"UNKN": {"err", "Unexpected result."},
}

// hostname is the default `stats show-node` name.
func hostname() string {
	h, _ := os.Hostname()
	return h
}
