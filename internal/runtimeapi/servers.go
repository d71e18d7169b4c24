package runtimeapi

import (
	"bufio"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"hitless/internal/proxy"
)

// checkStatusCodes are HAProxy's numeric check statuses (`check_statuses[]`), as
// `show servers state` prints them.
var checkStatusCodes = map[string]int{
	"": 0, "INI": 1, "CHECKED": 3, "HANA": 4, "SOCKERR": 5, "L4OK": 6, "L4TOUT": 7, "L4CON": 8,
	"L6OK": 9, "L6TOUT": 10, "L6RSP": 11, "L7TOUT": 12, "L7RSP": 13, "L7OK": 15, "L7OKC": 16, "L7STS": 17,
}

// ServersStateHeader is the column line of `show servers state` (version 1).
const ServersStateHeader = "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port"

// ServerCommands are the commands that read and change backends and servers.
// proxyIDs maps a backend to its numeric id (`be_id`).
func ServerCommands(st *proxy.State, proxyIDs map[string]int) []Command {
	backends := func() []*proxy.Backend {
		var out []*proxy.Backend
		for _, p := range st.Config.Proxies {
			if b := st.Backends[p.Name]; b != nil && p.IsBackend() {
				out = append(out, b)
			}
		}
		return out
	}
	// find resolves "backend/server", writing HAProxy's error when it fails.
	find := func(arg string, w *bufio.Writer) *proxy.Server {
		bname, sname, ok := strings.Cut(arg, "/")
		if !ok || bname == "" || sname == "" {
			w.WriteString("Require 'backend/server'.\n")
			return nil
		}
		b := st.Backends[bname]
		if b == nil {
			w.WriteString("No such backend.\n")
			return nil
		}
		for _, s := range b.Servers {
			if s.Name == sname {
				return s
			}
		}
		w.WriteString("No such server.\n")
		return nil
	}
	// onServer wraps a command whose first argument is "backend/server": it answers
	// HAProxy's errors for a missing or unknown server and runs f on a found one.
	onServer := func(f func(srv *proxy.Server, args []string, w *bufio.Writer)) func(*Session, []string, *bufio.Writer) error {
		return func(s *Session, args []string, w *bufio.Writer) error {
			if len(args) == 0 {
				w.WriteString("Require 'backend/server'.\n")
				return nil
			}
			if srv := find(args[0], w); srv != nil {
				f(srv, args[1:], w)
			}
			return nil
		}
	}
	setWeight := func(s *proxy.Server, arg string, w *bufio.Writer) {
		n, msg := parseWeight(arg, s.Cfg.Weight)
		if msg != "" {
			w.WriteString(msg)
			return
		}
		algo := s.Backend.Cfg.Balance.Algorithm
		if static := algo == "static-rr" || algo == "source" || algo == "uri" || algo == "url_param" || algo == "hdr"; static && n != 0 && n != s.Cfg.Weight {
			w.WriteString("Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n")
			return
		}
		s.SetWeight(n)
	}
	return []Command{
		{Words: []string{"show", "backend"}, Level: LevelUser, Usage: Usage("show backend", "list backends in the current running config"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				w.WriteString("# name\n")
				for _, b := range backends() {
					w.WriteString(b.Name)
					w.WriteByte('\n')
				}
				return nil
			}},
		{Words: []string{"show", "servers", "state"}, Level: LevelUser, Usage: Usage("show servers state [<backend>]", "dump volatile server information (all or for a single backend)"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				list := backends()
				if len(args) > 0 {
					b := st.Backends[args[0]]
					if b == nil {
						w.WriteString("Can't find backend.\n")
						return nil
					}
					list = []*proxy.Backend{b}
				}
				w.WriteString("1\n")
				w.WriteString(ServersStateHeader)
				w.WriteByte('\n')
				for _, b := range list {
					for _, srv := range b.Servers {
						writeServerState(w, proxyIDs[b.Name], b, srv.ID, srv)
					}
				}
				return nil
			}},
		{Words: []string{"get", "weight"}, Level: LevelUser, Usage: Usage("get weight <bk>/<srv>", "report a server's current weight"),
			Run: onServer(func(srv *proxy.Server, args []string, w *bufio.Writer) {
				fmt.Fprintf(w, "%d (initial %d)\n", srv.Weight(), srv.Cfg.Weight)
			})},
		{Words: []string{"set", "weight"}, Level: LevelAdmin, Usage: Usage("set weight <bk>/<srv>  (DEPRECATED)", "change a server's weight (use 'set server' instead)"),
			Run: onServer(func(srv *proxy.Server, args []string, w *bufio.Writer) {
				setWeight(srv, strings.Join(args, " "), w)
			})},
		{Words: []string{"disable", "server"}, Level: LevelAdmin, Usage: Usage("disable server (DEPRECATED)", "disable a server for maintenance (use 'set server' instead)"),
			Run: onServer(func(srv *proxy.Server, args []string, w *bufio.Writer) {
				srv.SetMaint(proxy.ByCLI)
			})},
		{Words: []string{"enable", "server"}, Level: LevelAdmin, Usage: Usage("enable server  (DEPRECATED)", "enable a disabled server (use 'set server' instead)"),
			Run: onServer(func(srv *proxy.Server, args []string, w *bufio.Writer) {
				srv.SetReady(proxy.ByCLI)
			})},
		{Words: []string{"enable", "health"}, Level: LevelAdmin, Usage: Usage("enable health", "enable health checks"),
			Run: onServer(func(srv *proxy.Server, args []string, w *bufio.Writer) {
				srv.SetChecksEnabled(true)
			})},
		{Words: []string{"disable", "health"}, Level: LevelAdmin, Usage: Usage("disable health", "disable health checks"),
			Run: onServer(func(srv *proxy.Server, args []string, w *bufio.Writer) {
				srv.SetChecksEnabled(false)
			})},
		{Words: []string{"set", "maxconn", "server"}, Level: LevelAdmin, Usage: Usage("set maxconn server <bk>/<srv>", "change a server's maxconn setting"),
			Run: onServer(func(srv *proxy.Server, args []string, w *bufio.Writer) {
				n := -1
				if len(args) > 0 {
					if v, err := strconv.Atoi(args[0]); err == nil {
						n = v
					}
				}
				if n < 0 {
					w.WriteString("Integer value expected.\n")
					return
				}
				srv.SetMaxConn(n)
			})},
		{Words: []string{"set", "server"}, Level: LevelAdmin, Usage: Usage("set server <bk>/<srv> [opts]", "change a server's state, weight, address or ssl"),
			Run: onServer(func(srv *proxy.Server, args []string, w *bufio.Writer) {
				const usage = "usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send | check-addr | check-port | fqdn | health | ssl | state | weight\n"
				if len(args) == 0 {
					w.WriteString(usage)
					return
				}
				val := ""
				if len(args) > 1 {
					val = args[1]
				}
				switch args[0] {
				case "state":
					switch val {
					case "ready":
						srv.SetReady(proxy.ByCLI)
					case "drain":
						srv.SetDrain(proxy.ByCLI)
					case "maint":
						srv.SetMaint(proxy.ByCLI)
					default:
						w.WriteString("'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n")
					}
				case "weight":
					setWeight(srv, val, w)
				case "health":
					switch val {
					case "up":
						srv.SetHealth(proxy.OpRunning, proxy.ByCLI)
					case "stopping":
						srv.SetHealth(proxy.OpStopping, proxy.ByCLI)
					case "down":
						srv.SetHealth(proxy.OpStopped, proxy.ByCLI)
					default:
						w.WriteString("'set server <srv> health' expects 'up', 'stopping', or 'down'.\n")
					}
				case "addr":
					setAddr(srv, args[1:], w)
				case "agent", "agent-addr", "agent-port", "agent-send", "check-addr", "check-port", "fqdn", "ssl":
					fmt.Fprintf(w, "'set server %s' is not supported yet.\n", args[0])
				default:
					w.WriteString(usage)
				}
			})},
	}
}

// parseWeight reads "N" or "N%" (of the configured weight) as HAProxy does; msg is
// HAProxy's error text when it is invalid.
func parseWeight(arg string, initial int) (int, string) {
	if arg == "" {
		return 0, "Require <weight> or <weight%>.\n"
	}
	i := 0
	for i < len(arg) && (arg[i] == '-' || arg[i] >= '0' && arg[i] <= '9') {
		i++
	}
	// HAProxy's two garbage messages lack their line end: the prompt's "\n" ends
	// them, and no empty line follows.
	if i == 0 {
		return 0, "Empty weight string empty or preceded by garbage"
	}
	n, err := strconv.Atoi(arg[:i])
	if err != nil {
		return 0, "Empty weight string empty or preceded by garbage"
	}
	switch arg[i:] {
	case "":
		if n < 0 || n > 256 {
			return 0, "Absolute weight can only be between 0 and 256 inclusive.\n"
		}
		return n, ""
	case "%":
		if n < 0 {
			return 0, "Relative weight must be positive.\n"
		}
		return min(initial*n/100, 256), ""
	}
	return 0, "Trailing garbage in weight string"
}

// writeServerState prints one `show servers state` row.
func writeServerState(w *bufio.Writer, beID int, b *proxy.Backend, srvID int, s *proxy.Server) {
	c := s.Check()
	// Before its first check (or without checks) a server's check status is INI.
	status, result, checkState := checkStatusCodes["INI"], 0, 0
	if s.Cfg.Check {
		checkState = 6 // configured and enabled
		if !s.ChecksEnabled() {
			checkState = 2
		}
		if !c.At.IsZero() {
			status = checkStatusCodes[c.Status]
			result = 2 // failed
			if c.OK {
				result = 3 // passed
			}
		}
	}
	// Checks pause in maintenance; without checks, `disabled` leaves them paused for
	// good (HAProxy shows 8 even after the server is enabled).
	if s.Cfg.Check && s.Maint() || !s.Cfg.Check && s.Cfg.Disabled {
		checkState |= 8
	}
	// The agent's state (configured, enabled, agent: 0x16), an explicit `id`, and
	// where checks and the agent go.
	agentState, forcedID := 0, 0
	if s.Cfg.Agent.Enabled {
		agentState = 22
	}
	if s.Cfg.ID > 0 {
		forcedID = 1
	}
	orDash := func(v string) string {
		if v == "" {
			return "-"
		}
		return v
	}
	addr := s.Address()
	fmt.Fprintf(w, "%d %s %d %s %s %d %d %d %d %d %d %d %d %d %d 0 %d - %d - 0 %d %s %s %d\n",
		beID, b.Name, srvID, s.Name, addr.Host, s.OpState(), s.Admin(), s.Weight(), s.Cfg.Weight,
		int64(time.Since(s.LastChange())/time.Second), status, result, s.Health(), checkState, agentState, forcedID, addr.Port,
		s.Cfg.CheckPort, orDash(s.Cfg.CheckAddr), orDash(s.Cfg.Agent.Addr), s.Cfg.Agent.Port)
}

// setAddr is `set server B/S addr IP [port P]`, with HAProxy's report of what changed.
func setAddr(s *proxy.Server, args []string, w *bufio.Writer) {
	if len(args) == 0 || args[0] == "" {
		w.WriteString("set server <b>/<s> addr requires an address and optionally a port.\n")
		return
	}
	ip, err := netip.ParseAddr(args[0])
	if err != nil || ip.Zone() != "" {
		fmt.Fprintf(w, "Invalid addr '%s' by 'stats socket command'\n", args[0])
		return
	}
	cur := s.Address()
	host, port := ip.String(), cur.Port
	var msg []string
	if host != cur.Host {
		msg = append(msg, fmt.Sprintf("IP changed from '%s' to '%s'", cur.Host, host))
	} else {
		msg = append(msg, "no need to change the addr")
	}
	if len(args) > 1 && args[1] == "port" {
		p := ""
		if len(args) > 2 {
			p = args[2]
		}
		n, err := strconv.Atoi(p)
		switch {
		case err != nil:
			msg = append(msg, fmt.Sprintf("problem converting port '%s' to an int", p))
		case n&0xffff != cur.Port:
			// HAProxy keeps the low 16 bits: 70000 becomes 4464.
			port = n & 0xffff
			msg = append(msg, fmt.Sprintf("port changed from '%d' to '%d'", cur.Port, port))
		default:
			msg = append(msg, "no need to change the port")
		}
	}
	if host != cur.Host || port != cur.Port {
		s.SetAddress(host, port)
	}
	w.WriteString(strings.Join(msg, ", "))
	w.WriteString(" by 'stats socket command'\n")
}

// ServerState is one row of `show servers state`, as a newer process reads it from the
// older one to keep what operators and checks decided.
type ServerState struct {
	Backend, Server string
	Running         bool
	Admin           uint32
	UWeight         int
	IWeight         int
	Addr            string // srv_addr: an IP, or "-"
	Port            int    // srv_port
}

// ParseServersState reads `show servers state` output (version 1); rows it cannot
// read are skipped.
func ParseServersState(text string) []ServerState {
	var out []ServerState
	lines := strings.Split(text, "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) != "1" {
		return nil
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 20 || strings.HasPrefix(l, "#") {
			continue
		}
		op, err1 := strconv.Atoi(f[5])
		admin, err2 := strconv.ParseUint(f[6], 10, 32)
		uw, err3 := strconv.Atoi(f[7])
		iw, err4 := strconv.Atoi(f[8])
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			continue
		}
		port, _ := strconv.Atoi(f[18])
		out = append(out, ServerState{Backend: f[1], Server: f[3], Running: op != 0, Admin: uint32(admin), UWeight: uw, IWeight: iw,
			Addr: f[4], Port: port})
	}
	return out
}
