// Command mworker measures master-worker mode (-W), side by side with HAProxy 2.6 -W
// when it is installed: a reload storm driven by SIGUSR2 to the master, the same with
// the binary file swapped between two builds before every reload (hitless only), and
// SIGKILL of the current worker once a second. It prints figures; it never fails on a
// timing. All traffic stays on 127.0.0.1.
//
//	go run ./bench/mworker                        # 60 s storms, 2000 conn/s, 50 keep-alive, reload every 200 ms; 30 s of kills
//	go run ./bench/mworker -duration 10s -kills 10s
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"hitless/internal/storm"
)

type options struct {
	duration, kills, every time.Duration
	rate, keepAlive        int
	haproxy                string
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "length of each reload storm")
	flag.DurationVar(&o.kills, "kills", 30*time.Second, "length of the worker-kill run (one SIGKILL per second)")
	flag.DurationVar(&o.every, "every", 200*time.Millisecond, "interval between reloads")
	flag.IntVar(&o.rate, "rate", 2000, "new connections per second")
	flag.IntVar(&o.keepAlive, "keepalive", 50, "busy keep-alive connections")
	flag.StringVar(&o.haproxy, "haproxy", "/usr/sbin/haproxy", "HAProxy binary (skipped when absent)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "mworker bench:", err)
		os.Exit(1)
	}
}

const config = `global
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

type row struct {
	target, scenario string
	res              *storm.Result
	note             string
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "hitless-mworker-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	builds := []string{filepath.Join(dir, "hitless-a"), filepath.Join(dir, "hitless-b")}
	for i, b := range builds {
		fmt.Fprintf(os.Stderr, "building %s ...\n", b)
		v := fmt.Sprintf("-X main.version=bench-%c", 'a'+i)
		if out, err := exec.Command("go", "build", "-ldflags", v, "-o", b, "./cmd/hitless").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	be, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer be.Close()
	go http.Serve(be, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	backend := be.Addr().String()

	targets := [][2]string{{"hitless", builds[0]}}
	if _, err := os.Stat(o.haproxy); err == nil {
		targets = append(targets, [2]string{"haproxy", o.haproxy})
	}
	var rows []row
	add := func(r row, err error) error {
		if err != nil {
			return err
		}
		line, _ := json.Marshal(r.res)
		fmt.Printf("%s %s: %s %s\n", r.target, r.scenario, line, r.note)
		rows = append(rows, r)
		return nil
	}
	for _, t := range targets {
		if err := add(reloadStorm(o, dir, t[0], t[1], backend, nil)); err != nil {
			return err
		}
	}
	if err := add(reloadStorm(o, dir, "hitless", builds[0], backend, builds)); err != nil {
		return err
	}
	for _, t := range targets {
		if err := add(killStorm(o, dir, t[0], t[1], backend)); err != nil {
			return err
		}
	}

	fmt.Printf("\nmaster-worker (-W): %d new conn/s, %d keep-alive connections; reloads by SIGUSR2 every %v for %v; kills: SIGKILL of the current worker every second for %v\n\n",
		o.rate, o.keepAlive, o.every, o.duration, o.kills)
	fmt.Printf("%8s %-16s %9s %8s %8s %8s %8s %8s %8s %8s %8s  %s\n", "target", "scenario", "requests", "events", "refused", "reset", "timeout", "status", "short", "closed", "other", "")
	for _, r := range rows {
		f := r.res.FailuresBy
		fmt.Printf("%8s %-16s %9d %8d %8d %8d %8d %8d %8d %8d %8d  %s\n", r.target, r.scenario, r.res.Requests, r.res.Reloads,
			f[storm.Refused], f[storm.Reset], f[storm.Timeout], f[storm.BadStatus], f[storm.ShortBody], f[storm.Closed], f[storm.Other], r.note)
	}
	return nil
}

// master is one `BIN -W` run in its own directory.
type master struct {
	dir, cfg, bin, addr string
	cmd                 *exec.Cmd
}

func startMaster(dir, name, bin, backend string) (*master, error) {
	m := &master{dir: filepath.Join(dir, name), bin: bin}
	os.MkdirAll(m.dir, 0o755)
	m.cfg = filepath.Join(m.dir, "h.cfg")
	m.addr = fmt.Sprintf("127.0.0.1:%d", freePort())
	if err := os.WriteFile(m.cfg, []byte(fmt.Sprintf(config, m.addr, backend)), 0o644); err != nil {
		return nil, err
	}
	m.cmd = exec.Command(bin, "-W", "-q", "-f", m.cfg)
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	go m.cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for len(children(m.cmd.Process.Pid)) == 0 || !accepts(m.addr) {
		if time.Now().After(deadline) {
			m.stop()
			return nil, fmt.Errorf("%s -W did not start", bin)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return m, nil
}

// stop ends the master and every worker it left.
func (m *master) stop() {
	kids := children(m.cmd.Process.Pid)
	m.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(500 * time.Millisecond)
	m.cmd.Process.Kill()
	for _, k := range kids {
		syscall.Kill(k, syscall.SIGKILL)
	}
}

// reloadStorm runs the storm with SIGUSR2 to the master every interval; with swap, the
// binary file is replaced by the other build before each reload.
func reloadStorm(o options, dir, name, bin, backend string, swap []string) (row, error) {
	scenario := "reload"
	if swap != nil {
		scenario = "reload+swap"
		b := filepath.Join(dir, "hitless-swapped")
		if err := copyFile(swap[0], b); err != nil {
			return row{}, err
		}
		bin = b
	}
	fmt.Fprintf(os.Stderr, "%s %s for %v ...\n", name, scenario, o.duration)
	m, err := startMaster(dir, name+"-"+scenario, bin, backend)
	if err != nil {
		return row{}, err
	}
	defer m.stop()
	reload := fmt.Sprintf("kill -USR2 %d", m.cmd.Process.Pid)
	if swap != nil {
		// Alternate the two builds: copy to a temporary name, rename over the binary.
		flag := filepath.Join(m.dir, "flip")
		reload = fmt.Sprintf("if [ -e %[1]s ]; then rm %[1]s; cp %[2]s %[4]s.tmp; else touch %[1]s; cp %[3]s %[4]s.tmp; fi; mv %[4]s.tmp %[4]s; %[5]s",
			flag, swap[0], swap[1], bin, reload)
	}
	res := storm.Run(context.Background(), storm.Options{
		Target: m.addr, Rate: o.rate, KeepAlive: o.keepAlive, Duration: o.duration,
		Timeout: 5 * time.Second, Reload: reload, Every: o.every, BodyLen: 2,
	})
	note := ""
	if !alive(m.cmd.Process.Pid) {
		note = "(master gone at the end)"
	}
	return row{name, scenario, res, note}, nil
}

// killStorm runs the storm while the newest worker is killed with SIGKILL every second.
func killStorm(o options, dir, name, bin, backend string) (row, error) {
	fmt.Fprintf(os.Stderr, "%s worker kills for %v ...\n", name, o.kills)
	m, err := startMaster(dir, name+"-kill", bin, backend)
	if err != nil {
		return row{}, err
	}
	defer m.stop()
	ctx, cancel := context.WithTimeout(context.Background(), o.kills)
	defer cancel()
	kills := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if k := children(m.cmd.Process.Pid); len(k) > 0 {
					syscall.Kill(k[len(k)-1], syscall.SIGKILL)
					kills++
				}
			}
		}
	}()
	res := storm.Run(context.Background(), storm.Options{
		Target: m.addr, Rate: o.rate, KeepAlive: o.keepAlive, Duration: o.kills, Timeout: 5 * time.Second, BodyLen: 2,
	})
	<-done
	res.Reloads = int64(kills)
	note := ""
	if !alive(m.cmd.Process.Pid) {
		note = "(master exited: no service after the first kill)"
	}
	return row{name, "kill worker/1s", res, note}, nil
}

// children lists the live child processes of pid, oldest first (by start time).
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	type kid struct {
		pid   int
		start uint64
	}
	var kids []kid
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) < 20 || f[0] == "Z" {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
			st, _ := strconv.ParseUint(f[19], 10, 64)
			kids = append(kids, kid{n, st})
		}
	}
	for i := 1; i < len(kids); i++ {
		for j := i; j > 0 && kids[j].start < kids[j-1].start; j-- {
			kids[j], kids[j-1] = kids[j-1], kids[j]
		}
	}
	out := make([]int, len(kids))
	for i, k := range kids {
		out[i] = k.pid
	}
	return out
}

func alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }

func accepts(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}
