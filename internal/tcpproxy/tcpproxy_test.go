package tcpproxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"hitless/internal/config"
	"hitless/internal/proxy"
)

// echoServer echoes until the client half-closes, then half-closes too.
func echoServer(t *testing.T) string {
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
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return ln.Addr().String()
}

// frontend builds a mode tcp frontend from config text and serves it on a loopback
// listener; it returns the listener's address.
func frontend(t *testing.T, cfgText string) string {
	t.Helper()
	return frontendLog(t, cfgText, nil)
}

// frontendLog is frontend with an access logger.
func frontendLog(t *testing.T, cfgText string, log proxy.AccessLogger) string {
	t.Helper()
	cfg, err := config.LoadBytes("t.cfg", []byte(cfgText), nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs func(*config.Proxy) (proxy.AccessLogger, error)
	if log != nil {
		logs = func(*config.Proxy) (proxy.AccessLogger, error) { return log, nil }
	}
	st, err := proxy.Build(cfg, nil, logs)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go Serve(ctx, c, st.Frontends[0])
		}
	}()
	return ln.Addr().String()
}

func cfgFor(server string, extra string) string {
	return fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:1
    %s
    server s1 %s
`, extra, server)
}

func TestEchoLargeTransferAndHalfClose(t *testing.T) {
	addr := frontend(t, cfgFor(echoServer(t), ""))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20/16*4) // 16 MiB
	want := sha256.Sum256(data)
	go func() {
		c.Write(data)
		c.(*net.TCPConn).CloseWrite() // half-close: the answer must still arrive
	}()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	h := sha256.New()
	n, err := io.Copy(h, c)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	if !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("data corrupted")
	}
}

func TestServerInactivityTimeout(t *testing.T) {
	// A server that accepts and never answers.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	addr := frontend(t, cfgFor(ln.Addr().String(), "timeout server 200ms"))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("hello"))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read data from a silent server")
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 3*time.Second {
		t.Fatalf("closed after %v, want about 200ms", d)
	}
}

func TestNoServerClosesClient(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	addr := frontend(t, cfgFor(dead, "retries 0"))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes", n)
	}
}

// lineLog keeps "level line" for each access-log line.
type lineLog struct {
	mu    sync.Mutex // guards lines
	lines []string
}

func (l *lineLog) Log(level int, msg []byte) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf("%d %s", level, msg))
	l.mu.Unlock()
}

func (l *lineLog) wait(t *testing.T, n int) []string {
	t.Helper()
	for i := 0; i < 300; i++ {
		l.mu.Lock()
		got := append([]string(nil), l.lines...)
		l.mu.Unlock()
		if len(got) >= n {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("fewer than %d log lines", n)
	return nil
}

// TestLogFormatInTCPMode checks a custom log-format with %ID in mode tcp, option
// logasap (logged once connected, '+' before %Tt and %B) and log-separate-errors
// (a refused connection is logged at level err).
func TestLogFormatInTCPMode(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	for _, c := range []struct {
		server, extra, want string
	}{
		{echoServer(t), "option logasap", `^6 127\.0\.0\.1 id-0 \+\d+ \+0 -- l/s1$`},
		{dead, "option log-separate-errors\n    retries 0", `^3 127\.0\.0\.1 id-0 \d+ 0 SC l/s1$`},
	} {
		log := &lineLog{}
		addr := frontendLog(t, cfgFor(c.server, "unique-id-format id-%rt\n    log-format \"%ci %ID %Tt %B %ts %b/%s\"\n    "+c.extra), log)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		conn.Write([]byte("x"))
		conn.(*net.TCPConn).CloseWrite()
		io.ReadAll(conn)
		conn.Close()
		if got := log.wait(t, 1); len(got) != 1 || !regexp.MustCompile(c.want).MatchString(got[0]) {
			t.Errorf("%s: lines %q, want %s", c.extra, got, c.want)
		}
	}
}
