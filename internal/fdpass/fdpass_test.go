package fdpass

import (
	"encoding/binary"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pair returns two connected unix stream connections.
func pair(t testing.TB) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "pair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	a, b := conn(fds[0]), conn(fds[1])
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// openFDs counts this process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// listeners opens n TCP listeners on loopback and returns their files.
func listeners(t *testing.T, n int) ([]Socket, []string) {
	t.Helper()
	var socks []Socket
	var addrs []string
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f, err := ln.(*net.TCPListener).File()
		ln.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		iface := ""
		if i%3 == 0 {
			iface = "lo"
		}
		socks = append(socks, Socket{FD: int(f.Fd()), File: f, Interface: iface, Namespace: strings.Repeat("n", i%2)})
		addrs = append(addrs, ln.Addr().String())
	}
	return socks, addrs
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{1, 2, MaxBatch, MaxBatch + 1, 301} {
		t.Run("", func(t *testing.T) {
			socks, addrs := listeners(t, n)
			client, server := pair(t)
			errc := make(chan error, 1)
			go func() {
				buf := make([]byte, len(Command))
				if _, err := server.Read(buf); err != nil || string(buf) != Command {
					errc <- err
					return
				}
				errc <- Send(server, socks)
				server.Close()
			}()
			got, err := Receive(client)
			if err != nil {
				t.Fatalf("receive %d: %v", n, err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("send %d: %v", n, err)
			}
			if len(got) != n {
				t.Fatalf("got %d sockets, want %d", len(got), n)
			}
			for i, s := range got {
				ln, err := net.FileListener(s.File)
				if err != nil {
					t.Fatal(err)
				}
				if ln.Addr().String() != addrs[i] {
					t.Fatalf("socket %d is %s, want %s", i, ln.Addr(), addrs[i])
				}
				ln.Close()
				s.File.Close()
				if s.Interface != socks[i].Interface || s.Namespace != socks[i].Namespace {
					t.Fatalf("socket %d metadata %q/%q, want %q/%q", i, s.Namespace, s.Interface, socks[i].Namespace, socks[i].Interface)
				}
			}
		})
	}
}

// TestWireBytes checks the exact bytes HAProxy 2.6 sends for two sockets.
func TestWireBytes(t *testing.T) {
	socks, _ := listeners(t, 2)
	socks[0].Interface, socks[0].Namespace = "lo", ""
	socks[1].Interface, socks[1].Namespace = "", ""
	client, server := pair(t)
	go func() {
		Send(server, socks)
		server.Close()
	}()
	oob := make([]byte, syscall.CmsgSpace(MaxBatch*4))
	buf := make([]byte, 100)
	n, _, _, _, err := client.ReadMsgUnix(buf[:4], oob)
	if err != nil || n != 4 || binary.NativeEndian.Uint32(buf[:4]) != 2 {
		t.Fatalf("count: n=%d err=%v bytes=%x", n, err, buf[:n])
	}
	n, oobn, _, _, err := client.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0, 2, 'l', 'o', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if string(buf[:n]) != string(want) {
		t.Fatalf("records % x, want % x", buf[:n], want)
	}
	files, err := parseRights(oob[:oobn])
	if err != nil || len(files) != 2 {
		t.Fatalf("fds: %d %v", len(files), err)
	}
	for _, f := range files {
		f.Close()
	}
}

// fakeServer answers the request with raw bytes and the given fds, then closes.
func fakeServer(t testing.TB, c *net.UnixConn, count []byte, data []byte, fds []int) {
	buf := make([]byte, len(Command))
	c.SetDeadline(time.Now().Add(2 * time.Second))
	c.Read(buf)
	if count != nil {
		c.Write(count)
	}
	if len(data) > 0 || len(fds) > 0 {
		var oob []byte
		if len(fds) > 0 {
			oob = syscall.UnixRights(fds...)
		}
		if len(data) == 0 {
			data = []byte{0}
		}
		c.WriteMsgUnix(data, oob, nil)
	}
	c.Close()
}

func le(n int32) []byte {
	b := make([]byte, 4)
	binary.NativeEndian.PutUint32(b, uint32(n))
	return b
}

func TestMalformedServerAnswers(t *testing.T) {
	tests := []struct {
		name    string
		count   []byte
		data    []byte
		nfds    int
		wantErr string
	}{
		{"no answer", nil, nil, 0, "failed to get the number of sockets"},
		{"short count", []byte{1, 0}, nil, 0, "failed to get the number of sockets"},
		{"zero count", le(0), nil, 0, "invalid count 0"},
		{"negative count", le(-5), nil, 0, "invalid count -5"},
		{"huge count", le(1 << 30), nil, 0, "invalid count"},
		{"fewer fds than count", le(3), []byte{0, 0, 0, 0, 0, 0}, 1, "expected number of sockets"},
		{"more fds than count", le(1), []byte{0, 0, 0, 0, 0, 0}, 2, "too many sockets"},
		{"truncated metadata", le(2), []byte{0, 0, 0, 0, 0, 0, 0, 3, 'x'}, 2, "expected number of sockets"},
		{"trailing metadata", le(1), []byte{0, 0, 0, 0, 0, 0, 9}, 1, "unexpected bytes"},
		{"interface longer than data", le(1), []byte{0, 200, 'a'}, 1, "expected number of sockets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fds []int
			for i := 0; i < tt.nfds; i++ {
				f, err := os.Open("/dev/null")
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				fds = append(fds, int(f.Fd()))
			}
			before := openFDs(t)
			client, server := pair(t)
			done := make(chan struct{})
			go func() { fakeServer(t, server, tt.count, tt.data, fds); close(done) }()
			socks, err := Receive(client)
			<-done
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if socks != nil {
				t.Fatalf("got sockets on error: %v", socks)
			}
			client.Close()
			server.Close()
			if after := openFDs(t); after > before {
				t.Fatalf("leaked %d descriptors", after-before)
			}
		})
	}
}

// FuzzReceive feeds arbitrary answers (with a few real fds attached) to the client: it
// must return an error or sockets, never panic, and never leak a descriptor on error.
func FuzzReceive(f *testing.F) {
	f.Add(le(1), []byte{0, 0, 0, 0, 0, 0}, uint8(1))
	f.Add(le(2), []byte{0, 2, 'l', 'o', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uint8(2))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f}, []byte{}, uint8(0))
	f.Add(le(1), []byte{5, 'a'}, uint8(3))
	f.Fuzz(func(t *testing.T, count, data []byte, nfds uint8) {
		nfds %= 4
		var fds []int
		for i := 0; i < int(nfds); i++ {
			fl, err := os.Open("/dev/null")
			if err != nil {
				t.Fatal(err)
			}
			defer fl.Close()
			fds = append(fds, int(fl.Fd()))
		}
		before := openFDs(t)
		client, server := pair(t)
		old := Timeout
		Timeout = 200 * time.Millisecond
		defer func() { Timeout = old }()
		done := make(chan struct{})
		go func() { fakeServer(t, server, count, data, fds); close(done) }()
		socks, err := Receive(client)
		<-done
		for _, s := range socks {
			s.File.Close()
		}
		client.Close()
		server.Close()
		if err == nil && len(socks) == 0 {
			t.Fatal("no error and no sockets")
		}
		if after := openFDs(t); after > before {
			t.Fatalf("leaked %d descriptors (err=%v)", after-before, err)
		}
	})
}

// FuzzSend plays a client that acknowledges with arbitrary bytes or goes away early:
// Send must end with nil or an error, never hang past its timeouts or panic.
func FuzzSend(f *testing.F) {
	f.Add(uint16(3), []byte{0, 0, 0, 0}, false)
	f.Add(uint16(300), []byte{}, true)
	f.Add(uint16(253), []byte{0xff}, false)
	f.Fuzz(func(t *testing.T, n uint16, acks []byte, closeEarly bool) {
		n %= 600
		if n == 0 {
			n = 1
		}
		fl, err := os.Open("/dev/null")
		if err != nil {
			t.Fatal(err)
		}
		defer fl.Close()
		socks := make([]Socket, n)
		for i := range socks {
			socks[i] = Socket{FD: int(fl.Fd())}
		}
		old := Timeout
		Timeout = 200 * time.Millisecond
		defer func() { Timeout = old }()
		client, server := pair(t)
		go func() {
			oob := make([]byte, syscall.CmsgSpace(MaxBatch*4))
			buf := make([]byte, 8192)
			if closeEarly {
				client.Close()
				return
			}
			client.SetDeadline(time.Now().Add(2 * time.Second))
			for {
				_, oobn, _, _, err := client.ReadMsgUnix(buf, oob)
				if files, _ := parseRights(oob[:oobn]); len(files) > 0 {
					for _, f := range files {
						f.Close()
					}
				}
				if err != nil {
					return
				}
				if len(acks) > 0 {
					client.Write(acks)
				}
			}
		}()
		done := make(chan struct{})
		go func() { Send(server, socks); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Send did not return")
		}
	})
}
