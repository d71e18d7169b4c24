// Package balance holds the load-balancing algorithms of a backend (`balance ...`), one
// file per algorithm behind the Algorithm interface. The proxy package calls Pick for
// each new connection or request, once for the active servers and, when none is
// eligible, once for the backup servers.
package balance

import (
	"net/netip"

	"hitless/internal/sample"
)

// Pool is the view of one tier of a backend's servers (the active ones or the backup
// ones) that an algorithm sees. Indexes are stable: Len never changes for a Pool.
// Implementations must be safe for concurrent use and must not allocate.
type Pool interface {
	// Len is the number of servers in the tier.
	Len() int
	// Weight is server i's effective weight now: 0 when it is not eligible (down, in
	// maintenance, weight 0, or at its maxconn).
	Weight(i int) int
	// Conns is server i's current number of connections (for leastconn and first).
	Conns(i int) int
}

// Request carries what hash-based algorithms read: the client's address, and the
// session's samples for the keys of uri, url_param and hdr (nil in mode tcp).
type Request struct {
	Src    netip.Addr
	Sample *sample.Ctx
	// Client and Frontend are the connection's addresses (as a PROXY header
	// carried them): a server without a port takes Frontend's, and send-proxy
	// sends both.
	Client, Frontend netip.AddrPort
	// Authority and UniqueID are what `proxy-v2-options authority|unique-id` send.
	Authority, UniqueID string
	// Pin is the server a stick rule keeps this client on (its id, HAProxy's
	// server_id), 0 when none: the backend takes it when it is usable and has room,
	// and balances otherwise.
	Pin int
}

// Algorithm picks a server. Pick returns an index in [0, p.Len()) of a server whose
// Weight is > 0, or -1 when none is eligible. It is safe for concurrent use.
type Algorithm interface {
	Pick(p Pool, r *Request) int
}
