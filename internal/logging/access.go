package logging

import (
	"net/netip"

	"hitless/internal/logformat"
)

// Entry is one access-log record (see logformat.Entry).
type Entry = logformat.Entry

// AppendHTTPLog formats `option httplog` (see logformat.AppendHTTPLog).
func AppendHTTPLog(b []byte, e *Entry) []byte { return logformat.AppendHTTPLog(b, e) }

// AppendTCPLog formats `option tcplog` (see logformat.AppendTCPLog).
func AppendTCPLog(b []byte, e *Entry) []byte { return logformat.AppendTCPLog(b, e) }

// AppendConnectLog formats the line logged per connection without a log format.
func AppendConnectLog(b []byte, src, dst netip.AddrPort, fe string, http bool) []byte {
	return logformat.AppendConnectLog(b, src, dst, fe, http)
}

// IsError reports whether option log-separate-errors logs e at level err (see
// logformat.IsError).
func IsError(e *Entry, http bool) bool { return logformat.IsError(e, http) }
