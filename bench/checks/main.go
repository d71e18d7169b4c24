// Command checks measures the CPU cost of health checks: N servers (10,000 by
// default) checked every 2 s, run by hitless and by HAProxy 2.6 (when installed) with
// the same configuration against the same loopback targets, one proxy at a time. It
// prints, per proxy and check kind, the CPU seconds the proxy process used per second
// of wall time (utime+stime from /proc/PID/stat over the measuring window) and per
// check, the checks per second the targets saw, the fewest and most in one second
// (how evenly the checks are spread), and the resident memory. It never fails on a
// figure.
//
//	go run ./bench/checks                       # 10,000 servers, inter 2s, 20 s windows, tcp and http checks
//	go run ./bench/checks -servers 2000 -d 10s -kinds tcp
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"

	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"hitless/bench/internal/procstat"
)

type options struct {
	servers, targets int
	inter, window    time.Duration
	warm             time.Duration
	kinds            string
	haproxy, hitless string
	nbthread         int
}

func main() {
	var o options
	flag.IntVar(&o.servers, "servers", 10000, "servers, each with check")
	flag.IntVar(&o.targets, "targets", 20, "loopback ports the servers point to")
	flag.DurationVar(&o.inter, "inter", 2*time.Second, "check interval")
	flag.DurationVar(&o.window, "d", 20*time.Second, "measuring window")
	flag.DurationVar(&o.warm, "warm", 4*time.Second, "time after start before measuring")
	flag.StringVar(&o.kinds, "kinds", "tcp,http", "check kinds: tcp (connect), http (option httpchk)")
	flag.StringVar(&o.haproxy, "haproxy", "/usr/sbin/haproxy", "HAProxy binary (skipped when absent)")
	flag.StringVar(&o.hitless, "hitless", "", "hitless binary (default: go build ./cmd/hitless)")
	flag.IntVar(&o.nbthread, "nbthread", 0, "nbthread for both proxies (0: their defaults, all CPUs)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "checks bench:", err)
		os.Exit(1)
	}
}

// targets accept check connections: for http they answer 200 to a request, for tcp
// they close. Every accepted connection is counted, with the second it came in.
type targets struct {
	lns   []net.Listener
	count atomic.Int64
	mu    sync.Mutex
	per   map[int64]int // accepted connections per unix second
}

func startTargets(n int) (*targets, error) {
	t := &targets{per: map[int64]int{}}
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.close()
			return nil, err
		}
		t.lns = append(t.lns, ln)
		go t.serve(ln)
	}
	return t, nil
}

func (t *targets) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		t.count.Add(1)
		sec := time.Now().Unix()
		t.mu.Lock()
		t.per[sec]++
		t.mu.Unlock()
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 512)
			n, _ := c.Read(buf)
			if bytes.HasPrefix(buf[:n], []byte("OPTIONS ")) || bytes.HasPrefix(buf[:n], []byte("GET ")) {
				io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
			}
		}()
	}
}

func (t *targets) close() {
	for _, ln := range t.lns {
		ln.Close()
	}
}

// spreadOver returns the min and max accepted connections per second in [from, to).
func (t *targets) spreadOver(from, to int64) (lo, hi int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	lo = -1
	for s := from; s < to; s++ {
		n := t.per[s]
		if lo < 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	return lo, hi
}

func config(o options, kind string, tg *targets, bind string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global\n    maxconn 4000\n")
	if o.nbthread > 0 {
		fmt.Fprintf(&b, "    nbthread %d\n", o.nbthread)
	}
	fmt.Fprintf(&b, "defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n    timeout check 2s\n")
	fmt.Fprintf(&b, "listen front\n    bind %s\n    server s0 %s\n", bind, tg.lns[0].Addr())
	per := 100
	for i := 0; i < o.servers; i++ {
		if i%per == 0 {
			fmt.Fprintf(&b, "backend be%d\n", i/per)
			if kind == "http" {
				b.WriteString("    option httpchk GET /health\n")
			}
			fmt.Fprintf(&b, "    default-server check inter %dms\n", o.inter.Milliseconds())
		}
		fmt.Fprintf(&b, "    server s%d %s\n", i, tg.lns[i%len(tg.lns)].Addr())
	}
	return b.String()
}

type result struct {
	proxy, kind      string
	cpuPerSec        float64
	checksPerSec     float64
	lo, hi           int
	rssKB            int
	err              error
	expectedPerSec   float64
	windowSeconds    float64
	cpuSecondsWindow float64
	userShare        float64 // of the CPU time, the part in user space
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "checks-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.hitless == "" {
		o.hitless = filepath.Join(dir, "hitless")
		if out, err := exec.Command("go", "build", "-o", o.hitless, "./cmd/hitless").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	tg, err := startTargets(o.targets)
	if err != nil {
		return err
	}
	defer tg.close()
	var results []result
	for _, kind := range strings.Split(o.kinds, ",") {
		for _, px := range []string{"hitless", "haproxy"} {
			bin := o.hitless
			if px == "haproxy" {
				if _, err := os.Stat(o.haproxy); err != nil {
					fmt.Println("haproxy not installed: skipped")
					continue
				}
				bin = o.haproxy
			}
			results = append(results, measure(o, px, bin, kind, tg, dir))
		}
	}
	fmt.Printf("%d servers, inter %s, window %s after %s, %d target ports, nbthread %d (0: default), %d CPUs\n",
		o.servers, o.inter, o.window, o.warm, o.targets, o.nbthread, numCPU())
	fmt.Printf("%-8s %-5s %10s %6s %10s %10s %10s %14s %8s\n", "proxy", "kind", "cpu s/s", "user", "µs/check", "checks/s", "expected/s", "per-second", "rss MB")
	for _, r := range results {
		if r.err != nil {
			fmt.Printf("%-8s %-5s error: %v\n", r.proxy, r.kind, r.err)
			continue
		}
		// Connect-only checks never reach the targets' accept (the handshake is
		// reset before its last ACK): count them as the expected number.
		per := r.checksPerSec
		if per < r.expectedPerSec/10 {
			per = r.expectedPerSec
		}
		fmt.Printf("%-8s %-5s %10.3f %5.0f%% %10.1f %10.0f %10.0f %7d-%-6d %8.1f\n", r.proxy, r.kind, r.cpuPerSec, 100*r.userShare, 1e6*r.cpuPerSec/per, r.checksPerSec, r.expectedPerSec, r.lo, r.hi, float64(r.rssKB)/1024)
	}
	for _, kind := range strings.Split(o.kinds, ",") {
		var h, x *result
		for i := range results {
			if results[i].kind == kind && results[i].err == nil {
				if results[i].proxy == "hitless" {
					h = &results[i]
				} else {
					x = &results[i]
				}
			}
		}
		if h != nil && x != nil && x.cpuPerSec > 0 {
			fmt.Printf("%s checks: hitless uses %.2fx HAProxy's CPU per second (%.3f vs %.3f)\n", kind, h.cpuPerSec/x.cpuPerSec, h.cpuPerSec, x.cpuPerSec)
		}
	}
	return nil
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

func measure(o options, name, bin, kind string, tg *targets, dir string) result {
	r := result{proxy: name, kind: kind, expectedPerSec: float64(o.servers) / o.inter.Seconds()}
	bind := freeAddr()
	cfg := filepath.Join(dir, name+"-"+kind+".cfg")
	if err := os.WriteFile(cfg, []byte(config(o, kind, tg, bind)), 0o644); err != nil {
		r.err = err
		return r
	}
	args := []string{"-f", cfg}
	if name == "haproxy" {
		args = append(args, "-db")
	}
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		r.err = err
		return r
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", bind, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			r.err = fmt.Errorf("did not listen: %s", firstLines(out.String(), 5))
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(o.warm)
	u0, s0, err := procstat.CPU(cmd.Process.Pid)
	c0 := u0 + s0
	if err != nil {
		r.err = err
		return r
	}
	n0, t0 := tg.count.Load(), time.Now()
	time.Sleep(o.window)
	u1, s1, err := procstat.CPU(cmd.Process.Pid)
	c1 := u1 + s1
	if err != nil {
		r.err = err
		return r
	}
	r.userShare = (u1 - u0) / max(c1-c0, 1e-9)
	n1, t1 := tg.count.Load(), time.Now()
	r.windowSeconds = t1.Sub(t0).Seconds()
	r.cpuSecondsWindow = c1 - c0
	r.cpuPerSec = (c1 - c0) / r.windowSeconds
	r.checksPerSec = float64(n1-n0) / r.windowSeconds
	r.lo, r.hi = tg.spreadOver(t0.Unix()+1, t1.Unix())
	r.rssKB = int(procstat.RSSKB(cmd.Process.Pid))
	return r
}

func firstLines(s string, n int) string {
	l := strings.SplitN(s, "\n", n+1)
	return strings.Join(l[:min(n, len(l))], "\n")
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:18080"
	}
	defer ln.Close()
	return ln.Addr().String()
}
