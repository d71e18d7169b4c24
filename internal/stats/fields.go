package stats

import "strings"

// Fields is HAProxy 2.6's `show stat` CSV header, every column in order (the
// static fields, the "-" separator, then the ssl, h2 and h1 module columns).
var Fields = strings.Split("pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out", ",")

var index = func() map[string]int {
	m := make(map[string]int, len(Fields))
	for i, f := range Fields {
		m[f] = i
	}
	return m
}()

// tagWords spell out the tag letters of `show stat typed` as `show stat json` does:
// origin letters alone, nature letters under 'n', scope letters under 's'.
var tagWords = map[uint16]string{
	'K': "Key", 'M': "Metric", 'C': "Config", 'S': "Status", 'P': "Product",
	'n'<<8 | 'N': "Name", 'n'<<8 | 'G': "Gauge", 'n'<<8 | 'M': "Max", 'n'<<8 | 'L': "Limit",
	'n'<<8 | 'C': "Counter", 'n'<<8 | 'R': "Rate", 'n'<<8 | 'A': "Age", 'n'<<8 | 'a': "Avg",
	'n'<<8 | 'O': "Output", 'n'<<8 | 'D': "Duration",
	's'<<8 | 'S': "Service", 's'<<8 | 'P': "Process",
}

// metaOf returns a field's tags and value type in rows of kind k.
func metaOf(name string, k Kind) (tags, kind string) {
	m := meta[name]
	if len(m) == 0 {
		return "MGP", "u32"
	}
	v := m[0]
	if k == Backend && len(m) > 1 {
		v = m[1]
	}
	tags, kind, _ = strings.Cut(v, ":")
	return tags, kind
}

// meta is each field's "tags:type" in `show stat typed`, as HAProxy 2.6.12
// prints them (captured); a second entry is the backend's when it differs.
var meta = map[string][]string{
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
