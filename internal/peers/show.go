package peers

import (
	"fmt"
	"io"
	"time"
	"unsafe"

	"hitless/internal/stick"
)

// statusNames are the `last_status=` words of HAProxy 2.6.
var statusNames = map[int]string{100: "CONN", 110: "HSHK", 200: "ESTA", 300: "RETR", 501: "PROT", 502: "VERS", 503: "NAME", 504: "UNKN"}

// The section flags `show peers` prints (peers.c).
const (
	flagResyncLocal    = 0x1
	flagResyncRemote   = 0x2
	flagLocalTimeout   = 0x10
	flagRemoteTimeout  = 0x20
	flagRemoteFinished = 0x200
	flagRemoteAssign   = 0x2000
	flagAlive          = 0x20000000
)

// Name is the section's name.
func (s *Section) Name() string { return s.cfg.Name }

func ptr[T any](p *T) uintptr { return uintptr(unsafe.Pointer(p)) }

// human prints a delay as HAProxy's `show peers` does.
func human(d time.Duration) string {
	if d < 0 {
		return "<PAST>"
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
}

// Show writes the section as HAProxy 2.6's `show peers` does: the section line, then
// every peer (the last declared first, as HAProxy's list holds them) with its
// session and shared tables. Addresses identify objects and differ from HAProxy's.
func (s *Section) Show(w io.Writer, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	flags := flagResyncLocal
	if !s.cfg.Synced {
		flags |= flagLocalTimeout
	}
	resync := "<PAST>"
	if s.synced {
		flags |= flagResyncRemote
	} else {
		resync = human(2*resyncTimeout - now.Sub(s.started))
	}
	if s.asked != nil {
		flags |= flagRemoteAssign
	}
	fmt.Fprintf(w, "%#x: [%s] id=%s disabled=0 flags=%#x resync_timeout=%s task_calls=%d\n",
		ptr(s), s.started.Format("02/Jan/2006:15:04:05"), s.cfg.Name, flags, resync, len(s.peers)+1)
	for i := len(s.peers); i >= 0; i-- {
		switch {
		case i == s.cfg.LocalIndex:
			addr := s.cfg.LocalAddr
			if addr == "" {
				addr = "-"
			}
			fmt.Fprintf(w, "  %#x: id=%s(local,inactive) addr=%s last_status=NONE last_hdshk=<NEVER>\n", ptr(&s.cfg), s.cfg.Local, addr)
			fmt.Fprintf(w, "        reconnect=<NEVER> heartbeat=<NEVER> confirm=0 tx_hbt=0 rx_hbt=0 no_hbt=0 new_conn=0 proto_err=0 coll=0\n")
			fmt.Fprintf(w, "        flags=0x0\n")
			s.showTables(w, nil)
		case i < s.cfg.LocalIndex:
			s.showPeer(w, s.peers[i], now)
		case i-1 < len(s.peers):
			s.showPeer(w, s.peers[i-1], now)
		}
	}
}

// showPeer writes one remote peer. Must be called with s.mu held.
func (s *Section) showPeer(w io.Writer, p *peer, now time.Time) {
	active := "inactive"
	if p.sess != nil {
		active = "active"
	}
	st := statusNames[p.status]
	if st == "" {
		st = "NONE"
	}
	hs := "<NEVER>"
	if !p.lastHello.IsZero() {
		hs = human(now.Sub(p.lastHello))
	}
	reconnect, heartbeat := "<NEVER>", "<NEVER>"
	flags := 0
	if sess := p.sess; sess != nil {
		sess.mu.Lock()
		reconnect = human(deadAfter - now.Sub(sess.lastRx))
		heartbeat = human(heartbeatEvery - now.Sub(sess.lastTx))
		sess.mu.Unlock()
		flags = flagAlive
	} else if p.status != 0 {
		reconnect = human(p.delay)
	}
	fmt.Fprintf(w, "  %#x: id=%s(remote,%s) addr=%s last_status=%s last_hdshk=%s\n", ptr(p), p.Name, active, p.Addr, st, hs)
	fmt.Fprintf(w, "        reconnect=%s heartbeat=%s confirm=0 tx_hbt=%d rx_hbt=%d no_hbt=0 new_conn=%d proto_err=%d coll=%d\n",
		reconnect, heartbeat, p.txHbt, p.rxHbt, p.newConn, p.protoErr, p.coll)
	fmt.Fprintf(w, "        flags=%#x", flags)
	sess := p.sess
	if sess == nil {
		fmt.Fprintf(w, "\n")
		s.showTables(w, p)
		return
	}
	fmt.Fprintf(w, " appctx:%#x st0=7 st1=0 task_calls=%d state=EST\n", ptr(sess), p.txHbt+p.rxHbt+1)
	fmt.Fprintf(w, "        xprt=RAW src=%s addr=%s\n", sess.c.RemoteAddr(), sess.c.LocalAddr())
	sess.mu.Lock()
	if i := sess.shownDef; i >= 0 && i < len(s.cfg.Tables) {
		fmt.Fprintf(w, "        last_local_table:%#x id=%s local_id=%d remote_id=%d\n", ptr(s.cfg.Tables[i]), s.cfg.Tables[i].Name(), i+1, sess.remoteIDOf(s.cfg.Tables[i]))
	}
	if rt := sess.lastRemote; rt != nil && rt.t != nil {
		fmt.Fprintf(w, "        remote_table:%#x id=%s local_id=%d remote_id=%d\n", ptr(rt.t), rt.t.Name(), s.localID(rt.t), rt.def.ID)
	}
	sess.mu.Unlock()
	s.showTables(w, p)
}

func (s *Section) localID(t *stick.Table) int {
	for i, x := range s.cfg.Tables {
		if x == t {
			return i + 1
		}
	}
	return 0
}

// remoteIDOf is the peer's id for local table t, 0 when it announced none. Must be
// called with s.mu held.
func (s *session) remoteIDOf(t *stick.Table) uint64 {
	for id, rt := range s.remote {
		if rt.t == t {
			return id
		}
	}
	return 0
}

// showTables writes the shared tables as seen from peer p (nil: the local peer).
// Must be called with s.mu held.
func (s *Section) showTables(w io.Writer, p *peer) {
	fmt.Fprintf(w, "        shared tables:\n")
	for i := len(s.cfg.Tables) - 1; i >= 0; i-- {
		t := s.cfg.Tables[i]
		var rid, bits uint64
		var acked, pushed, get, update uint32
		if p != nil {
			update = p.acked[i]
			if sess := p.sess; sess != nil {
				sess.mu.Lock()
				for id, rt := range sess.remote {
					if rt.t == t {
						rid, bits, acked, get = id, rt.def.Bits, rt.acked, rt.lastGet
					}
				}
				if i < len(sess.shownPushed) {
					pushed = sess.shownPushed[i]
				}
				sess.mu.Unlock()
			}
		}
		fmt.Fprintf(w, "          %#x local_id=%d remote_id=%d flags=0x0 remote_data=%#x\n", ptr(t)+uintptr(i), i+1, rid, bits)
		fmt.Fprintf(w, "              last_acked=%d last_pushed=%d last_get=%d teaching_origin=0 update=%d\n", acked, pushed, get, update)
		u := t.LastUpdate()
		fmt.Fprintf(w, "              table:%#x id=%s update=%d localupdate=%d commitupdate=%d refcnt=1\n", ptr(t), t.Name(), u, u, t.Committed())
		fmt.Fprintf(w, "        Dictionary cache not dumped (use \"show peers dict\")\n")
	}
}
