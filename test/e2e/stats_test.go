package e2e

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestStatsPageAdminDrainsServer starts hitless with a stats page (auth, admin form)
// and the Prometheus exporter, fetches both, checks the authentication, drains a
// server with the page's admin form and checks that traffic then avoids it.
func TestStatsPageAdminDrainsServer(t *testing.T) {
	a := newBackend(t, "a", nil)
	b := newBackend(t, "b", nil)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	startHitless(t, fmt.Sprintf(statsCompareConfig, addr, a.addr, b.addr), addr)
	base := "http://" + addr

	// Authentication.
	code, _, hdr := get(t, base+"/st")
	if code != 401 || hdr.Get("Www-Authenticate") != `Basic realm="Test Realm"` {
		t.Fatalf("no credentials: %d %q", code, hdr.Get("Www-Authenticate"))
	}
	if code, _ := fetch(t, "GET", base+"/st", "admin:wrong", ""); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	code, page := fetch(t, "GET", base+"/st", "admin:s3cret", "")
	if code != 200 || !strings.Contains(page, `<input type="checkbox" name="s" value="b"`) || !strings.Contains(page, `<option value="drain">`) {
		t.Fatalf("page %d:\n%s", code, page)
	}
	code, csv := fetch(t, "GET", base+"/st;csv", "admin:s3cret", "")
	if code != 200 || !strings.HasPrefix(csv, "# pxname,svname,") || !strings.Contains(csv, "\nbe,b,") {
		t.Fatalf("csv %d:\n%s", code, csv)
	}

	// Traffic goes to both servers, then the form drains b.
	for i := 0; i < 4; i++ {
		get(t, base+"/")
	}
	if a.requests.Load() == 0 || b.requests.Load() == 0 {
		t.Fatalf("round robin: a=%d b=%d", a.requests.Load(), b.requests.Load())
	}
	req, _ := http.NewRequest("POST", base+"/st", strings.NewReader(url.Values{"s": {"b"}, "action": {"drain"}, "b": {"be"}}.Encode()))
	req.SetBasicAuth("admin", "s3cret")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	noRedirect := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/st;st=DONE" {
		t.Fatalf("admin POST: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	before := b.requests.Load()
	for i := 0; i < 6; i++ {
		if code, body, _ := get(t, base+"/"); code != 200 || body != "a" {
			t.Fatalf("after drain: %d %q", code, body)
		}
	}
	if b.requests.Load() != before {
		t.Fatalf("drained server b got %d more requests", b.requests.Load()-before)
	}
	if _, csv := fetch(t, "GET", base+"/st;csv", "admin:s3cret", ""); !strings.Contains(csv, ",DRAIN,") {
		t.Fatalf("csv does not show DRAIN:\n%s", csv)
	}

	// The exporter sees the same state; promtool accepts its output when installed.
	code, metrics := fetch(t, "GET", base+"/metrics", "", "")
	for _, want := range []string{
		`haproxy_server_status{proxy="be",server="b",state="DRAIN"} 1`,
		`haproxy_server_status{proxy="be",server="a",state="UP"} 1`,
		`haproxy_backend_status{proxy="be",state="UP"} 1`,
		`# TYPE haproxy_frontend_http_requests_total counter`,
	} {
		if code != 200 || !strings.Contains(metrics, want+"\n") {
			t.Fatalf("metrics %d: missing %q:\n%s", code, want, metrics)
		}
	}
	if _, err := os.Stat("/usr/bin/promtool"); err == nil {
		cmd := exec.Command("/usr/bin/promtool", "check", "metrics")
		cmd.Stdin = strings.NewReader(metrics)
		// Exit 3 is lint findings: accepted only for the names HAProxy 2.6 itself
		// exports so (a counter without _total).
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 3 {
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if l != `haproxy_process_failed_resolutions counter metrics should have "_total" suffix` {
					t.Fatalf("promtool check metrics: %s", out)
				}
			}
		} else if err != nil {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
	}
}

// fetch sends one request with optional Basic credentials ("user:pass") and body.
func fetch(t *testing.T, method, u, cred, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if user, pass, ok := strings.Cut(cred, ":"); ok {
		req.SetBasicAuth(user, pass)
	}
	req.Close = true
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const statsCompareConfig = `
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s
    http-request use-service prometheus-exporter if { path /metrics }
    stats uri /st
    stats realm Test\ Realm
    stats auth admin:s3cret
    stats admin if { src 127.0.0.1 }
    default_backend be
backend be
    server a %s check inter 1h
    server b %s
`

// TestStatsPageMatchesHAProxy runs HAProxy 2.6 and hitless with the same config and
// compares what a client sees: the 401 answer, the CSV header, the admin form's
// redirects for the same sequence of forms, and the exporter's HELP and TYPE lines.
func TestStatsPageMatchesHAProxy(t *testing.T) {
	hx := haproxy(t)
	a := newBackend(t, "a", nil)
	b := newBackend(t, "b", nil)
	hAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	hp := exec.Command(hx, "-f", writeConfig(t, fmt.Sprintf(statsCompareConfig, hAddr, a.addr, b.addr)))
	if err := hp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hp.Process.Kill(); hp.Wait() })
	if !waitAccept(hAddr, 5*time.Second, nil) {
		t.Fatal("haproxy did not listen")
	}
	xAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startHitless(t, fmt.Sprintf(statsCompareConfig, xAddr, a.addr, b.addr), xAddr)

	type answer struct {
		code       int
		auth, body string
		location   string
	}
	noRedirect := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(addr, method, path, cred, body string) answer {
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		if user, pass, ok := strings.Cut(cred, ":"); ok {
			req.SetBasicAuth(user, pass)
		}
		req.Close = true
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return answer{code: resp.StatusCode, auth: resp.Header.Get("Www-Authenticate"), body: string(data), location: resp.Header.Get("Location")}
	}
	same := func(what string, h, x answer) {
		t.Helper()
		if h != x {
			t.Errorf("%s:\nhaproxy %+v\nhitless %+v", what, h, x)
		}
	}
	same("no credentials", do(hAddr, "GET", "/st", "", ""), do(xAddr, "GET", "/st", "", ""))
	same("wrong password", do(hAddr, "GET", "/st", "admin:x", ""), do(xAddr, "GET", "/st", "admin:x", ""))
	csvHeader := func(addr string) string {
		r := do(addr, "GET", "/st;csv", "admin:s3cret", "")
		line, _, _ := strings.Cut(r.body, "\n")
		return fmt.Sprint(r.code, " ", line)
	}
	if h, x := csvHeader(hAddr), csvHeader(xAddr); h != x {
		t.Errorf("csv header:\nhaproxy %s\nhitless %s", h, x)
	}
	for _, f := range []struct{ form, st string }{
		{"s=b&action=drain&b=be", "DONE"},
		{"action=drain&b=be", "NONE"},
		{"s=b&s=zz&action=maint&b=be", "PART"},
		{"s=zz&action=maint&b=be", "ERRP"},
		{"s=b&action=bogus&b=be", "ERRP"},
		{"s=b&action=ready&b=nosuch", "ERRP"},
		{"s=a&action=dhlth&b=be", "DONE"},
		{"s=a&action=ehlth&b=be", "DONE"},
		{"s=b&action=hdown&b=be", "DONE"},
		{"s=a&action=hdown&b=be", "DONE"},
		{"s=a&action=hrunn&b=be", "DONE"},
		{"s=b&action=ready&b=%232", "DONE"},
	} {
		x := do(xAddr, "POST", "/st", "admin:s3cret", f.form)
		same("POST "+f.form, do(hAddr, "POST", "/st", "admin:s3cret", f.form), x)
		if x.location != "/st;st="+f.st {
			t.Errorf("POST %s: location %q, want st=%s", f.form, x.location, f.st)
		}
		if h, x := statuses(do(hAddr, "GET", "/st;csv", "admin:s3cret", "").body), statuses(do(xAddr, "GET", "/st;csv", "admin:s3cret", "").body); h != x {
			t.Errorf("after POST %s, server states:\nhaproxy %s\nhitless %s", f.form, h, x)
		}
	}

	// Every HELP and TYPE line hitless exports is HAProxy's.
	hm, xm := do(hAddr, "GET", "/metrics", "", ""), do(xAddr, "GET", "/metrics", "", "")
	if hm.code != 200 || xm.code != 200 {
		t.Fatalf("metrics: haproxy %d, hitless %d", hm.code, xm.code)
	}
	n := 0
	for _, line := range strings.Split(xm.body, "\n") {
		if strings.HasPrefix(line, "# ") {
			n++
			if !strings.Contains(hm.body, line+"\n") {
				t.Errorf("HAProxy does not export %q", line)
			}
		}
	}
	if n < 60 {
		t.Errorf("only %d HELP/TYPE lines", n)
	}
	// And every family HAProxy exports, but its estimate of the connections a
	// server needs, which hitless does not make.
	families := func(body string) map[string]bool {
		out := map[string]bool{}
		for _, line := range strings.Split(body, "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[1] == "TYPE" {
				out[f[2]] = true
			}
		}
		return out
	}
	notKept := regexp.MustCompile(`^haproxy_server_need_connections_current$`)
	xf := families(xm.body)
	for f := range families(hm.body) {
		if !xf[f] && !notKept.MatchString(f) {
			t.Errorf("hitless does not export %s", f)
		}
	}
}

// statuses lists "server=status" of the backend be from a `show stat` CSV.
func statuses(csv string) string {
	var out []string
	for _, line := range strings.Split(csv, "\n") {
		f := strings.Split(line, ",")
		if len(f) > 17 && f[0] == "be" && f[1] != "BACKEND" {
			out = append(out, f[1]+"="+f[17])
		}
	}
	return strings.Join(out, " ")
}
