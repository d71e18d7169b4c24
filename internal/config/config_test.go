package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLexLine(t *testing.T) {
	vars := env(map[string]string{"FOO": "foo", "LIST": "a b  c", "EMPTY": ""})
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{`a b	c`, []string{"a", "b", "c"}, ""},
		{`a#b c`, []string{"a"}, ""},
		{`"x"y'z'`, []string{"xyz"}, ""},
		{`""`, []string{""}, ""},
		{`"a b" 'c d'`, []string{"a b", "c d"}, ""},
		{`a\ b \#c \\ \"`, []string{"a b", "#c", `\`, `"`}, ""},
		{`"\x41\t"`, []string{"A\t"}, ""},
		{`"x\y"`, []string{`x\y`}, ""},
		{`$FOO "$FOO" "${FOO}bar" '$FOO'`, []string{"$FOO", "foo", "foobar", "$FOO"}, ""},
		{`"${UNSET-dflt}" "${EMPTY-dflt}"`, []string{"dflt", ""}, ""},
		{`x "${LIST[*]}" y`, []string{"x", "a", "b", "c", "y"}, ""},
		{`"${.FILE}:${.LINE}"`, []string{"f.cfg:7"}, ""},
		{`"unterminated`, nil, "unmatched quote at position 1"},
		{`'a\'b'`, nil, "unmatched quote"},
		{`"\xZZ"`, nil, "truncated or invalid hexadecimal sequence"},
		{`"${FOO"`, nil, "unmatched brace"},
		{`   # only a comment`, nil, ""},
	}
	for _, tt := range tests {
		got, err := lexLine(tt.in, vars, "f.cfg", 7, "")
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"100", 100 * time.Millisecond, true}, {"10s", 10 * time.Second, true}, {"5m", 5 * time.Minute, true},
		{"2h", 2 * time.Hour, true}, {"1d", 24 * time.Hour, true}, {"500us", 500 * time.Microsecond, true},
		{"0", 0, true}, {"1.5s", 0, false}, {"-1", 0, false}, {"10x", 0, false}, {"3000d", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in, time.Millisecond)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseTime(%q) = %v, %v", tt.in, got, err)
		}
	}
	for in, want := range map[string]int64{"10": 10, "4k": 4096, "2m": 2 << 20, "1g": 1 << 30} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v", in, got, err)
		}
	}
}

const base = `
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
`

// TestKeywordErrors gives each keyword row a bad line and checks the message.
func TestKeywordErrors(t *testing.T) {
	tests := []struct {
		name, cfg, want string
	}{
		{"unknown keyword", "frontend f\n bind :80\n bogus 1", "t.cfg:9: unknown keyword 'bogus' in 'frontend' section"},
		{"suggestion", "frontend f\n bind :80\n timout client 1s", "did you mean 'timeout' maybe ?"},
		{"unsupported keyword", "frontend f\n bind :80\n capture cookie SID len 10", "t.cfg:9: 'capture cookie' is not supported yet"},
		{"unsupported section", "resolvers r\n nameserver a 127.0.0.1:53", "t.cfg:7: 'resolvers' is not supported yet"},
		{"userlist unknown", "frontend f\n mode http\n http-request deny if !{ http_auth(nope) }", "t.cfg:9: unable to find userlist 'nope' referenced in arg 1 of sample fetch keyword 'http_auth'."},
		{"userlist DES", "userlist u\n user a password abzlUXK5ed5rs", "DES is not supported yet"},
		{"mode", "frontend f\n mode htp", "unknown proxy mode 'htp'."},
		{"bind port 0", "frontend f\n bind 127.0.0.1:0", "'bind' : invalid port '0'"},
		{"bind missing port", "frontend f\n bind 127.0.0.1", "'bind' : missing port specification in '127.0.0.1'"},
		{"bind bad address", "frontend f\n bind 999.1.1.1:80", "'bind' : invalid address: '999.1.1.1' in '999.1.1.1:80'"},
		{"bind bad range", "frontend f\n bind :85-80", "invalid port range '85-80'"},
		{"bind unsupported option", "frontend f\n bind :80 ssl crt /nonexistent/x.pem", "'bind 0.0.0.0:80' : unable to stat SSL certificate from file '/nonexistent/x.pem' : No such file or directory."},
		{"timeout missing", "defaults\n timeout client", "'timeout client' expects an integer value (in milliseconds)"},
		{"timeout unit", "defaults\n timeout client 10x", "unexpected character 'x' in 'timeout client'"},
		{"timeout overflow", "defaults\n timeout client 99999999999", "timer overflow in argument '99999999999' to 'timeout client' (maximum value is 2147483647 ms or ~24.8 days)"},
		{"hard-stop-after overflow", "global\n hard-stop-after 30d", "timer overflow in argument '30d' to 'hard-stop-after'"},
		{"removed keyword", "backend b\n contimeout 5s", "t.cfg:8: the 'contimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout connect'."},
		{"timeout name", "defaults\n timeout foo 1s", "'timeout' supports 'client'"},
		{"server no port checked", "backend b\n server s1 127.0.0.1 check", "t.cfg:8: config: backend 'b': server 's1' has neither service port nor check port."},
		{"server bad offset", "backend b\n server s1 127.0.0.1:+x", "'server b/s1' : invalid port offset '+x'"},
		{"server port", "backend b\n server s1 127.0.0.1:80 port 0", "'port' expects a valid port number (1-65535), got '0'"},
		{"server addr", "backend b\n server s1 127.0.0.1:80 addr db.local", "'addr' expects an IP address (got 'db.local')"},
		{"agent without port", "backend b\n server s1 127.0.0.1:80 agent-check", "'server b/s1' : server s1 does not have agent port. Agent check has been disabled."},
		{"check and track", "backend b\n server s1 127.0.0.1:80 check\n server s2 127.0.0.1:81 check track s1", "'server b/s2' : unable to enable checks and tracking at the same time!"},
		{"track unchecked", "backend b\n server s1 127.0.0.1:80\n server s2 127.0.0.1:81 track s1", "'server b/s2' : unable to use b/s1 for tracking as it does not have any check nor agent enabled."},
		{"track missing", "backend b\n server s2 127.0.0.1:81 track nope", "'server b/s2' : unable to find required server 'nope' for tracking."},
		{"on-marked-down", "backend b\n server s1 127.0.0.1:80 on-marked-down x", "'on-marked-down' expects 'shutdown-sessions' but got 'x'"},
		{"on-error", "backend b\n server s1 127.0.0.1:80 on-error x", "'on-error' expects one of 'fastinter', 'fail-check', 'sudden-death' or 'mark-down' but got 'x'"},
		{"init-addr unresolved", "backend b\n server s1 no-such-host.invalid:80 init-addr libc", "could not resolve address 'no-such-host.invalid'"},
		{"init-addr last", "backend b\n server s1 127.0.0.1:80 init-addr last,libc", "'init-addr last' needs a server-state file"},
		{"proxy-v2-options ssl", "backend b\n server s1 127.0.0.1:80 send-proxy-v2 proxy-v2-options ssl", "'proxy-v2-options ssl' carries TLS details and is not supported yet"},
		{"redir", "backend b\n server s1 127.0.0.1:80 redir http://x", "'redir' is not supported yet"},
		{"usesrc", "backend b\n server s1 127.0.0.1:80 usesrc client", "'usesrc' (transparent source addresses)"},
		{"tcp-check connect not first", "backend b\n option tcp-check\n tcp-check send x\n tcp-check connect port 80", "t.cfg:10: 'tcp-check connect' : first step MUST also be a 'connect'"},
		{"tcp-check expect", "backend b\n tcp-check expect strin x", "t.cfg:8: 'tcp-check expect' : expects 'min-recv'"},
		{"http-check send", "backend b\n http-check send meth", "'http-check send' : 'meth' expects 1 argument(s)."},
		{"mysql-check", "backend b\n option mysql-check user", "'option mysql-check' : 'mysql-check' : missing username after 'user'."},
		{"pgsql-check", "backend b\n option pgsql-check", "'pgsql-check' : 'user' expected"},
		{"spop-check", "backend b\n option spop-check", "SPOP checks need an SPOE agent and are not supported yet"},
		{"external-check global", "backend b\n option external-check\n external-check command /bin/true", "t.cfg:8: Proxy 'b' : 'option external-check' unable to find required 'global.external-check'."},
		{"external-check fork", "global\n external-check\nbackend b\n option external-check\n external-check command /bin/true", "it needs 'insecure-fork-wanted' in the global section"},
		{"external-check command", "global\n external-check\n insecure-fork-wanted\nbackend b\n option external-check", "unable to find required 'external-check command'."},
		{"server weight", "backend b\n server s1 127.0.0.1:80 weight 300", "weight of server s1 is not within 0 and 256 (300)."},
		{"server rise", "backend b\n server s1 127.0.0.1:80 rise 0", "'rise' has to be > 0."},
		{"server unknown option", "backend b\n server s1 127.0.0.1:80 wieght 3", "unknown keyword 'wieght'; did you mean 'weight' maybe ?"},
		{"server unsupported option", "backend b\n server s1 127.0.0.1:80 redir http://x", "'redir' is not supported yet"},
		{"server ssl without ca-file", "backend b\n server s1 127.0.0.1:80 ssl", "'server b/s1' : verify is enabled by default but no CA file specified."},
		{"duplicate server", "backend b\n server s1 127.0.0.1:80\n server s1 127.0.0.1:81", "another server named 's1' was already defined at line 8"},
		{"balance", "backend b\n balance foo", "'balance' only supports"},
		{"balance unsupported", "backend b\n balance rdp-cookie", "'balance rdp-cookie' is not supported yet"},
		{"option unknown", "defaults\n option httplogg", "unknown option 'httplogg'; did you mean 'httplog' maybe ?."},
		{"option unsupported", "defaults\n option abortonclose", "'option abortonclose' is not supported yet"},
		{"acl unknown fetch", "frontend f\n acl a foo /x", "unknown fetch method 'foo'"},
		{"acl unsupported fetch", "frontend f\n acl a req.body -i x", "fetch method 'req.body' is not supported yet"},
		{"no such acl", "frontend f\n use_backend b if nosuch\nbackend b", "no such ACL : 'nosuch'"},
		{"use_backend in defaults", "defaults\n use_backend b", "'use_backend' not allowed in 'defaults' section."},
		{"missing default_backend", "frontend fe\n bind :80\n default_backend nosuch", "proxy 'fe': unable to find required default_backend: 'nosuch'."},
		{"missing use_backend", "frontend fe\n bind :80\n use_backend nob if { path / }", "t.cfg:9: proxy 'fe': unable to find required use_backend: 'nob'."},
		{"duplicate backend", "backend b\nbackend b", "backend 'b' has the same name as backend 'b' declared at t.cfg:7."},
		{"listen conflicts", "frontend x\nlisten x", "listen 'x' has the same name as frontend 'x'"},
		{"http-request unknown", "frontend f\n http-request foo", "'http-request' unknown action 'foo'"},
		{"http-request unsupported", "frontend f\n http-request normalize-uri path-merge-slashes", "'normalize-uri' action is experimental, must be allowed via a global 'expose-experimental-directives'"},
		{"http-request not yet", "frontend f\n http-request set-timeout server 5s", "'http-request set-timeout' is not supported yet"},
		{"redirect code", "frontend f\n http-request redirect location / code 304", "unsupported HTTP code '304'"},
		{"set-var scope", "frontend f\n http-request set-var(foo.x) src", "invalid variable name 'foo.x'"},
		{"set-var where", "frontend f\n http-request set-var(txn.x) res.hdr(a)", "fetch method 'res.hdr' extracts information from 'HTTP response headers', none of which is available here"},
		{"tcp-request unsupported", "frontend f\n tcp-request connection track-sc0 src", "'tcp-request connection track-sc0' is not supported yet"},
		{"errorloc code", "frontend f\n errorloc 999 /x", "errorloc : status code '999' not handled."},
		{"errorloc args", "frontend f\n errorloc302 403", "errorloc302 : expects <status_code> and <url> as arguments."},
		{"http-error lf", "frontend f\n http-error status 403 content-type t lf-string %[src]", "'http-error' : 'lf-string' is not supported yet"},
		{"global set-var scope", "global\n set-var txn.x int(1)", "only 'proc' scope is supported in the global section."},
		{"global set-var fetch", "global\n set-var proc.x src", "fetch method 'src' extracts information from 'client address', none of which is available here"},
		{"return file", "frontend f\n http-request return status 200 content-type t file /nonexistent", "failed to open file '/nonexistent'."},
		{"set-src", "frontend f\n http-request set-src", "'http-request set-src' expects exactly 1 argument (a sample expression)."},
		{"use-server cond", "backend b\n use-server s", "'use-server' requires either 'if' or 'unless' followed by a condition."},
		{"force-persist cond", "backend b\n force-persist", "'force-persist' requires either 'if' or 'unless' followed by a condition."},
		{"forwardfor except", "frontend f\n option forwardfor except nope", "'except' expects <address>[/mask] as argument."},
		{"http-request in tcp", "frontend f\n mode tcp\n http-request deny", "need 'mode http'"},
		{"template", "frontend f\n http-request set-header X %[nope]", "failed to parse sample expression <nope]> : unknown fetch method 'nope'."},
		{"template where", "frontend f\n http-request set-header X %[res.hdr(a)]", "sample fetch <res.hdr(a)]> may not be reliably used here because it needs 'HTTP response headers' which is not available here."},
		{"log facility", "global\n log 127.0.0.1 local9", "unknown log facility 'local9'"},
		{"stats level", "global\n stats socket /tmp/x level root", "'level' only supports 'user', 'operator', and 'admin' (got 'root')"},
		{"expose-fd", "global\n stats socket /tmp/x expose-fd all", "'expose-fd' only supports 'listeners' (got 'all')"},
		{"server-state-file", "global\n server-state-file", "t.cfg:8: 'server-state-file' expect one argument: a file path."},
		{"server-state-base", "global\n server-state-base", "t.cfg:8: 'server-state-base' expects one argument: a directory path."},
		{"load-server-state-from-file", "defaults\n load-server-state-from-file foo", "t.cfg:8: 'load-server-state-from-file' expects 'global', 'local' or 'none'. Got 'foo'"},
		{"load-server-state-from-file empty", "backend b\n load-server-state-from-file", "'load-server-state-from-file' expects 'global', 'local' or 'none'. Got ''"},
		{"server-state-file-name", "backend b\n server-state-file-name a b", "t.cfg:8: 'server-state-file-name' cannot handle unexpected argument 'b'."},
		{"lone endif", ".endif", "lone '.endif' with no matching '.if'."},
		{"unterminated if", ".if 1", "non-terminated '.if' block."},
		{"alert", `.alert "stop"`, "'stop'."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadBytes("t.cfg", []byte(base+tt.cfg+"\n"), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

// TestServerStateFiles checks which file each backend loads, with HAProxy's rules.
func TestServerStateFiles(t *testing.T) {
	cfg, err := LoadBytes("t.cfg", []byte(`
global
    server-state-base /var/state/
    server-state-file all
defaults
    load-server-state-from-file global
backend a
backend b
    load-server-state-from-file local
backend c
    load-server-state-from-file local
    server-state-file-name /abs/c
backend d
    load-server-state-from-file local
    server-state-file-name use-backend-name
backend e
    load-server-state-from-file none
frontend f
    bind 127.0.0.1:8080
    load-server-state-from-file global
    default_backend a
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "/var/state/all", "b": "/var/state/b", "c": "/abs/c", "d": "/var/state/d", "e": ""}
	for _, p := range cfg.Proxies {
		if w, ok := want[p.Name]; ok && cfg.StateFile(p) != w {
			t.Errorf("backend %s loads %q, want %q", p.Name, cfg.StateFile(p), w)
		}
	}
	warned := false
	for _, w := range cfg.Warnings {
		if w == "parsing [t.cfg:20] : 'load-server-state-from-file' ignored because frontend 'f' has no backend capability." {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning for the frontend: %q", cfg.Warnings)
	}
}

// TestMissingTimeoutsWarning follows HAProxy 2.6's rule: the frontend side needs
// `timeout client`; a backend side with servers needs `timeout connect` and
// `timeout server` (or, in mode tcp, `timeout tunnel`).
func TestMissingTimeoutsWarning(t *testing.T) {
	tests := []struct {
		name, cfg string
		warn      []string
	}{
		{"frontend without client", "frontend fe\n bind :80", []string{"frontend 'fe'"}},
		{"frontend with client", "frontend fe\n bind :80\n timeout client 1s", nil},
		{"backend without servers", "backend b", nil},
		{"backend without connect", "backend b\n timeout server 1s\n server s1 127.0.0.1:80", []string{"backend 'b'"}},
		{"tcp backend with tunnel", "backend b\n timeout connect 1s\n timeout tunnel 1s\n server s1 127.0.0.1:80", nil},
		{"http backend with tunnel only", "backend b\n mode http\n timeout connect 1s\n timeout tunnel 1s\n server s1 127.0.0.1:80", []string{"backend 'b'"}},
		{"listen without server timeout", "listen l\n bind :80\n timeout client 1s\n timeout connect 1s\n server s1 127.0.0.1:80", []string{"listen 'l'"}},
		{"listen complete", "defaults\n timeout client 1s\n timeout connect 1s\n timeout server 1s\nlisten l\n bind :80\n server s1 127.0.0.1:80", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadBytes("t.cfg", []byte(tt.cfg+"\n"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Warnings) != len(tt.warn) {
				t.Fatalf("warnings = %q, want %d", cfg.Warnings, len(tt.warn))
			}
			for i, w := range tt.warn {
				want := "missing timeouts for " + w + ".\n   | While not properly invalid"
				if !strings.HasPrefix(cfg.Warnings[i], want) {
					t.Errorf("warning %d = %q, want prefix %q", i, cfg.Warnings[i], want)
				}
			}
		})
	}
}

func TestKeywordOutOfSection(t *testing.T) {
	_, err := LoadBytes("t.cfg", []byte("maxconn 10\n"), nil)
	if err == nil || err.Error() != "t.cfg:1: unknown keyword 'maxconn' out of section." {
		t.Fatalf("err = %v", err)
	}
}

func TestAllErrorsReportedInOneRun(t *testing.T) {
	cfg := base + `
frontend f
    bind 127.0.0.1:0
    bogus
    timeout client 1x
backend b
    server s1 127.0.0.1:+x
    balance nope
`
	_, err := LoadBytes("multi.cfg", []byte(cfg), nil)
	list, ok := err.(ErrorList)
	if !ok || len(list) != 5 {
		t.Fatalf("got %d errors, want 5:\n%v", len(list), err)
	}
	for i, line := range []int{9, 10, 11, 13, 14} {
		if list[i].Pos.Line != line || list[i].Pos.File != "multi.cfg" {
			t.Errorf("error %d at %v, want line %d", i, list[i].Pos, line)
		}
	}
}

func TestConditionalBlocks(t *testing.T) {
	cfg := base + `
.if defined(PROD) && streq("$ENV",prod)
frontend f
    bind :8080
.elif version_atleast(2.6)
frontend f
    bind :9090
.else
frontend f
    bind :7070
.endif
`
	c, err := LoadBytes("t.cfg", []byte(cfg), env(map[string]string{"ENV": "dev"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Proxies) != 1 || c.Proxies[0].Binds[0].Addr.Port != 9090 {
		t.Fatalf("got %+v", c.Proxies[0].Binds)
	}
	c, _ = LoadBytes("t.cfg", []byte(cfg), env(map[string]string{"ENV": "prod", "PROD": ""}))
	if c.Proxies[0].Binds[0].Addr.Port != 8080 {
		t.Fatalf("got %+v", c.Proxies[0].Binds)
	}
}

func TestDefaultsInheritance(t *testing.T) {
	cfg := `
defaults d1
    mode http
    timeout client 7s
    timeout connect 1s
    timeout server 1s
    option forwardfor
defaults
    mode tcp
    timeout client 3s
    timeout connect 1s
    timeout server 1s
frontend a from d1
    bind :80
frontend b
    bind :81
    no option forwardfor
`
	c, err := LoadBytes("t.cfg", []byte(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.Proxies[0], c.Proxies[1]
	if a.Mode != ModeHTTP || a.Timeouts.Client != 7*time.Second || !a.Options.ForwardFor {
		t.Fatalf("a: %+v", a)
	}
	if b.Mode != ModeTCP || b.Timeouts.Client != 3*time.Second || b.Options.ForwardFor {
		t.Fatalf("b: %+v", b)
	}
}

// TestGolden parses each testdata/*.cfg and compares the result with its .golden dump.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.cfg")
	if len(files) == 0 {
		t.Fatal("no golden configs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load([]string{f}, env(map[string]string{"PORT": "8443"}))
			var got []byte
			if err != nil {
				got = []byte(err.Error() + "\n")
			} else {
				got, _ = json.MarshalIndent(c, "", "  ")
				got = append(got, '\n')
			}
			g := strings.TrimSuffix(f, ".cfg") + ".golden"
			if *update {
				os.WriteFile(g, got, 0o644)
			}
			want, err := os.ReadFile(g)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("%s differs from %s (run go test -update to see)", f, g)
			}
		})
	}
}

func TestDirectoryLoadsCfgFilesInOrder(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "20-fe.cfg"), []byte("frontend f\n bind :80\n default_backend b\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "10-defaults.cfg"), []byte(base), 0o644)
	os.WriteFile(filepath.Join(dir, "30-be.cfg"), []byte("backend b\n server s 127.0.0.1:81\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden.cfg"), []byte("bogus\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("bogus\n"), 0o644)
	c, err := Load([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Files) != 3 || !strings.HasSuffix(c.Files[0], "10-defaults.cfg") || c.Proxies[0].Mode != ModeHTTP {
		t.Fatalf("files %v", c.Files)
	}
	if _, err := Load([]string{filepath.Join(dir, "missing.cfg")}, nil); err == nil || !strings.Contains(err.Error(), "Cannot open configuration file/directory") {
		t.Fatalf("missing file: %v", err)
	}
}

func FuzzLex(f *testing.F) {
	for _, s := range []string{`a "b c" 'd'`, `"${X-y}" \x41`, `"${A[*]}"`, `#`, `"\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		lexLine(line, env(map[string]string{"A": "1 2"}), "f", 1, "s")
	})
}

func FuzzLoadBytes(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.cfg")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(base + "frontend f\n bind :80\n acl a path_beg /x\n use_backend b if a || !{ src 10.0.0.0/8 }\nbackend b\n"))
	f.Add([]byte("frontend f\n bind localhost:80\nbackend b\n server s h6:80\n"))
	// Names resolve in memory: "localhost" to both loopbacks, "h6" to ::1 only.
	orig := lookupIP
	lookupIP = func(host string) ([]net.IP, error) {
		switch host {
		case "localhost":
			return []net.IP{net.IPv6loopback, net.IPv4(127, 0, 0, 1)}, nil
		case "h6":
			return []net.IP{net.IPv6loopback}, nil
		}
		return nil, errors.New("no such host")
	}
	f.Cleanup(func() { lookupIP = orig })
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := LoadBytes("fuzz.cfg", data, nil)
		if err == nil && c == nil {
			t.Fatal("no config and no error")
		}
	})
}

func TestParseMasterCLI(t *testing.T) {
	for _, c := range []struct {
		spec, addr, level, err string
		mode                   uint32
	}{
		{spec: "/run/hitless-master.sock", addr: "/run/hitless-master.sock", level: "admin"},
		{spec: "/run/m.sock,mode,600,level,user", addr: "/run/m.sock", level: "user", mode: 0o600},
		{spec: "unix@/run/m.sock,,,level,operator", addr: "/run/m.sock", level: "operator"},
		{spec: "ipv4@127.0.0.1:9999", addr: "127.0.0.1:9999", level: "admin"},
		{spec: "", err: "'-S' expects an address"},
		{spec: "/run/m.sock,mode", err: "'-S /run/m.sock' : 'mode' expects an argument"},
		{spec: "/run/m.sock,bogus,1", err: "bogus"},
	} {
		s, err := ParseMasterCLI(c.spec)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.spec, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		addr := s.Addr.Path
		if s.Addr.Network != "unix" {
			addr = fmt.Sprintf("%s:%d", s.Addr.Host, s.Addr.Port)
		}
		if addr != c.addr || s.Level != c.level || s.Mode != c.mode {
			t.Errorf("%q: got %s level %s mode %o", c.spec, addr, s.Level, s.Mode)
		}
	}
}

// TestFramingHeaderRulesWarn: a rule on a framing or connection field cannot change
// what hitless forwards (it writes those fields from what it parsed); -c says so.
func TestFramingHeaderRulesWarn(t *testing.T) {
	cfg, err := LoadBytes("t.cfg", []byte("defaults\n mode http\n timeout client 1s\nfrontend fe\n bind :80\n http-request set-header Content-Length 5\n http-response del-header Transfer-Encoding\n http-request set-header X-Ok 1\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range cfg.Warnings {
		if strings.Contains(w, "has no effect") {
			got = append(got, w)
		}
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "parsing [t.cfg:6] : 'http-request set-header Content-Length' has no effect") {
		t.Fatalf("warnings %q", got)
	}
}
