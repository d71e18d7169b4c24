package http1

import "bytes"

// TargetForm is the form of a request target (RFC 9112 §3.2).
type TargetForm uint8

const (
	OriginForm    TargetForm = iota // /path?query
	AbsoluteForm                    // scheme://authority/path?query
	AuthorityForm                   // host:port, CONNECT only
	AsteriskForm                    // *, OPTIONS only
)

// targetByte marks the bytes a request target may hold. HAProxy 2.6 refuses controls,
// space, DEL, '#' (a fragment is never sent) and bytes above 0x7f, and so does
// hitless; the other printable characters are passed on, as HAProxy passes them.
var targetByte = func() (t [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		t[c] = c != '#'
	}
	return t
}()

// parseTarget splits r.Target into its form and parts, or reports why it is none of
// RFC 9112's four forms. CONNECT takes the authority form and nothing else; the
// asterisk form is for OPTIONS only (HAProxy passes it for any method: hitless is
// stricter, as RFC 9112 §3.2.4 is).
func (r *Request) parseTarget() error {
	t := r.Target
	for i, c := range t {
		if !targetByte[c] {
			return malformedAt("request target", t[i:])
		}
	}
	connect := string(r.Method) == "CONNECT"
	switch {
	case connect:
		if !validAuthority(t, true) {
			return malformedAt("CONNECT target is not host:port", t)
		}
		r.Form, r.Authority = AuthorityForm, t
	case t[0] == '/':
		r.Form, r.Path = OriginForm, t
	case len(t) == 1 && t[0] == '*':
		if string(r.Method) != "OPTIONS" {
			return malformedAt("asterisk-form target for a method other than OPTIONS", t)
		}
		r.Form = AsteriskForm
	default:
		i := bytes.Index(t, []byte("://"))
		if i <= 0 || !validScheme(t[:i]) {
			return malformedAt("request target", t)
		}
		rest := t[i+3:]
		end := bytes.IndexByte(rest, '/')
		if end < 0 {
			end = len(rest)
		}
		auth := rest[:end]
		if bytes.IndexByte(auth, '@') >= 0 {
			// http URIs carry no userinfo (RFC 9110 §4.2.4); "http://good@evil/"
			// is a classic way of fooling a reader.
			return malformedAt("userinfo in the request target", auth)
		}
		if !validAuthority(auth, false) {
			return malformedAt("request target authority", auth)
		}
		r.Form, r.Scheme, r.Authority, r.Path = AbsoluteForm, t[:i], auth, rest[end:]
	}
	return nil
}

// validScheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s []byte) bool {
	for i, c := range s {
		alpha := c|0x20 >= 'a' && c|0x20 <= 'z'
		if !alpha && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return len(s) > 0
}

// validAuthority checks host [":" port] (RFC 3986 §3.2.2): an IP literal in brackets
// or a reg-name of unreserved, percent-encoded and sub-delimiter characters, which
// is not empty. needPort asks for a port (the authority form of CONNECT).
func validAuthority(a []byte, needPort bool) bool {
	host, port, ok := splitHostPort(a)
	if !ok || len(host) == 0 || (needPort && port == nil) {
		return false
	}
	return validHost(host)
}

// splitHostPort splits host[:port]; ok is false when the port is not digits.
func splitHostPort(a []byte) (host, port []byte, ok bool) {
	host = a
	if len(a) > 0 && a[0] == '[' {
		end := bytes.IndexByte(a, ']')
		if end < 0 {
			return nil, nil, false
		}
		host = a[:end+1]
		rest := a[end+1:]
		if len(rest) > 0 {
			if rest[0] != ':' {
				return nil, nil, false
			}
			port = rest[1:]
		}
	} else if i := bytes.LastIndexByte(a, ':'); i >= 0 {
		host, port = a[:i], a[i+1:]
	}
	if port != nil {
		if len(port) == 0 || len(port) > 5 {
			return nil, nil, false
		}
		for _, c := range port {
			if c < '0' || c > '9' {
				return nil, nil, false
			}
		}
	}
	return host, port, true
}

// hostByte marks the bytes of a reg-name: unreserved, '%' (pct-encoded) and
// sub-delims.
var hostByte = func() (t [256]bool) {
	for _, c := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=" {
		t[c] = true
	}
	return t
}()

func validHost(h []byte) bool {
	if len(h) > 0 && h[0] == '[' {
		if len(h) < 3 || h[len(h)-1] != ']' {
			return false
		}
		for _, c := range h[1 : len(h)-1] {
			if !(c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f' || c == ':' || c == '.') {
				return false
			}
		}
		return true
	}
	for _, c := range h {
		if !hostByte[c] {
			return false
		}
	}
	return true
}

// validHostHeader checks a Host value: uri-host [":" port], which may be empty
// (RFC 9110 §7.2).
func validHostHeader(v []byte) bool {
	if len(v) == 0 {
		return true
	}
	host, _, ok := splitHostPort(v)
	return ok && len(host) > 0 && validHost(host)
}

// sameAuthority compares the authority of an absolute-form target with the Host
// header as HAProxy does: without regard to case, and with the scheme's default port
// (80 for http, 443 for https) the same as no port.
func sameAuthority(scheme, auth, host []byte) bool {
	ah, ap, _ := splitHostPort(auth)
	hh, hp, _ := splitHostPort(host)
	if !bytes.EqualFold(ah, hh) {
		return false
	}
	def := []byte(nil)
	switch {
	case equalFoldLower(scheme, "http"), equalFoldLower(scheme, "ws"):
		def = []byte("80")
	case equalFoldLower(scheme, "https"), equalFoldLower(scheme, "wss"):
		def = []byte("443")
	}
	if len(ap) == 0 {
		ap = def
	}
	if len(hp) == 0 {
		hp = def
	}
	return bytes.Equal(ap, hp)
}
