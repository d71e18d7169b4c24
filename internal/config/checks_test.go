package config

import (
	"strings"
	"testing"
)

// TestChecksInheritance: a backend takes the check and rules of its defaults section
// unless it has its own rules, which replace them; protocol options build their
// rulesets; rules without their option are ignored with HAProxy's warning.
func TestChecksInheritance(t *testing.T) {
	cfg, err := LoadBytes("t.cfg", []byte(`
defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
    option tcp-check
    tcp-check send PING\r\n
    tcp-check expect string +PONG
backend inherits
    server s1 127.0.0.1:6379 check
backend own
    tcp-check send info\ replication\r\n
    tcp-check expect string role:master
    server s1 127.0.0.1:6379 check
backend proto
    option mysql-check user haproxy
    server s1 127.0.0.1:3306 check
backend ignored
    option httpchk
    tcp-check send x
    server s1 127.0.0.1:80 check
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range cfg.Proxies {
		rs := p.Checks.Ruleset
		if rs == nil {
			got[p.Name] = "none"
			continue
		}
		var steps []string
		for _, r := range rs.Rules {
			steps = append(steps, []string{"connect", "send", "expect", "comment", "set-var", "unset-var"}[r.Action])
		}
		got[p.Name] = rs.Kind + ": " + strings.Join(steps, " ")
		if r := rs.Rules[len(rs.Rules)-1]; p.Name == "own" && string(r.Expect.Pattern) != "role:master" {
			t.Errorf("own rules: %q", r.Expect.Pattern)
		}
	}
	want := map[string]string{
		"inherits": "tcp-check: connect send expect",
		"own":      "tcp-check: connect send expect",
		"proto":    "mysql-check: connect send expect expect",
		"ignored":  "http-check: connect send expect",
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s: %q, want %q", n, got[n], w)
		}
	}
	if len(cfg.Warnings) != 1 || cfg.Warnings[0] != "backend 'ignored' uses tcp-check rules without 'option tcp-check', so the rules are ignored." {
		t.Errorf("warnings %q", cfg.Warnings)
	}
}
