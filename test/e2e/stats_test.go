package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
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
	startHitless(t, fmt.Sprintf(`
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s
    http-request use-service prometheus-exporter if { path /metrics }
    stats uri /admin?stats
    stats realm Test\ Realm
    stats auth admin:s3cret
    stats refresh 10s
    stats admin if { src 127.0.0.1 }
    default_backend be
backend be
    server a %s
    server b %s
`, addr, a.addr, b.addr), addr)
	base := "http://" + addr

	// Authentication.
	code, _, hdr := get(t, base+"/admin?stats")
	if code != 401 || hdr.Get("Www-Authenticate") != `Basic realm="Test Realm"` {
		t.Fatalf("no credentials: %d %q", code, hdr.Get("Www-Authenticate"))
	}
	if code, _ := fetch(t, "GET", base+"/admin?stats", "admin:wrong", ""); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	code, page := fetch(t, "GET", base+"/admin?stats", "admin:s3cret", "")
	if code != 200 || !strings.Contains(page, `<input type="checkbox" name="s" value="b"`) || !strings.Contains(page, `<option value="drain">`) {
		t.Fatalf("page %d:\n%s", code, page)
	}
	code, csv := fetch(t, "GET", base+"/admin?stats;csv", "admin:s3cret", "")
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
	req, _ := http.NewRequest("POST", base+"/admin?stats", strings.NewReader(url.Values{"s": {"b"}, "action": {"drain"}, "b": {"be"}}.Encode()))
	req.SetBasicAuth("admin", "s3cret")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	noRedirect := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/admin?stats;st=DONE" {
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
	if _, csv := fetch(t, "GET", base+"/admin?stats;csv", "admin:s3cret", ""); !strings.Contains(csv, ",DRAIN,") {
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
		if out, err := cmd.CombinedOutput(); err != nil {
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
