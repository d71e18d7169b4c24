package config

import (
	"fmt"
	"os/user"
	"strconv"
	"strings"

	"hitless/internal/tlsconf"
)

// The process settings of `global`: who the process runs as once its sockets are open,
// where it is jailed, and the TLS defaults that `bind ... ssl` and `server ... ssl`
// lines will take. Messages are HAProxy 2.6's (checked with haproxy -c).

// SSLDefaults holds `ssl-default-bind-*` or `ssl-default-server-*`: what `bind ...
// ssl` and `server ... ssl` lines take for the settings they leave unset.
type SSLDefaults struct {
	Ciphers      string   // TLS 1.2 and below, OpenSSL cipher list syntax
	Ciphersuites string   // TLS 1.3, colon-separated suite names
	Curves       string   `json:",omitempty"`
	Options      []string // as written, e.g. "ssl-min-ver", "TLSv1.2", "no-tls-tickets"
}

// processKeywords are rows of the global keyword table; init adds them to it.
var processKeywords = map[string]func(ps *parser, g *Global, args []string) error{
	"user":   kwUserGroup,
	"group":  kwUserGroup,
	"uid":    kwUIDGID,
	"gid":    kwUIDGID,
	"chroot": kwChroot,
	"ca-base": func(ps *parser, g *Global, a []string) error {
		return baseDir(a, &g.CABase)
	},
	"crt-base": func(ps *parser, g *Global, a []string) error {
		return baseDir(a, &g.CRTBase)
	},
	"ssl-default-bind-ciphers": func(ps *parser, g *Global, a []string) error {
		return cipherArg(a, &g.SSLBind.Ciphers, checkCipherList)
	},
	"ssl-default-bind-ciphersuites": func(ps *parser, g *Global, a []string) error {
		return cipherArg(a, &g.SSLBind.Ciphersuites, checkCiphersuites)
	},
	"ssl-default-bind-options": func(ps *parser, g *Global, a []string) error {
		return sslOptions(a, true, &g.SSLBind.Options)
	},
	"ssl-default-server-ciphers": func(ps *parser, g *Global, a []string) error {
		return cipherArg(a, &g.SSLServer.Ciphers, checkCipherList)
	},
	"ssl-default-server-ciphersuites": func(ps *parser, g *Global, a []string) error {
		return cipherArg(a, &g.SSLServer.Ciphersuites, checkCiphersuites)
	},
	"ssl-default-server-options": func(ps *parser, g *Global, a []string) error {
		return sslOptions(a, false, &g.SSLServer.Options)
	},
	"tune.bufsize": func(ps *parser, g *Global, a []string) error {
		if err := tuneArg(a, &g.TuneBufSize); err != nil {
			return err
		}
		if g.TuneBufSize < 1024 {
			return fmt.Errorf("'tune.bufsize' must be at least 1024 (got '%s')", a[1])
		}
		return nil
	},
	"tune.maxrewrite": func(ps *parser, g *Global, a []string) error {
		return tuneArg(a, &g.TuneMaxRewrite)
	},
	"tune.http.maxhdr": func(ps *parser, g *Global, a []string) error {
		if len(a) < 2 || a[1] == "" {
			return fmt.Errorf("'%s' expects an integer argument.", a[0])
		}
		n, err := strconv.Atoi(a[1])
		if err != nil || n < 1 || n > 32767 {
			return fmt.Errorf("'%s' expects a numeric value between 1 and 32767", a[0])
		}
		g.TuneMaxHdr = n
		return nil
	},
	"node": func(ps *parser, g *Global, a []string) error {
		if len(a) < 2 || a[1] == "" || strings.IndexFunc(a[1], func(c rune) bool {
			return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_')
		}) >= 0 {
			return fmt.Errorf("'node' requires valid node name - non-empty string with digits(0-9), letters(A-Z, a-z), dot(.), hyphen(-) or underscode(_).")
		}
		if err := noArgs(a[1:]); err != nil {
			return fmt.Errorf("'node' cannot handle unexpected argument '%s'.", a[2])
		}
		g.Node = a[1]
		return nil
	},
	"description": func(ps *parser, g *Global, a []string) error {
		if len(a) < 2 {
			return fmt.Errorf("'description' expects a string argument.")
		}
		g.Description = strings.Join(a[1:], " ")
		return nil
	},
}

func init() {
	for k, f := range processKeywords {
		globalKeywords[k] = f
	}
}

// kwUserGroup is `user NAME` and `group NAME`: the name is looked up now, as HAProxy
// does, so that a typo fails `-c` rather than the start.
func kwUserGroup(ps *parser, g *Global, a []string) error {
	name := ""
	if len(a) > 1 {
		name = a[1]
	}
	if len(a) > 2 {
		return fmt.Errorf("'%s' cannot handle unexpected argument '%s'.", a[0], a[2])
	}
	if a[0] == "user" {
		if g.UID != 0 {
			ps.warnf("user/uid already specified. Continuing.")
			return nil
		}
		u, err := user.Lookup(name)
		if err != nil {
			return fmt.Errorf("cannot find user id for '%s'", name)
		}
		g.UID, _ = strconv.Atoi(u.Uid)
		g.User = name
		return nil
	}
	if g.GID != 0 {
		ps.warnf("group/gid already specified. Continuing.")
		return nil
	}
	gr, err := user.LookupGroup(name)
	if err != nil {
		return fmt.Errorf("cannot find group id for '%s'", name)
	}
	g.GID, _ = strconv.Atoi(gr.Gid)
	g.Group = name
	return nil
}

// kwUIDGID is `uid N` and `gid N`. As in HAProxy, 0 means "unchanged".
func kwUIDGID(ps *parser, g *Global, a []string) error {
	if len(a) < 2 {
		return fmt.Errorf("'%s' expects an integer argument.", a[0])
	}
	if len(a) > 2 {
		return fmt.Errorf("'%s' cannot handle unexpected argument '%s'.", a[0], a[2])
	}
	n, err := strconv.Atoi(a[1])
	if err != nil || n < 0 {
		return fmt.Errorf("'%s' expects a non-negative number (got '%s'); 'user' and 'group' take names", a[0], a[1])
	}
	dst, what := &g.UID, "user/uid"
	if a[0] == "gid" {
		dst, what = &g.GID, "group/gid"
	}
	if *dst != 0 {
		ps.warnf("%s already specified. Continuing.", what)
		return nil
	}
	*dst = n
	return nil
}

func kwChroot(ps *parser, g *Global, a []string) error {
	if len(a) < 2 {
		return fmt.Errorf("'chroot' expects a directory as an argument.")
	}
	if len(a) > 2 {
		return fmt.Errorf("'chroot' cannot handle unexpected argument '%s'.", a[2])
	}
	if g.Chroot != "" {
		return fmt.Errorf("'chroot' already specified.")
	}
	g.Chroot = a[1]
	return nil
}

func baseDir(a []string, dst *string) error {
	if len(a) < 2 {
		return fmt.Errorf("global statement '%s' expects a directory path as an argument.", a[0])
	}
	if len(a) > 2 {
		return fmt.Errorf("'%s' cannot handle unexpected argument '%s'.", a[0], a[2])
	}
	if *dst != "" {
		return fmt.Errorf("'%s' already specified.", a[0])
	}
	*dst = a[1]
	return nil
}

func tuneArg(a []string, dst *int) error {
	if len(a) < 2 {
		return fmt.Errorf("'%s' expects an integer argument.", a[0])
	}
	n, err := strconv.Atoi(a[1])
	if err != nil || n < 0 || n > 1<<30 {
		return fmt.Errorf("'%s' expects a positive integer argument.", a[0])
	}
	*dst = n
	return nil
}

func cipherArg(a []string, dst *string, check func(string) error) error {
	if len(a) < 2 {
		return fmt.Errorf("global statement '%s' expects a cipher suite as an argument.", a[0])
	}
	if len(a) > 2 {
		return fmt.Errorf("'%s' cannot handle unexpected argument '%s'.", a[0], a[2])
	}
	if err := check(a[1]); err != nil {
		return fmt.Errorf("'%s' : %v", a[0], err)
	}
	*dst = a[1]
	return nil
}

// checkCipherList checks an OpenSSL cipher list (man 1 ciphers) against the suites
// Go's TLS implements (see tlsconf.ParseCipherList).
func checkCipherList(s string) error {
	_, _, err := tlsconf.ParseCipherList(s)
	return err
}

// checkCiphersuites checks a TLS 1.3 suite list against what Go's TLS can do.
func checkCiphersuites(s string) error { return tlsconf.CheckCiphersuites(s) }

// sslFlagOptions are the options without argument that ssl-default-*-options take;
// prefer-client-ciphers is a bind option only.
var sslFlagOptions = map[string]bool{
	"no-sslv3": true, "no-tlsv10": true, "no-tlsv11": true, "no-tlsv12": true, "no-tlsv13": true,
	"force-sslv3": true, "force-tlsv10": true, "force-tlsv11": true, "force-tlsv12": true, "force-tlsv13": true,
	"no-tls-tickets": true,
}

var sslVersions = map[string]bool{"SSLv3": true, "TLSv1.0": true, "TLSv1.1": true, "TLSv1.2": true, "TLSv1.3": true}

func sslOptions(a []string, bind bool, dst *[]string) error {
	opts := a[1:]
	for i := 0; i < len(opts); i++ {
		o := opts[i]
		switch {
		case sslFlagOptions[o], bind && o == "prefer-client-ciphers":
		case o == "ssl-min-ver" || o == "ssl-max-ver":
			if i+1 >= len(opts) {
				return fmt.Errorf("'%s' : missing the ssl/tls version on global statement '%s'.", o, a[0])
			}
			i++
			if !sslVersions[opts[i]] {
				return fmt.Errorf("'%s' : unknown ssl/tls version on global statement '%s'.", opts[i], a[0])
			}
		default:
			return fmt.Errorf("unknown option '%s' on global statement '%s'.", o, a[0])
		}
	}
	*dst = append(*dst, opts...)
	return nil
}
