// Command bench measures hitless against HAProxy 2.6 and against talking to the
// backend directly, on loopback, and prints figures (never pass/fail): HTTP
// keep-alive requests/s, new connections/s with "Connection: close", and TCP-mode
// throughput, each with the proxy's CPU time per request (or per MB) taken from
// /proc/PID/stat. Run it from the repository root: go run ./bench
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"hitless/bench/internal/procstat"
)

type options struct {
	runs     int
	duration time.Duration
	conns    int
	tcpConns int
	haproxy  string
	wrk      string
	hitless  string
}

func main() {
	var o options
	flag.IntVar(&o.runs, "runs", 3, "runs per measurement (the median is reported)")
	flag.DurationVar(&o.duration, "d", 5*time.Second, "duration of one run")
	flag.IntVar(&o.conns, "c", 50, "concurrent client connections for the HTTP tests")
	flag.IntVar(&o.tcpConns, "tcp-conns", 4, "concurrent connections for the TCP throughput test")
	flag.StringVar(&o.haproxy, "haproxy", "/usr/sbin/haproxy", "HAProxy binary")
	flag.StringVar(&o.wrk, "wrk", "wrk", "wrk binary; the built-in Go load generator is used when it is not found")
	flag.StringVar(&o.hitless, "hitless", "", "hitless binary (default: go build ./cmd/hitless)")
	flag.Parse()
	if o.runs < 1 || o.runs > 100 || o.duration <= 0 || o.duration > 10*time.Minute || o.conns < 1 || o.tcpConns < 1 {
		fmt.Fprintln(os.Stderr, "bench: -runs must be 1..100, -d positive and at most 10m, -c and -tcp-conns positive")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// measurement is one run's outcome.
type measurement struct {
	ops     float64 // requests, or bytes for the TCP test
	seconds float64
	cpu     float64 // proxy CPU seconds, -1 when there is no proxy
	errors  int64
}

// result is the median over runs.
type result struct {
	rate     float64 // ops per second
	cpuPerOp float64 // CPU microseconds per request (per MB for TCP), -1 if none
	errors   int64
}

type target struct {
	name    string
	pid     int        // 0 for direct
	httpURL string     // where the HTTP tests connect
	tcpAddr string     // where the TCP test connects
	proc    *proxyProc // nil for direct
}

// alive returns an error with the proxy's last output when it has exited.
func (t target) alive() error {
	if t.proc == nil {
		return nil
	}
	select {
	case <-t.proc.done:
	default:
		return nil
	}
	t.proc.mu.Lock()
	defer t.proc.mu.Unlock()
	out := t.proc.out.Bytes()
	if len(out) > 4096 {
		out = out[len(out)-4096:]
	}
	return fmt.Errorf("%s exited (%v); its last output:\n%s", t.name, t.proc.cmd.ProcessState, out)
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "hitless-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	if o.hitless == "" {
		o.hitless = filepath.Join(dir, "hitless")
		fmt.Println("building hitless ...")
		build := exec.Command("go", "build", "-o", o.hitless, "./cmd/hitless")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building hitless (run from the repository root): %w", err)
		}
	}
	wrk, _ := exec.LookPath(o.wrk)
	if wrk == "" {
		fmt.Println("wrk not installed: using the built-in Go load generator")
	}

	httpBE, err := startHTTPBackend()
	if err != nil {
		return err
	}
	defer httpBE.Close()
	tcpBE, err := startStreamBackend()
	if err != nil {
		return err
	}
	defer tcpBE.Close()

	targets := []target{{name: "direct", httpURL: "http://" + httpBE.Addr().String() + "/", tcpAddr: tcpBE.Addr().String()}}

	hl, err := startProxy(dir, "hitless", o.hitless, nil, httpBE.Addr().String(), tcpBE.Addr().String())
	if err != nil {
		return err
	}
	defer hl.stop()
	targets = append(targets, hl.target)

	if _, err := os.Stat(o.haproxy); err != nil {
		fmt.Println("haproxy not installed")
	} else {
		hp, err := startProxy(dir, "haproxy", o.haproxy, []string{"-db"}, httpBE.Addr().String(), tcpBE.Addr().String())
		if err != nil {
			return err
		}
		defer hp.stop()
		targets = append(targets, hp.target)
	}

	type test struct {
		name, unit, cpuUnit string
		do                  func(t target) (measurement, error)
	}
	tests := []test{
		{"http keep-alive", "req/s", "µs/req", func(t target) (measurement, error) {
			return httpLoad(wrk, t.httpURL, o.conns, o.duration, false)
		}},
		{"http close", "conn/s", "µs/conn", func(t target) (measurement, error) {
			return httpLoad(wrk, t.httpURL, o.conns, o.duration, true)
		}},
		{"tcp stream", "MB/s", "µs/MB", func(t target) (measurement, error) {
			m, err := tcpLoad(t.tcpAddr, o.tcpConns, o.duration)
			m.ops /= 1e6 // per MB
			return m, err
		}},
	}

	results := map[string]map[string]result{}
	for _, ts := range tests {
		results[ts.name] = map[string]result{}
		for _, tg := range targets {
			var ms []measurement
			for i := 0; i < o.runs; i++ {
				if err := tg.alive(); err != nil {
					return err
				}
				before, err := cpuSeconds(tg.pid)
				if err != nil {
					return err
				}
				m, err := ts.do(tg)
				if err == nil {
					err = tg.alive()
				}
				if err != nil {
					return fmt.Errorf("%s via %s: %w", ts.name, tg.name, err)
				}
				after, err := cpuSeconds(tg.pid)
				if err != nil {
					return err
				}
				m.cpu = -1
				if tg.pid != 0 {
					m.cpu = after - before
				}
				ms = append(ms, m)
				fmt.Printf("  %-16s %-8s run %d: %.0f %s\n", ts.name, tg.name, i+1, m.ops/m.seconds, ts.unit)
			}
			results[ts.name][tg.name] = median(ms)
		}
	}

	fmt.Printf("\n%d run(s) of %s each, medians; %d HTTP connections, %d TCP connections\n\n", o.runs, o.duration, o.conns, o.tcpConns)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "test\ttarget\trate\tunit\tproxy CPU\tunit\terrors\t")
	for _, ts := range tests {
		for _, tg := range targets {
			r := results[ts.name][tg.name]
			cpu := "-"
			if r.cpuPerOp >= 0 {
				cpu = fmt.Sprintf("%.1f", r.cpuPerOp)
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%d\t\n", ts.name, tg.name, r.rate, ts.unit, cpu, ts.cpuUnit, r.errors)
		}
	}
	tw.Flush()

	fmt.Println()
	if _, ok := results[tests[0].name]["haproxy"]; !ok {
		fmt.Println("hitless / haproxy: haproxy not installed")
		return nil
	}
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "test\thitless/haproxy rate\thitless/haproxy CPU per op\t")
	for _, ts := range tests {
		h, p := results[ts.name]["hitless"], results[ts.name]["haproxy"]
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", ts.name, ratio(h.rate, p.rate), ratio(h.cpuPerOp, p.cpuPerOp))
	}
	tw.Flush()
	return nil
}

func ratio(a, b float64) string {
	if b <= 0 || a < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// median picks, separately, the median rate and the median CPU per op.
func median(ms []measurement) result {
	rates := make([]float64, 0, len(ms))
	cpus := make([]float64, 0, len(ms))
	var errs []float64
	for _, m := range ms {
		rates = append(rates, m.ops/m.seconds)
		c := -1.0
		if m.cpu >= 0 && m.ops > 0 {
			c = m.cpu * 1e6 / m.ops
		}
		cpus = append(cpus, c)
		errs = append(errs, float64(m.errors))
	}
	mid := func(v []float64) float64 {
		sort.Float64s(v)
		return v[len(v)/2]
	}
	return result{rate: mid(rates), cpuPerOp: mid(cpus), errors: int64(mid(errs))}
}

// proxyProc is a running hitless or haproxy.
type proxyProc struct {
	target
	cmd  *exec.Cmd
	done chan struct{}
	out  *bytes.Buffer
	mu   *sync.Mutex
}

// config is the same text for both proxies: they speak the same language.
const config = `global
    maxconn 4000

defaults
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend http_in
    mode http
    bind 127.0.0.1:%d
    default_backend http_be

backend http_be
    mode http
    server s1 %s

listen tcp_in
    mode tcp
    bind 127.0.0.1:%d
    server s1 %s
`

func startProxy(dir, name, bin string, extra []string, httpBE, tcpBE string) (*proxyProc, error) {
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	tcpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, name+".cfg")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, config, httpPort, httpBE, tcpPort, tcpBE), 0o644); err != nil {
		return nil, err
	}
	p := &proxyProc{done: make(chan struct{}), out: &bytes.Buffer{}, mu: &sync.Mutex{}}
	p.cmd = exec.Command(bin, append([]string{"-f", cfg}, extra...)...)
	// A group of its own: a signal meant for bench's group does not reach it.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	w := lockedWriter{p.mu, p.out}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	p.target = target{
		name:    name,
		pid:     p.cmd.Process.Pid,
		httpURL: fmt.Sprintf("http://127.0.0.1:%d/", httpPort),
		tcpAddr: fmt.Sprintf("127.0.0.1:%d", tcpPort),
		proc:    p,
	}
	for _, a := range []string{fmt.Sprintf("127.0.0.1:%d", httpPort), p.tcpAddr} {
		if !waitAccept(a, 5*time.Second, p.done) {
			p.stop()
			p.mu.Lock()
			defer p.mu.Unlock()
			return nil, fmt.Errorf("%s did not listen on %s:\n%s", name, a, p.out.String())
		}
	}
	return p, nil
}

func (p *proxyProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitAccept(addr string, d time.Duration, dead <-chan struct{}) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-dead:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

var (
	wrkTotal  = regexp.MustCompile(`(\d+) requests in ([0-9.]+)(us|ms|s|m)`)
	wrkErrors = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// httpLoad runs wrk (or the built-in generator when wrk is empty) against url.
func httpLoad(wrk, url string, conns int, d time.Duration, closeEach bool) (measurement, error) {
	if wrk == "" {
		return goLoad(url, conns, d, closeEach)
	}
	threads := min(conns, 4)
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", max(1, int(d.Seconds())))}
	if closeEach {
		args = append(args, "-H", "Connection: close")
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, wrk, append(args, url)...).CombinedOutput()
	if err != nil {
		return measurement{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	return parseWrk(string(out))
}

func parseWrk(out string) (measurement, error) {
	m := wrkTotal.FindStringSubmatch(out)
	if m == nil {
		return measurement{}, fmt.Errorf("unexpected wrk output: %s", out)
	}
	n, _ := strconv.ParseFloat(m[1], 64)
	secs, _ := strconv.ParseFloat(m[2], 64)
	switch m[3] {
	case "us":
		secs /= 1e6
	case "ms":
		secs /= 1e3
	case "m":
		secs *= 60
	}
	if secs <= 0 {
		return measurement{}, fmt.Errorf("unexpected wrk duration: %s", out)
	}
	var errs int64
	if e := wrkErrors.FindStringSubmatch(out); e != nil {
		for _, s := range e[1:] {
			v, _ := strconv.ParseInt(s, 10, 64)
			errs += v
		}
	}
	if e := wrkNon2xx.FindStringSubmatch(out); e != nil {
		v, _ := strconv.ParseInt(e[1], 10, 64)
		errs += v
	}
	return measurement{ops: n, seconds: secs, errors: errs}, nil
}

// goLoad is the built-in load generator: conns workers, each sending GETs for d.
func goLoad(url string, conns int, d time.Duration, closeEach bool) (measurement, error) {
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
	req := "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
	if closeEach {
		req = "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
	}
	var done, errs atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c net.Conn
			var br *bufio.Reader
			for time.Now().Before(deadline) {
				if c == nil {
					var err error
					c, err = net.DialTimeout("tcp", addr, time.Second)
					if err != nil {
						errs.Add(1)
						time.Sleep(time.Millisecond)
						continue
					}
					c.SetDeadline(deadline.Add(5 * time.Second))
					br = bufio.NewReader(c)
				}
				if _, err := io.WriteString(c, req); err != nil {
					errs.Add(1)
					c.Close()
					c = nil
					continue
				}
				ok, closed := readResponse(br)
				if ok {
					done.Add(1)
				} else {
					errs.Add(1)
				}
				if closeEach || closed || !ok {
					c.Close()
					c = nil
				}
			}
			if c != nil {
				c.Close()
			}
		}()
	}
	wg.Wait()
	return measurement{ops: float64(done.Load()), seconds: time.Since(start).Seconds(), errors: errs.Load()}, nil
}

// readResponse reads one response with a Content-Length body; ok is false on a
// non-200 status or an I/O error, closed when the server announced a close.
func readResponse(br *bufio.Reader) (ok, closed bool) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return false, true
	}
	ok = bytes.HasPrefix(line, []byte("HTTP/1.1 200 "))
	length := 0
	for {
		h, err := br.ReadSlice('\n')
		if err != nil {
			return false, true
		}
		if len(h) <= 2 {
			break
		}
		name, val, _ := bytes.Cut(h, []byte(":"))
		val = bytes.TrimSpace(val)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, _ = strconv.Atoi(string(val))
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(val, []byte("close")):
			closed = true
		}
	}
	if _, err := br.Discard(length); err != nil {
		return false, true
	}
	return ok, closed
}

// tcpLoad reads from addr on conns connections for d and counts the bytes.
func tcpLoad(addr string, conns int, d time.Duration) (measurement, error) {
	var total atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
				return
			}
			defer c.Close()
			c.SetReadDeadline(deadline)
			buf := make([]byte, 256<<10)
			for {
				n, err := c.Read(buf)
				total.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return measurement{}, firstErr
	}
	return measurement{ops: float64(total.Load()), seconds: time.Since(start).Seconds()}, nil
}

// cpuSeconds is utime+stime of pid; 0 for pid 0.
func cpuSeconds(pid int) (float64, error) {
	if pid == 0 {
		return 0, nil
	}
	t, err := procstat.CPUSeconds(pid)
	if err != nil {
		return 0, fmt.Errorf("reading proxy CPU time: %w", err)
	}
	return t, nil
}
