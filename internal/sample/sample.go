// Package sample is HAProxy's sample engine: the fetches and converters of its rule
// language as rows of one table, and expressions (`fetch(args),conv(args),...`)
// compiled once at configuration load into an Expr that runs against an Input
// without allocating. ACLs (internal/acl), http-request/http-response/tcp-request
// rules (internal/config and the engines), log formats (`%[...]` in
// internal/logformat), header templates and `balance hdr()` all read samples through
// it; the tcp and http sessions implement Input.
package sample

import (
	"crypto/tls"
	"net/netip"

	"hitless/internal/http1"
)

// Type is the type of a sample, as HAProxy names them in its messages.
type Type uint8

const (
	TAny Type = iota
	TBool
	TInt
	TAddr // an IPv4 or IPv6 address (a converter's input "ip")
	TIPv4
	TIPv6
	TStr
	TBin
	TMeth
)

var typeNames = [...]string{"any", "bool", "sint", "addr", "ipv4", "ipv6", "str", "bin", "meth"}

func (t Type) String() string { return typeNames[t] }

// Value is one sample. B may point into the request's buffers or into the Ctx's
// scratch space: it is valid until the Ctx is reset.
type Value struct {
	Type Type
	Int  int64 // TBool (0 or 1), TInt
	Addr netip.Addr
	B    []byte // TStr, TBin, TMeth
}

// Str returns a string value (nil bytes are "").
func Str(b []byte) Value { return Value{Type: TStr, B: b} }

// Int returns an integer value.
func Int(n int64) Value { return Value{Type: TInt, Int: n} }

// Bool returns a boolean value.
func Bool(b bool) Value {
	if b {
		return Value{Type: TBool, Int: 1}
	}
	return Value{Type: TBool}
}

// Addr returns an address value, IPv4 when a is IPv4 or IPv4-mapped.
func Addr(a netip.Addr) Value {
	a = a.Unmap()
	if a.Is4() {
		return Value{Type: TIPv4, Addr: a}
	}
	return Value{Type: TIPv6, Addr: a}
}

// ProxyInfo is what a session tells about a frontend or a backend. Found is false
// when there is none (no backend chosen yet, or no proxy of that name).
type ProxyInfo struct {
	Found    bool
	Name     string
	ID       int
	Usable   int // servers usable now (nbsrv)
	Conns    int // current connections (be_conn, fe_conn)
	Queue    int // requests waiting for a server (queue)
	Slots    int // free connection and queue slots (connslots); -1 = unlimited
	SessRate int // sessions per second (be_sess_rate, fe_sess_rate)
}

// ServerInfo is what a session tells about a server.
type ServerInfo struct {
	Found bool
	Name  string
	ID    int
	Up    bool // usable: up and not in maintenance
	Conns int
	Queue int
}

// Input is what a session answers to fetches. Every method must be cheap and must not
// allocate; the tcp engine answers nil for the HTTP messages.
type Input interface {
	Src() netip.AddrPort
	Dst() netip.AddrPort
	// Frontend is the proxy that accepted the connection.
	Frontend() ProxyInfo
	// Backend is the named backend, or the request's backend when name is "".
	Backend(name string) ProxyInfo
	// Server is the named server of the named backend, or the request's server when
	// both are "" (Found false before one is chosen).
	Server(backend, name string) ServerInfo
	// Request is the request head, nil in mode tcp.
	Request() *http1.Request
	// Response is the response head, nil until one is parsed.
	Response() *http1.Response
	// Vars holds the session's variables (scopes sess, txn, req, res).
	Vars() *Vars
	// TLS is the client connection's TLS state, nil on a plain connection.
	TLS() *tls.ConnectionState
	// BackendTLS is the state of the connection to the request's server, nil when
	// it is plain or not established.
	BackendTLS() *tls.ConnectionState
}
