package config

// Stick rules: `stick on|match|store-request PATTERN [table NAME] [if|unless COND]` in
// backend and listen sections, which keep a client on the server it was sent to
// through a stick table (internal/persist runs them). PATTERN is a sample fetch;
// `src` is the one supported until the sample-fetch table arrives.
//
//	backend be
//	    stick-table type ip size 200k expire 30m
//	    stick on src
//	    server s1 10.0.0.1:80
//	    server s2 10.0.0.2:80

import (
	"fmt"

	"hitless/internal/acl"
	"hitless/internal/stick"
)

// StickRule is one `stick` line; `stick on` is a match rule and a store rule.
type StickRule struct {
	Pos   Pos
	Match bool   // stick match (or on): look the key up and go to the stored server
	Store bool   // stick store-request (or on): record the chosen server
	Fetch string // the key's sample fetch: "src"
	// Table is the table's name: the `table` argument, or the backend's own.
	Table string
	Cond  *acl.Cond `json:",omitempty"`
}

func init() {
	proxyKeywords["stick"] = kw{"fbl", kwStick}
}

// stickFetches are the key fetches of stick rules, with the key types they fit.
var stickFetches = map[string][]stick.KeyType{
	"src": {stick.KeyIP, stick.KeyIPv6, stick.KeyString},
}

func kwStick(ps *parser, p *Proxy, a []string) error {
	if p.Kind == "frontend" {
		ps.warnf("'stick' ignored because frontend '%s' has no backend capability.", p.Name)
		return nil
	}
	if len(a) < 2 {
		return fmt.Errorf("'stick' expects 'on', 'match', or 'store'.")
	}
	r := StickRule{Pos: ps.pos, Table: p.Name}
	switch a[1] {
	case "on":
		r.Match, r.Store = true, true
	case "match":
		r.Match = true
	case "store-request":
		r.Store = true
	case "store-response":
		return fmt.Errorf("'stick store-response' is not supported yet")
	default:
		return fmt.Errorf("'stick' expects 'on', 'match', or 'store'.")
	}
	rest := a[2:]
	if len(rest) == 0 {
		return fmt.Errorf("'stick %s' expects a sample fetch as an argument.", a[1])
	}
	r.Fetch = rest[0]
	if _, ok := stickFetches[r.Fetch]; !ok {
		return fmt.Errorf("'stick %s': fetch method '%s' is not supported yet", a[1], r.Fetch)
	}
	rest = rest[1:]
	if len(rest) >= 2 && rest[0] == "table" {
		r.Table = rest[1]
		rest = rest[2:]
	}
	if len(rest) > 0 {
		if rest[0] != "if" && rest[0] != "unless" {
			return fmt.Errorf("'stick %s': unexpected argument '%s'.", a[1], rest[0])
		}
		c, err := ps.cond(p, rest)
		if err != nil {
			return fmt.Errorf("'stick %s': error detected while parsing sticking condition : %v", a[1], err)
		}
		r.Cond = c
	}
	p.StickRules = append(p.StickRules, r)
	return nil
}

// finishStickRules checks that each rule's table exists and fits its fetch, and adds
// server_id and server_key to the tables that stick rules use, as HAProxy does.
func (ps *parser) finishStickRules() {
	byName := map[string]*stick.Spec{}
	for _, s := range ps.cfg.Tables {
		byName[s.Name] = s
	}
	for _, p := range ps.cfg.Proxies {
		for _, r := range p.StickRules {
			t := byName[r.Table]
			if t == nil {
				ps.errs = append(ps.errs, &Error{Pos: r.Pos, Msg: fmt.Sprintf("Proxy '%s': unable to find stick-table '%s'.", p.Name, r.Table)})
				continue
			}
			fits := false
			for _, kt := range stickFetches[r.Fetch] {
				fits = fits || kt == t.Type
			}
			if !fits {
				ps.errs = append(ps.errs, &Error{Pos: r.Pos, Msg: fmt.Sprintf("Proxy '%s': type of fetch not usable with type of stick-table '%s'.", p.Name, r.Table)})
				continue
			}
			addColumn(t, stick.ServerID)
			addColumn(t, stick.ServerKey)
		}
	}
}

// addColumn stores data type d in t if it does not yet.
func addColumn(t *stick.Spec, d stick.DataType) {
	for _, c := range t.Columns {
		if c.Type == d {
			return
		}
	}
	t.Columns = append(t.Columns, stick.Column{Type: d, N: 1})
	sortColumns(t.Columns)
}
