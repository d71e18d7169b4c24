package listener

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

func TestTCPReusePortAndBacklog(t *testing.T) {
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

func TestV6Only(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback")
	} else {
		ln.Close()
	}
	port := freePort(t)
	ln, err := Listen(config.Bind{Addr: config.Addr{Network: "tcp6", Host: "::", Port: port}, V6Only: true}, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, _ := ln.(*net.TCPListener).File()
	defer f.Close()
	v, err := unix.GetsockoptInt(int(f.Fd()), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
	if err != nil || v != 1 {
		t.Fatalf("IPV6_V6ONLY = %d, %v", v, err)
	}
	if c, err := net.Dial("tcp4", ln.Addr().(*net.TCPAddr).AddrPort().String()); err == nil {
		// The v4 dial must not reach a v6only socket (the address is [::]:port).
		c.Close()
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
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Fatalf("temporary socket left: %s", e.Name())
		}
	}
}

func TestBindErrorNamesAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	// The Go listener has no SO_REUSEPORT, so the bind must fail.
	_, err = Listen(config.Bind{Addr: config.Addr{Network: "tcp4", Host: "127.0.0.1", Port: port}}, 10)
	if err == nil || !strings.Contains(err.Error(), "Address already in use") || !strings.Contains(err.Error(), "[127.0.0.1:") {
		t.Fatalf("err = %v", err)
	}
}
