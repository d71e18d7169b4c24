// Package health runs active health checks for one server: a TCP connect, or an HTTP
// request with `option httpchk`, every `inter` (`fastinter` while a state change is
// under way, `downinter` while down), with `rise` and `fall` deciding transitions. The
// instance package runs one checker per server with `check` and applies the changes.
package health

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"hitless/internal/config"
)

// Config describes the checks of one server.
type Config struct {
	Addr                        string            // host:port
	HTTP                        *config.HTTPCheck // nil: TCP connect
	ConnectTimeout              time.Duration
	ReadTimeout                 time.Duration
	Inter, FastInter, DownInter time.Duration
	Rise, Fall                  int
	// Enabled, when set, is asked before each check: while it says false no check
	// runs and the state stays as it is (`disable health`).
	Enabled func() bool
	// Target, when set, is asked before each check for the address to check instead
	// of Addr (a server moved with `set server addr`).
	Target func() string
	// Handshake, when set, runs a TLS handshake on the connected socket (`check-ssl`,
	// or a server with `ssl`): a failure is a layer 6 result.
	Handshake func(ctx context.Context, c net.Conn, timeout time.Duration) (net.Conn, error)
	// Observe, when set, receives every check's result and the health counter after
	// it (0..rise+fall-1), from Run's goroutine.
	Observe func(r Result, health int)
	// Sync, when set, is asked before each check for a health counter set outside
	// the checks since the last call (`set server health`, leaving maintenance); the
	// checks go on from it (up from rise on). ok is false when there is none.
	Sync func() (health int, ok bool)
	// First, when set, is the wait before the first check (HAProxy spreads the first
	// checks of a process evenly over its shortest interval, the first one at once);
	// else the first check waits a random fraction of Inter.
	First *time.Duration
}

// Result is the outcome of one check, in HAProxy's words.
type Result struct {
	OK       bool
	Status   string // L4OK, L4CON, L4TOUT, L7OK, L7STS, L7RSP, L7TOUT
	Reason   string // "Layer4 check passed", ...
	Info     string // "Connection refused", "Service Unavailable"
	Code     int    // HTTP status for layer 7 results
	Duration time.Duration
}

var reasons = map[string]string{
	"L4OK":   "Layer4 check passed",
	"L4CON":  "Layer4 connection problem",
	"L4TOUT": "Layer4 timeout",
	"L6OK":   "Layer6 check passed",
	"L6TOUT": "Layer6 timeout",
	"L6RSP":  "Layer6 invalid response",
	"L7OK":   "Layer7 check passed",
	"L7STS":  "Layer7 wrong status",
	"L7RSP":  "Layer7 invalid response",
	"L7TOUT": "Layer7 timeout",
}

func result(status string, ok bool, info string, code int, d time.Duration) Result {
	return Result{OK: ok, Status: status, Reason: reasons[status], Info: info, Code: code, Duration: d}
}

// Describe returns HAProxy's fragment of a state-change message, for example
// `reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms`.
func (r Result) Describe() string {
	var b strings.Builder
	b.WriteString("reason: ")
	b.WriteString(r.Reason)
	if r.Code != 0 {
		b.WriteString(", code: ")
		b.WriteString(strconv.Itoa(r.Code))
	}
	if r.Info != "" {
		b.WriteString(", info: \"")
		b.WriteString(r.Info)
		b.WriteString("\"")
	}
	b.WriteString(", check duration: ")
	b.WriteString(strconv.FormatInt(r.Duration.Milliseconds(), 10))
	b.WriteString("ms")
	return b.String()
}

// Once runs one check: a TCP connect, then with HTTP the request and the status line.
// It is also what Run calls at every interval.
func Once(ctx context.Context, c Config) Result {
	start := time.Now()
	ct := c.ConnectTimeout
	if ct <= 0 {
		ct = 2 * time.Second
	}
	d := net.Dialer{Timeout: ct}
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		if isTimeout(err) {
			return result("L4TOUT", false, "", 0, time.Since(start))
		}
		return result("L4CON", false, errnoText(err), 0, time.Since(start))
	}
	defer conn.Close()
	if c.Handshake != nil {
		tc, err := c.Handshake(ctx, conn, ct)
		if err != nil {
			if isTimeout(err) {
				return result("L6TOUT", false, "", 0, time.Since(start))
			}
			return result("L6RSP", false, "", 0, time.Since(start))
		}
		defer tc.Close()
		conn = tc
		if c.HTTP == nil {
			return result("L6OK", true, "", 0, time.Since(start))
		}
	}
	if c.HTTP == nil {
		return result("L4OK", true, "", 0, time.Since(start))
	}
	rt := c.ReadTimeout
	if rt <= 0 {
		rt = 2 * time.Second
	}
	conn.SetDeadline(time.Now().Add(rt))
	if _, err := conn.Write(request(c.HTTP)); err != nil {
		return result("L4CON", false, errnoText(err), 0, time.Since(start))
	}
	// The status line is all a check reads, and at most maxStatusLine bytes of it.
	line, err := bufio.NewReaderSize(conn, maxStatusLine).ReadSlice('\n')
	if err != nil && len(line) < len("HTTP/1.0 200") {
		if isTimeout(err) {
			return result("L7TOUT", false, "", 0, time.Since(start))
		}
		return result("L7RSP", false, "", 0, time.Since(start))
	}
	code, text, ok := parseStatus(line)
	if !ok {
		return result("L7RSP", false, "", 0, time.Since(start))
	}
	pass := code >= 200 && code < 400
	if c.HTTP.ExpectStatus != 0 {
		pass = code == c.HTTP.ExpectStatus
	}
	if !pass {
		return result("L7STS", false, text, code, time.Since(start))
	}
	// HAProxy reports the reason phrase of a failure only.
	return result("L7OK", true, "", code, time.Since(start))
}

// maxStatusLine bounds what a check reads of a response.
const maxStatusLine = 1024

// request is the check request as HAProxy 2.6 sends it: the request line, then for
// HTTP/1.1 only `connection: close` (no Host header), then the empty line.
func request(h *config.HTTPCheck) []byte {
	method, uri, version := h.Method, h.URI, h.Version
	if method == "" {
		method = "OPTIONS"
	}
	if uri == "" {
		uri = "/"
	}
	if version == "" {
		version = "HTTP/1.0"
	}
	b := make([]byte, 0, len(method)+len(uri)+len(version)+32)
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, uri...)
	b = append(b, ' ')
	b = append(b, version...)
	b = append(b, "\r\n"...)
	if version == "HTTP/1.1" {
		b = append(b, "connection: close\r\n"...)
	}
	return append(b, "\r\n"...)
}

// parseStatus reads `HTTP/1.x NNN [reason]` from a status line as received (with or
// without its line end) and returns the status and the reason phrase.
func parseStatus(line []byte) (int, string, bool) {
	n := len(line)
	for n > 0 && (line[n-1] == '\n' || line[n-1] == '\r') {
		n--
	}
	line = line[:n]
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[7] < '0' || line[7] > '9' || line[8] != ' ' {
		return 0, "", false
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, "", false
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 || len(line) > 12 && line[12] != ' ' {
		return 0, "", false
	}
	text := strings.TrimSpace(string(line[12:]))
	for i := 0; i < len(text); i++ {
		if text[i] < ' ' && text[i] != '\t' || text[i] == 0x7f {
			return 0, "", false
		}
	}
	return code, text, true
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// errnoText turns a connect error into the C library's text, as HAProxy shows it.
func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return err.Error()
}

// Run checks until ctx is done, calling onChange (from Run's goroutine) on every
// UP/DOWN transition with the result that caused it. startUp is the initial state.
// Rise/fall follow HAProxy's health counter (see tracker), intervals its srv_getinter:
// Inter at full health, DownInter when down with no success, FastInter in between.
// The first check waits a random fraction of Inter, to spread the checks of many
// servers. Zero values get HAProxy's defaults (inter 2s, rise 2, fall 3).
func Run(ctx context.Context, c Config, startUp bool, onChange func(up bool, r Result)) {
	c = withDefaults(c)
	t := newTracker(c.Rise, c.Fall, startUp)
	wait := time.Duration(rand.Int64N(int64(c.Inter)))
	if c.First != nil {
		wait = max(*c.First, 0)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if c.Enabled != nil && !c.Enabled() {
			timer.Reset(c.Inter)
			continue
		}
		if c.Target != nil {
			c.Addr = c.Target()
		}
		if c.Sync != nil {
			if h, ok := c.Sync(); ok {
				t.health, t.up = min(max(h, 0), t.full()), h >= t.rise
			}
		}
		r := Once(ctx, c)
		if ctx.Err() != nil {
			return
		}
		changed := t.observe(r.OK)
		if c.Observe != nil {
			c.Observe(r, t.health)
		}
		if changed {
			onChange(t.up, r)
		}
		timer.Reset(t.interval(c))
	}
}

// withDefaults fills in HAProxy's defaults for unset timings and counts.
func withDefaults(c Config) Config {
	if c.Rise <= 0 {
		c.Rise = 2
	}
	if c.Fall <= 0 {
		c.Fall = 3
	}
	if c.Inter <= 0 {
		c.Inter = 2 * time.Second
	}
	if c.FastInter <= 0 {
		c.FastInter = c.Inter
	}
	if c.DownInter <= 0 {
		c.DownInter = c.Inter
	}
	return c
}

// tracker is HAProxy's health counter for one server. health runs from 0 to
// rise+fall-1: a failure decrements it and drops it to 0 once it falls below rise (the
// server is DOWN at 0); a success increments it and lifts it to rise+fall-1 once it
// reaches rise (the server is UP from rise on). So an UP server at full health goes
// DOWN after fall consecutive failures and a DOWN one goes UP after rise consecutive
// successes; a server that starts UP starts at rise, so that its first failure takes
// it DOWN at once, as HAProxy does at startup.
type tracker struct {
	rise, fall int
	health     int
	up         bool
}

func newTracker(rise, fall int, up bool) tracker {
	t := tracker{rise: rise, fall: fall, up: up}
	if up {
		t.health = rise
	}
	return t
}

func (t *tracker) full() int { return t.rise + t.fall - 1 }

// observe records one check result and reports whether the server changed state.
func (t *tracker) observe(ok bool) bool {
	if ok {
		if t.health < t.full() {
			t.health++
			if t.health >= t.rise {
				t.health = t.full()
			}
		}
		if !t.up && t.health >= t.rise {
			t.up = true
			return true
		}
		return false
	}
	if t.health > 0 {
		t.health--
		if t.health < t.rise {
			t.health = 0
		}
	}
	if t.up && t.health == 0 {
		t.up = false
		return true
	}
	return false
}

// interval is the wait before the next check.
func (t *tracker) interval(c Config) time.Duration {
	switch {
	case t.health == t.full():
		return c.Inter
	case !t.up && t.health == 0:
		return c.DownInter
	}
	return c.FastInter
}

// String is for debugging.
func (r Result) String() string { return fmt.Sprintf("%s %s", r.Status, r.Describe()) }
