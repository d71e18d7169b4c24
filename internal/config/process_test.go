package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestProcessKeywords gives each new global keyword a good and a bad line; the
// messages are HAProxy 2.6's where it has one (checked with haproxy -c).
func TestProcessKeywords(t *testing.T) {
	tests := []struct {
		line  string
		check func(g *Global) bool
		err   string
	}{
		{"user nobody", func(g *Global) bool { return g.UID == 65534 && g.User == "nobody" }, ""},
		{"user nosuchuser", nil, "cannot find user id for 'nosuchuser'"},
		{"user nobody extra", nil, "'user' cannot handle unexpected argument 'extra'."},
		{"group nogroup", func(g *Global) bool { return g.GID == 65534 && g.Group == "nogroup" }, ""},
		{"group nosuchgroup", nil, "cannot find group id for 'nosuchgroup'"},
		{"uid 33", func(g *Global) bool { return g.UID == 33 }, ""},
		{"gid 34", func(g *Global) bool { return g.GID == 34 }, ""},
		{"uid abc", nil, "'uid' expects a non-negative number (got 'abc')"},
		{"gid", nil, "'gid' expects an integer argument."},
		{"chroot /var/empty", func(g *Global) bool { return g.Chroot == "/var/empty" }, ""},
		{"chroot", nil, "'chroot' expects a directory as an argument."},
		{"ca-base /etc/ssl/certs", func(g *Global) bool { return g.CABase == "/etc/ssl/certs" }, ""},
		{"crt-base /etc/ssl/private", func(g *Global) bool { return g.CRTBase == "/etc/ssl/private" }, ""},
		{"ca-base", nil, "global statement 'ca-base' expects a directory path as an argument."},
		{"crt-base /a /b", nil, "'crt-base' cannot handle unexpected argument '/b'."},
		{"ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:!aNULL:+HIGH:ECDHE+AESGCM:@STRENGTH",
			func(g *Global) bool { return strings.HasPrefix(g.SSLBind.Ciphers, "ECDHE-ECDSA") }, ""},
		{"ssl-default-server-ciphers HIGH:@SECLEVEL=2", func(g *Global) bool { return g.SSLServer.Ciphers != "" }, ""},
		{"ssl-default-bind-ciphers", nil, "global statement 'ssl-default-bind-ciphers' expects a cipher suite as an argument."},
		{"ssl-default-bind-ciphers AES::", nil, ""},
		{"ssl-default-bind-ciphers AES;RC4", nil, "invalid character ';' in cipher list element 'AES;RC4'"},
		{"ssl-default-bind-ciphers !!AES", nil, "invalid cipher list element '!!AES'"},
		{"ssl-default-server-ciphers AES+", nil, "invalid cipher list element 'AES+' (empty name)"},
		{"ssl-default-bind-ciphers @SECLEVEL=9", nil, "expected @STRENGTH or @SECLEVEL=0..5"},
		{"ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
			func(g *Global) bool { return g.SSLBind.Ciphersuites != "" }, ""},
		{"ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256", nil,
			"Go's TLS 1.3 always offers TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256 and cannot leave out TLS_AES_256_GCM_SHA384"},
		{"ssl-default-bind-ciphersuites TLS_AES_128_CCM_SHA256", nil, "Go's TLS has no AES-CCM suites"},
		{"ssl-default-bind-ciphers DHE-RSA-AES128-GCM-SHA256", nil, "selects no suite that Go's TLS implements: 'DHE-RSA-AES128-GCM-SHA256' (Go's TLS has no finite-field DHE key exchange)"},
		{"ssl-default-bind-ciphers NOSUCH", nil, "unknown cipher 'NOSUCH'"},
		{"ssl-default-server-ciphersuites TLS_AES_128_GCM_SHA256:TLS_FOO", nil, "unknown TLS 1.3 cipher suite 'TLS_FOO'"},
		{"ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets prefer-client-ciphers",
			func(g *Global) bool {
				return reflect.DeepEqual(g.SSLBind.Options, []string{"ssl-min-ver", "TLSv1.2", "no-tls-tickets", "prefer-client-ciphers"})
			}, ""},
		{"ssl-default-bind-options foo", nil, "unknown option 'foo' on global statement 'ssl-default-bind-options'."},
		{"ssl-default-bind-options ssl-min-ver", nil, "'ssl-min-ver' : missing the ssl/tls version on global statement 'ssl-default-bind-options'."},
		{"ssl-default-bind-options ssl-max-ver TLSv9", nil, "'TLSv9' : unknown ssl/tls version on global statement 'ssl-default-bind-options'."},
		{"ssl-default-server-options no-tlsv10 force-tlsv12", func(g *Global) bool { return len(g.SSLServer.Options) == 2 }, ""},
		{"ssl-default-server-options prefer-client-ciphers", nil, "unknown option 'prefer-client-ciphers' on global statement 'ssl-default-server-options'."},
		{"tune.bufsize 32768", func(g *Global) bool { return g.TuneBufSize == 32768 }, ""},
		{"tune.bufsize", nil, "'tune.bufsize' expects an integer argument."},
		{"tune.bufsize abc", nil, "'tune.bufsize' expects a positive integer argument."},
		{"tune.bufsize 100", nil, "'tune.bufsize' must be at least 1024 (got '100')"},
		{"tune.maxrewrite 2048", func(g *Global) bool { return g.TuneMaxRewrite == 2048 }, ""},
		{"tune.http.maxhdr 10", func(g *Global) bool { return g.TuneMaxHdr == 10 }, ""},
		{"tune.http.maxhdr 32767", func(g *Global) bool { return g.TuneMaxHdr == 32767 }, ""},
		{"tune.http.maxhdr 0", nil, "'tune.http.maxhdr' expects a numeric value between 1 and 32767"},
		{"tune.http.maxhdr 32768", nil, "'tune.http.maxhdr' expects a numeric value between 1 and 32767"},
		{"tune.http.maxhdr abc", nil, "'tune.http.maxhdr' expects a numeric value between 1 and 32767"},
		{"tune.http.maxhdr", nil, "'tune.http.maxhdr' expects an integer argument."},
		{"tune.maxrewrite -1", nil, "'tune.maxrewrite' expects a positive integer argument."},
		{"node lb-1.example", func(g *Global) bool { return g.Node == "lb-1.example" }, ""},
		{"node a/b", nil, "'node' requires valid node name"},
		{"node a b", nil, "'node' cannot handle unexpected argument 'b'."},
		{"description front door  of site", func(g *Global) bool { return g.Description == "front door of site" }, ""},
		{"description", nil, "'description' expects a string argument."},
		{"stats timeout 30s", func(g *Global) bool { return g.StatsTimeout.Seconds() == 30 }, ""},
		{"daemon", func(g *Global) bool { return g.Daemon }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			cfg, err := LoadBytes("t.cfg", []byte("global\n "+tt.line+"\n"), nil)
			if tt.check == nil && tt.err == "" {
				// "AES::" has empty elements between separators, which OpenSSL skips.
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), "t.cfg:2: ") || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want t.cfg:2: ...%q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(&cfg.Global) {
				t.Fatalf("global not set as expected: %+v", cfg.Global)
			}
		})
	}
}

func TestUserTwiceWarns(t *testing.T) {
	cfg, err := LoadBytes("t.cfg", []byte("global\n user nobody\n uid 5\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Global.UID != 65534 || len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "[t.cfg:3] : user/uid already specified. Continuing.") {
		t.Fatalf("uid %d, warnings %q", cfg.Global.UID, cfg.Warnings)
	}
}

// TestErrorFileKeywords checks errorfile, errorfiles and http-errors, with HAProxy
// 2.6's messages.
func TestErrorFileKeywords(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("503.http", "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/html\r\n\r\n<h1>503</h1>\n")
	other := write("404.http", "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno")
	empty := write("empty.http", "")
	tests := []struct {
		name, cfg string
		err       string
		files     map[int]string // frontend f's files: status → path
	}{
		{"errorfile", "frontend f\n errorfile 503 " + good, "", map[int]string{503: good}},
		{"empty file", "frontend f\n errorfile 408 " + empty, "", map[int]string{408: empty}},
		{"from defaults", "defaults\n errorfile 503 " + good + "\nfrontend f", "", map[int]string{503: good}},
		{"override", "defaults\n errorfile 404 " + good + "\nfrontend f\n errorfile 404 " + other, "", map[int]string{404: other}},
		{"errorfiles all", "http-errors site\n errorfile 404 " + other + "\n errorfile 503 " + good + "\nfrontend f\n errorfiles site", "",
			map[int]string{404: other, 503: good}},
		{"errorfiles some", "frontend f\n errorfiles site 503\nhttp-errors site\n errorfile 404 " + other + "\n errorfile 503 " + good, "",
			map[int]string{503: good}},
		{"later line wins", "http-errors site\n errorfile 503 " + good + "\nfrontend f\n errorfiles site\n errorfile 503 " + other, "",
			map[int]string{503: other}},
		{"missing file", "frontend f\n errorfile 503 /nonexistent.http", "t.cfg:8: errorfile : error opening file '/nonexistent.http'.", nil},
		{"directory", "frontend f\n errorfile 503 " + dir, "errorfile : error reading file '" + dir + "'.", nil},
		{"code", "frontend f\n errorfile 599 " + good, "t.cfg:8: errorfile : status code '599' not handled.", nil},
		{"not a code", "frontend f\n errorfile abc " + good, "errorfile : status code '0' not handled.", nil},
		{"arguments", "frontend f\n errorfile 404", "errorfile : expects <status_code> and <file> as arguments.", nil},
		{"garbage", "frontend f\n errorfile 503 " + write("bad.http", "garbage\n"), "bad.http': unable to parse headers", nil},
		{"no end of head", "frontend f\n errorfile 503 " + write("nohead.http", "HTTP/1.0 503 X\r\nA: b\r\n"), "unable to parse headers", nil},
		{"short body", "frontend f\n errorfile 503 " + write("short.http", "HTTP/1.0 503 X\r\nContent-Length: 5\r\n\r\nabc"),
			"payload size does not match the announced content-length (3 != 5)", nil},
		{"too large", "frontend f\n errorfile 503 " + write("big.http", "HTTP/1.0 503 X\r\n\r\n"+strings.Repeat("a", 16000)),
			"larger than 15360 bytes", nil},
		{"unknown section", "frontend f\n errorfiles nosuch", "t.cfg:8: proxy 'f': unknown http-errors section 'nosuch'.", nil},
		{"errorfiles name", "frontend f\n errorfiles", "errorfiles : expects <name> as argument.", nil},
		{"errorfiles code", "frontend f\n errorfiles site 999\nhttp-errors site", "errorfiles : status code '999' not handled.", nil},
		{"section name", "http-errors", "t.cfg:7: missing name for http-errors section.", nil},
		{"section twice", "http-errors x\nhttp-errors x", "t.cfg:8: http-errors section 'x' already exists (declared at t.cfg:7).", nil},
		{"section keyword", "http-errors x\n foo", "t.cfg:8: unknown keyword 'foo' in 'http-errors' section", nil},
		{"section file", "http-errors x\n errorfile 503 /nonexistent.http", "t.cfg:8: errorfile : error opening file '/nonexistent.http'.", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadBytes("t.cfg", []byte(base+tt.cfg+"\n"), nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var f *Proxy
			for _, p := range cfg.Proxies {
				if p.Name == "f" {
					f = p
				}
			}
			got := map[int]string{}
			for code, ef := range f.ErrorFiles {
				got[code] = ef.Path
				if raw, _ := os.ReadFile(ef.Path); string(raw) != string(ef.Raw) {
					t.Errorf("%d: Raw is not the file's content", code)
				}
			}
			if !reflect.DeepEqual(got, tt.files) {
				t.Fatalf("files %v, want %v", got, tt.files)
			}
		})
	}
}

// TestDebianDefaultConfig loads Debian 12's /etc/haproxy/haproxy.cfg as the haproxy
// package installs it (with its error files), when it is there.
func TestDebianDefaultConfig(t *testing.T) {
	const path = "/etc/haproxy/haproxy.cfg"
	if _, err := os.Stat(path); err != nil {
		t.Skip("no Debian haproxy.cfg on this machine")
	}
	cfg, err := Load([]string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.Global
	if g.Chroot != "/var/lib/haproxy" || g.User != "haproxy" || g.Group != "haproxy" || !g.Daemon || len(g.Logs) != 2 {
		t.Errorf("global: %+v", g)
	}
	if n := len(cfg.Defaults[0].errDirectives); n != 7 {
		t.Errorf("%d errorfile lines in defaults, want 7", n)
	}
}

func FuzzCheckErrorFile(f *testing.F) {
	f.Add([]byte("HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/html\r\n\r\nx"))
	f.Add([]byte("HTTP/1.1 200 OK\nContent-Length: 2\n\nok"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_ = CheckErrorFile(raw, 15360)
	})
}

// TestLogFormatKeywords checks log-format, log-format-sd, unique-id-format,
// unique-id-header and the two log options, with HAProxy 2.6's messages.
func TestLogFormatKeywords(t *testing.T) {
	tests := []struct {
		name, cfg string
		check     func(p *Proxy) bool
		err       string
	}{
		{"log-format", `frontend f
 log-format "%ci:%cp %{+Q}r"`, func(p *Proxy) bool { return p.Formats.Log != nil && p.Formats.Log.Source == "%ci:%cp %{+Q}r" }, ""},
		{"log-format replaces httplog", "frontend f\n option httplog\n log-format %ci", func(p *Proxy) bool { return !p.Options.HTTPLog && p.Formats.Log != nil }, ""},
		{"httplog replaces log-format", "frontend f\n log-format %ci\n option httplog", func(p *Proxy) bool { return p.Options.HTTPLog && p.Formats.Log == nil }, ""},
		{"from defaults", "defaults\n log-format %ci\n unique-id-format %rt\n unique-id-header X-ID\nfrontend f",
			func(p *Proxy) bool {
				return p.Formats.Log != nil && p.Formats.UniqueID != nil && p.Formats.UniqueIDHeader == "X-ID"
			}, ""},
		{"log-format-sd", `frontend f
 log-format-sd %{+Q,+E}o\ [x@1\ a=%ci]`, func(p *Proxy) bool { return p.Formats.SD != nil }, ""},
		{"options", "frontend f\n option log-separate-errors\n option logasap", func(p *Proxy) bool {
			return p.Options.LogSeparateErrors && p.Options.LogASAP
		}, ""},
		{"no option", "defaults\n option logasap\nfrontend f\n no option logasap", func(p *Proxy) bool { return !p.Options.LogASAP }, ""},
		{"spaces", "frontend f\n log-format %ci %cp", nil, "t.cfg:8: log-format expects only one argument, don't forget to escape spaces!"},
		{"no argument", "frontend f\n log-format", nil, "log-format expects an argument."},
		{"unknown variable", "frontend f\n log-format %zz", nil, "t.cfg:8: failed to parse log-format : no such format variable 'zz'."},
		{"header fetch", "frontend f\n log-format %[req.hdr(host)]", nil, "may not be reliably used here because it needs 'HTTP request headers'"},
		{"http variable in tcp", "frontend f\n mode tcp\n log-format %HM", nil, "t.cfg:9: failed to parse log-format : format variable 'HM' is reserved for HTTP mode."},
		{"unique-id-format", "frontend f\n unique-id-format %{+X", nil, "failed to parse unique-id-format : truncated line after '+X'."},
		{"unique-id-header", "frontend f\n unique-id-header", nil, "unique-id-header expects an argument."},
		{"unique-id-header name", "frontend f\n unique-id-header X:Y", nil, "unique-id-header : "},
		{"not in backend", "backend f\n log-format %ci", nil, "'log-format' not allowed in 'backend' section."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadBytes("t.cfg", []byte(base+tt.cfg+"\n"), nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg.Proxies[0]) {
				t.Fatalf("not set: %+v %+v", cfg.Proxies[0].Formats, cfg.Proxies[0].Options)
			}
		})
	}
}

// TestStatsSocketIsAListener follows HAProxy 2.6: `-c` on a file whose only listener is
// the stats socket (Debian's default) is valid.
func TestStatsSocketIsAListener(t *testing.T) {
	for text, want := range map[string]bool{
		"global\n log /dev/log local0\n":              false,
		"global\n stats socket /run/x.sock\n":         true,
		"frontend f\n bind 127.0.0.1:8080\n":          true,
		"frontend f\nbackend b\n server s 1.2.3.4:80": false,
	} {
		cfg, err := LoadBytes("t.cfg", []byte(text+"\n"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.HasListener(); got != want {
			t.Errorf("%q: HasListener %v, want %v", text, got, want)
		}
	}
}
