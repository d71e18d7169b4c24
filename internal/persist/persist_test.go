package persist

import (
	"net/netip"
	"testing"

	"hitless/internal/acl"
	"hitless/internal/config"
	"hitless/internal/sample"
	"hitless/internal/stick"
)

// conn is a client connection from src.
func conn(src netip.Addr) *sample.Ctx {
	return sample.NewCtx(&sample.Static{SrcAddr: netip.AddrPortFrom(src, 5000)})
}

func TestRules(t *testing.T) {
	set := stick.NewSet([]*stick.Spec{
		{Name: "be", Type: stick.KeyIP, Size: 10, Expire: 60000, Columns: []stick.Column{{Type: stick.ServerID, N: 1}, {Type: stick.ServerKey, N: 1}}},
		{Name: "str", Type: stick.KeyString, Len: 32, Size: 10, SrvKey: "addr", Columns: []stick.Column{{Type: stick.ServerID, N: 1}, {Type: stick.ServerKey, N: 1}}},
	}, nil)
	only10, err := acl.ParseCond([]string{"if", "{", "src", "10.0.0.0/8", "}"}, func(string) []*acl.Def { return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := New([]config.StickRule{
		{Match: true, Store: true, Fetch: "src", Table: "be", Cond: only10},
		{Store: true, Fetch: "src", Table: "str"},
	}, set)
	a, b := conn(netip.MustParseAddr("10.1.2.3")), conn(netip.MustParseAddr("192.0.2.1"))
	if r.Server(a) != 0 {
		t.Fatal("a server for an unknown client")
	}
	r.Store(a, 2, "s2", "10.9.9.2:80")
	r.Store(b, 1, "s1", "10.9.9.1:80")
	if got := r.Server(a); got != 2 {
		t.Fatalf("server %d, want 2", got)
	}
	if got := r.Server(b); got != 0 {
		t.Fatalf("the condition was not applied: %d", got)
	}
	if set.Table("be").Len() != 1 || set.Table("str").Len() != 2 {
		t.Fatalf("entries: be %d str %d", set.Table("be").Len(), set.Table("str").Len())
	}
	row, ok := set.Table("str").Find([]byte("192.0.2.1"))
	if !ok || row.SrvKey != "10.9.9.1:80" || row.U[stick.ServerID][0] != 1 {
		t.Fatalf("string-keyed entry %+v", row)
	}
	if New(nil, set) != nil {
		t.Fatal("rules without rules")
	}
}
