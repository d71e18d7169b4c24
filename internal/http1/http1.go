// Package http1 parses HTTP/1.0 and HTTP/1.1 message heads in place (no copies, no
// allocations once warm) and relays bodies with their framing checked. It rejects what
// request smuggling and routing confusion rely on: conflicting or repeated differing
// Content-Length, Transfer-Encoding other than a final chunked, invalid header names,
// whitespace before a colon, obs-fold, bare CR and NUL bytes, request targets that are
// not one of RFC 9112's four forms, differing Host headers or a Host that disagrees
// with an absolute-form target, and more header fields than tune.http.maxhdr allows.
//
// What it parsed is what is forwarded: Content-Length and Transfer-Encoding are never
// copied from a message (IsEndToEnd is false for them); a forwarder writes the framing
// it parsed with WriteFraming. Connection may nominate hop-by-hop headers, but never
// the framing headers or Host. The httpproxy engine uses it on both sides of every
// request.
package http1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxHead is the largest message head accepted (HAProxy's default tune.bufsize).
const MaxHead = 16 << 10

// Errors. ErrHeadTooLarge and ErrMalformed make the engine answer 400 (requests) or
// 502 (responses).
var (
	ErrHeadTooLarge = errors.New("http1: message head too large")
	ErrMalformed    = errors.New("http1: malformed message")
)

func malformed(why string) error { return fmt.Errorf("%w: %s", ErrMalformed, why) }

// SyntaxError is a malformed head with the place of the fault: Pos is the offset in
// the head of the first byte found invalid (HAProxy's "error at position").
type SyntaxError struct {
	Why string
	Pos int
	at  []byte // the faulty part, a subslice of the head, until Pos is set
}

func (e *SyntaxError) Error() string { return ErrMalformed.Error() + ": " + e.Why }

func (e *SyntaxError) Unwrap() error { return ErrMalformed }

// malformedAt reports a fault that starts at the first byte of at, a subslice of the
// head being parsed.
func malformedAt(why string, at []byte) error { return &SyntaxError{Why: why, at: at} }

// locate turns the faulty subslice of a SyntaxError into an offset in head: both
// share head's array, so the difference of their capacities is the offset.
func locate(err error, head []byte) error {
	if se, ok := err.(*SyntaxError); ok && se.at != nil {
		se.Pos = cap(head) - cap(se.at)
		se.at = nil
	}
	return err
}

// ErrorPos returns the offset of the fault of a SyntaxError from ParseRequest or
// ParseResponse, or -1.
func ErrorPos(err error) int {
	var se *SyntaxError
	if errors.As(err, &se) {
		return se.Pos
	}
	return -1
}

// Header is one header field; both slices point into the read buffer.
type Header struct {
	Name, Value []byte
}

// DefaultMaxHeaders is the number of header fields a head may carry when
// Message.MaxHeaders is 0: HAProxy 2.6's tune.http.maxhdr is 101 and allows one
// field fewer than that.
const DefaultMaxHeaders = 100

// Message is the common part of a parsed request or response head.
type Message struct {
	// MaxHeaders bounds the header fields of the head (tune.http.maxhdr - 1); 0 is
	// DefaultMaxHeaders. It is set by the caller and kept across parses.
	MaxHeaders int
	Minor      int // 0 for HTTP/1.0, 1 for HTTP/1.1 (and any later HTTP/1.x)
	// Headers are the header fields in order. A Host field repeated with the same
	// value appears once, as HAProxy merges it.
	Headers       []Header
	ContentLength int64 // -1 when absent
	Chunked       bool
	// ConnClose / ConnKeepAlive / ConnUpgrade reflect the Connection header.
	ConnClose, ConnKeepAlive, ConnUpgrade bool
	HasUpgrade                            bool // an Upgrade header is present
	WebSocket                             bool // Upgrade names websocket
	// hop holds header names listed in Connection (lower-case), to be removed.
	hop [][]byte
	// HeadLen is the number of bytes of the head, terminator included.
	HeadLen int
}

// Request is a parsed request head.
type Request struct {
	Message
	Method, Target []byte
	// Form is the form of Target (RFC 9112 §3.2); Scheme and Authority are set for
	// the absolute form, Authority alone for the authority form (CONNECT).
	Form              TargetForm
	Scheme, Authority []byte
	// Path is the path and query of Target: all of it in origin form, what follows
	// the authority in absolute form (possibly empty), nil otherwise.
	Path []byte
	// Host is the value of the Host header, nil when there is none.
	Host []byte
}

// Response is a parsed response head.
type Response struct {
	Message
	Status int
	Reason []byte
}

// KeepAlive reports whether the peer wants the connection kept after this message.
func (m *Message) KeepAlive() bool {
	if m.ConnClose {
		return false
	}
	return m.Minor >= 1 || m.ConnKeepAlive
}

// IsEndToEnd reports whether a header field of m is forwarded as it is: it is not
// one of the hop-by-hop fields (RFC 9110 §7.6.1), not a framing field (a forwarder
// writes the framing it parsed, with WriteFraming) and not nominated by m's
// Connection header. Upgrade is hop-by-hop; a forwarder relaying an upgrade passes it
// on itself.
func (m *Message) IsEndToEnd(name []byte) bool {
	if inTable(name, hopHeaders) || inTable(name, framingHeaders) {
		return false
	}
	for _, h := range m.hop {
		if bytes.EqualFold(h, name) {
			return false
		}
	}
	return true
}

// hopHeaders are removed at every hop (RFC 9110 §7.6.1). Upgrade is forwarded only for
// upgrade requests, by the engine.
var hopHeaders = []string{"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"}

// framingHeaders delimit a message body: a forwarder never copies them but writes
// the framing it parsed (WriteFraming), so that the next hop cannot read the body
// differently.
var framingHeaders = []string{"content-length", "transfer-encoding"}

// protectedHeaders can never be nominated by Connection (RFC 9110 §7.6.1 lets a
// sender list any field there; dropping one of these would change the framing or the
// routing of the message for the next hop).
var protectedHeaders = []string{"content-length", "transfer-encoding", "host"}

// EndToEndName reports whether a header name may be written by a rule: it is neither
// a framing nor a hop-by-hop field, which hitless writes itself from what it parsed.
func EndToEndName(name string) bool {
	for _, t := range [][]string{hopHeaders, framingHeaders} {
		for _, h := range t {
			if strings.EqualFold(name, h) {
				return false
			}
		}
	}
	return true
}

func inTable(name []byte, table []string) bool {
	for _, h := range table {
		if equalFoldLower(name, h) {
			return true
		}
	}
	return false
}

// WriteFraming writes the framing field of a message forwarded with the framing its
// parse found: "transfer-encoding: chunked" when chunked, else "content-length: N"
// when the length is known (n >= 0), else nothing. The forwarder decides when a
// message has no body at all and says so with n < 0 and chunked false. It returns
// the length of the field's name and value (what HAProxy counts of a header).
func WriteFraming(w *bufio.Writer, chunked bool, n int64) int {
	switch {
	case chunked:
		w.WriteString("transfer-encoding: chunked\r\n")
		return len("transfer-encoding") + len("chunked")
	case n >= 0:
		var num [20]byte
		v := strconv.AppendInt(num[:0], n, 10)
		w.WriteString("content-length: ")
		w.Write(v)
		w.WriteString("\r\n")
		return len("content-length") + len(v)
	}
	return 0
}

// ValidFieldValue reports whether v may be sent as a header field value: no CR, LF,
// NUL or other control byte but tab, and no DEL. Values built by rules pass it before
// they are written.
func ValidFieldValue(v []byte) bool {
	for _, c := range v {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// equalFoldLower compares b with a lower-case ASCII string, ignoring b's case.
func equalFoldLower(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// Get returns the first value of a header (name in lower case) and whether it exists.
func (m *Message) Get(lower string) ([]byte, bool) {
	for i := range m.Headers {
		if equalFoldLower(m.Headers[i].Name, lower) {
			return m.Headers[i].Value, true
		}
	}
	return nil, false
}

// ReadHead waits until br holds a complete head and returns it without consuming it:
// the slice stays valid until the next read from br. A head larger than MaxHead fails.
// io.EOF means the peer closed before sending anything.
func ReadHead(br *bufio.Reader) ([]byte, error) {
	scanned := 0
	for {
		buf, _ := br.Peek(br.Buffered())
		// Empty lines before a message are skipped (RFC 9112 §2.2).
		if skip := leadingEmptyLines(buf); skip > 0 {
			br.Discard(skip)
			buf = buf[skip:]
		}
		if end := headEnd(buf, scanned); end > 0 {
			return buf[:end], nil
		}
		if len(buf) >= MaxHead || len(buf) >= br.Size() {
			return nil, ErrHeadTooLarge
		}
		scanned = max(0, len(buf)-3)
		if _, err := br.Peek(len(buf) + 1); err != nil {
			if errors.Is(err, io.EOF) && len(buf) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, ErrHeadTooLarge
			}
			return nil, err
		}
	}
}

// leadingEmptyLines is the length of the CRLF and LF lines that start buf.
func leadingEmptyLines(buf []byte) int {
	n := 0
	for {
		switch {
		case n < len(buf) && buf[n] == '\n':
			n++
		case n+1 < len(buf) && buf[n] == '\r' && buf[n+1] == '\n':
			n += 2
		default:
			return n
		}
	}
}

// headEnd returns the length of the head (through the empty line) or 0.
func headEnd(buf []byte, from int) int {
	for i := from; i < len(buf); i++ {
		if buf[i] != '\n' {
			continue
		}
		// "\n\n" or "\n\r\n" ends the head.
		if i+1 < len(buf) && buf[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(buf) && buf[i+1] == '\r' && buf[i+2] == '\n' {
			return i + 3
		}
	}
	return 0
}

// nextLine splits off one line, accepting CRLF or LF; a CR elsewhere is an error.
func nextLine(b []byte) (line, rest []byte, err error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, nil, malformedAt("missing line end", b[len(b):])
	}
	line = b[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if j := bytes.IndexByte(line, '\r'); j >= 0 {
		return nil, nil, malformedAt("bare CR", line[j:])
	}
	return line, b[i+1:], nil
}

// ParseRequest parses a head returned by ReadHead. Slices of r point into head. A
// malformed head gives a *SyntaxError.
func ParseRequest(head []byte, r *Request) error {
	return locate(parseRequest(head, r), head)
}

func parseRequest(head []byte, r *Request) error {
	r.reset()
	r.HeadLen = len(head)
	b := head
	// Skip empty lines before the request line.
	for len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
		if b[0] == '\r' && (len(b) < 2 || b[1] != '\n') {
			return malformedAt("bare CR", b)
		}
		if b[0] == '\r' {
			b = b[2:]
		} else {
			b = b[1:]
		}
	}
	line, rest, err := nextLine(b)
	if err != nil {
		return err
	}
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return malformedAt("request line", line[max(sp1, 0):])
	}
	r.Method = line[:sp1]
	for i, c := range r.Method {
		if !isToken(c) {
			return malformedAt("method", line[i:])
		}
	}
	line = line[sp1+1:]
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp2 <= 0 {
		return malformedAt("request line", line[max(sp2, 0):])
	}
	r.Target = line[:sp2]
	if err := r.parseTarget(); err != nil {
		return err
	}
	if r.Minor, err = parseVersion(line[sp2+1:]); err != nil {
		return err
	}
	if err := r.parseHeaders(rest, true); err != nil {
		return err
	}
	if err := r.checkHost(); err != nil {
		return err
	}
	if r.IsUpgrade() && r.WebSocket {
		if _, ok := r.Get("sec-websocket-key"); !ok {
			// As HAProxy 2.6: a WebSocket handshake without its key is refused.
			return malformedAt("WebSocket upgrade without Sec-WebSocket-Key", head[len(head):])
		}
	}
	return nil
}

// IsUpgrade reports whether the request asks to switch protocols (Connection:
// upgrade with an Upgrade header).
func (r *Request) IsUpgrade() bool { return r.ConnUpgrade && r.HasUpgrade }

// CheckSwitch refuses a 101 answer that the request did not ask for, or that
// completes a WebSocket handshake without Sec-WebSocket-Accept: relaying it would
// leave the client and the server reading the connection differently. HAProxy 2.6
// answers 502 to both.
func (resp *Response) CheckSwitch(req *Request) error {
	if resp.Status != 101 {
		return nil
	}
	if !req.IsUpgrade() {
		return malformed("101 answer to a request without Upgrade")
	}
	if req.WebSocket {
		if _, ok := resp.Get("sec-websocket-accept"); !ok {
			return malformed("101 answer to a WebSocket handshake without Sec-WebSocket-Accept")
		}
	}
	return nil
}

// hasToken reports whether a comma-separated list holds token (any case).
func hasToken(list []byte, token string) bool {
	for len(list) > 0 {
		var t []byte
		if i := bytes.IndexByte(list, ','); i >= 0 {
			t, list = list[:i], list[i+1:]
		} else {
			t, list = list, nil
		}
		// A protocol may carry a version ("websocket/13"): the name is before '/'.
		if i := bytes.IndexByte(t, '/'); i >= 0 {
			t = t[:i]
		}
		if equalFoldLower(trimOWS(t), token) {
			return true
		}
	}
	return false
}

// checkHost applies RFC 9112 §3.2's rules on Host once the headers are parsed: Host
// fields with differing values are refused (identical ones were merged), as is a
// Host that is not a valid uri-host[:port], and, as HAProxy does, a Host that names
// another authority than an absolute-form target.
func (r *Request) checkHost() error {
	seen := false
	for i := 0; i < len(r.Headers); i++ {
		h := &r.Headers[i]
		if !equalFoldLower(h.Name, "host") {
			continue
		}
		switch {
		case !seen:
			if !validHostHeader(h.Value) {
				return malformedAt("invalid Host", h.Value)
			}
			seen, r.Host = true, h.Value
		case !bytes.Equal(h.Value, r.Host):
			return malformedAt("differing Host headers", h.Value)
		default:
			// The same Host again: forwarded once.
			r.Headers = append(r.Headers[:i], r.Headers[i+1:]...)
			i--
		}
	}
	if r.Form == AbsoluteForm && seen && !sameAuthority(r.Scheme, r.Authority, r.Host) {
		return malformedAt("Host differs from the request target's authority", r.Host)
	}
	return nil
}

// ParseResponse parses a response head. A malformed head gives a *SyntaxError.
func ParseResponse(head []byte, r *Response) error {
	return locate(parseResponse(head, r), head)
}

func parseResponse(head []byte, r *Response) error {
	r.reset()
	r.HeadLen = len(head)
	line, rest, err := nextLine(head)
	if err != nil {
		return err
	}
	if len(line) < 12 || line[8] != ' ' {
		return malformedAt("status line", line[min(len(line), 8):])
	}
	if r.Minor, err = parseVersion(line[:8]); err != nil {
		return err
	}
	st := 0
	for i, c := range line[9:12] {
		if c < '0' || c > '9' {
			return malformedAt("status code", line[9+i:])
		}
		st = st*10 + int(c-'0')
	}
	if st < 100 {
		return malformedAt("status code", line[9:])
	}
	r.Status = st
	if len(line) > 12 {
		if line[12] != ' ' {
			return malformedAt("status line", line[12:])
		}
		r.Reason = line[13:]
	}
	return r.parseHeaders(rest, false)
}

// parseVersion reads "HTTP/1.x": 0 for 1.0, 1 for 1.1 and for a later 1.x, which a
// recipient treats as the highest minor version it implements (RFC 9110 §2.5), as
// HAProxy does.
func parseVersion(v []byte) (int, error) {
	if len(v) != 8 || string(v[:7]) != "HTTP/1." || v[7] < '0' || v[7] > '9' {
		return 0, malformedAt("version", v)
	}
	return min(int(v[7]-'0'), 1), nil
}

func (r *Request) reset() {
	r.Message.reset()
	r.Form, r.Scheme, r.Authority, r.Path, r.Host = OriginForm, nil, nil, nil, nil
}

func (m *Message) reset() {
	m.Minor = 0
	m.Headers = m.Headers[:0]
	m.ContentLength = -1
	m.Chunked = false
	m.ConnClose, m.ConnKeepAlive, m.ConnUpgrade, m.HasUpgrade, m.WebSocket = false, false, false, false, false
	m.hop = m.hop[:0]
	m.HeadLen = 0
}

// parseHeaders parses header lines up to the empty line and derives the framing.
func (m *Message) parseHeaders(b []byte, isRequest bool) error {
	sawCL, sawTE := false, false
	limit := m.MaxHeaders
	if limit <= 0 {
		limit = DefaultMaxHeaders
	}
	for {
		line, rest, err := nextLine(b)
		if err != nil {
			return err
		}
		b = rest
		if len(line) == 0 {
			break
		}
		if len(m.Headers) >= limit {
			return malformedAt("too many header fields (tune.http.maxhdr)", line)
		}
		if line[0] == ' ' || line[0] == '\t' {
			return malformedAt("obsolete line folding", line)
		}
		colon := bytes.IndexByte(line, ':')
		if colon == 0 {
			return malformedAt("empty header name", line)
		}
		if colon < 0 {
			return malformedAt("header without colon", line[len(line):])
		}
		name := line[:colon]
		for i, c := range name {
			if !isToken(c) {
				return malformedAt("invalid header name", line[i:])
			}
		}
		value := trimOWS(line[colon+1:])
		for i, c := range value {
			if c == 0 || (c < ' ' && c != '\t') || c == 0x7f {
				return malformedAt("invalid header value", value[i:])
			}
		}
		m.Headers = append(m.Headers, Header{Name: name, Value: value})
		switch {
		case equalFoldLower(name, "content-length"):
			n, err := parseContentLength(value)
			if err != nil {
				return malformedAt("invalid Content-Length", value)
			}
			if sawCL && n != m.ContentLength {
				return malformedAt("differing Content-Length", value)
			}
			sawCL, m.ContentLength = true, n
		case equalFoldLower(name, "transfer-encoding"):
			if sawTE {
				return malformedAt("repeated Transfer-Encoding", value)
			}
			sawTE = true
			if !equalFoldLower(value, "chunked") {
				return malformedAt("unsupported Transfer-Encoding", value)
			}
			m.Chunked = true
		case equalFoldLower(name, "connection"):
			m.parseConnection(value)
		case equalFoldLower(name, "upgrade"):
			m.HasUpgrade = true
			m.WebSocket = m.WebSocket || hasToken(value, "websocket")
		case equalFoldLower(name, "transfer_encoding"), equalFoldLower(name, "content_length"):
			// Valid tokens, but servers that map '_' to '-' (CGI-style
			// gateways) would read them as framing that hitless did not.
			return malformedAt("framing header name with '_'", name)
		}
	}
	if sawTE && sawCL {
		return malformedAt("both Content-Length and Transfer-Encoding", b)
	}
	if m.Chunked && m.Minor == 0 && isRequest {
		return malformedAt("chunked HTTP/1.0 request", b)
	}
	return nil
}

func (m *Message) parseConnection(v []byte) {
	for len(v) > 0 {
		var tok []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			tok, v = v, nil
		}
		tok = trimOWS(tok)
		switch {
		case len(tok) == 0:
		case equalFoldLower(tok, "close"):
			m.ConnClose = true
		case equalFoldLower(tok, "keep-alive"):
			m.ConnKeepAlive = true
		case equalFoldLower(tok, "upgrade"):
			m.ConnUpgrade = true
		case inTable(tok, protectedHeaders):
			// Never hop-by-hop: see protectedHeaders.
		default:
			m.hop = append(m.hop, tok)
		}
	}
}

func parseContentLength(v []byte) (int64, error) {
	if len(v) == 0 || len(v) > 18 {
		return 0, malformed("invalid Content-Length")
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, malformed("invalid Content-Length")
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// tokenChars marks the bytes allowed in a token (RFC 9110 §5.6.2).
var tokenChars = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(c byte) bool { return tokenChars[c] }
