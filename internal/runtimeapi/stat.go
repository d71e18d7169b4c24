package runtimeapi

import (
	"bufio"
	"strconv"
	"strings"
	"time"

	"hitless/internal/config"
	"hitless/internal/proxy"
)

// statFields is HAProxy 2.6's `show stat` CSV header, every column in order (the
// static fields, the "-" separator, then the ssl, h2 and h1 module columns).
var statFields = strings.Split("pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out", ",")

var statIndex = func() map[string]int {
	m := make(map[string]int, len(statFields))
	for i, f := range statFields {
		m[f] = i
	}
	return m
}()

// statRow is one CSV line being filled; columns hitless does not measure stay empty,
// as HAProxy leaves the fields that do not apply.
type statRow []string

func newStatRow() statRow { return make(statRow, len(statFields)) }

func (r statRow) set(name, v string) { r[statIndex[name]] = v }

func (r statRow) num(name string, n int64) { r.set(name, strconv.FormatInt(n, 10)) }

func (r statRow) write(w *bufio.Writer) {
	for _, v := range r {
		w.WriteString(v)
		w.WriteByte(',')
	}
	w.WriteByte('\n')
}

// StatCommand is `show stat`: HAProxy 2.6's CSV, with every field hitless measures.
// maxconn returns the effective maxconn of a frontend.
func StatCommand(st *proxy.State, proxyIDs map[string]int, maxconn func(fe *proxy.Frontend) int, stopping func() bool) Command {
	return Command{Words: []string{"show", "stat"}, Level: LevelUser, Usage: Usage("show stat [desc|json|no-maint|typed|up]*", "report counters for each proxy and server"),
		Run: func(s *Session, args []string, w *bufio.Writer) error {
			for _, a := range args {
				if a == "json" || a == "typed" || a == "desc" {
					w.WriteString("'show stat " + a + "' is not supported yet.\n")
					return nil
				}
			}
			upOnly, noMaint := false, false
			filterPx, filterType, filterSid := "", -1, -1
			var words []string
			for _, a := range args {
				switch a {
				case "up":
					upOnly = true
				case "no-maint":
					noMaint = true
				default:
					words = append(words, a)
				}
			}
			if len(words) == 3 {
				filterPx = words[0]
				if filterPx == "-1" {
					filterPx = ""
				}
				filterType, _ = strconv.Atoi(words[1])
				filterSid, _ = strconv.Atoi(words[2])
				if filterPx != "" && st.Backends[filterPx] == nil && !hasFrontend(st, filterPx) {
					if _, err := strconv.Atoi(filterPx); err != nil {
						w.WriteString("No such proxy.\n")
						return nil
					}
				}
			}
			w.WriteString("# ")
			for _, f := range statFields {
				w.WriteString(f)
				w.WriteByte(',')
			}
			w.WriteByte('\n')
			fronts := map[string]*proxy.Frontend{}
			for _, fe := range st.Frontends {
				fronts[fe.Name] = fe
			}
			for _, p := range st.Config.Proxies {
				id := proxyIDs[p.Name]
				if filterPx != "" && filterPx != p.Name && filterPx != strconv.Itoa(id) {
					continue
				}
				mode := p.Mode.String()
				if fe := fronts[p.Name]; fe != nil && p.IsFrontend() && filterType&1 != 0 {
					r := newStatRow()
					r.set("pxname", p.Name)
					r.set("svname", "FRONTEND")
					r.num("scur", fe.Counters.CurConns.Load())
					r.num("slim", int64(maxconn(fe)))
					r.num("stot", int64(fe.Counters.TotalConns.Load()))
					r.num("bin", int64(fe.Counters.BytesIn.Load()))
					r.num("bout", int64(fe.Counters.BytesOut.Load()))
					status := "OPEN"
					if stopping() {
						status = "STOP"
					}
					r.set("status", status)
					r.set("pid", "1")
					r.num("iid", int64(id))
					r.set("sid", "0")
					r.set("type", "0")
					if p.Mode == config.ModeHTTP {
						r.num("req_tot", int64(fe.Counters.Requests.Load()))
					}
					r.set("mode", mode)
					r.num("conn_tot", int64(fe.Counters.TotalConns.Load()))
					r.write(w)
				}
				b := st.Backends[p.Name]
				if b == nil || !p.IsBackend() {
					continue
				}
				var weight int64
				var act, bck int64
				for i, srv := range b.Servers {
					usable := srv.Up() && srv.Admin() == 0 && srv.Weight() > 0
					if usable {
						weight += int64(srv.Weight())
						if srv.Cfg.Backup {
							bck++
						} else {
							act++
						}
					}
					if filterType&4 == 0 || (filterSid > 0 && filterSid != i+1) {
						continue
					}
					if (upOnly && (!srv.Up() || srv.Maint())) || (noMaint && srv.Maint()) {
						continue
					}
					r := newStatRow()
					r.set("pxname", p.Name)
					r.set("svname", srv.Name)
					r.num("scur", int64(srv.Conns()))
					if m := srv.MaxConn(); m > 0 {
						r.num("slim", int64(m))
					}
					r.num("stot", int64(srv.Counters.TotalConns.Load()))
					r.num("bin", int64(srv.Counters.BytesIn.Load()))
					r.num("bout", int64(srv.Counters.BytesOut.Load()))
					r.set("status", serverStatus(srv))
					r.num("weight", int64(srv.Weight()))
					if srv.Cfg.Backup {
						r.set("act", "0")
						r.set("bck", "1")
					} else {
						r.set("act", "1")
						r.set("bck", "0")
					}
					r.num("lastchg", int64(time.Since(srv.LastChange())/time.Second))
					r.set("pid", "1")
					r.num("iid", int64(id))
					r.num("sid", int64(i+1))
					r.num("lbtot", int64(srv.Counters.TotalConns.Load()))
					r.set("type", "2")
					if srv.Cfg.Check {
						c := srv.Check()
						r.set("check_status", c.Status)
						r.set("check_desc", c.Desc)
						r.num("check_rise", int64(srv.Cfg.Rise))
						r.num("check_fall", int64(srv.Cfg.Fall))
						if srv.Up() {
							r.num("check_health", int64(srv.Cfg.Rise+srv.Cfg.Fall-1))
						} else {
							r.set("check_health", "0")
						}
					}
					if s.Level >= LevelOperator {
						r.set("addr", srv.Addr)
					}
					r.set("mode", mode)
					r.num("uweight", int64(srv.Weight()))
					r.write(w)
				}
				if filterType&2 == 0 {
					continue
				}
				r := newStatRow()
				r.set("pxname", p.Name)
				r.set("svname", "BACKEND")
				r.num("qcur", int64(b.Queued()))
				r.num("scur", b.Counters.CurConns.Load())
				r.num("stot", int64(b.Counters.TotalConns.Load()))
				r.num("bin", int64(b.Counters.BytesIn.Load()))
				r.num("bout", int64(b.Counters.BytesOut.Load()))
				status := "UP"
				if weight == 0 && len(b.Servers) > 0 {
					status = "DOWN"
				}
				if upOnly || noMaint {
					status += " (" + strconv.FormatInt(act+bck, 10) + "/" + strconv.Itoa(len(b.Servers)) + ")"
				}
				r.set("status", status)
				r.num("weight", weight)
				r.num("act", act)
				r.num("bck", bck)
				r.set("pid", "1")
				r.num("iid", int64(id))
				r.set("sid", "0")
				r.num("lbtot", int64(b.Counters.TotalConns.Load()))
				r.set("type", "1")
				if p.Mode == config.ModeHTTP {
					r.num("req_tot", int64(b.Counters.Requests.Load()))
				}
				r.set("mode", mode)
				algo := p.Balance.Algorithm
				if algo == "" {
					algo = "roundrobin"
				}
				r.set("algo", algo)
				r.write(w)
			}
			return nil
		}}
}

func hasFrontend(st *proxy.State, name string) bool {
	for _, fe := range st.Frontends {
		if fe.Name == name {
			return true
		}
	}
	return false
}

// serverStatus is a server's `status` column.
func serverStatus(s *proxy.Server) string {
	switch {
	case s.Maint():
		return "MAINT"
	case s.Drain():
		return "DRAIN"
	case (!s.Cfg.Check || !s.ChecksEnabled()) && s.Up(): // `disable health` shows "no check" too, as in HAProxy
		return "no check"
	case s.Up():
		return "UP"
	}
	return "DOWN"
}
