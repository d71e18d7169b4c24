package sample

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"time"
)

// Fetches of constants, process state, addresses, proxies and servers.

func init() {
	addFetches(
		&Fetch{Name: "always_true", Out: TBool, Use: SrcConst, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Bool(true); return true }},
		&Fetch{Name: "always_false", Out: TBool, Use: SrcConst, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Bool(false); return true }},
		&Fetch{Name: "int", Args: "i", Out: TInt, Use: SrcConst, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Int(a[0].I); return true }},
		&Fetch{Name: "str", Args: "|s", Out: TStr, Use: SrcConst, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Str(a[0].B); return true }},
		&Fetch{Name: "bool", Args: "i", Out: TBool, Use: SrcConst, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Bool(a[0].I != 0); return true }},
		&Fetch{Name: "ipv4", Args: "s", Out: TIPv4, Use: SrcConst, Check: checkAddrArg(false), Fn: fetchAddrArg},
		&Fetch{Name: "ipv6", Args: "s", Out: TIPv6, Use: SrcConst, Check: checkAddrArg(true), Fn: fetchAddrArg},
		&Fetch{Name: "meth", Args: "s", Out: TMeth, Use: SrcConst, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Value{Type: TMeth, B: a[0].B}; return true }},
		&Fetch{Name: "env", Args: "s", Out: TStr, Use: SrcInternal, Fn: fetchEnv},
		&Fetch{Name: "date", Args: "|i", Out: TInt, Use: SrcInternal, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			*v = Int(time.Now().Unix() + a[0].I)
			return true
		}},
		&Fetch{Name: "date_us", Out: TInt, Use: SrcInternal, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			*v = Int(int64(time.Now().Nanosecond() / 1000))
			return true
		}},
		&Fetch{Name: "rand", Args: "|i", Out: TInt, Use: SrcInternal, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			n := rand.Uint32()
			if a[0].Set && a[0].I > 0 {
				*v = Int(int64(uint64(n) * uint64(a[0].I) >> 32))
			} else {
				*v = Int(int64(n))
			}
			return true
		}},
		&Fetch{Name: "hostname", Out: TStr, Use: SrcInternal, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Str(hostname); return true }},
		&Fetch{Name: "nbproc", Out: TInt, Use: SrcInternal, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Int(1); return true }},
		&Fetch{Name: "thread", Out: TInt, Use: SrcInternal, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Int(0); return true }},
		&Fetch{Name: "pid", Out: TInt, Use: SrcInternal, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Int(int64(pid)); return true }},
		&Fetch{Name: "var", Args: "v|s", Out: TAny, Use: SrcVars, Fn: fetchVar},

		&Fetch{Name: "src", Out: TAddr, Use: SrcL4Cli, ACL: "ip", Fn: func(c *Ctx, a []Arg, v *Value) bool { return addrOf(c.In.Src(), v) }},
		&Fetch{Name: "src_port", Out: TInt, Use: SrcL4Cli, Fn: func(c *Ctx, a []Arg, v *Value) bool { return portOf(c.In.Src(), v) }},
		&Fetch{Name: "dst", Out: TAddr, Use: SrcL4Cli, ACL: "ip", Fn: func(c *Ctx, a []Arg, v *Value) bool { return addrOf(c.In.Dst(), v) }},
		&Fetch{Name: "dst_port", Out: TInt, Use: SrcL4Cli, Fn: func(c *Ctx, a []Arg, v *Value) bool { return portOf(c.In.Dst(), v) }},

		&Fetch{Name: "fe_name", Out: TStr, Use: SrcFrontend, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			return nameOf(c.In.Frontend().Name, v)
		}},
		&Fetch{Name: "fe_id", Out: TInt, Use: SrcFrontend, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Int(int64(c.In.Frontend().ID)); return true }},
		&Fetch{Name: "fe_conn", Args: "|b", Out: TInt, Use: SrcFrontend, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Int(int64(c.In.Frontend().Conns)); return true }},
		&Fetch{Name: "fe_sess_rate", Args: "|b", Out: TInt, Use: SrcFrontend, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Int(int64(c.In.Frontend().SessRate)); return true }},
		&Fetch{Name: "be_name", Out: TStr, Use: SrcBackend, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			b := c.In.Backend("")
			return b.Found && nameOf(b.Name, v)
		}},
		&Fetch{Name: "be_id", Out: TInt, Use: SrcBackend, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			b := c.In.Backend("")
			*v = Int(int64(b.ID))
			return b.Found
		}},
		&Fetch{Name: "nbsrv", Args: "|b", Out: TInt, Use: SrcInternal, Fn: beInt(func(p ProxyInfo) int { return p.Usable })},
		&Fetch{Name: "be_conn", Args: "|b", Out: TInt, Use: SrcInternal, Fn: beInt(func(p ProxyInfo) int { return p.Conns })},
		&Fetch{Name: "be_sess_rate", Args: "|b", Out: TInt, Use: SrcInternal, Fn: beInt(func(p ProxyInfo) int { return p.SessRate })},
		&Fetch{Name: "queue", Args: "|b", Out: TInt, Use: SrcInternal, Fn: beInt(func(p ProxyInfo) int { return p.Queue })},
		&Fetch{Name: "connslots", Args: "|b", Out: TInt, Use: SrcInternal, Fn: beInt(func(p ProxyInfo) int { return p.Slots })},
		&Fetch{Name: "avg_queue", Args: "|b", Out: TInt, Use: SrcInternal, Fn: beInt(func(p ProxyInfo) int {
			if p.Usable == 0 {
				return p.Queue
			}
			return p.Queue / p.Usable
		})},
		&Fetch{Name: "srv_name", Out: TStr, Use: SrcServer, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			s := c.In.Server("", "")
			return s.Found && nameOf(s.Name, v)
		}},
		&Fetch{Name: "srv_id", Out: TInt, Use: SrcServer, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			s := c.In.Server("", "")
			*v = Int(int64(s.ID))
			return s.Found
		}},
		&Fetch{Name: "srv_is_up", Args: "S", Out: TBool, Use: SrcInternal, Check: checkServerArg, Fn: srvFetch(func(s ServerInfo, v *Value) { *v = Bool(s.Up) })},
		&Fetch{Name: "srv_conn", Args: "S", Out: TInt, Use: SrcInternal, Check: checkServerArg, Fn: srvFetch(func(s ServerInfo, v *Value) { *v = Int(int64(s.Conns)) })},
		&Fetch{Name: "srv_queue", Args: "S", Out: TInt, Use: SrcInternal, Check: checkServerArg, Fn: srvFetch(func(s ServerInfo, v *Value) { *v = Int(int64(s.Queue)) })},
	)
}

var (
	hostname = func() []byte { h, _ := os.Hostname(); return []byte(h) }()
	pid      = os.Getpid()
)

func checkAddrArg(v6 bool) func(a []Arg) error {
	return func(a []Arg) error {
		ad, err := netip.ParseAddr(a[0].S)
		if err != nil || (!v6 && !ad.Is4()) {
			return &argError{1, "failed to parse '" + a[0].S + "' as type 'address' at position 1"}
		}
		if v6 {
			a[0].X = Value{Type: TIPv6, Addr: netip.AddrFrom16(ad.As16())}
		} else {
			a[0].X = Value{Type: TIPv4, Addr: ad}
		}
		return nil
	}
}

func fetchAddrArg(c *Ctx, a []Arg, v *Value) bool {
	*v = a[0].X.(Value)
	return true
}

func fetchEnv(c *Ctx, a []Arg, v *Value) bool {
	s, ok := os.LookupEnv(a[0].S)
	if !ok {
		return false
	}
	start := len(c.buf)
	c.buf = append(c.buf, s...)
	*v = Str(c.grab(start))
	return true
}

func fetchVar(c *Ctx, a []Arg, v *Value) bool {
	vs := c.In.Vars()
	if vs != nil && vs.Get(c, a[0].Var, v) {
		return true
	}
	if a[1].Set {
		*v = Str(a[1].B)
		return true
	}
	return false
}

func addrOf(ap netip.AddrPort, v *Value) bool {
	if !ap.IsValid() {
		return false
	}
	*v = Addr(ap.Addr())
	return true
}

func portOf(ap netip.AddrPort, v *Value) bool {
	if !ap.IsValid() {
		return false
	}
	*v = Int(int64(ap.Port()))
	return true
}

// nameOf views a name as a string sample without copying: names live as long as the
// configuration.
func nameOf(s string, v *Value) bool {
	*v = Str(sbytes(s))
	return true
}

func beInt(f func(p ProxyInfo) int) func(c *Ctx, a []Arg, v *Value) bool {
	return func(c *Ctx, a []Arg, v *Value) bool {
		p := c.In.Backend(a[0].S)
		if !p.Found {
			*v = Int(0)
			return a[0].S == ""
		}
		*v = Int(int64(f(p)))
		return true
	}
}

func checkServerArg(a []Arg) error {
	be, srv := splitServer(a[0].S)
	if srv == "" || be == "" {
		return &argError{1, "failed to parse '" + a[0].S + "' as type 'server' at position 1"}
	}
	return nil
}

func splitServer(s string) (be, srv string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:]
		}
	}
	return "", s
}

func srvFetch(f func(s ServerInfo, v *Value)) func(c *Ctx, a []Arg, v *Value) bool {
	return func(c *Ctx, a []Arg, v *Value) bool {
		be, srv := splitServer(a[0].S)
		s := c.In.Server(be, srv)
		if !s.Found {
			return false
		}
		f(s, v)
		return true
	}
}
