package httpproxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"hitless/internal/balance"
	"hitless/internal/config"
	"hitless/internal/http1"
	"hitless/internal/proxy"
	"hitless/internal/tcpproxy"
)

// forward sends the request to a server of b and relays the answer. It reports
// whether the client connection can carry another request.
func (s *session) forward(b *proxy.Backend, head []byte, start time.Time) bool {
	fe := s.fe
	req := &s.req
	e := &s.entry
	b.Counters.Requests.Add(1)
	hasBody := req.Chunked || req.ContentLength > 0
	upgrade := req.ConnUpgrade && req.HasUpgrade
	fo, bo := &fe.Cfg.Options, &b.Cfg.Options
	closeSrv := fo.HTTPServerClose || fo.HTTPClose || bo.HTTPServerClose || bo.HTTPClose
	forwardFor := fo.ForwardFor || bo.ForwardFor

	// Response rules only read the request: decide them now, while the request head
	// is still in the buffer (the body may overwrite it).
	s.redits = s.redits[:0]
	s.redits = s.responseEdits(s.redits, b.Cfg.HTTPResponse)
	if b.Cfg != fe.Cfg {
		s.redits = s.responseEdits(s.redits, fe.Cfg.HTTPResponse)
	}
	isHead := string(req.Method) == "HEAD"

	breq := balance.Request{Src: s.src.Addr().Unmap(), URI: bstr(req.Target), Header: s}
	var a *proxy.Attempt
	var sc *srvConn
	var err error
	var rhead []byte
	var sent time.Time
	var bodyDone chan error
	for attempt := 0; ; attempt++ {
		var idle proxy.IdleFunc
		if attempt == 0 && !upgrade {
			idle = s.e.getIdle
		}
		a, err = b.Connect(s.ctx, &breq, idle)
		e.Tw = a.Queue
		e.Retries = a.Retries
		if a.Server != nil {
			e.Server = a.Server.Name
		}
		if err != nil {
			e.BeQueue = b.Queued()
			term := [2]byte{'S', 'C'}
			if errors.Is(err, proxy.ErrQueueTimeout) {
				term = [2]byte{'s', 'Q'}
			}
			if !s.skipBody(head) {
				return s.answer(withClose(page503), 503, term, false)
			}
			return s.answer(page503.raw, 503, term, true)
		}
		if a.Reused {
			e.Tc = 0
		} else {
			e.Tc = a.Connect
		}
		sc = s.e.wrap(a.Conn, a.Server)
		sc.SetWriteDeadline(deadline(b.Cfg.Timeouts.Server))
		s.writeRequestHead(sc.bw, upgrade, closeSrv, forwardFor)
		werr := sc.bw.Flush()
		sent = time.Now()
		if werr == nil && !hasBody {
			sc.SetReadDeadline(deadline(b.Cfg.Timeouts.Server))
			rhead, err = http1.ReadHead(sc.br)
		}
		retryable := a.Reused && attempt == 0 && !hasBody &&
			(werr != nil || (err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && sc.br.Buffered() == 0))
		if retryable {
			// The server closed an idle connection as we reused it: that is not the
			// client's problem. Try once more on a fresh connection.
			s.e.closeConn(sc)
			a.Server.Release()
			continue
		}
		if werr != nil {
			err = werr
		}
		break
	}
	srv := a.Server
	reusable := false
	defer func() {
		srv.Release()
		if reusable {
			s.e.putIdle(sc)
		} else {
			s.e.closeConn(sc)
		}
	}()
	e.BeConn = int(b.Counters.CurConns.Load())
	e.SrvConn = srv.Conns()
	s.br.Discard(len(head))
	if hasBody {
		bodyDone = make(chan error, 1)
		go func() {
			err := s.copyRequestBody(sc)
			if err != nil {
				// A broken or abandoned request body ends the exchange at once:
				// the server must not wait for the rest until its timeout.
				sc.Conn.Close()
			}
			bodyDone <- err
		}()
		sc.SetReadDeadline(deadline(b.Cfg.Timeouts.Server))
		rhead, err = http1.ReadHead(sc.br)
	}
	// waitBody ends the request-body relay and returns its error: nil when the body
	// went whole.
	var bodyErr error
	waitBody := func() error {
		if bodyDone == nil {
			return bodyErr
		}
		select {
		case bodyErr = <-bodyDone:
		case <-time.After(time.Second):
			sc.Conn.Close()
			bodyErr = <-bodyDone
			if bodyErr == nil {
				bodyErr = errors.New("request body not consumed by the server")
			}
		}
		bodyDone = nil
		return bodyErr
	}
	resp := &s.resp
	for {
		if err == nil {
			err = http1.ParseResponse(rhead, resp)
		}
		if err != nil {
			sc.Conn.Close()
			if berr := waitBody(); errors.Is(berr, http1.ErrMalformed) {
				return s.answer(page400.raw, 400, [2]byte{'C', 'D'}, false)
			} else if berr != nil && !errors.Is(berr, net.ErrClosed) {
				// The client went away or stalled while sending its body.
				e.Term = [2]byte{'C', 'D'}
				s.log()
				return false
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return s.answer(withClose(page504), 504, [2]byte{'s', 'H'}, false)
			}
			if s.ctx.Err() != nil {
				return s.answer(withClose(page502), 502, [2]byte{'K', 'H'}, false)
			}
			return s.answer(withClose(page502), 502, [2]byte{'S', 'H'}, false)
		}
		if resp.Status >= 200 || resp.Status == 101 {
			break
		}
		// An interim answer (100 Continue): pass it on and wait for the final one.
		s.bw.Write(rhead)
		s.bw.Flush()
		sc.br.Discard(len(rhead))
		sc.SetReadDeadline(deadline(b.Cfg.Timeouts.Server))
		rhead, err = http1.ReadHead(sc.br)
	}
	e.Tr = time.Since(sent)
	e.Status = resp.Status

	noBody := isHead || resp.Status == 204 || resp.Status == 304 || resp.Status < 200
	switchProto := resp.Status == 101 && upgrade
	dechunk := resp.Chunked && req.Minor == 0 && !noBody
	framed := noBody || resp.Chunked || resp.ContentLength >= 0
	clientKeep := req.KeepAlive() && framed && !dechunk && !fo.HTTPClose && !bo.HTTPClose && !switchProto
	srvKeep := resp.KeepAlive() && framed && !closeSrv && !switchProto

	s.c.SetWriteDeadline(deadline(fe.Cfg.Timeouts.Client))
	n := s.writeResponseHead(resp, switchProto, clientKeep, req.Minor == 0, dechunk)
	sc.br.Discard(len(rhead))
	var body int64
	var rerr error
	switch {
	case switchProto:
		if err := s.bw.Flush(); err != nil {
			waitBody()
			e.Term = [2]byte{'C', 'D'}
			s.log()
			return false
		}
		e.Ta = time.Since(start)
		up, down, term := s.tunnel(sc, b)
		e.Bytes = int64(n) + down
		e.Term = term
		fe.Counters.BytesIn.Add(uint64(up))
		fe.Counters.BytesOut.Add(uint64(down))
		waitBody()
		s.log()
		return false
	case noBody:
		rerr = s.bw.Flush()
	case resp.Chunked:
		body, rerr = http1.CopyChunked(s.bw, sc.br, !dechunk, s.ticker(sc, b))
	case resp.ContentLength >= 0:
		body, rerr = s.copyBody(s.bw, sc.br, resp.ContentLength, sc, b)
	default:
		body, rerr = s.copyBody(s.bw, sc.br, -1, sc, b)
	}
	e.Bytes = int64(n) + body
	fe.Counters.BytesOut.Add(uint64(e.Bytes))
	b.Counters.BytesOut.Add(uint64(e.Bytes))
	srv.Counters.BytesOut.Add(uint64(e.Bytes))
	e.Ta = time.Since(start)
	bodyOK := waitBody() == nil
	switch {
	case rerr != nil:
		e.Term = s.relayTerm(rerr)
		s.log()
		return false
	case !bodyOK:
		e.Term = [2]byte{'C', 'D'}
		s.log()
		return false
	}
	reusable = srvKeep && sc.br.Buffered() == 0
	s.log()
	return clientKeep
}

// relayTerm names who ended a failed body relay.
func (s *session) relayTerm(err error) [2]byte {
	var ne net.Error
	switch {
	case errors.Is(err, errClientWrite):
		return [2]byte{'C', 'D'}
	case errors.As(err, &ne) && ne.Timeout():
		return [2]byte{'s', 'D'}
	}
	return [2]byte{'S', 'D'}
}

// errClientWrite marks a failure to write to the client.
var errClientWrite = errors.New("write to client failed")

// responseEdits decides the http-response rules for this request.
func (s *session) responseEdits(out []edit, rules []config.HTTPRule) []edit {
	for i := range rules {
		r := &rules[i]
		if r.Cond != nil && !r.Cond.Eval(s) {
			continue
		}
		switch r.Action {
		case "set-header":
			out = append(out, edit{del: true, add: true, name: r.Header, value: s.expand(r.Value)})
		case "add-header":
			out = append(out, edit{add: true, name: r.Header, value: s.expand(r.Value)})
		case "del-header":
			out = append(out, edit{del: true, name: r.Header})
		}
	}
	return out
}

func deleted(name []byte, edits []edit) bool {
	for i := range edits {
		if edits[i].del && equalFold(name, edits[i].name) {
			return true
		}
	}
	return false
}

func writeAdds(w *bufio.Writer, edits []edit) int {
	n := 0
	for i := range edits {
		if edits[i].add {
			w.WriteString(edits[i].name)
			w.WriteString(": ")
			w.Write(edits[i].value)
			w.WriteString("\r\n")
			n += len(edits[i].name) + len(edits[i].value) + 4
		}
	}
	return n
}

// writeHeaders forwards a message's end-to-end headers (Upgrade too when upgrading),
// without the ones rules delete, then the ones rules add.
func writeHeaders(w *bufio.Writer, m *http1.Message, upgrade bool, edits []edit) {
	for i := range m.Headers {
		h := &m.Headers[i]
		if m.IsHopByHop(h.Name) && !(upgrade && equalFold(h.Name, "upgrade")) {
			continue
		}
		if deleted(h.Name, edits) {
			continue
		}
		w.Write(h.Name)
		w.WriteString(": ")
		w.Write(h.Value)
		w.WriteString("\r\n")
	}
	writeAdds(w, edits)
}

// writeRequestHead writes the request head as the server must see it.
func (s *session) writeRequestHead(w *bufio.Writer, upgrade, closeSrv, forwardFor bool) {
	req := &s.req
	w.Write(req.Method)
	w.WriteByte(' ')
	w.Write(req.Target)
	w.WriteString(" HTTP/1.1\r\n")
	writeHeaders(w, &req.Message, upgrade, s.edits)
	if forwardFor {
		w.WriteString("x-forwarded-for: ")
		s.scratch = s.src.Addr().Unmap().AppendTo(s.scratch[:0])
		w.Write(s.scratch)
		w.WriteString("\r\n")
	}
	if req.Chunked {
		w.WriteString("transfer-encoding: chunked\r\n")
	}
	switch {
	case upgrade:
		w.WriteString("connection: upgrade\r\n")
	case closeSrv:
		w.WriteString("connection: close\r\n")
	}
	w.WriteString("\r\n")
}

// writeResponseHead writes the response head for the client; it returns its length.
func (s *session) writeResponseHead(resp *http1.Response, switchProto, keep, http10, dechunk bool) int {
	w := s.bw
	n := w.Buffered()
	w.WriteString("HTTP/1.1 ")
	s.scratch = strconv.AppendInt(s.scratch[:0], int64(resp.Status), 10)
	w.Write(s.scratch)
	w.WriteByte(' ')
	w.Write(resp.Reason)
	w.WriteString("\r\n")
	writeHeaders(w, &resp.Message, switchProto, s.redits)
	if resp.Chunked && !dechunk {
		w.WriteString("transfer-encoding: chunked\r\n")
	}
	switch {
	case switchProto:
		w.WriteString("connection: upgrade\r\n")
	case !keep:
		w.WriteString("connection: close\r\n")
	case http10:
		w.WriteString("connection: keep-alive\r\n")
	}
	w.WriteString("\r\n")
	return w.Buffered() - n
}

// copyRequestBody relays the request body to the server.
func (s *session) copyRequestBody(sc *srvConn) error {
	req := &s.req
	t := s.fe.Cfg.Timeouts.Client
	st := sc.srv.Backend.Cfg.Timeouts.Server
	// Sending to the server is activity on the server side: it also extends the
	// wait for the response head, as HAProxy's `timeout server` counts both ways.
	tick := func() {
		s.c.SetReadDeadline(deadline(t))
		sc.SetDeadline(deadline(st))
	}
	var n int64
	var err error
	if req.Chunked {
		n, err = http1.CopyChunked(sc.bw, s.br, true, tick)
	} else {
		for n < req.ContentLength && err == nil {
			tick()
			var m int64
			m, err = io.CopyN(sc.bw, s.br, min(req.ContentLength-n, relaySlice))
			n += m
		}
		if err == nil {
			err = sc.bw.Flush()
		}
	}
	s.fe.Counters.BytesIn.Add(uint64(n))
	sc.srv.Counters.BytesIn.Add(uint64(n))
	return err
}

// ticker extends both deadlines before each chunk of a response body.
func (s *session) ticker(sc *srvConn, b *proxy.Backend) func() {
	return func() {
		sc.SetReadDeadline(deadline(b.Cfg.Timeouts.Server))
		s.c.SetWriteDeadline(deadline(s.fe.Cfg.Timeouts.Client))
	}
}

// copyBody relays a response body of n bytes, or until the server closes when n < 0,
// extending the deadlines as data moves.
func (s *session) copyBody(dst *bufio.Writer, src *bufio.Reader, n int64, sc *srvConn, b *proxy.Backend) (int64, error) {
	var total int64
	tick := s.ticker(sc, b)
	for n < 0 || total < n {
		tick()
		step := int64(relaySlice)
		if n >= 0 {
			step = min(n-total, relaySlice)
		}
		m, err := io.CopyN(dst, src, step)
		total += m
		if errors.Is(err, io.EOF) && n < 0 {
			break
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return total, err
		}
	}
	if err := dst.Flush(); err != nil {
		return total, errClientWrite
	}
	return total, nil
}

// tunnel relays an upgraded connection (WebSocket) until both sides are done.
func (s *session) tunnel(sc *srvConn, b *proxy.Backend) (up, down int64, term [2]byte) {
	// Bytes already read ahead on either side go first.
	if n := s.br.Buffered(); n > 0 {
		p, _ := s.br.Peek(n)
		sc.Conn.Write(p)
		s.br.Discard(n)
		up += int64(n)
	}
	if n := sc.br.Buffered(); n > 0 {
		p, _ := sc.br.Peek(n)
		s.c.Write(p)
		sc.br.Discard(n)
		down += int64(n)
	}
	t, bt := s.fe.Cfg.Timeouts, b.Cfg.Timeouts
	ci, si := t.Client, bt.Server
	if bt.Tunnel > 0 {
		ci, si = bt.Tunnel, bt.Tunnel
	}
	s.c.SetDeadline(time.Time{})
	sc.SetDeadline(time.Time{})
	stop := context.AfterFunc(s.ctx, func() { sc.Conn.Close() })
	defer stop()
	u, d, term := tcpproxy.Relay(s.c, sc.Conn, ci, si, t.ClientFin, bt.ServerFin)
	return up + u, down + d, term
}
