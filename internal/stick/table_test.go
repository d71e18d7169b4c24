package stick

import (
	"errors"
	"net/netip"
	"runtime"
	"sync"
	"testing"
)

// fakeClock is a settable clock for tables.
type fakeClock struct {
	mu sync.Mutex
	ms int64
}

func (c *fakeClock) now() int64  { c.mu.Lock(); defer c.mu.Unlock(); return c.ms }
func (c *fakeClock) add(d int64) { c.mu.Lock(); c.ms += d; c.mu.Unlock() }
func newClock() *fakeClock       { return &fakeClock{ms: 1_700_000_000_000} }
func ipKey(t *Table, s string) []byte {
	k, ok := t.KeyIP(nil, netip.MustParseAddr(s))
	if !ok {
		panic(s)
	}
	return k
}

func ipTable(size int, nopurge bool, clk *fakeClock, cols ...Column) *Table {
	return New(Spec{Name: "t", Type: KeyIP, Size: size, Expire: 60000, NoPurge: nopurge, Columns: cols}, clk.now)
}

func set(t *testing.T, tb *Table, key string, d DataType, v uint64) {
	t.Helper()
	if err := tb.Upsert(ipKey(tb, key), func(s func(DataType, int, uint64) bool) { s(d, 0, v) }); err != nil {
		t.Fatalf("set %s: %v", key, err)
	}
}

func keys(tb *Table) []string {
	var out []string
	tb.Walk(func(r *Row) bool { out = append(out, tb.FormatKey(r.Key)); return true })
	return out
}

// HAProxy's observation: a table of size 3 that receives 10.1.0.1..4 keeps .2, .3, .4.
func TestTableEvictsLeastRecentlyTouched(t *testing.T) {
	clk := newClock()
	tb := ipTable(3, false, clk, Column{Type: GPC0, N: 1})
	for _, k := range []string{"10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"} {
		set(t, tb, k, GPC0, 1)
		clk.add(1)
	}
	if got := keys(tb); len(got) != 3 || got[0] != "10.1.0.2" || got[2] != "10.1.0.4" {
		t.Fatalf("kept %v, want 10.1.0.2..4", got)
	}
	// Touching .2 makes .3 the oldest.
	set(t, tb, "10.1.0.2", GPC0, 5)
	set(t, tb, "10.1.0.5", GPC0, 1)
	if got := keys(tb); len(got) != 3 || got[0] != "10.1.0.2" || got[1] != "10.1.0.4" {
		t.Fatalf("kept %v, want .2 .4 .5", got)
	}
}

func TestTableNoPurgeRefusesWhenFull(t *testing.T) {
	clk := newClock()
	tb := ipTable(2, true, clk, Column{Type: GPC0, N: 1})
	set(t, tb, "10.0.0.1", GPC0, 1)
	set(t, tb, "10.0.0.2", GPC0, 1)
	err := tb.Upsert(ipKey(tb, "10.0.0.3"), func(func(DataType, int, uint64) bool) {})
	if !errors.Is(err, ErrFull) || err.Error() != "Unable to allocate a new entry" {
		t.Fatalf("third entry: %v", err)
	}
	// Once one expires there is room again.
	clk.add(60001)
	set(t, tb, "10.0.0.3", GPC0, 1)
}

func TestTableTrackedEntriesAreNotEvictedOrExpired(t *testing.T) {
	clk := newClock()
	tb := ipTable(1, false, clk, Column{Type: ConnCur, N: 1})
	e, err := tb.Track(ipKey(tb, "10.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	tb.Add(e, ConnCur, 0, 1)
	if _, err := tb.Track(ipKey(tb, "10.0.0.2")); !errors.Is(err, ErrFull) {
		t.Fatalf("evicted an entry in use: %v", err)
	}
	clk.add(120000)
	if tb.Lookup(ipKey(tb, "10.0.0.1")) != e {
		t.Fatal("an entry in use expired")
	}
	if err := tb.Delete(ipKey(tb, "10.0.0.1")); !errors.Is(err, ErrInUse) {
		t.Fatalf("delete in use: %v", err)
	}
	tb.Sub(e, ConnCur, 1)
	tb.Release(e)
	if v, _ := tb.Get(e, ConnCur, 0); v != 0 {
		t.Fatalf("conn_cur %d", v)
	}
	clk.add(60000)
	if tb.Lookup(ipKey(tb, "10.0.0.1")) != nil || tb.Len() != 0 {
		t.Fatal("the released entry did not expire")
	}
}

func TestTableExpiryRestartsOnTouch(t *testing.T) {
	clk := newClock()
	tb := ipTable(10, false, clk, Column{Type: GPC0, N: 1})
	set(t, tb, "10.0.0.1", GPC0, 1)
	clk.add(59000)
	if r, ok := tb.Find(ipKey(tb, "10.0.0.1")); !ok || r.Exp != 1000 {
		t.Fatalf("exp %d ok %v, want 1000", r.Exp, ok)
	}
	set(t, tb, "10.0.0.1", GPC0, 2)
	clk.add(59999)
	if _, ok := tb.Find(ipKey(tb, "10.0.0.1")); !ok {
		t.Fatal("expired although touched")
	}
	clk.add(1)
	if _, ok := tb.Find(ipKey(tb, "10.0.0.1")); ok {
		t.Fatal("not expired")
	}
}

func TestTableCountersAndArrays(t *testing.T) {
	clk := newClock()
	tb := New(Spec{Name: "t", Type: KeyInteger, Size: 10, Columns: []Column{
		{Type: ServerID, N: 1}, {Type: BytesInCnt, N: 1}, {Type: GPC, N: 2}, {Type: GPCRate, N: 2, Period: 10000}, {Type: HTTPReqRate, N: 1, Period: 10000},
	}}, clk.now)
	e, _ := tb.Track(tb.KeyInt(nil, 4660))
	defer tb.Release(e)
	tb.Add(e, BytesInCnt, 0, 5_000_000_000)
	tb.Add(e, BytesInCnt, 0, 1)
	tb.Add(e, GPC, 1, 3)
	tb.Add(e, GPC, 2, 3) // out of range: ignored
	tb.Add(e, GPCRate, 1, 4)
	tb.Add(e, HTTPReqRate, 0, 1)
	tb.Add(e, GPC0, 0, 1) // not stored: ignored
	tb.Set(e, ServerID, 0, uint64(1<<32-1))
	for _, c := range []struct {
		d    DataType
		idx  int
		want uint64
	}{{BytesInCnt, 0, 5_000_000_001}, {GPC, 0, 0}, {GPC, 1, 3}, {GPCRate, 0, 0}, {GPCRate, 1, 4}, {HTTPReqRate, 0, 1}, {ServerID, 0, 1<<64 - 1}} {
		if v, ok := tb.Get(e, c.d, c.idx); !ok || v != c.want {
			t.Errorf("%v[%d] = %d (%v), want %d", c.d, c.idx, v, ok, c.want)
		}
	}
	if _, ok := tb.Get(e, GPC0, 0); ok {
		t.Error("gpc0 reported as stored")
	}
	if old := tb.Clear(e, GPC, 1); old != 3 {
		t.Errorf("clear returned %d", old)
	}
	if tb.FormatKey([]byte(e.Key())) != "4660" {
		t.Errorf("key %q", tb.FormatKey([]byte(e.Key())))
	}
}

func TestTableKeys(t *testing.T) {
	s := New(Spec{Name: "s", Type: KeyString, Len: 16, Size: 10}, nil)
	if k := s.KeyString(nil, "averyveryverylongstringkey"); string(k) != "averyveryverylon" {
		t.Errorf("string key %q", k)
	}
	b := New(Spec{Name: "b", Type: KeyBinary, Len: 8, Size: 10}, nil)
	if k := b.KeyString(nil, "abc"); len(k) != 8 || b.FormatKey(k) != "6162630000000000" {
		t.Errorf("binary key %x %s", k, b.FormatKey(k))
	}
	i := New(Spec{Name: "i", Type: KeyInteger, Size: 10}, nil)
	if _, err := i.ParseKey("99999999999"); err == nil {
		t.Error("integer overflow accepted")
	}
	ip := New(Spec{Name: "ip", Type: KeyIP, Size: 10}, nil)
	if k, _ := ip.ParseKey("not-an-ip"); ip.FormatKey(k) != "0.0.0.0" {
		t.Error("a bad IPv4 key is 0.0.0.0 in HAProxy")
	}
	v6 := New(Spec{Name: "v6", Type: KeyIPv6, Size: 10}, nil)
	if _, err := v6.ParseKey("zz"); err == nil {
		t.Error("bad ipv6 key accepted")
	}
	if k, _ := v6.ParseKey("10.0.0.1"); v6.FormatKey(k) != "::ffff:10.0.0.1" {
		t.Errorf("mapped %s", v6.FormatKey(k))
	}
}

func TestUpdateLog(t *testing.T) {
	clk := newClock()
	tb := ipTable(100, false, clk, Column{Type: GPC0, N: 1})
	kicks := 0
	tb.SetSync(func() { kicks++ })
	set(t, tb, "10.0.0.1", GPC0, 1)
	set(t, tb, "10.0.0.2", GPC0, 1)
	set(t, tb, "10.0.0.1", GPC0, 2) // not pushed yet: keeps id 1
	var ids []uint32
	tb.Updates(0, 10, func(id uint32, r *Row) { ids = append(ids, id) })
	if len(ids) != 2 || ids[0] != 1 || ids[1] != 2 || kicks == 0 {
		t.Fatalf("ids %v kicks %d", ids, kicks)
	}
	tb.Pushed(2)
	set(t, tb, "10.0.0.1", GPC0, 3) // pushed already: a new id
	ids = nil
	tb.Updates(2, 10, func(id uint32, r *Row) {
		ids = append(ids, id)
		if r.U[GPC0][0] != 3 {
			t.Errorf("value %d", r.U[GPC0][0])
		}
	})
	if len(ids) != 1 || ids[0] != 3 {
		t.Fatalf("after push: %v", ids)
	}
	// Learned entries are not logged.
	var v Values
	v.Has[GPC0], v.N[GPC0], v.U[GPC0] = true, 1, []uint64{9}
	tb.Learn(ipKey(tb, "10.0.0.9"), 1000, &v, true)
	if tb.Pending(3) {
		t.Fatal("a learned entry was logged")
	}
	if r, ok := tb.Find(ipKey(tb, "10.0.0.9")); !ok || r.U[GPC0][0] != 9 || r.Exp != 1000 {
		t.Fatalf("learned %+v %v", r, ok)
	}
}

func TestLearnKeepsLocalConnCur(t *testing.T) {
	clk := newClock()
	tb := ipTable(10, false, clk, Column{Type: ConnCur, N: 1}, Column{Type: HTTPReqRate, N: 1, Period: 10000})
	e, _ := tb.Track(ipKey(tb, "10.0.0.1"))
	tb.Add(e, ConnCur, 0, 2)
	var v Values
	v.Has[ConnCur], v.U[ConnCur] = true, []uint64{7}
	v.Has[HTTPReqRate], v.F[HTTPReqRate] = true, []FreqVal{{Age: 4000, Curr: 7, Prev: 3}}
	tb.Learn(ipKey(tb, "10.0.0.1"), -1, &v, true)
	if c, _ := tb.Get(e, ConnCur, 0); c != 2 {
		t.Errorf("conn_cur learned from a peer: %d", c)
	}
	// The rate reads as on the sender: curr_tick = now - 4000 (reference example: 8).
	if r, _ := tb.Get(e, HTTPReqRate, 0); r != 8 {
		t.Errorf("rate %d, want 8", r)
	}
	tb.Release(e)
}

func TestTableConcurrentTrack(t *testing.T) {
	tb := New(Spec{Name: "t", Type: KeyIP, Size: 50, Expire: 1000, Columns: []Column{{Type: ConnCur, N: 1}, {Type: HTTPReqRate, N: 1, Period: 1000}}}, nil)
	tb.SetSync(func() {})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf [16]byte
			for i := 0; i < 2000; i++ {
				k, _ := tb.KeyIP(buf[:0], netip.AddrFrom4([4]byte{10, 0, byte(g), byte(i % 100)}))
				e, err := tb.Track(k)
				if err != nil {
					continue
				}
				tb.Add(e, HTTPReqRate, 0, 1)
				tb.Add(e, ConnCur, 0, 1)
				tb.Sub(e, ConnCur, 1)
				tb.Release(e)
			}
		}()
	}
	wg.Wait()
	if n := tb.Len(); n > 50 {
		t.Fatalf("%d entries in a table of 50", n)
	}
}

// The request path: one tracked key with http_req_rate and conn_cur, no allocation
// for an existing key.
func TestTrackDoesNotAllocate(t *testing.T) {
	tb := New(Spec{Name: "t", Type: KeyIP, Size: 1000, Expire: 60000, Columns: []Column{{Type: ConnCur, N: 1}, {Type: HTTPReqRate, N: 1, Period: 10000}}}, nil)
	addr := netip.MustParseAddr("10.0.0.1")
	var buf [16]byte
	k, _ := tb.KeyIP(buf[:0], addr)
	e0, _ := tb.Track(k)
	tb.Release(e0)
	n := testing.AllocsPerRun(1000, func() {
		k, _ := tb.KeyIP(buf[:0], addr)
		e, _ := tb.Track(k)
		tb.Add(e, HTTPReqRate, 0, 1)
		tb.Get(e, HTTPReqRate, 0)
		tb.Release(e)
	})
	if n != 0 {
		t.Fatalf("%v allocations per tracked request", n)
	}
}

// trackRequests runs the request path of a rate limit in parallel: one tracked key
// (of `clients` distinct ones) with conn_cur and http_req_rate.
func trackRequests(b *testing.B, clients int) {
	tb := New(Spec{Name: "t", Type: KeyIP, Size: 100000, Expire: 60000, Columns: []Column{{Type: ConnCur, N: 1}, {Type: HTTPReqRate, N: 1, Period: 10000}}}, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var buf [16]byte
		i := 0
		for pb.Next() {
			i = (i + 1) % clients
			k, _ := tb.KeyIP(buf[:0], netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
			e, err := tb.Track(k)
			if err != nil {
				continue
			}
			tb.Add(e, ConnCur, 0, 1)
			tb.Add(e, HTTPReqRate, 0, 1)
			tb.Get(e, HTTPReqRate, 0)
			tb.Sub(e, ConnCur, 1)
			tb.Release(e)
		}
	})
}

// BenchmarkTrackRequest: 65536 clients, so that entries are created as well.
func BenchmarkTrackRequest(b *testing.B) { trackRequests(b, 65536) }

// BenchmarkMillionEntries reports the heap one entry of a 1,000,000-entry ip table
// with gpc0, conn_cur and http_req_rate takes (HAProxy's for the same table is in
// the README).
func BenchmarkMillionEntries(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		tb := New(Spec{Name: "t", Type: KeyIP, Size: 1 << 20, Expire: 60000, Columns: []Column{{Type: GPC0, N: 1}, {Type: ConnCur, N: 1}, {Type: HTTPReqRate, N: 1, Period: 10000}}}, nil)
		var buf [4]byte
		for j := 0; j < 1_000_000; j++ {
			k, _ := tb.KeyIP(buf[:0], netip.AddrFrom4([4]byte{10, byte(j >> 16), byte(j >> 8), byte(j)}))
			e, _ := tb.Track(k)
			tb.Add(e, GPC0, 0, 1)
			tb.Release(e)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/1e6, "heapbytes/entry")
		b.ReportMetric(float64(tb.EntryBytes()), "accounted-bytes/entry")
		runtime.KeepAlive(tb)
	}
}

// FuzzParseKey feeds Runtime API keys to every key type: a key either parses to
// the table's size or is refused, and parses back the same after formatting.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "::1", "2001:db8::1", "4660", "-1", "99999999999", "hello", "a b=c", "\x00\xff", ""} {
		f.Add(s)
	}
	tables := []*Table{
		New(Spec{Name: "ip", Type: KeyIP, Size: 1}, nil),
		New(Spec{Name: "v6", Type: KeyIPv6, Size: 1}, nil),
		New(Spec{Name: "int", Type: KeyInteger, Size: 1}, nil),
		New(Spec{Name: "str", Type: KeyString, Len: 16, Size: 1}, nil),
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tb := range tables {
			k, err := tb.ParseKey(s)
			if err != nil {
				continue
			}
			switch tb.spec.Type {
			case KeyIP, KeyInteger:
				if len(k) != 4 {
					t.Fatalf("%s: key %x", tb.Name(), k)
				}
			case KeyIPv6:
				if len(k) != 16 {
					t.Fatalf("%s: key %x", tb.Name(), k)
				}
			case KeyString:
				if len(k) > 16 {
					t.Fatalf("string key of %d bytes", len(k))
				}
			}
			if tb.spec.Type != KeyString {
				if k2, err := tb.ParseKey(tb.FormatKey(k)); err != nil || string(k2) != string(k) {
					t.Fatalf("%s: %q -> %x -> %q -> %x", tb.Name(), s, k, tb.FormatKey(k), k2)
				}
			}
		}
	})
}

// A hand-over inserts without lookups; a key given twice still leaves one entry.
func TestReserveLoadedDuplicate(t *testing.T) {
	clk := newClock()
	tb := ipTable(10, false, clk, Column{Type: GPC0, N: 1})
	tb.Reserve(5)
	var v Values
	v.Has[GPC0], v.U[GPC0] = true, []uint64{1}
	tb.Learn(ipKey(tb, "10.0.0.1"), -1, &v, false)
	tb.Learn(ipKey(tb, "10.0.0.1"), -1, &v, false)
	tb.Loaded()
	if tb.Len() != 1 || len(keys(tb)) != 1 {
		t.Fatalf("%d entries", tb.Len())
	}
	n := 0
	for e := tb.head; e != nil; e = e.next {
		n++
	}
	if n != 1 {
		t.Fatalf("%d entries on the LRU list", n)
	}
	tb.Learn(ipKey(tb, "10.0.0.1"), -1, &v, true)
	if tb.Len() != 1 {
		t.Fatal("a learn after the load duplicated the key")
	}
}

func TestExpireSweeps(t *testing.T) {
	clk := newClock()
	tb := ipTable(100, false, clk, Column{Type: GPC0, N: 1})
	for i := 0; i < 10; i++ {
		set(t, tb, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}).String(), GPC0, 1)
		clk.add(1000)
	}
	e, _ := tb.Track(ipKey(tb, "10.0.0.0"))
	clk.add(55500) // entries 1..5 expired; 0 was touched by Track and is in use
	if n := tb.Expire(100); n != 5 || tb.Len() != 5 {
		t.Fatalf("removed %d, %d left", n, tb.Len())
	}
	tb.Release(e)
	clk.add(60000)
	if n := tb.Expire(100); n != 5 || tb.Len() != 0 {
		t.Fatalf("removed %d, %d left", n, tb.Len())
	}
}

// BenchmarkTrackExisting is the request path of a rate limit on a warm table:
// 1000 clients, no allocation.
func BenchmarkTrackExisting(b *testing.B) { trackRequests(b, 1000) }
