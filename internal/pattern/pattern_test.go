package pattern

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func entries(keys ...string) []Entry {
	var out []Entry
	for _, k := range keys {
		out = append(out, Entry{Key: k})
	}
	return out
}

func TestMatch(t *testing.T) {
	tests := []struct {
		m     Method
		fold  bool
		pats  []string
		input string
		want  int
	}{
		{Str, false, []string{"a", "b"}, "b", 1}, {Str, false, []string{"a"}, "A", -1}, {Str, true, []string{"A"}, "a", 0},
		{Beg, false, []string{"/api/v2", "/api", "/"}, "/api/v1", 1}, {Beg, false, []string{"/x"}, "/", -1},
		{End, true, []string{".PNG", ".css"}, "a.png", 0}, {Sub, false, []string{"zz", "pi"}, "/api", 1},
		{Reg, false, []string{"^/a", "v[0-9]$"}, "/v1/v2", 1}, {Reg, true, []string{"^/A"}, "/abc", 0},
		{Dir, false, []string{"img"}, "/static/img/a.png", 0}, {Dir, false, []string{"im"}, "/static/img/a.png", -1},
		{Dom, false, []string{"example.com"}, "www.example.com:80", 0}, {Dom, false, []string{"ample.com"}, "www.example.com", -1},
		{Len, false, []string{"3:5"}, "abcd", 0}, {Len, false, []string{"gt", "4"}, "abcd", -1},
	}
	for _, tt := range tests {
		s, err := Compile(tt.m, tt.fold, entries(tt.pats...))
		if err != nil {
			t.Fatal(err)
		}
		i, ok := s.MatchBytes([]byte(tt.input))
		if !ok {
			i = -1
		}
		if i != tt.want {
			t.Errorf("%s %v %q: %d, want %d", tt.m, tt.pats, tt.input, i, tt.want)
		}
	}
	ips, err := Compile(IP, false, entries("10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32", "192.168.1.1", "::ffff:172.16.0.0/108"))
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]int{"10.1.2.3": 1, "10.2.0.1": 0, "2001:db8::5": 2, "192.168.1.1": 3, "192.168.1.2": -1,
		"::ffff:10.1.0.1": 1, "172.16.0.9": 4, "::1": -1} {
		i, ok := ips.MatchAddr(netip.MustParseAddr(addr))
		if !ok {
			i = -1
		}
		if i != want {
			t.Errorf("ip %s: %d, want %d", addr, i, want)
		}
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.map")
	os.WriteFile(p, []byte("# comment\n\n  a.example.com   backend_a  \nb.example.com\tbackend b\nlonely\n"), 0o644)
	es, err := ReadFile(p, true)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(es)
	want := "[{a.example.com backend_a 3 0} {b.example.com backend b 4 1} {lonely  5 2}]"
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	r := NewRegistry()
	ref, err := r.Load(p, true, Str, false)
	if err != nil {
		t.Fatal(err)
	}
	ref2, _ := r.Load(p, true, Str, false)
	if ref != ref2 {
		t.Error("a file is not shared")
	}
	f := r.Lookup(p)
	if err := f.Replace(append(f.Snapshot(), Entry{Key: "c.example.com", Value: "backend_c"})); err != nil {
		t.Fatal(err)
	}
	if i, ok := ref.Load().MatchBytes([]byte("c.example.com")); !ok || ref.Load().Entries[i].Value != "backend_c" {
		t.Error("a replaced file is not seen through its Ref")
	}
	if _, err := r.Load(filepath.Join(dir, "nope"), false, Str, false); err == nil || !strings.Contains(err.Error(), "failed to open pattern file") {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.lst")
	os.WriteFile(bad, []byte("10.0.0.0/8\n\n300.0.0.1\n"), 0o644)
	if _, err := r.Load(bad, false, IP, false); err == nil || err.Error() != bad+":3: '300.0.0.1' is not a valid IPv4 or IPv6 address" {
		t.Errorf("bad file: %v", err)
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	s, _ := Compile(Str, true, entries("a.example.com", "b.example.com"))
	b, _ := Compile(Beg, false, entries("/a", "/bb", "/ccc"))
	ip, _ := Compile(IP, false, entries("10.0.0.0/8", "192.168.0.0/16"))
	in := []byte("B.Example.Com")
	path := []byte("/ccc/d")
	addr := netip.MustParseAddr("192.168.3.4")
	if n := testing.AllocsPerRun(100, func() {
		s.MatchBytes(in)
		b.MatchBytes(path)
		ip.MatchAddr(addr)
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// BenchmarkLookup10k looks keys up in 10,000-entry sets (100 patterns for reg):
// str is one hash lookup, beg and end one per distinct pattern length, ip one per
// distinct prefix length, reg one regexp run per pattern.
func BenchmarkLookup10k(b *testing.B) {
	var strs, begs, ips, regs []Entry
	for i := 0; i < 10000; i++ {
		strs = append(strs, Entry{Key: fmt.Sprintf("host%d.example.com", i), Value: "be"})
		begs = append(begs, Entry{Key: fmt.Sprintf("/p%d/", i), Value: "be"})
		ips = append(ips, Entry{Key: fmt.Sprintf("10.%d.%d.0/%d", i/256, i%256, 24+i%9), Value: "be"})
	}
	for i := 0; i < 100; i++ {
		regs = append(regs, Entry{Key: fmt.Sprintf("^/r%d/[a-z]+$", i), Value: "be"})
	}
	for _, c := range []struct {
		name string
		m    Method
		es   []Entry
		key  string
	}{
		{"map_str", Str, strs, "host9999.example.com"}, {"map_beg", Beg, begs, "/p9999/index.html"},
		{"map_ip", IP, ips, "10.39.15.7"}, {"map_reg100", Reg, regs, "/r99/abc"},
	} {
		s, err := Compile(c.m, false, c.es)
		if err != nil {
			b.Fatal(err)
		}
		key := []byte(c.key)
		addr, _ := netip.ParseAddr(c.key)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var ok bool
				if c.m == IP {
					_, ok = s.MatchAddr(addr)
				} else {
					_, ok = s.MatchBytes(key)
				}
				if !ok {
					b.Fatal("no match")
				}
			}
		})
	}
}
