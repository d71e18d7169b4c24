package peers

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"hitless/internal/stick"
)

// Protocol timers of HAProxy 2.6 (peers.c).
const (
	heartbeatEvery = 3 * time.Second // a heartbeat after 3 s without sending
	deadAfter      = 5 * time.Second // a session that received nothing for 5 s is dead
	connectTimeout = time.Second
	helloTimeout   = 5 * time.Second
	resyncTimeout  = 5 * time.Second // how long to wait for a teacher
	maxBatch       = 200             // tune.peers.max-updates-at-once's default
	maxLine        = 256             // a hello line longer than this is a protocol error
)

// Config is one `peers` section as the instance starts it.
type Config struct {
	Name  string // the section's name
	Local string // this process's peer name
	// LocalAddr is the local peer's address ("-" when none); LocalIndex its place
	// among the section's peers (`show peers` lists them in reverse order).
	LocalAddr  string
	LocalIndex int
	// Remotes are the other peers, in declaration order.
	Remotes []Remote
	// Tables are the tables shared in the section, in registration order: their
	// local ids are 1, 2, ...
	Tables []*stick.Table
	// MaxBatch is tune.peers.max-updates-at-once: updates per table and round
	// (0 = 200).
	MaxBatch int
	// Synced says the tables were handed over by an older process: no
	// resynchronisation is asked from the remote peers.
	Synced bool
	Events *slog.Logger
}

// Remote is another peer of the section.
type Remote struct {
	Name string
	Addr string // host:port
}

// Section runs one peers section: it accepts peers on the local peer's listener,
// keeps one session with every remote peer (connecting, with backoff, when none
// exists), pushes the local changes of the shared tables and learns the remote
// ones.
//
// Lock order: Section.mu before peer.mu.
type Section struct {
	cfg    Config
	events *slog.Logger
	ctx    context.Context
	wg     sync.WaitGroup
	wake   chan struct{} // a table changed (buffer 1: kick never blocks)

	// mu guards peers' session fields and the resync state.
	mu      sync.Mutex
	peers   []*peer
	synced  bool // the initial resynchronisation is over
	asked   *peer
	started time.Time
}

// peer is one remote peer and what survives its sessions.
type peer struct {
	Remote
	// The fields below are guarded by Section.mu.
	sess      *session
	acked     []uint32 // per local table: the last update id the peer acknowledged
	lastHello time.Time
	status    int
	newConn   int
	coll      int
	protoErr  int
	txHbt     int
	rxHbt     int
	delay     time.Duration // before the next connect
	retry     int
	downgrade bool          // the peer answered 502: say hello in version 2.0
	dialing   net.Conn      // our connection to the peer while its hello is in progress
	kill      chan struct{} // closed to wake the connector early
}

// Start runs the section until ctx ends. ln is the local peer's listener (nil: the
// section only connects). The section owns ln.
func Start(ctx context.Context, cfg Config, ln net.Listener) *Section {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = maxBatch
	}
	s := &Section{cfg: cfg, events: cfg.Events, ctx: ctx, wake: make(chan struct{}, 1), synced: cfg.Synced || len(cfg.Remotes) == 0, started: time.Now()}
	if s.events == nil {
		s.events = slog.New(slog.DiscardHandler)
	}
	for _, r := range cfg.Remotes {
		s.peers = append(s.peers, &peer{Remote: r, acked: make([]uint32, len(cfg.Tables))})
	}
	for _, t := range cfg.Tables {
		t.SetSync(s.kick)
	}
	if ln != nil {
		s.wg.Add(1)
		go s.acceptLoop(ln)
		context.AfterFunc(ctx, func() { ln.Close() })
	}
	for _, p := range s.peers {
		s.wg.Add(1)
		go s.connectLoop(p)
	}
	s.wg.Add(2)
	go s.resyncTimer()
	go s.dispatch()
	return s
}

// Wait blocks until every goroutine of the section has ended (after ctx ended).
func (s *Section) Wait() { s.wg.Wait() }

// kick is called by the tables after each local change, on the request path: it
// only signals the dispatcher, without a lock.
func (s *Section) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// dispatch wakes the sessions' writers when a table changed.
func (s *Section) dispatch() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		}
		s.mu.Lock()
		for _, p := range s.peers {
			if p.sess != nil {
				p.sess.wakeUp()
			}
		}
		s.mu.Unlock()
	}
}

// resyncTimer gives up on the initial resynchronisation after the timeout, as HAProxy
// does: the tables then start from what they have.
func (s *Section) resyncTimer() {
	defer s.wg.Done()
	t := time.NewTimer(2 * resyncTimeout)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
	case <-t.C:
		s.mu.Lock()
		if !s.synced {
			s.synced = true
			s.events.Info(fmt.Sprintf("peers %s: no peer taught the tables within %s; starting from the local entries", s.cfg.Name, 2*resyncTimeout))
		}
		s.mu.Unlock()
	}
}

func (s *Section) peerByName(name string) *peer {
	for _, p := range s.peers {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func (s *Section) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.accepted(c)
		}()
	}
}

// readHello reads the three hello lines.
func readHello(br *bufio.Reader) ([3]string, error) {
	var lines [3]string
	for i := range lines {
		var b []byte
		for {
			c, err := br.ReadByte()
			if err != nil {
				return lines, err
			}
			if c == '\n' {
				break
			}
			if len(b) >= maxLine {
				return lines, errMalformed
			}
			b = append(b, c)
		}
		lines[i] = strings.TrimSuffix(string(b), "\r")
	}
	return lines, nil
}

// checkHello validates a hello as peers.c does and returns the status code and the
// calling peer's name and protocol minor version.
func (s *Section) checkHello(lines [3]string) (status int, name string, minor int) {
	ver, ok := strings.CutPrefix(lines[0], "HAProxyS ")
	if !ok {
		return 501, "", 0
	}
	ma, mi, ok := strings.Cut(ver, ".")
	maj, err1 := strconv.ParseUint(ma, 10, 32)
	min, err2 := strconv.ParseUint(mi, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return 501, "", 0
	}
	if maj != 2 || min > 1 {
		return 502, "", 0
	}
	if lines[1] != s.cfg.Local {
		return 503, "", 0
	}
	name, _, ok = strings.Cut(lines[2], " ")
	if !ok {
		return 501, "", 0
	}
	if name != s.cfg.Local && s.peerByName(name) == nil {
		return 504, "", 0
	}
	return 200, name, int(min)
}

// accepted runs an incoming connection: hello, status, then the session.
func (s *Section) accepted(c net.Conn) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(helloTimeout))
	br := bufio.NewReaderSize(c, 32<<10)
	lines, err := readHello(br)
	if err != nil {
		if err == errMalformed {
			c.Write([]byte("501\n"))
		}
		return
	}
	status, name, minor := s.checkHello(lines)
	if status != 200 {
		c.Write([]byte(strconv.Itoa(status) + "\n"))
		s.events.Warn(fmt.Sprintf("peers %s: refused a session from %s: status %d", s.cfg.Name, c.RemoteAddr(), status))
		return
	}
	if name == s.cfg.Local {
		// An older process of this node (an HAProxy we took over from) teaches us
		// its tables before it leaves.
		c.Write([]byte("200\n"))
		sess := newSession(s, nil, c, br, minor == 0)
		sess.run()
		return
	}
	p := s.peerByName(name)
	s.mu.Lock()
	if old := p.sess; old != nil {
		// Only one session per pair of peers: the new one wins (peers.c), and the
		// loser's connector waits 50..2049 ms.
		p.coll++
		p.delay = time.Duration(50+rand.IntN(2000)) * time.Millisecond
		old.close()
	}
	if d := p.dialing; d != nil {
		// Our own connection to that peer, still saying hello, loses too, as the
		// peer's single session does in HAProxy.
		p.coll++
		p.delay = time.Duration(50+rand.IntN(2000)) * time.Millisecond
		d.Close()
		p.dialing = nil
	}
	sess := newSession(s, p, c, br, minor == 0)
	p.sess = sess
	p.status, p.lastHello = 200, time.Now()
	s.mu.Unlock()
	c.Write([]byte("200\n"))
	sess.run()
	s.detach(p, sess)
}

// detach forgets a finished session.
func (s *Section) detach(p *peer, sess *session) {
	s.mu.Lock()
	if p.sess == sess {
		p.sess = nil
		if p.delay == 0 {
			p.delay = time.Duration(50+rand.IntN(2000)) * time.Millisecond
		}
		if p.kill != nil {
			close(p.kill)
			p.kill = nil
		}
	}
	if s.asked == p {
		s.asked = nil
	}
	s.mu.Unlock()
}

// connectLoop keeps a session with p: when none exists it connects, retrying with
// a growing delay (1 s, 2 s, 4 s, then every 5 s, as HAProxy's 5 s cycle).
func (s *Section) connectLoop(p *peer) {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		busy := p.sess != nil
		wait := p.delay
		p.delay = 0
		var kill chan struct{}
		if busy {
			p.kill = make(chan struct{})
			kill = p.kill
		}
		s.mu.Unlock()
		if busy {
			select {
			case <-s.ctx.Done():
				return
			case <-kill:
			}
			continue
		}
		if wait > 0 {
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		if s.ctx.Err() != nil {
			return
		}
		err := s.connect(p)
		s.mu.Lock()
		if err != nil {
			p.retry++
			p.delay = min(time.Second<<min(p.retry-1, 3), 5*time.Second)
		} else {
			p.retry = 0
		}
		s.mu.Unlock()
	}
}

// connect dials p, says hello and runs the session until it ends.
func (s *Section) connect(p *peer) error {
	s.mu.Lock()
	p.newConn++
	p.status = 100
	s.mu.Unlock()
	d := net.Dialer{Timeout: connectTimeout}
	c, err := d.DialContext(s.ctx, "tcp", p.Addr)
	if err != nil {
		return err
	}
	defer c.Close()
	s.mu.Lock()
	p.status = 110
	p.dialing = c
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if p.dialing == c {
			p.dialing = nil
		}
		s.mu.Unlock()
	}()
	c.SetDeadline(time.Now().Add(helloTimeout))
	s.mu.Lock()
	version := "2.1"
	if p.downgrade {
		version = "2.0"
	}
	s.mu.Unlock()
	hello := fmt.Sprintf("HAProxyS %s\n%s\n%s %d 1\n", version, p.Name, s.cfg.Local, pid)
	if _, err := c.Write([]byte(hello)); err != nil {
		return err
	}
	br := bufio.NewReaderSize(c, 32<<10)
	line, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	code, _ := strconv.Atoi(strings.TrimSpace(line))
	s.mu.Lock()
	p.status = code
	if code == 502 {
		p.downgrade = true // an older peer: try version 2.0 next time, as HAProxy does
	}
	if code != 200 {
		s.mu.Unlock()
		s.events.Warn(fmt.Sprintf("peers %s: peer %s answered %d to our hello", s.cfg.Name, p.Name, code))
		return fmt.Errorf("status %d", code)
	}
	if p.sess != nil || p.dialing != c {
		// It connected to us meanwhile and that session won.
		s.mu.Unlock()
		return nil
	}
	p.dialing = nil
	sess := newSession(s, p, c, br, p.downgrade)
	p.sess = sess
	p.lastHello = time.Now()
	s.mu.Unlock()
	c.SetDeadline(time.Time{})
	sess.run()
	s.detach(p, sess)
	return nil
}

// needResync reports whether p should be asked to teach the tables, and marks it.
func (s *Section) needResync(p *peer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.synced || s.asked != nil || p == nil {
		return false
	}
	s.asked = p
	return true
}

// resyncDone ends the initial resynchronisation (finished) or moves to another
// teacher (partial).
func (s *Section) resyncDone(p *peer, finished bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.asked != p {
		return
	}
	s.asked = nil
	if finished {
		s.synced = true
	}
}

// TeachSuccessor is the old process's part of a reload, as HAProxy's local peer
// does it: once this process stopped listening, it connects to the local peer's
// address (now the new process's, hitless or HAProxy), introduces itself under the
// local name, pushes every entry (timed) and "finished", and leaves on the new
// process's confirmation. It gives up after timeout; a "300 try again" or a refused
// connection is retried until then.
func (s *Section) TeachSuccessor(ctx context.Context, timeout time.Duration) {
	if s.cfg.LocalAddr == "" || len(s.cfg.Tables) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for ctx.Err() == nil {
		if s.teachOnce(ctx) {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.events.Warn(fmt.Sprintf("peers %s: the new process was not taught the tables within %s", s.cfg.Name, timeout))
}

// teachOnce makes one attempt; true when the lesson was confirmed.
func (s *Section) teachOnce(ctx context.Context) bool {
	d := net.Dialer{Timeout: connectTimeout}
	c, err := d.DialContext(ctx, "tcp", s.cfg.LocalAddr)
	if err != nil {
		return false
	}
	defer c.Close()
	dl, _ := ctx.Deadline()
	c.SetDeadline(dl)
	if _, err := fmt.Fprintf(c, "HAProxyS 2.1\n%s\n%s %d 1\n", s.cfg.Local, s.cfg.Local, pid); err != nil {
		return false
	}
	br := bufio.NewReaderSize(c, 32<<10)
	line, err := br.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "200" {
		return false
	}
	sess := newSession(s, nil, c, br, false)
	sess.successor = true
	sess.teach = true
	stop := context.AfterFunc(ctx, sess.close)
	defer stop()
	sess.run()
	return sess.confirmed
}
