package httpproxy

import (
	"net/netip"
	"unsafe"

	"hitless/internal/http1"
	"hitless/internal/sample"
	"hitless/internal/tcpproxy"
)

// bstr views b as a string without copying; the string must not outlive the
// request's buffer (ACL matching and hashing only read it).
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// The session answers sample fetches (sample.Input).

func (s *session) Src() netip.AddrPort        { return s.src }
func (s *session) Dst() netip.AddrPort        { return s.dst }
func (s *session) Frontend() sample.ProxyInfo { return s.fe.Info() }

func (s *session) Vars() *sample.Vars { return &s.vars }

// Request is the request head (a copy of its first line while logging).
func (s *session) Request() *http1.Request {
	if s.reqCopy {
		return &s.logReq
	}
	return &s.req
}

// Response is the response head once one is parsed.
func (s *session) Response() *http1.Response {
	switch {
	case !s.hasResp:
		return nil
	case s.resCopy:
		return &s.logRes
	}
	return &s.resp
}

func (s *session) Backend(name string) sample.ProxyInfo {
	return tcpproxy.BackendInfo(s.fe, s.be, name)
}

func (s *session) Server(be, name string) sample.ServerInfo {
	return tcpproxy.ServerInfo(s.fe, s.srv, be, name)
}

// Path is the request path without the query string.
func (s *session) Path() string {
	p, _, _ := sample.SplitTarget(s.req.Target)
	return bstr(p)
}

// Get returns the first value of a header (balance.HeaderGetter).
func (s *session) Get(name string) (string, bool) {
	for i := range s.req.Headers {
		if equalFold(s.req.Headers[i].Name, name) {
			return bstr(s.req.Headers[i].Value), true
		}
	}
	return "", false
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
