// Package health runs active health checks for one server: a TCP connect, or an HTTP
// request with `option httpchk`, every `inter` (`fastinter` while a state change is
// under way, `downinter` while down), with `rise` and `fall` deciding transitions. The
// instance package runs one checker per server with `check` and applies the changes.
package health

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"hitless/internal/checkrule"
	"hitless/internal/proxyprotocol"
)

// Config describes the checks of one server.
type Config struct {
	Addr string // host:port of the server
	// Port and Host, when set, replace the server's port and address for checks
	// (the server's `port` and `addr` options).
	Port int
	Host string
	// Source is the local address of check connections (the server's `source`).
	Source netip.Addr
	// Rules is the backend's check (tcp-check, http-check or a protocol check);
	// nil: a TCP connect.
	Rules *checkrule.Ruleset
	// External, when set, is `option external-check`: a program instead of a
	// connection.
	External *External
	// SendProxy is the PROXY protocol version a check connection starts with (0
	// none, 1 or 2: `check-send-proxy` with the server's send-proxy[-v2]); a connect
	// rule's `send-proxy` asks for it too (version 1 unless the server says v2).
	SendProxy int
	// State, when set, describes the server for `http-check send-state`.
	State func() *checkrule.ServerState
	// Down, when set, tells whether the server is currently DOWN
	// (`http-check disable-on-404` only applies to servers that are not).
	Down                        func() bool
	ConnectTimeout              time.Duration
	ReadTimeout                 time.Duration
	Inter, FastInter, DownInter time.Duration
	Rise, Fall                  int
	// BufSize bounds what a check reads (tune.bufsize; 16384 when 0).
	BufSize int
	// Spread is `spread-checks` (0-50): each interval varies by up to that percent
	// either way.
	Spread int
	// Enabled, when set, is asked before each check: while it says false no check
	// runs and the state stays as it is (`disable health`).
	Enabled func() bool
	// Target, when set, is asked before each check for the address to check instead
	// of Addr (a server moved with `set server addr`).
	Target func() string
	// Handshake, when set, runs a TLS handshake on the connected socket (`check-ssl`,
	// or a server with `ssl`) of the checks that use the server's connection
	// settings (no ruleset, an implicit or `default` connect): a failure is a
	// layer 6 result, and a connect-only check passes as L6OK.
	Handshake func(ctx context.Context, c net.Conn, timeout time.Duration) (net.Conn, error)
	// Observed signals that `observe layer4` saw error-limit consecutive failed
	// connections; OnError says what that does ("fastinter" when empty,
	// "fail-check", "sudden-death", "mark-down"), and ErrorLimit is reported.
	Observed   <-chan struct{}
	OnError    string
	ErrorLimit int
	// Started, when set, is told when a check starts (Observe tells when it ended).
	Started func()
	// Observe, when set, receives every check's result and the health counter before
	// and after it (0..rise+fall-1), from the checker's goroutine.
	Observe func(r Result, before, after int)
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
	OK     bool
	Status string // L4OK, L4CON, L4TOUT, L6OK, L6RSP, L6TOUT, L7OK, L7OKC, L7STS, L7RSP, L7TOUT, SOCKERR
	Reason string // "Layer4 check passed", ...
	Info   string // "Connection refused", "Service Unavailable"
	Code   int    // shown for statuses from L7OK on (HTTP status, status-code)
	// Cond tells a conditional pass (L7OKC): the server stays up but takes no new
	// balanced traffic (NOLB).
	Cond     bool
	Duration time.Duration
}

// maxInfo is HAProxy's HCHK_DESC_LEN less its NUL: a check's message is cut there.
const maxInfo = 127

func result(status string, info string, code int, d time.Duration) Result {
	// The message is a C string in HAProxy: it ends at a NUL.
	if i := strings.IndexByte(info, 0); i >= 0 {
		info = info[:i]
	}
	if len(info) > maxInfo {
		info = info[:maxInfo]
	}
	return Result{OK: checkrule.Passed(status), Status: status, Reason: checkrule.Describe(status), Info: info,
		Code: code, Cond: status == "L7OKC", Duration: d}
}

// Describe returns HAProxy's fragment of a state-change message, for example
// `reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms`.
func (r Result) Describe() string {
	var b strings.Builder
	b.WriteString("reason: ")
	b.WriteString(r.Reason)
	if checkrule.HasCode(r.Status) {
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

// defaultBufSize is tune.bufsize's default: what a check reads at most.
const defaultBufSize = 16384

// Once runs one check: a TCP connect, or the ruleset's connects, sends and expects.
// It is also what Run calls at every interval.
func Once(ctx context.Context, c Config) Result {
	start := time.Now()
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 2 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 2 * time.Second
	}
	if c.BufSize <= 0 {
		c.BufSize = defaultBufSize
	}
	if c.External != nil {
		return runExternal(ctx, c.External, c.ReadTimeout, start)
	}
	rs := c.Rules
	if rs == nil {
		conn, err := c.dial(ctx, nil)
		if err != nil {
			if isTimeout(err) {
				return result("L4TOUT", "", 0, time.Since(start))
			}
			return result("L4CON", errnoText(err), 0, time.Since(start))
		}
		defer conn.Close()
		if c.SendProxy != 0 {
			conn.SetDeadline(time.Now().Add(c.ConnectTimeout))
			if _, err := conn.Write(proxyHeader(c.SendProxy, conn)); err != nil {
				return result("L4CON", errnoText(err), 0, time.Since(start))
			}
		}
		if c.Handshake != nil {
			tc, status := c.tls(ctx, conn)
			if tc == nil {
				return result(status, "", 0, time.Since(start))
			}
			defer tc.Close()
			return result("L6OK", "", 0, time.Since(start))
		}
		return result("L4OK", "", 0, time.Since(start))
	}
	r := &run{c: c, rs: rs, start: start, env: &checkrule.Env{}}
	if c.Down != nil {
		r.down = c.Down()
		r.env.ServerDown = r.down
	}
	defer r.close()
	return r.exec(ctx)
}

// exec runs the rules; a failure inside (a bug, not the peer's bytes, which are
// bounded and fuzzed) ends the check as a socket error instead of the process.
func (r *run) exec(ctx context.Context) (res Result) {
	defer func() {
		if p := recover(); p != nil {
			res = r.result("SOCKERR", fmt.Sprintf("internal error: %v", p))
		}
	}()
	return r.rules(ctx)
}

// run is one execution of a ruleset.
type run struct {
	c     Config
	rs    *checkrule.Ruleset
	start time.Time
	env   *checkrule.Env
	conn  net.Conn
	tls   bool // conn runs TLS (check-ssl)
	down  bool
	code  int // the check code so far (HTTP status, status-code)
}

func (r *run) close() {
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
}

func (r *run) result(status, info string) Result {
	return result(status, info, r.code, time.Since(r.start))
}

func (r *run) rules(ctx context.Context) Result {
	var last *checkrule.Rule
	var lastVerdict checkrule.Verdict
	for _, rule := range r.rs.Rules {
		switch rule.Action {
		case checkrule.Comment:
			continue
		case checkrule.SetVar:
			r.setVar(rule.Var)
			continue
		case checkrule.UnsetVar:
			delete(r.env.Vars, rule.Var.Name)
			continue
		case checkrule.Connect:
			r.close()
			conn, err := r.c.dial(ctx, rule.Connect)
			if err != nil {
				if isTimeout(err) {
					return r.result("L4TOUT", r.rs.ConnError(rule, ""))
				}
				return r.result("L4CON", r.rs.ConnError(rule, errnoText(err)))
			}
			r.conn = conn
			r.env.Buf = r.env.Buf[:0]
			r.env.HTTP = nil
			// `timeout check` runs from the connection on.
			conn.SetDeadline(time.Now().Add(r.c.ReadTimeout))
			if v := r.proxyVersion(rule.Connect); v != 0 {
				if _, err := conn.Write(proxyHeader(v, conn)); err != nil {
					return r.result("L4CON", r.rs.ConnError(rule, errnoText(err)))
				}
			}
			// The server's TLS (check-ssl) on the connects that take the server's
			// settings, after the PROXY header.
			if cr := rule.Connect; r.c.Handshake != nil && (cr == nil || cr.Implicit || cr.Default) {
				tc, status := r.c.tls(ctx, conn)
				if tc == nil {
					return r.result(status, "")
				}
				tc.SetDeadline(time.Now().Add(r.c.ReadTimeout))
				r.conn, r.tls = tc, true
			}
		case checkrule.Send:
			if r.conn == nil {
				return r.result("SOCKERR", r.rs.ConnError(rule, "No connection"))
			}
			data := r.payload(rule.Send)
			r.env.Buf = r.env.Buf[:0]
			r.env.HTTP = nil
			if _, err := r.conn.Write(data); err != nil {
				if isTimeout(err) {
					return r.result("L7TOUT", r.rs.ConnError(rule, ""))
				}
				return r.result("SOCKERR", r.rs.ConnError(rule, errnoText(err)))
			}
		case checkrule.Expect:
			v, res, done := r.expect(rule)
			if done {
				return res
			}
			lastVerdict = v
		}
		last = rule
	}
	return r.success(last, lastVerdict)
}

// success words a check whose rules all held, after its last rule.
func (r *run) success(last *checkrule.Rule, v checkrule.Verdict) Result {
	switch {
	case last == nil:
		return r.result("L7OK", "")
	case last.Action == checkrule.Expect:
		x := last.Expect
		if r.rs.HTTP() && r.rs.DisableOn404 && !r.down && r.code == 404 {
			return r.result("L7OKC", "")
		}
		if x.Custom != nil {
			return r.result(v.Status, v.Info)
		}
		status, info, code, hasCode := r.rs.Success(last, r.env)
		if hasCode {
			r.code = code
		}
		return r.result(status, info)
	case last.Action == checkrule.Connect:
		status := "L4OK"
		if r.tls {
			status = "L6OK"
		}
		if last.Connect.Implicit {
			return r.result(status, "")
		}
		return r.result(status, "(tcp-check)")
	}
	return r.result("L7OK", "")
}

// expect reads until the rule can be evaluated. done tells that the check ended
// with res.
func (r *run) expect(rule *checkrule.Rule) (v checkrule.Verdict, res Result, done bool) {
	if r.conn == nil {
		return v, r.result("SOCKERR", r.rs.ConnError(rule, "No connection")), true
	}
	x := rule.Expect
	final := false
	for {
		v = r.rs.Eval(rule, r.env, final)
		if !v.Wait {
			break
		}
		if final {
			// Nothing more can come and the rule still waits: treat as a mismatch.
			v = r.rs.Eval(rule, r.env, true)
			break
		}
		if len(r.env.Buf) >= r.c.BufSize {
			final = true
			continue
		}
		if cap(r.env.Buf) == 0 {
			r.env.Buf = make([]byte, 0, 1024)
		}
		if len(r.env.Buf) == cap(r.env.Buf) {
			nb := make([]byte, len(r.env.Buf), min(2*cap(r.env.Buf), r.c.BufSize))
			copy(nb, r.env.Buf)
			r.env.Buf = nb
		}
		n, err := r.conn.Read(r.env.Buf[len(r.env.Buf):cap(r.env.Buf)])
		r.env.Buf = r.env.Buf[:len(r.env.Buf)+n]
		if err != nil {
			if isTimeout(err) && len(r.env.Buf) == 0 {
				status := x.ToutStatus
				if status == "" {
					status = "L7TOUT"
				}
				return v, r.result(status, r.rs.ConnError(rule, "")), true
			}
			// End of stream, a reset, or a timeout with data: evaluate what came.
			final = true
		}
	}
	if v.HasCode {
		r.code = v.Code
	}
	if !v.OK {
		return v, r.result(v.Status, v.Info), true
	}
	return v, Result{}, false
}

// payload renders what a send rule sends.
func (r *run) payload(s *checkrule.SendRule) []byte {
	switch {
	case s.HTTP != nil:
		var st *checkrule.ServerState
		if r.rs.SendState && r.c.State != nil {
			st = r.c.State()
		}
		return s.HTTP.Request(r.env, st)
	case s.Format != nil:
		out := s.Format.Render(r.env)
		if s.Binary {
			b, err := hex.DecodeString(string(out))
			if err != nil {
				return nil
			}
			return b
		}
		return out
	}
	return s.Data
}

func (r *run) setVar(v *checkrule.VarRule) {
	if r.env.Vars == nil {
		r.env.Vars = map[string]checkrule.Value{}
	}
	switch {
	case v.Expr != nil:
		if val, ok := v.Expr.Eval(r.env); ok {
			r.env.Vars[v.Name] = val
		}
	case v.Format != nil:
		r.env.Vars[v.Name] = checkrule.Value{B: v.Format.Render(r.env)}
	}
}

// proxyVersion is the PROXY protocol version a connect rule starts with.
func (r *run) proxyVersion(cr *checkrule.ConnectRule) int {
	v := r.c.SendProxy
	if cr != nil && cr.SendProxy && v == 0 {
		v = 1
	}
	if cr != nil && !cr.Default && !cr.Implicit && !cr.SendProxy {
		return 0
	}
	return v
}

// dial opens a check connection: to the connect rule's addr and port when set, else
// the server's check address and port, else the server's.
func (c *Config) dial(ctx context.Context, cr *checkrule.ConnectRule) (net.Conn, error) {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return nil, err
	}
	if c.Host != "" {
		host = c.Host
	}
	if c.Port != 0 {
		port = strconv.Itoa(c.Port)
	}
	if cr != nil {
		if cr.Addr != "" {
			if h, p, err := net.SplitHostPort(cr.Addr); err == nil {
				host, port = h, p
			} else {
				host = strings.TrimSuffix(strings.TrimPrefix(cr.Addr, "["), "]")
			}
		}
		if cr.Port != 0 {
			port = strconv.Itoa(cr.Port)
		}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil, err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return nil, fmt.Errorf("invalid port %q", port)
	}
	conn, err := dialCheck(ctx, netip.AddrPortFrom(ip, uint16(p)), c.Source, c.ConnectTimeout, cr != nil && cr.Linger)
	if err != nil {
		return nil, err
	}
	return conn, nil
}

// tls runs the check's TLS handshake on conn within the connect timeout: the TLS
// connection, or nil and HAProxy's layer 6 status (L6TOUT, L6RSP).
func (c *Config) tls(ctx context.Context, conn net.Conn) (net.Conn, string) {
	tc, err := c.Handshake(ctx, conn, c.ConnectTimeout)
	if err != nil {
		if isTimeout(err) {
			return nil, "L6TOUT"
		}
		return nil, "L6RSP"
	}
	return tc, ""
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

// Run checks until ctx is done, calling onChange on every UP/DOWN transition with
// the result that caused it (callbacks never overlap, and none runs after Run
// returned). startUp is the initial state.
// Rise/fall follow HAProxy's health counter (see tracker), intervals its srv_getinter:
// Inter at full health, DownInter when down with no success, FastInter in between.
// The first check waits a random fraction of Inter, to spread the checks of many
// servers. Zero values get HAProxy's defaults (inter 2s, rise 2, fall 3).
func Run(ctx context.Context, c Config, startUp bool, onChange func(up bool, r Result)) {
	c = withDefaults(c)
	wait := time.Duration(rand.Int64N(int64(c.Inter)))
	if c.First != nil {
		wait = max(*c.First, 0)
	}
	ch := &checker{ctx: ctx, c: c, t: newTracker(c.Rise, c.Fall, startUp), onChange: onChange}
	// Each check runs in a goroutine of its own started by the timer, so that
	// thousands of idle servers hold no grown stacks between checks.
	ch.mu.Lock()
	ch.timer = time.AfterFunc(wait, ch.check)
	ch.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			ch.mu.Lock()
			ch.stopped = true
			ch.timer.Stop()
			ch.mu.Unlock()
			return
		case <-c.Observed:
			ch.mu.Lock()
			if !ch.stopped {
				if ch.t.analyze(c.OnError) {
					limit := c.ErrorLimit
					if limit <= 0 {
						limit = 10
					}
					onChange(ch.t.up, Result{Status: "HANA", Reason: checkrule.Describe("HANA"),
						Info: fmt.Sprintf("Detected %d consecutive errors, last one was: L4 unsuccessful connection", limit)})
				}
				ch.timer.Reset(c.FastInter)
			}
			ch.mu.Unlock()
		}
	}
}

// checker is the state of one server's checks under Run.
//
// mu guards every field below it and is held for a whole check, so that checks never
// overlap and no callback runs after Run returned.
type checker struct {
	ctx      context.Context
	onChange func(up bool, r Result)
	mu       sync.Mutex
	c        Config
	t        tracker
	timer    *time.Timer
	stopped  bool
}

// check runs one check, from the timer's goroutine, and schedules the next.
func (ch *checker) check() {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.stopped || ch.ctx.Err() != nil {
		return
	}
	c := &ch.c
	if c.Enabled != nil && !c.Enabled() {
		ch.timer.Reset(c.Inter)
		return
	}
	if c.Target != nil {
		c.Addr = c.Target()
	}
	if c.Sync != nil {
		if h, ok := c.Sync(); ok {
			ch.t.health, ch.t.up = min(max(h, 0), ch.t.full()), h >= ch.t.rise
		}
	}
	if c.Started != nil {
		c.Started()
	}
	r := Once(ch.ctx, *c)
	if ch.ctx.Err() != nil {
		return
	}
	before := ch.t.health
	changed := ch.t.observe(r.OK)
	if c.Observe != nil {
		c.Observe(r, before, ch.t.health)
	}
	if changed {
		ch.onChange(ch.t.up, r)
	}
	ch.timer.Reset(spread(ch.t.interval(*c), c.Spread))
}

// spread varies an interval by up to pct percent either way (`spread-checks`).
func spread(d time.Duration, pct int) time.Duration {
	if pct <= 0 || d <= 0 {
		return d
	}
	span := int64(d) * int64(min(pct, 50)) / 100
	if span <= 0 {
		return d
	}
	return d + time.Duration(rand.Int64N(2*span+1)-span)
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

// analyze applies `on-error` after a run of observed errors: fail-check counts a
// failed check, sudden-death leaves the server one failure from DOWN, mark-down marks
// it DOWN; fastinter (the default) only brings the next check closer. It reports
// whether the server changed state.
func (t *tracker) analyze(onError string) bool {
	switch onError {
	case "fail-check":
		return t.observe(false)
	case "sudden-death":
		if t.up && t.health > t.rise {
			t.health = t.rise
		}
		return false
	case "mark-down":
		t.health = 0
		if t.up {
			t.up = false
			return true
		}
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

// proxyHeader is the PROXY protocol header a check connection starts with, as
// HAProxy sends it: version 1 carries the check connection's own addresses, version 2
// the LOCAL command (a check carries no client).
func proxyHeader(v int, c net.Conn) []byte {
	if v == 2 {
		return proxyprotocol.Append(nil, 2, netip.AddrPort{}, netip.AddrPort{}, nil)
	}
	return proxyprotocol.Append(nil, 1, addrPort(c.LocalAddr()), addrPort(c.RemoteAddr()), nil)
}

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	return netip.AddrPort{}
}
