package sample

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hitless/internal/pattern"
)

const testReq = "GET /api/v1/Users.json?id=42&name=Bob&id=7 HTTP/1.1\r\nHost: Example.COM\r\n" +
	"X-List: a, b\r\nX-List: c\r\nX-Num: 12\r\nX-IP: 192.0.2.9\r\nCookie: sid=abc; theme=dark\r\nCookie: sid=def\r\n\r\n"

const testRes = "HTTP/1.1 404 Not Found\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2\r\nServer: x, y\r\nContent-Length: 0\r\n\r\n"

func eval(t *testing.T, in Input, expr string) (string, bool) {
	t.Helper()
	e, err := Parse(expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	var c Ctx
	c.Reset(in)
	v, ok := e.Eval(&c)
	if !ok {
		return "", false
	}
	return string(AppendText(nil, v)), true
}

func TestFetches(t *testing.T) {
	in := newTestInput(testReq, testRes)
	tests := []struct{ expr, want string }{
		{"src", "10.1.2.3"}, {"src_port", "45678"}, {"dst", "127.0.0.1"}, {"dst_port", "8080"},
		{"always_true", "1"}, {"always_false", "0"}, {"int(-12)", "-12"}, {"str(abc)", "abc"}, {"str", ""},
		{"bool(3)", "1"}, {"ipv4(10.0.0.1)", "10.0.0.1"}, {"ipv6(::1)", "::1"}, {"nbproc", "1"}, {"thread", "0"},
		{"fe_name", "fe"}, {"fe_id", "2"}, {"be_name", "be"}, {"be_id", "3"}, {"srv_name", "s1"}, {"srv_id", "1"},
		{"nbsrv", "2"}, {"nbsrv(empty)", "0"}, {"be_conn", "5"}, {"queue", "1"}, {"connslots", "10"},
		{"srv_is_up(be/s1)", "1"}, {"srv_is_up(be/s2)", "0"}, {"srv_conn(be/s1)", "7"}, {"fe_conn", "3"},
		{"ssl_fc", "0"},
		{"method", "GET"}, {"path", "/api/v1/Users.json"}, {"pathq", "/api/v1/Users.json?id=42&name=Bob&id=7"},
		{"query", "id=42&name=Bob&id=7"}, {"url", "/api/v1/Users.json?id=42&name=Bob&id=7"},
		{"base", "Example.COM/api/v1/Users.json"}, {"url_param(id)", "42"}, {"urlp(name)", "Bob"}, {"url_port", "80"},
		{"req.ver", "1.1"}, {"req.hdr(host)", "Example.COM"}, {"hdr(x-list)", "c"}, {"hdr(x-list,1)", "a"},
		{"hdr(x-list,2)", "b"}, {"hdr(x-list,-2)", "b"}, {"req.fhdr(x-list,1)", "a, b"}, {"req.hdr_cnt(x-list)", "3"},
		{"hdr_cnt(x-list)", "3"}, {"req.fhdr_cnt(x-list)", "2"}, {"hdr_val(x-num)", "12"}, {"hdr_ip(x-ip)", "192.0.2.9"},
		{"req.hdr_cnt(nope)", "0"}, {"req.cook(sid)", "def"}, {"cook(theme)", "dark"}, {"req.cook", "abc"},
		{"req.cook_cnt(sid)", "2"}, {"res.hdr(server)", "y"}, {"res.fhdr(server)", "x, y"}, {"shdr(server,1)", "x"},
		{"res.hdr_cnt(set-cookie)", "2"}, {"status", "404"}, {"res.ver", "1.1"}, {"res.cook(a)", "1"},
		{"scook(b)", "2"}, {"res.cook_cnt", "2"},
	}
	for _, tt := range tests {
		got, ok := eval(t, in, tt.expr)
		if !ok || got != tt.want {
			t.Errorf("%s = %q (found %v), want %q", tt.expr, got, ok, tt.want)
		}
	}
	for _, absent := range []string{"hdr(nope)", "url_param(zz)", "req.cook(zz)", "nbsrv(nope)", "ssl_fc_sni", "var(txn.nope)", "srv_is_up(be/zz)"} {
		if got, ok := eval(t, in, absent); ok {
			t.Errorf("%s = %q, want no sample", absent, got)
		}
	}
	if got, ok := eval(t, newTestInput("", ""), "path"); ok {
		t.Errorf("path in mode tcp = %q", got)
	}
}

func TestAbsoluteTarget(t *testing.T) {
	in := newTestInput("GET http://[2001:db8::1]:8443/a/b?x=1 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n", "")
	for _, tt := range []struct{ expr, want string }{
		{"path", "/a/b"}, {"pathq", "/a/b?x=1"}, {"query", "x=1"}, {"url_ip", "2001:db8::1"}, {"url_port", "8443"},
		{"url", "http://[2001:db8::1]:8443/a/b?x=1"},
	} {
		if got, ok := eval(t, in, tt.expr); !ok || got != tt.want {
			t.Errorf("%s = %q, want %q", tt.expr, got, tt.want)
		}
	}
	in = newTestInput("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "")
	if got, ok := eval(t, in, "path"); ok {
		t.Errorf("path of '*' = %q, want none", got)
	}
}

func TestConverters(t *testing.T) {
	in := newTestInput(testReq, testRes)
	in.vars.Set(VarRef{ScopeTxn, "n"}, &Value{Type: TInt, Int: 5})
	in.vars.Set(VarRef{ScopeTxn, "s"}, &Value{Type: TStr, B: []byte("abc")})
	tests := []struct{ expr, want string }{
		{"req.hdr(host),lower", "example.com"}, {"req.hdr(host),upper", "EXAMPLE.COM"}, {"str(hello),length", "5"},
		{"str(hello),bytes(1,3)", "ell"}, {"str(hello),bytes(2)", "llo"},
		{"str(a:b:c:d),field(2,:)", "b"}, {"str(a:b:c:d),field(-1,:)", "d"}, {"str(a:b:c:d),field(2,:,2)", "b:c"},
		{"str(a:b:c:d),field(-2,:,2)", "b:c"}, {"str(a:b:c:d),field(2,:,0)", "b:c:d"}, {"str(a:b:c:d),field(-3,:,0)", "a:b"}, {"str(/a//b/c),word(-1,/)", "c"}, {"str(a::b),field(3,:)", "b"}, {"str(a::b),word(2,:)", "b"},
		{"str(/a//b/c),word(2,/)", "b"}, {"str(a:b),field(5,:)", ""},
		{"str(foo.bar.baz),regsub(\\.,_)", "foo_bar.baz"}, {"str(foo.bar.baz),regsub(\\.,_,g)", "foo_bar_baz"},
		{"str(AbA),regsub(a,x,ig)", "xbx"}, {"str(hello world),regsub(^(\\w+) (\\w+)$,\\2 \\1)", "world hello"},
		{"int(5),add(3)", "8"}, {"int(5),sub(7)", "-2"}, {"int(5),mul(-2)", "-10"}, {"int(7),div(2)", "3"},
		{"int(7),div(0)", "9223372036854775807"}, {"int(7),mod(3)", "1"}, {"int(6),and(3)", "2"}, {"int(6),or(1)", "7"},
		{"int(6),xor(3)", "5"}, {"int(5),neg", "-5"}, {"int(0),not", "1"}, {"int(2),bool", "1"}, {"int(3),odd", "1"},
		{"int(2),add(txn.n)", "7"}, {"int(2),cpl", "-3"},
		{"src,ipmask(24)", "10.1.2.0"}, {"src,ipmask(255.255.0.0)", "10.1.0.0"}, {"ipv6(2001:db8::1),ipmask(24,32)", "2001:db8::"},
		{"str(hello),base64", "aGVsbG8="}, {"str(aGVsbG8=),b64dec", "hello"}, {"str(AB),hex", "4142"},
		{"str(ff),hex2i", "255"}, {"str(a%20b+c?d+e),url_dec", "a b+c?d e"}, {"str(a b&c),url_enc", "a%20b%26c"},
		{"str(a\\\\c\x01\x7f/),json", "a\\\\c\\u0001\\u007f\\/"}, {"str(\u00e9),json(utf8)", "\\u00e9"}, {"str(a b&c/\u00e9~),url_enc", "a%20b%26c%2F%C3%A9~"}, {"int(-7),div(2)", "-3"}, {"int(-7),mod(2)", "-1"}, {"src,add(0)", "167838211"}, {"str(a),concat(<,txn.s,>)", "a<abc>"}, {"str(x),concat(-)", "x-"},
		{"str(abc),strcmp(txn.s)", "0"}, {"str(abd),strcmp(txn.s)", "1"}, {"str(abc),secure_memcmp(txn.s)", "1"},
		{"str(hello),crc32", "907060870"}, {"str(hello),djb2", "261238937"}, {"str(hello),sdbm", "684824882"}, {"str(hello),sdbm(1)", "2061535398"},
		{"str(),xxh32", "46947589"}, {"str(abc),xxh32", "852579327"}, {"str(abc),xxh32(1)", "2856167679"}, {"str(abc),xxh64(5)", "-1753195980308443340"},
		{"str(),xxh64", "-1205034819632174695"},
		{"str(abc),sha1,hex", "A9993E364706816ABA3E25717850C26C9CD0D89D"},
		{"str(abc),sha2,hex", "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"},
		{"str(abc),digest(md5),hex", "900150983CD24FB0D6963F7D28E17F72"},
		{"str(abc),hmac(sha256,a2V5),hex", "9C196E32DC0175F86F4B1CB89289D6619DE6BEE699E4C378E68309ED97A1A6AB"},
		{"int(0),utime(%Y-%m-%d %H:%M:%S)", "1970-01-01 00:00:00"}, {"int(86400),utime(%d/%b/%Y,3600)", "02/Jan/1970"},
		{"int(1700000000),http_date", "Tue, 14 Nov 2023 22:13:20 GMT"}, {"int(1700000000),http_date(3600)", "Tue, 14 Nov 2023 23:13:20 GMT"}, {"str(aaa),regsub(a*,x,g)", "xx"}, {"int(1700000000000),http_date(0,ms)", "Tue, 14 Nov 2023 22:13:20 GMT"},
		{"str(v),set-var(txn.copy),upper", "V"}, {"var(txn.copy)", "v"}, {"var(txn.nope,dflt)", "dflt"},
		{"src,lower", "10.1.2.3"}, {"str(12abc),add(1)", "13"}, {"str(10.0.0.1),ipmask(8)", "10.0.0.0"},
	}
	for _, tt := range tests {
		got, ok := eval(t, in, tt.expr)
		if !ok || got != tt.want {
			t.Errorf("%s = %q (found %v), want %q", tt.expr, got, ok, tt.want)
		}
	}
	for _, absent := range []string{"str(abc),add(1)", "str(zz),hex2i", "str(%zz),url_dec", "str(!!),b64dec", "str(abc),ipmask(8)", "int(1),add(txn.nope)"} {
		if got, ok := eval(t, in, absent); ok {
			t.Errorf("%s = %q, want no sample", absent, got)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"foo", "unknown fetch method 'foo'"},
		{"src,foo", "unknown converter 'foo'"},
		{"hdr(x", "fetch method 'hdr' : expected ')'"},
		{"src,ipmask(zz)", "invalid arg 1 in converter 'ipmask' : failed to parse 'zz' as type 'IPv4 mask' at position 1"},
		{"src,field", "invalid arg 1 in converter 'field' : expected type 'integer' at position 1, but got nothing"},
		{"src,lower(1)", "invalid arg 1 in converter 'lower' : expected ')' before '1)'"},
		{"hdr(a,b)", "fetch method 'hdr' : failed to parse 'b' as type 'integer' at position 2"},
		{"int(a)", "fetch method 'int' : failed to parse 'a' as type 'integer' at position 1"},
		{"src,field(1,:)x", "missing comma after converter 'field'"},
		{"var(foo.x)", "invalid variable name 'foo.x'"},
		{"method,ipmask(8)", "converter 'ipmask' cannot be applied"},
		{"base32", "fetch method 'base32' is not supported yet"},
		{"str(a),map(x)", "invalid args in converter 'map' : failed to open pattern file <x>"},
		{"str(a),digest(nope)", "invalid args in converter 'digest'"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.expr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.expr, err, tt.want)
		}
	}
}

func TestWhere(t *testing.T) {
	tests := []struct {
		expr string
		at   Where
		want string
	}{
		{"res.hdr(x)", AtFEHReq, "fetch method 'res.hdr' extracts information from 'HTTP response headers', none of which is available here"},
		{"req.hdr(x)", AtLog, "'HTTP request headers'"},
		{"req.hdr(x)", AtFEConn, "'HTTP request headers'"},
		{"be_name", AtFEHReq, "'backend'"},
		{"be_name", AtFEHReq | AtBEHReq, ""},
		{"src", AtFEConn, ""},
		{"method", AtLog, ""},
		{"status", AtBEHRes, ""},
		{"req.hdr(x)", AtFEHReq, ""},
		{"ssl_fc", AtFEConn, "'client-side connection'"},
	}
	for _, tt := range tests {
		e, err := Parse(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		err = e.Check(tt.at)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s at %s: %v, want %q", tt.expr, tt.at.Name(), err, tt.want)
		}
	}
}

func TestIterate(t *testing.T) {
	in := newTestInput(testReq, "")
	var c Ctx
	c.Reset(in)
	for _, tt := range []struct {
		expr string
		want []string
	}{
		{"hdr(x-list)", []string{"a", "b", "c"}},
		{"hdr(x-list),upper", []string{"A", "B", "C"}},
		{"req.fhdr(x-list)", []string{"a, b", "c"}},
		{"url_param(id)", []string{"42", "7"}},
		{"cook(sid)", []string{"abc", "def"}},
		{"hdr(x-list,1)", []string{"a"}},
		{"path", []string{"/api/v1/Users.json"}},
	} {
		e, err := Parse(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		e.Iterate(&c, func(c *Ctx, v *Value) bool { got = append(got, string(v.B)); return false })
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%s: %q, want %q", tt.expr, got, tt.want)
		}
	}
}

func TestEvalAllocatesNothing(t *testing.T) {
	in := newTestInput(testReq, testRes)
	exprs := []string{"req.hdr(host),lower", "src,ipmask(24)", "path,field(2,/)", "url_param(id),add(1)", "int(3),mul(2)",
		"req.cook(sid),upper", "str(x),set-var(txn.a)", "var(txn.a)", "res.hdr(server)"}
	var es []*Expr
	for _, s := range exprs {
		e, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	var c Ctx
	run := func() {
		c.Reset(in)
		in.vars.EndTxn()
		for _, e := range es {
			e.Eval(&c)
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("%v allocations per evaluation, want 0", n)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"req.hdr(host),lower,map(x)", "src,ipmask(24)", "str(a\\,b),regsub(\",\",x,g)", "hdr(", "int(1),add(txn.x)", "var(txn.a,b),field(1,:,2)"} {
		f.Add(s)
	}
	in := newTestInput(testReq, testRes)
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			return
		}
		var c Ctx
		c.Reset(in)
		e.Eval(&c)
		e.Iterate(&c, func(*Ctx, *Value) bool { return false })
	})
}

// FuzzConverters runs every converter with its argument list on arbitrary input.
func FuzzConverters(f *testing.F) {
	f.Add("hello", "1", "2")
	f.Add("a:b::c", "-1", ":")
	f.Add("%zz+", "0", "g")
	in := newTestInput(testReq, testRes)
	f.Fuzz(func(t *testing.T, input, a1, a2 string) {
		for name := range convs {
			for _, args := range []string{"", "(" + a1 + ")", "(" + a1 + "," + a2 + ")"} {
				e, err := Parse("str(x)," + name + args)
				if err != nil {
					continue
				}
				var c Ctx
				c.Reset(in)
				for _, typ := range []Type{TStr, TBin, TInt, TIPv4, TIPv6, TBool} {
					v := Value{Type: TStr, B: []byte(input)}
					if !c.Cast(&v, typ) {
						continue
					}
					e.convert(&c, &v)
				}
			}
		}
	})
}

func TestAllocsEach(t *testing.T) {
	in := newTestInput(testReq, testRes)
	for _, s := range []string{"req.hdr(host),lower", "src,ipmask(24)", "path,field(2,/)", "url_param(id),add(1)", "int(3),mul(2)",
		"req.cook(sid),upper", "str(x),set-var(txn.a)", "var(txn.a)", "res.hdr(server)"} {
		e, _ := Parse(s)
		var c Ctx
		run := func() {
			c.Reset(in)
			e.Eval(&c)
		}
		run()
		if n := testing.AllocsPerRun(100, run); n != 0 {
			t.Errorf("%s: %v allocations", s, n)
		}
	}
}

func TestMaps(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hosts := write("hosts.map", "example.com be_main\nstatic.example.com be_static\n")
	paths := write("paths.map", "/api be_api\n/api/v2 be_v2\n/ be_root\n")
	nets := write("nets.map", "10.0.0.0/8 private\n10.1.0.0/16 lab\n")
	ints := write("ports.map", "80 http\n443 https\n")
	regs := write("re.map", "^/u/[0-9]+$ user\n")
	doms := write("dom.map", "example.com 1\n")
	p := &Parser{Files: pattern.NewRegistry()}
	in := newTestInput("GET /api/v2/x HTTP/1.1\r\nHost: static.example.com\r\n\r\n", "")
	for _, tt := range []struct{ expr, want string }{
		{"req.hdr(host),map(" + hosts + ")", "be_static"}, {"req.hdr(host),map_str(" + hosts + ")", "be_static"},
		{"str(nope),map(" + hosts + ",be_default)", "be_default"}, {"path,map_beg(" + paths + ")", "be_api"},
		{"src,map_ip(" + nets + ")", "lab"}, {"dst_port,map_int(" + ints + ",none)", "none"}, {"int(443),map_int(" + ints + ")", "https"},
		{"str(/u/12),map_reg(" + regs + ")", "user"}, {"req.hdr(host),map_dom_int(" + doms + ")", "1"},
		{"str(zz),map_str_int(" + hosts + ",7),add(1)", "8"}, {"str(/api),map_end(" + paths + ")", "be_api"},
	} {
		e, err := p.Parse(tt.expr)
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		c := NewCtx(in)
		got, ok := e.AppendString(c, nil)
		if !ok || string(got) != tt.want {
			t.Errorf("%s = %q (%v), want %q", tt.expr, got, ok, tt.want)
		}
	}
	if _, err := p.Parse("str(a),map_int_int(" + hosts + ",x)"); err == nil {
		t.Error("a default that is not an integer is accepted")
	}
}
