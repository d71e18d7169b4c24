// Package http1 parses HTTP/1.0 and HTTP/1.1 message heads in place (no copies, no
// allocations once warm) and relays bodies with their framing checked. It rejects what
// request smuggling relies on: conflicting or repeated differing Content-Length,
// Transfer-Encoding other than a final chunked, invalid header names, whitespace
// before a colon, obs-fold, bare CR and NUL bytes. The httpproxy engine uses it on both
// sides of every request.
package http1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
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

// Message is the common part of a parsed request or response head.
type Message struct {
	Minor         int // 0 for HTTP/1.0, 1 for HTTP/1.1
	Headers       []Header
	ContentLength int64 // -1 when absent
	Chunked       bool
	// ConnClose / ConnKeepAlive / ConnUpgrade reflect the Connection header.
	ConnClose, ConnKeepAlive, ConnUpgrade bool
	HasUpgrade                            bool // an Upgrade header is present
	// hop holds header names listed in Connection (lower-case), to be removed.
	hop [][]byte
	// HeadLen is the number of bytes of the head, terminator included.
	HeadLen int
}

// Request is a parsed request head.
type Request struct {
	Message
	Method, Target []byte
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

// IsHopByHop reports whether a header must not be forwarded.
func (m *Message) IsHopByHop(name []byte) bool {
	if hopByHop(name) {
		return true
	}
	for _, h := range m.hop {
		if bytes.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// hopHeaders are removed at every hop (RFC 9110 §7.6.1). Transfer-Encoding is
// re-framed by the relay; Upgrade is forwarded only for upgrade requests, by the
// engine.
var hopHeaders = []string{"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}

func hopByHop(name []byte) bool {
	for _, h := range hopHeaders {
		if len(h) == len(name) && equalFoldLower(name, h) {
			return true
		}
	}
	return false
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
		// Leading empty lines before a request are tolerated (RFC 9112 §2.2).
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
	for i, c := range r.Target {
		if c <= ' ' || c == 0x7f {
			return malformedAt("request target", line[i:])
		}
	}
	if r.Minor, err = parseVersion(line[sp2+1:]); err != nil {
		return err
	}
	if err := r.parseHeaders(rest, true); err != nil {
		return err
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

func parseVersion(v []byte) (int, error) {
	if len(v) != 8 || string(v[:7]) != "HTTP/1." || (v[7] != '0' && v[7] != '1') {
		return 0, malformedAt("version", v)
	}
	return int(v[7] - '0'), nil
}

func (m *Message) reset() {
	m.Minor = 0
	m.Headers = m.Headers[:0]
	m.ContentLength = -1
	m.Chunked = false
	m.ConnClose, m.ConnKeepAlive, m.ConnUpgrade, m.HasUpgrade = false, false, false, false
	m.hop = m.hop[:0]
	m.HeadLen = 0
}

// parseHeaders parses header lines up to the empty line and derives the framing.
func (m *Message) parseHeaders(b []byte, isRequest bool) error {
	sawCL, sawTE := false, false
	for {
		line, rest, err := nextLine(b)
		if err != nil {
			return err
		}
		b = rest
		if len(line) == 0 {
			break
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
