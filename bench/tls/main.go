// Command tls measures TLS termination, hitless next to HAProxy 2.6 in one run, on the
// same certificates (generated at start: ECDSA P-256 and RSA-2048) and the same
// configuration text: full handshakes per second and the proxy's CPU time per full
// handshake (`openssl s_time -new`, one client), resumed handshakes likewise
// (`openssl s_time -reuse`, TLS 1.2 session tickets), and HTTPS keep-alive requests
// with the proxy's CPU time per request (wrk over TLS, answered by `http-request
// return`). CPU time is utime+stime from /proc/PID/stat. Then, with -certs N, the time
// from start to serving a crt-list of N certificates, and the RSS then. It prints
// figures and never fails on a timing. All traffic stays on 127.0.0.1.
//
//	go run ./bench/tls                      # 3 runs × 5 s per cell, 10,000 certificates
//	go run ./bench/tls -runs 5 -d 10s -certs 0
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"hitless/bench/internal/procstat"
	"hitless/internal/storm"
)

type options struct {
	runs    int
	d       time.Duration
	conns   int
	haproxy string
	hitless string
	certs   int
	storm   time.Duration
}

func main() {
	var o options
	flag.IntVar(&o.runs, "runs", 3, "runs per cell (the median is shown)")
	flag.DurationVar(&o.d, "d", 5*time.Second, "length of one run")
	flag.IntVar(&o.conns, "c", 50, "wrk connections for the keep-alive test")
	flag.StringVar(&o.haproxy, "haproxy", "/usr/sbin/haproxy", "HAProxy binary (skipped when absent)")
	flag.StringVar(&o.hitless, "hitless", "", "hitless binary (default: go build ./cmd/hitless)")
	flag.IntVar(&o.certs, "certs", 10000, "certificates in the crt-list of the load test (0: skip it)")
	flag.DurationVar(&o.storm, "storm", 10*time.Second, "length of the TLS reload storm (0: skip it)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "tls bench:", err)
		os.Exit(1)
	}
}

// config is the same text for both proxies. nbthread 2 is HAProxy's default here
// (2 cores) and GOMAXPROCS for hitless.
const config = `global
    maxconn 4000
    nbthread 2
    tune.ssl.default-dh-param 2048
defaults
    mode http
    timeout client 30s
    timeout http-keep-alive 30s
frontend tls_in
    bind 127.0.0.1:%d ssl crt %s/ec.pem
    bind 127.0.0.1:%d ssl crt %s/rsa.pem
    http-request return status 200 content-type text/plain string ok
`

type proxy struct {
	name   string
	pid    int
	ec, rs string // host:port of the ECDSA and RSA binds
	cmd    *exec.Cmd
	done   chan struct{}
	out    *bytes.Buffer
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "hitless-tls-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := writeCerts(dir); err != nil {
		return err
	}
	if o.hitless == "" {
		o.hitless = filepath.Join(dir, "hitless")
		if out, err := exec.Command("go", "build", "-o", o.hitless, "./cmd/hitless").CombinedOutput(); err != nil {
			return fmt.Errorf("building hitless: %v\n%s", err, out)
		}
	}
	for _, p := range []string{"openssl", "wrk"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%s is needed", p)
		}
	}
	var procs []*proxy
	h, err := start(dir, "hitless", o.hitless)
	if err != nil {
		return err
	}
	defer h.stop()
	procs = append(procs, h)
	if _, err := os.Stat(o.haproxy); err == nil {
		hp, err := start(dir, "haproxy", o.haproxy, "-db")
		if err != nil {
			return err
		}
		defer hp.stop()
		procs = append(procs, hp)
	} else {
		fmt.Println("haproxy not installed: hitless only")
	}
	type cell struct{ test, unit string }
	cells := []cell{
		{"full handshake ECDSA P-256", "handshakes/s"},
		{"full handshake RSA-2048", "handshakes/s"},
		{"resumed handshake ECDSA P-256 (TLS 1.2 ticket)", "handshakes/s"},
		{"HTTPS keep-alive ECDSA P-256", "requests/s"},
	}
	results := map[string]map[string]result{}
	for _, c := range cells {
		results[c.test] = map[string]result{}
		for _, p := range procs {
			var ms []measurement
			for i := 0; i < o.runs; i++ {
				m, err := measure(p, c.test, o)
				if err != nil {
					return fmt.Errorf("%s / %s: %w", c.test, p.name, err)
				}
				ms = append(ms, m)
			}
			results[c.test][p.name] = median(ms)
		}
	}
	fmt.Printf("%-48s %-8s %12s %-13s %10s %-8s %s\n", "test", "target", "rate", "unit", "proxy CPU", "unit", "note")
	for _, c := range cells {
		for _, p := range procs {
			r := results[c.test][p.name]
			unit := "µs/hs"
			if strings.HasPrefix(c.test, "HTTPS") {
				unit = "µs/req"
			}
			fmt.Printf("%-48s %-8s %12.0f %-13s %10.1f %-8s %s\n", c.test, p.name, r.rate, c.unit, r.cpu, unit, r.note)
		}
	}
	if len(procs) == 2 {
		fmt.Printf("\n%-48s %12s %16s\n", "hitless / haproxy", "rate ratio", "CPU/op ratio")
		for _, c := range cells {
			a, b := results[c.test]["hitless"], results[c.test]["haproxy"]
			fmt.Printf("%-48s %12.2f %16.2f\n", c.test, a.rate/b.rate, a.cpu/b.cpu)
		}
	}
	for _, p := range procs {
		p.stop()
	}
	if r, err := goFloor(dir, o); err == nil {
		fmt.Printf("\n%-48s %-8s %12.0f %-13s %10.1f %-8s\n", "full handshake ECDSA P-256, bare crypto/tls", "go-tls", r.rate, "handshakes/s", r.cpu, "µs/hs")
	} else {
		fmt.Println("bare crypto/tls server:", err)
	}
	if o.storm > 0 {
		fmt.Printf("\nTLS reload storm, %v: 200 new TLS connections/s (each offering the last session), 10 busy TLS keep-alive connections, -sf -x every 200 ms\n", o.storm)
		fmt.Printf("%-8s %10s %8s %10s %10s %14s %s\n", "target", "requests", "reloads", "failures", "offered", "not resumed", "failure classes")
		for _, p := range procs {
			r, err := stormTLS(dir, p.name, p.cmd.Path, o.storm)
			if err != nil {
				return err
			}
			fmt.Printf("%-8s %10d %8d %10d %10d %14d %v\n", p.name, r.Requests, r.Reloads, r.Failures(), r.Offered, r.ResumeFailures, r.FailuresBy)
		}
	}
	if o.certs > 0 {
		return loadTest(dir, o, procs)
	}
	return nil
}

// goFloor measures a bare Go crypto/tls server in this process on the ECDSA
// certificate: the floor of what hitless can spend per full handshake.
func goFloor(dir string, o options) (result, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "ec.pem"), filepath.Join(dir, "ec.pem"))
	if err != nil {
		return result{}, err
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		return result{}, err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Read(make([]byte, 1))
			}()
		}
	}()
	self := &proxy{name: "go-tls", pid: os.Getpid(), ec: ln.Addr().String()}
	var ms []measurement
	for i := 0; i < o.runs; i++ {
		m, err := measure(self, "full handshake ECDSA P-256", o)
		if err != nil {
			return result{}, err
		}
		ms = append(ms, m)
	}
	return median(ms), nil
}

const stormConfig = `global
    stats socket %s mode 600 level admin expose-fd listeners
defaults
    mode http
    timeout client 10s
    timeout http-keep-alive 2s
frontend fe
    bind %s ssl crt %s/ec.pem
    http-request return status 200 content-type text/plain string ok
`

// stormTLS runs the reload storm over TLS against one proxy, reloaded as operators do
// (-D -sf $(cat pidfile) -x socket), and ends every process it started.
func stormTLS(dir, name, bin string, d time.Duration) (*storm.Result, error) {
	sd := filepath.Join(dir, name+"-storm")
	if err := os.MkdirAll(sd, 0o700); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg, sock, pid, pids := filepath.Join(sd, "h.cfg"), filepath.Join(sd, "h.sock"), filepath.Join(sd, "h.pid"), filepath.Join(sd, "pids")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, stormConfig, sock, addr, dir), 0o644); err != nil {
		return nil, err
	}
	defer func() {
		b, _ := os.ReadFile(pids)
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil && p > 1 {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
	}()
	startCmd := fmt.Sprintf("%s -f %s -p %s -D -q && cat %s >> %s", bin, cfg, pid, pid, pids)
	if out, err := exec.Command("/bin/sh", "-c", startCmd).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("starting %s: %v %s", name, err, out)
	}
	time.Sleep(300 * time.Millisecond)
	reload := fmt.Sprintf("%s -f %s -p %s -D -q -sf $(cat %s) -x %s; cat %s >> %s", bin, cfg, pid, pid, sock, pid, pids)
	return storm.Run(context.Background(), storm.Options{Target: addr, Rate: 200, KeepAlive: 10, Duration: d,
		Timeout: 5 * time.Second, Reload: reload, Every: 200 * time.Millisecond, BodyLen: -1,
		TLS: &tls.Config{ServerName: "bench.test", InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(16)}}), nil
}

// loadTest starts each proxy on a crt-list of o.certs certificates and times how long
// until the middle one is served.
func loadTest(dir string, o options, procs []*proxy) error {
	many := filepath.Join(dir, "many")
	list, err := writeMany(many, o.certs)
	if err != nil {
		return err
	}
	fmt.Printf("\n%-48s %-8s %12s %12s\n", fmt.Sprintf("start to serving a crt-list of %d", o.certs), "target", "seconds", "RSS MB")
	mid := fmt.Sprintf("site%05d.example.test", o.certs/2)
	for _, p := range procs {
		port, err := freePort()
		if err != nil {
			return err
		}
		cfg := filepath.Join(dir, p.name+"-many.cfg")
		text := fmt.Sprintf("defaults\n    mode http\n    timeout client 30s\nfrontend fe\n    bind 127.0.0.1:%d ssl crt-list %s\n    http-request return status 200 content-type text/plain string ok\n", port, list)
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			return err
		}
		args := []string{"-f", cfg}
		if p.name == "haproxy" {
			args = append(args, "-db")
		}
		cmd := exec.Command(p.cmd.Path, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		served := false
		for time.Since(start) < 5*time.Minute {
			c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: mid, InsecureSkipVerify: true})
			if err == nil {
				served = c.ConnectionState().PeerCertificates[0].Subject.CommonName == mid
				c.Close()
				if served {
					break
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		took := time.Since(start)
		rss := float64(procstat.RSSKB(cmd.Process.Pid)) / 1024
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if !served {
			fmt.Printf("%-48s %-8s %12s\n", "", p.name, "not served")
			continue
		}
		fmt.Printf("%-48s %-8s %12.2f %12.1f\n", "", p.name, took.Seconds(), rss)
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// writeMany writes n ECDSA certificates, each for site<i>.example.test, and a
// crt-list that names each with its SNI filter; it returns the list's path.
func writeMany(dir string, n int) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	var list strings.Builder
	for i := 0; i < n; i++ {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", err
		}
		name := fmt.Sprintf("site%05d.example.test", i)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, k.Public(), caKey)
		if err != nil {
			return "", err
		}
		kd, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return "", err
		}
		p := filepath.Join(dir, name+".pem")
		b := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})...)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return "", err
		}
		fmt.Fprintf(&list, "%s %s\n", p, name)
	}
	lp := filepath.Join(dir, "list.txt")
	return lp, os.WriteFile(lp, []byte(list.String()), 0o600)
}

type measurement struct {
	ops  float64 // operations done
	secs float64 // wall time
	cpu  float64 // proxy CPU seconds
	note string
}

type result struct {
	rate, cpu float64 // ops/s, µs per op
	note      string
}

func median(ms []measurement) result {
	var rates, cpus []float64
	for _, m := range ms {
		if m.ops == 0 {
			continue
		}
		rates = append(rates, m.ops/m.secs)
		cpus = append(cpus, m.cpu/m.ops*1e6)
	}
	if len(rates) == 0 {
		return result{note: "no operation completed"}
	}
	sort.Float64s(rates)
	sort.Float64s(cpus)
	return result{rate: rates[len(rates)/2], cpu: cpus[len(cpus)/2], note: ms[len(ms)-1].note}
}

var (
	sTimeCount = regexp.MustCompile(`(\d+) connections in ([0-9.]+)s`)
	wrkTotal   = regexp.MustCompile(`(\d+) requests in ([0-9.]+)(us|ms|s|m)`)
	wrkErrors  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func measure(p *proxy, test string, o options) (measurement, error) {
	secs := strconv.Itoa(int(o.d.Seconds()))
	var cmd *exec.Cmd
	switch {
	case strings.HasPrefix(test, "full handshake ECDSA"):
		cmd = exec.Command("openssl", "s_time", "-connect", p.ec, "-new", "-time", secs)
	case strings.HasPrefix(test, "full handshake RSA"):
		cmd = exec.Command("openssl", "s_time", "-connect", p.rs, "-new", "-time", secs)
	case strings.HasPrefix(test, "resumed"):
		cmd = exec.Command("openssl", "s_time", "-connect", p.ec, "-reuse", "-tls1_2", "-time", secs)
	default:
		cmd = exec.Command("wrk", "-t2", fmt.Sprintf("-c%d", o.conns), "-d"+secs+"s", "https://"+p.ec+"/")
	}
	before, err := procstat.CPUSeconds(p.pid)
	if err != nil {
		return measurement{}, err
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start).Seconds()
	after, err2 := procstat.CPUSeconds(p.pid)
	if err != nil || err2 != nil {
		return measurement{}, fmt.Errorf("%v %v: %s", err, err2, out)
	}
	m := measurement{cpu: after - before, secs: wall}
	if strings.HasPrefix(test, "HTTPS") {
		mm := wrkTotal.FindStringSubmatch(string(out))
		if mm == nil {
			return m, fmt.Errorf("unexpected wrk output:\n%s", out)
		}
		m.ops, _ = strconv.ParseFloat(mm[1], 64)
		if e := wrkErrors.FindStringSubmatch(string(out)); e != nil {
			m.note = "wrk socket errors: " + strings.Join(e[1:], "/")
		}
		return m, nil
	}
	// s_time prints one summary per phase; the last is the timed one. With -reuse it
	// prints 'r' for every resumed connection of the reuse phase.
	all := sTimeCount.FindAllStringSubmatch(string(out), -1)
	if len(all) == 0 {
		return m, fmt.Errorf("unexpected s_time output:\n%s", out)
	}
	last := all[len(all)-1]
	m.ops, _ = strconv.ParseFloat(last[1], 64)
	if strings.HasPrefix(test, "resumed") {
		reused := 0
		for _, l := range strings.Split(string(out), "\n") {
			if l != "" && strings.Trim(l, "r*") == "" {
				reused += strings.Count(l, "r")
			}
		}
		m.note = fmt.Sprintf("%d of %d resumed", reused, int(m.ops))
	}
	return m, nil
}

func start(dir, name, bin string, extra ...string) (*proxy, error) {
	var ports [2]int
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	cfg := filepath.Join(dir, name+".cfg")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, config, ports[0], dir, ports[1], dir), 0o644); err != nil {
		return nil, err
	}
	p := &proxy{name: name, done: make(chan struct{}), out: &bytes.Buffer{},
		ec: fmt.Sprintf("127.0.0.1:%d", ports[0]), rs: fmt.Sprintf("127.0.0.1:%d", ports[1])}
	p.cmd = exec.Command(bin, append([]string{"-f", cfg}, extra...)...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	p.pid = p.cmd.Process.Pid
	go func() { p.cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(5 * time.Second)
	for _, a := range []string{p.ec, p.rs} {
		for {
			if c, err := net.DialTimeout("tcp", a, 200*time.Millisecond); err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				p.stop()
				return nil, fmt.Errorf("%s did not listen on %s", name, a)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return p, nil
}

func (p *proxy) stop() {
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

// writeCerts makes a CA and two server certificates (ECDSA P-256, RSA-2048) for
// 127.0.0.1, written as HAProxy crt files (certificate then key).
func writeCerts(dir string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	for i, k := range []crypto.Signer{ec, rs} {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: "bench.test"},
			DNSNames: []string{"bench.test"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, k.Public(), caKey)
		if err != nil {
			return err
		}
		kd, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return err
		}
		pemData := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})...)
		name := []string{"ec.pem", "rsa.pem"}[i]
		if err := os.WriteFile(filepath.Join(dir, name), pemData, 0o600); err != nil {
			return err
		}
	}
	return nil
}
