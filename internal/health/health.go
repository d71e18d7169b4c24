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

// Once runs one check.
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
	if c.HTTP == nil {
		return result("L4OK", true, "", 0, time.Since(start))
	}
	rt := c.ReadTimeout
	if rt <= 0 {
		rt = 2 * time.Second
	}
	conn.SetDeadline(time.Now().Add(rt))
	req := c.HTTP.Method + " " + c.HTTP.URI + " " + c.HTTP.Version + "\r\n"
	if c.HTTP.Version == "HTTP/1.1" {
		req += "Host: " + c.Addr + "\r\nConnection: close\r\n"
	}
	req += "\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		return result("L4CON", false, errnoText(err), 0, time.Since(start))
	}
	line, err := bufio.NewReaderSize(conn, 1024).ReadString('\n')
	if err != nil {
		if isTimeout(err) {
			return result("L7TOUT", false, "", 0, time.Since(start))
		}
		if line == "" {
			return result("L7RSP", false, "Socket closed", 0, time.Since(start))
		}
	}
	code, text, ok := parseStatus(line)
	if !ok {
		return result("L7RSP", false, "Invalid response", 0, time.Since(start))
	}
	pass := code >= 200 && code < 400
	if c.HTTP.ExpectStatus != 0 {
		pass = code == c.HTTP.ExpectStatus
	}
	if !pass {
		return result("L7STS", false, text, code, time.Since(start))
	}
	return result("L7OK", true, text, code, time.Since(start))
}

func parseStatus(line string) (int, string, bool) {
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "HTTP/1.") || len(line) < 12 || line[8] != ' ' {
		return 0, "", false
	}
	code, err := strconv.Atoi(line[9:12])
	if err != nil || code < 100 || code > 999 {
		return 0, "", false
	}
	return code, strings.TrimSpace(line[12:]), true
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

// Run checks until ctx is done, calling onChange on every UP/DOWN transition.
func Run(ctx context.Context, c Config, startUp bool, onChange func(up bool, r Result)) {
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
	up := startUp
	var fails, oks int
	// Spread the first checks of many servers over one interval.
	wait := time.Duration(rand.Int64N(int64(c.Inter)))
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if c.Enabled != nil && !c.Enabled() {
			wait = c.Inter
			continue
		}
		r := Once(ctx, c)
		if ctx.Err() != nil {
			return
		}
		if r.OK {
			fails = 0
			oks++
			if !up && oks >= c.Rise {
				up = true
				onChange(true, r)
			}
		} else {
			oks = 0
			fails++
			if up && fails >= c.Fall {
				up = false
				onChange(false, r)
			}
		}
		switch {
		case up && fails == 0, !up && oks == 0:
			wait = c.Inter
			if !up {
				wait = c.DownInter
			}
		default:
			wait = c.FastInter
		}
	}
}

// String is for debugging.
func (r Result) String() string { return fmt.Sprintf("%s %s", r.Status, r.Describe()) }
