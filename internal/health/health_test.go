package health

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hitless/internal/config"
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

func TestOnce(t *testing.T) {
	var reply atomic.Value
	addr := server(t, &reply)
	httpchk := &config.HTTPCheck{Method: "GET", URI: "/health", Version: "HTTP/1.0"}
	tests := []struct {
		name   string
		reply  string
		addr   string
		http   *config.HTTPCheck
		status string
		ok     bool
		desc   string
	}{
		{"tcp up", "", addr, nil, "L4OK", true, "reason: Layer4 check passed, check duration: "},
		{"tcp refused", "", closedAddr(t), nil, "L4CON", false, `reason: Layer4 connection problem, info: "Connection refused", check duration: `},
		{"http 200", "HTTP/1.0 200 OK\r\n\r\n", addr, httpchk, "L7OK", true, `reason: Layer7 check passed, code: 200, info: "OK", check duration: `},
		{"http 503", "HTTP/1.1 503 Service Unavailable\r\n\r\n", addr, httpchk, "L7STS", false, `reason: Layer7 wrong status, code: 503, info: "Service Unavailable", check duration: `},
		{"http garbage", "hello there\r\n", addr, httpchk, "L7RSP", false, `reason: Layer7 invalid response, info: "Invalid response"`},
		{"http expect 204", "HTTP/1.1 200 OK\r\n\r\n", addr, &config.HTTPCheck{Method: "GET", URI: "/", Version: "HTTP/1.0", ExpectStatus: 204}, "L7STS", false, "code: 200"},
		{"http timeout", "hang", addr, httpchk, "L7TOUT", false, "reason: Layer7 timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply.Store(tt.reply)
			r := Once(context.Background(), Config{Addr: tt.addr, HTTP: tt.http, ConnectTimeout: time.Second, ReadTimeout: 200 * time.Millisecond})
			if r.Status != tt.status || r.OK != tt.ok || !strings.Contains(r.Describe(), tt.desc) {
				t.Fatalf("got %+v (%s)", r, r.Describe())
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
		Run(ctx, Config{Addr: addr, HTTP: &config.HTTPCheck{Method: "GET", URI: "/", Version: "HTTP/1.0"},
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
		Run(ctx, Config{Addr: addr, HTTP: &config.HTTPCheck{Method: "GET", URI: "/", Version: "HTTP/1.0"},
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
