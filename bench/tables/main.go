// Command tables measures stick tables with many entries: how long a `-sf -x`
// reload takes to hand 1,000,000 entries to the new process (against the same
// reload with empty tables), and the memory one entry takes in hitless and in
// HAProxy 2.6 for the same table (VmRSS before and after filling it). It prints
// figures and never fails on them. Everything stays on 127.0.0.1.
//
//	go run ./bench/tables                  # 1,000,000 entries
//	go run ./bench/tables -entries 100000
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"hitless/bench/internal/procstat"
)

const config = `global
    stats socket %s level admin expose-fd listeners
defaults
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:%d
    mode http
    http-request return status 200 content-type text/plain string ok
backend st
    stick-table type ip size 2m expire 10m store gpc0,conn_cur,http_req_rate(10s)
`

func main() {
	entries := flag.Int("entries", 1_000_000, "entries to put in the table")
	hx := flag.String("haproxy", "/usr/sbin/haproxy", "HAProxy binary (skipped when absent)")
	bin := flag.String("hitless", "", "hitless binary (default: go build ./cmd/hitless)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "bench-tables")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	if *bin == "" {
		*bin = filepath.Join(dir, "hitless")
		if out, err := exec.Command("go", "build", "-o", *bin, "./cmd/hitless").CombinedOutput(); err != nil {
			fail(fmt.Errorf("build: %v\n%s", err, out))
		}
	}
	fmt.Printf("stick table: type ip, store gpc0,conn_cur,http_req_rate(10s), %d entries\n\n", *entries)
	measure(dir, "hitless", *bin, *entries, true)
	if _, err := os.Stat(*hx); err == nil {
		measure(dir, "haproxy", *hx, *entries, false)
	} else {
		fmt.Println("haproxy: not installed")
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tables bench:", err)
	os.Exit(1)
}

// node is one running proxy.
type node struct {
	cmd  *exec.Cmd
	sock string
}

func start(bin, cfg, sock, pidfile string, extra ...string) (*node, error) {
	args := append([]string{"-f", cfg, "-p", pidfile}, extra...)
	if strings.Contains(bin, "haproxy") {
		args = append([]string{"-db"}, args...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &node{cmd: cmd, sock: sock}
	for i := 0; i < 500; i++ {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return n, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	return nil, fmt.Errorf("%s did not start", bin)
}

func (n *node) stop() {
	n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		n.cmd.Process.Kill()
		<-done
	}
}

func ask(sock, cmd string) string {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, cmd+"\n")
	b, _ := io.ReadAll(c)
	return string(b)
}

// fill sets n entries, a thousand commands per line in prompt mode.
func fill(sock string, n int) error {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return err
	}
	defer c.Close()
	bw := bufio.NewWriterSize(c, 1<<20)
	br := bufio.NewReaderSize(c, 1<<20)
	io.WriteString(c, "prompt\n")
	br.ReadString('>')
	for i := 0; i < n; {
		var line strings.Builder
		for j := 0; j < 1000 && i < n; j, i = j+1, i+1 {
			if j > 0 {
				line.WriteByte(';')
			}
			fmt.Fprintf(&line, "set table st key 10.%d.%d.%d data.gpc0 %d data.http_req_rate 3", i>>16&255, i>>8&255, i&255, i%100)
		}
		bw.WriteString(line.String() + "\n")
		bw.Flush()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		// One prompt per command of the line.
		for k := 0; k < 1000; k++ {
			if _, err := br.ReadString('>'); err != nil {
				return err
			}
			if i == n && k+1 == (n-1)%1000+1 {
				break
			}
		}
	}
	return nil
}

func used(sock string) int {
	out := ask(sock, "show table")
	if i := strings.Index(out, "used:"); i >= 0 {
		n, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(out[i+5:], "\n", 2)[0]))
		return n
	}
	return -1
}

func measure(dir, name, bin string, entries int, reload bool) error {
	sock := filepath.Join(dir, name+".sock")
	cfg := filepath.Join(dir, name+".cfg")
	pidfile := filepath.Join(dir, name+".pid")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	os.WriteFile(cfg, []byte(fmt.Sprintf(config, sock, port)), 0o644)
	n, err := start(bin, cfg, sock, pidfile)
	if err != nil {
		fmt.Println(name+":", err)
		return err
	}
	time.Sleep(200 * time.Millisecond)
	before := procstat.RSSKB(n.cmd.Process.Pid) * 1024
	t0 := time.Now()
	if err := fill(sock, entries); err != nil {
		fmt.Println(name+": fill:", err)
	}
	fillTime := time.Since(t0)
	got := used(sock)
	after := procstat.RSSKB(n.cmd.Process.Pid) * 1024
	fmt.Printf("%s: %d entries set in %s; VmRSS %d MB -> %d MB: %.0f bytes per entry\n",
		name, got, fillTime.Round(time.Millisecond), before>>20, after>>20, float64(after-before)/float64(max(got, 1)))
	if !reload {
		n.stop()
		return nil
	}
	// The reload: a new process with -sf -x, timed until it wrote the pidfile
	// (the tables are loaded before that).
	start := time.Now()
	cmd := exec.Command(bin, "-f", cfg, "-p", pidfile, "-sf", strconv.Itoa(n.cmd.Process.Pid), "-x", sock)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	newPid := cmd.Process.Pid
	for time.Since(start) < 30*time.Second {
		b, _ := os.ReadFile(pidfile)
		if strings.TrimSpace(string(b)) == strconv.Itoa(newPid) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	ready := time.Since(start)
	n.cmd.Wait()
	got2 := used(sock)
	fmt.Printf("%s: -sf -x reload with %d entries: new process ready (pidfile written, tables loaded) after %s; it holds %d entries\n",
		name, got, ready.Round(time.Millisecond), got2)
	nn := &node{cmd: cmd, sock: sock}
	ask(sock, "clear table st")
	start = time.Now()
	cmd2 := exec.Command(bin, "-f", cfg, "-p", pidfile, "-sf", strconv.Itoa(newPid), "-x", sock)
	cmd2.Stdout, cmd2.Stderr = os.Stderr, os.Stderr
	cmd2.Start()
	for time.Since(start) < 30*time.Second {
		b, _ := os.ReadFile(pidfile)
		if strings.TrimSpace(string(b)) == strconv.Itoa(cmd2.Process.Pid) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	fmt.Printf("%s: the same reload with an empty table: ready after %s\n", name, time.Since(start).Round(time.Millisecond))
	nn.cmd.Wait()
	(&node{cmd: cmd2}).stop()
	return nil
}
