// Package storm is the load generator behind cmd/hitless-storm and the reload tests: new
// connections at a fixed rate, busy keep-alive connections, a reload command at a fixed
// interval, and a count of every failure by class. It only targets loopback addresses
// and always stops after Options.Duration.
package storm

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options says what load to generate.
type Options struct {
	Target    string        // host:port, loopback only
	Path      string        // request path
	Rate      int           // new connections per second (each one request, Connection: close)
	KeepAlive int           // keep-alive connections sending requests back to back
	Duration  time.Duration // total run time
	Timeout   time.Duration // per request
	Reload    string        // shell command run every Every; "" for none
	Every     time.Duration
	BodyLen   int // expected body length; -1 for any
	// MaxInFlight bounds the concurrent new-connection requests (default 4 × Rate / 10).
	MaxInFlight int
	// TLS, when set, makes every connection TLS with this configuration (tls.go). With
	// a ClientSessionCache, new connections offer the last session and the result
	// counts the resumptions that failed.
	TLS *tls.Config
}

// Validate checks the options, including that the target is a loopback address.
func (o *Options) Validate() error {
	host, _, err := net.SplitHostPort(o.Target)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	if host != "localhost" {
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.IsLoopback() {
			return fmt.Errorf("target %s is not a loopback address", o.Target)
		}
	}
	if o.Rate < 0 || o.KeepAlive < 0 || o.Duration <= 0 || o.Duration > time.Hour {
		return errors.New("rate and keepalive must be >= 0 and duration within (0, 1h]")
	}
	if o.Reload != "" && o.Every <= 0 {
		return errors.New("every must be > 0 with a reload command")
	}
	if o.Path == "" {
		o.Path = "/"
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	return nil
}

// Failure classes.
const (
	Refused   = "refused"    // the connect was refused (RST to the SYN)
	Reset     = "reset"      // the connection was reset after it was established
	Timeout   = "timeout"    // no complete answer within Options.Timeout
	BadStatus = "bad_status" // an answer other than 200
	ShortBody = "short_body" // the body ended before its announced length
	Closed    = "closed"     // closed before any byte of the answer
	TLSFailed = "tls"        // the TLS handshake failed
	Other     = "other"
)

// Result is the one-line JSON summary.
type Result struct {
	Seconds        float64          `json:"seconds"`
	Requests       int64            `json:"requests"`
	OK             int64            `json:"ok"`
	NewConns       int64            `json:"new_conns"`
	KeepAliveReqs  int64            `json:"keepalive_requests"`
	Reloads        int64            `json:"reloads"`
	ReloadErrors   int64            `json:"reload_errors"`
	FailuresBy     map[string]int64 `json:"failures"`
	FirstErrors    []string         `json:"first_errors,omitempty"`
	P50Millis      float64          `json:"p50_ms"`
	P99Millis      float64          `json:"p99_ms"`
	AchievedPerSec float64          `json:"new_conns_per_s"`

	// TLS: handshakes done, sessions offered, and offered sessions not resumed.
	Handshakes     int64 `json:"tls_handshakes,omitempty"`
	Offered        int64 `json:"tls_resumptions_offered,omitempty"`
	ResumeFailures int64 `json:"tls_resumptions_failed,omitempty"`
}

// Failures is the total number of failed requests.
func (r *Result) Failures() int64 {
	var n int64
	for _, v := range r.FailuresBy {
		n += v
	}
	return n
}

type collector struct {
	requests, ok, newConns, kaReqs, reloads, reloadErrs atomic.Int64
	handshakes, offered, resumeFails                    atomic.Int64

	// mu guards the fields below.
	mu      sync.Mutex
	fails   map[string]int64
	first   []string
	samples []time.Duration
}

func (c *collector) record(class string, err error, d time.Duration, keepAlive bool) {
	c.requests.Add(1)
	if keepAlive {
		c.kaReqs.Add(1)
	} else {
		c.newConns.Add(1)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if class == "" {
		c.ok.Add(1)
		if len(c.samples) < 1<<20 {
			c.samples = append(c.samples, d)
		}
		return
	}
	c.fails[class]++
	if len(c.first) < 10 {
		c.first = append(c.first, class+": "+err.Error())
	}
}

// Run generates the load until the duration elapses or ctx ends.
func Run(ctx context.Context, o Options) *Result {
	if o.Path == "" {
		o.Path = "/"
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	c := &collector{fails: map[string]int64{}}
	start := time.Now()
	var wg sync.WaitGroup

	for i := 0; i < o.KeepAlive; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keepAliveLoop(ctx, o, c)
		}()
	}
	if o.Reload != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reloadLoop(ctx, o, c)
		}()
	}
	if o.Rate > 0 {
		maxIn := o.MaxInFlight
		if maxIn <= 0 {
			maxIn = max(64, o.Rate*4/10)
		}
		sem := make(chan struct{}, maxIn)
		// Launch in 10 ms slots so that the rate holds without a sub-millisecond ticker.
		const slot = 10 * time.Millisecond
		tick := time.NewTicker(slot)
		launched := 0
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-tick.C:
			}
			due := int(float64(o.Rate) * time.Since(start).Seconds())
			for ; launched < due; launched++ {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					break loop
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					oneShot(o, c)
				}()
			}
		}
		tick.Stop()
	}
	wg.Wait()
	el := time.Since(start)
	r := &Result{
		Seconds:       el.Seconds(),
		Requests:      c.requests.Load(),
		OK:            c.ok.Load(),
		NewConns:      c.newConns.Load(),
		KeepAliveReqs: c.kaReqs.Load(),
		Reloads:       c.reloads.Load(),
		ReloadErrors:  c.reloadErrs.Load(),
		FailuresBy:    c.fails,
		FirstErrors:   c.first,
	}
	r.Handshakes, r.Offered, r.ResumeFailures = c.handshakes.Load(), c.offered.Load(), c.resumeFails.Load()
	r.AchievedPerSec = float64(r.NewConns) / el.Seconds()
	if n := len(c.samples); n > 0 {
		slices.Sort(c.samples)
		r.P50Millis = float64(c.samples[n/2].Microseconds()) / 1000
		r.P99Millis = float64(c.samples[n*99/100].Microseconds()) / 1000
	}
	return r
}

func request(o Options, keepAlive bool) []byte {
	conn := "close"
	if keepAlive {
		conn = "keep-alive"
	}
	return []byte("GET " + o.Path + " HTTP/1.1\r\nHost: " + o.Target + "\r\nUser-Agent: hitless-storm\r\nConnection: " + conn + "\r\n\r\n")
}

// oneShot opens a connection, sends one request and reads the whole answer.
func oneShot(o Options, c *collector) {
	t0 := time.Now()
	conn, err := dial(context.Background(), o, c)
	if err != nil {
		c.record(classify(err, false), err, 0, false)
		return
	}
	defer conn.Close()
	conn.SetDeadline(t0.Add(o.Timeout))
	if _, err := conn.Write(request(o, false)); err != nil {
		c.record(classify(err, false), err, 0, false)
		return
	}
	class, err := readAnswer(bufio.NewReader(conn), o, false)
	c.record(class, err, time.Since(t0), false)
}

// keepAliveLoop sends requests back to back on one connection, opening a new one when
// the server says Connection: close (that is not a failure) and after a failure.
func keepAliveLoop(ctx context.Context, o Options, c *collector) {
	var conn net.Conn
	var br *bufio.Reader
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	req := request(o, true)
	for ctx.Err() == nil {
		t0 := time.Now()
		if conn == nil {
			var err error
			conn, err = dial(ctx, o, c)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				c.record(classify(err, false), err, 0, true)
				time.Sleep(10 * time.Millisecond)
				continue
			}
			br = bufio.NewReader(conn)
		}
		conn.SetDeadline(t0.Add(o.Timeout))
		if _, err := conn.Write(req); err != nil {
			c.record(classify(err, false), err, 0, true)
			conn.Close()
			conn = nil
			continue
		}
		class, err := readAnswer(br, o, true)
		c.record(class, err, time.Since(t0), true)
		if class != "" || errors.Is(err, errServerClose) {
			conn.Close()
			conn = nil
		}
	}
}

// errServerClose marks a good answer after which the server closes the connection.
var errServerClose = errors.New("server asked to close")

// readAnswer reads one response and classifies it; "" is success.
func readAnswer(br *bufio.Reader, o Options, keepAlive bool) (string, error) {
	if _, err := br.Peek(1); err != nil {
		if errors.Is(err, io.EOF) {
			return Closed, errors.New("closed before the answer")
		}
		return classify(err, true), err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return classify(err, true), err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return ShortBody, err
		}
		return classify(err, true), err
	}
	if resp.StatusCode != http.StatusOK {
		return BadStatus, fmt.Errorf("status %d", resp.StatusCode)
	}
	if o.BodyLen >= 0 && n != int64(o.BodyLen) {
		return ShortBody, fmt.Errorf("body of %d bytes, want %d", n, o.BodyLen)
	}
	if keepAlive && resp.Close {
		return "", errServerClose
	}
	return "", nil
}

func classify(err error, established bool) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return Reset
	case errors.Is(err, os.ErrDeadlineExceeded):
		return Timeout
	case errors.Is(err, io.ErrUnexpectedEOF):
		return ShortBody
	case errors.Is(err, io.EOF):
		return Closed
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Timeout
	}
	if errors.Is(err, errHandshake) {
		return TLSFailed
	}
	if strings.Contains(err.Error(), "malformed HTTP") {
		return BadStatus
	}
	return Other
}

func reloadLoop(ctx context.Context, o Options, c *collector) {
	t := time.NewTicker(o.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cmd := exec.Command("/bin/sh", "-c", o.Reload)
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		if err := cmd.Run(); err != nil {
			c.reloadErrs.Add(1)
		} else {
			c.reloads.Add(1)
		}
	}
}
