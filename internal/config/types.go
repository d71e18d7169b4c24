package config

import (
	"net/netip"
	"regexp"
	"strconv"
	"time"

	"hitless/internal/acl"
	"hitless/internal/auth"
	"hitless/internal/logformat"
	"hitless/internal/pattern"
	"hitless/internal/sample"
	"hitless/internal/stick"
	"hitless/internal/tlsconf"
)

// Pos is where a directive was read: a file name and a 1-based line number.
type Pos struct {
	File string
	Line int
}

// String formats the position as HAProxy does inside its messages: "file:line".
func (p Pos) String() string { return p.File + ":" + strconv.Itoa(p.Line) }

// Config is a whole, validated configuration: what `hitless -f` read from all its files.
type Config struct {
	Files    []string // every file read, in load order (directories expanded)
	Global   Global
	Defaults []*Proxy // every defaults section, in order (named and unnamed); for reference only
	// Frontends, Backends and Listens are kept in one list in file order. A `listen`
	// section is one Proxy with both capabilities.
	Proxies []*Proxy
	// Patterns are the pattern and map files that ACLs and map converters read
	// (`-f FILE`, `map(FILE)`), each read once; the Runtime API edits them.
	Patterns *pattern.Registry `json:"-"`
	// TicketFiles are the tls-ticket-keys files of the TLS binds (ssl_bind.go), for
	// `show tls-keys` and `set ssl tls-key`.
	TicketFiles *tlsconf.TicketFiles `json:"-"`
	// Peers are the `peers` sections, Tables every stick table (proxies' and peers
	// sections'), in declaration order (stick.go).
	Peers  []*Peers      `json:",omitempty"`
	Tables []*stick.Spec `json:",omitempty"`
	// Users are the userlist sections.
	Users *auth.Registry `json:"-"`
	// Warnings are non-fatal findings (for example missing timeouts), each already
	// formatted as HAProxy words it, without the "[WARNING] (pid) : config : " prefix.
	Warnings []string
}

// Global holds the `global` section.
type Global struct {
	Pos               Pos
	MaxConn           int // 0 = unset (the process derives it from the fd limit)
	Daemon            bool
	PidFile           string
	Logs              []LogTarget
	NbThread          int           // 0 = unset; maps to GOMAXPROCS
	HardStopAfter     time.Duration // 0 = unset
	Grace             time.Duration
	StatsSockets      []StatsSocket
	StatsTimeout      time.Duration // 0 = unset (HAProxy's default is 10s)
	MasterWorker      bool
	MworkerMaxReloads int
	// MworkerMaxReloadsSet tells an explicit `mworker-max-reloads` (0 is a valid
	// limit) from none.
	MworkerMaxReloadsSet bool
	// ServerStateFile and ServerStateBase are `server-state-file` and
	// `server-state-base`: where `load-server-state-from-file global|local` read.
	ServerStateFile string
	ServerStateBase string

	// Process settings (process.go): applied once every socket is open.
	UID, GID    int    // 0 = unchanged (as in HAProxy); `user`/`group` fill them too
	User, Group string // names when given as `user`/`group`
	Chroot      string // "" = none
	CABase      string
	CRTBase     string
	SSLBind     SSLDefaults // ssl-default-bind-*
	SSLServer   SSLDefaults // ssl-default-server-*
	TLS         GlobalTLS   // the other TLS settings (ssl_global.go)
	// TuneBufSize and TuneMaxRewrite are 0 when unset (HAProxy's defaults are 16384
	// and 1024).
	TuneBufSize, TuneMaxRewrite int
	// TuneMaxHdr is tune.http.maxhdr, 0 when unset (HAProxy's default is 101): a
	// message may carry TuneMaxHdr-1 header fields.
	TuneMaxHdr        int
	Node, Description string
	// LocalPeer is `localpeer`; -L overrides it (ResolvePeers).
	LocalPeer    string `json:",omitempty"`
	localPeerPos Pos
	// PeersMaxUpdates is tune.peers.max-updates-at-once; 0 = HAProxy's 200.
	PeersMaxUpdates int `json:",omitempty"`
	// Experimental is `expose-experimental-directives` (normalize-uri needs it).
	Experimental bool
	// Vars are the `set-var` lines: process variables set at start-up.
	Vars         []GlobalVar
	GlobalChecks // spread-checks, max-spread-checks (server.go)
}

// StatsSocket is one `stats socket` line of `global`.
type StatsSocket struct {
	Pos      Pos
	Addr     Addr   // Unix path or TCP address
	Mode     uint32 // file mode for a unix socket; 0 = unset
	HasMode  bool
	UID, GID int // -1 when unset
	User     string
	Group    string
	Level    string // "user", "operator" or "admin" (default "operator" as in HAProxy 2.6)
	ExposeFD bool   // `expose-fd listeners`
}

// LogTarget is one `log` line: where and how to send syslog messages.
type LogTarget struct {
	Pos      Pos
	Global   bool   // `log global`: use the global section's targets
	Network  string // "udp", "unixgram", "stdout", "stderr", "tcp"
	Address  string // host:port for udp/tcp; path for unixgram; empty for stdout/stderr
	Len      int    // maximum line length; 1024 when unset
	Format   string // "rfc3164" (default), "rfc5424", "raw", "short", "local", "priority", "timed", "iso"
	Facility int    // syslog facility number (kern=0 ... local7=23)
	Level    int    // maximum level sent (0 emerg .. 7 debug); 7 when unset
	MinLevel int    // minimum level (0 when unset)
}

// Mode is a proxy's protocol mode.
type Mode int

const (
	ModeTCP Mode = iota
	ModeHTTP
)

func (m Mode) String() string {
	if m == ModeHTTP {
		return "http"
	}
	return "tcp"
}

// Capability tells which halves a proxy has.
type Capability int

const (
	CapFrontend Capability = 1 << iota
	CapBackend
	CapDefaults = 0
	CapListen   = CapFrontend | CapBackend
)

// Proxy is a frontend, backend, listen or defaults section after defaults were applied.
type Proxy struct {
	Pos  Pos
	Kind string // "frontend", "backend", "listen" or "defaults"
	Name string
	Cap  Capability
	Mode Mode

	// Frontend side.
	Binds             []Bind
	DefaultBackend    string        // name; "" when unset
	DefaultBackendPos Pos           // where default_backend was set
	UseBackends       []UseBackend  // in order
	ACLs              []*acl.Def    // named ACLs, in order
	MaxConn           int           // 0 = unset (inherits global)
	HTTPRequest       []HTTPRule    // `http-request` rules, in order
	HTTPResponse      []HTTPRule    // `http-response` rules, in order
	HTTPAfterResponse []HTTPRule    // `http-after-response` rules, in order
	Redirects         []HTTPRule    // legacy `redirect` lines: after the http-request rules
	TCPRequest        []TCPRule     // `tcp-request connection|session|content` rules, in order
	InspectDelay      time.Duration // `tcp-request inspect-delay`
	MonitorURI        string        // `monitor-uri`
	MonitorFail       []*acl.Cond   // `monitor fail if|unless COND`
	ForwardFor        ForwardFor    // `option forwardfor` details
	Compression       *Compression  `json:",omitempty"` // `compression` lines; nil = none
	ReqCaptures       []Capture     // capture slots of requests, in declaration order
	ResCaptures       []Capture     // capture slots of responses
	OriginalTo        ForwardFor    // `option originalto` details (IfNone unused)

	// Backend side.
	UseServers    []UseServer // `use-server` rules, in order
	ForcePersist  []*acl.Cond // `force-persist if|unless COND`
	IgnorePersist []*acl.Cond // `ignore-persist if|unless COND`
	Servers       []*Server
	DefaultServer Server // `default-server` settings (also the base of each server)
	Balance       Balance
	Retries       int // default 3
	FullConn      int // `fullconn`; 0 = HAProxy's default (see proxy.Build)
	// CliKeepAlive and SrvKeepAlive are clitcpka-* and srvtcpka-* (server.go).
	CliKeepAlive, SrvKeepAlive KeepAlive
	Redispatch                 bool
	AllBackups                 bool
	HTTPCheck                  *HTTPCheck // the request line of `option httpchk`; nil when unset
	Checks                     Checks     // which health check runs and its rules (checks.go)
	// LoadServerState is `load-server-state-from-file`: "global", "local" or ""
	// (none); ServerStateFileName is `server-state-file-name` ("" = the backend's name).
	LoadServerState     string
	ServerStateFileName string
	// StickTable is the proxy's `stick-table`, nil when none; StickRules its
	// `stick` lines (stickrules.go).
	StickTable *stick.Spec `json:",omitempty"`
	StickRules []StickRule `json:",omitempty"`

	// Both sides.
	Timeouts  Timeouts
	Options   Options
	Logs      []LogTarget // `log` lines of the proxy, or the global ones when `log global`
	LogGlobal bool
	Stats     *StatsPage `json:",omitempty"` // `stats` keywords; nil = no stats page
	Formats   LogFormats // log-format, log-format-sd, unique-id-format, unique-id-header

	// ErrorFiles are the `errorfile`/`errorfiles` answers by status; nil when none.
	ErrorFiles map[int]*ErrorFile

	errDirectives []errDirective // errorfile/errorfiles lines in order, resolved by finish
}

// Timeouts holds every `timeout` of a proxy; 0 means unset.
type Timeouts struct {
	Connect, Client, Server                    time.Duration
	HTTPRequest, HTTPKeepAlive                 time.Duration
	Queue, Tunnel, Check, ClientFin, ServerFin time.Duration
	Tarpit                                     time.Duration
}

// ForwardFor is `option forwardfor [except NET] [header NAME] [if-none]`.
type ForwardFor struct {
	Except netip.Prefix `json:",omitempty"` // no header for clients in this network
	Header string       `json:",omitempty"` // default x-forwarded-for
	IfNone bool         `json:",omitempty"` // only when the request has none
}

// Options holds the `option` flags of a proxy.
type Options struct {
	ForwardFor        bool
	HTTPServerClose   bool
	HTTPKeepAlive     bool
	HTTPClose         bool
	HTTPLog           bool
	TCPLog            bool
	DontLogNull       bool
	LogSeparateErrors bool // errors are logged at level err instead of info
	LogASAP           bool // log when the response head is sent, not at the end
	OriginalTo        bool // X-Original-To
	LogHealthChecks   bool // `option log-health-checks`: a line per check that changes the health
	CliTCPKA          bool // `option clitcpka` (or `tcpka`): SO_KEEPALIVE on client connections
	SrvTCPKA          bool // `option srvtcpka` (or `tcpka`): SO_KEEPALIVE on server connections
}

// Bind is one address of a `bind` line (a comma list or a port range yields several).
type Bind struct {
	Pos     Pos
	Addr    Addr
	Name    string
	V4V6    bool
	V6Only  bool
	Backlog int // 0 = unset (the frontend's maxconn, as HAProxy does)
	// Unix socket options.
	Mode    uint32
	HasMode bool
	UID     int // -1 when unset
	GID     int // -1 when unset
	// AcceptProxy is `accept-proxy`: connections start with a PROXY header.
	AcceptProxy bool
	// SSL holds the TLS options as written (ssl_bind.go); TLS is the handshake
	// configuration loaded from them once every file is read. Both nil without TLS.
	SSL *BindSSL          `json:",omitempty"`
	TLS *tlsconf.Listener `json:"-"`
}

// Addr is a network address as the config spells it, resolved at parse time.
type Addr struct {
	Network string // "tcp4", "tcp6" or "unix"
	Host    string // IP literal ("0.0.0.0", "::", "127.0.0.1"); empty for unix
	Port    int    // 1-65535; 0 for unix
	Path    string // unix socket path
}

// UseBackend is one `use_backend NAME if|unless COND` line.
type UseBackend struct {
	Pos     Pos
	Backend string
	Cond    *acl.Cond // nil = always
}

// HTTPRule is one `http-request`, `http-response` or `http-after-response` rule, or
// a legacy `redirect` line; its Action names a row of the action table (actions.go).
type HTTPRule struct {
	Pos    Pos
	Action string // "return", "deny", "set-header", "redirect", "set-var", ...
	// return / deny / set-status
	Status      int               // `return status N` (default 200) / `deny deny_status N` (default 403)
	Reason      string            `json:",omitempty"` // set-status N reason TEXT
	ContentType string            // `return content-type T`
	Body        string            // `return string S`
	BodyFormat  *logformat.Format `json:",omitempty"` // `return lf-string S` or `lf-file F`
	Raw         []byte            `json:",omitempty"` // `return errorfile F`: sent as it is
	Hdrs        []RuleHeader      `json:",omitempty"` // `return hdr NAME FMT`
	// redirect
	Redirect *Redirect `json:",omitempty"`
	// set-var, unset-var, set-log-level
	Var   sample.VarRef `json:",omitempty"`
	Expr  *sample.Expr  `json:",omitempty"`
	Level int           `json:",omitempty"` // set-log-level: 0..7, -1 = silent
	// replace-header, replace-value, replace-path, replace-uri
	Regex *regexp.Regexp `json:",omitempty"`
	// set-map, del-map, add-acl, del-acl: the file, and the key (Value) and value
	// (Value2) formats
	File   *pattern.File     `json:"-"`
	Value2 *logformat.Format `json:",omitempty"`
	// header actions
	Header string
	Value  *logformat.Format // a log-format string: text, %[expr], %ci, ...
	// use-service
	Service string    `json:",omitempty"` // "prometheus-exporter"
	Cond    *acl.Cond // nil = always
}

// RuleHeader is a header an answer of a rule carries (`return ... hdr NAME FMT`).
type RuleHeader struct {
	Name  string
	Value *logformat.Format
}

// Redirect is the answer of a redirect rule.
type Redirect struct {
	Type        string            // "location", "prefix" or "scheme"
	Value       *logformat.Format // the location, prefix or scheme (a log-format string)
	Code        int               // 301, 302 (default), 303, 307 or 308
	DropQuery   bool
	AppendSlash bool
	SetCookie   string // NAME=VALUE
	ClearCookie string // NAME
}

// TCPRule is one `tcp-request connection|session|content` rule.
type TCPRule struct {
	Pos    Pos
	Kind   string        // "connection", "session" or "content"
	Action string        // "accept", "reject", "set-var", "unset-var"
	Var    sample.VarRef `json:",omitempty"`
	Expr   *sample.Expr  `json:",omitempty"`
	Cond   *acl.Cond     // nil = always
}

// Server is one `server` line (default-server settings already applied).
type Server struct {
	Pos       Pos
	Name      string
	Host      string // IP literal (names are resolved at parse time)
	Port      int    // 1-65535
	Check     bool
	Inter     time.Duration // default 2s
	FastInter time.Duration // default = Inter
	DownInter time.Duration // default = Inter
	Rise      int           // default 2
	Fall      int           // default 3
	Weight    int           // 0-256, default 1
	Backup    bool
	MaxConn   int // 0 = unlimited
	MaxQueue  int // 0 = unlimited
	Disabled  bool
	// SSL holds the TLS options as written (ssl_server.go); TLS is the client side
	// built from them once every file is read. Both nil without TLS.
	SSL           *ServerSSL      `json:",omitempty"`
	TLS           *tlsconf.Client `json:"-"`
	ServerOptions                 // checks, agents, tracking, addresses, PROXY protocol (server.go)
}

// Balance is the `balance` algorithm of a backend.
type Balance struct {
	Algorithm string // "roundrobin" (default), "static-rr", "leastconn", "first", "source", "uri", "url_param", "hdr", "random"
	Param     string // the url_param name or the header name for hdr(NAME)
}

// HTTPCheck is `option httpchk [METHOD] [URI] [VERSION]`; the rules of `http-check`
// lines are in Proxy.Checks.
type HTTPCheck struct {
	Method  string // default "OPTIONS"
	URI     string // default "/"
	Version string // default "HTTP/1.0"
	// Headers are those written after the version (`HTTP/1.1\r\nHost:\ x`).
	Headers [][2]string `json:",omitempty"`
}

// IsFrontend reports whether the proxy accepts connections.
func (p *Proxy) IsFrontend() bool { return p.Cap&CapFrontend != 0 }

// IsBackend reports whether the proxy has servers.
func (p *Proxy) IsBackend() bool { return p.Cap&CapBackend != 0 }
