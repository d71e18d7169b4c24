// Package logging sends log lines where `log` lines say (stdout, stderr, UDP and TCP
// syslog, unix datagram sockets such as /dev/log) in HAProxy's syslog formats, formats
// access-log entries as `option httplog` and `option tcplog` do, and prints event
// messages as HAProxy's `[NOTICE]   (pid) : ...` lines. The instance package creates
// one Logger per distinct set of targets; the engines call Log per connection.
package logging

import (
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
	Tag      string // program name, "hitless"
	PID      int
	Hostname string
}

// queueLen bounds each target's queue: beyond it lines are dropped, never waited for.
const queueLen = 4096

// Logger sends messages to a fixed set of targets. A nil *Logger does nothing. It is
// safe for concurrent use; Log never blocks.
type Logger struct {
	targets []*target
	wg      sync.WaitGroup
	// Dropped counts lines lost because a queue was full or a target failed.
	Dropped atomic.Uint64
}

type target struct {
	cfg  config.LogTarget
	opts Options
	q    chan []byte
	// conn is owned by the target's goroutine.
	conn net.Conn
	out  *os.File
}

// New opens every target. An unreachable socket is retried at each message rather
// than failing the start, as HAProxy does.
func New(targets []config.LogTarget, opts Options) (*Logger, error) {
	l := &Logger{}
	for _, c := range targets {
		if c.Global {
			continue
		}
		t := &target{cfg: c, opts: opts, q: make(chan []byte, queueLen)}
		switch c.Network {
		case "stdout":
			t.out = os.Stdout
		case "stderr":
			t.out = os.Stderr
		}
		l.targets = append(l.targets, t)
		l.wg.Add(1)
		go l.drain(t)
	}
	return l, nil
}

// Log formats msg at a syslog level (0 emerg .. 7 debug) for each target that accepts
// the level and queues it.
func (l *Logger) Log(level int, msg []byte) {
	if l == nil {
		return
	}
	now := time.Now()
	for _, t := range l.targets {
		if level > t.cfg.Level || level < t.cfg.MinLevel {
			continue
		}
		line := t.format(make([]byte, 0, len(msg)+64), now, level, msg)
		select {
		case t.q <- line:
		default:
			l.Dropped.Add(1)
		}
	}
}

// Close flushes the queues and closes the targets.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	for _, t := range l.targets {
		close(t.q)
	}
	l.wg.Wait()
	return nil
}

func (l *Logger) drain(t *target) {
	defer l.wg.Done()
	defer func() {
		if t.conn != nil {
			t.conn.Close()
		}
	}()
	for line := range t.q {
		if !t.write(line) {
			l.Dropped.Add(1)
		}
	}
}

func (t *target) write(line []byte) bool {
	if t.out != nil {
		_, err := t.out.Write(line)
		return err == nil
	}
	if t.conn == nil {
		c, err := net.DialTimeout(t.cfg.Network, t.cfg.Address, time.Second)
		if err != nil {
			return false
		}
		t.conn = c
	}
	t.conn.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := t.conn.Write(line); err != nil {
		t.conn.Close()
		t.conn = nil
		return false
	}
	return true
}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// format builds the line for one target: the syslog header of its format, the message
// cut to `len`, and a newline for streams.
func (t *target) format(b []byte, now time.Time, level int, msg []byte) []byte {
	pri := t.cfg.Facility*8 + level
	tag := t.opts.Tag
	if tag == "" {
		tag = "hitless"
	}
	switch t.cfg.Format {
	case "raw":
	case "short", "priority":
		b = appendPri(b, pri)
	case "timed":
		b = appendPri(b, pri)
		b = appendStamp(b, now)
		b = append(b, ' ')
	case "iso":
		b = appendPri(b, pri)
		b = now.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
		b = append(b, ' ')
	case "rfc5424":
		b = appendPri(b, pri)
		b = append(b, "1 "...)
		b = now.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
		b = append(b, ' ')
		host := t.opts.Hostname
		if host == "" {
			host = "-"
		}
		b = append(b, host...)
		b = append(b, ' ')
		b = append(b, tag...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(t.opts.PID), 10)
		b = append(b, " - - "...)
	default: // rfc3164, local
		b = appendPri(b, pri)
		b = appendStamp(b, now)
		b = append(b, ' ')
		b = append(b, tag...)
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(t.opts.PID), 10)
		b = append(b, "]: "...)
	}
	max := t.cfg.Len
	if max <= 0 {
		max = 1024
	}
	room := max - len(b) - 1
	if room < 0 {
		room = 0
	}
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
