package httpproxy

import (
	"bytes"
	"net/netip"
	"unsafe"
)

// bstr views b as a string without copying; the string must not outlive the
// request's buffer (ACL matching and hashing only read it).
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// Path is the request path without the query string (acl.Sample): of an
// absolute-form target ("ftp://host/admin"), whatever its scheme, only the path, as
// HAProxy's `path` reads it.
func (s *session) Path() string {
	t := s.req.Path
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		t = t[:i]
	}
	return bstr(t)
}

// Method is the request method (acl.Sample).
func (s *session) Method() string { return bstr(s.req.Method) }

// Header calls fn with each comma-separated value of a header (acl.Sample).
func (s *session) Header(name string, fn func(string) bool) bool {
	for i := range s.req.Headers {
		h := &s.req.Headers[i]
		if !equalFold(h.Name, name) {
			continue
		}
		v := h.Value
		for {
			var part []byte
			if j := bytes.IndexByte(v, ','); j >= 0 {
				part, v = v[:j], v[j+1:]
			} else {
				part, v = v, nil
			}
			if fn(bstr(bytes.TrimSpace(part))) {
				return true
			}
			if v == nil {
				break
			}
		}
	}
	return false
}

// Src is the client address (acl.Sample).
func (s *session) Src() netip.Addr { return s.src.Addr().Unmap() }

// DstPort is the port the client connected to (acl.Sample).
func (s *session) DstPort() int { return int(s.dst.Port()) }

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
