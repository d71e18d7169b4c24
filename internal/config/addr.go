package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// parseBindAddrs parses a bind address list: comma-separated, each an ip:port, a port
// range, a unix path, with optional ipv4@/ipv6@/unix@ prefixes. Names are resolved now.
func parseBindAddrs(spec string) ([]Addr, error) {
	var out []Addr
	for _, one := range strings.Split(spec, ",") {
		if one == "" {
			return nil, fmt.Errorf("'bind' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments.")
		}
		addrs, err := parseOneBind(one)
		if err != nil {
			return nil, err
		}
		out = append(out, addrs...)
	}
	return out, nil
}

// family prefixes and the network they force.
var prefixes = []struct {
	prefix, network string
}{
	{"ipv4@", "tcp4"}, {"tcp4@", "tcp4"}, {"ipv6@", "tcp6"}, {"tcp6@", "tcp6"},
	{"ip@", ""}, {"tcp@", ""}, {"unix@", "unix"}, {"uxst@", "unix"},
}

func parseOneBind(s string) ([]Addr, error) {
	network := ""
	rest := s
	for _, p := range prefixes {
		if strings.HasPrefix(s, p.prefix) {
			network, rest = p.network, s[len(p.prefix):]
			break
		}
	}
	if network == "" && strings.Contains(s, "@") && !strings.HasPrefix(s, "/") {
		pfx := s[:strings.IndexByte(s, '@')+1]
		switch pfx {
		case "udp@", "udp4@", "udp6@", "quic4@", "quic6@", "uxdg@":
			return nil, fmt.Errorf("dgram-type address not acceptable in '%s'", s)
		default:
			return nil, fmt.Errorf("'%s' addresses are not supported yet (in '%s')", strings.TrimSuffix(pfx, "@"), s)
		}
	}
	if network == "unix" || (network == "" && strings.HasPrefix(rest, "/")) {
		if rest == "" {
			return nil, fmt.Errorf("missing path in '%s'", s)
		}
		if len(rest) > 107-16 {
			return nil, fmt.Errorf("socket path '%s' is too long", rest)
		}
		return []Addr{{Network: "unix", Path: rest}}, nil
	}
	i := strings.LastIndexByte(rest, ':')
	if j := strings.LastIndexByte(rest, ']'); j > i {
		i = -1
	}
	if i < 0 {
		return nil, fmt.Errorf("missing port specification in '%s'", s)
	}
	host, ports := rest[:i], rest[i+1:]
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	lo, hi, err := parsePortRange(ports)
	if err != nil {
		return nil, err
	}
	ip, err := resolveHost(host, network, s)
	if err != nil {
		return nil, err
	}
	if network == "" {
		network = "tcp4"
		if ip.Is6() {
			network = "tcp6"
		}
	}
	var out []Addr
	for p := lo; p <= hi; p++ {
		out = append(out, Addr{Network: network, Host: ip.String(), Port: p})
	}
	return out, nil
}

func parsePortRange(s string) (int, int, error) {
	if a, b, ok := strings.Cut(s, "-"); ok {
		lo, err1 := strconv.Atoi(a)
		hi, err2 := strconv.Atoi(b)
		if err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
			return 0, 0, fmt.Errorf("invalid port range '%s'", s)
		}
		return lo, hi, nil
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, 0, fmt.Errorf("invalid port '%s'", s)
	}
	return p, p, nil
}

// lookupIP resolves host names at parse time (HAProxy resolves them once, when it reads
// the configuration). FuzzLoadBytes swaps it so that fuzzing never asks a DNS server.
var lookupIP = net.LookupIP

// resolveHost turns an address or name into an IP; "" and "*" are the wildcard of the
// family (IPv4 unless forced to IPv6).
func resolveHost(host, network, whole string) (netip.Addr, error) {
	if host == "" || host == "*" {
		if network == "tcp6" {
			return netip.IPv6Unspecified(), nil
		}
		return netip.IPv4Unspecified(), nil
	}
	if host == "::" {
		return netip.IPv6Unspecified(), nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if network == "tcp4" && !ip.Unmap().Is4() {
			return netip.Addr{}, fmt.Errorf("invalid address: '%s' in '%s'", host, whole)
		}
		return ip.Unmap(), nil
	}
	if looksNumeric(host) {
		return netip.Addr{}, fmt.Errorf("invalid address: '%s' in '%s'", host, whole)
	}
	ips, err := lookupIP(host)
	if err != nil || len(ips) == 0 {
		return netip.Addr{}, fmt.Errorf("could not resolve address '%s'", host)
	}
	for _, ip := range ips {
		a, _ := netip.AddrFromSlice(ip)
		a = a.Unmap()
		if network == "tcp6" && a.Is6() || network != "tcp6" && a.Is4() {
			return a, nil
		}
	}
	a, _ := netip.AddrFromSlice(ips[0])
	return a.Unmap(), nil
}

func looksNumeric(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c == '.') {
			return false
		}
	}
	return true
}

// parseServerAddr parses a server's ADDR[:PORT]: without a port the server takes the
// port the client connected to, with +N/-N that port plus N (PortMode).
func parseServerAddr(s string) (string, int, int, error) {
	rest := s
	network := ""
	for _, p := range prefixes {
		if strings.HasPrefix(s, p.prefix) {
			network, rest = p.network, s[len(p.prefix):]
			break
		}
	}
	if network == "unix" || strings.HasPrefix(rest, "/") {
		return "", 0, 0, fmt.Errorf("unix socket servers are not supported yet ('%s')", s)
	}
	host, portText := rest, ""
	i := strings.LastIndexByte(rest, ':')
	if j := strings.LastIndexByte(rest, ']'); j > i {
		i = -1
	}
	// An IPv6 address without brackets and without port: all of it is the host.
	if i >= 0 && !(strings.Count(rest, ":") > 1 && !strings.Contains(rest, "]")) {
		host, portText = rest[:i], rest[i+1:]
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	port, mode, err := splitServerPort(portText)
	if err != nil {
		return "", 0, 0, err
	}
	if host == "" || host == "*" {
		return "", 0, 0, fmt.Errorf("invalid address: '%s' in '%s'", host, s)
	}
	ip, err := resolveHost(host, network, s)
	if err != nil {
		return "", 0, 0, err
	}
	return ip.String(), port, mode, nil
}

// facilities and levels as syslog numbers.
var facilities = []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
	"auth2", "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
	"local5", "local6", "local7"}

var levels = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

var logFormats = map[string]bool{"rfc3164": true, "rfc5424": true, "raw": true, "short": true, "local": true,
	"priority": true, "timed": true, "iso": true}

// parseLog parses the words after `log` (not `log global`).
func parseLog(args []string) (LogTarget, error) {
	t := LogTarget{Len: 1024, Format: "rfc3164", Level: 7}
	if len(args) < 2 {
		return t, fmt.Errorf("'log' expects <address> and <facility> or 'global' as arguments")
	}
	target := args[0]
	switch {
	case target == "stdout" || target == "fd@1":
		t.Network = "stdout"
	case target == "stderr" || target == "fd@2":
		t.Network = "stderr"
	case strings.HasPrefix(target, "/") || strings.HasPrefix(target, "unix@"):
		t.Network, t.Address = "unixgram", strings.TrimPrefix(target, "unix@")
	case strings.HasPrefix(target, "tcp@"):
		host, port, err := parseHostPort(strings.TrimPrefix(target, "tcp@"), 514)
		if err != nil {
			return t, err
		}
		t.Network, t.Address = "tcp", net.JoinHostPort(host, strconv.Itoa(port))
	case strings.HasPrefix(target, "ring@") || strings.HasPrefix(target, "fd@"):
		return t, fmt.Errorf("log target '%s' is not supported yet", target)
	default:
		addr := target
		for _, p := range []string{"udp@", "udp4@", "udp6@", "ipv4@", "ipv6@"} {
			addr = strings.TrimPrefix(addr, p)
		}
		host, port, err := parseHostPort(addr, 514)
		if err != nil {
			return t, err
		}
		t.Network, t.Address = "udp", net.JoinHostPort(host, strconv.Itoa(port))
	}
	rest := args[1:]
	for len(rest) >= 2 {
		switch rest[0] {
		case "len":
			n, err := strconv.Atoi(rest[1])
			if err != nil || n < 80 || n > 65535 {
				return t, fmt.Errorf("'len' expects a value between 80 and 65535 (got '%s')", rest[1])
			}
			t.Len = n
		case "format":
			if !logFormats[rest[1]] {
				return t, fmt.Errorf("unknown log format '%s'", rest[1])
			}
			t.Format = rest[1]
		case "sample":
			return t, fmt.Errorf("'log ... sample' is not supported yet")
		default:
			goto facility
		}
		rest = rest[2:]
	}
facility:
	if len(rest) == 0 {
		return t, fmt.Errorf("'log' expects <address> and <facility> or 'global' as arguments")
	}
	if t.Facility = indexOf(facilities, rest[0]); t.Facility < 0 {
		return t, fmt.Errorf("unknown log facility '%s'", rest[0])
	}
	if len(rest) > 1 {
		if t.Level = indexOf(levels, rest[1]); t.Level < 0 {
			return t, fmt.Errorf("unknown optional log level '%s'", rest[1])
		}
	}
	if len(rest) > 2 {
		if t.MinLevel = indexOf(levels, rest[2]); t.MinLevel < 0 {
			return t, fmt.Errorf("unknown optional minimum log level '%s'", rest[2])
		}
	}
	if len(rest) > 3 {
		return t, fmt.Errorf("unexpected argument '%s' after the log levels", rest[3])
	}
	return t, nil
}

func parseHostPort(s string, defPort int) (string, int, error) {
	host, port := s, defPort
	i := strings.LastIndexByte(s, ':')
	if j := strings.LastIndexByte(s, ']'); i > j && (j >= 0 || strings.Count(s, ":") == 1) {
		p, err := strconv.Atoi(s[i+1:])
		if err != nil || p < 1 || p > 65535 {
			return "", 0, fmt.Errorf("invalid port '%s'", s[i+1:])
		}
		host, port = s[:i], p
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	ip, err := resolveHost(host, "", s)
	if err != nil {
		return "", 0, err
	}
	return ip.String(), port, nil
}
