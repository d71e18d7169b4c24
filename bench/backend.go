package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
)

// The backends are minimal so that they are never the bottleneck: the HTTP one
// answers every request head with a fixed response and keeps the connection open
// unless the request says "Connection: close"; the stream one writes zeros to
// every connection until the peer goes away.

var (
	okResponse      = []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
	okCloseResponse = []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nok")
	connectionClose = []byte("connection: close")
)

func startHTTPBackend() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go acceptLoop(ln, serveHTTP)
	return ln, nil
}

func startStreamBackend() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go acceptLoop(ln, serveStream)
	return ln, nil
}

func acceptLoop(ln net.Listener, serve func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go serve(c)
	}
}

// serveHTTP answers bodiless requests (the load generators send GETs only).
func serveHTTP(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 16<<10)
	bw := bufio.NewWriterSize(c, 16<<10)
	for {
		closeAfter := false
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
			if len(line) >= len(connectionClose) && bytes.EqualFold(bytes.TrimSpace(line), connectionClose) {
				closeAfter = true
			}
		}
		if closeAfter {
			bw.Write(okCloseResponse)
			bw.Flush()
			return
		}
		bw.Write(okResponse)
		// Answer pipelined requests together, flush when nothing more is buffered.
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
}

func serveStream(c net.Conn) {
	defer c.Close()
	go io.Copy(io.Discard, c)
	buf := make([]byte, 256<<10)
	for {
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}
