// Package logging sends log lines where `log` lines say (stdout, stderr, UDP and TCP
// syslog, unix datagram sockets such as /dev/log) in HAProxy's syslog formats, formats
// access-log entries as `option httplog` and `option tcplog` do, and prints event
// messages as HAProxy's `[NOTICE]   (pid) : ...` lines. The instance package creates
// one Logger per distinct set of targets; the engines call Log per connection.
package logging

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"hitless/internal/config"
)

// Options are the fields of the syslog header.
type Options struct {
	Tag string // program name; "hitless" when empty
	PID int
	// Hostname goes into rfc3164 and rfc5424 headers, as HAProxy's `log-send-hostname`
	// does; empty means none (rfc3164 omits it, rfc5424 prints "-"), HAProxy's default.
	Hostname string
}

// queueLen bounds each target's queue: beyond it lines are dropped, never waited for.
const queueLen = 4096

// openTimeout bounds the connection New makes to each socket target.
const openTimeout = 500 * time.Millisecond

// writeTimeout bounds one write (or connect) to a stream or socket target, so that a
// stuck reader only makes its own queue overflow.
const writeTimeout = time.Second

// Logger sends messages to a fixed set of targets. A nil *Logger does nothing. It is
// safe for concurrent use; Log never blocks: each target has a bounded queue drained
// by one goroutine that the Logger owns until Close.
type Logger struct {
	targets []*target
	wg      sync.WaitGroup
	closed  atomic.Bool
	// flushEnd is when Close stops sending queued lines (unix nanoseconds; 0 before
	// Close).
	flushEnd atomic.Int64
	// closeOnce makes Close idempotent.
	closeOnce sync.Once
	// Dropped counts lines lost because a queue was full or a target failed.
	Dropped atomic.Uint64
}

type target struct {
	cfg  config.LogTarget
	opts Options
	q    chan *[]byte
	done chan struct{}
	// conn is owned by the target's goroutine.
	conn net.Conn
	out  *os.File
}

// formats are the `format` values of a `log` line; "" is the default, rfc3164.
var formats = map[string]bool{"": true, "rfc3164": true, "rfc5424": true, "raw": true, "short": true,
	"local": true, "priority": true, "timed": true, "iso": true}

// New opens every target. Targets are checked here (a malformed one is an error); the
// connection to a socket is made by the target's goroutine and retried at each
// message, so an unreachable syslog daemon does not stop the start, as in HAProxy.
// `log global` entries are skipped: the config package resolves them.
func New(targets []config.LogTarget, opts Options) (*Logger, error) {
	l := &Logger{}
	var errs []error
	for i, c := range targets {
		if c.Global {
			continue
		}
		if err := check(&c); err != nil {
			errs = append(errs, fmt.Errorf("log target #%d (%s %s): %w", i+1, c.Network, c.Address, err))
			continue
		}
		l.targets = append(l.targets, &target{cfg: c, opts: opts, q: make(chan *[]byte, queueLen), done: make(chan struct{})})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, t := range l.targets {
		switch t.cfg.Network {
		case "stdout":
			t.out = os.Stdout
		case "stderr":
			t.out = os.Stderr
		default:
			// Open the socket now, while the process may still see the path (before
			// a chroot) and has its privileges; a failure is retried at each line.
			d := net.Dialer{Timeout: openTimeout}
			if c, err := d.Dial(t.cfg.Network, t.cfg.Address); err == nil {
				t.conn = c
			}
		}
		l.wg.Add(1)
		go l.drain(t)
	}
	return l, nil
}

// check validates one target and fills its defaults.
func check(c *config.LogTarget) error {
	switch c.Network {
	case "stdout", "stderr":
	case "udp", "tcp":
		host, port, err := net.SplitHostPort(c.Address)
		if err != nil {
			return fmt.Errorf("invalid address: %w", err)
		}
		if host == "" {
			return errors.New("missing host")
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("invalid port '%s'", port)
		}
	case "unixgram":
		if c.Address == "" {
			return errors.New("missing socket path")
		}
	default:
		return fmt.Errorf("unknown log target type '%s'", c.Network)
	}
	if !formats[c.Format] {
		return fmt.Errorf("unknown log format '%s'", c.Format)
	}
	if c.Len == 0 {
		c.Len = 1024
	}
	if c.Len < 80 || c.Len > 65535 {
		return fmt.Errorf("'len' must be between 80 and 65535 (got %d)", c.Len)
	}
	if c.Facility < 0 || c.Facility > 23 {
		return fmt.Errorf("invalid facility %d", c.Facility)
	}
	if c.Level < 0 || c.Level > 7 || c.MinLevel < 0 || c.MinLevel > 7 {
		return fmt.Errorf("invalid log levels %d/%d", c.Level, c.MinLevel)
	}
	return nil
}

// bufPool holds the lines between Log and the target's goroutine.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Log formats msg at a syslog level (0 emerg .. 7 debug) for each target whose level
// accepts it (a level more severe than the target's minimum is raised to it) and
// queues it. It never blocks: a full queue drops the line and counts it in Dropped.
func (l *Logger) Log(level int, msg []byte) { l.LogSD(level, msg, nil) }

// SDLogger is implemented by loggers that can carry rfc5424 structured data
// (log-format-sd) next to the message.
type SDLogger interface {
	LogSD(level int, msg, sd []byte)
}

// LogSD is Log with the structured-data part of rfc5424 lines (nil or empty: "-");
// the other formats ignore sd.
func (l *Logger) LogSD(level int, msg, sd []byte) {
	if l == nil || l.closed.Load() {
		return
	}
	level = max(0, min(level, 7))
	var now time.Time
	for _, t := range l.targets {
		if level > t.cfg.Level {
			continue
		}
		lv := max(level, t.cfg.MinLevel)
		if now.IsZero() {
			now = time.Now()
		}
		bp := bufPool.Get().(*[]byte)
		*bp = t.formatSD((*bp)[:0], now, lv, msg, sd)
		select {
		case t.q <- bp:
		default:
			putBuf(bp)
			l.Dropped.Add(1)
		}
	}
}

func putBuf(bp *[]byte) {
	if cap(*bp) <= 64<<10 {
		bufPool.Put(bp)
	}
}

// Close sends what is queued (each write bounded by a timeout), stops the goroutines
// and closes the sockets. Later Log calls do nothing. It is safe to call twice.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		l.flushEnd.Store(time.Now().Add(flushTimeout).UnixNano())
		for _, t := range l.targets {
			close(t.done)
		}
		l.wg.Wait()
	})
	return nil
}

// drain is the target's goroutine: it writes queued lines until Close, then flushes
// what is left until the flush deadline set by Close and drops the rest.
func (l *Logger) drain(t *target) {
	defer l.wg.Done()
	defer func() {
		if t.conn != nil {
			t.conn.Close()
		}
	}()
	for {
		select {
		case bp := <-t.q:
			l.send(t, bp)
		case <-t.done:
			for {
				select {
				case bp := <-t.q:
					l.send(t, bp)
				default:
					return
				}
			}
		}
	}
}

// flushTimeout bounds the time Close spends sending what is still queued.
const flushTimeout = time.Second

// send writes one queued line within writeTimeout, or within what is left of the
// flush time once Close has begun; past it the line is dropped.
func (l *Logger) send(t *target, bp *[]byte) {
	defer putBuf(bp)
	now := time.Now()
	deadline := now.Add(writeTimeout)
	if end := l.flushEnd.Load(); end != 0 {
		if now.UnixNano() >= end {
			l.Dropped.Add(1)
			return
		}
		if e := time.Unix(0, end); e.Before(deadline) {
			deadline = e
		}
	}
	if !t.write(*bp, deadline) {
		l.Dropped.Add(1)
	}
}

// write sends one line before deadline, (re)connecting a socket target when needed.
func (t *target) write(line []byte, deadline time.Time) bool {
	if t.out != nil {
		_, err := t.out.Write(line)
		return err == nil
	}
	if t.conn == nil {
		d := net.Dialer{Deadline: deadline}
		c, err := d.Dial(t.cfg.Network, t.cfg.Address)
		if err != nil {
			return false
		}
		t.conn = c
	}
	t.conn.SetWriteDeadline(deadline)
	if _, err := t.conn.Write(line); err != nil {
		// A restarted syslog daemon, an ICMP refusal or a stuck reader: reconnect at
		// the next line.
		t.conn.Close()
		t.conn = nil
		return false
	}
	return true
}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// isoLayout is the timestamp of the rfc5424, timed and iso formats.
const isoLayout = "2006-01-02T15:04:05.000000-07:00"

// format builds the line for one target as HAProxy 2.6 does: the header of its format,
// the message cut so that header and message fit in `len` (the newline comes on top,
// as captured from HAProxy 2.6), and a newline.
// Headers (pri = facility*8 + level):
//
//	rfc3164  <pri>Mmm dd hh:mm:ss [host ]tag[pid]: msg
//	local    <pri>Mmm dd hh:mm:ss tag[pid]: msg
//	rfc5424  <pri>1 2006-01-02T15:04:05.000000+00:00 host|- tag pid - - msg
//	priority <pri>msg
//	short    <level>msg
//	timed    <level>2006-01-02T15:04:05.000000+00:00 msg
//	iso      2006-01-02T15:04:05.000000+00:00 msg
//	raw      msg
func (t *target) format(b []byte, now time.Time, level int, msg []byte) []byte {
	return t.formatSD(b, now, level, msg, nil)
}

// formatSD is format with rfc5424 structured data.
func (t *target) formatSD(b []byte, now time.Time, level int, msg, sd []byte) []byte {
	pri := t.cfg.Facility*8 + level
	tag := t.opts.Tag
	if tag == "" {
		tag = "hitless"
	}
	switch t.cfg.Format {
	case "raw":
	case "priority":
		b = appendPri(b, pri)
	case "short":
		b = appendPri(b, level)
	case "timed":
		b = appendPri(b, level)
		b = now.AppendFormat(b, isoLayout)
		b = append(b, ' ')
	case "iso":
		b = now.AppendFormat(b, isoLayout)
		b = append(b, ' ')
	case "rfc5424":
		b = appendPri(b, pri)
		b = append(b, "1 "...)
		b = now.AppendFormat(b, isoLayout)
		b = append(b, ' ')
		if t.opts.Hostname == "" {
			b = append(b, '-')
		} else {
			b = append(b, t.opts.Hostname...)
		}
		b = append(b, ' ')
		b = append(b, tag...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(t.opts.PID), 10)
		if len(sd) == 0 {
			b = append(b, " - - "...)
		} else {
			b = append(b, " - "...)
			b = append(b, sd...)
			b = append(b, ' ')
		}
	default: // rfc3164, local
		b = appendPri(b, pri)
		b = appendStamp(b, now)
		b = append(b, ' ')
		if t.cfg.Format != "local" && t.opts.Hostname != "" {
			b = append(b, t.opts.Hostname...)
			b = append(b, ' ')
		}
		b = append(b, tag...)
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(t.opts.PID), 10)
		b = append(b, "]: "...)
	}
	room := max(t.cfg.Len-len(b), 0)
	if len(msg) > room {
		msg = msg[:room]
	}
	b = append(b, msg...)
	return append(b, '\n')
}

func appendPri(b []byte, pri int) []byte {
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(pri), 10)
	return append(b, '>')
}

// appendStamp writes "Mmm dd hh:mm:ss" with a space-padded day, as syslog does.
func appendStamp(b []byte, t time.Time) []byte {
	b = append(b, months[t.Month()-1]...)
	b = append(b, ' ')
	d := t.Day()
	if d < 10 {
		b = append(b, ' ')
	}
	b = strconv.AppendInt(b, int64(d), 10)
	b = append(b, ' ')
	b = append2(b, t.Hour())
	b = append(b, ':')
	b = append2(b, t.Minute())
	b = append(b, ':')
	return append2(b, t.Second())
}

func append2(b []byte, n int) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}
