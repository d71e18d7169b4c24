package tcpproxy

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// named answers every connection with its name and then what it received first.
func named(t *testing.T, name string) string {
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
				c.SetDeadline(time.Now().Add(3 * time.Second))
				buf := make([]byte, 3)
				n, _ := io.ReadFull(c, buf)
				fmt.Fprintf(c, "%s:%s", name, buf[:n])
			}()
		}
	}()
	return ln.Addr().String()
}

// TestSNIRouting is the classic TLS pass-through front: wait for the ClientHello,
// route on its SNI, and forward the inspected bytes to the server first.
func TestSNIRouting(t *testing.T) {
	a, b, other := named(t, "a"), named(t, "b"), named(t, "other")
	addr := frontend(t, `
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:1
    tcp-request inspect-delay 2s
    tcp-request content reject if { req.len gt 0 } !{ req.ssl_hello_type 1 }
    tcp-request content accept if { req.ssl_hello_type 1 }
    use_backend be_a if { req.ssl_sni -i a.example.com }
    use_backend be_b if { req.ssl_sni -m end .b.example.com }
    default_backend be_other
backend be_a
    server s `+a+`
backend be_b
    server s `+b+`
backend be_other
    server s `+other+`
`)
	route := func(sni string) string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		// A ClientHello sent in two parts: the rules must wait for the rest.
		hello := make(chan []byte, 1)
		p1, p2 := net.Pipe()
		go func() {
			buf := make([]byte, 16<<10)
			n, _ := p2.Read(buf)
			hello <- buf[:n]
		}()
		go tls.Client(p1, &tls.Config{ServerName: sni}).Handshake()
		h := <-hello
		p1.Close()
		c.Write(h[:10])
		time.Sleep(50 * time.Millisecond)
		c.Write(h[10:])
		got, _ := io.ReadAll(c)
		return string(got)
	}
	for sni, want := range map[string]string{"A.example.com": "a:\x16\x03\x01", "x.b.example.com": "b:\x16\x03\x01", "c.example.com": "other:\x16\x03\x01"} {
		if got := route(sni); got != want {
			t.Errorf("SNI %s: %q, want %q", sni, got, want)
		}
	}
	// Not TLS: rejected at once, without waiting for the inspect delay.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	c.SetDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(c)
	if len(got) != 0 || time.Since(start) > time.Second {
		t.Errorf("plain text: %q after %v", got, time.Since(start))
	}
}

// TestInspectDelayExpires: a client that sends nothing is decided when the delay
// expires (here accepted by default and routed without a payload).
func TestInspectDelayExpires(t *testing.T) {
	other := named(t, "other")
	addr := frontend(t, cfgFor(other, "tcp-request inspect-delay 300ms\n    tcp-request content accept if { req.ssl_hello_type 1 }"))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	time.Sleep(500 * time.Millisecond)
	c.Write([]byte("abc"))
	got, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(got), "other:abc") || time.Since(start) < 300*time.Millisecond {
		t.Errorf("%q after %v", got, time.Since(start))
	}
}
