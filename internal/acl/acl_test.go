package acl

import (
	"crypto/tls"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hitless/internal/http1"
	"hitless/internal/pattern"
	"hitless/internal/sample"
)

// fakeSample is a session: a request built from its fields, and addresses.
type fakeSample struct {
	path, method string
	headers      map[string][]string
	src          string
	port         int
	req          *http1.Request
	vars         sample.Vars
	tls, btls    *tls.ConnectionState
}

func (f *fakeSample) build() *fakeSample {
	if f.path == "" && f.method == "" {
		return f
	}
	m := f.method
	if m == "" {
		m = "GET"
	}
	p := f.path
	if p == "" {
		p = "/"
	}
	raw := m + " " + p + " HTTP/1.1\r\n"
	for name, vals := range f.headers {
		for _, v := range vals {
			raw += name + ": " + v + "\r\n"
		}
	}
	f.req = &http1.Request{}
	if err := http1.ParseRequest([]byte(raw+"\r\n"), f.req); err != nil {
		f.req = nil
	}
	return f
}

func (f *fakeSample) Src() netip.AddrPort {
	a, _ := netip.ParseAddr(f.src)
	return netip.AddrPortFrom(a, 5000)
}
func (f *fakeSample) Dst() netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(f.port))
}
func (f *fakeSample) Frontend() sample.ProxyInfo           { return sample.ProxyInfo{Found: true, Name: "fe"} }
func (f *fakeSample) Backend(string) sample.ProxyInfo      { return sample.ProxyInfo{} }
func (f *fakeSample) Server(_, _ string) sample.ServerInfo { return sample.ServerInfo{} }
func (f *fakeSample) Request() *http1.Request              { return f.req }
func (f *fakeSample) Response() *http1.Response            { return nil }
func (f *fakeSample) Vars() *sample.Vars                   { return &f.vars }
func (f *fakeSample) TLS() *tls.ConnectionState            { return f.tls }
func (f *fakeSample) BackendTLS() *tls.ConnectionState     { return f.btls }

func ctxOf(s *fakeSample) *sample.Ctx {
	c := &sample.Ctx{}
	c.Reset(s.build())
	return c
}

func parseDef(line string) (*Def, error) { return ParseDef(strings.Fields(line), nil) }

func TestEval(t *testing.T) {
	s := ctxOf(&fakeSample{path: "/api/v1/Users.json", method: "GET", src: "10.1.2.3", port: 8080,
		headers: map[string][]string{"host": {"Example.COM"}, "x-list": {"a", "b"}}})
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
		d, err := parseDef("x " + tt.acl)
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
	s := ctxOf(&fakeSample{path: "/api/x", method: "POST", src: "127.0.0.1"})
	defs := map[string][]*Def{}
	for _, line := range []string{"api path_beg /api", "post method POST", "local src 127.0.0.1", "static path_beg /static", "static path_end .css"} {
		d, err := parseDef(line)
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
		c, err := ParseCond(strings.Fields(tt.cond), lookup, nil)
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
		_, err := ParseCond(strings.Fields(cond), lookup, nil)
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
		{"a req.ssl_sni x", "fetch method 'req.ssl_sni' is not supported yet"},
		{"a path,nope x", "unknown converter 'nope'"},
		{"a path_reg (", "regex '(' is invalid (error=missing closing ))"},
		{"a src 300.1.1.1", "'300.1.1.1' is not a valid IPv4 or IPv6 address"},
		{"a src 1.2.3.4/33", "'1.2.3.4/33' is not a valid IPv4 or IPv6 address"},
		{"a src 1.2.3.4/255.0.255.0", "'1.2.3.4/255.0.255.0' is not a valid IPv4 or IPv6 address"},
		{"a src fe80::1%eth0", "'fe80::1%eth0' is not a valid IPv4 or IPv6 address"},
		{"a dst_port 90:80", "'90:80' is not a valid number range"},
		{"a dst_port :", "':' is not a valid number range"},
		{"a dst_port 99999999999999999999", "'99999999999999999999' is neither a number nor a supported operator"},
		{"a dst_port ge x", "'x' is neither a number nor a supported operator"},
		{"a hdr(host,x) x", "fetch method 'hdr' : failed to parse 'x' as type 'integer' at position 2"},
		{"a hdr(host x", "fetch method 'hdr' : expected ')'"},
		{"a path(x) y", "fetch method 'path' : expected ')' before 'x)'"},
		{"a path -m foo x", "unknown matching method 'foo' when parsing ACL expression"},
		{"a path -m", "unknown matching method '' when parsing ACL expression"},
		{"a method -m int 3", "matching method 'int' cannot be used with fetch keyword 'method'"},
		{"a src_beg x", "unknown fetch method 'src_beg' in ACL expression 'src_beg'"},
		{"a path -z x", "'-z' is not a valid ACL option. Please use '--' before any pattern beginning with a '-'"},
		{"a path -f /nonexistent/x.lst", "failed to open pattern file </nonexistent/x.lst>"},
		{"a path -u", "'-u' must be followed by a unique ID"},
		{"b@d path /", "character '@' is not permitted in acl name 'b@d'"},
	} {
		_, err := ParseDef(strings.Fields(tt.line), testFiles{})
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q: err = %v, want %q", tt.line, err, tt.want)
		}
	}
}

func TestNeedsHTTP(t *testing.T) {
	for line, want := range map[string]bool{
		"a path /": true, "a hdr(host) x": true, "a method GET": true, "a src 10.0.0.0/8": false, "a dst_port 80": false,
	} {
		d, err := parseDef(line)
		if err != nil {
			t.Fatal(err)
		}
		if d.NeedsHTTP() != want {
			t.Errorf("%s: NeedsHTTP = %v", line, !want)
		}
		c, err := ParseCond([]string{"if", "{", "src", "1.2.3.4", "}", "x"}, func(string) []*Def { return []*Def{d} }, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.NeedsHTTP() != want {
			t.Errorf("if { src } %s: NeedsHTTP = %v", line, !want)
		}
	}
}

func TestEvalAllocatesNothing(t *testing.T) {
	s := ctxOf(&fakeSample{path: "/Static/app.CSS", method: "GET", src: "10.1.2.3", port: 443,
		headers: map[string][]string{"host": {"a.COM"}, "x-l": {"a, b", "c"}}})
	var defs []*Def
	for _, line := range []string{
		"a hdr_end(host) -i .com", "a hdr_sub(host) -i X", "a hdr_reg(host) -i ^a", "a path_beg -i /static/",
		"a path_sub -i zzz", "a path -i /nope", "a path_end .css", "a method -i get", "a src 192.168.0.0/16 ::ffff:10.0.0.0/104",
		"a dst_port 80 443", "a path -m len gt 3", "a hdr(host) -m found", "a hdr(x-l) c", "a hdr(host),lower -m str a.com",
		"a path_dir static", "a hdr_dom(host) -i com", "a url_param(x) 1", "a always_true", "a path,field(2,/) -m beg app",
	} {
		d, err := parseDef(line)
		if err != nil {
			t.Fatal(err)
		}
		defs = append(defs, d)
	}
	c, err := ParseCond(strings.Fields("unless a !a || a || LOCALHOST"), func(string) []*Def { return defs }, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		if n := testing.AllocsPerRun(100, func() { d.Eval(s) }); n != 0 {
			t.Errorf("Eval of %s allocates %v times", d.Keyword, n)
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
	a, _ := parseDef("a path /")
	b, _ := parseDef("b hdr_sub(x) -i Y")
	s := ctxOf(&fakeSample{path: "/", src: "1.2.3.4", headers: map[string][]string{"x": {"aYb"}}})
	f.Fuzz(func(t *testing.T, cond string) {
		c, err := ParseCond(strings.Fields(cond), func(n string) []*Def {
			switch n {
			case "a", "c":
				return []*Def{a}
			case "b":
				return []*Def{a, b}
			}
			return nil
		}, nil)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
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
		"a path -m len lt 3", "a hdr_end(h) -- -x", "a method -u 1 GET", "a hdr(host),lower,field(1,.) -m dom x",
	} {
		f.Add(s, "/X", "Host.example", 80)
	}
	f.Fuzz(func(t *testing.T, line, path, hdr string, port int) {
		d, err := parseDef(line)
		if err != nil {
			return
		}
		d.Eval(ctxOf(&fakeSample{path: "/" + strings.Map(safe, path), method: "GET", src: "::1", port: port,
			headers: map[string][]string{"host": {strings.Map(safe, hdr)}}}))
	})
}

// safe keeps the bytes a request line or header value may hold.
func safe(r rune) rune {
	if r <= ' ' || r >= 0x7f {
		return 'x'
	}
	return r
}

// testFiles reads pattern files without sharing them.
type testFiles struct{}

func (testFiles) Load(path string, isMap bool, m pattern.Method, fold bool) (*pattern.Ref, error) {
	s, err := pattern.CompileFile(path, isMap, m, fold)
	if err != nil {
		return nil, err
	}
	return pattern.NewRef(s), nil
}

func TestDerivativesAndMethods(t *testing.T) {
	s := ctxOf(&fakeSample{path: "/img/logo.png", method: "GET", src: "192.168.1.9", port: 80,
		headers: map[string][]string{"host": {"www.Example.com:8080"}, "content-length": {"12"}, "x-n": {"5, 17"},
			"cookie": {"sid=abc; lang=fr"}, "x-ip": {"10.0.0.7"}}})
	tests := []struct {
		acl  string
		want bool
	}{
		{"path_dir img", true}, {"path_dir /img/", true}, {"path_dir im", false}, {"path_dom logo", true},
		{"hdr_dom(host) -i example", true}, {"hdr_dom(host) exa", false}, {"hdr_dom(host) -i www.example.com", true},
		{"path_len 13", true}, {"path_len gt 20", false}, {"hdr_len(host) 20", true},
		{"hdr_found(host)", true}, {"hdr_found(nope)", false}, {"path_found", true},
		{"hdr_cnt(x-n) 2", true}, {"hdr_val(x-n) 17", true}, {"hdr_val(x-n) gt 16", true}, {"hdr_val(x-n) 6:16", false},
		{"hdr_ip(x-ip) 10.0.0.0/8", true}, {"cook(sid) abc", true}, {"cook_cnt ge 2", true}, {"cook_beg(lang) f", true},
		{"url_beg /img", true}, {"url_end .png", true}, {"url_reg ^/img/[a-z]+\\.png$", true}, {"base_beg www.", true},
		{"path,lower -m end .png", true}, {"hdr(host),field(1,:),lower www.example.com", true},
		{"req.ver 1.1", true}, {"req.proto_http", true}, {"always_true", true}, {"always_false", false},
		{"int(3) 1:5", true}, {"str(abc) -m sub b", true}, {"bool(0) -m bool", false}, {"src_port 5000", true},
		{"src -m found", true}, {"dst 127.0.0.1", true}, {"method -m beg G", true}, {"path -m sub -i LOGO", true},
		{"path -m dir img", true}, {"path -m reg -i \\.PNG$", true}, {"hdr(host) -m dom -i example", true},
	}
	for _, tt := range tests {
		d, err := parseDef("x " + tt.acl)
		if err != nil {
			t.Errorf("%s: %v", tt.acl, err)
			continue
		}
		if got := d.Eval(s); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.acl, got, tt.want)
		}
	}
}

func TestPredefined(t *testing.T) {
	get := ctxOf(&fakeSample{path: "/x", method: "GET", src: "127.0.0.1", headers: map[string][]string{"content-length": {"3"}}})
	post := ctxOf(&fakeSample{path: "http://h/x", method: "POST", src: "10.0.0.1"})
	star := ctxOf(&fakeSample{path: "*", method: "OPTIONS", src: "::1"})
	tcp := ctxOf(&fakeSample{src: "192.0.2.1"})
	for _, tt := range []struct {
		name string
		c    *sample.Ctx
		want bool
	}{
		{"TRUE", tcp, true}, {"FALSE", tcp, false}, {"LOCALHOST", get, true}, {"LOCALHOST", star, true},
		{"LOCALHOST", post, false}, {"HTTP", get, true}, {"HTTP", tcp, false}, {"HTTP_1.1", get, true},
		{"HTTP_1.0", get, false}, {"METH_GET", get, true}, {"METH_POST", post, true}, {"METH_GET", post, false},
		{"METH_OPTIONS", star, true}, {"HTTP_URL_ABS", post, true}, {"HTTP_URL_ABS", get, false},
		{"HTTP_URL_SLASH", get, true}, {"HTTP_URL_STAR", star, true}, {"HTTP_CONTENT", get, true}, {"HTTP_CONTENT", post, false},
	} {
		c, err := ParseCond([]string{"if", tt.name}, func(string) []*Def { return nil }, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := c.Eval(tt.c); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if _, err := ParseCond([]string{"if", "WAIT_END"}, func(string) []*Def { return nil }, nil); err == nil ||
		!strings.Contains(err.Error(), "not supported yet") {
		t.Errorf("WAIT_END: %v, want not supported yet", err)
	}
}

func TestPatternFiles(t *testing.T) {
	dir := t.TempDir()
	nets := filepath.Join(dir, "nets.lst")
	os.WriteFile(nets, []byte("# trusted\n10.0.0.0/8\n\n  192.168.1.0/24  \n"), 0o644)
	hosts := filepath.Join(dir, "hosts.map")
	os.WriteFile(hosts, []byte("a.example.com be_a\nb.example.com  be_b\n"), 0o644)
	bad := filepath.Join(dir, "bad.lst")
	os.WriteFile(bad, []byte("10.0.0.1\nnot-an-ip\n"), 0o644)
	s := ctxOf(&fakeSample{path: "/", src: "192.168.1.20", headers: map[string][]string{"host": {"B.example.com"}}})
	for _, tt := range []struct {
		acl  string
		want bool
	}{
		{"src -f " + nets, true}, {"src -f " + nets + " 1.2.3.4", true}, {"hdr(host) -i -M -f " + hosts, true},
		{"hdr(host) -M -f " + hosts, false}, {"src 1.1.1.1 -f " + nets, false},
	} {
		d, err := ParseDef(strings.Fields("x "+tt.acl), testFiles{})
		if err != nil {
			if tt.acl == "src 1.1.1.1 -f "+nets {
				continue // flags after values are values
			}
			t.Errorf("%s: %v", tt.acl, err)
			continue
		}
		if got := d.Eval(s); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.acl, got, tt.want)
		}
	}
	_, err := ParseDef(strings.Fields("x src -f "+bad), testFiles{})
	if err == nil || err.Error() != bad+":2: 'not-an-ip' is not a valid IPv4 or IPv6 address" {
		t.Errorf("bad file: %v", err)
	}
}

func TestIncompatible(t *testing.T) {
	d, _ := parseDef("h hdr(host) x")
	c, err := ParseCond([]string{"if", "h", "{", "req.hdr(x)", "y", "}"}, func(string) []*Def { return []*Def{d} }, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "acl 'h' will never match in 'tcp-request connection' because it uses keyword 'hdr' which is incompatible with 'frontend tcp-request connection rule'"
	if got := c.Incompatible(sample.AtFEConn, "tcp-request connection"); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := c.Incompatible(sample.AtFEHReq, "http-request"); got != "" {
		t.Errorf("http-request: %q", got)
	}
}
