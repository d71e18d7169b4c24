package config

import (
	"fmt"
	"strings"
	"time"

	"hitless/internal/acl"
)

// StatsPage is the `stats` settings of a proxy (HAProxy's stats URI, served by the
// statspage package). A proxy has one as soon as any `stats` keyword appears in it or
// in its defaults section.
type StatsPage struct {
	Pos         Pos
	URI         string // prefix of the page's URI; default "/haproxy?stats"
	Realm       string // Basic auth realm; default "HAProxy Statistics"
	Users       []StatsUser
	Refresh     time.Duration // 0 = no automatic refresh
	HideVersion bool
	ShowNode    bool
	Node        string // `stats show-node NAME`; "" = the host name
	ShowDesc    bool
	Desc        string    // `stats show-desc TEXT`
	Scope       []string  // `stats scope NAME`: the proxies shown ("." = the page's own); none = all
	Admin       *acl.Cond // `stats admin if|unless COND`; nil = read-only page
}

// StatsUser is one `stats auth user:password` account.
type StatsUser struct {
	User, Password string
}

// Default values of the stats page, as HAProxy 2.6 builds them.
const (
	DefaultStatsURI   = "/haproxy?stats"
	DefaultStatsRealm = "HAProxy Statistics"
)

// statsKeywords is the table of `stats` words in a proxy section: the sections each is
// allowed in (d defaults, f frontend, b backend, l listen) and its parser. Every one
// of them enables the page.
var statsKeywords = map[string]struct {
	sections string
	parse    func(ps *parser, p *Proxy, s *StatsPage, args []string) error
}{
	"enable":       {"dfbl", func(ps *parser, p *Proxy, s *StatsPage, a []string) error { return nil }},
	"hide-version": {"dfbl", func(ps *parser, p *Proxy, s *StatsPage, a []string) error { s.HideVersion = true; return nil }},
	"uri": {"dfbl", func(ps *parser, p *Proxy, s *StatsPage, a []string) error {
		if len(a) == 0 || a[0] == "" {
			return fmt.Errorf("'uri' needs an URI prefix.")
		}
		s.URI = a[0]
		return nil
	}},
	"realm": {"dfbl", func(ps *parser, p *Proxy, s *StatsPage, a []string) error {
		if len(a) == 0 || a[0] == "" {
			return fmt.Errorf("'realm' needs an realm name.")
		}
		s.Realm = a[0]
		return nil
	}},
	"auth": {"dfbl", func(ps *parser, p *Proxy, s *StatsPage, a []string) error {
		if len(a) == 0 || a[0] == "" {
			return fmt.Errorf("'auth' needs a user:password account.")
		}
		// As in HAProxy, "user" alone is a user with an empty password.
		u, pw, _ := strings.Cut(a[0], ":")
		s.Users = append(s.Users, StatsUser{User: u, Password: pw})
		return nil
	}},
	"refresh": {"dfbl", func(ps *parser, p *Proxy, s *StatsPage, a []string) error {
		if len(a) == 0 || a[0] == "" {
			return fmt.Errorf("'refresh' needs a positive interval.")
		}
		d, err := ParseTime(a[0], time.Second)
		if err != nil {
			return fmt.Errorf("%v in argument to stats refresh interval.", err)
		}
		s.Refresh = d
		return nil
	}},
	"scope": {"dfbl", func(ps *parser, p *Proxy, s *StatsPage, a []string) error {
		if len(a) == 0 || a[0] == "" {
			return fmt.Errorf("'scope' needs a proxy name.")
		}
		s.Scope = append(s.Scope, a[0])
		return nil
	}},
	"show-node": {"dfbl", func(ps *parser, p *Proxy, s *StatsPage, a []string) error {
		s.ShowNode = true
		if len(a) > 0 {
			s.Node = a[0]
		}
		return nil
	}},
	"show-desc": {"dfbl", func(ps *parser, p *Proxy, s *StatsPage, a []string) error {
		s.ShowDesc = true
		s.Desc = strings.Join(a, " ")
		return nil
	}},
	"admin": {"fbl", func(ps *parser, p *Proxy, s *StatsPage, a []string) error {
		if len(a) < 2 || (a[0] != "if" && a[0] != "unless") {
			return fmt.Errorf("'stats admin' requires either 'if' or 'unless' followed by a condition.")
		}
		c, err := ps.cond(p, a)
		if err != nil {
			return fmt.Errorf("error detected while parsing a 'stats admin' rule : %v.", err)
		}
		s.Admin = c
		return nil
	}},
}

// haproxyStatsKeywords are HAProxy 2.6's `stats` words that hitless does not have yet.
const haproxyStatsKeywords = "show-legends show-modules http-request bind-process"

const statsExpects = "expects 'admin', 'uri', 'realm', 'auth', 'scope', 'enable', 'hide-version', 'show-node', 'show-desc' or 'show-legends'."

// kwProxyStats is `stats WORD ...` in defaults, frontend, backend and listen sections.
func kwProxyStats(ps *parser, p *Proxy, a []string) error {
	if len(a) < 2 {
		return fmt.Errorf("missing keyword in 'stats', %s", statsExpects)
	}
	k, ok := statsKeywords[a[1]]
	if !ok {
		if strings.Contains(" "+haproxyStatsKeywords+" ", " "+a[1]+" ") {
			return fmt.Errorf("'stats %s' is not supported yet", a[1])
		}
		return fmt.Errorf("unknown stats parameter '%s', %s", a[1], statsExpects)
	}
	if !strings.ContainsRune(k.sections, rune(p.Kind[0])) {
		return fmt.Errorf("'stats %s' not allowed in '%s' section.", a[1], p.Kind)
	}
	if p.Stats == nil {
		p.Stats = &StatsPage{Pos: ps.pos, URI: DefaultStatsURI, Realm: DefaultStatsRealm}
	}
	return k.parse(ps, p, p.Stats, a[2:])
}

// copyStats is the stats settings a proxy inherits from its defaults section.
func copyStats(s *StatsPage) *StatsPage {
	if s == nil {
		return nil
	}
	c := *s
	c.Users = append([]StatsUser(nil), s.Users...)
	c.Scope = append([]string(nil), s.Scope...)
	return &c
}

// HTTPServices are the names `http-request use-service` accepts; the instance package
// has an applet for each.
var HTTPServices = map[string]bool{"prometheus-exporter": true}
