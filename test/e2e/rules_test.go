package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rulesConfig is a realistic front: an HTTPS upgrade for everything but the API and
// local clients, host routing through a map file, a trusted-network ACL file,
// variables across request and response, and forwardfor with an exception.
const rulesConfig = `
global
    stats socket %[1]s mode 600 level admin expose-fd listeners
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend www
    bind %[2]s
    acl api      path_beg /api/
    acl trusted  src -f %[3]s/trusted.lst
    http-request redirect scheme https code 301 unless api || trusted || { hdr(x-plain) 1 }
    http-request set-var(txn.host) req.hdr(host),field(1,:),lower
    http-request set-var(txn.route) var(txn.host),map(%[3]s/hosts.map,be_default)
    http-request set-header X-Route %%[var(txn.route)]
    http-request deny deny_status 429 if { req.hdr_cnt(x-forwarded-for) gt 2 }
    http-response set-header X-Host %%[var(txn.host)]
    option forwardfor except 10.0.0.0/8
    compression algo gzip
    compression type text/plain
    use_backend %%[var(txn.route)] if FALSE
    default_backend app
backend app
    server a %[4]s
`

func TestRuleLanguage(t *testing.T) {
	app := newBackend(t, "app", nil)
	r := newReloadSetup(t, func(addr, sock string) string { return "" })
	dir := r.dir
	os.WriteFile(filepath.Join(dir, "trusted.lst"), []byte("# none of the clients\n192.0.2.0/24\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "hosts.map"), []byte("shop.example.com be_shop\nblog.example.com be_blog\n"), 0o644)
	cfg := fmt.Sprintf(rulesConfig, r.sock, r.addr, dir, app.addr)
	cfg = strings.Replace(cfg, "    use_backend %[var(txn.route)] if FALSE\n", "", 1)
	if err := os.WriteFile(r.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := checkConfig(t, r.cfg); code != 0 {
		t.Fatalf("-c: %d %s", code, out)
	}
	r.start(t)
	url := "http://" + r.addr
	noRedirect := func(req *http.Request, via []*http.Request) error { return http.ErrUseLastResponse }
	c := &http.Client{CheckRedirect: noRedirect}
	do := func(path string, hdr ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", url+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			if hdr[i] == "Host" {
				req.Host = hdr[i+1]
			} else {
				req.Header.Add(hdr[i], hdr[i+1])
			}
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// The HTTPS upgrade.
	if resp := do("/shop?x=1", "Host", "Shop.Example.com:80"); resp.StatusCode != 301 || resp.Header.Get("Location") != "https://Shop.Example.com:80/shop?x=1" {
		t.Fatalf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The API goes through, with its route from the map, the variable in the
	// response, and X-Forwarded-For (the client is not in 10.0.0.0/8).
	resp := do("/api/v1", "Host", "Shop.Example.com:80")
	last := app.lastReq.Load().(http.Header)
	if resp.StatusCode != 200 || last.Get("X-Route") != "be_shop" || resp.Header.Get("X-Host") != "shop.example.com" ||
		last.Get("X-Forwarded-For") != "127.0.0.1" {
		t.Fatalf("api: %d route %q host %q xff %q", resp.StatusCode, last.Get("X-Route"), resp.Header.Get("X-Host"), last.Get("X-Forwarded-For"))
	}
	if resp := do("/api/", "Host", "other.example.com"); app.lastReq.Load().(http.Header).Get("X-Route") != "be_default" {
		t.Fatalf("default route: %d", resp.StatusCode)
	}
	if resp := do("/api/", "X-Forwarded-For", "1.1.1.1", "X-Forwarded-For", "2.2.2.2", "X-Forwarded-For", "3.3.3.3"); resp.StatusCode != 429 {
		t.Fatalf("deny: %d", resp.StatusCode)
	}
	// Compression negotiated by curl.
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-s", "--compressed", "-D", "-", "-H", "Host: shop.example.com", url+"/api/c").CombinedOutput()
		if err != nil || !strings.Contains(strings.ToLower(string(out)), "content-encoding: gzip") || !strings.HasSuffix(string(out), "\r\n\r\napp") {
			t.Fatalf("curl --compressed: %v\n%s", err, out)
		}
	} else {
		t.Log("curl is not installed: compression through curl not checked")
	}
	// The map changed over the socket, as HAProxy's Runtime API does it.
	mapFile := filepath.Join(dir, "hosts.map")
	if out := socketCommand(t, r.sock, "add map "+mapFile+" new.example.com be_new"); out != "\n" {
		t.Fatalf("add map: %q", out)
	}
	if out := socketCommand(t, r.sock, "set map "+mapFile+" shop.example.com be_shop2"); out != "\n" {
		t.Fatalf("set map: %q", out)
	}
	if out := socketCommand(t, r.sock, "get map "+mapFile+" new.example.com"); out != "type=str, case=sensitive, found=yes, idx=tree, key=\"new.example.com\", value=\"be_new\", type=\"str\"\n\n" {
		t.Fatalf("get map: %q", out)
	}
	do("/api/", "Host", "new.example.com")
	if got := app.lastReq.Load().(http.Header).Get("X-Route"); got != "be_new" {
		t.Fatalf("route after add map: %q", got)
	}
	// The trusted list changed over the socket: the client is now trusted, no redirect.
	if out := socketCommand(t, r.sock, "add acl "+filepath.Join(dir, "trusted.lst")+" 127.0.0.0/8"); out != "\n" {
		t.Fatalf("add acl: %q", out)
	}
	if resp := do("/shop", "Host", "shop.example.com"); resp.StatusCode != 200 {
		t.Fatalf("after add acl: %d", resp.StatusCode)
	}
	// A reload keeps what the socket changed (HAProxy would read the files again).
	before := r.currentPid()
	if out, err := exec.Command("/bin/sh", "-c", r.reloadCmd(true)).CombinedOutput(); err != nil {
		t.Fatalf("reload: %v %s", err, out)
	}
	if after := r.currentPid(); after == before || !alive(after) {
		t.Fatalf("no new process: %d then %d", before, after)
	}
	do("/api/", "Host", "shop.example.com")
	if got := app.lastReq.Load().(http.Header).Get("X-Route"); got != "be_shop2" {
		t.Fatalf("route after the reload: %q", got)
	}
	if resp := do("/shop", "Host", "shop.example.com"); resp.StatusCode != 200 {
		t.Fatalf("trusted list after the reload: %d", resp.StatusCode)
	}
	show := socketCommand(t, r.sock, "show map "+mapFile)
	if !strings.Contains(show, " new.example.com be_new\n") || !strings.Contains(show, " shop.example.com be_shop2\n") {
		t.Fatalf("show map after the reload:\n%s", show)
	}
}

// checkConfig runs hitless -c on a file.
func checkConfig(t *testing.T, path string) (string, int) {
	out, errOut, code := runHitless(t, "-c", "-f", path)
	return out + errOut, code
}

// TestMasterWorkerKeepsRuntimeMap: a map changed through the master CLI (routed to
// the worker) keeps its content when the master reloads into a new worker.
func TestMasterWorkerKeepsRuntimeMap(t *testing.T) {
	one := newBackend(t, "one", nil)
	mapFile := filepath.Join(t.TempDir(), "hosts.map")
	os.WriteFile(mapFile, []byte("a.example.com route_a\n"), 0o644)
	s := startMaster(t, "", "", one.addr+"\n    http-request set-var(txn.r) req.hdr(host),lower,map("+mapFile+",none)"+
		"\n    http-response set-header X-Route %[var(txn.r)]")
	route := func(host string) string {
		t.Helper()
		_, _, h := get(t, "http://"+s.addr+"/", "Host", host)
		return h.Get("X-Route")
	}
	if got := route("b.example.com"); got != "none" {
		t.Fatalf("before: %q", got)
	}
	if out := s.cli(t, "@1 add map "+mapFile+" b.example.com route_b"); strings.TrimSpace(out) != "" {
		t.Fatalf("add map answered %q", out)
	}
	if got := route("b.example.com"); got != "route_b" {
		t.Fatalf("after add map: %q", got)
	}
	_, first, _ := s.procs(t)
	s.reload(t)
	s.waitNewWorker(t, first)
	if got := route("b.example.com"); got != "route_b" {
		t.Fatalf("after the reload: %q", got)
	}
	if got := route("a.example.com"); got != "route_a" {
		t.Fatalf("file entry after the reload: %q", got)
	}
}

// rulesAnswersConfig has rules whose answers hitless writes itself: redirects,
// returns, denials, error pages, a 401, variables and converters.
const rulesAnswersConfig = `
global
    set-var proc.greeting str(hello)
userlist L
    user bob insecure-password secret
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %[1]s
    errorloc303 429 /busy
    acl api path_beg /api/
    http-request redirect scheme https code 301 if { path_beg /s }
    http-request redirect prefix /new drop-query append-slash set-cookie SEEN=1 if { path_beg /p }
    http-request redirect location http://x/%%[path,upper]?%%[query] code 308 clear-cookie OLD if { path_beg /f }
    http-request deny deny_status 429 if { path /busy-me }
    http-request deny if { path /deny }
    http-request auth realm Private if { path /auth } !{ http_auth(L) }
    http-request return status 200 content-type text/plain lf-string "%%[var(proc.greeting)] %%[req.hdr(host),lower,field(1,:)] %%[url_param(id),add(1)] %%[str(a:b:c),field(-2,:,2)] %%[int(1700000000),http_date(3600)]" hdr X-A "b %%[src]" if { path /r }
    http-request return status 404 if { path /nf }
    redirect prefix http://pre.example.com if { path_beg /legacy }
    default_backend be
backend be
    server s %[2]s
`

// TestRuleAnswersMatchHAProxy sends the same requests to HAProxy 2.6 and to hitless
// on the same configuration and compares the answers byte for byte.
func TestRuleAnswersMatchHAProxy(t *testing.T) {
	hx := haproxy(t)
	be := newBackend(t, "app", nil)
	requests := []string{
		"GET /s/a?b=1 HTTP/1.1\r\nHost: h.example\r\n\r\n",
		"GET /p/x?y=2 HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /f/ab?q=1 HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /busy-me HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /deny HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /auth HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /r?id=41 HTTP/1.1\r\nHost: H.Example.COM:80\r\n\r\n",
		"GET /nf HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /legacy/a?z HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /s HTTP/1.0\r\n\r\n",
	}
	answers := func(useHAProxy bool) []string {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := writeConfig(t, fmt.Sprintf(rulesAnswersConfig, addr, be.addr))
		if useHAProxy {
			cmd := exec.Command(hx, "-db", "-f", cfg)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			if !waitAccept(addr, 5*time.Second, nil) {
				t.Fatal("haproxy does not listen")
			}
		} else {
			p := launch(t, cfg, "-f", cfg)
			if !waitAccept(addr, 5*time.Second, p.done) {
				t.Fatalf("hitless does not listen:\n%s", p.out.String())
			}
			defer p.stop(t)
		}
		var out []string
		for _, req := range requests {
			// Connection: close, so that each exchange ends when the answer is whole.
			req = strings.Replace(req, "HTTP/1.1\r\n", "HTTP/1.1\r\nConnection: close\r\n", 1)
			out = append(out, rawExchange(t, addr, req, 2*time.Second))
		}
		return out
	}
	want, got := answers(true), answers(false)
	for i := range requests {
		if got[i] != want[i] {
			t.Errorf("%q:\nhitless %q\nhaproxy %q", requests[i], got[i], want[i])
		}
	}
}
