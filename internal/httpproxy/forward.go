package httpproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"hitless/internal/balance"
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
	s.target(b, nil)
	defer s.target(nil, nil)
	hasBody := req.Chunked || req.ContentLength > 0
	upgrade := req.IsUpgrade()
	// A CONNECT answered 2xx becomes a tunnel (RFC 9110 §9.3.6), as in HAProxy.
	connect := req.Form == http1.AuthorityForm
	fo, bo := &fe.Cfg.Options, &b.Cfg.Options
	closeSrv := fo.HTTPServerClose || fo.HTTPClose || bo.HTTPServerClose || bo.HTTPClose
	forwardFor := s.forwardFor(fe.Cfg, b.Cfg)

	isHead := string(req.Method) == "HEAD"

	s.breq = balance.Request{Src: s.src.Addr().Unmap(), Sample: &s.smp, Client: s.src, Frontend: s.dst}
	if b.Persist != nil {
		s.breq.Pin = b.Persist.Server(&s.smp) // stick match / stick on
	}
	var a *proxy.Attempt
	var sc *srvConn
	var err error
	var rhead []byte
	var sent time.Time
	var bodyDone chan error
	for attempt := 0; ; attempt++ {
		var idle proxy.IdleFunc
		if attempt == 0 && !upgrade && !connect {
			idle = s.e.getIdle
		}
		want, force := b.UseServer(&s.smp)
		a, err = b.ConnectTo(s.ctx, &s.breq, idle, want, force)
		e.Tw = a.Queue
		e.Retries, e.Redispatched = a.Retries, a.Redispatched
		if a.Server != nil {
			e.Server = a.Server.Name
		}
		if err != nil {
			e.BeQueue = b.Queued()
			term := [2]byte{'S', 'C'}
			if errors.Is(err, proxy.ErrQueueTimeout) {
				term = [2]byte{'s', 'Q'}
			}
			return s.fail(page503, 503, term, s.skipBody(head))
		}
		if a.Reused {
			e.Tc = 0
		} else {
			e.Tc = a.Connect
		}
		s.target(b, a.Server)
		sc = s.e.wrap(a.Conn, a.Server)
		e.ServerAddr = addrPort(sc.Conn.RemoteAddr())
		e.BackendSrc = addrPort(sc.Conn.LocalAddr())
		s.cur = sc
		s.inflight.Store(sc)
		if s.ctx.Err() != nil {
			sc.Conn.Close() // a hard stop raced with the store
		}
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
	if b.Persist != nil && !srv.Cfg.NonStick {
		b.Persist.Store(&s.smp, b.ServerID(srv), srv.Name, srv.Address().HostPort) // stick store-request / stick on
	}
	released := false
	defer func() {
		if bodyDone != nil {
			// Only on a panic: the body relay must stop using the buffers first.
			sc.Conn.Close()
			s.c.SetReadDeadline(time.Now())
			<-bodyDone
		}
		if !released {
			s.endServer(sc, false)
		}
		total := time.Since(start)
		srv.Counters.AddTimes(e.Tw, e.Tc, e.Tr, total)
		b.Counters.AddTimes(e.Tw, e.Tc, e.Tr, total)
	}()
	b.Counters.BytesIn.Add(uint64(len(head)))
	srv.Counters.BytesIn.Add(uint64(len(head)))
	s.br.Discard(len(head))
	if hasBody {
		bodyDone = s.bodyDone
		go func(sc *srvConn, bodyDone chan<- error) {
			var err error
			defer func() {
				if r := recover(); r != nil {
					s.e.events.Error("frontend " + fe.Name + ": request body relay failed: " + fmt.Sprint(r))
					sc.Conn.Close()
					err = errRelayPanic
				}
				bodyDone <- err
			}()
			err = s.copyRequestBody(sc)
			if err != nil {
				// A broken or abandoned request body ends the exchange at once:
				// the server must not wait for the rest until its timeout.
				sc.Conn.Close()
			}
		}(sc, bodyDone)
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
			s.c.SetReadDeadline(time.Now()) // unblock a relay waiting on the client
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
			if err = http1.ParseResponse(rhead, resp); err == nil {
				err = resp.CheckSwitch(req)
			}
			if err != nil {
				s.captureResponse(b, srv, sc, http1.ErrorPos(err))
			}
		} else if errors.Is(err, http1.ErrHeadTooLarge) {
			s.captureResponse(b, srv, sc, sc.br.Buffered())
		}
		if err != nil {
			sc.Conn.Close()
			berr := waitBody()
			switch {
			case errors.Is(berr, http1.ErrMalformed):
				return s.fail(page400Parse, 400, [2]byte{'C', 'D'}, false)
			case berr != nil && !errors.Is(berr, net.ErrClosed):
				// The client went away or stalled while sending its body.
				e.Term = [2]byte{'C', 'D'}
				s.log()
				return false
			}
			// As HAProxy, the client connection survives a 502 or 504 when its request
			// went whole (berr == nil); a body cut short leaves it unusable.
			keep := berr == nil
			srv.Counters.RespErrors.Add(1)
			b.Counters.RespErrors.Add(1)
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				return s.fail(page504, 504, [2]byte{'s', 'H'}, keep)
			case s.ctx.Err() != nil:
				return s.fail(page502, 502, [2]byte{'K', 'H'}, false)
			}
			return s.fail(page502, 502, [2]byte{'S', 'H'}, keep)
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
	// The response rules run on the parsed head: the backend's, then the frontend's.
	s.hasResp = true
	if hasBody {
		s.copyRequest() // the body went through the head's buffer
	}
	s.redits = s.redits[:0]
	denied := s.responseRules(b.Cfg.HTTPResponse)
	if denied == nil && b.Cfg != fe.Cfg {
		denied = s.responseRules(fe.Cfg.HTTPResponse)
	}
	if denied == nil {
		denied = s.responseRules(fe.Cfg.HTTPAfterResponse)
	}
	if denied != nil {
		sc.Conn.Close()
		keep := waitBody() == nil
		return s.answerResponse(denied, keep)
	}
	e.Status = resp.Status
	fe.Counters.AddResponse(resp.Status)
	b.Counters.AddResponse(resp.Status)
	srv.Counters.AddResponse(resp.Status)
	srv.Counters.Requests.Add(1) // a server's req_tot counts the valid responses it gave

	switchProto := resp.Status == 101 || (connect && resp.Status/100 == 2) // CheckSwitch passed a 101
	noBody := isHead || resp.Status == 204 || resp.Status == 304 || resp.Status < 200 || switchProto
	dechunk := resp.Chunked && req.Minor == 0 && !noBody
	framed := noBody || resp.Chunked || resp.ContentLength >= 0
	clientKeep := req.KeepAlive() && framed && !dechunk && !fo.HTTPClose && !bo.HTTPClose && !switchProto
	srvKeep := resp.KeepAlive() && framed && !closeSrv && !switchProto

	s.c.SetWriteDeadline(deadline(fe.Cfg.Timeouts.Client))
	comp := s.startCompression(resp, noBody, switchProto)
	n := s.writeResponseHead(resp, switchProto && !connect, switchProto, clientKeep, req.Minor == 0, dechunk)
	sc.br.Discard(len(rhead))
	if fe.Cfg.Options.LogASAP {
		// option logasap: log now, with the head's size and '+' before %Tt and %B.
		e.Bytes, e.Ta, e.Partial = int64(n), time.Since(start), true
		s.log()
		s.logged = true
	}
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
		srv.Counters.AddAbort(term[0])
		b.Counters.AddAbort(term[0])
		for _, c := range []*proxy.Counters{&fe.Counters, &b.Counters, &srv.Counters} {
			c.BytesIn.Add(uint64(up))
			c.BytesOut.Add(uint64(e.Bytes))
		}
		waitBody()
		s.log()
		return false
	case comp != nil:
		body, rerr = comp.relay(s, sc, resp)
	case noBody:
		// Flushed below, once the server connection is back in the pool.
	case resp.Chunked:
		body, rerr = http1.CopyChunked(s.bw, sc.br, !dechunk, s.respTick)
	case resp.ContentLength >= 0:
		body, rerr = http1.CopyN(s.bw, sc.br, resp.ContentLength, s.respTick)
	default:
		body, rerr = http1.CopyAll(s.bw, sc.br, s.respTick)
	}
	if comp == nil {
		s.bypassed(body)
	}
	bodyOK := waitBody() == nil
	e.BytesIn += s.reqBody
	if rerr == nil {
		// The exchange with the server is over: hand its connection back before the
		// last bytes reach the client, so that the client's next request finds it.
		released = true
		s.endServer(sc, bodyOK && srvKeep && sc.br.Buffered() == 0)
		if ferr := s.bw.Flush(); ferr != nil {
			rerr = &http1.WriteError{Err: ferr}
		}
	}
	e.Bytes = int64(n) + body
	fe.Counters.BytesOut.Add(uint64(e.Bytes))
	b.Counters.BytesOut.Add(uint64(e.Bytes))
	srv.Counters.BytesOut.Add(uint64(e.Bytes))
	e.Ta = time.Since(start)
	switch {
	case rerr != nil:
		e.Term = s.relayTerm(rerr)
		srv.Counters.AddAbort(e.Term[0])
		b.Counters.AddAbort(e.Term[0])
		s.log()
		return false
	case !bodyOK:
		e.Term = [2]byte{'C', 'D'}
		srv.Counters.AddAbort('C')
		b.Counters.AddAbort('C')
		s.log()
		return false
	}
	s.log()
	return clientKeep
}

// captureResponse keeps an invalid response for `show errors`: what the server sent
// so far, as HAProxy keeps its buffer.
func (s *session) captureResponse(b *proxy.Backend, srv *proxy.Server, sc *srvConn, pos int) {
	buf, _ := sc.br.Peek(sc.br.Buffered())
	s.fe.State.CaptureError(proxy.ErrorCapture{When: time.Now(), Response: true, Frontend: s.fe, Backend: b,
		Server: srv, Src: s.src, Buf: buf, Pos: pos})
}

// endServer releases the server slot of the request and keeps its connection for
// reuse or closes it.
func (s *session) endServer(sc *srvConn, reusable bool) {
	s.cur = nil
	s.inflight.Store(nil)
	sc.srv.Release()
	if reusable {
		s.e.putIdle(sc)
	} else {
		s.e.closeConn(sc)
	}
}

// relayTerm names who ended a failed body relay.
func (s *session) relayTerm(err error) [2]byte {
	var we *http1.WriteError
	switch {
	case errors.As(err, &we):
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return [2]byte{'c', 'D'}
		}
		return [2]byte{'C', 'D'}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return [2]byte{'s', 'D'}
	}
	return [2]byte{'S', 'D'}
}

// errRelayPanic stands for a request-body relay that panicked.
var errRelayPanic = errors.New("request body relay panicked")

func deleted(name []byte, edits []edit) bool {
	for i := range edits {
		if edits[i].del && equalFold(name, edits[i].name) {
			return true
		}
	}
	return false
}

// redone reports whether one of edits deletes or sets the header name.
func redone(name string, edits []edit) bool {
	for i := range edits {
		if edits[i].del && strings.EqualFold(name, edits[i].name) {
			return true
		}
	}
	return false
}

// writeAdds writes the headers rules add, but not one that a later rule deletes or
// sets again (the backend's rules run before or after the frontend's). A rule never
// writes a framing or hop-by-hop field (hitless writes those from what it parsed), nor
// a value that holds a line break or another control byte (a value built from
// request data, a decoded URL say, must not split the head). It returns the sum of
// the written headers' name and value lengths.
func writeAdds(w *bufio.Writer, edits []edit) (headers int) {
	for i := range edits {
		e := &edits[i]
		if !e.add || redone(e.name, edits[i+1:]) || !http1.EndToEndName(e.name) || !http1.ValidFieldValue(e.value) {
			continue
		}
		w.WriteString(e.name)
		w.WriteString(": ")
		w.Write(e.value)
		w.WriteString("\r\n")
		headers += len(e.name) + len(e.value)
	}
	return headers
}

// writeHeaders forwards a message's end-to-end headers (Upgrade too when upgrading),
// without the ones rules delete, then the ones rules add. Framing fields are never
// copied: the caller writes the framing hitless parsed (http1.WriteFraming), so that
// what the next hop reads is what hitless read. It returns the sum of the written
// headers' name and value lengths.
func writeHeaders(w *bufio.Writer, m *http1.Message, upgrade bool, edits []edit) (headers int) {
	for i := range m.Headers {
		h := &m.Headers[i]
		if !m.IsEndToEnd(h.Name) && !(upgrade && equalFold(h.Name, "upgrade")) {
			continue
		}
		if deleted(h.Name, edits) {
			continue
		}
		w.Write(h.Name)
		w.WriteString(": ")
		w.Write(h.Value)
		w.WriteString("\r\n")
		headers += len(h.Name) + len(h.Value)
	}
	return headers + writeAdds(w, edits)
}

// writeRequestHead writes the request head as the server must see it: the request's
// own version (an HTTP/1.0 request stays one, as HAProxy forwards it, asking to keep
// the connection), its end-to-end headers, and the framing hitless parsed.
func (s *session) writeRequestHead(w *bufio.Writer, upgrade, closeSrv, forwardFor bool) {
	req := &s.req
	w.Write(req.Method)
	w.WriteByte(' ')
	w.Write(req.Target)
	if req.Minor == 0 {
		w.WriteString(" HTTP/1.0\r\n")
	} else {
		w.WriteString(" HTTP/1.1\r\n")
	}
	writeHeaders(w, &req.Message, upgrade, s.edits)
	if forwardFor {
		w.WriteString("x-forwarded-for: ")
		s.scratch = s.src.Addr().Unmap().AppendTo(s.scratch[:0])
		w.Write(s.scratch)
		w.WriteString("\r\n")
	}
	http1.WriteFraming(w, req.Chunked, req.ContentLength)
	switch {
	case upgrade:
		w.WriteString("connection: upgrade\r\n")
	case closeSrv:
		w.WriteString("connection: close\r\n")
	case req.Minor == 0:
		w.WriteString("connection: keep-alive\r\n")
	}
	w.WriteString("\r\n")
}

// responseFraming is the framing a response head carries to the client, from what
// hitless parsed: none for 1xx and 204 (RFC 9110 §8.6 forbids a length there), the
// length or chunking as parsed otherwise, and for HEAD and 304 answers, which have no
// body, the metadata the server sent. dechunk (a chunked body for an HTTP/1.0 client,
// delimited by the close) drops it.
func responseFraming(resp *http1.Response, dechunk bool) (chunked bool, n int64) {
	if dechunk || resp.Status < 200 || resp.Status == 204 {
		return false, -1
	}
	return resp.Chunked, resp.ContentLength
}

// writeResponseHead writes the response head for the client; it returns the size
// HAProxy counts for it in %B and bout (see countedSize). switchProto is a 101 that upgrades the connection, tunnel any answer after which
// the connection becomes a tunnel (a 101, or a 2xx to CONNECT).
func (s *session) writeResponseHead(resp *http1.Response, switchProto, tunnel, keep, http10, dechunk bool) int {
	w := s.bw
	w.WriteString("HTTP/1.1 ")
	s.scratch = strconv.AppendInt(s.scratch[:0], int64(resp.Status), 10)
	w.Write(s.scratch)
	w.WriteByte(' ')
	w.Write(resp.Reason)
	w.WriteString("\r\n")
	headers := writeHeaders(w, &resp.Message, switchProto, s.redits)
	if !tunnel {
		chunked, length := responseFraming(resp, dechunk)
		headers += http1.WriteFraming(w, chunked, length)
	}
	switch {
	case switchProto:
		w.WriteString("connection: upgrade\r\n")
	case tunnel:
	case !keep:
		w.WriteString("connection: close\r\n")
	case http10:
		w.WriteString("connection: keep-alive\r\n")
	}
	w.WriteString("\r\n")
	n := htxHeadSize(len("HTTP/1.1"), len(s.scratch), len(resp.Reason), headers)
	if resp.Chunked {
		n += htxEndOfTrailers // the server's message was chunked, whatever the client gets
	}
	return n
}

// copyRequestBody relays the request body to the server.
func (s *session) copyRequestBody(sc *srvConn) error {
	req := &s.req
	var n int64
	var err error
	if req.Chunked {
		n, err = http1.CopyChunked(sc.bw, s.br, true, s.reqTick)
	} else {
		n, err = http1.CopyN(sc.bw, s.br, req.ContentLength, s.reqTick)
		if err == nil {
			if ferr := sc.bw.Flush(); ferr != nil {
				err = &http1.WriteError{Err: ferr}
			}
		}
	}
	s.reqBody = n // read by forward once the relay has reported
	s.fe.Counters.BytesIn.Add(uint64(n))
	sc.srv.Backend.Counters.BytesIn.Add(uint64(n))
	sc.srv.Counters.BytesIn.Add(uint64(n))
	return err
}

// tickRequest extends the deadlines while a request body moves: the client's read
// side, and the server's both ways (sending to the server is activity on the server
// side: it also extends the wait for the response head, as HAProxy's `timeout
// server` counts both ways).
func (s *session) tickRequest() {
	s.c.SetReadDeadline(deadline(s.fe.Cfg.Timeouts.Client))
	s.cur.SetDeadline(deadline(s.cur.srv.Backend.Cfg.Timeouts.Server))
}

// tickResponse extends the deadlines while a response body moves.
func (s *session) tickResponse() {
	s.cur.SetReadDeadline(deadline(s.cur.srv.Backend.Cfg.Timeouts.Server))
	s.c.SetWriteDeadline(deadline(s.fe.Cfg.Timeouts.Client))
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
