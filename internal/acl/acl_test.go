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
		{"dst_port gt 8079 lt 1", true},
		{"dst_port le 8079", false},
		{"dst_port eq 8080", true},
		{"dst_port 8081:", false},
		{"dst_port :8080", true},
		{"dst_port -m int 8080", true},
		{"dst_port ge", false},
		{"dst_port -m found", true},
		{"dst_port gt 9223372036854775807", false},
		{"dst_port lt -9223372036854775808", false},
		{"path", false},
		{"path --", false},
		{"path_beg -- /api", true},
		{"path -m len 18", true},
		{"path -m len 1:17", false},
		{"path -m len ge 10", true},
		{"path -m beg /api", true},
		{"path_beg -m end .json", true},
		{"path -m sub -i USERS", true},
		{"path -m reg ^/api/v1/", true},
		{"path -m found", true},
		{"path -i /API/V1/USERS.JSON", true},
		{"path -i /API/V1/USERS.JSO", false},
		{"path_beg -i /API/V2", false},
		{"path_sub -i /V1/U", true},
		{"path_sub -i /V1/X", false},
		{"path_end -i /users", false},
		{"method get", false},
		{"method -i get", true},
		{"hdr(x-list) -m found", true},
		{"hdr(x-list) c", false},
		{"hdr_reg(host) ^Example\\.", true},
		{"hdr_reg(host) ^example", false},
		{"hdr_reg(host) -i ^example", true},
		{"hdr_sub(host) ple.CO", true},
		{"hdr(host) -m len 11", true},
		{"req.hdr(HOST) Example.COM", true},
		{"src 10.1.2.4", false},
		{"src -n -i 10.1.2.3", true},
		{"src ::ffff:10.1.0.0/112", true},
		{"src ::ffff:10.2.0.0/112", false},
		{"src 10.1.2.0/255.255.255.0 192.0.2.1", true},
		{"src -m ip 10.1.2.3/32", true},
		{"src -m found", true},
		{"src -u 3 10.0.0.0/8", true},
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
		// HAProxy accepts these and so must a drop-in (checked against HAProxy 2.6).
		{"if", false},
		{"unless", true},
		{"if || api", true},
		{"if api ||", true},
		{"if static || || api", true},
		{"if static OR api", true},
		{"if !", false},
		{"if api !", true},
		{"unless api !", false},
		{"if !!api", true},
		{"if ! ! api", true},
		{"if ! !api", true},
		{"if !static !{ method GET } { src 127.0.0.0/8 }", true},
		{"if static || post !api || local", true},
		{"if static || post !api", false},
		{"if ! static api", true},
		{"if ! || api", true},
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
		"if nosuch":               "no such ACL : 'nosuch'",
		"if api !nosuch":          "no such ACL : 'nosuch'",
		"if { path_beg /x":        "missing closing '}' in condition",
		"if { }":                  "missing fetch method in ACL expression ''",
		"if { foo x }":            "unknown fetch method 'foo' in ACL expression 'foo'",
		"if { path_beg /x } }":    "no such ACL : '}'",
		"when api":                "condition must start with 'if' or 'unless'",
		"":                        "condition must start with 'if' or 'unless'",
		"if { src 1.2.3.4/40 }":   "'1.2.3.4/40' is not a valid IPv4 or IPv6 address",
		"if { path_reg -i [ }":    "regex '[' is invalid (error=missing closing ])",
		"if api || { path -z x }": "'-z' is not a valid ACL option. Please use '--' before any pattern beginning with a '-'",
	} {
		_, err := ParseCond(strings.Fields(cond), lookup)
		if err == nil || err.Error() != want {
			t.Errorf("%q: err = %v, want %q", cond, err, want)
		}
	}
}

func TestParseDefErrors(t *testing.T) {
	for _, tt := range []struct{ line, want string }{
		{"a", "'acl' requires a name and a fetch method"},
		{"a foo x", "unknown fetch method 'foo' in ACL expression 'foo'"},
		{"a foo(x) y", "unknown fetch method 'foo' in ACL expression 'foo(x)'"},
		{"a req.ssl_sni x", "ACL fetch 'req.ssl_sni' is not supported yet"},
		{"a path,lower x", "ACL fetch 'path,lower' is not supported yet"},
		{"a path_reg (", "regex '(' is invalid (error=missing closing ))"},
		{"a src 300.1.1.1", "'300.1.1.1' is not a valid IPv4 or IPv6 address"},
		{"a src 1.2.3.4/33", "'1.2.3.4/33' is not a valid IPv4 or IPv6 address"},
		{"a src 1.2.3.4/255.0.255.0", "'1.2.3.4/255.0.255.0' is not a valid IPv4 or IPv6 address"},
		{"a src fe80::1%eth0", "'fe80::1%eth0' is not a valid IPv4 or IPv6 address"},
		{"a dst_port 90:80", "'90:80' is not a valid number range"},
		{"a dst_port :", "':' is not a valid number range"},
		{"a dst_port 99999999999999999999", "'99999999999999999999' is neither a number nor a supported operator"},
		{"a dst_port ge x", "'x' is neither a number nor a supported operator"},
		{"a hdr x", "fetch 'hdr' without a header name is not supported yet in ACL expression 'hdr'"},
		{"a hdr() x", "fetch 'hdr' without a header name is not supported yet in ACL expression 'hdr()'"},
		{"a hdr(host,1) x", "fetch 'hdr' with an occurrence argument is not supported yet in ACL expression 'hdr(host,1)'"},
		{"a hdr(host x", "missing closing ')' after arguments to fetch 'hdr' in ACL expression 'hdr(host'"},
		{"a path(x) y", "ACL keyword 'path' : expected ')' before 'x)'"},
		{"a path -m foo x", "unknown matching method 'foo' when parsing ACL expression"},
		{"a path -m", "unknown matching method '' when parsing ACL expression"},
		{"a path -m int 3", "match method 'int' is not supported yet for fetch 'path'"},
		{"a dst_port -m str 80", "match method 'str' is not supported yet for fetch 'dst_port'"},
		{"a src -m beg 10.", "match method 'beg' is not supported yet for fetch 'src'"},
		{"a path -z x", "'-z' is not a valid ACL option. Please use '--' before any pattern beginning with a '-'"},
		{"a path -f /etc/x.lst", "ACL option '-f' (pattern files) is not supported yet"},
		{"a path -u", "'-u' must be followed by a unique ID"},
		{"b@d path /", "character '@' is not permitted in acl name 'b@d'"},
		{"a path_len 3", "ACL fetch 'path_len' is not supported yet"},
	} {
		_, err := ParseDef(strings.Fields(tt.line))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q: err = %v, want %q", tt.line, err, tt.want)
		}
	}
}

func TestNeedsHTTP(t *testing.T) {
	for line, want := range map[string]bool{
		"a path /": true, "a hdr(host) x": true, "a method GET": true, "a src 10.0.0.0/8": false, "a dst_port 80": false,
	} {
		d, err := ParseDef(strings.Fields(line))
		if err != nil {
			t.Fatal(err)
		}
		if d.NeedsHTTP() != want {
			t.Errorf("%s: NeedsHTTP = %v", line, !want)
		}
		c, err := ParseCond([]string{"if", "{", "src", "1.2.3.4", "}", "x"}, func(string) []*Def { return []*Def{d} })
		if err != nil {
			t.Fatal(err)
		}
		if c.NeedsHTTP() != want {
			t.Errorf("if { src } %s: NeedsHTTP = %v", line, !want)
		}
	}
}

func TestEvalAllocatesNothing(t *testing.T) {
	s := &fakeSample{path: "/Static/app.CSS", method: "GET", src: "10.1.2.3", port: 443,
		headers: map[string][]string{"host": {"a.COM"}}}
	var defs []*Def
	for _, line := range []string{
		"a hdr_end(host) -i .com", "a hdr_sub(host) -i X", "a hdr_reg(host) -i ^a", "a path_beg -i /static/",
		"a path_sub -i zzz", "a path -i /nope", "a path_end .css", "a method -i get", "a src 192.168.0.0/16 ::ffff:10.0.0.0/104",
		"a dst_port 80 443", "a path -m len gt 3", "a hdr(host) -m found",
	} {
		d, err := ParseDef(strings.Fields(line))
		if err != nil {
			t.Fatal(err)
		}
		defs = append(defs, d)
	}
	c, err := ParseCond(strings.Fields("unless a !a || a"), func(string) []*Def { return defs })
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		if n := testing.AllocsPerRun(100, func() { d.Eval(s) }); n != 0 {
			t.Errorf("Eval of %v allocates %v times", d.strs, n)
		}
	}
	if n := testing.AllocsPerRun(100, func() { c.Eval(s) }); n != 0 {
		t.Fatalf("Cond.Eval allocates %v times", n)
	}
}

func FuzzParseCond(f *testing.F) {
	f.Add("if a !b || { path_beg /x } c")
	f.Add("unless { src 10.0.0.0/8 } or { dst_port ge 80 }")
	f.Add("if ! || { hdr_reg(host) -i ^x } !!c OR")
	a, _ := ParseDef([]string{"a", "path", "/"})
	b, _ := ParseDef([]string{"b", "hdr_sub(x)", "-i", "Y"})
	f.Fuzz(func(t *testing.T, cond string) {
		c, err := ParseCond(strings.Fields(cond), func(n string) []*Def {
			switch n {
			case "a", "c":
				return []*Def{a}
			case "b":
				return []*Def{a, b}
			}
			return nil
		})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		s := &fakeSample{path: "/", src: "1.2.3.4", headers: map[string][]string{"x": {"aYb"}}}
		// Negating the whole condition must flip the result.
		u := *c
		u.unless = !c.unless
		if c.Eval(s) == u.Eval(s) {
			t.Fatalf("%q: if and unless agree", cond)
		}
	})
}

func FuzzParseDef(f *testing.F) {
	for _, s := range []string{
		"a path_beg -i /x /y", "a src 10.0.0.0/255.0.0.0 ::1", "a dst_port ge 80 1:2 :9", "a hdr(host) -m reg -i ^x(",
		"a path -m len lt 3", "a hdr_end(h) -- -x", "a method -u 1 GET",
	} {
		f.Add(s, "/X", "Host.example", 80)
	}
	f.Fuzz(func(t *testing.T, line, path, hdr string, port int) {
		d, err := ParseDef(strings.Fields(line))
		if err != nil {
			return
		}
		d.Eval(&fakeSample{path: path, method: path, src: "::1", port: port,
			headers: map[string][]string{d.header: {hdr}}})
	})
}
