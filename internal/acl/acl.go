// Package acl parses and evaluates HAProxy access control lists: the named tests of
// `acl NAME FETCH [flags] VALUES...` lines and the `if|unless` conditions that combine
// them. The config package parses them (so `hitless -c` reports their errors) and the
// proxy engines evaluate them per connection or request.
package acl

import "net/netip"

// Sample is what a condition reads from a connection or an HTTP request. The tcp engine
// answers "" and false for HTTP fetches.
type Sample interface {
	// Path is the request path without the query string.
	Path() string
	// Method is the request method ("GET").
	Method() string
	// Header calls fn with each value of the named header (case-insensitive name;
	// comma-separated values are split as HAProxy's hdr() does) until fn returns true,
	// and reports whether it did.
	Header(name string, fn func(value string) bool) bool
	// Src is the client's address.
	Src() netip.Addr
	// DstPort is the local port the connection arrived on.
	DstPort() int
}
