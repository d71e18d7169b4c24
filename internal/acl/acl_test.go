package acl

import (
	"net/netip"
	"strings"
	"testing"
)

type fakeSample struct {
	path, method string
	headers      map[string][]string
	src          string
	port         int
}

func (f *fakeSample) Path() string   { return f.path }
func (f *fakeSample) Method() string { return f.method }
func (f *fakeSample) Header(name string, fn func(string) bool) bool {
	for _, v := range f.headers[name] {
		if fn(v) {
			return true
		}
	}
	return false
}
func (f *fakeSample) Src() netip.Addr { a, _ := netip.ParseAddr(f.src); return a }
func (f *fakeSample) DstPort() int    { return f.port }

func TestEval(t *testing.T) {
	s := &fakeSample{path: "/api/v1/Users.json", method: "GET", src: "10.1.2.3", port: 8080,
		headers: map[string][]string{"host": {"Example.COM"}, "x-list": {"a", "b"}}}
	tests := []struct {
		acl  string
		want bool
	}{
		{"path /api/v1/Users.json", true},
		{"path /api", false},
		{"path_beg /api/ /static/", true},
		{"path_end .json", true},
		{"path_end -i .JSON", true},
		{"path_end .JSON", false},
		{"path_sub v1", true},
		{"path_reg ^/api/v[0-9]+/", true},
		{"path_reg -i users\\.JSON$", true},
		{"hdr(host) example.com", false},
		{"hdr(host) -i example.com", true},
		{"hdr(Host) -i example.com", true},
		{"hdr_beg(host) -i exa", true},
		{"hdr_end(host) -i .com", true},
		{"hdr_sub(host) -i mpl", true},
		{"hdr(x-list) b", true},
		{"hdr(missing) -m found", false},
		{"hdr(host) -m found", true},
		{"method GET HEAD", true},
		{"method POST", false},
		{"src 10.0.0.0/8", true},
		{"src 10.1.2.3", true},
		{"src 192.168.0.0/16 ::1", false},
		{"src 10.0.0.0/255.0.0.0", true},
		{"dst_port 8080", true},
		{"dst_port 80:90", false},
		{"dst_port 8000:9000", true},
		{"dst_port ge 8000", true},
		{"dst_port lt 8000", false},
	}
	for _, tt := range tests {
		d, err := ParseDef(append([]string{"x"}, strings.Fields(tt.acl)...))
		if err != nil {
			t.Errorf("%s: %v", tt.acl, err)
			continue
		}
		if got := d.Eval(s); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.acl, got, tt.want)
		}
	}
}

func TestConditions(t *testing.T) {
	s := &fakeSample{path: "/api/x", method: "POST", src: "127.0.0.1"}
	defs := map[string][]*Def{}
	for _, line := range []string{"api path_beg /api", "post method POST", "local src 127.0.0.1", "static path_beg /static", "static path_end .css"} {
		d, err := ParseDef(strings.Fields(line))
		if err != nil {
			t.Fatal(err)
		}
		defs[d.Name] = append(defs[d.Name], d)
	}
	lookup := func(n string) []*Def { return defs[n] }
	tests := []struct {
		cond string
		want bool
	}{
		{"if api", true},
		{"unless api", false},
		{"if api post", true},
		{"if api !post", false},
		{"if ! post || api", true},
		{"if static || local", true},
		{"if static or !local", false},
		{"if api { method POST } local", true},
		{"if !{ path_beg /api }", false},
		{"if static", false},
	}
	for _, tt := range tests {
		c, err := ParseCond(strings.Fields(tt.cond), lookup)
		if err != nil {
			t.Errorf("%s: %v", tt.cond, err)
			continue
		}
		if got := c.Eval(s); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.cond, got, tt.want)
		}
	}
	for cond, want := range map[string]string{
		"if nosuch":        "no such ACL : 'nosuch'",
		"if { path_beg /x": "missing closing '}'",
		"if":               "missing condition",
		"when api":         "must start with 'if' or 'unless'",
		"if || api":        "without a preceding ACL",
		"if api ||":        "ends with '||'",
	} {
		if _, err := ParseCond(strings.Fields(cond), lookup); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", cond, err, want)
		}
	}
}

func TestParseDefErrors(t *testing.T) {
	for line, want := range map[string]string{
		"a":                "requires a name and a fetch",
		"a foo x":          "unknown fetch method 'foo'",
		"a req.ssl_sni x":  "'req.ssl_sni' is not supported yet",
		"a path_reg (":     "regex '(' is invalid",
		"a src 300.1.1.1":  "not a valid IPv4 or IPv6 address",
		"a dst_port 90:80": "not a valid integer range",
		"a hdr x":          "expects a header name",
		"a path":           "missing value",
		"a path -m foo x":  "match method 'foo' is not supported yet",
		"b@d path /":       "invalid character",
	} {
		if _, err := ParseDef(strings.Fields(line)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", line, err, want)
		}
	}
}

func TestEvalAllocatesNothing(t *testing.T) {
	d, _ := ParseDef(strings.Fields("x hdr_end(host) -i .com"))
	c, _ := ParseCond([]string{"if", "x"}, func(string) []*Def { return []*Def{d} })
	s := &fakeSample{headers: map[string][]string{"host": {"a.COM"}}}
	if n := testing.AllocsPerRun(100, func() { c.Eval(s) }); n != 0 {
		t.Fatalf("Eval allocates %v times", n)
	}
}

func FuzzParseCond(f *testing.F) {
	f.Add("if a !b || { path_beg /x } c")
	f.Add("unless { src 10.0.0.0/8 } or { dst_port ge 80 }")
	f.Fuzz(func(t *testing.T, cond string) {
		a, _ := ParseDef([]string{"a", "path", "/"})
		c, err := ParseCond(strings.Fields(cond), func(n string) []*Def {
			if n == "a" || n == "b" || n == "c" {
				return []*Def{a}
			}
			return nil
		})
		if err == nil {
			c.Eval(&fakeSample{path: "/", src: "1.2.3.4"})
		}
	})
}
