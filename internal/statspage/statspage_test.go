package statspage

import (
	"bufio"
	"fmt"
	"hitless/internal/stats"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hitless/internal/config"
	"hitless/internal/proxy"
	"hitless/internal/runtimeapi"
	"hitless/internal/sample"
)

// srcOf is a request's fetches for the `stats admin` condition: only the source.
func srcOf(a string) *sample.Ctx {
	return sample.NewCtx(&sample.Static{SrcAddr: netip.AddrPortFrom(netip.MustParseAddr(a), 1234)})
}

var (
	local  = srcOf("127.0.0.1")
	remote = srcOf("192.0.2.1")
)

const defaults = `
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
`

// build loads defaults+text, builds live state and returns the page of its first proxy.
func build(t *testing.T, text string, ids map[string]int) (*Page, *proxy.State) {
	t.Helper()
	cfg, err := config.LoadBytes("t.cfg", []byte(defaults+text), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := proxy.Build(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	proc := &Process{Version: "9.9", State: st, ProxyIDs: ids,
		Info: func() []runtimeapi.Field {
			return []runtimeapi.Field{{Name: "Pid", Value: "42"}, {Name: "Uptime", Value: "0d 0h01m01s"}}
		},
		Stat: func(o stats.Options) []*stats.Row { return stats.Collect(st, ids, fixedLimits{}, o) }}
	return New(cfg.Proxies[0], proc), st
}

// newPage builds the page of the frontend "fe" with the given stats lines.
func newPage(t *testing.T, stats string) (*Page, *proxy.State) {
	t.Helper()
	return build(t, `
frontend fe
    bind 127.0.0.1:8080
`+stats+`
    default_backend be
backend be
    server s1 127.0.0.1:8081 check
    server s2 127.0.0.1:8082
    server s3 127.0.0.1:8083 backup
`, map[string]int{"fe": 2, "be": 3})
}

func serve(p *Page, method, uri, cred, body string, s *sample.Ctx) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, uri, strings.NewReader(body))
	if u, pw, ok := strings.Cut(cred, ":"); ok {
		r.SetBasicAuth(u, pw)
	}
	w := httptest.NewRecorder()
	p.ServeApplet(w, r, s)
	return w
}

func TestAuth(t *testing.T) {
	p, _ := newPage(t, "    stats uri /st\n    stats realm My\\ Realm\n    stats auth a:b\n    stats auth c:d")
	tests := []struct {
		cred string
		code int
	}{{"", 401}, {"a:x", 401}, {"x:b", 401}, {"a:d", 401}, {"a:b", 200}, {"c:d", 200}}
	for _, tt := range tests {
		w := serve(p, "GET", "/st", tt.cred, "", local)
		if w.Code != tt.code {
			t.Errorf("%q: %d, want %d", tt.cred, w.Code, tt.code)
		}
		if tt.code == 401 {
			if got := w.Header().Get("WWW-Authenticate"); got != `Basic realm="My Realm"` {
				t.Errorf("realm header %q", got)
			}
			want, _ := os.ReadFile(filepath.Join("testdata", "401.golden"))
			if w.Body.String() != string(want) {
				t.Errorf("401 body %q, want HAProxy's %q", w.Body.String(), want)
			}
		}
	}
}

func TestViews(t *testing.T) {
	p, st := newPage(t, "    stats refresh 5s\n    stats hide-version\n    stats show-node eu-1\n    stats show-desc main site")
	st.Backends["be"].Servers[1].SetMaint(proxy.ByCLI)
	tests := []struct {
		uri, ctype, refresh string
		has, hasNot         []string
	}{
		{"/haproxy?stats", "text/html", "5", []string{"<b>eu-1</b>", "main site", `<tr class="maint">`, ">s3</td>", "Disable refresh", "42"}, []string{"9.9", "<form", "checkbox"}},
		{"/haproxy?stats;norefresh", "text/html", "", []string{"Enable refresh"}, nil},
		{"/haproxy?stats;up", "text/html", "5", []string{">s1</td>", "Show all servers"}, []string{">s2</td>"}},
		{"/haproxy?stats;csv", "text/plain", "5", []string{"# pxname,svname,", "\nbe,s2,", "MAINT", "\nbe,BACKEND,"}, []string{"<"}},
		{"/haproxy?stats;csv;up", "text/plain", "5", []string{"\nbe,s1,"}, []string{"\nbe,s2,"}},
		{"/haproxy?stats;st=DENY", "text/html", "5", []string{"Action denied."}, nil},
	}
	for _, tt := range tests {
		w := serve(p, "GET", tt.uri, "", "", local)
		body := w.Body.String()
		if w.Code != 200 || w.Header().Get("Content-Type") != tt.ctype || w.Header().Get("Refresh") != tt.refresh || w.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: %d %v", tt.uri, w.Code, w.Header())
		}
		for _, s := range tt.has {
			if !strings.Contains(body, s) {
				t.Errorf("%s: missing %q", tt.uri, s)
			}
		}
		for _, s := range tt.hasNot {
			if strings.Contains(body, s) {
				t.Errorf("%s: has %q", tt.uri, s)
			}
		}
	}
}

// TestCSVIsShowStat checks that `;csv` is the `show stat` output itself.
func TestCSVIsShowStat(t *testing.T) {
	p, _ := newPage(t, "    stats enable")
	var b strings.Builder
	w := bufio.NewWriter(&b)
	runtimeapi.StatCommand(p.proc.State, p.proc.ProxyIDs, fixedLimits{}).Run(&runtimeapi.Session{Level: runtimeapi.LevelUser}, nil, w)
	w.Flush()
	want := b.String()
	if got := serve(p, "GET", "/haproxy?stats;csv", "", "", local).Body.String(); got != want {
		t.Fatalf("csv:\n%s\nshow stat:\n%s", got, want)
	}
}

// TestAdminActions posts the admin form as a browser does and checks the redirect
// and the servers' state.
func TestAdminActions(t *testing.T) {
	tests := []struct {
		name, body string
		s          *sample.Ctx
		st         string
		check      func(st *proxy.State) bool
	}{
		{"drain", "s=s2&action=drain&b=%233", local, "DONE", func(st *proxy.State) bool { return st.Backends["be"].Servers[1].Drain() }},
		{"maint by name", "s=s1&s=s2&action=maint&b=be", local, "DONE", func(st *proxy.State) bool {
			return st.Backends["be"].Servers[0].Maint() && st.Backends["be"].Servers[1].Maint()
		}},
		{"ready", "s=s3&action=ready&b=be", local, "DONE", func(st *proxy.State) bool { return st.Backends["be"].Servers[2].Admin() == 0 }},
		{"disable health", "s=s1&action=dhlth&b=be", local, "DONE", func(st *proxy.State) bool { return !st.Backends["be"].Servers[0].ChecksEnabled() }},
		{"force down", "s=s1&action=hdown&b=be", local, "DONE", func(st *proxy.State) bool { return !st.Backends["be"].Servers[0].Up() }},
		{"health without check", "s=s2&action=hdown&b=be", local, "DONE", func(st *proxy.State) bool { return st.Backends["be"].Servers[1].Up() }},
		{"partial", "s=s1&s=nosuch&action=drain&b=be", local, "PART", func(st *proxy.State) bool { return st.Backends["be"].Servers[0].Drain() }},
		{"no server", "action=drain&b=be", local, "NONE", nil},
		{"unknown backend", "s=s1&action=drain&b=nosuch", local, "ERRP", nil},
		{"unknown id", "s=s1&action=drain&b=%232", local, "ERRP", nil},
		{"unknown action", "s=s1&action=shutdown&b=be", local, "ERRP", nil},
		{"garbage", "%zz", local, "ERRP", nil},
		{"too large", "s=" + strings.Repeat("x", maxForm) + "&action=drain&b=be", local, "EXCD", nil},
		{"not admin", "s=s1&action=maint&b=be", remote, "DENY", func(st *proxy.State) bool { return !st.Backends["be"].Servers[0].Maint() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, st := newPage(t, "    stats uri /st\n    stats admin if { src 127.0.0.1 }")
			st.Backends["be"].Servers[2].SetMaint(proxy.ByCLI)
			w := serve(p, "POST", "/st", "", tt.body, tt.s)
			if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/st;st="+tt.st {
				t.Fatalf("%d %q, want 303 to /st;st=%s", w.Code, w.Header().Get("Location"), tt.st)
			}
			if tt.check != nil && !tt.check(st) {
				t.Fatal("server state not as expected")
			}
		})
	}
	// The form is on the page for an admin only.
	p, _ := newPage(t, "    stats admin if { src 127.0.0.1 }")
	if body := serve(p, "GET", "/haproxy?stats", "", "", local).Body.String(); !strings.Contains(body, `<input type="hidden" name="b" value="#3">`) {
		t.Fatal("no admin form for an admin")
	}
	if body := serve(p, "GET", "/haproxy?stats", "", "", remote).Body.String(); strings.Contains(body, "<form") {
		t.Fatal("admin form shown to a non-admin")
	}
}

func TestDuration(t *testing.T) {
	for s, want := range map[int64]string{0: "0s", 59: "59s", 61: "1m1s", 3661: "1h1m", 90000: "1d1h"} {
		if got := duration(s); got != want {
			t.Errorf("duration(%d) = %q, want %q", s, got, want)
		}
	}
}

// FuzzServe sends arbitrary URIs and form bodies: the page answers without panicking.
func FuzzServe(f *testing.F) {
	f.Add("/haproxy?stats;csv;up", "s=s1&action=drain&b=be")
	f.Add("/haproxy?stats;st=DONE;norefresh", "b=%233&s=s2&s=s3&action=maint")
	f.Add("/haproxy?stats", "%%%&&==")
	f.Fuzz(func(t *testing.T, uri, body string) {
		p, _ := newPage(t, "    stats admin if { src 127.0.0.1 }")
		for _, m := range []string{"GET", "POST"} {
			r, err := http.NewRequest(m, "http://x/", strings.NewReader(body))
			if err != nil {
				return
			}
			r.RequestURI = uri
			p.ServeApplet(httptest.NewRecorder(), r, local)
		}
	})
}

// TestScope follows HAProxy 2.6 (checked on loopback): `stats scope .` is the page's
// own proxy, the typed scope filters by name (case-insensitive substring) within
// it, and the admin form still reaches backends outside the scope.
func TestScope(t *testing.T) {
	p, st := build(t, `
frontend fe
    bind 127.0.0.1:8080
    stats uri /st
    stats scope .
    stats scope be2
    stats admin if { src 127.0.0.1 }
    default_backend be
backend be
    server s1 127.0.0.1:8081
backend be2
    server s1 127.0.0.1:8081
`, map[string]int{"fe": 1, "be": 2, "be2": 3})
	names := func(uri string) string {
		var out []string
		for _, line := range strings.Split(serve(p, "GET", uri, "", "", local).Body.String(), "\n")[1:] {
			if f := strings.SplitN(line, ",", 3); len(f) == 3 {
				out = append(out, f[0]+","+f[1])
			}
		}
		return strings.Join(out, " ")
	}
	if got, want := names("/st;csv"), "fe,FRONTEND be2,s1 be2,BACKEND"; got != want {
		t.Errorf("scope: %q, want %q", got, want)
	}
	if got, want := names("/st;csv?scope=BE2"), "be2,s1 be2,BACKEND"; got != want {
		t.Errorf("typed scope: %q, want %q", got, want)
	}
	if body := serve(p, "GET", "/st?scope=fe", "", "", local).Body.String(); !strings.Contains(body, `name="scope" value="fe"`) || strings.Contains(body, ">be2</a>") {
		t.Error("html page ignores the typed scope")
	}
	if w := serve(p, "POST", "/st", "", "s=s1&action=drain&b=be", local); w.Header().Get("Location") != "/st;st=DONE" || !st.Backends["be"].Servers[0].Drain() {
		t.Errorf("admin outside the scope: %q", w.Header().Get("Location"))
	}
}

// BenchmarkPage renders the HTML page and the CSV for 1,000 backends of 10 servers.
func BenchmarkPage(b *testing.B) {
	var cfg strings.Builder
	cfg.WriteString("frontend fe\n    bind 127.0.0.1:8080\n    stats enable\n    default_backend b0\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&cfg, "backend b%d\n", i)
		for j := 0; j < 10; j++ {
			fmt.Fprintf(&cfg, "    server s%d 127.0.0.1:%d\n", j, 1000+j)
		}
	}
	t := &testing.T{}
	p, _ := build(t, cfg.String(), map[string]int{})
	for _, v := range []struct{ name, uri string }{{"html", "/haproxy?stats"}, {"csv", "/haproxy?stats;csv"}} {
		uri := v.uri
		b.Run(v.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				w := serve(p, "GET", uri, "", "", local)
				b.SetBytes(int64(w.Body.Len()))
			}
		})
	}
}

// fixedLimits is a process with a maxconn of 100 for every frontend, all open.
type fixedLimits struct{}

func (fixedLimits) FrontendMaxConn(*proxy.Frontend) int     { return 100 }
func (fixedLimits) SetFrontendMaxConn(*proxy.Frontend, int) {}
func (fixedLimits) FrontendStatus(*proxy.Frontend) string   { return "OPEN" }
func (fixedLimits) DisableFrontend(*proxy.Frontend) bool    { return false }
func (fixedLimits) EnableFrontend(*proxy.Frontend) bool     { return false }
func (fixedLimits) MaxConn() (cur, initial int)             { return 100, 100 }
func (fixedLimits) SetMaxConn(int)                          {}
