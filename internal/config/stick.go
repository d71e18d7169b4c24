package config

// Stick tables and peers sections: `stick-table` in frontend, backend and listen
// sections, and `peers NAME` sections with `peer`, `server`, `bind`,
// `default-server`, `default-bind`, `disabled`, `enabled` and `table`. The rows
// below are added to the keyword tables in init(); internal/stick builds the tables
// and internal/peers speaks the protocol.
//
//	peers mypeers
//	    peer a 127.0.0.1:21001
//	    peer b 127.0.0.1:21002
//	    table t type ip size 100k expire 30s store gpc0,http_req_rate(10s)
//	backend be
//	    stick-table type ip size 1m expire 60s store conn_cur,http_req_rate(10s) peers mypeers

import (
	"fmt"
	"os"
	"strings"
	"time"

	"hitless/internal/stick"
)

// Peers is one `peers NAME` section.
type Peers struct {
	Pos      Pos
	Name     string
	Disabled bool
	Peers    []Peer
	// Bind is the local peer's listening address: from `bind`, or from the `peer`
	// line that names the local peer; nil when the section has none.
	Bind    *Addr
	bindPos Pos
	Tables  []*stick.Spec
	// Local is the name this process goes by in the section (ResolvePeers).
	Local              string
	usedPeer, usedBind bool
}

// Peer is one `peer` or `server` line.
type Peer struct {
	Pos  Pos
	Name string
	Addr *Addr // nil for the local peer declared by `server NAME` without address
}

// LocalPeer returns the section's line for the local peer, or nil.
func (p *Peers) LocalPeer() *Peer {
	for i := range p.Peers {
		if p.Peers[i].Name == p.Local {
			return &p.Peers[i]
		}
	}
	return nil
}

func init() {
	proxyKeywords["stick-table"] = kw{"dfbl", kwStickTable}
	sectionHandlers["peers"] = sectionHandler{start: (*parser).startPeers, line: (*parser).peersKeyword}
	globalKeywords["tune.peers.max-updates-at-once"] = func(ps *parser, g *Global, a []string) error {
		n := 0
		if len(a) == 2 {
			n, _ = parseInt(a[1], 1<<30)
		}
		if n == 0 {
			return fmt.Errorf("'%s' expects an integer argument greater than 0.", a[0])
		}
		g.PeersMaxUpdates = n
		return nil
	}
	globalKeywords["localpeer"] = func(ps *parser, g *Global, a []string) error {
		if len(a) != 2 {
			return fmt.Errorf("'%s' expects a name as an argument.", a[0])
		}
		g.LocalPeer, g.localPeerPos = a[1], ps.pos
		return nil
	}
}

// peersState is the parser's view of the peers sections being read.
type peersState struct {
	cur    *Peers
	byName map[string]*Peers
	// tables maps a table name to where it was declared, for the duplicate check.
	tables map[string]tableDecl
	// refs are the `peers NAME` references of stick-table lines, checked at the end.
	refs []peersRef
}

type tableDecl struct {
	pos  Pos
	kind string
}

type peersRef struct {
	proxy, peers string
}

func (ps *parser) peersState() *peersState {
	if ps.peers == nil {
		ps.peers = &peersState{byName: map[string]*Peers{}, tables: map[string]tableDecl{}}
	}
	return ps.peers
}

// startPeers opens a `peers NAME` section.
func (ps *parser) startPeers(w []string) {
	st := ps.peersState()
	ps.section, ps.px = "peers", nil
	st.cur = nil
	if len(w) < 2 {
		ps.errorf("missing name for peers section.")
		ps.section = "skip"
		return
	}
	if prev := st.byName[w[1]]; prev != nil {
		ps.errs = append(ps.errs, &Error{Pos: ps.pos, Msg: fmt.Sprintf("peers section '%s' has the same name as another peers section declared at %s.", w[1], prev.Pos)})
		ps.section = "skip"
		return
	}
	p := &Peers{Pos: ps.pos, Name: w[1]}
	st.byName[p.Name] = p
	st.cur = p
	ps.cfg.Peers = append(ps.cfg.Peers, p)
}

// peersKeywords is the keyword table of a peers section.
var peersKeywords = map[string]func(ps *parser, p *Peers, a []string) error{
	"peer":           kwPeer,
	"server":         kwPeer,
	"bind":           kwPeersBind,
	"default-server": kwPeersDefaults,
	"default-bind":   kwPeersDefaults,
	"disabled":       func(ps *parser, p *Peers, a []string) error { p.Disabled = true; return noArgs(a) },
	"enabled":        func(ps *parser, p *Peers, a []string) error { p.Disabled = false; return noArgs(a) },
	"table":          kwPeersTable,
}

// haproxyPeersKeywords are the peers keywords of HAProxy 2.6 (`shards` came later).
const haproxyPeersKeywords = "bind default-bind default-server disabled enabled log peer server table"

func (ps *parser) peersKeyword(w []string) {
	p := ps.peersState().cur
	if p == nil {
		return
	}
	f, ok := peersKeywords[w[0]]
	if !ok {
		if strings.Contains(" "+haproxyPeersKeywords+" ", " "+w[0]+" ") {
			ps.errorf("'%s' is not supported yet", w[0])
			return
		}
		ps.errorf("unknown keyword '%s' in 'peers' section", w[0])
		return
	}
	if err := f(ps, p, w); err != nil {
		ps.errorf("%v", err)
	}
}

func kwPeer(ps *parser, p *Peers, a []string) error {
	if len(a) < 2 {
		return fmt.Errorf("'%s' expects <name> as an argument.", a[0])
	}
	if a[0] == "peer" {
		if p.usedBind {
			return fmt.Errorf(`mixing "peer" and "bind" line is forbidden`)
		}
		p.usedPeer = true
		if len(a) < 3 {
			return fmt.Errorf("'%s %s' : missing address.", a[0], a[1])
		}
	}
	pe := Peer{Pos: ps.pos, Name: a[1]}
	if len(a) > 2 {
		host, port, mode, err := parseServerAddr(a[2])
		switch {
		case err != nil:
		case mode == PortClient:
			err = fmt.Errorf("missing port specification in '%s'", a[2])
		case mode == PortOffset:
			err = fmt.Errorf("port offsets are not supported yet ('%s')", a[2])
		}
		if err != nil {
			return fmt.Errorf("'%s %s' : %v", a[0], a[1], err)
		}
		network := "tcp4"
		if strings.Contains(host, ":") {
			network = "tcp6"
		}
		pe.Addr = &Addr{Network: network, Host: host, Port: port}
		if len(a) > 3 {
			return fmt.Errorf("'%s %s' : '%s' is not supported yet", a[0], a[1], a[3])
		}
	}
	p.Peers = append(p.Peers, pe)
	return nil
}

func kwPeersBind(ps *parser, p *Peers, a []string) error {
	if p.usedPeer {
		return fmt.Errorf(`mixing "peer" and "bind" line is forbidden`)
	}
	p.usedBind = true
	if len(a) < 2 {
		return fmt.Errorf("'bind' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments.")
	}
	if p.Bind != nil {
		return fmt.Errorf("only one 'bind' line is allowed in a peers section (first at %s).", p.bindPos)
	}
	addrs, err := parseBindAddrs(a[1])
	if err != nil {
		return fmt.Errorf("'bind' : %v", err)
	}
	if len(addrs) != 1 || addrs[0].Network == "unix" {
		return fmt.Errorf("'bind %s' : a peers section listens on one TCP address", a[1])
	}
	if len(a) > 2 {
		return fmt.Errorf("'bind %s' : '%s' is not supported yet", a[1], a[2])
	}
	p.Bind, p.bindPos = &addrs[0], ps.pos
	return nil
}

// kwPeersDefaults accepts default-server and default-bind without parameters: the
// transport parameters (ssl, ...) are not supported yet.
func kwPeersDefaults(ps *parser, p *Peers, a []string) error {
	if len(a) > 1 {
		return fmt.Errorf("'%s' : '%s' is not supported yet", a[0], a[1])
	}
	return nil
}

func kwPeersTable(ps *parser, p *Peers, a []string) error {
	if len(a) < 2 {
		return fmt.Errorf("table: missing table name.")
	}
	s, err := ps.parseStickTable("table", a[2:], true)
	if err != nil {
		return err
	}
	s.Name = p.Name + "/" + a[1]
	s.NetName = "/" + a[1]
	s.Peers = p.Name
	if err := ps.declareTable(s.Name, "peers"); err != nil {
		return err
	}
	p.Tables = append(p.Tables, s)
	ps.cfg.Tables = append(ps.cfg.Tables, s)
	return nil
}

// declareTable reserves a table name, or says where it was declared first.
func (ps *parser) declareTable(name, kind string) error {
	st := ps.peersState()
	if prev, ok := st.tables[name]; ok {
		return fmt.Errorf("stick-table name '%s' conflicts with table declared in %s '%s' at %s.", name, prev.kind, name, prev.pos)
	}
	st.tables[name] = tableDecl{pos: ps.pos, kind: kind}
	return nil
}

func kwStickTable(ps *parser, p *Proxy, a []string) error {
	if p.Kind == "defaults" {
		return fmt.Errorf("'stick-table' is not supported in 'defaults' section.")
	}
	s, err := ps.parseStickTable("stick-table", a[1:], false)
	if err != nil {
		return err
	}
	s.Name, s.NetName = p.Name, p.Name
	if err := ps.declareTable(p.Name, p.Kind); err != nil {
		return err
	}
	p.StickTable = s
	ps.cfg.Tables = append(ps.cfg.Tables, s)
	if s.Peers != "" {
		st := ps.peersState()
		st.refs = append(st.refs, peersRef{proxy: p.Name, peers: s.Peers})
	}
	return nil
}

// parseStickTable reads the arguments of `stick-table` (kw) or a peers `table`.
func (ps *parser) parseStickTable(kw string, a []string, inPeers bool) (*stick.Spec, error) {
	s := &stick.Spec{Len: 32, SrvKey: "name"}
	hasType, hasSize := false, false
	seen := map[stick.DataType]bool{}
	families := map[int]stick.DataType{}
	for i := 0; i < len(a); i++ {
		arg := func() string {
			if i+1 < len(a) {
				i++
				return a[i]
			}
			return ""
		}
		switch a[i] {
		case "type":
			v := arg()
			kt, ok := stick.ParseKeyType(v)
			if !ok {
				return nil, fmt.Errorf("%s: unknown type '%s'.", kw, v)
			}
			s.Type, hasType = kt, true
			if (kt == stick.KeyString || kt == stick.KeyBinary) && i+1 < len(a) && a[i+1] == "len" {
				i++
				v := arg()
				n, err := parseInt(v, 1<<20)
				if err != nil || n == 0 {
					return nil, fmt.Errorf("%s: unknown type '%s'.", kw, v)
				}
				s.Len = n
			}
		case "size":
			v := arg()
			n, err := ParseSize(v)
			if err != nil {
				c := "?"
				if j := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
					c = v[j : j+1]
				}
				return nil, fmt.Errorf("%s: unexpected character '%s' in argument of 'size'.", kw, c)
			}
			if n > 1<<31-1 {
				return nil, fmt.Errorf("%s: size '%s' is too large.", kw, v)
			}
			s.Size, hasSize = int(n), true
		case "expire":
			v := arg()
			d, err := ParseTime(v, time.Millisecond)
			if err != nil {
				if err == errTimerOverflow {
					return nil, fmt.Errorf("%s: timer overflow in argument <%s> to <expire>, maximum value is 2147483647 ms (~24.8 days).", kw, v)
				}
				return nil, fmt.Errorf("%s: %v in argument of 'expire'.", kw, err)
			}
			s.Expire = d.Milliseconds()
		case "nopurge":
			s.NoPurge = true
		case "peers":
			if inPeers {
				return nil, fmt.Errorf("%s: unknown argument 'peers'.", kw)
			}
			s.Peers = arg()
			if s.Peers == "" {
				return nil, fmt.Errorf("%s: missing argument after 'peers'.", kw)
			}
		case "srvkey":
			v := arg()
			if v != "name" && v != "addr" {
				return nil, fmt.Errorf("%s : unknown server key type '%s'.", kw, v)
			}
			s.SrvKey = v
		case "store":
			v := arg()
			if v == "" {
				return nil, fmt.Errorf("%s: missing argument after 'store'.", kw)
			}
			for _, word := range splitStore(v) {
				c, err := stick.ParseStore(word, func(t string) (int64, error) {
					d, err := ParseTime(t, time.Millisecond)
					return d.Milliseconds(), err
				})
				if err != nil {
					return nil, fmt.Errorf("%s: %v.", kw, err)
				}
				if seen[c.Type] {
					ps.warnf("%s: store option '%s' already enabled, ignored.", kw, c.Type)
					continue
				}
				if f := stick.Types[c.Type].Family; f != 0 {
					if other, ok := families[f]; ok && other.IsArray() != c.Type.IsArray() {
						arr := c.Type
						if !arr.IsArray() {
							arr = other
						}
						return nil, fmt.Errorf("%s: simultaneous usage of '%s' and '%s' in a same table is not permitted as '%s' overrides '%s'.", kw, arr, familyOld[arr], arr, familyOld[arr])
					}
					families[f] = c.Type
				}
				seen[c.Type] = true
				s.Columns = append(s.Columns, c)
			}
		default:
			return nil, fmt.Errorf("%s: unknown argument '%s'.", kw, a[i])
		}
	}
	if !hasSize {
		return nil, fmt.Errorf("%s: missing size.", kw)
	}
	if !hasType {
		return nil, fmt.Errorf("%s: missing type.", kw)
	}
	if s.Type != stick.KeyString && s.Type != stick.KeyBinary {
		s.Len = 0
	}
	sortColumns(s.Columns)
	return s, nil
}

// familyOld names the scalar types an array type replaces, as HAProxy's message does.
var familyOld = map[stick.DataType]string{stick.GPT: "gpt0", stick.GPC: "gpc[0/1]", stick.GPCRate: "gpc[0/1]_rate"}

// splitStore splits a store list on the commas outside parentheses.
func splitStore(v string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range v {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

// sortColumns puts the columns in data type order, as HAProxy stores them.
func sortColumns(c []stick.Column) {
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j].Type < c[j-1].Type; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
}

// finishPeers checks the `peers NAME` references of stick tables.
func (ps *parser) finishPeers() {
	st := ps.peers
	if st == nil {
		return
	}
	for _, r := range st.refs {
		if st.byName[r.peers] == nil {
			ps.errs = append(ps.errs, &Error{Msg: fmt.Sprintf("Proxy '%s': unable to find sync peers '%s'.", r.proxy, r.peers)})
		}
	}
}

// ResolvePeers names the local peer: `-L NAME` (flag) wins over `localpeer`, and the
// host name is the default. A section with no peer of that name is removed with
// HAProxy's warning, and its tables are kept local.
func (c *Config) ResolvePeers(flag string) {
	name := flag
	if flag != "" && c.Global.LocalPeer != "" {
		c.Warnings = append(c.Warnings, fmt.Sprintf("parsing [%s] : 'localpeer' ignored since it is already set by using the '-L' command line argument.", c.Global.localPeerPos))
	}
	if name == "" {
		name = c.Global.LocalPeer
	}
	if name == "" {
		name, _ = os.Hostname()
	}
	kept := c.Peers[:0]
	for _, p := range c.Peers {
		p.Local = name
		lp := p.LocalPeer()
		if lp == nil {
			c.Warnings = append(c.Warnings, fmt.Sprintf("Removing incomplete section 'peers %s' (no peer named '%s').", p.Name, name))
			for _, t := range c.Tables {
				if t.Peers == p.Name {
					t.Peers = ""
				}
			}
			continue
		}
		if p.Bind == nil && lp.Addr != nil {
			a := *lp.Addr
			p.Bind = &a
		}
		kept = append(kept, p)
	}
	c.Peers = kept
}
