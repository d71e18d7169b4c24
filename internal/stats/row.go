// Package stats holds the statistics of proxies and servers as typed rows: each field
// with HAProxy 2.6's name, position, type and tags, filled once from the live state
// (Collect) and rendered as `show stat`'s CSV, typed and JSON forms. The runtime API
// prints them, the stats page renders them as HTML, and the Prometheus exporter reads
// their values directly: one source for every face.
package stats

import "strconv"

// Kind is a row's object type, HAProxy's `type` column.
type Kind int

// The kinds of rows.
const (
	Frontend Kind = 0
	Backend  Kind = 1
	Server   Kind = 2
)

// Row is one object's statistics: a frontend, a backend or a server.
type Row struct {
	Kind    Kind
	ProxyID int // iid
	ID      int // sid: the server's id, 0 for frontends and backends
	values  []value
}

// value is one field: unset (the field does not apply, or hitless does not measure
// it), a string, or a number.
type value struct {
	set    bool
	number bool
	s      string
	n      int64
}

func newRow(k Kind, proxyID, id int) *Row {
	return &Row{Kind: k, ProxyID: proxyID, ID: id, values: make([]value, len(Fields))}
}

// set fills a string field; an empty string leaves it empty, as HAProxy prints it.
func (r *Row) set(name, v string) { r.values[index[name]] = value{set: v != "", s: v} }

func (r *Row) num(name string, n int64) { r.values[index[name]] = value{set: true, number: true, n: n} }

func (r *Row) unum(name string, n uint64) { r.num(name, int64(n)) }

func (r *Row) zero(names ...string) {
	for _, n := range names {
		r.num(n, 0)
	}
}

// Has reports whether the field is filled.
func (r *Row) Has(name string) bool {
	i, ok := index[name]
	return ok && r.values[i].set
}

// Text returns a field as `show stat` prints it; "" when it is empty.
func (r *Row) Text(name string) string {
	i, ok := index[name]
	if !ok {
		return ""
	}
	return r.values[i].text()
}

func (v value) text() string {
	switch {
	case !v.set:
		return ""
	case v.number:
		return strconv.FormatInt(v.n, 10)
	}
	return v.s
}

// Int returns a numeric field; ok is false when it is empty or not a number.
func (r *Row) Int(name string) (n int64, ok bool) {
	i, found := index[name]
	if !found || !r.values[i].set {
		return 0, false
	}
	if v := r.values[i]; v.number {
		return v.n, true
	}
	n, err := strconv.ParseInt(r.values[i].s, 10, 64)
	return n, err == nil
}
