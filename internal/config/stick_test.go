package config

import (
	"strings"
	"testing"

	"hitless/internal/stick"
)

// The messages are those HAProxy 2.6.12 prints for the same lines (haproxy -c).
func TestStickTableErrors(t *testing.T) {
	for _, c := range []struct{ name, cfg, want string }{
		{"len 0", "peers p\n peer a 127.0.0.1:21001\n table t1 type string len 0 size 10", "t.cfg:9: table: unknown type '0'."},
		{"mixed gpc", "peers p\n table t2 type ip size 10 store gpc0,gpc(2)", "table: simultaneous usage of 'gpc' and 'gpc[0/1]' in a same table is not permitted as 'gpc' overrides 'gpc[0/1]'."},
		{"mixed gpt", "backend b\n stick-table type ip size 10 store gpt(2),gpt0", "stick-table: simultaneous usage of 'gpt' and 'gpt0' in a same table is not permitted as 'gpt' overrides 'gpt0'."},
		{"type", "peers p\n table t3 type foo size 10", "table: unknown type 'foo'."},
		{"size", "peers p\n table t4 type ip", "table: missing size."},
		{"no type", "peers p\n table t5 size 10", "table: missing type."},
		{"rate arg", "peers p\n table t6 type ip size 10 store http_req_rate", "table: missing argument to store option 'http_req_rate'."},
		{"store", "peers p\n table t7 type ip size 10 store nosuch", "table: unknown store option 'nosuch'."},
		{"store arg", "peers p\n table t8 type ip size 10 store gpc0(3)", "table: unexpected argument to store option 'gpc0'."},
		{"peers in peers", "peers p\n table t9 type ip size 10 peers x", "table: unknown argument 'peers'."},
		{"unknown in peers", "peers p\n bogus", "t.cfg:8: unknown keyword 'bogus' in 'peers' section"},
		{"shards is not 2.6", "peers p\n shards 2", "unknown keyword 'shards' in 'peers' section"},
		{"log not yet", "peers p\n log stdout local0", "'log' is not supported yet"},
		{"array range", "backend b\n stick-table type ip size 1k store gpc(0)", "stick-table: array size is out of allowed range (1-100) for store option 'gpc'."},
		{"gpc_rate arg", "backend b\n stick-table type ip size 1k store gpc_rate(2)", "stick-table: missing argument to store option 'gpc_rate'."},
		{"expire overflow", "backend b\n stick-table type ip size 1k expire 99999999999", "stick-table: timer overflow in argument <99999999999> to <expire>, maximum value is 2147483647 ms (~24.8 days)."},
		{"twice", "backend b6\n stick-table type ip size 1k\n stick-table type ip size 1k", "t.cfg:9: stick-table name 'b6' conflicts with table declared in backend 'b6' at t.cfg:8."},
		{"unknown arg", "backend b\n stick-table type ip size 1k foo", "stick-table: unknown argument 'foo'."},
		{"size char", "backend b\n stick-table type ip size abc", "stick-table: unexpected character 'a' in argument of 'size'."},
		{"expire char", "backend b\n stick-table type ip size 1k expire 5x", "stick-table: unexpected character 'x' in argument of 'expire'."},
		{"srvkey", "frontend f\n stick-table type ip size 1k nopurge srvkey foo", "stick-table : unknown server key type 'foo'."},
		{"defaults", "defaults\n stick-table type ip size 1k", "'stick-table' is not supported in 'defaults' section."},
		{"missing peers", "backend b1\n stick-table type ip size 1k peers nosuch", "Proxy 'b1': unable to find sync peers 'nosuch'."},
		{"duplicate peers", "peers p\npeers p", "t.cfg:8: peers section 'p' has the same name as another peers section declared at t.cfg:7."},
		{"peer and bind", "peers p\n peer a 127.0.0.1:21020\n bind 127.0.0.1:21021", `mixing "peer" and "bind" line is forbidden`},
		{"peer option", "peers p\n peer a 127.0.0.1:21020 ssl", "'peer a' : 'ssl' is not supported yet"},
		{"default-server option", "peers p\n default-server ssl", "'default-server' : 'ssl' is not supported yet"},
		{"max updates", "global\n tune.peers.max-updates-at-once 0", "t.cfg:8: 'tune.peers.max-updates-at-once' expects an integer argument greater than 0."},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadBytes("t.cfg", []byte(base+c.cfg+"\n"), nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

func TestStickTablesAndPeers(t *testing.T) {
	cfg, err := LoadBytes("t.cfg", []byte(`
global
    localpeer a
peers mypeers
    peer a 127.0.0.1:21001
    peer b 127.0.0.1:21002
    table t_peers type binary len 8 size 100 expire 20s store gpc0
peers other
    bind 127.0.0.1:21010
    default-bind
    default-server
    server a
    server z 127.0.0.1:21011
    disabled
peers lonely
    peer q 127.0.0.1:21030
backend st_str
    stick-table type string len 16 size 1k expire 60s store http_req_rate(10s),gpc0 store conn_cur peers mypeers
backend st_int
    stick-table type integer size 1m store gpt(2),gpc(2),gpc_rate(2,10s),gpc(3)
backend st_lonely
    stick-table type ip size 1k peers lonely
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ResolvePeers("")
	if len(cfg.Peers) != 2 || cfg.Peers[0].Name != "mypeers" || cfg.Peers[1].Name != "other" {
		t.Fatalf("peers %+v", cfg.Peers)
	}
	if w := strings.Join(cfg.Warnings, "\n"); !strings.Contains(w, "Removing incomplete section 'peers lonely' (no peer named 'a').") ||
		!strings.Contains(w, "stick-table: store option 'gpc' already enabled, ignored.") {
		t.Errorf("warnings: %s", w)
	}
	mp := cfg.Peers[0]
	if mp.Bind == nil || mp.Bind.Port != 21001 || mp.LocalPeer().Name != "a" {
		t.Errorf("local peer %+v", mp)
	}
	if o := cfg.Peers[1]; !o.Disabled || o.Bind.Port != 21010 || o.LocalPeer() == nil || o.LocalPeer().Addr != nil {
		t.Errorf("other %+v", o)
	}
	var names []string
	for _, s := range cfg.Tables {
		names = append(names, s.Name+"|"+s.NetName+"|"+s.Peers)
	}
	if got := strings.Join(names, " "); got != "mypeers/t_peers|/t_peers|mypeers st_str|st_str|mypeers st_int|st_int| st_lonely|st_lonely|" {
		t.Errorf("tables %s", got)
	}
	s := cfg.Tables[1]
	if s.Type != stick.KeyString || s.Len != 16 || s.KeySize() != 17 || s.Size != 1024 || s.Expire != 60000 {
		t.Errorf("st_str %+v", s)
	}
	var cols []string
	for _, c := range s.Columns {
		cols = append(cols, c.Type.String())
	}
	if strings.Join(cols, ",") != "gpc0,conn_cur,http_req_rate" || s.Columns[2].Period != 10000 {
		t.Errorf("columns %v", s.Columns)
	}
	if c := cfg.Tables[2].Columns; len(c) != 3 || c[2].Type != stick.GPCRate || c[2].N != 2 || c[2].Period != 10000 || cfg.Tables[2].Size != 1<<20 {
		t.Errorf("st_int %+v", c)
	}
	// -L wins over localpeer, with HAProxy's warning.
	cfg2, _ := LoadBytes("t.cfg", []byte("global\n localpeer a\npeers p\n peer a 127.0.0.1:1\n peer b 127.0.0.1:2\n"), nil)
	cfg2.ResolvePeers("b")
	if cfg2.Peers[0].Local != "b" || cfg2.Peers[0].Bind.Port != 2 || !strings.Contains(strings.Join(cfg2.Warnings, ""), "'localpeer' ignored since it is already set by using the '-L' command line argument.") {
		t.Errorf("-L: %+v %v", cfg2.Peers[0], cfg2.Warnings)
	}
}

func TestStickRules(t *testing.T) {
	for _, c := range []struct{ name, cfg, want string }{
		{"word", "backend b\n stick foo", "'stick' expects 'on', 'match', or 'store'."},
		{"no table", "backend b1\n stick match src table nosuch", "t.cfg:8: Proxy 'b1': unable to find stick-table 'nosuch'."},
		{"own table missing", "backend b1\n stick on src", "Proxy 'b1': unable to find stick-table 'b1'."},
		{"fetch", "backend b\n stick-table type ip size 1k\n stick on hdr(x)", "'stick on': fetch method 'hdr(x)' is not supported yet"},
		{"store-response", "backend b\n stick-table type ip size 1k\n stick store-response src", "'stick store-response' is not supported yet"},
		{"type", "backend b\n stick-table type integer size 1k\n stick on src", "type of fetch not usable with type of stick-table 'b'."},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadBytes("t.cfg", []byte(base+c.cfg+"\n"), nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
	cfg, err := LoadBytes("t.cfg", []byte(base+"backend b\n stick-table type ip size 1k store gpc0\n stick on src if { src 127.0.0.1 }\n stick store-request src table p/t\npeers p\n table t type ip size 10\nfrontend f\n stick on src\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var b *Proxy
	for _, p := range cfg.Proxies {
		if p.Name == "b" {
			b = p
		}
	}
	if r := b.StickRules; len(r) != 2 || !r[0].Match || !r[0].Store || r[0].Cond == nil || r[0].Table != "b" || r[1].Match || r[1].Table != "p/t" {
		t.Fatalf("rules %+v", r)
	}
	var cols []string
	for _, c := range b.StickTable.Columns {
		cols = append(cols, c.Type.String())
	}
	if strings.Join(cols, ",") != "server_id,gpc0,server_key" {
		t.Errorf("a table used by stick rules stores %v", cols)
	}
	if !strings.Contains(strings.Join(cfg.Warnings, "\n"), "'stick' ignored because frontend 'f' has no backend capability.") {
		t.Errorf("warnings %v", cfg.Warnings)
	}
}
