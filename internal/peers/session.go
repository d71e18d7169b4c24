package peers

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"hitless/internal/stick"
)

var pid = os.Getpid()

// session is one established connection with a peer (after the hello). Its reader
// runs on the caller's goroutine, its writer on its own.
//
// Lock order: Section.mu before session.mu.
type session struct {
	sec       *Section
	p         *peer // nil: an older process of this node teaching us
	c         net.Conn
	br        *bufio.Reader
	downgrade bool // the peer speaks 2.0: no timed updates
	wakeCh    chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	// mu guards the fields below, shared by the reader and the writer.
	mu     sync.Mutex
	remote map[uint64]*rtable // the peer's table ids
	ctl    []byte             // control messages to send
	teach  bool               // the peer asked for a full resynchronisation
	rxHbt  int
	// successor: this session teaches the new process of a reload; confirmed
	// once it acknowledged the lesson (00 03), which ends the session.
	successor, confirmed bool
	// lastRemote is the table the updates refer to (the last definition).
	lastRemote *rtable
	// shown is what `show peers` reads of the writer's state: pushed, the last
	// defined table, and when the last message went out.
	shownPushed []uint32
	shownDef    int
	lastTx      time.Time
	lastRx      time.Time

	// wmu serialises writes to c between the writer and a failing reader; dead
	// (guarded by wmu) stops the writer once the reader sent its error message.
	wmu  sync.Mutex
	dead bool

	// Writer only.
	pushed  []uint32 // per local table: the last update id pushed
	defSent []bool
	lastDef int // local index of the table the last definition announced, -1
	dict    dictTX
	out     []byte
}

// rtable is a table as the peer announced it.
type rtable struct {
	def     *Def
	t       *stick.Table // nil when no local table matches: its updates are dropped
	lastGet uint32
	acked   uint32
	dict    dictRX
}

func newSession(sec *Section, p *peer, c net.Conn, br *bufio.Reader, downgrade bool) *session {
	s := &session{sec: sec, p: p, c: c, br: br, downgrade: downgrade, wakeCh: make(chan struct{}, 1), done: make(chan struct{}),
		remote: map[uint64]*rtable{}, lastDef: -1, shownDef: -1, lastTx: time.Now(), lastRx: time.Now()}
	n := len(sec.cfg.Tables)
	s.pushed, s.defSent = make([]uint32, n), make([]bool, n)
	if p != nil {
		copy(s.pushed, p.acked)
	}
	return s
}

func (s *session) wakeUp() {
	select {
	case s.wakeCh <- struct{}{}:
	default:
	}
}

func (s *session) close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.c.Close()
	})
}

func (s *session) name() string {
	if s.p == nil {
		return s.sec.cfg.Local + " (local)"
	}
	return s.p.Name
}

// run serves the session until either side ends it.
func (s *session) run() {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.writer()
	}()
	err := s.reader()
	s.close()
	wg.Wait()
	if err != nil && s.sec.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
		s.sec.events.Warn(fmt.Sprintf("peers %s: session with %s ended: %v", s.sec.cfg.Name, s.name(), err))
	}
}

// errProtocol is a peer that sent what the protocol does not allow.
type errProtocol struct{ err error }

func (e errProtocol) Error() string { return "protocol error: " + e.err.Error() }

// readFrame reads one message; buf is reused for its payload.
func readFrame(br *bufio.Reader, buf []byte) (frame, []byte, error) {
	hdr, err := br.Peek(2)
	if err != nil {
		return frame{}, buf, err
	}
	f := frame{class: hdr[0], typ: hdr[1]}
	if f.typ < 0x80 {
		br.Discard(2)
		return f, buf, nil
	}
	// The length is a varint of up to 5 bytes: peek no further than needed, so
	// that a short message is not held back waiting for more bytes.
	var l uint64
	used := 0
	for k := 3; k <= 7 && used == 0; k++ {
		head, perr := br.Peek(k)
		l, used = varint(head[2:])
		if used == 0 && perr != nil {
			if perr == io.EOF {
				perr = io.ErrUnexpectedEOF
			}
			return frame{}, buf, perr
		}
	}
	if used == 0 {
		return frame{}, buf, errMalformed
	}
	if l > maxPayload {
		return frame{}, buf, errTooBig
	}
	br.Discard(2 + used)
	if cap(buf) < int(l) {
		buf = make([]byte, l)
	}
	buf = buf[:l]
	if _, err := io.ReadFull(br, buf); err != nil {
		return frame{}, buf, err
	}
	f.payload = buf
	return f, buf, nil
}

// reader decodes the peer's messages until the connection ends or the peer errs.
func (s *session) reader() error {
	var buf []byte
	var u received
	for {
		s.c.SetReadDeadline(time.Now().Add(deadAfter + time.Second))
		f, b, err := readFrame(s.br, buf)
		buf = b
		if err != nil {
			switch {
			case errors.Is(err, errMalformed):
				s.fail(errProto)
				return errProtocol{err}
			case errors.Is(err, errTooBig):
				s.fail(errSize)
				return errProtocol{err}
			case errors.Is(err, io.EOF):
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("no message for %s", deadAfter)
			}
			return err
		}
		s.mu.Lock()
		s.lastRx = time.Now()
		s.mu.Unlock()
		if err := s.handle(f, &u); err != nil {
			s.fail(errProto)
			return errProtocol{err}
		}
		if s.successor && f.class == classControl && f.typ == ctlResyncConfirm {
			s.mu.Lock()
			s.confirmed = true
			s.mu.Unlock()
			return nil
		}
	}
}

// fail tells the peer why the session ends (01 00 or 01 01) and counts it.
func (s *session) fail(code byte) {
	s.wmu.Lock()
	s.dead = true
	s.c.SetWriteDeadline(time.Now().Add(time.Second))
	s.c.Write([]byte{classError, code})
	s.wmu.Unlock()
	if s.p != nil {
		s.sec.mu.Lock()
		s.p.protoErr++
		s.sec.mu.Unlock()
	}
}

func (s *session) handle(f frame, u *received) error {
	switch f.class {
	case classControl:
		return s.control(f.typ)
	case classError:
		return fmt.Errorf("the peer reported error %d", f.typ)
	case classTable:
		return s.table(f, u)
	case classReserved:
		return fmt.Errorf("message of reserved class 255")
	}
	return nil // unknown classes are ignored, as in HAProxy
}

func (s *session) control(typ byte) error {
	switch typ {
	case ctlResyncReq:
		s.mu.Lock()
		s.teach = true
		s.mu.Unlock()
		s.wakeUp()
	case ctlResyncFinish, ctlResyncPartial:
		if s.p == nil {
			if typ == ctlResyncFinish {
				s.sec.mu.Lock()
				s.sec.synced = true
				s.sec.mu.Unlock()
			}
		} else {
			s.sec.resyncDone(s.p, typ == ctlResyncFinish)
		}
		s.mu.Lock()
		s.ctl = append(s.ctl, classControl, ctlResyncConfirm)
		s.mu.Unlock()
		s.wakeUp()
	case ctlHeartbeat:
		s.mu.Lock()
		s.rxHbt++
		s.mu.Unlock()
		if s.p != nil {
			s.sec.mu.Lock()
			s.p.rxHbt++
			s.sec.mu.Unlock()
		}
	}
	return nil
}

func (s *session) table(f frame, u *received) error {
	switch f.typ {
	case tblDefine:
		d, err := parseDef(f.payload)
		if err != nil {
			return err
		}
		rt := &rtable{def: d}
		for _, t := range s.sec.cfg.Tables {
			if t.Spec().NetName == d.Name && d.matches(t) {
				rt.t = t
			}
		}
		s.mu.Lock()
		if old := s.remote[d.ID]; old != nil {
			rt.lastGet, rt.acked = old.lastGet, old.acked
		}
		s.remote[d.ID] = rt
		s.lastRemote = rt
		s.mu.Unlock()
	case tblSwitch:
		r := reader{b: f.payload}
		id := r.varint()
		if r.err != nil {
			return r.err
		}
		s.mu.Lock()
		s.lastRemote = s.remote[id]
		s.mu.Unlock()
	case tblUpdate, tblIncUpdate, tblUpdateTimed, tblIncTimed:
		s.mu.Lock()
		rt := s.lastRemote
		s.mu.Unlock()
		if rt == nil {
			return nil // no definition yet: dropped, as HAProxy does
		}
		if err := parseUpdate(f.typ, f.payload, rt.def, &rt.dict, u); err != nil {
			return err
		}
		s.mu.Lock()
		if u.hasID {
			rt.lastGet = u.id
		} else {
			rt.lastGet++
		}
		s.mu.Unlock()
		if rt.t != nil {
			rt.t.Learn(localKey(rt.t, u.key), u.exp, &u.values, true)
		}
		s.wakeUp()
	case tblAck:
		r := reader{b: f.payload}
		id := r.varint()
		upd := r.u32()
		if r.err != nil {
			return r.err
		}
		if id == 0 || id > uint64(len(s.sec.cfg.Tables)) || s.p == nil {
			return nil
		}
		t := s.sec.cfg.Tables[id-1]
		if upd > t.LastUpdate() {
			return nil // an id of a full resynchronisation, not of our log
		}
		s.sec.mu.Lock()
		s.p.acked[id-1] = upd
		s.sec.mu.Unlock()
	}
	return nil
}

// writer sends what the session owes the peer: control messages, acks, a full
// resynchronisation when asked, the local changes, and a heartbeat after 3 s of
// silence.
func (s *session) writer() {
	hb := time.NewTimer(heartbeatEvery)
	defer hb.Stop()
	if s.sec.needResync(s.p) {
		s.out = append(s.out, classControl, ctlResyncReq)
	}
	for {
		more := s.fill()
		if len(s.out) > 0 {
			if !s.flush() {
				return
			}
			hb.Reset(heartbeatEvery)
		}
		if more {
			continue
		}
		select {
		case <-s.done:
			return
		case <-s.wakeCh:
		case <-hb.C:
			s.out = append(s.out, classControl, ctlHeartbeat)
			if s.p != nil {
				s.sec.mu.Lock()
				s.p.txHbt++
				s.sec.mu.Unlock()
			}
			if !s.flush() {
				return
			}
			hb.Reset(heartbeatEvery)
		}
	}
}

// flush writes s.out; false when the connection is gone.
func (s *session) flush() bool {
	s.wmu.Lock()
	err := net.ErrClosed
	if !s.dead {
		s.c.SetWriteDeadline(time.Now().Add(deadAfter))
		_, err = s.c.Write(s.out)
	}
	s.wmu.Unlock()
	s.out = s.out[:0]
	s.mu.Lock()
	s.lastTx = time.Now()
	s.mu.Unlock()
	if err != nil {
		s.close()
		return false
	}
	return true
}

// fill appends the pending messages to s.out and reports whether more wait.
func (s *session) fill() bool {
	s.mu.Lock()
	s.out = append(s.out, s.ctl...)
	s.ctl = s.ctl[:0]
	for _, rt := range s.remote {
		if rt.lastGet != rt.acked {
			s.out = appendAck(s.out, rt.def.ID, rt.lastGet)
			rt.acked = rt.lastGet
		}
	}
	teach := s.teach
	s.teach = false
	s.mu.Unlock()
	if teach {
		if !s.teachAll() {
			return false
		}
	}
	more := false
	for i, t := range s.sec.cfg.Tables {
		if !t.Pending(s.pushed[i]) {
			continue
		}
		d := defOf(t, uint64(i+1))
		prev := uint32(0)
		first := true
		n, last := t.Updates(s.pushed[i], s.sec.cfg.MaxBatch, func(id uint32, r *stick.Row) {
			if s.lastDef != i || !s.defSent[i] {
				s.out = appendDef(s.out, d)
				s.lastDef, s.defSent[i] = i, true
			}
			s.out = appendUpdate(s.out, update{id: id, withID: first || id != prev+1}, d, r, &s.dict)
			first, prev = false, id
		})
		s.pushed[i] = last
		if n > 0 {
			t.Pushed(prev)
		}
		if n == s.sec.cfg.MaxBatch {
			more = true
		}
	}
	s.mu.Lock()
	s.shownPushed = append(s.shownPushed[:0], s.pushed...)
	s.shownDef = s.lastDef
	s.mu.Unlock()
	return more
}

// teachAll pushes every entry of every table (a full resynchronisation), timed
// unless the peer speaks 2.0, then "finished". It writes as it goes, so that a
// million entries never sit in one buffer.
func (s *session) teachAll() bool {
	base := uint32(0x80000000)
	for i, t := range s.sec.cfg.Tables {
		d := defOf(t, uint64(i+1))
		s.out = appendDef(s.out, d)
		s.lastDef, s.defSent[i] = i, true
		first := true
		ok := true
		t.Walk(func(r *stick.Row) bool {
			exp := uint32(0)
			if r.Exp > 0 {
				exp = uint32(min(r.Exp, 1<<31-1))
			}
			base++
			s.out = appendUpdate(s.out, update{id: base, withID: first, timed: !s.downgrade, exp: exp}, d, r, &s.dict)
			first = false
			if len(s.out) >= 32<<10 {
				ok = s.flush()
			}
			return ok
		})
		if !ok {
			return false
		}
	}
	// "Finished" when this node is up to date, "partial" while it still waits for
	// its own resynchronisation, so that the learner asks another peer too.
	s.sec.mu.Lock()
	synced := s.sec.synced
	s.sec.mu.Unlock()
	if synced {
		s.out = append(s.out, classControl, ctlResyncFinish)
	} else {
		s.out = append(s.out, classControl, ctlResyncPartial)
	}
	return true
}
