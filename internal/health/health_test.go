package health

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"hitless/internal/checkrule"
)

// server answers each connection with the current reply, or accepts silently when
// reply is empty.
func server(t *testing.T, reply *atomic.Value) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 512)
				c.SetReadDeadline(time.Now().Add(time.Second))
				c.Read(buf)
				switch r, _ := reply.Load().(string); r {
				case "":
				case "hang":
					time.Sleep(time.Second)
				case "close":
				default:
					c.Write([]byte(r))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func closedAddr(t *testing.T) string {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	a := ln.Addr().String()
	ln.Close()
	return a
}

// fullAddr is a loopback port whose accept queue is full, so that a connect to it
// times out (Linux drops the SYN).
func fullAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("could not fill a loopback accept queue")
	return ""
}

// rules builds a backend's check as the config package does: kind "tcp-check" or
// "http-check" with its rule lines, or a protocol option's name and arguments.
func rules(t testing.TB, kind string, lines ...string) *checkrule.Ruleset {
	t.Helper()
	if o, ok := checkrule.Options[kind]; ok {
		rs, err := o.Build(strings.Fields(strings.Join(lines, " ")))
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	rs := &checkrule.Ruleset{Kind: kind}
	for _, l := range lines {
		r, err := checkrule.Parse(append([]string{kind}, splitArgs(l)...))
		if err != nil {
			t.Fatalf("%s %s: %v", kind, l, err)
		}
		rs.Rules = append(rs.Rules, r)
	}
	if err := rs.Finish(&checkrule.HTTPRequest{Method: "GET", URI: "/health", Version: "HTTP/1.0"}); err != nil {
		t.Fatal(err)
	}
	return rs
}

// splitArgs splits at spaces; a backslash keeps the next character (as the config
// lexer does for `\ `), and \r \n are CR and LF.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'r':
				cur.WriteByte('\r')
			case 'n':
				cur.WriteByte('\n')
			default:
				cur.WriteByte(s[i])
			}
		case c == ' ':
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// TestOnce runs checks against a server that answers each connection with a reply
// (after reading what the check sent), with the statuses and messages HAProxy 2.6
// gives for the same exchange (captured from it).
func TestOnce(t *testing.T) {
	var reply atomic.Value
	addr := server(t, &reply)
	httpchk := rules(t, "http-check")
	long := "HTTP/1.1 503 " + strings.Repeat("x", 2000) + "\r\n\r\n"
	tests := []struct {
		name   string
		reply  string
		addr   string
		rules  *checkrule.Ruleset
		status string
		ok     bool
		code   int
		desc   string // Describe without the duration
	}{
		{"tcp up", "", addr, nil, "L4OK", true, 0, "reason: Layer4 check passed"},
		{"tcp refused", "", closedAddr(t), nil, "L4CON", false, 0, `reason: Layer4 connection problem, info: "Connection refused"`},
		{"tcp timeout", "", fullAddr(t), nil, "L4TOUT", false, 0, "reason: Layer4 timeout"},
		{"http 200", "HTTP/1.0 200 OK\r\n\r\n", addr, httpchk, "L7OK", true, 200, "reason: Layer7 check passed, code: 200"},
		{"http 302", "HTTP/1.1 302 Found\r\nLocation: /\r\n\r\n", addr, httpchk, "L7OK", true, 302, "reason: Layer7 check passed, code: 302"},
		{"http 503", "HTTP/1.1 503 Service Unavailable\r\n\r\n", addr, httpchk, "L7STS", false, 503, `reason: Layer7 wrong status, code: 503, info: "Service Unavailable"`},
		{"http 404 no reason", "HTTP/1.1 404\r\n\r\n", addr, httpchk, "L7STS", false, 404, "reason: Layer7 wrong status, code: 404"},
		{"http 101", "HTTP/1.1 101 Switching Protocols\r\n\r\n", addr, httpchk, "L7STS", false, 101, `reason: Layer7 wrong status, code: 101, info: "Switching Protocols"`},
		{"http garbage", "hello there\r\n", addr, httpchk, "L7RSP", false, 0, "reason: Layer7 invalid response"},
		{"http closed", "close", addr, httpchk, "L7RSP", false, 0, "reason: Layer7 invalid response"},
		{"http no newline", "HTTP/1.0 200 OK", addr, httpchk, "L7OK", true, 200, "reason: Layer7 check passed, code: 200"},
		{"http long reason", long, addr, httpchk, "L7STS", false, 503, "reason: Layer7 wrong status, code: 503, info: \"" + strings.Repeat("x", 127) + "\""},
		{"http expect 204", "HTTP/1.1 200 OK\r\n\r\n", addr, rules(t, "http-check", "expect status 204"), "L7STS", false, 200, `reason: Layer7 wrong status, code: 200, info: "OK"`},
		{"http expect 503", "HTTP/1.1 503 Busy\r\n\r\n", addr, rules(t, "http-check", "expect status 503"), "L7OK", true, 503, "reason: Layer7 check passed, code: 503"},
		{"http expect string", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", addr, rules(t, "http-check", "expect string ell"), "L7OK", true, 200, "reason: Layer7 check passed, code: 200"},
		{"http expect string missing", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", addr, rules(t, "http-check", "expect string nothere"), "L7RSP", false, 200, `reason: Layer7 invalid response, info: "HTTP content check did not match"`},
		{"http expect ! rstring", "HTTP/1.0 200 OK\r\n\r\nhello", addr, rules(t, "http-check", "expect ! rstring ell"), "L7RSP", false, 200, `reason: Layer7 invalid response, info: "HTTP check matched unwanted content"`},
		{"http expect hdr", "HTTP/1.0 200 OK\r\nX-A: b, c\r\n\r\n", addr, rules(t, "http-check", "expect hdr name x-a value c"), "L7OK", true, 200, "reason: Layer7 check passed, code: 200"},
		{"http expect hdr missing", "HTTP/1.0 200 OK\r\nX-A: b\r\n\r\n", addr, rules(t, "http-check", "expect hdr name x-b"), "L7STS", false, 200, `reason: Layer7 wrong status, code: 200, info: "OK"`},
		{"http on-success", "HTTP/1.0 200 OK\r\nX-A: b\r\n\r\n", addr, rules(t, "http-check", "expect status 200 on-success fine\\ %[res.hdr(x-a)]"), "L7OK", true, 200, `reason: Layer7 check passed, code: 200, info: "fine b"`},
		{"http timeout", "hang", addr, httpchk, "L7TOUT", false, 0, "reason: Layer7 timeout"},
		{"http refused", "", closedAddr(t), httpchk, "L4CON", false, 0, `reason: Layer4 connection problem, info: "Connection refused"`},
		{"tcp-check match", "role:master\r\n", addr, rules(t, "tcp-check", "send info\\ replication\r\n", "expect string role:master"), "L7OK", true, 0, `reason: Layer7 check passed, code: 0, info: "(tcp-check)"`},
		{"tcp-check mismatch", "role:slave\r\n", addr, rules(t, "tcp-check", "send info\\ replication\r\n", "expect string role:master"), "L7RSP", false, 0, `reason: Layer7 invalid response, info: "TCPCHK did not match content 'role:master' at step 2"`},
		{"tcp-check unwanted", "role:master\r\n", addr, rules(t, "tcp-check", "send x", "expect ! string role"), "L7RSP", false, 0, `reason: Layer7 invalid response, info: "TCPCHK matched unwanted content 'role' at step 2"`},
		{"tcp-check regex comment", "role:master\r\n", addr, rules(t, "tcp-check", "send x", "comment second", "expect rstring ^zz"), "L7RSP", false, 0, `reason: Layer7 invalid response, info: "TCPCHK did not match content (regex) at step 3 comment: second"`},
		{"tcp-check binary", "role:master\r\n", addr, rules(t, "tcp-check", "send x", "expect binary 7a7a"), "L7RSP", false, 0, `reason: Layer7 invalid response, info: "TCPCHK did not match content (binary) at step 2"`},
		{"tcp-check rbinary", "role:master\r\n", addr, rules(t, "tcp-check", "send x", "expect rbinary ^726F"), "L7OK", true, 0, `reason: Layer7 check passed, code: 0, info: "(tcp-check)"`},
		{"tcp-check empty", "close", addr, rules(t, "tcp-check", "send PING\r\n", "expect string +PONG"), "L7RSP", false, 0, `reason: Layer7 invalid response, info: "TCPCHK got an empty response at step 2"`},
		{"tcp-check timeout", "hang", addr, rules(t, "tcp-check", "send PING\r\n", "comment cmt", "expect string zz"), "L7TOUT", false, 0, `reason: Layer7 timeout, info: " at step 3 of tcp-check (expect string 'zz') comment: 'cmt'"`},
		{"tcp-check refused", "", closedAddr(t), rules(t, "tcp-check", "expect string x"), "L4CON", false, 0, `reason: Layer4 connection problem, info: "Connection refused at initial connection step of tcp-check"`},
		{"tcp-check on-error", "role:slave\r\n", addr, rules(t, "tcp-check", "send x", "expect string role:master on-error bad error-status L7STS"), "L7STS", false, 0, `reason: Layer7 wrong status, code: 0, info: "bad"`},
		{"tcp-check status-code", "role:master\r\n", addr, rules(t, "tcp-check", "send x", "expect string role:master on-success yay\\ %[res.payload(0,4)] status-code int(42)"), "L7OK", true, 42, `reason: Layer7 check passed, code: 42, info: "yay role"`},
		{"redis ok", "+PONG\r\n", addr, rules(t, "redis-check"), "L7OK", true, 0, `reason: Layer7 check passed, code: 0, info: "Redis server is ok"`},
		{"redis error", "-ERR bad\r\n", addr, rules(t, "redis-check"), "L7STS", false, 0, `reason: Layer7 wrong status, code: 0, info: "-ERR bad"`},
		{"ssl hello", "\x15\x03\x01\x00\x02", addr, rules(t, "ssl-hello-chk"), "L6OK", true, 0, "reason: Layer6 check passed"},
		{"ssl hello wrong", "HTTP/1.0 200 OK\r\n\r\n", addr, rules(t, "ssl-hello-chk"), "L6RSP", false, 0, "reason: Layer6 invalid response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply.Store(tt.reply)
			r := Once(context.Background(), Config{Addr: tt.addr, Rules: tt.rules, ConnectTimeout: 300 * time.Millisecond, ReadTimeout: 200 * time.Millisecond})
			want := tt.desc + ", check duration: " + strconv.FormatInt(r.Duration.Milliseconds(), 10) + "ms"
			if r.Status != tt.status || r.OK != tt.ok || r.Code != tt.code || r.Describe() != want {
				t.Fatalf("got %+v\n%s\nwant %s %v %d\n%s", r, r.Describe(), tt.status, tt.ok, tt.code, want)
			}
			if r.Reason != checkrule.Describe(tt.status) {
				t.Fatalf("reason %q for %s", r.Reason, tt.status)
			}
		})
	}
}

// TestRequestOnTheWire: what an HTTP check sends, as read by a listener.
func TestRequestOnTheWire(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		var req strings.Builder
		br := bufio.NewReader(c)
		for i := 0; i < 10; i++ {
			line, err := br.ReadString('\n')
			req.WriteString(line)
			if err != nil || line == "\r\n" {
				break
			}
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\n\r\n"))
		got <- req.String()
	}()
	r := Once(context.Background(), Config{Addr: ln.Addr().String(), Rules: rules(t, "http-check", "send meth GET uri /x ver HTTP/1.1"),
		ConnectTimeout: time.Second, ReadTimeout: time.Second})
	if req := <-got; req != "GET /x HTTP/1.1\r\nconnection: close\r\n\r\n" || !r.OK {
		t.Fatalf("server read %q, check %+v", req, r)
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{result("L4CON", "Connection refused", 0, 0), `reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms`},
		{result("L7STS", "Service Unavailable", 503, 1500*time.Microsecond), `reason: Layer7 wrong status, code: 503, info: "Service Unavailable", check duration: 1ms`},
		{result("L4TOUT", "", 0, 2001*time.Millisecond), `reason: Layer4 timeout, check duration: 2001ms`},
		{result("L7OK", "", 200, 0), `reason: Layer7 check passed, code: 200, check duration: 0ms`},
		{result("L7OK", "(tcp-check)", 0, 0), `reason: Layer7 check passed, code: 0, info: "(tcp-check)", check duration: 0ms`},
		{result("L7RSP", "x", 200, 0), `reason: Layer7 invalid response, info: "x", check duration: 0ms`},
	}
	for _, tt := range tests {
		if got := tt.r.Describe(); got != tt.want {
			t.Errorf("%q, want %q", got, tt.want)
		}
	}
}

// TestTracker follows HAProxy's health counter through sequences of results.
func TestTracker(t *testing.T) {
	c := Config{Inter: 1 * time.Second, FastInter: 2 * time.Second, DownInter: 3 * time.Second}
	tests := []struct {
		name       string
		rise, fall int
		up         bool
		results    string // + success, - failure
		changes    string // U or D at each result that changed the state, . otherwise
		intervals  string // I inter, F fastinter, D downinter after each result
	}{
		{"starts up, first failure is fatal", 2, 3, true, "-", "D", "D"},
		{"starts up, reaches full health", 2, 3, true, "+--+---", "......D", "IFFIFFD"},
		{"fall 3 from full", 2, 3, true, "++---", "....D", "IIFFD"},
		{"success resets failures", 2, 3, true, "+--+--+", ".......", "IFFIFFI"},
		{"rise 2 from down", 2, 3, false, "+-++", "...U", "FDFI"},
		{"rise 1 fall 1", 1, 1, false, "+-+-", "UDUD", "IDID"},
		{"rise 3 fall 2", 3, 2, false, "+++-+--", "..U...D", "FFIFIFD"},
		{"down stays down", 2, 2, false, "---", "...", "DDD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTracker(tt.rise, tt.fall, tt.up)
			var changes, intervals strings.Builder
			for _, r := range tt.results {
				ch := "."
				if tr.observe(r == '+') {
					ch = map[bool]string{true: "U", false: "D"}[tr.up]
				}
				changes.WriteString(ch)
				intervals.WriteString(map[time.Duration]string{c.Inter: "I", c.FastInter: "F", c.DownInter: "D"}[tr.interval(c)])
			}
			if changes.String() != tt.changes || intervals.String() != tt.intervals {
				t.Fatalf("%s: changes %s intervals %s, want %s %s", tt.results, changes.String(), intervals.String(), tt.changes, tt.intervals)
			}
		})
	}
}

func TestRunRiseAndFall(t *testing.T) {
	var reply atomic.Value
	reply.Store("HTTP/1.0 200 OK\r\n\r\n")
	addr := server(t, &reply)
	var mu sync.Mutex
	var events []bool
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Config{Addr: addr, Rules: rules(t, "http-check"),
			ConnectTimeout: time.Second, ReadTimeout: time.Second,
			Inter: 20 * time.Millisecond, Rise: 2, Fall: 3}, true, func(up bool, r Result) {
			mu.Lock()
			events = append(events, up)
			mu.Unlock()
		})
	}()
	wait := func(n int) {
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			l := len(events)
			mu.Unlock()
			if l >= n {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("no transition %d", n)
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	if len(events) != 0 {
		t.Fatalf("transitions while healthy: %v", events)
	}
	mu.Unlock()
	reply.Store("HTTP/1.0 500 Oops\r\n\r\n")
	wait(1)
	reply.Store("HTTP/1.0 200 OK\r\n\r\n")
	wait(2)
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || events[0] || !events[1] {
		t.Fatalf("transitions %v, want [false true]", events)
	}
}

func TestRunPausedByEnabled(t *testing.T) {
	var reply atomic.Value
	reply.Store("HTTP/1.0 500 Oops\r\n\r\n")
	addr := server(t, &reply)
	var enabled atomic.Bool
	changes := make(chan bool, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Config{Addr: addr, Rules: rules(t, "http-check"),
			ConnectTimeout: time.Second, ReadTimeout: time.Second, Inter: 20 * time.Millisecond, Rise: 1, Fall: 1,
			Enabled: enabled.Load}, true, func(up bool, r Result) { changes <- up })
	}()
	select {
	case up := <-changes:
		t.Fatalf("transition to %v while checks are disabled", up)
	case <-time.After(200 * time.Millisecond):
	}
	enabled.Store(true)
	select {
	case up := <-changes:
		if up {
			t.Fatal("went UP on a failing check")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no transition once checks were enabled")
	}
	cancel()
	<-done
}

// TestRunStartup: a server that starts UP goes DOWN on its first failed check (HAProxy
// starts its health at rise), and one that starts DOWN needs rise successes.
func TestRunStartup(t *testing.T) {
	var reply atomic.Value
	reply.Store("HTTP/1.0 200 OK\r\n\r\n")
	okAddr := server(t, &reply)
	for _, tt := range []struct {
		name    string
		addr    string
		startUp bool
		want    bool
		checks  int64
	}{
		{"up then refused", closedAddr(t), true, false, 1},
		{"down then passing", okAddr, false, true, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var checks atomic.Int64
			changes := make(chan bool, 1)
			done := make(chan struct{})
			go func() {
				defer close(done)
				Run(ctx, Config{Addr: tt.addr, ConnectTimeout: time.Second, Inter: 10 * time.Millisecond, Rise: 3, Fall: 3,
					Enabled: func() bool { checks.Add(1); return true }}, tt.startUp, func(up bool, r Result) {
					select {
					case changes <- up:
					default:
					}
				})
			}()
			select {
			case up := <-changes:
				if up != tt.want {
					t.Fatalf("went up=%v", up)
				}
				if n := checks.Load(); n != tt.checks {
					t.Fatalf("changed after %d checks, want %d", n, tt.checks)
				}
			case <-ctx.Done():
				t.Fatal("no state change")
			}
			cancel()
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
		})
	}
}

// TestAnalyze: what on-error does to the health counter of an UP server at full
// health (rise 2, fall 3: health 4).
func TestAnalyze(t *testing.T) {
	tests := []struct {
		onError string
		health  int
		up      bool
		changed bool
	}{
		{"", 4, true, false},
		{"fastinter", 4, true, false},
		{"fail-check", 3, true, false},
		{"sudden-death", 2, true, false},
		{"mark-down", 0, false, true},
	}
	for _, tt := range tests {
		tr := newTracker(2, 3, true)
		for i := 0; i < 3; i++ {
			tr.observe(true)
		}
		changed := tr.analyze(tt.onError)
		if tr.health != tt.health || tr.up != tt.up || changed != tt.changed {
			t.Errorf("%q: health %d up %v changed %v", tt.onError, tr.health, tr.up, changed)
		}
		if tt.onError == "sudden-death" && !tr.observe(false) {
			t.Errorf("sudden-death: the next failure did not mark the server down")
		}
	}
}

// TestObservedErrorsMarkDown: a signal from observe layer4 with on-error mark-down
// takes the server DOWN at once, with HAProxy's "Health analyze" reason.
func TestObservedErrorsMarkDown(t *testing.T) {
	var reply atomic.Value
	addr := server(t, &reply)
	obs := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes := make(chan Result, 4)
	go Run(ctx, Config{Addr: addr, Inter: time.Hour, Observed: obs, OnError: "mark-down", ErrorLimit: 3}, true,
		func(up bool, r Result) { changes <- r })
	obs <- struct{}{}
	select {
	case r := <-changes:
		if r.Status != "HANA" || r.Describe() != `reason: Health analyze, info: "Detected 3 consecutive errors, last one was: L4 unsuccessful connection", check duration: 0ms` {
			t.Fatalf("%+v %s", r, r.Describe())
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no change")
	}
}

// TestRunForcedDown: a state forced from outside (`set server health down`) restarts
// the health counter at 0, so that passing checks bring the server back UP after
// rise of them, as in HAProxy.
func TestRunForcedDown(t *testing.T) {
	var reply atomic.Value
	addr := server(t, &reply)
	var forced atomic.Bool
	forced.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ups := make(chan bool, 4)
	var first time.Duration
	go Run(ctx, Config{Addr: addr, Inter: 20 * time.Millisecond, Rise: 2, Fall: 3, First: &first,
		Sync: func() (int, bool) { return 0, forced.Swap(false) }}, true,
		func(up bool, r Result) { ups <- up })
	select {
	case up := <-ups:
		if !up {
			t.Fatal("went DOWN")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a server forced DOWN did not come back UP on passing checks")
	}
}

// TestSpread: spread-checks varies each interval by up to its percent either way, and
// covers that range.
func TestSpread(t *testing.T) {
	lo, hi := time.Hour, time.Duration(0)
	for i := 0; i < 2000; i++ {
		d := spread(2*time.Second, 20)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 1600*time.Millisecond || hi > 2400*time.Millisecond || lo > 1700*time.Millisecond || hi < 2300*time.Millisecond {
		t.Fatalf("spread 20%% of 2s: from %s to %s", lo, hi)
	}
	if d := spread(2*time.Second, 0); d != 2*time.Second {
		t.Fatalf("no spread-checks: %s", d)
	}
	if d := spread(2*time.Second, 90); d < time.Second || d > 3*time.Second {
		t.Fatalf("spread is capped at 50%%: %s", d)
	}
}

func TestParseAgentReply(t *testing.T) {
	n := func(i int) *int { return &i }
	tests := []struct {
		line string
		want AgentReply
	}{
		{"up\n", AgentReply{State: "up"}},
		{"75%\r\n", AgentReply{Weight: n(75)}},
		{"drain,50% maxconn:30\n", AgentReply{Admin: "drain", Weight: n(50), MaxConn: n(30)}},
		{"DOWN #disk full\n", AgentReply{State: "down", Desc: "disk full"}},
		{"ready\tup", AgentReply{Admin: "ready", State: "up"}},
		{"stopped", AgentReply{State: "stopped"}},
		{"fail #x", AgentReply{State: "fail", Desc: "x"}},
		{"maint", AgentReply{Admin: "maint"}},
		{"bogus -5% maxconn:x", AgentReply{}},
	}
	for _, tt := range tests {
		got := ParseAgentReply([]byte(tt.line))
		if got.State != tt.want.State || got.Admin != tt.want.Admin || got.Desc != tt.want.Desc ||
			(got.Weight == nil) != (tt.want.Weight == nil) || got.Weight != nil && *got.Weight != *tt.want.Weight ||
			(got.MaxConn == nil) != (tt.want.MaxConn == nil) || got.MaxConn != nil && *got.MaxConn != *tt.want.MaxConn {
			t.Errorf("%q: %+v", tt.line, got)
		}
	}
}

// FuzzParseAgentReply: any bytes from an agent parse without panicking.
func FuzzParseAgentReply(f *testing.F) {
	f.Add([]byte("up 50% maxconn:10 #ok\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := ParseAgentReply(b)
		if r.Weight != nil && *r.Weight < 0 || r.MaxConn != nil && *r.MaxConn < 0 {
			t.Fatalf("%q: %+v", b, r)
		}
	})
}

// TestCheckFromSource: a check connection leaves from the server's `source` address.
func TestCheckFromSource(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	from := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			from <- c.RemoteAddr().(*net.TCPAddr).IP.String()
			c.Close()
		}
	}()
	r := Once(context.Background(), Config{Addr: ln.Addr().String(), Source: netip.MustParseAddr("127.0.0.3"),
		Rules: rules(t, "tcp-check", "send x", "expect string y"), ReadTimeout: 200 * time.Millisecond})
	select {
	case ip := <-from:
		if ip != "127.0.0.3" {
			t.Fatalf("check came from %s (%+v)", ip, r)
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("no check arrived: %+v", r)
	}
}
