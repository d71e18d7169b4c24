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

// AppendHTTPLog formats `option httplog`:
// %ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %{+Q}r
func AppendHTTPLog(b []byte, e *Entry) []byte {
	b = appendClient(b, e)
	b = append(b, " ["...)
	t := e.Request
	if t.IsZero() {
		t = e.Accept
	}
	b = appendDate(b, t)
	b = append(b, "] "...)
	b = appendNames(b, e)
	b = appendMS(b, e.TR)
	b = append(b, '/')
	b = appendMS(b, e.Tw)
	b = append(b, '/')
	b = appendMS(b, e.Tc)
	b = append(b, '/')
	b = appendMS(b, e.Tr)
	b = append(b, '/')
	b = appendMS(b, e.Ta)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = append(b, " - - "...)
	b = appendTerm(b, e.Term)
	b = append(b, "--"...)
	b = appendConns(b, e)
	b = append(b, " \""...)
	b = appendEscaped(b, e.RequestLine)
	return append(b, '"')
}

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
func AppendTCPLog(b []byte, e *Entry) []byte {
	b = appendClient(b, e)
	b = append(b, " ["...)
	b = appendDate(b, e.Accept)
	b = append(b, "] "...)
	b = appendNames(b, e)
	b = appendMS(b, e.Tw)
	b = append(b, '/')
	b = appendMS(b, e.Tc)
	b = append(b, '/')
	b = appendMS(b, e.Tt)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = append(b, ' ')
	b = appendTerm(b, e.Term)
	return appendConns(b, e)
}

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

func appendClient(b []byte, e *Entry) []byte {
	if e.ClientIP.IsValid() {
		b = e.ClientIP.Unmap().AppendTo(b)
	} else {
		b = append(b, '-')
	}
	b = append(b, ':')
	return strconv.AppendInt(b, int64(e.ClientPort), 10)
}

func appendNames(b []byte, e *Entry) []byte {
	b = append(b, e.Frontend...)
	b = append(b, ' ')
	if e.Backend == "" {
		b = append(b, e.Frontend...)
	} else {
		b = append(b, e.Backend...)
	}
	b = append(b, '/')
	if e.Server == "" {
		b = append(b, "<NOSRV>"...)
	} else {
		b = append(b, e.Server...)
	}
	return append(b, ' ')
}

func appendConns(b []byte, e *Entry) []byte {
	b = append(b, ' ')
	for i, n := range [...]int{e.ActConn, e.FeConn, e.BeConn, e.SrvConn, e.Retries} {
		if i > 0 {
			b = append(b, '/')
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(e.SrvQueue), 10)
	b = append(b, '/')
	return strconv.AppendInt(b, int64(e.BeQueue), 10)
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
