package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// This file holds what the HTTP/1 security tests share: a recording backend that
// reads what a proxy forwards with a parser of its own (refParse, written from RFC
// 9112's framing rules and independent of internal/http1), so that a test sees the
// requests a server would see, and a way to run HAProxy 2.6 on the same
// configuration.

// refRequest is one request as the recording backend parsed it.
type refRequest struct {
	Method, Target, Version string
	Headers                 [][2]string
	Body                    []byte
	Trailers                [][2]string
	Raw                     []byte // the bytes of the whole request, as received
	Conn                    int    // which backend connection carried it
}

func (r *refRequest) header(name string) []string {
	var out []string
	for _, h := range r.Headers {
		if strings.EqualFold(h[0], name) {
			out = append(out, h[1])
		}
	}
	return out
}

// errIncomplete means the bytes end inside a request.
var errIncomplete = errors.New("incomplete request")

// refParse reads one request from b: its head, then its body framed by
// Transfer-Encoding (chunked last) or Content-Length, as RFC 9112 §6.3 says. It
// returns the request and the bytes it used; errIncomplete when b ends first, another
// error when b is not a request a strict server would accept.
func refParse(b []byte) (*refRequest, int, error) {
	pos := 0
	line := func() (string, error) {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			return "", errIncomplete
		}
		l := b[pos : pos+i]
		pos += i + 1
		return strings.TrimSuffix(string(l), "\r"), nil
	}
	var first string
	for {
		l, err := line()
		if err != nil {
			return nil, 0, err
		}
		if l != "" {
			first = l
			break
		}
	}
	parts := strings.Split(first, " ")
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "HTTP/1.") {
		return nil, 0, fmt.Errorf("request line %q", first)
	}
	r := &refRequest{Method: parts[0], Target: parts[1], Version: parts[2]}
	for {
		l, err := line()
		if err != nil {
			return nil, 0, err
		}
		if l == "" {
			break
		}
		if l[0] == ' ' || l[0] == '\t' {
			return nil, 0, fmt.Errorf("folded header %q", l)
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\x00") {
			return nil, 0, fmt.Errorf("header %q", l)
		}
		if strings.ContainsAny(value, "\r\x00") {
			return nil, 0, fmt.Errorf("header value %q", l)
		}
		r.Headers = append(r.Headers, [2]string{name, strings.Trim(value, " \t")})
	}
	te, cl := r.header("Transfer-Encoding"), r.header("Content-Length")
	switch {
	case len(te) > 0 && len(cl) > 0:
		return nil, 0, errors.New("both Transfer-Encoding and Content-Length")
	case len(te) > 0:
		codings := strings.Split(strings.Join(te, ","), ",")
		if !strings.EqualFold(strings.TrimSpace(codings[len(codings)-1]), "chunked") {
			return nil, 0, fmt.Errorf("transfer-encoding %q", te)
		}
		for {
			l, err := line()
			if err != nil {
				return nil, 0, err
			}
			size, _, _ := strings.Cut(l, ";")
			n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
			if err != nil || n < 0 {
				return nil, 0, fmt.Errorf("chunk size %q", l)
			}
			if n == 0 {
				break
			}
			if int64(len(b)-pos) < n+1 {
				return nil, 0, errIncomplete
			}
			r.Body = append(r.Body, b[pos:pos+int(n)]...)
			pos += int(n)
			if l, err := line(); err != nil {
				return nil, 0, err
			} else if l != "" {
				return nil, 0, fmt.Errorf("chunk data not followed by CRLF: %q", l)
			}
		}
		for {
			l, err := line()
			if err != nil {
				return nil, 0, err
			}
			if l == "" {
				break
			}
			name, value, _ := strings.Cut(l, ":")
			r.Trailers = append(r.Trailers, [2]string{name, strings.TrimSpace(value)})
		}
	case len(cl) > 0:
		for _, v := range cl[1:] {
			if v != cl[0] {
				return nil, 0, fmt.Errorf("differing content-length %q", cl)
			}
		}
		n, err := strconv.ParseInt(cl[0], 10, 64)
		if err != nil || n < 0 {
			return nil, 0, fmt.Errorf("content-length %q", cl[0])
		}
		if int64(len(b)-pos) < n {
			return nil, 0, errIncomplete
		}
		r.Body = b[pos : pos+int(n)]
		pos += int(n)
	}
	r.Raw = b[:pos]
	return r, pos, nil
}

// recorder is a backend that parses what it receives with refParse and answers each
// complete request with a numbered response ("X-Seq: N", body "seq N"), so that a
// client can tell which backend answers reached it. respond, when set, gives the raw
// answer for a request instead (and whether to close after it).
type recorder struct {
	addr string
	ln   net.Listener
	// mu guards everything below.
	mu      sync.Mutex
	reqs    []*refRequest
	faults  []string // bytes a strict server could not parse, per connection
	conns   map[net.Conn]bool
	nconn   int
	seq     int
	respond func(r *refRequest) (raw string, closeAfter bool)
}

func newRecorder(t testing.TB) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); rec.reset() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			rec.mu.Lock()
			rec.conns[c] = true
			rec.nconn++
			id := rec.nconn
			rec.mu.Unlock()
			go rec.serve(c, id)
		}
	}()
	return rec
}

func (rec *recorder) serve(c net.Conn, id int) {
	defer func() {
		rec.mu.Lock()
		delete(rec.conns, c)
		rec.mu.Unlock()
		c.Close()
	}()
	var buf []byte
	tmp := make([]byte, 64<<10)
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		for len(buf) > 0 {
			r, used, perr := refParse(buf)
			if errors.Is(perr, errIncomplete) {
				break
			}
			if perr != nil {
				rec.mu.Lock()
				rec.faults = append(rec.faults, fmt.Sprintf("conn %d: %v in %q", id, perr, buf))
				rec.mu.Unlock()
				return
			}
			r.Raw = append([]byte(nil), r.Raw...)
			r.Body = append([]byte(nil), r.Body...)
			r.Conn = id
			buf = buf[used:]
			rec.mu.Lock()
			rec.seq++
			seq := rec.seq
			rec.reqs = append(rec.reqs, r)
			respond := rec.respond
			rec.mu.Unlock()
			raw, closeAfter := fmt.Sprintf("HTTP/1.1 200 OK\r\nX-Seq: %d\r\nContent-Length: %d\r\n\r\nseq %d", seq, len(fmt.Sprint("seq ", seq)), seq), false
			if respond != nil {
				raw, closeAfter = respond(r)
			}
			if _, err := io.WriteString(c, raw); err != nil || closeAfter {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// reset closes every backend connection and forgets what was recorded, so that the
// next exchange starts on new server connections.
func (rec *recorder) reset() {
	rec.mu.Lock()
	for c := range rec.conns {
		c.Close()
	}
	rec.reqs, rec.faults, rec.seq = nil, nil, 0
	rec.mu.Unlock()
}

// take returns what was recorded since the last reset.
func (rec *recorder) take() ([]*refRequest, []string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.reqs, rec.faults
}

// clientAnswer is one response the client received.
type clientAnswer struct {
	Status  int
	Seq     int // the recorder's X-Seq, 0 for an answer the proxy made
	Head    string
	Body    []byte
	Headers [][2]string
}

// exchange sends raw on a new connection to addr, half-closes, and reads every
// response until the proxy closes (or d passes). The responses are read with a
// parser that follows each answer's framing; what is left unparsed is returned too.
func exchange(t testing.TB, addr, raw string, d time.Duration) ([]clientAnswer, string) {
	return exchangeOpt(t, addr, raw, d, true)
}

// exchangeOpt is exchange, with the half-close optional: without it, the last
// request of raw should ask to close.
func exchangeOpt(t testing.TB, addr, raw string, d time.Duration, halfClose bool) ([]clientAnswer, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(d))
	io.WriteString(c, raw)
	if halfClose {
		c.(*net.TCPConn).CloseWrite()
	}
	all, _ := io.ReadAll(c)
	return parseAnswers(all, methods(raw))
}

// methods lists the methods of the requests in raw, in order, so that the answer to
// a HEAD is read without a body.
func methods(raw string) []string {
	var out []string
	for _, l := range strings.Split(raw, "\n") {
		if f := strings.Fields(l); len(f) == 3 && strings.HasPrefix(f[2], "HTTP/") {
			out = append(out, f[0])
		}
	}
	return out
}

// parseAnswers splits the bytes a client received into responses.
func parseAnswers(all []byte, methods []string) ([]clientAnswer, string) {
	var out []clientAnswer
	br := bufio.NewReader(bytes.NewReader(all))
	rest := func() string { b, _ := io.ReadAll(br); return string(b) }
	for i := 0; ; i++ {
		if _, err := br.Peek(1); err != nil {
			return out, ""
		}
		var head strings.Builder
		status := 0
		a := clientAnswer{}
		for n := 0; ; n++ {
			l, err := br.ReadString('\n')
			if err != nil {
				return out, head.String() + l + rest()
			}
			head.WriteString(l)
			l = strings.TrimRight(l, "\r\n")
			if n == 0 {
				f := strings.Fields(l)
				if len(f) < 2 {
					return out, head.String() + rest()
				}
				status, _ = strconv.Atoi(f[1])
				continue
			}
			if l == "" {
				break
			}
			name, value, _ := strings.Cut(l, ":")
			a.Headers = append(a.Headers, [2]string{strings.ToLower(name), strings.TrimSpace(value)})
		}
		a.Status, a.Head = status, head.String()
		get := func(n string) string {
			for _, h := range a.Headers {
				if h[0] == n {
					return h[1]
				}
			}
			return ""
		}
		a.Seq, _ = strconv.Atoi(get("x-seq"))
		isHead := i < len(methods) && methods[i] == "HEAD"
		switch {
		case status < 200 && status != 101:
			// An interim answer: the final one follows.
			out = append(out, a)
			i--
			continue
		case isHead || status == 204 || status == 304 || status == 101:
		case strings.EqualFold(get("transfer-encoding"), "chunked"):
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return out, l + rest()
				}
				n, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(strings.TrimRight(l, "\r\n"), ";", 2)[0]), 16, 64)
				if err != nil {
					return out, l + rest()
				}
				if n == 0 {
					for {
						l, err := br.ReadString('\n')
						if err != nil || strings.TrimRight(l, "\r\n") == "" {
							break
						}
					}
					break
				}
				chunk := make([]byte, n)
				if _, err := io.ReadFull(br, chunk); err != nil {
					return out, string(chunk) + rest()
				}
				a.Body = append(a.Body, chunk...)
				br.ReadString('\n')
			}
		case get("content-length") != "":
			n, _ := strconv.Atoi(get("content-length"))
			a.Body = make([]byte, n)
			if _, err := io.ReadFull(br, a.Body); err != nil {
				return append(out, a), "short body"
			}
		default:
			a.Body, _ = io.ReadAll(br)
		}
		out = append(out, a)
	}
}

// startHAProxy runs HAProxy 2.6 on cfg in the foreground and waits until every
// address in ready accepts; it is killed when the test ends. It skips the test when
// HAProxy is not installed.
func startHAProxy(t *testing.T, cfg string, ready ...string) {
	t.Helper()
	bin := haproxy(t)
	path := writeConfig(t, cfg)
	cmd := exec.Command(bin, "-db", "-f", path)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
	})
	for _, a := range ready {
		if !waitAccept(a, 5*time.Second, done) {
			t.Fatalf("haproxy did not listen on %s: %s", a, out.String())
		}
	}
}
