// Command reload measures hitless reloads, side by side with HAProxy 2.6 when it is
// installed: a reload storm (new connections at a fixed rate, busy keep-alive
// connections, a reload every interval) with and without socket transfer (-x), and
// the time a reload takes on a large configuration. It prints figures; it never fails
// on a timing. All traffic stays on 127.0.0.1.
//
//	go run ./bench/reload                       # 60 s storms, 2000 conn/s, 50 keep-alive, reload every 200 ms
//	go run ./bench/reload -duration 10s -rate 500
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"hitless/internal/storm"
)

type options struct {
	duration  time.Duration
	rate      int
	keepAlive int
	every     time.Duration
	haproxy   string
	backends  int
	servers   int
	reloads   int
	skipStorm bool
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "length of each storm")
	flag.IntVar(&o.rate, "rate", 2000, "new connections per second")
	flag.IntVar(&o.keepAlive, "keepalive", 50, "busy keep-alive connections")
	flag.DurationVar(&o.every, "every", 200*time.Millisecond, "interval between reloads")
	flag.StringVar(&o.haproxy, "haproxy", "/usr/sbin/haproxy", "HAProxy binary (skipped when absent)")
	flag.IntVar(&o.backends, "backends", 1000, "backends in the reload-time configuration")
	flag.IntVar(&o.servers, "servers", 10, "servers per backend in the reload-time configuration")
	flag.IntVar(&o.reloads, "reloads", 7, "reloads timed on the large configuration")
	flag.BoolVar(&o.skipStorm, "skip-storm", false, "only time reloads")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "reload bench:", err)
		os.Exit(1)
	}
}

type target struct {
	name string
	bin  string
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "hitless-reload-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "hitless")
	fmt.Fprintln(os.Stderr, "building hitless ...")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/hitless").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	targets := []target{{"hitless", bin}}
	if _, err := os.Stat(o.haproxy); err == nil {
		targets = append(targets, target{"haproxy", o.haproxy})
	} else {
		fmt.Println("haproxy not installed: hitless only")
	}
	be, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer be.Close()
	go http.Serve(be, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))

	type row struct {
		target, mode string
		res          *storm.Result
	}
	var rows []row
	if !o.skipStorm {
		for _, t := range targets {
			for _, withX := range []bool{true, false} {
				mode := "-sf -x"
				if !withX {
					mode = "-sf only"
				}
				fmt.Fprintf(os.Stderr, "storm: %s %s for %v ...\n", t.name, mode, o.duration)
				res, err := stormOnce(o, dir, t, be.Addr().String(), withX)
				if err != nil {
					return fmt.Errorf("%s %s: %w", t.name, mode, err)
				}
				line, _ := json.Marshal(res)
				fmt.Printf("%s %s: %s\n", t.name, mode, line)
				rows = append(rows, row{t.name, mode, res})
			}
		}
	}
	type timing struct {
		target string
		med    time.Duration
		all    []time.Duration
	}
	var times []timing
	for _, t := range targets {
		fmt.Fprintf(os.Stderr, "reload time: %s with %d backends x %d servers ...\n", t.name, o.backends, o.servers)
		ds, err := reloadTimes(o, dir, t, be.Addr().String())
		if err != nil {
			return fmt.Errorf("%s reload time: %w", t.name, err)
		}
		s := slices.Clone(ds)
		slices.Sort(s)
		times = append(times, timing{t.name, s[len(s)/2], ds})
	}

	fmt.Printf("\nreload storm: %v, %d new conn/s, %d keep-alive connections, a reload every %v\n\n", o.duration, o.rate, o.keepAlive, o.every)
	fmt.Printf("%10s %9s %9s %9s %8s %8s %8s %8s %8s %8s %8s\n", "target", "mode", "requests", "reloads", "refused", "reset", "timeout", "status", "short", "closed", "other")
	for _, r := range rows {
		f := r.res.FailuresBy
		fmt.Printf("%10s %9s %9d %9d %8d %8d %8d %8d %8d %8d %8d\n", r.target, r.mode, r.res.Requests, r.res.Reloads,
			f[storm.Refused], f[storm.Reset], f[storm.Timeout], f[storm.BadStatus], f[storm.ShortBody], f[storm.Closed], f[storm.Other])
	}
	fmt.Printf("\nreload time (start of the new process to its listeners ready and the old one told to leave), %d backends x %d servers, median of %d\n\n", o.backends, o.servers, o.reloads)
	for _, t := range times {
		fmt.Printf("%10s %8.1f ms   (all: %v)\n", t.target, float64(t.med.Microseconds())/1000, roundAll(t.all))
	}
	return nil
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(100 * time.Microsecond)
	}
	return out
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

const stormConfig = `global
    stats socket %s mode 600 level admin expose-fd listeners
    maxconn 8000
    hard-stop-after 30s
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    timeout http-keep-alive 2s
frontend fe
    bind %s
    default_backend be
backend be
    server s1 %s
`

// session is one set of processes started by reloads; kill ends them all.
type session struct {
	dir, cfg, sock, pidfile, pids string
}

func newSession(dir, name string) *session {
	d := filepath.Join(dir, name)
	os.MkdirAll(d, 0o755)
	return &session{dir: d, cfg: filepath.Join(d, "h.cfg"), sock: filepath.Join(d, "h.sock"),
		pidfile: filepath.Join(d, "h.pid"), pids: filepath.Join(d, "pids")}
}

func (s *session) reloadCmd(bin string, withX bool) string {
	x := ""
	if withX {
		x = " -x " + s.sock
	}
	return fmt.Sprintf("%s -f %s -p %s -D -q -sf $(cat %s)%s; cat %s >> %s", bin, s.cfg, s.pidfile, s.pidfile, x, s.pidfile, s.pids)
}

func (s *session) start(bin string) error {
	out, err := exec.Command(bin, "-f", s.cfg, "-p", s.pidfile, "-D", "-q").CombinedOutput()
	if err != nil {
		return fmt.Errorf("start: %v %s", err, out)
	}
	b, _ := os.ReadFile(s.pidfile)
	f, _ := os.OpenFile(s.pids, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	f.Write(b)
	f.Close()
	return nil
}

func (s *session) kill() {
	b, _ := os.ReadFile(s.pids)
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func waitAccept(addr string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func stormOnce(o options, dir string, t target, backend string, withX bool) (*storm.Result, error) {
	s := newSession(dir, fmt.Sprintf("%s-%v", t.name, withX))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort())
	if err := os.WriteFile(s.cfg, []byte(fmt.Sprintf(stormConfig, s.sock, addr, backend)), 0o644); err != nil {
		return nil, err
	}
	defer s.kill()
	if err := s.start(t.bin); err != nil {
		return nil, err
	}
	if !waitAccept(addr, 5*time.Second) {
		return nil, fmt.Errorf("%s did not listen on %s", t.name, addr)
	}
	res := storm.Run(context.Background(), storm.Options{
		Target: addr, Rate: o.rate, KeepAlive: o.keepAlive, Duration: o.duration,
		Timeout: 5 * time.Second, Reload: s.reloadCmd(t.bin, withX), Every: o.every, BodyLen: 2,
	})
	return res, nil
}

// reloadTimes times reloads of a configuration with many backends and servers: from
// starting the new process to the moment its daemon parent returns, which is when its
// listeners are ready and the old process has been told to leave.
func reloadTimes(o options, dir string, t target, backend string) ([]time.Duration, error) {
	s := newSession(dir, t.name+"-big")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort())
	var b strings.Builder
	fmt.Fprintf(&b, stormConfig, s.sock, addr, backend)
	for i := 0; i < o.backends; i++ {
		fmt.Fprintf(&b, "backend b%d\n", i)
		for j := 0; j < o.servers; j++ {
			fmt.Fprintf(&b, "    server s%d %s\n", j, backend)
		}
	}
	if err := os.WriteFile(s.cfg, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	defer s.kill()
	if err := s.start(t.bin); err != nil {
		return nil, err
	}
	if !waitAccept(addr, 10*time.Second) {
		return nil, fmt.Errorf("%s did not listen", t.name)
	}
	var out []time.Duration
	for i := 0; i < o.reloads; i++ {
		start := time.Now()
		cmd := exec.Command("/bin/sh", "-c", s.reloadCmd(t.bin, true))
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("reload: %v %s", err, b)
		}
		out = append(out, time.Since(start))
		if !waitAccept(addr, 5*time.Second) {
			return nil, fmt.Errorf("not listening after reload %d", i)
		}
		time.Sleep(300 * time.Millisecond)
	}
	return out, nil
}
