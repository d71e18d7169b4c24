package health

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// benchServer accepts and answers every connection with a 200 (HTTP) or closes it.
func benchServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(time.Second))
				buf := make([]byte, 256)
				n, _ := c.Read(buf)
				if n > 0 {
					io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkOnce: one check, TCP connect and option httpchk (go test -bench Once
// -benchmem ./internal/health).
func BenchmarkOnce(b *testing.B) {
	addr := benchServer(b)
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"tcp", Config{Addr: addr}},
		{"http", Config{Addr: addr, Rules: rules(b, "http-check")}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if r := Once(context.Background(), bc.cfg); !r.OK {
					b.Fatal(r)
				}
			}
		})
	}
}

// BenchmarkRunMany runs 2,000 checkers (every 400ms: 5,000 checks/s) for a second
// per iteration, to profile the machinery as a whole (go test -bench RunMany
// -benchtime 5x -cpuprofile cpu.out ./internal/health).
func BenchmarkRunMany(b *testing.B) {
	addr := benchServer(b)
	for _, kind := range []string{"tcp", "http"} {
		b.Run(kind, func(b *testing.B) {
			var rs = Config{Addr: addr, Inter: 400 * time.Millisecond}
			if kind == "http" {
				rs.Rules = rules(b, "http-check")
			}
			for i := 0; i < b.N; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				done := make(chan struct{})
				for j := 0; j < 2000; j++ {
					c := rs
					first := rs.Inter * time.Duration(j) / 2000
					c.First = &first
					go func() { Run(ctx, c, true, func(bool, Result) {}); done <- struct{}{} }()
				}
				for j := 0; j < 2000; j++ {
					<-done
				}
				cancel()
			}
		})
	}
}
