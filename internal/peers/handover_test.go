package peers

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"hitless/internal/stick"
)

func TestHandoverRoundTrip(t *testing.T) {
	old := captureSet()
	st := old.Table("st_ip")
	for i := 0; i < 500; i++ {
		k, _ := st.KeyIP(nil, netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
		st.Upsert(k, func(set func(stick.DataType, int, uint64) bool) {
			set(stick.GPC0, 0, uint64(i))
			set(stick.HTTPReqRate, 0, 7)
		})
	}
	in := old.Table("st_int")
	e, _ := in.Track(in.KeyInt(nil, 4660))
	in.Add(e, stick.GPC, 1, 3)
	in.Add(e, stick.GPCRate, 1, 2)
	in.Set(e, stick.GPT, 0, 9)
	in.Release(e)
	web := old.Table("web")
	w, _ := web.Track([]byte{127, 0, 0, 1})
	web.Set(w, stick.ServerID, 0, 1)
	web.SetServerKey(w, "s1")
	web.Release(w)
	bin := old.Table("mypeers/t_peers")
	bin.Upsert(bin.KeyString(nil, "abc"), func(set func(stick.DataType, int, uint64) bool) { set(stick.GPC0, 0, 1) })

	var buf bytes.Buffer
	if err := Dump(&buf, old); err != nil {
		t.Fatal(err)
	}
	neu := captureSet()
	n, err := Load(bytes.NewReader(buf.Bytes()), neu)
	if err != nil || n != 503 {
		t.Fatalf("loaded %d: %v", n, err)
	}
	compare := func(name string) {
		var a, b []string
		old.Table(name).Walk(func(r *stick.Row) bool { a = append(a, rowString(r)); return true })
		neu.Table(name).Walk(func(r *stick.Row) bool { b = append(b, rowString(r)); return true })
		if len(a) != len(b) {
			t.Fatalf("%s: %d entries, want %d", name, len(b), len(a))
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s:\n got %q\nwant %q", name, b[i], a[i])
			}
		}
	}
	for _, name := range []string{"st_ip", "st_int", "web", "mypeers/t_peers"} {
		compare(name)
	}
	// An HAProxy answers `_tables` with its usage text: no hand-over, no error.
	if n, err := Load(strings.NewReader("Unknown command: '_tables'\n  help : list\n\n"), captureSet()); n != 0 || !errors.Is(err, ErrNoHandOver) {
		t.Fatalf("text answer: %d %v", n, err)
	}
	if _, err := Load(strings.NewReader(""), captureSet()); !errors.Is(err, ErrNoHandOver) {
		t.Fatalf("empty answer: %v", err)
	}
	// A dump cut short keeps what came before, and says so.
	cut := captureSet()
	n, err = Load(bytes.NewReader(buf.Bytes()[:buf.Len()/2]), cut)
	if !errors.Is(err, ErrIncomplete) || n == 0 || n >= 500 {
		t.Fatalf("cut dump: %d %v", n, err)
	}
}

// rowString is a row without its address and with its expiry rounded to seconds.
func rowString(r *stick.Row) string {
	var b bytes.Buffer
	b.Write(r.Key)
	b.WriteString(" exp=" + time.Duration((r.Exp+500)/1000*int64(time.Second)).String())
	for d := stick.DataType(0); d < stick.NumDataTypes; d++ {
		if !r.Has[d] {
			continue
		}
		for _, v := range r.U[d] {
			b.WriteString(" " + d.String() + "=" + string(rune('0'+v%10)))
		}
		for _, f := range r.F[d] {
			b.WriteString(" " + d.String() + "~" + string(rune('0'+stick.ReadFreq(f, r.Period[d])%10)))
		}
	}
	b.WriteString(" " + r.SrvKey)
	return b.String()
}

// BenchmarkHandoverMillion measures Dump and Load of a 1,000,000-entry table with
// gpc0, conn_cur and http_req_rate.
func BenchmarkHandoverMillion(b *testing.B) {
	spec := []*stick.Spec{{Name: "t", NetName: "t", Type: stick.KeyIP, Size: 1 << 20, Expire: 60000, Columns: []stick.Column{{Type: stick.GPC0, N: 1}, {Type: stick.ConnCur, N: 1}, {Type: stick.HTTPReqRate, N: 1, Period: 10000}}}}
	old := stick.NewSet(spec, nil)
	tb := old.Table("t")
	var kb [4]byte
	for j := 0; j < 1_000_000; j++ {
		k, _ := tb.KeyIP(kb[:0], netip.AddrFrom4([4]byte{10, byte(j >> 16), byte(j >> 8), byte(j)}))
		e, _ := tb.Track(k)
		tb.Add(e, stick.GPC0, 0, 1)
		tb.Add(e, stick.HTTPReqRate, 0, 1)
		tb.Release(e)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var buf bytes.Buffer
		t0 := time.Now()
		Dump(&buf, old)
		t1 := time.Now()
		neu := stick.NewSet(spec, nil)
		n, err := Load(&buf, neu)
		t2 := time.Now()
		if err != nil || n != 1_000_000 {
			b.Fatalf("%d %v", n, err)
		}
		b.ReportMetric(float64(t1.Sub(t0).Milliseconds()), "dump-ms")
		b.ReportMetric(float64(t2.Sub(t1).Milliseconds()), "load-ms")
		b.ReportMetric(float64(buf.Cap())/1e6, "MB")
	}
}
