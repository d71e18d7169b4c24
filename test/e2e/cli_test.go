package e2e

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestCheckValidConfig(t *testing.T) {
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    server s1 127.0.0.1:9
`, freePort(t)))
	out, errOut, code := runHitless(t, "-c", "-f", cfg)
	if code != 0 || out != "Configuration file is valid\n" || errOut != "" {
		t.Fatalf("code %d stdout %q stderr %q", code, out, errOut)
	}
	out, errOut, code = runHitless(t, "-c", "-q", "-f", cfg)
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("-q: code %d stdout %q stderr %q", code, out, errOut)
	}
}

// TestCheckReportsEveryErrorWithFileAndLine: one run, every error, file:line each.
func TestCheckReportsEveryErrorWithFileAndLine(t *testing.T) {
	cfg := writeConfig(t, `global
    maxconn many
defaults
    mode http
    timout client 1s
frontend fe
    bind 127.0.0.1:0
    default_backend nosuch
    capture cookie SID len 20
backend be
    server s1 127.0.0.1:+x
    balance nope
`)
	_, errOut, code := runHitless(t, "-c", "-f", cfg)
	if code != 1 {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", code, errOut)
	}
	want := []string{
		cfg + ":2: 'maxconn' expects an integer argument",
		cfg + ":5: unknown keyword 'timout' in 'defaults' section; did you mean 'timeout' maybe ?",
		cfg + ":7: 'bind' : invalid port '0'",
		cfg + ":9: 'capture cookie' is not supported yet",
		cfg + ":11: 'server be/s1' : invalid port offset '+x'",
		cfg + ":12: 'balance' only supports",
		// The section line (HAProxy's proxy position) or the keyword's line.
		cfg + ":[68]: proxy 'fe': unable to find required default_backend: 'nosuch'.",
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), errOut)
	}
	for i, w := range want {
		if !matchPrefix(lines[i], w) {
			t.Errorf("line %d: %q\nwant prefix %q", i, lines[i], w)
		}
	}
}

func TestCheckNoListenerExits2(t *testing.T) {
	cfg := writeConfig(t, "backend be\n    server s1 127.0.0.1:9\n")
	out, _, code := runHitless(t, "-c", "-f", cfg)
	if code != 2 || !strings.Contains(out, "no listener") {
		t.Fatalf("code %d out %q", code, out)
	}
}

func TestUnknownFlagPrintsUsage(t *testing.T) {
	_, errOut, code := runHitless(t, "-f", "x.cfg", "-Z")
	if code != 1 || !strings.Contains(errOut, "unknown option '-Z'") || !strings.Contains(errOut, "Usage : hitless") {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
	_, errOut, code = runHitless(t, "-c", "-f", "/nonexistent/h.cfg")
	if code != 1 || !strings.Contains(errOut, "Cannot open configuration file/directory /nonexistent/h.cfg") {
		t.Fatalf("missing file: code %d stderr %q", code, errOut)
	}
}

func TestVersionFromLdflags(t *testing.T) {
	out, _, code := runHitless(t, "-v")
	if code != 0 || !strings.HasPrefix(out, "hitless version e2e-test") {
		t.Fatalf("code %d out %q", code, out)
	}
}

// TestQuickstartServes runs the README's quickstart configuration.
func TestQuickstartServes(t *testing.T) {
	b, err := os.ReadFile("../../examples/quickstart.cfg")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"8080", "8081", "8082"} {
		if !portFree(p) {
			t.Skipf("port %s is busy on this machine", p)
		}
	}
	startHitless(t, string(b), "127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:8082")
	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		code, body, _ := get(t, "http://127.0.0.1:8080/")
		if code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		seen[strings.TrimSpace(body)] = true
	}
	if !seen["served by app1"] || !seen["served by app2"] {
		t.Fatalf("answers: %v", seen)
	}
}

func portFree(p string) bool {
	return !waitAccept("127.0.0.1:"+p, 0, nil)
}

func TestSignalsStopAtOnce(t *testing.T) {
	port := freePort(t)
	p := startHitless(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
listen l
    bind 127.0.0.1:%d
    server s1 127.0.0.1:9
`, port), fmt.Sprintf("127.0.0.1:%d", port))
	p.stop(t)
}

func TestSIGHUPDumpsServerStates(t *testing.T) {
	port := freePort(t)
	be := newBackend(t, "a", nil)
	p := startHitless(t, fmt.Sprintf(`
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
listen l
    bind 127.0.0.1:%d
    server s1 %s
`, port, be.addr), fmt.Sprintf("127.0.0.1:%d", port))
	p.cmd.Process.Signal(sigHUP)
	if !waitFor(3e9, func() bool { return strings.Contains(p.out.String(), "SIGHUP: Server l/s1 is UP.") }) {
		t.Fatalf("no state dump:\n%s", p.out.String())
	}
	if !strings.Contains(p.out.String(), "SIGHUP: Proxy l has 1 active servers and 0 backup servers available.") {
		t.Fatalf("no proxy line:\n%s", p.out.String())
	}
}

// matchPrefix reports whether line starts with pattern, where "[68]" in pattern
// stands for one character out of the bracketed set.
func matchPrefix(line, pattern string) bool {
	before, rest, ok := strings.Cut(pattern, "[")
	if !ok {
		return strings.HasPrefix(line, pattern)
	}
	set, after, ok := strings.Cut(rest, "]")
	if !ok || !strings.HasPrefix(line, before) || len(line) <= len(before) {
		return false
	}
	if !strings.ContainsRune(set, rune(line[len(before)])) {
		return false
	}
	return matchPrefix(line[len(before)+1:], after)
}
