package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestStatsKeywords gives each `stats` row and `http-request use-service` a good line
// (checking what it sets) or a bad one (checking HAProxy 2.6's message).
func TestStatsKeywords(t *testing.T) {
	def := func(f func(s *StatsPage)) *StatsPage {
		s := &StatsPage{URI: DefaultStatsURI, Realm: DefaultStatsRealm}
		if f != nil {
			f(s)
		}
		return s
	}
	tests := []struct {
		name, lines string
		want        *StatsPage // compared without Pos and Admin
		admin       bool
		err         string
	}{
		{name: "enable", lines: "stats enable", want: def(nil)},
		{name: "uri", lines: "stats uri /s?x", want: def(func(s *StatsPage) { s.URI = "/s?x" })},
		{name: "realm", lines: `stats realm My\ Realm`, want: def(func(s *StatsPage) { s.Realm = "My Realm" })},
		{name: "auth twice", lines: "stats auth a:b\n stats auth c:d:e", want: def(func(s *StatsPage) {
			s.Users = []StatsUser{{"a", "b"}, {"c", "d:e"}}
		})},
		{name: "auth without password", lines: "stats auth foo", want: def(func(s *StatsPage) { s.Users = []StatsUser{{"foo", ""}} })},
		{name: "refresh seconds", lines: "stats refresh 5", want: def(func(s *StatsPage) { s.Refresh = 5 * time.Second })},
		{name: "refresh unit", lines: "stats refresh 1m", want: def(func(s *StatsPage) { s.Refresh = time.Minute })},
		{name: "hide-version", lines: "stats hide-version", want: def(func(s *StatsPage) { s.HideVersion = true })},
		{name: "show-node", lines: "stats show-node", want: def(func(s *StatsPage) { s.ShowNode = true })},
		{name: "show-node name", lines: "stats show-node eu-1", want: def(func(s *StatsPage) { s.ShowNode, s.Node = true, "eu-1" })},
		{name: "show-desc", lines: "stats show-desc Master node for Europe", want: def(func(s *StatsPage) { s.ShowDesc, s.Desc = true, "Master node for Europe" })},
		{name: "admin", lines: "stats admin if { src 127.0.0.1 }", want: def(nil), admin: true},
		{name: "admin unless", lines: "acl local src 127.0.0.1\n stats admin unless local", want: def(nil), admin: true},
		{name: "auth empty", lines: "stats auth", err: "t.cfg:9: 'auth' needs a user:password account."},
		{name: "uri empty", lines: "stats uri", err: "'uri' needs an URI prefix."},
		{name: "realm empty", lines: "stats realm", err: "'realm' needs an realm name."},
		{name: "refresh bad", lines: "stats refresh abc", err: "unexpected character 'a' in argument to stats refresh interval."},
		{name: "admin no cond", lines: "stats admin", err: "'stats admin' requires either 'if' or 'unless' followed by a condition."},
		{name: "admin bad cond", lines: "stats admin TRUE", err: "'stats admin' requires either 'if' or 'unless' followed by a condition."},
		{name: "admin unknown acl", lines: "stats admin if nosuch", err: "no such ACL : 'nosuch'"},
		{name: "unknown", lines: "stats foo", err: "unknown stats parameter 'foo', expects 'admin', 'uri', 'realm', 'auth', 'scope', 'enable', 'hide-version', 'show-node', 'show-desc' or 'show-legends'."},
		{name: "missing", lines: "stats", err: "missing keyword in 'stats', expects 'admin'"},
		{name: "scope", lines: "stats scope .\n stats scope be", want: def(func(s *StatsPage) { s.Scope = []string{".", "be"} })},
		{name: "scope empty", lines: "stats scope", err: "'scope' needs a proxy name."},
		{name: "show-legends", lines: "stats show-legends", err: "'stats show-legends' is not supported yet"},
		{name: "use-service", lines: "http-request use-service prometheus-exporter if { path /metrics }"},
		{name: "use-service empty", lines: "http-request use-service", err: "'http-request use-service' expects a service name."},
		{name: "use-service unknown", lines: "http-request use-service foo", err: "'http-request use-service' : 'foo' unknown service name."},
		{name: "use-service extra", lines: "http-request use-service prometheus-exporter x", err: "expects either 'if' or 'unless' followed by a condition but found 'x'."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base + "frontend f\n bind 127.0.0.1:8080\n " + tt.lines + "\n"
			c, err := LoadBytes("t.cfg", []byte(cfg), nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v\nwant it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := c.Proxies[0]
			if strings.HasPrefix(tt.lines, "http-request") {
				r := p.HTTPRequest[0]
				if r.Action != "use-service" || r.Service != "prometheus-exporter" || r.Cond == nil {
					t.Fatalf("rule %+v", r)
				}
				return
			}
			got := p.Stats
			if got == nil {
				t.Fatal("no stats page")
			}
			if (got.Admin != nil) != tt.admin {
				t.Fatalf("admin = %v, want %v", got.Admin != nil, tt.admin)
			}
			g := *got
			g.Pos, g.Admin = Pos{}, nil
			if !reflect.DeepEqual(&g, tt.want) {
				t.Fatalf("got %+v\nwant %+v", g, *tt.want)
			}
		})
	}
}

func TestStatsInheritanceAndMode(t *testing.T) {
	c, err := LoadBytes("t.cfg", []byte(base+" stats auth a:b\n stats uri /st\n"+
		"frontend f\n bind 127.0.0.1:8080\n stats auth c:d\n"+
		"backend b\n"+
		"listen t\n mode tcp\n bind 127.0.0.1:8081\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	f, b, l := c.Proxies[0], c.Proxies[1], c.Proxies[2]
	if f.Stats == nil || f.Stats.URI != "/st" || len(f.Stats.Users) != 2 {
		t.Fatalf("frontend stats %+v", f.Stats)
	}
	if b.Stats == nil || len(b.Stats.Users) != 1 {
		t.Fatalf("backend stats %+v (the frontend's users leaked?)", b.Stats)
	}
	if l.Stats != nil {
		t.Fatalf("mode tcp listen kept its stats page")
	}
	want := "'stats' statement ignored for listen 't' as it requires HTTP mode."
	if len(c.Warnings) == 0 || c.Warnings[len(c.Warnings)-1] != want {
		t.Fatalf("warnings %q, want %q", c.Warnings, want)
	}
	if _, err := LoadBytes("t.cfg", []byte("defaults\n stats admin if { src 127.0.0.1 }\n"), nil); err == nil || !strings.Contains(err.Error(), "t.cfg:2: 'stats admin' not allowed in 'defaults' section.") {
		t.Fatalf("stats admin in defaults: %v", err)
	}
}

// FuzzStatsKeywords parses arbitrary `stats` and `http-request use-service` lines:
// an error or a page, never a panic.
func FuzzStatsKeywords(f *testing.F) {
	for _, s := range []string{"stats auth a:b", "stats refresh 5s", "stats admin if { src 127.0.0.1 }",
		"stats scope .", "stats show-desc a b c", "http-request use-service prometheus-exporter if { path /m }", "stats uri"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := LoadBytes("t.cfg", []byte(base+"frontend f\n bind 127.0.0.1:8080\n "+line+"\n"), nil)
		if err == nil && c == nil {
			t.Fatal("no config and no error")
		}
	})
}
