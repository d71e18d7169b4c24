package balance

import (
	"net/netip"
	"sync"
	"testing"

	"hitless/internal/config"
)

type fakePool struct {
	w     []int
	conns []int
}

func (f *fakePool) Len() int         { return len(f.w) }
func (f *fakePool) Weight(i int) int { return f.w[i] }
func (f *fakePool) Conns(i int) int  { return f.conns[i] }

type hdrs map[string]string

func (h hdrs) Get(n string) (string, bool) { v, ok := h[n]; return v, ok }

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
	for _, algo := range []string{"roundrobin", "static-rr", "random", "source", "uri"} {
		t.Run(algo, func(t *testing.T) {
			a, err := New(config.Balance{Algorithm: algo}, 4)
			if err != nil {
				t.Fatal(err)
			}
			p := &fakePool{w: []int{1, 2, 3, 0}, conns: make([]int, 4)}
			const n = 6000
			got := picks(t, a, p, n, func(i int) *Request {
				return &Request{
					Src: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
					URI: "/item/" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26)),
				}
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
		{config.Balance{Algorithm: "uri"}, func(k int) *Request { return &Request{URI: "/p" + string(rune('a'+k)) + "?x=1"} }},
		{config.Balance{Algorithm: "url_param", Param: "user"}, func(k int) *Request { return &Request{URI: "/?a=1&user=u" + string(rune('a'+k))} }},
		{config.Balance{Algorithm: "hdr", Param: "host"}, func(k int) *Request { return &Request{Header: hdrs{"host": "h" + string(rune('a'+k))}} }},
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

func TestUnknownAlgorithm(t *testing.T) {
	if _, err := New(config.Balance{Algorithm: "rdp-cookie"}, 1); err == nil {
		t.Fatal("no error")
	}
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
				for i := 0; i < 500; i++ {
					if a.Pick(p, &Request{URI: "/a?x=1"}) < 0 {
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
	for name := range algorithms {
		a, _ := New(config.Balance{Algorithm: name, Param: "x"}, 8)
		p := &fakePool{w: []int{1, 1, 1, 1, 1, 1, 1, 1}, conns: make([]int, 8)}
		r := &Request{URI: "/a/b?x=42", Src: netip.AddrFrom4([4]byte{127, 0, 0, 1})}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				a.Pick(p, r)
			}
		})
	}
}
