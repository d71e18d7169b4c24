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
	if len(s.edits) == 0 {
		return &s.req
	}
	// Header edits decided by earlier rules are seen by the following fetches, as in
	// HAProxy: a view of the head with the edits applied, rebuilt when they change.
	v := &s.reqView
	if v.edits != len(s.edits) || v.gen != s.hdrGen {
		v.headers = applyEdits(v.headers[:0], s.req.Headers, s.edits)
		v.edits, v.gen = len(s.edits), s.hdrGen
	}
	v.req = s.req
	v.req.Headers = v.headers
	return &v.req
}

// Response is the response head once one is parsed.
func (s *session) Response() *http1.Response {
	switch {
	case !s.hasResp:
		return nil
	case s.resCopy:
		return &s.logRes
	case len(s.redits) == 0:
		return &s.resp
	}
	v := &s.resView
	if v.edits != len(s.redits) || v.gen != s.hdrGen {
		v.headers = applyEdits(v.headers[:0], s.resp.Headers, s.redits)
		v.edits, v.gen = len(s.redits), s.hdrGen
	}
	v.res = s.resp
	v.res.Headers = v.headers
	return &v.res
}

// headView is a message head with the rules' header edits applied.
type headView struct {
	req     http1.Request
	res     http1.Response
	headers []http1.Header
	edits   int    // how many edits it reflects
	gen     uint64 // the session's hdrGen it reflects
}

// applyEdits applies header edits in order, as the head will be written: a deletion
// removes every header of its name so far, an addition appends one.
func applyEdits(dst, hs []http1.Header, edits []edit) []http1.Header {
	dst = append(dst, hs...)
	for i := range edits {
		e := &edits[i]
		if e.del {
			kept := dst[:0]
			for _, h := range dst {
				if !equalFold(h.Name, e.name) {
					kept = append(kept, h)
				}
			}
			dst = kept
		}
		if e.add {
			dst = append(dst, http1.Header{Name: sbytes(e.name), Value: e.value})
		}
	}
	return dst
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
