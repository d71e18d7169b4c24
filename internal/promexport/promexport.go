// Package promexport is HAProxy's Prometheus exporter (`http-request use-service
// prometheus-exporter`): the haproxy_process_*, haproxy_frontend_*, haproxy_backend_*
// and haproxy_server_* metrics with HAProxy 2.6's names, HELP texts, types and labels,
// written by the Prometheus client library. It keeps no counters of its own: each
// scrape reads `show info` (package runtimeapi) and the rows of package stats
// directly, and exports a metric only where hitless fills the matching field. The instance package builds one
// Exporter; the http engine runs it as an applet.
package promexport

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"hitless/internal/runtimeapi"
	"hitless/internal/sample"
	"hitless/internal/stats"
)

// Source is where the exporter reads at scrape time.
type Source struct {
	Info func() []runtimeapi.Field // `show info`
	Stat func() []*stats.Row       // the statistics of every proxy and server
}

// Exporter answers scrapes; it implements the http engine's Applet.
type Exporter struct {
	src Source
}

// New returns an exporter reading src.
func New(src Source) *Exporter { return &Exporter{src: src} }

// scopes are the values of HAProxy's `scope` query parameter that hitless has.
var scopes = map[string]bool{"global": true, "frontend": true, "backend": true, "server": true}

// ServeApplet answers one scrape. As in HAProxy, `?scope=frontend&scope=server`
// limits the output to those kinds ("*" or no scope for all), and `?no-maint` leaves
// out servers in maintenance.
func (x *Exporter) ServeApplet(w http.ResponseWriter, r *http.Request, _ *sample.Ctx) {
	q := r.URL.Query()
	c := &collector{src: x.src, scopes: map[string]bool{}, noMaint: q.Has("no-maint")}
	for _, s := range q["scope"] {
		if s == "*" {
			c.scopes = nil
			break
		}
		if scopes[s] {
			c.scopes[s] = true
		}
	}
	if len(q["scope"]) == 0 {
		c.scopes = nil
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
}

// ServeHTTP lets the exporter be used as a plain net/http handler.
func (x *Exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) { x.ServeApplet(w, r, nil) }

const (
	gauge   = prometheus.GaugeValue
	counter = prometheus.CounterValue
	ms      = 0.001 // the field is in milliseconds, the metric in seconds
)

// metric is one row of a metric table: the `show info` or `show stat` field it reads,
// the metric name after its haproxy_<kind>_ prefix, its type, HAProxy's HELP text,
// and the factor from the field's unit to the metric's.
type metric struct {
	field string
	name  string
	typ   prometheus.ValueType
	help  string
	scale float64
}

// statMetric is a metric row with the kinds of `show stat` rows it applies to.
type statMetric struct {
	kinds string
	metric
}

// unsafeIdle is a field of no `show stat` column: the idle connections that are not
// safe, idle_conn_cur - safe_conn_cur, as HAProxy's exporter derives it.
const unsafeIdle = "unsafe idle"

// unsetAsNaN are the server fields HAProxy 2.6 exports as NaN when they are not
// configured (maxconn, maxqueue, slowstart, pool-max-conn), where `show stat` is empty.
var unsetAsNaN = map[string]bool{"slim": true, "qlimit": true, "throttle": true, "src_ilim": true}

// statMetrics maps `show stat` fields to the metrics of the kinds that have them
// (f frontend, b backend, s server): haproxy_<kind>_<name>.
var statMetrics = []statMetric{
	{"fbs", metric{"scur", "current_sessions", gauge, "Number of current sessions on the frontend, backend or server", 1}},
	{"fbs", metric{"smax", "max_sessions", gauge, "Highest value of current sessions encountered since process started", 1}},
	{"fbs", metric{"slim", "limit_sessions", gauge, "Frontend/listener/server's maxconn, backend's fullconn", 1}},
	{"fbs", metric{"stot", "sessions_total", counter, "Total number of sessions since process started", 1}},
	{"fbs", metric{"bin", "bytes_in_total", counter, "Total number of request bytes since process started", 1}},
	{"fbs", metric{"bout", "bytes_out_total", counter, "Total number of response bytes since process started", 1}},
	{"fb", metric{"dreq", "requests_denied_total", counter, "Total number of denied requests since process started", 1}},
	{"fbs", metric{"dresp", "responses_denied_total", counter, "Total number of denied responses since process started", 1}},
	{"f", metric{"ereq", "request_errors_total", counter, "Total number of invalid requests since process started", 1}},
	{"f", metric{"rate_lim", "limit_session_rate", gauge, "Limit on the number of sessions accepted in a second (frontend only, 'rate-limit sessions' setting)", 1}},
	{"fbs", metric{"rate_max", "max_session_rate", gauge, "Highest value of sessions per second observed since the worker process started", 1}},
	{"f", metric{"req_rate_max", "http_requests_rate_max", gauge, "Highest value of http requests observed since the worker process started", 1}},
	{"fb", metric{"req_tot", "http_requests_total", counter, "Total number of HTTP requests processed by this object since the worker process started", 1}},
	{"fb", metric{"comp_in", "http_comp_bytes_in_total", counter, "Total number of bytes submitted to the HTTP compressor for this object since the worker process started", 1}},
	{"fb", metric{"comp_out", "http_comp_bytes_out_total", counter, "Total number of bytes emitted by the HTTP compressor for this object since the worker process started", 1}},
	{"fb", metric{"comp_byp", "http_comp_bytes_bypassed_total", counter, "Total number of bytes that bypassed HTTP compression for this object since the worker process started (CPU/memory/bandwidth limitation)", 1}},
	{"fb", metric{"comp_rsp", "http_comp_responses_total", counter, "Total number of HTTP responses that were compressed for this object since the worker process started", 1}},
	{"f", metric{"conn_rate_max", "connections_rate_max", gauge, "Highest value of connections per second observed since the worker process started", 1}},
	{"f", metric{"conn_tot", "connections_total", counter, "Total number of new connections accepted on this frontend since the worker process started", 1}},
	{"f", metric{"intercepted", "intercepted_requests_total", counter, "Total number of HTTP requests intercepted on the frontend (redirects/stats/services) since the worker process started", 1}},
	{"f", metric{"dcon", "denied_connections_total", counter, "Total number of incoming connections blocked on a listener/frontend by a tcp-request connection rule since the worker process started", 1}},
	{"f", metric{"dses", "denied_sessions_total", counter, "Total number of incoming sessions blocked on a listener/frontend by a tcp-request connection rule since the worker process started", 1}},
	{"fbs", metric{"wrew", "failed_header_rewriting_total", counter, "Total number of failed HTTP header rewrites since the worker process started", 1}},
	{"fb", metric{"cache_lookups", "http_cache_lookups_total", counter, "Total number of HTTP requests looked up in the cache on this frontend/backend since the worker process started", 1}},
	{"fb", metric{"cache_hits", "http_cache_hits_total", counter, "Total number of HTTP requests not found in the cache on this frontend/backend since the worker process started", 1}},
	{"fbs", metric{"eint", "internal_errors_total", counter, "Total number of internal errors since process started", 1}},
	{"bs", metric{"qcur", "current_queue", gauge, "Number of current queued connections", 1}},
	{"bs", metric{"qmax", "max_queue", gauge, "Highest value of queued connections encountered since process started", 1}},
	{"bs", metric{"econ", "connection_errors_total", counter, "Total number of failed connections to server since the worker process started", 1}},
	{"bs", metric{"eresp", "response_errors_total", counter, "Total number of invalid responses since the worker process started", 1}},
	{"bs", metric{"wretr", "retry_warnings_total", counter, "Total number of server connection retries since the worker process started", 1}},
	{"bs", metric{"wredis", "redispatch_warnings_total", counter, "Total number of server redispatches due to connection failures since the worker process started", 1}},
	{"bs", metric{"weight", "weight", gauge, "Server's effective weight, or sum of active servers' effective weights for a backend", 1}},
	{"b", metric{"act", "active_servers", gauge, "Total number of active UP servers with a non-zero weight", 1}},
	{"b", metric{"bck", "backup_servers", gauge, "Total number of backup UP servers with a non-zero weight", 1}},
	{"bs", metric{"chkdown", "check_up_down_total", counter, "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started", 1}},
	{"bs", metric{"lastchg", "check_last_change_seconds", gauge, "How long ago the last server state changed, in seconds", 1}},
	{"bs", metric{"downtime", "downtime_seconds_total", counter, "Total time spent in DOWN state, for server or backend", 1}},
	{"bs", metric{"lbtot", "loadbalanced_total", counter, "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)", 1}},
	{"bs", metric{"cli_abrt", "client_aborts_total", counter, "Total number of requests or connections aborted by the client since the worker process started", 1}},
	{"bs", metric{"srv_abrt", "server_aborts_total", counter, "Total number of requests or connections aborted by the server since the worker process started", 1}},
	{"bs", metric{"lastsess", "last_session_seconds", gauge, "How long ago some traffic was seen on this object on this worker process, in seconds", 1}},
	{"bs", metric{"qtime", "queue_time_average_seconds", gauge, "Avg. queue time for last 1024 successful connections.", ms}},
	{"bs", metric{"ctime", "connect_time_average_seconds", gauge, "Avg. connect time for last 1024 successful connections.", ms}},
	{"bs", metric{"rtime", "response_time_average_seconds", gauge, "Avg. response time for last 1024 successful connections.", ms}},
	{"bs", metric{"ttime", "total_time_average_seconds", gauge, "Avg. total time for last 1024 successful connections.", ms}},
	{"bs", metric{"connect", "connection_attempts_total", counter, "Total number of outgoing connection attempts on this backend/server since the worker process started", 1}},
	{"bs", metric{"reuse", "connection_reuses_total", counter, "Total number of reused connection on this backend/server since the worker process started", 1}},
	{"bs", metric{"qtime_max", "max_queue_time_seconds", gauge, "Maximum observed time spent in the queue", ms}},
	{"bs", metric{"ctime_max", "max_connect_time_seconds", gauge, "Maximum observed time spent waiting for a connection to complete", ms}},
	{"bs", metric{"rtime_max", "max_response_time_seconds", gauge, "Maximum observed time spent waiting for a server response", ms}},
	{"bs", metric{"ttime_max", "max_total_time_seconds", gauge, "Maximum observed total request+response time (request+queue+connect+response+processing)", ms}},
	{"bs", metric{"uweight", "uweight", gauge, "Server's user weight, or sum of active servers' user weights for a backend", 1}},
	{"s", metric{"chkfail", "check_failures_total", counter, "Total number of failed individual health checks per server/backend, since the worker process started", 1}},
	{"s", metric{"qlimit", "queue_limit", gauge, "Limit on the number of connections in queue, for servers only (maxqueue argument)", 1}},
	{"s", metric{"throttle", "current_throttle", gauge, "Throttling ratio applied to a server's maxconn and weight during the slowstart period (0 to 100%)", 1}},
	{"s", metric{"check_code", "check_code", gauge, "layer5-7 code, if available of the last health check.", 1}},
	{"s", metric{"check_duration", "check_duration_seconds", gauge, "Total duration of the latest server health check, in seconds.", ms}},
	{"s", metric{"idle_conn_cur", "idle_connections_current", gauge, "Current number of idle connections available for reuse on this server", 1}},
	{"s", metric{"src_ilim", "idle_connections_limit", gauge, "Limit on the number of available idle connections on this server (server 'pool_max_conn' directive)", 1}},
	{"s", metric{"safe_conn_cur", "safe_idle_connections_current", gauge, "Current number of safe idle connections", 1}},
	{"s", metric{unsafeIdle, "unsafe_idle_connections_current", gauge, "Current number of unsafe idle connections", 1}},
	{"s", metric{"used_conn_cur", "used_connections_current", gauge, "Current number of connections in use", 1}},
	{"s", metric{"need_conn_est", "need_connections_current", gauge, "Estimated needed number of connections", 1}},
}

// processMetrics map `show info` fields to haproxy_process_* metrics. A row without a
// field is exported as NaN, as HAProxy 2.6 exports it when its feature is absent (zlib).
var processMetrics = []metric{
	{"Nbthread", "nbthread", gauge, "Number of started threads (global.nbthread)", 1},
	{"Nbproc", "nbproc", gauge, "Number of started worker processes (historical, always 1)", 1},
	{"Process_num", "relative_process_id", gauge, "Relative worker process number (1)", 1},
	{"Uptime_sec", "uptime_seconds", gauge, "How long ago this worker process was started (seconds)", 1},
	{"Ulimit-n", "max_fds", gauge, "Hard limit on the number of per-process file descriptors", 1},
	{"Maxsock", "max_sockets", gauge, "Hard limit on the number of per-process sockets", 1},
	{"Maxconn", "max_connections", gauge, "Hard limit on the number of per-process connections (configured or imposed by Ulimit-n)", 1},
	{"Hard_maxconn", "hard_max_connections", gauge, "Hard limit on the number of per-process connections (imposed by Memmax_MB or Ulimit-n)", 1},
	{"CurrConns", "current_connections", gauge, "Current number of connections on this worker process", 1},
	{"CumConns", "connections_total", counter, "Total number of connections on this worker process since started", 1},
	{"CumReq", "requests_total", counter, "Total number of requests on this worker process since started", 1},
	{"Stopping", "stopping", gauge, "1 if the worker process is currently stopping, otherwise zero", 1},
	{"Jobs", "jobs", gauge, "Current number of active jobs on the current worker process (frontend connections, master connections, listeners)", 1},
	{"Listeners", "listeners", gauge, "Current number of active listeners on the current worker process", 1},
	{"TotalBytesOut", "bytes_out_total", counter, "Total number of bytes emitted by current worker process since started", 1},
	{"Start_time_sec", "start_time_seconds", gauge, "Start time in seconds", 1},
	{"ActivePeers", "active_peers", gauge, "Current number of verified active peers connections on the current worker process", 1},
	{"BusyPolling", "busy_polling_enabled", gauge, "1 if busy-polling is currently in use on the worker process, otherwise zero (config.busy-polling)", 1},
	{"BytesOutRate", "bytes_out_rate", gauge, "Number of bytes emitted by current worker process over the last second", 1},
	{"ConnectedPeers", "connected_peers", gauge, "Current number of peers having passed the connection step on the current worker process", 1},
	{"SslBackendKeyRate", "current_backend_ssl_key_rate", gauge, "Number of SSL keys created on backends in this worker process over the last second", 1},
	{"ConnRate", "current_connection_rate", gauge, "Number of front connections created on this worker process over the last second", 1},
	{"SslFrontendKeyRate", "current_frontend_ssl_key_rate", gauge, "Number of SSL keys created on frontends in this worker process over the last second", 1},
	{"Run_queue", "current_run_queue", gauge, "Total number of active tasks+tasklets in the current worker process", 1},
	{"SessRate", "current_session_rate", gauge, "Number of sessions created on this worker process over the last second", 1},
	{"CurrSslConns", "current_ssl_connections", gauge, "Current number of SSL endpoints on this worker process (front+back)", 1},
	{"SslRate", "current_ssl_rate", gauge, "Number of SSL connections created on this worker process over the last second", 1},
	{"Tasks", "current_tasks", gauge, "Total number of tasks in the current worker process (active + sleeping)", 1},
	{"", "current_zlib_memory", gauge, "Amount of memory currently used by HTTP compression on the current worker process (in bytes)", 1},
	{"DroppedLogs", "dropped_logs_total", counter, "Total number of dropped logs for current worker process since started", 1},
	{"FailedResolutions", "failed_resolutions", counter, "Total number of failed DNS resolutions in current worker process since started", 1},
	{"SslFrontendSessionReuse_pct", "frontend_ssl_reuse", gauge, "Percent of frontend SSL connections which did not require a new key", 1},
	{"CompressBpsIn", "http_comp_bytes_in_total", counter, "Number of bytes submitted to the HTTP compressor in this worker process over the last second", 1},
	{"CompressBpsOut", "http_comp_bytes_out_total", counter, "Number of bytes emitted by the HTTP compressor in this worker process over the last second", 1},
	{"Idle_pct", "idle_time_percent", gauge, "Percentage of last second spent waiting in the current worker thread", 1},
	{"ConnRateLimit", "limit_connection_rate", gauge, "Hard limit for ConnRate (global.maxconnrate)", 1},
	{"CompressBpsRateLim", "limit_http_comp", gauge, "Limit of CompressBpsOut beyond which HTTP compression is automatically disabled", 1},
	{"SessRateLimit", "limit_session_rate", gauge, "Hard limit for SessRate (global.maxsessrate)", 1},
	{"SslRateLimit", "limit_ssl_rate", gauge, "Hard limit for SslRate (global.maxsslrate)", 1},
	{"SslBackendMaxKeyRate", "max_backend_ssl_key_rate", gauge, "Highest SslBackendKeyRate reached on this worker process since started (in SSL keys per second)", 1},
	{"MaxConnRate", "max_connection_rate", gauge, "Highest ConnRate reached on this worker process since started (in connections per second)", 1},
	{"SslFrontendMaxKeyRate", "max_frontend_ssl_key_rate", gauge, "Highest SslFrontendKeyRate reached on this worker process since started (in SSL keys per second)", 1},
	{"Memmax_bytes", "max_memory_bytes", gauge, "Worker process's hard limit on memory usage in byes (-m on command line)", 1},
	{"Maxpipes", "max_pipes", gauge, "Hard limit on the number of pipes for splicing, 0=unlimited", 1},
	{"MaxSessRate", "max_session_rate", gauge, "Highest SessRate reached on this worker process since started (in sessions per second)", 1},
	{"MaxSslConns", "max_ssl_connections", gauge, "Hard limit on the number of per-process SSL endpoints (front+back), 0=unlimited", 1},
	{"MaxSslRate", "max_ssl_rate", gauge, "Highest SslRate reached on this worker process since started (in connections per second)", 1},
	{"", "max_zlib_memory", gauge, "Limit on the amount of memory used by HTTP compression above which it is automatically disabled (in bytes, see global.maxzlibmem)", 1},
	{"PipesFree", "pipes_free_total", counter, "Current number of allocated and available pipes in this worker process", 1},
	{"PipesUsed", "pipes_used_total", counter, "Current number of pipes in use in this worker process", 1},
	{"PoolAlloc_bytes", "pool_allocated_bytes", gauge, "Amount of memory allocated in pools (in bytes)", 1},
	{"PoolFailed", "pool_failures_total", counter, "Number of failed pool allocations since this worker was started", 1},
	{"PoolUsed_bytes", "pool_used_bytes", gauge, "Amount of pool memory currently used (in bytes)", 1},
	{"CumRecvLogs", "recv_logs_total", counter, "Total number of log messages received by log-forwarding listeners on this worker process since started", 1},
	{"TotalSplicdedBytesOut", "spliced_bytes_out_total", counter, "Total number of bytes emitted by current worker process through a kernel pipe since started", 1},
	{"SslCacheLookups", "ssl_cache_lookups_total", counter, "Total number of SSL session ID lookups in the SSL session cache on this worker since started", 1},
	{"SslCacheMisses", "ssl_cache_misses_total", counter, "Total number of SSL session ID lookups that didn't find a session in the SSL session cache on this worker since started", 1},
	{"CumSslConns", "ssl_connections_total", counter, "Total number of SSL endpoints on this worker process since started (front+back)", 1},
	{"Unstoppable Jobs", "unstoppable_jobs", gauge, "Current number of unstoppable jobs on the current worker process (master connections)", 1},
}

// stateSets are the metrics with one series per state label value, 1 for the
// current state, in HAProxy's order of states.
var (
	frontendStates = []string{"DOWN", "UP"}
	serverStates   = []string{"DOWN", "UP", "MAINT", "DRAIN", "NOLB"}
	checkStates    = []string{"HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP", "L7TOUT", "L7RSP", "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK"}
)

// responseCodes maps the hrsp_* fields to the code label of http_responses_total.
var responseCodes = []struct{ field, code string }{
	{"hrsp_1xx", "1xx"}, {"hrsp_2xx", "2xx"}, {"hrsp_3xx", "3xx"}, {"hrsp_4xx", "4xx"}, {"hrsp_5xx", "5xx"}, {"hrsp_other", "other"},
}

const (
	statusHelp    = "Current status of the service, per state label value."
	checkHelp     = "Status of last health check, per state label value."
	responsesHelp = "Total number of HTTP responses with status 100-199 returned by this object since the worker process started" // HAProxy 2.6's text for every code
)

// collector reads the live figures at scrape time.
type collector struct {
	src     Source
	scopes  map[string]bool // nil = all
	noMaint bool
}

// Describe sends nothing: the collector is unchecked, its metrics depend on the
// configuration and on what hitless measures.
func (c *collector) Describe(chan<- *prometheus.Desc) {}

func (c *collector) in(scope string) bool { return c.scopes == nil || c.scopes[scope] }

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	if c.in("global") && c.src.Info != nil {
		c.process(ch)
	}
	if c.src.Stat == nil || !(c.in("frontend") || c.in("backend") || c.in("server")) {
		return
	}
	rows := c.src.Stat()
	// Each backend's servers, for its aggregated gauges (rows come per proxy, its
	// servers before its BACKEND row).
	servers := map[string][]*stats.Row{}
	for _, r := range rows {
		if r.Kind == stats.Server {
			servers[r.Text("pxname")] = append(servers[r.Text("pxname")], r)
		}
	}
	for _, r := range rows {
		px := r.Text("pxname")
		switch r.Text("type") {
		case "0":
			if c.in("frontend") {
				c.row(ch, r, "frontend", []string{"proxy"}, px)
				c.state(ch, "haproxy_frontend_status", statusHelp, frontendStates, frontendState(r.Text("status")), []string{"proxy"}, px)
			}
		case "1":
			if c.in("backend") {
				c.row(ch, r, "backend", []string{"proxy"}, px)
				c.state(ch, "haproxy_backend_status", statusHelp, frontendStates, backendState(r.Text("status")), []string{"proxy"}, px)
				c.aggregates(ch, px, servers[px])
			}
		case "2":
			st := serverState(r.Text("status"))
			if !c.in("server") || (c.noMaint && st == "MAINT") {
				continue
			}
			labels := []string{"proxy", "server"}
			c.row(ch, r, "server", labels, px, r.Text("svname"))
			c.state(ch, "haproxy_server_status", statusHelp, serverStates, st, labels, px, r.Text("svname"))
			if cs := strings.TrimPrefix(r.Text("check_status"), "* "); cs != "" {
				c.state(ch, "haproxy_server_check_status", checkHelp, checkStates, cs, labels, px, r.Text("svname"))
			}
		}
	}
}

// process exports the `show info` fields of processMetrics and build_info.
func (c *collector) process(ch chan<- prometheus.Metric) {
	info := map[string]string{}
	for _, f := range c.src.Info() {
		info[f.Name] = f.Value
	}
	for _, m := range processMetrics {
		v, err := strconv.ParseFloat(info[m.field], 64)
		switch {
		case m.field == "":
			v = math.NaN()
		case err != nil:
			continue
		}
		d := prometheus.NewDesc("haproxy_process_"+m.name, m.help, nil, nil)
		ch <- prometheus.MustNewConstMetric(d, m.typ, v*m.scale)
	}
	if v := info["Version"]; v != "" {
		d := prometheus.NewDesc("haproxy_process_build_info", "Build info", []string{"version"}, nil)
		ch <- prometheus.MustNewConstMetric(d, gauge, 1, v)
	}
}

// row exports the fields of one `show stat` row that hitless fills.
func (c *collector) row(ch chan<- prometheus.Metric, r *stats.Row, kind string, labels []string, values ...string) {
	for _, m := range statMetrics {
		if !strings.Contains(m.kinds, kind[:1]) {
			continue
		}
		n, ok := r.Int(m.field)
		if m.field == unsafeIdle {
			idle, ok1 := r.Int("idle_conn_cur")
			safe, ok2 := r.Int("safe_conn_cur")
			n, ok = idle-safe, ok1 && ok2
		}
		v := float64(n) * m.scale
		switch {
		case ok:
		case kind == "server" && unsetAsNaN[m.field]:
			v = math.NaN()
		case kind == "server" && m.field == "check_code" && r.Has("check_status"):
			v = 0 // a check without a layer 5-7 code (TCP), as HAProxy exports it
		default:
			continue
		}
		d := prometheus.NewDesc("haproxy_"+kind+"_"+m.name, m.help, labels, nil)
		ch <- prometheus.MustNewConstMetric(d, m.typ, v, values...)
	}
	codeLabels := append(append([]string(nil), labels...), "code")
	d := prometheus.NewDesc("haproxy_"+kind+"_http_responses_total", responsesHelp, codeLabels, nil)
	for _, rc := range responseCodes {
		n, ok := r.Int(rc.field)
		if !ok {
			continue
		}
		ch <- prometheus.MustNewConstMetric(d, counter, float64(n), append(append([]string(nil), values...), rc.code)...)
	}
}

// aggregates exports a backend's haproxy_backend_agg_* gauges: how many of its
// servers are in each state (twice: HAProxy 2.6 has both names) and how many had
// each check status.
func (c *collector) aggregates(ch chan<- prometheus.Metric, px string, servers []*stats.Row) {
	byState, byCheck := map[string]float64{}, map[string]float64{}
	for _, r := range servers {
		byState[serverState(r.Text("status"))]++
		if cs := strings.TrimPrefix(r.Text("check_status"), "* "); cs != "" {
			byCheck[cs]++
		}
	}
	for _, a := range []struct {
		name, help string
		states     []string
		count      map[string]float64
	}{
		{"haproxy_backend_agg_server_status", "Backend's aggregated gauge of servers' status", serverStates, byState},
		{"haproxy_backend_agg_server_check_status", "Backend's aggregated gauge of servers' state check status", serverStates, byState},
		{"haproxy_backend_agg_check_status", "Backend's aggregated gauge of servers' state check status", checkStates, byCheck},
	} {
		d := prometheus.NewDesc(a.name, a.help, []string{"proxy", "state"}, nil)
		for _, st := range a.states {
			ch <- prometheus.MustNewConstMetric(d, gauge, a.count[st], px, st)
		}
	}
}

// state exports one series per state, 1 for cur and 0 for the others.
func (c *collector) state(ch chan<- prometheus.Metric, name, help string, states []string, cur string, labels []string, values ...string) {
	d := prometheus.NewDesc(name, help, append(append([]string(nil), labels...), "state"), nil)
	for _, s := range states {
		v := 0.0
		if s == cur {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(d, gauge, v, append(append([]string(nil), values...), s)...)
	}
}

// frontendState maps a frontend's `status` (OPEN, FULL, STOP, PAUSED) to DOWN or UP.
func frontendState(status string) string {
	if status == "OPEN" || status == "FULL" {
		return "UP"
	}
	return "DOWN"
}

// backendState maps a backend's `status` ("UP", "DOWN", "UP (1/2)") to DOWN or UP.
func backendState(status string) string {
	if strings.HasPrefix(status, "UP") {
		return "UP"
	}
	return "DOWN"
}

// serverState maps a server's `status` ("UP", "UP 1/3", "no check", "DOWN", "MAINT",
// "MAINT (via b/s)", "DRAIN", "NOLB") to a state label value.
func serverState(status string) string {
	for _, s := range []string{"MAINT", "DRAIN", "NOLB", "DOWN", "UP"} {
		if strings.HasPrefix(status, s) {
			return s
		}
	}
	if status == "no check" {
		return "UP"
	}
	return "DOWN"
}
