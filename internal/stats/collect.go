package stats

import (
	"strconv"
	"strings"
	"time"

	"hitless/internal/config"
	"hitless/internal/proxy"
)

// Limits is what Collect reads of the running process besides the state: the
// instance package implements it.
type Limits interface {
	FrontendMaxConn(fe *proxy.Frontend) int
	// FrontendStatus is OPEN, PAUSED or STOP.
	FrontendStatus(fe *proxy.Frontend) string
}

// Options select and shape the rows, as `show stat`'s arguments do.
type Options struct {
	// Proxy keeps one proxy, by name or id ("" for all); Types is a mask (1
	// frontends, 2 backends, 4 servers; -1 all); ServerID keeps one server (-1 all).
	Proxy    string
	Types    int
	ServerID int
	// UpOnly and NoMaint leave out servers not UP, or in maintenance; a backend's
	// status then says how many of its servers are usable ("UP (1/2)").
	UpOnly, NoMaint bool
	// Private fills the columns below the operator level stay empty for: addr,
	// algo.
	Private bool
}

// All is Options for every row, as an operator sees them.
var All = Options{Types: -1, ServerID: -1, Private: true}

// Collect builds the rows of every proxy in configuration order, from the live
// state: per proxy its FRONTEND row, its servers, its BACKEND row. ids are the
// proxies' numeric ids (iid).
func Collect(st *proxy.State, ids map[string]int, l Limits, o Options) []*Row {
	var rows []*Row
	fronts := map[string]*proxy.Frontend{}
	for _, fe := range st.Frontends {
		fronts[fe.Name] = fe
	}
	now := time.Now()
	for _, p := range st.Config.Proxies {
		id := ids[p.Name]
		if o.Proxy != "" && o.Proxy != p.Name && o.Proxy != strconv.Itoa(id) {
			continue
		}
		http := p.Mode == config.ModeHTTP
		if fe := fronts[p.Name]; fe != nil && p.IsFrontend() && o.Types&1 != 0 {
			r := newRow(Frontend, id, 0)
			r.common(p.Name, "FRONTEND", http, &fe.Counters, now)
			r.num("slim", int64(l.FrontendMaxConn(fe)))
			r.unum("dreq", fe.Counters.Denied.Load())
			r.num("dresp", 0)
			r.unum("ereq", fe.Counters.ReqErrors.Load())
			r.set("status", l.FrontendStatus(fe))
			r.set("rate_lim", "0")
			r.unum("req_rate", fe.Counters.ReqRate.Per(now))
			r.unum("req_rate_max", fe.Counters.ReqRate.Max())
			r.unum("req_tot", fe.Counters.Requests.Load()) // 0 in mode tcp, as HAProxy prints
			if http {
				r.zero("cache_lookups", "cache_hits")
			}
			r.unum("conn_rate", fe.Counters.ConnRate.Per(now))
			r.unum("conn_rate_max", fe.Counters.ConnRate.Max())
			r.unum("conn_tot", fe.Counters.TotalConns.Load())
			r.unum("dcon", fe.Counters.DeniedConn.Load())
			r.unum("dses", fe.Counters.DeniedSess.Load())
			r.comp(&fe.Counters)
			if http {
				r.unum("intercepted", fe.Counters.Intercepted.Load())
			}
			rows = append(rows, r)
		}
		b := st.Backends[p.Name]
		if b == nil || !p.IsBackend() {
			continue
		}
		var weight int64
		var act, bck int64
		for _, srv := range b.Servers {
			usable := srv.Usable()
			if usable {
				weight += int64(srv.Weight())
				if srv.Cfg.Backup {
					bck++
				} else {
					act++
				}
			}
			if o.Types&4 == 0 || (o.ServerID > 0 && o.ServerID != srv.ID) {
				continue
			}
			if (o.UpOnly && (!srv.Up() || srv.Maint())) || (o.NoMaint && srv.Maint()) {
				continue
			}
			r := newRow(Server, id, srv.ID)
			r.common(p.Name, srv.Name, http, &srv.Counters, now)
			r.serverOrBackend(&srv.Counters, srv.LastChange(), now)
			// hitless queues per backend, never per server.
			r.zero("qcur", "qmax")
			if m := srv.MaxConn(); m > 0 {
				r.num("slim", int64(m))
			}
			r.num("dresp", 0)
			r.set("status", serverStatus(srv))
			r.num("weight", int64(srv.Weight()))
			if srv.Cfg.Backup {
				r.num("act", 0)
				r.num("bck", 1)
			} else {
				r.num("act", 1)
				r.num("bck", 0)
			}
			r.unum("lbtot", srv.Counters.LBTotal.Load())
			// Check figures only while checks run; in maintenance (checks
			// paused) only chkfail, chkdown and downtime, as in HAProxy.
			if srv.Cfg.Check && srv.ChecksEnabled() {
				failed, down := srv.CheckFailures()
				r.unum("chkfail", failed)
				r.unum("chkdown", down)
				r.num("downtime", int64(srv.Downtime()/time.Second))
				if c := srv.Check(); !srv.Maint() {
					// Before its first check a server is INI; while a check runs
					// HAProxy marks the status "* " and has no duration nor message
					// yet.
					status, desc := c.Status, c.Desc
					if status == "" {
						status, desc = "INI", "Initializing"
					}
					running := srv.Checking()
					if running {
						status = "* " + status
					}
					r.set("check_status", status)
					if c.HasCode {
						r.num("check_code", int64(c.Code))
					}
					if !c.At.IsZero() && !running {
						r.num("check_duration", c.Duration.Milliseconds())
					}
					if !running {
						r.set("last_chk", c.Info)
					}
					r.set("check_desc", desc)
					r.num("check_rise", int64(srv.Cfg.Rise))
					r.num("check_fall", int64(srv.Cfg.Fall))
					r.num("check_health", int64(srv.Health()))
				}
			}
			if srv.Cfg.Agent.Enabled {
				agentColumns(r, srv)
			}
			if o.Private {
				r.set("addr", srv.Addr())
			}
			r.num("uweight", int64(srv.Weight()))
			r.num("used_conn_cur", int64(srv.Conns()))
			// Idle connections kept for reuse; hitless reuses any of them for any
			// request, so all count as safe.
			idle := srv.IdleConns.Load()
			r.num("srv_icur", idle)
			r.num("idle_conn_cur", idle)
			r.num("safe_conn_cur", idle)
			rows = append(rows, r)
		}
		if o.Types&2 == 0 {
			continue
		}
		downs, downtime, changed := b.Downs()
		r := newRow(Backend, id, 0)
		r.common(p.Name, "BACKEND", http, &b.Counters, now)
		r.serverOrBackend(&b.Counters, changed, now)
		r.unum("chkdown", downs)
		r.num("downtime", int64(downtime/time.Second))
		r.num("slim", fullConn(st, b, l))
		r.num("qcur", int64(b.Queued()))
		r.num("qmax", int64(b.MaxQueued()))
		r.unum("dreq", b.Counters.Denied.Load())
		r.num("dresp", 0)
		status := "UP"
		if weight == 0 && len(b.Servers) > 0 {
			status = "DOWN"
		}
		if o.UpOnly || o.NoMaint {
			status += " (" + strconv.FormatInt(act+bck, 10) + "/" + strconv.Itoa(len(b.Servers)) + ")"
		}
		r.set("status", status)
		r.num("weight", weight)
		r.num("act", act)
		r.num("bck", bck)
		r.unum("lbtot", b.Counters.LBTotal.Load())
		if http {
			r.zero("cache_lookups", "cache_hits")
		}
		r.comp(&b.Counters)
		r.zero("agg_server_status", "agg_server_check_status", "agg_check_status")
		if o.Private {
			algo := p.Balance.Algorithm
			if algo == "" {
				algo = "roundrobin"
			}
			r.set("algo", algo)
		}
		r.num("uweight", weight)
		rows = append(rows, r)
	}
	return rows
}

// common fills the columns every row has.
func (r *Row) common(px, sv string, http bool, c *proxy.Counters, now time.Time) {
	r.set("pxname", px)
	r.set("svname", sv)
	r.num("scur", c.CurConns.Load())
	r.num("smax", c.MaxConns.Load())
	r.unum("stot", c.TotalConns.Load())
	r.unum("bin", c.BytesIn.Load())
	r.unum("bout", c.BytesOut.Load())
	r.num("pid", 1)
	r.num("iid", int64(r.ProxyID))
	r.num("sid", int64(r.ID))
	r.num("type", int64(r.Kind))
	r.unum("rate", c.ConnRate.Per(now))
	r.unum("rate_max", c.ConnRate.Max())
	if http {
		for i, name := range []string{"hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"} {
			r.unum(name, c.Responses[i].Load())
		}
		r.unum("req_tot", c.Requests.Load())
	}
	mode := "tcp"
	if http {
		mode = "http"
	}
	r.set("mode", mode)
	r.unum("wrew", c.FailedRewrites.Load())
	r.zero("eint")
	r.set("-", "-")
	// hitless has neither TLS nor HTTP/2: those module counters are exactly 0. The h1
	// module's columns stay empty (HAProxy's mux-level counts are not kept).
	r.zero("ssl_sess", "ssl_reused_sess", "ssl_failed_handshake")
	if r.Kind != Server {
		r.zero(h2Fields...)
	}
}

// h2Fields are the h2 module's columns, filled on frontends and backends.
var h2Fields = func() []string {
	var out []string
	for _, f := range Fields {
		if strings.HasPrefix(f, "h2_") {
			out = append(out, f)
		}
	}
	return out
}()

// serverOrBackend fills the columns that servers and backends share.
func (r *Row) serverOrBackend(c *proxy.Counters, changed, now time.Time) {
	r.unum("econ", c.ConnErrors.Load())
	r.unum("eresp", c.RespErrors.Load())
	r.unum("wretr", c.Retries.Load())
	r.unum("wredis", c.Redispatch.Load())
	r.unum("cli_abrt", c.CliAborts.Load())
	r.unum("srv_abrt", c.SrvAborts.Load())
	r.unum("connect", c.Connects.Load())
	r.unum("reuse", c.Reuses.Load())
	r.num("lastchg", int64(now.Sub(changed)/time.Second))
	last := int64(-1)
	if t := c.LastSess.Load(); t > 0 {
		last = now.Unix() - t
	}
	r.num("lastsess", last)
	for i, name := range []string{"qtime", "ctime", "rtime", "ttime"} {
		r.unum(name, c.Average(i))
		r.unum(name+"_max", c.Max(i))
	}
}

// fullConn is a backend's slim: HAProxy's default fullconn, a tenth (rounded up) of
// the maxconn of the frontends that route to it.
func fullConn(st *proxy.State, b *proxy.Backend, l Limits) int64 {
	var sum int64
	for _, fe := range st.Frontends {
		uses := fe.Default == b
		for _, r := range fe.Rules {
			uses = uses || r.Backend == b
		}
		if uses {
			sum += int64(l.FrontendMaxConn(fe))
		}
	}
	return (sum + 9) / 10
}

// agentColumns fills the agent's columns as HAProxy does: its last outcome, rise
// and fall 1, health 0 while the agent holds the server DOWN.
func agentColumns(r *Row, srv *proxy.Server) {
	a, down, _ := srv.Agent()
	status, desc := a.Status, a.Desc
	if status == "" {
		status, desc = "INI", "Initializing"
	}
	r.set("agent_status", status)
	if a.HasCode {
		r.num("agent_code", int64(a.Code))
	}
	if !a.At.IsZero() {
		r.num("agent_duration", a.Duration.Milliseconds())
	}
	r.set("last_agt", a.Info)
	r.set("agent_desc", desc)
	r.num("agent_rise", 1)
	r.num("agent_fall", 1)
	health := int64(1)
	if down {
		health = 0
	}
	r.num("agent_health", health)
}

// serverStatus is a server's `status` column: MAINT, DOWN (agent), DRAIN (agent),
// DRAIN, NOLB, UP or DOWN, "no check" for a running server without checks, and while
// checks move a server towards the other state, how far: "UP i/n" (failing: i =
// health-rise+1 of fall) or "DOWN i/n" (passing: i of rise).
func serverStatus(s *proxy.Server) string {
	checks := s.Cfg.Check && s.ChecksEnabled()
	h, rise, fall := s.Health(), max(s.Cfg.Rise, 1), max(s.Cfg.Fall, 1)
	_, agentDown, agentDrain := s.Agent()
	var name string
	switch op := s.OpState(); {
	case s.Maint():
		return "MAINT"
	case agentDown && s.Cfg.Agent.Enabled:
		return "DOWN (agent)"
	case op == proxy.OpStopped:
		if checks && h > 0 {
			return "DOWN " + strconv.Itoa(h) + "/" + strconv.Itoa(rise)
		}
		return "DOWN"
	case agentDrain:
		name = "DRAIN (agent)"
	case s.Drain():
		name = "DRAIN"
	case op == proxy.OpStopping:
		name = "NOLB"
	case !checks: // `disable health` shows "no check" too, as in HAProxy
		return "no check"
	default:
		name = "UP"
	}
	if checks && h < rise+fall-1 {
		return name + " " + strconv.Itoa(h-rise+1) + "/" + strconv.Itoa(fall)
	}
	return name
}

// comp fills the compression columns.
func (r *Row) comp(c *proxy.Counters) {
	r.unum("comp_in", c.CompIn.Load())
	r.unum("comp_out", c.CompOut.Load())
	r.unum("comp_byp", c.CompByp.Load())
	r.unum("comp_rsp", c.CompRsp.Load())
}
