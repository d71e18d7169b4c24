package balance

import (
	"net/netip"
	"sort"
	"sync"
	"testing"

	"hitless/internal/config"
	"hitless/internal/http1"
	"hitless/internal/sample"
)

type fakePool struct {
	w     []int
	conns []int
}

func (f *fakePool) Len() int         { return len(f.w) }
func (f *fakePool) Weight(i int) int { return f.w[i] }
func (f *fakePool) Conns(i int) int  { return f.conns[i] }

type hdrs map[string]string

// httpReq is a request for uri with headers, as a session's samples show it.
func httpReq(src netip.Addr, uri string, h hdrs) *Request {
	r := tryReq(uri, h)
	if r == nil {
		panic("bad request " + uri)
	}
	r.Src = src
	return r
}

// tryReq parses the request, nil when the parser refuses it.
func tryReq(uri string, h hdrs) *Request {
	raw := "GET " + uri + " HTTP/1.1\r\n"
	for k, v := range h {
		raw += k + ": " + v + "\r\n"
	}
	req := &http1.Request{}
	if err := http1.ParseRequest([]byte(raw+"\r\n"), req); err != nil {
		return nil
	}
	return &Request{Sample: sample.NewCtx(&sample.Static{Req: req})}
}

func picks(t *testing.T, a Algorithm, p *fakePool, n int, req func(i int) *Request) []int {
	t.Helper()
	got := make([]int, p.Len())
	for i := 0; i < n; i++ {
		s := a.Pick(p, req(i))
		if s < 0 {
			t.Fatalf("pick %d: no server", i)
		}
		if p.w[s] == 0 {
			t.Fatalf("picked server %d with weight 0", s)
		}
		got[s]++
	}
	return got
}

func TestWeightedDistribution(t *testing.T) {
	for _, algo := range []string{"roundrobin", "static-rr", "random", "source", "uri", "url_param", "hdr"} {
		t.Run(algo, func(t *testing.T) {
			a, err := New(config.Balance{Algorithm: algo, Param: "k"}, 4)
			if err != nil {
				t.Fatal(err)
			}
			p := &fakePool{w: []int{1, 2, 3, 0}, conns: make([]int, 4)}
			const n = 6000
			got := picks(t, a, p, n, func(i int) *Request {
				key := string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26))
				return httpReq(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), "/item/"+key+"?k="+key, hdrs{"k": key})
			})
			for i, w := range p.w {
				want := n * w / 6
				tol := n / 20
				if algo == "roundrobin" || algo == "static-rr" {
					tol = 1
				}
				if d := got[i] - want; d > tol || d < -tol {
					t.Fatalf("server %d got %d picks, want %d±%d (all: %v)", i, got[i], want, tol, got)
				}
			}
		})
	}
}

func TestRoundRobinIsSmooth(t *testing.T) {
	a, _ := New(config.Balance{Algorithm: "roundrobin"}, 3)
	p := &fakePool{w: []int{1, 1, 1}, conns: make([]int, 3)}
	var seq []int
	for i := 0; i < 6; i++ {
		seq = append(seq, a.Pick(p, &Request{}))
	}
	want := []int{0, 1, 2, 0, 1, 2}
	for i := range want {
		if seq[i] != want[i] {
			t.Fatalf("sequence %v, want %v", seq, want)
		}
	}
}

func TestHashIsSticky(t *testing.T) {
	tests := []struct {
		b   config.Balance
		req func(k int) *Request
	}{
		{config.Balance{Algorithm: "source"}, func(k int) *Request { return &Request{Src: netip.AddrFrom4([4]byte{192, 0, 2, byte(k)})} }},
		{config.Balance{Algorithm: "uri"}, func(k int) *Request { return httpReq(netip.Addr{}, "/p"+string(rune('a'+k))+"?x=1", nil) }},
		{config.Balance{Algorithm: "url_param", Param: "user"}, func(k int) *Request { return httpReq(netip.Addr{}, "/?a=1&user=u"+string(rune('a'+k)), nil) }},
		{config.Balance{Algorithm: "hdr", Param: "host"}, func(k int) *Request { return httpReq(netip.Addr{}, "/", hdrs{"host": "h" + string(rune('a'+k))}) }},
	}
	for _, tt := range tests {
		t.Run(tt.b.Algorithm, func(t *testing.T) {
			a, _ := New(tt.b, 5)
			// A second instance (another process after a reload) must agree.
			a2, _ := New(tt.b, 5)
			p := &fakePool{w: []int{1, 1, 1, 1, 1}, conns: make([]int, 5)}
			used := map[int]bool{}
			for k := 0; k < 20; k++ {
				first := a.Pick(p, tt.req(k))
				used[first] = true
				for r := 0; r < 5; r++ {
					if s := a.Pick(p, tt.req(k)); s != first {
						t.Fatalf("key %d went to %d then %d", k, first, s)
					}
				}
				if s := a2.Pick(p, tt.req(k)); s != first {
					t.Fatalf("key %d: another instance picked %d, not %d", k, s, first)
				}
			}
			if len(used) < 3 {
				t.Fatalf("20 keys used only servers %v", used)
			}
		})
	}
}

func TestMissingKeyFallsBackToRoundRobin(t *testing.T) {
	for _, b := range []config.Balance{{Algorithm: "url_param", Param: "u"}, {Algorithm: "hdr", Param: "x-user"}, {Algorithm: "uri"}} {
		a, _ := New(b, 3)
		p := &fakePool{w: []int{1, 1, 1}, conns: make([]int, 3)}
		got := picks(t, a, p, 30, func(int) *Request { return &Request{} })
		for i, g := range got {
			if g != 10 {
				t.Fatalf("%s: server %d got %d of 30 (%v)", b.Algorithm, i, g, got)
			}
		}
	}
}

func TestLeastConnAndFirst(t *testing.T) {
	lc, _ := New(config.Balance{Algorithm: "leastconn"}, 3)
	p := &fakePool{w: []int{1, 1, 1}, conns: []int{5, 0, 3}}
	for i := 0; i < 10; i++ {
		if s := lc.Pick(p, nil); s != 1 {
			t.Fatalf("leastconn picked %d, want the idle server 1", s)
		}
	}
	// Relative to weight: 4 conns on weight 4 beats 2 conns on weight 1.
	p = &fakePool{w: []int{1, 4}, conns: []int{2, 4}}
	if s := lc.Pick(p, nil); s != 1 {
		t.Fatalf("leastconn picked %d, want 1", s)
	}
	f, _ := New(config.Balance{Algorithm: "first"}, 3)
	p = &fakePool{w: []int{0, 1, 1}, conns: make([]int, 3)}
	if s := f.Pick(p, nil); s != 1 {
		t.Fatalf("first picked %d, want 1", s)
	}
	p.w[1] = 0
	p.w[2] = 0
	if s := f.Pick(p, nil); s != -1 {
		t.Fatalf("first picked %d with nothing eligible", s)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tt := range []struct {
		b    config.Balance
		n    int
		want string
	}{
		{config.Balance{Algorithm: "rdp-cookie"}, 1, "unknown balance algorithm 'rdp-cookie'"},
		{config.Balance{Algorithm: "RoundRobin"}, 1, "unknown balance algorithm 'RoundRobin'"},
		{config.Balance{Algorithm: "url_param"}, 1, "balance 'url_param' requires a parameter name"},
		{config.Balance{Algorithm: "hdr"}, 1, "balance 'hdr' requires a parameter name"},
		{config.Balance{Algorithm: "roundrobin"}, -1, "balance: negative pool size -1"},
	} {
		if _, err := New(tt.b, tt.n); err == nil || err.Error() != tt.want {
			t.Errorf("%+v: err = %v, want %q", tt.b, err, tt.want)
		}
	}
}

func TestEmptyPool(t *testing.T) {
	for name := range algorithms {
		a, err := New(config.Balance{Algorithm: name, Param: "x"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []*fakePool{{}, {w: []int{0, 0}, conns: []int{0, 0}}} {
			if s := a.Pick(p, httpReq(netip.MustParseAddr("::1"), "/?x=1", hdrs{"x": "1"})); s != -1 {
				t.Errorf("%s: picked %d from a pool with nothing eligible", name, s)
			}
		}
	}
}

// TestDynamicWeights: a weight change, or a server becoming ineligible, applies at
// the next pick, and a server coming back gets its share again at once.
func TestDynamicWeights(t *testing.T) {
	for _, name := range []string{"roundrobin", "static-rr", "leastconn", "random", "source", "first"} {
		t.Run(name, func(t *testing.T) {
			a, _ := New(config.Balance{Algorithm: name}, 3)
			p := &fakePool{w: []int{1, 1, 1}, conns: make([]int, 3)}
			req := func(i int) *Request { return &Request{Src: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})} }
			picks(t, a, p, 100, req)
			p.w[0] = 0
			if got := picks(t, a, p, 300, req); got[0] != 0 {
				t.Fatalf("server 0 at weight 0 got %d picks", got[0])
			}
			p.w[0] = 1
			if got := picks(t, a, p, 300, req); got[0] == 0 {
				t.Fatalf("server 0 back at weight 1 got no pick: %v", got)
			}
		})
	}
	a, _ := New(config.Balance{Algorithm: "roundrobin"}, 2)
	p := &fakePool{w: []int{1, 1}, conns: make([]int, 2)}
	picks(t, a, p, 7, func(int) *Request { return nil })
	p.w[1] = 3
	if got := picks(t, a, p, 400, func(int) *Request { return nil }); got[0] < 99 || got[0] > 101 {
		t.Fatalf("after weights became 1:3, got %v of 400", got)
	}
}

func TestHashAllocatesNothing(t *testing.T) {
	for name := range algorithms {
		a, _ := New(config.Balance{Algorithm: name, Param: "x"}, 4)
		p := &fakePool{w: []int{1, 2, 0, 4}, conns: []int{3, 1, 0, 2}}
		for _, r := range []*Request{
			httpReq(netip.MustParseAddr("192.0.2.7"), "/a/b?y=2&x=42", hdrs{"x": "v"}),
			httpReq(netip.MustParseAddr("2001:db8::1"), "/a", nil),
			nil,
		} {
			if n := testing.AllocsPerRun(50, func() { a.Pick(p, r) }); n != 0 {
				t.Errorf("%s: Pick allocates %v times for %+v", name, n, r)
			}
		}
	}
}

func TestKeys(t *testing.T) {
	tests := []struct {
		b      config.Balance
		r      *Request
		key    string
		hasKey bool
	}{
		{config.Balance{Algorithm: "uri"}, httpReq(netip.Addr{}, "/a/b?x=1", nil), "/a/b", true},
		{config.Balance{Algorithm: "uri"}, httpReq(netip.Addr{}, "/a/b", nil), "/a/b", true},
		{config.Balance{Algorithm: "uri"}, &Request{}, "", false},
		{config.Balance{Algorithm: "url_param", Param: "id"}, httpReq(netip.Addr{}, "/p?a=1&id=42&b", nil), "42", true},
		{config.Balance{Algorithm: "url_param", Param: "id"}, httpReq(netip.Addr{}, "/p?id=42", nil), "42", true},
		{config.Balance{Algorithm: "url_param", Param: "id"}, httpReq(netip.Addr{}, "/p?idx=1&xid=2", nil), "", false},
		{config.Balance{Algorithm: "url_param", Param: "id"}, httpReq(netip.Addr{}, "/p?id=&a=1", nil), "", false},
		{config.Balance{Algorithm: "url_param", Param: "id"}, httpReq(netip.Addr{}, "/p?id", nil), "", false},
		{config.Balance{Algorithm: "url_param", Param: "id"}, httpReq(netip.Addr{}, "/p/id=4", nil), "", false},
		{config.Balance{Algorithm: "url_param", Param: "id"}, nil, "", false},
		{config.Balance{Algorithm: "hdr", Param: "x-user"}, httpReq(netip.Addr{}, "/", hdrs{"x-user": "bob"}), "bob", true},
		{config.Balance{Algorithm: "hdr", Param: "x-user"}, httpReq(netip.Addr{}, "/", hdrs{"x-user": ""}), "", false},
		{config.Balance{Algorithm: "hdr", Param: "x-user"}, httpReq(netip.Addr{}, "/", hdrs{}), "", false},
		{config.Balance{Algorithm: "hdr", Param: "x-user"}, &Request{}, "", false},
	}
	for _, tt := range tests {
		a, _ := New(tt.b, 1)
		_, kb, ok := a.(*hashed).keyOf(tt.r)
		if k := string(kb); k != tt.key || ok != tt.hasKey {
			t.Errorf("%s %+v: key %q %v, want %q %v", tt.b.Algorithm, tt.r, kb, ok, tt.key, tt.hasKey)
		}
	}
}

// TestLeastConnRotatesAmongEquals: idle servers share new connections in turn.
func TestLeastConnRotatesAmongEquals(t *testing.T) {
	a, _ := New(config.Balance{Algorithm: "leastconn"}, 4)
	p := &fakePool{w: []int{1, 1, 1, 1}, conns: []int{2, 0, 2, 0}}
	got := picks(t, a, p, 100, func(int) *Request { return nil })
	if got[0] != 0 || got[2] != 0 || got[1] != 50 || got[3] != 50 {
		t.Fatalf("got %v, want 50 each on the idle servers 1 and 3", got)
	}
	// Connections that stay open steer the next ones: simulate them.
	p = &fakePool{w: []int{1, 2, 1}, conns: make([]int, 3)}
	for i := 0; i < 400; i++ {
		p.conns[a.Pick(p, nil)]++
	}
	if p.conns[0] != 100 || p.conns[1] != 200 || p.conns[2] != 100 {
		t.Fatalf("open connections %v, want 100/200/100 for weights 1/2/1", p.conns)
	}
}

// TestRandomPrefersLessLoaded: of its two draws random keeps the one with fewer
// connections, so a loaded server gets much less than its weight's share.
func TestRandomPrefersLessLoaded(t *testing.T) {
	a, _ := New(config.Balance{Algorithm: "random"}, 2)
	p := &fakePool{w: []int{1, 1}, conns: []int{50, 0}}
	got := picks(t, a, p, 4000, func(int) *Request { return nil })
	// Server 0 wins only when both draws pick it: about 1/4.
	if got[0] < 800 || got[0] > 1200 {
		t.Fatalf("loaded server got %d of 4000, want about 1000", got[0])
	}
}

func FuzzHashKey(f *testing.F) {
	f.Add("/a/b?x=1&id=7", "id", "v")
	f.Add("?", "", "")
	f.Add("/p?id=&id=2&&=", "id", "")
	f.Fuzz(func(t *testing.T, uri, param, hdr string) {
		if param == "" {
			param = "id"
		}
		p := &fakePool{w: []int{1, 0, 3}, conns: make([]int, 3)}
		for _, algo := range []string{"uri", "url_param", "hdr"} {
			a, err := New(config.Balance{Algorithm: algo, Param: param}, 3)
			if err != nil {
				t.Fatal(err)
			}
			r := tryReq(uri, hdrs{param: hdr})
			if r == nil {
				continue // not a request the parser accepts
			}
			s := a.Pick(p, r)
			if s != 0 && s != 2 {
				t.Fatalf("%s picked %d", algo, s)
			}
			if _, k, ok := a.(*hashed).keyOf(r); ok && a.Pick(p, r) != s {
				t.Fatalf("%s: key %q not sticky", algo, k)
			}
		}
	})
}

func TestConcurrentPicks(t *testing.T) {
	for name := range algorithms {
		a, _ := New(config.Balance{Algorithm: name, Param: "x"}, 4)
		p := &fakePool{w: []int{1, 2, 3, 4}, conns: make([]int, 4)}
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := httpReq(netip.Addr{}, "/a?x=1", nil) // a Ctx per goroutine, as per session
				for i := 0; i < 500; i++ {
					if a.Pick(p, r) < 0 {
						t.Error("no pick")
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}

func BenchmarkPick(b *testing.B) {
	names := make([]string, 0, len(algorithms))
	for name := range algorithms {
		if name != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		a, _ := New(config.Balance{Algorithm: name, Param: "x"}, 8)
		p := &fakePool{w: []int{1, 1, 1, 1, 1, 1, 1, 1}, conns: make([]int, 8)}
		r := httpReq(netip.AddrFrom4([4]byte{127, 0, 0, 1}), "/a/b?x=42", hdrs{"x": "user-1234"})
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				a.Pick(p, r)
			}
		})
	}
}
