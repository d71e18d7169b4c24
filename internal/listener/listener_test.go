package listener

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"hitless/internal/config"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestTCPReusePort(t *testing.T) {
	port := freePort(t)
	b := config.Bind{Addr: config.Addr{Network: "tcp4", Host: "127.0.0.1", Port: port}, Backlog: 7, UID: -1, GID: -1}
	ln1, err := Listen(b, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer ln1.Close()
	// A second process (here: a second socket) binds the same port next to it.
	ln2, err := Listen(b, 100)
	if err != nil {
		t.Fatalf("second bind with SO_REUSEPORT: %v", err)
	}
	defer ln2.Close()
	c, err := net.Dial("tcp", ln1.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, ok := ln1.(*net.TCPListener); !ok {
		t.Fatalf("listener is %T", ln1)
	}
}

func hasIPv6(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback on this machine")
	}
	ln.Close()
}

func TestIPv6Binds(t *testing.T) {
	hasIPv6(t)
	cases := []struct {
		name        string
		host        string
		v6only      bool
		v4v6        bool
		wantOpt     int  // IPV6_V6ONLY read back; -1 = system default, not checked
		v4Reaches   bool // a connection to 127.0.0.1:port reaches the socket
		checkV4Dial bool
	}{
		{"loopback", "::1", false, false, -1, false, false},
		{"any v6only", "::", true, false, 1, false, true},
		{"any v4v6", "::", false, true, 0, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			port := freePort(t)
			ln, err := Listen(config.Bind{Addr: config.Addr{Network: "tcp6", Host: c.host, Port: port},
				V6Only: c.v6only, V4V6: c.v4v6, UID: -1, GID: -1}, 10)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			if _, ok := ln.(*net.TCPListener); !ok {
				t.Fatalf("listener is %T", ln)
			}
			if c.wantOpt >= 0 {
				f, err := ln.(*net.TCPListener).File()
				if err != nil {
					t.Fatal(err)
				}
				v, err := unix.GetsockoptInt(int(f.Fd()), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
				f.Close()
				if err != nil || v != c.wantOpt {
					t.Fatalf("IPV6_V6ONLY = %d, %v; want %d", v, err, c.wantOpt)
				}
			}
			conn, err := net.DialTimeout("tcp6", net.JoinHostPort("::1", strconv.Itoa(port)), time.Second)
			if err != nil {
				t.Fatalf("v6 dial: %v", err)
			}
			conn.Close()
			if c.checkV4Dial {
				conn, err := net.DialTimeout("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
				if err == nil {
					conn.Close()
				}
				if (err == nil) != c.v4Reaches {
					t.Fatalf("v4 dial to a %s socket: err = %v", c.name, err)
				}
			}
		})
	}
}

// TestBacklog fills the accept queue of a listener nobody accepts on: the kernel
// takes backlog+1 connections, then drops SYNs, so a small backlog admits few
// connections and a large one many.
func TestBacklog(t *testing.T) {
	count := func(backlog int) int {
		port := freePort(t)
		ln, err := Listen(config.Bind{Addr: config.Addr{Network: "tcp4", Host: "127.0.0.1", Port: port}, Backlog: backlog, UID: -1, GID: -1}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		n := 0
		for i := 0; i < 12; i++ {
			c, err := net.DialTimeout("tcp4", ln.Addr().String(), 200*time.Millisecond)
			if err != nil {
				break
			}
			defer c.Close()
			n++
		}
		return n
	}
	if n := count(2); n < 1 || n > 4 {
		t.Fatalf("backlog 2 admitted %d queued connections", n)
	}
	if n := count(100); n != 12 {
		t.Fatalf("backlog 100 admitted only %d queued connections", n)
	}
}

func TestBindErrors(t *testing.T) {
	v4, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer v4.Close()
	v4port := v4.Addr().(*net.TCPAddr).Port
	cases := []struct {
		name string
		addr config.Addr
		want string
	}{
		// The Go listener has no SO_REUSEPORT, so the bind must fail.
		{"in use", config.Addr{Network: "tcp4", Host: "127.0.0.1", Port: v4port},
			"cannot bind socket (Address already in use) for [127.0.0.1:" + strconv.Itoa(v4port) + "]"},
		{"not local", config.Addr{Network: "tcp4", Host: "192.0.2.1", Port: 80},
			"cannot bind socket (Cannot assign requested address) for [192.0.2.1:80]"},
		{"bad host", config.Addr{Network: "tcp4", Host: "example", Port: 80}, "invalid address 'example' for [example:80]"},
		{"unix no dir", config.Addr{Network: "unix", Path: "/nonexistent/dir/sock"},
			"cannot bind UNIX socket (No such file or directory) [/nonexistent/dir/sock]"},
		{"unix too long", config.Addr{Network: "unix", Path: "/tmp/" + strings.Repeat("x", 100)}, "name too long for UNIX socket"},
	}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		defer ln.Close()
		p := ln.Addr().(*net.TCPAddr).Port
		cases = append(cases, struct {
			name string
			addr config.Addr
			want string
		}{"v6 in use", config.Addr{Network: "tcp6", Host: "::1", Port: p},
			"cannot bind socket (Address already in use) for [::1:" + strconv.Itoa(p) + "]"})
	}
	for _, c := range cases {
		ln, err := Listen(config.Bind{Addr: c.addr, UID: -1, GID: -1}, 10)
		if err == nil {
			ln.Close()
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %q, want %q", c.name, err, c.want)
		}
	}
	_, err = Listen(config.Bind{Addr: config.Addr{Network: "tcp4", Host: "127.0.0.1", Port: v4port}}, 10)
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("error %v does not unwrap to EADDRINUSE", err)
	}
}

func TestUnixSocketModeAndRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.sock")
	b := config.Bind{Addr: config.Addr{Network: "unix", Path: path}, Mode: 0o600, HasMode: true, UID: -1, GID: -1}
	ln, err := Listen(b, 10)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("mode %v", st.Mode())
	}
	// Binding again (as a new process would) replaces the path atomically.
	ln2, err := Listen(b, 10)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("closing the old listener removed the path: %v", err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	ln2.Close()
	if os.Geteuid() == 0 {
		// Ownership as `uid`/`gid` set it (only root may give a socket away).
		owned := filepath.Join(dir, "owned.sock")
		ln3, err := Listen(config.Bind{Addr: config.Addr{Network: "unix", Path: owned}, UID: 65534, GID: 65533}, 10)
		if err != nil {
			t.Fatal(err)
		}
		defer ln3.Close()
		var st unix.Stat_t
		if err := unix.Stat(owned, &st); err != nil || st.Uid != 65534 || st.Gid != 65533 {
			t.Fatalf("owner %d:%d, %v", st.Uid, st.Gid, err)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Fatalf("temporary socket left: %s", e.Name())
		}
	}
}
