package promexport

import (
	"bufio"
	"flag"
	"hitless/internal/stats"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"hitless/internal/config"
	"hitless/internal/proxy"
	"hitless/internal/runtimeapi"
)

var update = flag.Bool("update", false, "rewrite golden files")

const testConfig = `
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind 127.0.0.1:8080
    http-request use-service prometheus-exporter if { path /metrics }
    default_backend be
backend be
    server s1 127.0.0.1:8081 check
    server s2 127.0.0.1:8082 maxconn 10
    server s3 127.0.0.1:8083 backup
`

// source builds live state from testConfig with known counter values and reads it
// through the real `show stat` command.
func source(t *testing.T) Source {
	t.Helper()
	cfg, err := config.LoadBytes("t.cfg", []byte(testConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := proxy.Build(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	fe, be := st.Frontends[0], st.Backends["be"]
	fe.Counters.TotalConns.Add(7)
	fe.Counters.Requests.Add(9)
	fe.Counters.BytesIn.Add(1234)
	fe.Counters.BytesOut.Add(5678)
	be.Counters.TotalConns.Add(5)
	be.Servers[0].Counters.TotalConns.Add(5)
	be.Counters.LBTotal.Add(5)
	be.Servers[0].Counters.LBTotal.Add(5)
	be.Servers[0].Observe(proxy.CheckInfo{Status: "L4OK", OK: true, Desc: "Layer4 check passed"}, 4)
	be.Servers[1].SetDrain(proxy.ByCLI)
	be.Servers[2].SetMaint(proxy.ByCLI)
	ids := map[string]int{"fe": 2, "be": 3}
	return Source{
		Info: func() []runtimeapi.Field {
			return []runtimeapi.Field{{Name: "Name", Value: "hitless"}, {Name: "Version", Value: "1.2.3"}, {Name: "Nbthread", Value: "2"}, {Name: "Uptime_sec", Value: "61"},
				{Name: "CurrConns", Value: "3"}, {Name: "CumConns", Value: "7"}, {Name: "Memmax_MB", Value: "0"}, {Name: "Stopping", Value: "0"}}
		},
		Stat: func() []*stats.Row {
			return stats.Collect(st, ids, fixedLimits{}, stats.Options{Types: -1, ServerID: -1})
		},
	}
}

func scrape(t *testing.T, x *Exporter, query string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	x.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics"+query, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("content-type %q", ct)
	}
	return rec.Body.String()
}

// TestOutputGolden checks the whole exposition for a known state.
func TestOutputGolden(t *testing.T) {
	got := scrape(t, New(source(t)), "")
	golden := filepath.Join("testdata", "metrics.golden")
	if *update {
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("output differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
	for _, line := range []string{
		`haproxy_frontend_sessions_total{proxy="fe"} 7`,
		`haproxy_frontend_http_requests_total{proxy="fe"} 9`,
		`haproxy_frontend_status{proxy="fe",state="UP"} 1`,
		`haproxy_server_status{proxy="be",server="s2",state="DRAIN"} 1`,
		`haproxy_server_status{proxy="be",server="s3",state="MAINT"} 1`,
		`haproxy_server_check_status{proxy="be",server="s1",state="L4OK"} 1`,
		`haproxy_server_limit_sessions{proxy="be",server="s2"} 10`,
		`haproxy_process_build_info{version="1.2.3"} 1`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("missing %s", line)
		}
	}
	// Not measured, so not exported: s1 has no check_status series without a check.
	if strings.Contains(got, `check_status{proxy="be",server="s2"`) || strings.Contains(got, "haproxy_process_max_memory_bytes") {
		t.Error("exported a metric hitless does not measure")
	}
}

// TestNamesMatchHAProxy compares every HELP and TYPE line with the output of HAProxy
// 2.6.12's exporter (testdata/haproxy-2.6.12.txt, captured on loopback), and every
// label set with the one HAProxy uses.
func TestNamesMatchHAProxy(t *testing.T) {
	ref, err := os.ReadFile(filepath.Join("testdata", "haproxy-2.6.12.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	labelSets := map[string]string{}
	labelNames := regexp.MustCompile(`([a-z]+)="`)
	sc := bufio.NewScanner(strings.NewReader(string(ref)))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# ") {
			want[line] = true
			continue
		}
		name, labels, _ := strings.Cut(line, "{")
		labelSets[name] = labelKey(labelNames, labels)
	}
	got := scrape(t, New(source(t)), "")
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		if strings.HasPrefix(line, "# ") {
			n++
			if !want[line] {
				t.Errorf("HAProxy has no line %q", line)
			}
			continue
		}
		name, labels, _ := strings.Cut(line, "{")
		if name, _, ok := strings.Cut(name, " "); ok && labelSets[name] != "" {
			t.Errorf("%s: HAProxy has labels %s, hitless none", name, labelSets[name])
			continue
		}
		if k := labelKey(labelNames, labels); k != labelSets[name] {
			t.Errorf("%s: labels %s, HAProxy %s", name, k, labelSets[name])
		}
	}
	if n < 40 {
		t.Fatalf("only %d HELP/TYPE lines", n)
	}
}

func labelKey(re *regexp.Regexp, labels string) string {
	var names []string
	for _, m := range re.FindAllStringSubmatch(labels, -1) {
		names = append(names, m[1])
	}
	// Compare as sets: the client library sorts label names.
	for i := range names {
		for j := i + 1; j < len(names); j++ {
			if names[j] < names[i] {
				names[i], names[j] = names[j], names[i]
			}
		}
	}
	return strings.Join(names, ",")
}

func TestScope(t *testing.T) {
	x := New(source(t))
	got := scrape(t, x, "?scope=server&no-maint")
	if strings.Contains(got, "haproxy_process_") || strings.Contains(got, "haproxy_frontend_") || strings.Contains(got, "haproxy_backend_") {
		t.Fatal("scope=server exported other kinds")
	}
	if !strings.Contains(got, `server="s1"`) || strings.Contains(got, `server="s3"`) {
		t.Fatal("no-maint kept the server in maintenance, or lost the others")
	}
	if got := scrape(t, x, "?scope=global"); !strings.Contains(got, "haproxy_process_uptime_seconds 61\n") || strings.Contains(got, "haproxy_server_") {
		t.Fatalf("scope=global:\n%s", got)
	}
}

// TestPromtool runs `promtool check metrics` (Debian's prometheus package) on the
// output.
func TestPromtool(t *testing.T) {
	if _, err := os.Stat("/usr/bin/promtool"); err != nil {
		t.Skip("promtool is not installed (apt-get install prometheus)")
	}
	cmd := exec.Command("/usr/bin/promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape(t, New(source(t)), ""))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
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
