package checkrule

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
)

// errBadResponse is a response that is not HTTP/1.x.
var errBadResponse = errors.New("invalid HTTP response")

// ParseResponse reads an HTTP/1.x response from what was received so far. It returns
// nil (and no error) while the head is incomplete; complete tells that the whole body
// is there (by Content-Length, chunked framing, or last for a body delimited by the
// close). A 1xx interim response is skipped.
func ParseResponse(buf []byte, last bool) (resp *Response, complete bool, err error) {
	for {
		end := bytes.Index(buf, []byte("\r\n\r\n"))
		sep := 4
		if e2 := bytes.Index(buf, []byte("\n\n")); e2 >= 0 && (end < 0 || e2 < end) {
			end, sep = e2, 2
		}
		if end < 0 {
			if len(buf) >= 5 && !bytes.HasPrefix(buf, []byte("HTTP/")) {
				return nil, false, errBadResponse
			}
			if !last || len(buf) == 0 {
				return nil, false, nil
			}
			// The peer closed within the head: what came is the head.
			end, sep = len(bytes.TrimRight(buf, "\r\n")), 0
			buf = buf[:end]
		}
		head := string(buf[:end])
		body := buf[end+sep:]
		first, rest, _ := strings.Cut(head, "\n")
		r := &Response{}
		if !parseStatusLine(strings.TrimSuffix(first, "\r"), r) {
			return nil, false, errBadResponse
		}
		for rest != "" {
			var l string
			l, rest, _ = strings.Cut(rest, "\n")
			l = strings.TrimSuffix(l, "\r")
			name, value, ok := strings.Cut(l, ":")
			if !ok || name == "" || strings.ContainsAny(name, " \t") {
				return nil, false, errBadResponse
			}
			r.Headers = append(r.Headers, [2]string{name, strings.TrimSpace(value)})
		}
		if r.Status >= 100 && r.Status < 200 && r.Status != 101 {
			buf = body
			continue
		}
		r.Body, complete = frameBody(r, body, last)
		return r, complete, nil
	}
}

func parseStatusLine(l string, r *Response) bool {
	if len(l) < 12 || !strings.HasPrefix(l, "HTTP/1.") || l[8] != ' ' {
		return false
	}
	code, err := strconv.Atoi(l[9:12])
	if err != nil || code < 100 || len(l) > 12 && l[12] != ' ' {
		return false
	}
	r.Version, r.Status = l[:8], code
	if len(l) > 13 {
		r.Reason = strings.TrimSpace(l[13:])
	}
	return true
}

// frameBody returns the body received so far and whether it is complete.
func frameBody(r *Response, body []byte, last bool) ([]byte, bool) {
	if r.Status == 204 || r.Status == 304 {
		return nil, true
	}
	for _, h := range r.Headers {
		switch strings.ToLower(h[0]) {
		case "transfer-encoding":
			if strings.Contains(strings.ToLower(h[1]), "chunked") {
				return dechunk(body, last)
			}
		case "content-length":
			n, err := strconv.Atoi(h[1])
			if err == nil && n >= 0 {
				if len(body) >= n {
					return body[:n], true
				}
				return body, last
			}
		}
	}
	return body, last
}

// dechunk decodes a chunked body as far as it was received.
func dechunk(b []byte, last bool) ([]byte, bool) {
	var out []byte
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return out, last
		}
		sizeText := strings.TrimSpace(string(b[:i]))
		if semi := strings.IndexByte(sizeText, ';'); semi >= 0 {
			sizeText = sizeText[:semi]
		}
		n, err := strconv.ParseInt(sizeText, 16, 32)
		if err != nil || n < 0 {
			return out, true
		}
		b = b[i+1:]
		if n == 0 {
			return out, true
		}
		if int64(len(b)) < n {
			return append(out, b...), last
		}
		out = append(out, b[:n]...)
		b = bytes.TrimPrefix(bytes.TrimPrefix(b[n:], []byte("\r")), []byte("\n"))
	}
}

// ServerState is what `http-check send-state` reports of a server.
type ServerState struct {
	State          string // "UP 2/3", "DOWN", "NOLB 1/2" ...
	Addr           string
	Port           int
	Backend, Name  string
	Node           string
	Weight, Total  int // the server's weight and the backend's usable total
	Conns, BeConns int
	Queue          int
}

// Request renders an HTTP check request as HAProxy 2.6 sends it: the request line,
// the configured headers with lower-case names, `connection: close` unless a
// Connection header was given (HTTP/1.1 only... and 1.0 with headers, as HAProxy's
// H1 encoder does), `content-length` with a body, then the body.
func (h *HTTPRequest) Request(env *Env, state *ServerState) []byte {
	var b []byte
	b = append(b, h.Method...)
	b = append(b, ' ')
	if h.URIFormat != nil {
		b = append(b, h.URIFormat.Render(env)...)
	} else {
		b = append(b, h.URI...)
	}
	b = append(b, ' ')
	b = append(b, h.Version...)
	b = append(b, "\r\n"...)
	hasConn := false
	for _, hd := range h.Headers {
		name := strings.ToLower(hd.Name)
		if name == "connection" {
			hasConn = true
		}
		b = append(b, name...)
		b = append(b, ": "...)
		b = append(b, hd.Value.Render(env)...)
		b = append(b, "\r\n"...)
	}
	if state != nil {
		b = append(b, "x-haproxy-server-state: "...)
		b = append(b, state.header()...)
		b = append(b, "\r\n"...)
	}
	body := []byte(h.Body)
	if h.BodyFormat != nil {
		body = h.BodyFormat.Render(env)
	}
	if len(body) > 0 {
		b = append(b, "content-length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	if !hasConn && h.Version != "HTTP/1.0" {
		b = append(b, "connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

func (s *ServerState) header() string {
	var b strings.Builder
	b.WriteString(s.State)
	b.WriteString("; address=")
	b.WriteString(s.Addr)
	b.WriteString("; port=")
	b.WriteString(strconv.Itoa(s.Port))
	b.WriteString("; name=")
	b.WriteString(s.Backend)
	b.WriteByte('/')
	b.WriteString(s.Name)
	b.WriteString("; node=")
	b.WriteString(s.Node)
	b.WriteString("; weight=")
	b.WriteString(strconv.Itoa(s.Weight))
	b.WriteByte('/')
	b.WriteString(strconv.Itoa(s.Total))
	b.WriteString("; scur=")
	b.WriteString(strconv.Itoa(s.Conns))
	b.WriteByte('/')
	b.WriteString(strconv.Itoa(s.BeConns))
	b.WriteString("; qcur=")
	b.WriteString(strconv.Itoa(s.Queue))
	return b.String()
}
