package stats

import (
	"bufio"
	"strings"
	"testing"

	"hitless/internal/config"
	"hitless/internal/proxy"
)

type limits struct{}

func (limits) FrontendMaxConn(*proxy.Frontend) int   { return 100 }
func (limits) FrontendStatus(*proxy.Frontend) string { return "OPEN" }

func state(t *testing.T, text string) *proxy.State {
	t.Helper()
	cfg, err := config.LoadBytes("t.cfg", []byte("defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n"+text), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := proxy.Build(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestCollectRows: rows come per proxy in configuration order (FRONTEND, servers,
// BACKEND), carry their kind and ids, and typed values; the options filter them as
// `show stat`'s arguments do.
func TestCollectRows(t *testing.T) {
	st := state(t, "frontend fe\n bind 127.0.0.1:1\n default_backend be\nbackend be\n server a 127.0.0.1:2\n server b 127.0.0.1:3 disabled\n")
	st.Backends["be"].Counters.LBTotal.Add(7)
	ids := map[string]int{"fe": 2, "be": 3}
	rows := Collect(st, ids, limits{}, All)
	var got []string
	for _, r := range rows {
		got = append(got, r.Text("pxname")+"/"+r.Text("svname")+" "+r.Text("status"))
	}
	if want := "fe/FRONTEND OPEN,be/a no check,be/b MAINT,be/BACKEND UP"; strings.Join(got, ",") != want {
		t.Fatalf("rows %q, want %q", strings.Join(got, ","), want)
	}
	b := rows[3]
	if b.Kind != Backend || b.ProxyID != 3 || b.ID != 0 || rows[2].Kind != Server || rows[2].ID != 2 {
		t.Fatalf("kinds and ids: %+v %+v", b, rows[2])
	}
	if n, ok := b.Int("lbtot"); !ok || n != 7 {
		t.Fatalf("lbtot %d %v", n, ok)
	}
	if _, ok := b.Int("check_status"); ok || b.Has("check_status") {
		t.Fatal("a backend has no check_status")
	}
	if b.Text("algo") != "roundrobin" || b.Text("slim") != "10" {
		t.Fatalf("algo %q, slim %q", b.Text("algo"), b.Text("slim"))
	}
	if r := Collect(st, ids, limits{}, Options{Types: -1, ServerID: -1}); r[3].Has("algo") || r[1].Has("addr") {
		t.Fatal("below operator level, addr and algo stay empty")
	}
	if r := Collect(st, ids, limits{}, Options{Types: 4, ServerID: -1, NoMaint: true}); len(r) != 1 || r[0].Text("svname") != "a" {
		t.Fatalf("servers without maintenance: %d rows", len(r))
	}
	if r := Collect(st, ids, limits{}, Options{Proxy: "3", Types: 2, ServerID: -1, UpOnly: true}); len(r) != 1 || r[0].Text("status") != "UP (1/2)" {
		t.Fatalf("backend 3 with up: %d rows", len(r))
	}
}

// TestWriterForms: the three forms carry the same fields: one CSV column per field,
// one typed line and one JSON object per filled field.
func TestWriterForms(t *testing.T) {
	st := state(t, "listen l\n bind 127.0.0.1:1\n server s 127.0.0.1:2\n")
	rows := Collect(st, map[string]int{"l": 2}, limits{}, All)
	render := func(format string) string {
		var b strings.Builder
		w := bufio.NewWriter(&b)
		x := NewWriter(w, format)
		for _, r := range rows {
			x.Row(r)
		}
		x.End()
		w.Flush()
		return b.String()
	}
	filled := 0
	for _, r := range rows {
		for i, v := range r.values {
			if v.set && Fields[i] != "-" {
				filled++
			}
		}
	}
	csv := strings.Split(strings.TrimSuffix(render("csv"), "\n"), "\n")
	if len(csv) != 1+len(rows) || strings.Count(csv[1], ",") != len(Fields) {
		t.Fatalf("csv: %d lines, %d commas", len(csv), strings.Count(csv[1], ","))
	}
	if n := strings.Count(render("typed"), "\n"); n != filled {
		t.Fatalf("typed: %d lines for %d fields", n, filled)
	}
	if n := strings.Count(render("json"), `"field":`); n != filled {
		t.Fatalf("json: %d objects for %d fields", n, filled)
	}
}
