package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"hitless/internal/stick"
)

const trackConfig = `
global
    stats socket %s level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind %s
    http-request track-sc0 src table st
    http-request return status 200 content-type text/plain string ok
backend st
    stick-table type ip size 1k expire 60s store http_req_cnt,http_req_rate(1s),gpc0_rate(3s)
`

// TestFreqCountersMatchHAProxy drives HAProxy 2.6 with a sequence of requests
// tracked in http_req_rate(1s), reads the rate it computes between the bursts, and
// replays the same sequence (at the times this test saw) into a hitless table: the
// rates must be equal, to the unit, wherever the value is stable within ±20 ms of
// the read (the two clocks differ by a few milliseconds).
func TestFreqCountersMatchHAProxy(t *testing.T) {
	hx := haproxy(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "h.sock")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := filepath.Join(dir, "h.cfg")
	os.WriteFile(cfg, []byte(fmt.Sprintf(trackConfig, sock, addr)), 0o644)
	cmd := exec.Command(hx, "-db", "-f", cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !waitAccept(addr, 5*time.Second, nil) {
		t.Fatal("haproxy did not start")
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 4096)
	start := time.Now()
	var events []int64 // ms since start
	request := func() {
		c.SetDeadline(time.Now().Add(3 * time.Second))
		sent := time.Since(start)
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
		events = append(events, ((sent + time.Since(start)) / 2).Milliseconds())
	}
	rateRe := regexp.MustCompile(`http_req_rate\(1000\)=([0-9]+)`)
	type read struct {
		at   int64
		upto int // requests answered before it
		rate int
	}
	var reads []read
	readRate := func() {
		before := time.Since(start)
		out := socketCommand(t, sock, "show table st")
		after := time.Since(start)
		m := rateRe.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("show table:\n%s", out)
		}
		n, _ := strconv.Atoi(m[1])
		reads = append(reads, read{at: ((before + after) / 2).Milliseconds(), upto: len(events), rate: n})
	}
	// Bursts and pauses that cross period boundaries: within a period, one period
	// later (the past period fading), and after two missed periods.
	for _, step := range []struct {
		burst int
		pause time.Duration
	}{{7, 300 * time.Millisecond}, {3, 450 * time.Millisecond}, {5, 700 * time.Millisecond}, {0, 350 * time.Millisecond},
		{2, 900 * time.Millisecond}, {0, 2200 * time.Millisecond}, {4, 100 * time.Millisecond}, {1, 600 * time.Millisecond}} {
		for i := 0; i < step.burst; i++ {
			request()
		}
		readRate()
		time.Sleep(step.pause)
		readRate()
	}
	// The same sequence into a hitless table, on a clock set to each moment.
	var now int64
	base := int64(1_700_000_000_000)
	tb := stick.New(stick.Spec{Name: "st", Type: stick.KeyIP, Size: 10, Expire: 60000,
		Columns: []stick.Column{{Type: stick.HTTPReqCnt, N: 1}, {Type: stick.HTTPReqRate, N: 1, Period: 1000}}}, func() int64 { return base + now })
	k, _ := tb.KeyIP(nil, netip.MustParseAddr("127.0.0.1"))
	rateAt := func(at int64, upto int) uint64 {
		t2 := stick.New(*tb.Spec(), func() int64 { return base + now })
		for _, ev := range events[:upto] {
			now = ev
			e, _ := t2.Track(k)
			t2.Add(e, stick.HTTPReqRate, 0, 1)
			t2.Release(e)
		}
		now = at
		e := t2.Lookup(k)
		if e == nil {
			return 0
		}
		v, _ := t2.Get(e, stick.HTTPReqRate, 0)
		return v
	}
	compared := 0
	for _, r := range reads {
		upto := r.upto
		lo, mid, hi := rateAt(r.at-20, upto), rateAt(r.at, upto), rateAt(r.at+20, upto)
		if lo != mid || mid != hi {
			continue // too close to a step of the rate to compare across two clocks
		}
		compared++
		if int(mid) != r.rate {
			t.Errorf("at %d ms (%d requests before): HAProxy reads %d, hitless %d", r.at, upto, r.rate, mid)
		}
	}
	if compared < len(reads)/2 {
		t.Fatalf("only %d of %d reads were stable enough to compare: %v %v", compared, len(reads), events, reads)
	}
	t.Logf("%d of %d reads compared; events %v", compared, len(reads), events)
}
