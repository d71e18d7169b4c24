// Package persist keeps clients on the server they were sent to: the `stick on`,
// `stick match` and `stick store-request` rules of a backend, run against its stick
// tables. The instance builds one Rules per backend that has stick rules; the http
// and tcp engines ask it for a server before balancing and tell it which server
// they chose.
package persist

import (
	"net/netip"

	"hitless/internal/acl"
	"hitless/internal/config"
	"hitless/internal/sample"
	"hitless/internal/stick"
)

// Rules are a backend's stick rules, in order.
type Rules struct {
	rules []rule
}

type rule struct {
	match, store bool
	t            *stick.Table
	cond         *acl.Cond
	addrKey      bool // the table's `srvkey addr`: server_key holds addr:port
}

// New compiles a backend's rules against the tables; nil when it has none.
func New(rules []config.StickRule, tables *stick.Set) *Rules {
	var r Rules
	for _, c := range rules {
		t := tables.Table(c.Table)
		if t == nil {
			continue // the configuration was validated: cannot happen
		}
		r.rules = append(r.rules, rule{match: c.Match, store: c.Store, t: t, cond: c.Cond, addrKey: t.Spec().SrvKey == "addr"})
	}
	if len(r.rules) == 0 {
		return nil
	}
	return &r
}

// key builds the `src` key of table t into buf.
func key(t *stick.Table, src netip.Addr, buf []byte) ([]byte, bool) {
	if t.Spec().Type == stick.KeyString {
		return t.KeyString(buf, src.Unmap().String()), true
	}
	return t.KeyIP(buf, src)
}

func (r *rule) applies(c *sample.Ctx) bool { return r.cond == nil || r.cond.Eval(c) }

// Server returns the server id (HAProxy's server_id: the `id`) stored for the
// client by the first match rule that applies and finds one, 0 when none.
func (r *Rules) Server(s *sample.Ctx) int {
	var buf [16]byte
	for i := range r.rules {
		ru := &r.rules[i]
		if !ru.match || !ru.applies(s) {
			continue
		}
		k, ok := key(ru.t, s.In.Src().Addr(), buf[:0])
		if !ok {
			continue
		}
		e := ru.t.Lookup(k)
		if e == nil {
			continue
		}
		if id, ok := ru.t.Get(e, stick.ServerID, 0); ok && int64(id) > 0 {
			return int(id)
		}
	}
	return 0
}

// Store records server id for the client in the table of every store rule that
// applies, with its name as server_key (its addr:port with `srvkey addr`).
func (r *Rules) Store(s *sample.Ctx, id int, name, addr string) {
	var buf [16]byte
	for i := range r.rules {
		ru := &r.rules[i]
		if !ru.store || !ru.applies(s) {
			continue
		}
		k, ok := key(ru.t, s.In.Src().Addr(), buf[:0])
		if !ok {
			continue
		}
		e, err := ru.t.Track(k)
		if err != nil {
			continue // table full (nopurge): no persistence for this client
		}
		ru.t.Set(e, stick.ServerID, 0, uint64(id))
		if ru.addrKey {
			ru.t.SetServerKey(e, addr)
		} else {
			ru.t.SetServerKey(e, name)
		}
		ru.t.Release(e)
	}
}
