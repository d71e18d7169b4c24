package runtimeapi

import (
	"bufio"
	"fmt"
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

// statOut writes rows in one of `show stat`'s formats: csv (the default), typed or
// json.
type statOut struct {
	w      *bufio.Writer
	format string
	rows   int
}

func (o *statOut) begin() {
	switch o.format {
	case "csv":
		o.w.WriteString("# ")
		for _, f := range statFields {
			o.w.WriteString(f)
			o.w.WriteByte(',')
		}
		o.w.WriteByte('\n')
	case "json":
		o.w.WriteByte('[')
	}
}

func (o *statOut) row(r statRow) {
	w := o.w
	o.rows++
	switch o.format {
	case "csv":
		for _, v := range r {
			writeCSVField(w, v)
			w.WriteByte(',')
		}
		w.WriteByte('\n')
		return
	case "json":
		if o.rows > 1 {
			w.WriteByte(',')
		}
		w.WriteByte('[')
	}
	typ := r[statIndex["type"]]
	first := true
	for i, v := range r {
		name := statFields[i]
		if v == "" || name == "-" {
			continue
		}
		// Past the "-" pseudo-column, positions count the module fields from 103.
		pos := i
		if i > statIndex["-"] {
			pos--
		}
		tags, kind := statMetaOf(name, typ)
		if o.format == "typed" {
			fmt.Fprintf(w, "%c.%s.%s.%d.%s.1:%s:%s:%s\n", "FBS"[typ[0]-'0'], r[statIndex["iid"]], r[statIndex["sid"]], pos, name, tags, kind, v)
			continue
		}
		if !first {
			w.WriteByte(',')
		}
		first = false
		fmt.Fprintf(w, `{"objType":"%s","proxyId":%s,"id":%s,"field":{"pos":%d,"name":"%s"},"processNum":1,"tags":{"origin":"%s","nature":"%s","scope":"%s"},"value":{"type":"%s","value":`,
			[]string{"Frontend", "Backend", "Server"}[typ[0]-'0'], r[statIndex["iid"]], r[statIndex["sid"]], pos, name,
			tagWords[uint16(tags[0])], tagWords['n'<<8|uint16(tags[1])], tagWords['s'<<8|uint16(tags[2])], kind)
		writeJSONValue(w, kind, v)
		w.WriteString("}}")
	}
	if o.format == "json" {
		w.WriteByte(']')
	}
}

func (o *statOut) end() {
	if o.format == "json" {
		o.w.WriteString("]\n")
	}
}

// writeJSONString writes s as a JSON string.
func writeJSONString(w *bufio.Writer, s string) {
	w.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			w.WriteByte('\\')
			w.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(w, "\\u%04x", c)
		default:
			w.WriteByte(c)
		}
	}
	w.WriteByte('"')
}

// tagWords spell out the tag letters of `show stat typed` as `show stat json` does:
// origin letters alone, nature letters under 'n', scope letters under 's'.
var tagWords = map[uint16]string{
	'K': "Key", 'M': "Metric", 'C': "Config", 'S': "Status", 'P': "Product",
	'n'<<8 | 'N': "Name", 'n'<<8 | 'G': "Gauge", 'n'<<8 | 'M': "Max", 'n'<<8 | 'L': "Limit",
	'n'<<8 | 'C': "Counter", 'n'<<8 | 'R': "Rate", 'n'<<8 | 'A': "Age", 'n'<<8 | 'a': "Avg",
	'n'<<8 | 'O': "Output", 'n'<<8 | 'D': "Duration",
	's'<<8 | 'S': "Service", 's'<<8 | 'P': "Process",
}

// statMetaOf returns a field's tags and value type for a row type ("0" frontend, "1"
// backend, "2" server).
func statMetaOf(name, typ string) (tags, kind string) {
	m := statMeta[name]
	if len(m) == 0 {
		return "MGP", "u32"
	}
	v := m[0]
	if typ == "1" && len(m) > 1 {
		v = m[1]
	}
	tags, kind, _ = strings.Cut(v, ":")
	return tags, kind
}

// statMeta is each field's "tags:type" in `show stat typed`, as HAProxy 2.6.12
// prints them (captured); a second entry is the backend's when it differs.
var statMeta = map[string][]string{
	"pxname":                           {"KNS:str"},
	"svname":                           {"KNS:str"},
	"qcur":                             {"MGP:u32"},
	"qmax":                             {"MMP:u32"},
	"scur":                             {"MGP:u32"},
	"smax":                             {"MMP:u32"},
	"slim":                             {"CLP:u32"},
	"stot":                             {"MCP:u64"},
	"bin":                              {"MCP:u64"},
	"bout":                             {"MCP:u64"},
	"dreq":                             {"MCP:u64"},
	"dresp":                            {"MCP:u64"},
	"ereq":                             {"MCP:u64"},
	"econ":                             {"MCP:u64"},
	"eresp":                            {"MCP:u64"},
	"wretr":                            {"MCP:u64"},
	"wredis":                           {"MCP:u64"},
	"status":                           {"SGP:str"},
	"weight":                           {"MaP:u32"},
	"act":                              {"SGP:u32", "MGP:u32"}, // servers and frontends, backends
	"bck":                              {"SGP:u32", "MGP:u32"}, // servers and frontends, backends
	"chkfail":                          {"MCP:u64"},
	"chkdown":                          {"MCP:u64"},
	"lastchg":                          {"MAP:u32"},
	"downtime":                         {"MCP:u32"},
	"pid":                              {"KGP:u32"},
	"iid":                              {"KGS:u32"},
	"sid":                              {"KGS:u32"},
	"lbtot":                            {"MCP:u64"},
	"type":                             {"CGS:u32"},
	"rate":                             {"MRP:u32", "MGP:u32"}, // servers and frontends, backends
	"rate_lim":                         {"CLP:u32"},
	"rate_max":                         {"MMP:u32", "MGP:u32"}, // servers and frontends, backends
	"check_status":                     {"MOP:str"},
	"check_code":                       {"MOP:u32"},
	"check_duration":                   {"MDP:u64"},
	"hrsp_1xx":                         {"MCP:u64"},
	"hrsp_2xx":                         {"MCP:u64"},
	"hrsp_3xx":                         {"MCP:u64"},
	"hrsp_4xx":                         {"MCP:u64"},
	"hrsp_5xx":                         {"MCP:u64"},
	"hrsp_other":                       {"MCP:u64"},
	"req_rate":                         {"MRP:u32"},
	"req_rate_max":                     {"MMP:u32"},
	"req_tot":                          {"MCP:u64"},
	"cli_abrt":                         {"MCP:u64"},
	"srv_abrt":                         {"MCP:u64"},
	"comp_in":                          {"MCP:u64"},
	"comp_out":                         {"MCP:u64"},
	"comp_byp":                         {"MCP:u64"},
	"comp_rsp":                         {"MCP:u64"},
	"lastsess":                         {"MAP:s32"},
	"last_chk":                         {"MOP:str"},
	"qtime":                            {"MaP:u32"},
	"ctime":                            {"MaP:u32"},
	"rtime":                            {"MaP:u32"},
	"ttime":                            {"MaP:u32"},
	"check_desc":                       {"MOP:str"},
	"last_agt":                         {"MOP:str"},
	"agent_status":                     {"MOP:str"},
	"agent_code":                       {"MOP:u32"},
	"agent_duration":                   {"MDP:u64"},
	"agent_desc":                       {"MOP:str"},
	"agent_rise":                       {"CGS:u32"},
	"agent_fall":                       {"CGS:u32"},
	"agent_health":                     {"CGS:u32"},
	"check_rise":                       {"CGS:u32"},
	"check_fall":                       {"CGS:u32"},
	"check_health":                     {"CGS:u32"},
	"addr":                             {"CGS:str"},
	"mode":                             {"CGS:str"},
	"algo":                             {"CGS:str"},
	"conn_rate":                        {"MRP:u32"},
	"conn_rate_max":                    {"MMP:u32"},
	"conn_tot":                         {"MCP:u64"},
	"intercepted":                      {"MCP:u64"},
	"dcon":                             {"MCP:u64"},
	"dses":                             {"MCP:u64"},
	"wrew":                             {"MCP:u64"},
	"connect":                          {"MCP:u64"},
	"reuse":                            {"MCP:u64"},
	"cache_lookups":                    {"MCP:u64"},
	"cache_hits":                       {"MCP:u64"},
	"srv_icur":                         {"MGP:u32"},
	"qtime_max":                        {"MMP:u32"},
	"ctime_max":                        {"MMP:u32"},
	"rtime_max":                        {"MMP:u32"},
	"ttime_max":                        {"MMP:u32"},
	"eint":                             {"MCP:u64"},
	"idle_conn_cur":                    {"MGP:u32"},
	"safe_conn_cur":                    {"MGP:u32"},
	"used_conn_cur":                    {"MGP:u32"},
	"need_conn_est":                    {"MGP:u32"},
	"uweight":                          {"MaP:u32"},
	"agg_server_status":                {"MGP:u32"},
	"agg_server_check_status":          {"MGP:u32"},
	"agg_check_status":                 {"MGP:u32"},
	"ssl_sess":                         {"MCP:u64"},
	"ssl_reused_sess":                  {"MCP:u64"},
	"ssl_failed_handshake":             {"MCP:u64"},
	"h2_headers_rcvd":                  {"MCP:u64"},
	"h2_data_rcvd":                     {"MCP:u64"},
	"h2_settings_rcvd":                 {"MCP:u64"},
	"h2_rst_stream_rcvd":               {"MCP:u64"},
	"h2_goaway_rcvd":                   {"MCP:u64"},
	"h2_detected_conn_protocol_errors": {"MCP:u64"},
	"h2_detected_strm_protocol_errors": {"MCP:u64"},
	"h2_rst_stream_resp":               {"MCP:u64"},
	"h2_goaway_resp":                   {"MCP:u64"},
	"h2_open_connections":              {"MGP:u64"},
	"h2_backend_open_streams":          {"MGP:u64"},
	"h2_total_connections":             {"MCP:u64"},
	"h2_backend_total_streams":         {"MCP:u64"},
	"h1_open_connections":              {"MGP:u64"},
	"h1_open_streams":                  {"MGP:u64"},
	"h1_total_connections":             {"MCP:u64"},
	"h1_total_streams":                 {"MCP:u64"},
	"h1_bytes_in":                      {"MCP:u64"},
	"h1_bytes_out":                     {"MCP:u64"},
	"h1_spliced_bytes_in":              {"MCP:u64"},
	"h1_spliced_bytes_out":             {"MCP:u64"},
}

// StatCommand is `show stat`: HAProxy 2.6's CSV, with every field hitless measures.
func StatCommand(st *proxy.State, proxyIDs map[string]int, l Limits) Command {
	return Command{Words: []string{"show", "stat"}, Level: LevelUser, Usage: Usage("show stat [desc|json|no-maint|typed|up]*", "report counters for each proxy and server"),
		Run: func(s *Session, args []string, w *bufio.Writer) error {
			out := &statOut{w: w, format: "csv"}
			upOnly, noMaint := false, false
			filterPx, filterType, filterSid := "", -1, -1
			var words []string
			for _, a := range args {
				switch a {
				case "up":
					upOnly = true
				case "no-maint":
					noMaint = true
				case "typed", "json":
					out.format = a
				case "desc":
					w.WriteString("'show stat desc' is not supported yet.\n")
					return nil
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
			out.begin()
			defer out.end()
			fronts := map[string]*proxy.Frontend{}
			for _, fe := range st.Frontends {
				fronts[fe.Name] = fe
			}
			now := time.Now()
			for _, p := range st.Config.Proxies {
				id := proxyIDs[p.Name]
				if filterPx != "" && filterPx != p.Name && filterPx != strconv.Itoa(id) {
					continue
				}
				http := p.Mode == config.ModeHTTP
				if fe := fronts[p.Name]; fe != nil && p.IsFrontend() && filterType&1 != 0 {
					r := newStatRow()
					r.common(p.Name, "FRONTEND", id, 0, 0, http, &fe.Counters)
					r.num("slim", int64(l.FrontendMaxConn(fe)))
					r.unum("dreq", fe.Counters.Denied.Load())
					r.set("dresp", "0")
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
					r.zero("comp_in", "comp_out", "comp_byp", "comp_rsp", "dcon", "dses")
					if http {
						r.set("intercepted", "0")
					}
					out.row(r)
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
					if filterType&4 == 0 || (filterSid > 0 && filterSid != srv.ID) {
						continue
					}
					if (upOnly && (!srv.Up() || srv.Maint())) || (noMaint && srv.Maint()) {
						continue
					}
					r := newStatRow()
					r.common(p.Name, srv.Name, id, srv.ID, 2, http, &srv.Counters)
					r.serverOrBackend(&srv.Counters, srv.LastChange(), now)
					// hitless queues per backend, never per server.
					r.zero("qcur", "qmax")
					if m := srv.MaxConn(); m > 0 {
						r.num("slim", int64(m))
					}
					r.set("dresp", "0")
					r.set("status", serverStatus(srv))
					r.num("weight", int64(srv.Weight()))
					if srv.Cfg.Backup {
						r.set("act", "0")
						r.set("bck", "1")
					} else {
						r.set("act", "1")
						r.set("bck", "0")
					}
					r.unum("lbtot", srv.Counters.TotalConns.Load())
					if srv.Cfg.Check {
						c := srv.Check()
						failed, down := srv.CheckFailures()
						r.unum("chkfail", failed)
						r.unum("chkdown", down)
						r.num("downtime", int64(srv.Downtime()/time.Second))
						// Before its first check a server is INI; while a check runs
						// HAProxy marks the status "* " and has no duration nor
						// message yet.
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
						r.num("check_health", int64(serverHealth(srv)))
					}
					if srv.Cfg.Agent.Enabled {
						// The agent's columns, as HAProxy fills them: rise and fall 1,
						// health 0 while the agent holds the server DOWN.
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
					if s.Level >= LevelOperator {
						r.set("addr", srv.Addr())
					}
					r.num("uweight", int64(srv.Weight()))
					out.row(r)
				}
				if filterType&2 == 0 {
					continue
				}
				r := newStatRow()
				downs, downtime, changed := b.Downs()
				r.common(p.Name, "BACKEND", id, 0, 1, http, &b.Counters)
				r.serverOrBackend(&b.Counters, changed, now)
				r.unum("chkdown", downs)
				r.num("downtime", int64(downtime/time.Second))
				r.num("slim", fullConn(st, b, l))
				r.num("qcur", int64(b.Queued()))
				r.num("qmax", int64(b.MaxQueued()))
				r.unum("dreq", b.Counters.Denied.Load())
				r.set("dresp", "0")
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
				r.unum("lbtot", b.Counters.TotalConns.Load())
				if http {
					r.zero("cache_lookups", "cache_hits")
				}
				r.zero("comp_in", "comp_out", "comp_byp", "comp_rsp", "agg_server_status", "agg_server_check_status", "agg_check_status")
				if s.Level >= LevelOperator {
					algo := p.Balance.Algorithm
					if algo == "" {
						algo = "roundrobin"
					}
					r.set("algo", algo)
				}
				r.num("uweight", weight)
				out.row(r)
			}
			return nil
		}}
}

// common fills the columns every row has.
func (r statRow) common(px, sv string, iid, sid, typ int, http bool, c *proxy.Counters) {
	r.set("pxname", px)
	r.set("svname", sv)
	r.num("scur", c.CurConns.Load())
	r.num("smax", c.MaxConns.Load())
	r.unum("stot", c.TotalConns.Load())
	r.unum("bin", c.BytesIn.Load())
	r.unum("bout", c.BytesOut.Load())
	r.set("pid", "1")
	r.num("iid", int64(iid))
	r.num("sid", int64(sid))
	r.num("type", int64(typ))
	r.unum("rate", c.ConnRate.Per(time.Now()))
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
	r.zero("wrew", "eint")
	r.set("-", "-")
	// hitless has neither TLS nor HTTP/2: those module counters are exactly 0. The h1
	// module's columns stay empty (HAProxy's mux-level counts are not kept).
	r.zero("ssl_sess", "ssl_reused_sess", "ssl_failed_handshake")
	if typ != 2 {
		r.zero(h2Fields...)
	}
}

// h2Fields are the h2 module's columns, filled on frontends and backends.
var h2Fields = func() []string {
	var out []string
	for _, f := range statFields {
		if strings.HasPrefix(f, "h2_") {
			out = append(out, f)
		}
	}
	return out
}()

// serverOrBackend fills the columns that servers and backends share.
func (r statRow) serverOrBackend(c *proxy.Counters, changed, now time.Time) {
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

func (r statRow) unum(name string, n uint64) { r.set(name, strconv.FormatUint(n, 10)) }

func (r statRow) zero(names ...string) {
	for _, n := range names {
		r.set(n, "0")
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

// serverHealth is HAProxy's health counter of a server: the last check's, else rise
// when up (HAProxy's starting value) and 0 when down.
func serverHealth(s *proxy.Server) int {
	if c := s.Check(); !c.At.IsZero() {
		return c.Health
	}
	if s.Up() {
		return s.Cfg.Rise
	}
	return 0
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
	}
	if _, down, drain := s.Agent(); down && s.Cfg.Agent.Enabled {
		return "DOWN (agent)"
	} else if drain && s.Drain() {
		return "DRAIN (agent)"
	}
	switch {
	case s.Drain():
		return "DRAIN"
	case (!s.Cfg.Check || !s.ChecksEnabled()) && s.Up(): // `disable health` shows "no check" too, as in HAProxy
		return "no check"
	}
	// While checks move a server towards the other state, HAProxy shows how far:
	// "UP i/n" (failing: i = health-rise+1 of fall) or "DOWN i/n" (passing: i of rise).
	c := s.Check()
	rise, fall := max(s.Cfg.Rise, 1), max(s.Cfg.Fall, 1)
	up := "UP"
	if s.NOLB() {
		up = "NOLB"
	}
	// A state forced from outside the checks (`set server health`, the stats page)
	// leaves a health counter that does not fit it until the next check: no count then.
	switch {
	case s.Up() && !c.At.IsZero() && c.Health >= rise && c.Health < rise+fall-1:
		return up + " " + strconv.Itoa(c.Health-rise+1) + "/" + strconv.Itoa(fall)
	case s.Up():
		return up
	case !c.At.IsZero() && c.Health > 0 && c.Health < rise:
		return "DOWN " + strconv.Itoa(c.Health) + "/" + strconv.Itoa(rise)
	}
	return "DOWN"
}

// writeCSVField writes one CSV value, quoted only when it holds a separator, a quote
// or a line break (a check's reason phrase comes from the server), as HAProxy encodes
// its string fields.
func writeCSVField(w *bufio.Writer, v string) {
	if !strings.ContainsAny(v, ",\"\r\n") {
		w.WriteString(v)
		return
	}
	w.WriteByte('"')
	w.WriteString(strings.ReplaceAll(v, `"`, `""`))
	w.WriteByte('"')
}
