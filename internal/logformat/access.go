package logformat

import (
	"net/netip"
	"strconv"
	"time"
)

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func append2(b []byte, n int) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

// httpLog and tcpLog are `option httplog` and `option tcplog`: the same formats a
// log-format line would give, so that both always write the same bytes.
var httpLog, tcpLog = mustParse(HTTPLog), mustParse(TCPLog)

func mustParse(s string) *Format {
	f, err := Parse(s)
	if err != nil {
		panic("logformat: " + s + ": " + err.Error())
	}
	return f
}

// AppendHTTPLog formats `option httplog`:
// %ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %{+Q}r
func AppendHTTPLog(b []byte, e *Entry) []byte { return httpLog.Append(b, e) }

const hexDigits = "0123456789ABCDEF"

// appendEscaped writes s as HAProxy logs a request line: '"', '#', control characters
// and bytes from 127 up become "#XX" (upper-case hex), so that the quoted field stays
// one field on one line.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 32 || c >= 127 || c == '"' || c == '#' {
			b = append(b, '#', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

// AppendTCPLog formats `option tcplog`:
// %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq
func AppendTCPLog(b []byte, e *Entry) []byte { return tcpLog.Append(b, e) }

// AppendConnectLog formats the line HAProxy logs per connection when a proxy has a
// logger but no log format: "Connect from 127.0.0.1:4242 to 127.0.0.1:80 (fe/HTTP)".
func AppendConnectLog(b []byte, src, dst netip.AddrPort, fe string, http bool) []byte {
	b = append(b, "Connect from "...)
	b = src.AppendTo(b)
	b = append(b, " to "...)
	b = dst.AppendTo(b)
	b = append(b, " ("...)
	b = append(b, fe...)
	if http {
		b = append(b, "/HTTP)"...)
	} else {
		b = append(b, "/TCP)"...)
	}
	return b
}

func appendTerm(b []byte, t [2]byte) []byte {
	if t[0] == 0 {
		return append(b, "--"...)
	}
	return append(b, t[0], t[1])
}

// appendMS writes a duration in milliseconds, or -1.
func appendMS(b []byte, d time.Duration) []byte {
	if d < 0 {
		return append(b, "-1"...)
	}
	return strconv.AppendInt(b, int64(d/time.Millisecond), 10)
}

// appendDate writes HAProxy's date: 25/Nov/2026:06:34:21.123 (local time).
func appendDate(b []byte, t time.Time) []byte {
	b = appendDaySecond(b, t)
	b = append(b, '.')
	ms := t.Nanosecond() / 1e6
	return append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
}

// appendDaySecond writes 25/Nov/2026:06:34:21 in t's zone.
func appendDaySecond(b []byte, t time.Time) []byte {
	b = append2(b, t.Day())
	b = append(b, '/')
	b = append(b, months[t.Month()-1]...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(t.Year()), 10)
	b = append(b, ':')
	b = append2(b, t.Hour())
	b = append(b, ':')
	b = append2(b, t.Minute())
	b = append(b, ':')
	return append2(b, t.Second())
}

// IsError is HAProxy's rule for `option log-separate-errors`: the line goes out at
// level err instead of info when the exchange ended on an error other than a local
// one (the termination state's first letter is neither '-' nor 'L'), needed retries,
// or, in mode http, got a 5xx status.
func IsError(e *Entry, http bool) bool {
	switch e.Term[0] {
	case 0, '-', 'L':
	default:
		return true
	}
	return e.Retries > 0 || (http && e.Status >= 500)
}
