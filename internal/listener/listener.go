// Package listener binds the listening sockets of `bind` lines: TCP with SO_REUSEPORT
// (so that a new process can bind next to an old one), IPV6_V6ONLY per `v6only` and
// `v4v6`, the listen backlog, and unix stream sockets created under a temporary name
// and renamed into place so the path never disappears. The instance package calls
// Listen for every bind of every frontend.
package listener

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"hitless/internal/config"
)

// Listen binds one address of a bind line. defaultBacklog applies when the line sets
// no `backlog` (HAProxy uses the frontend's maxconn).
func Listen(b config.Bind, defaultBacklog int) (net.Listener, error) {
	backlog := b.Backlog
	if backlog <= 0 {
		backlog = defaultBacklog
	}
	if backlog <= 0 {
		backlog = unix.SOMAXCONN
	}
	if b.Addr.Network == "unix" {
		return listenUnix(b, backlog)
	}
	return listenTCP(b, backlog)
}

// Describe names an address as HAProxy's messages do: [127.0.0.1:8080], [::1:8080]
// (no brackets around an IPv6 host) or [/path].
func Describe(a config.Addr) string {
	if a.Network == "unix" {
		return "[" + a.Path + "]"
	}
	return "[" + a.Host + ":" + strconv.Itoa(a.Port) + "]"
}

// BindError is a failure to set up a listening socket, worded as HAProxy words it:
// "cannot bind socket (Address already in use) for [127.0.0.1:8080]", or for a unix
// socket "cannot bind UNIX socket (No such file or directory) [/run/x.sock]". It
// unwraps to the errno so that callers can retry on EADDRINUSE.
type BindError struct {
	What  string // "cannot bind socket", "cannot bind UNIX socket", ...
	Errno syscall.Errno
	Addr  string // from Describe
	Unix  bool
}

func (e *BindError) Error() string {
	if e.Unix {
		return e.What + " (" + capitalize(e.Errno.Error()) + ") " + e.Addr
	}
	return e.What + " (" + capitalize(e.Errno.Error()) + ") for " + e.Addr
}

func (e *BindError) Unwrap() error { return e.Errno }

// bindError wraps a failed system call for address a.
func bindError(a config.Addr, what string, err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return &BindError{What: what, Errno: errno, Addr: Describe(a), Unix: a.Network == "unix"}
	}
	return fmt.Errorf("%s (%v) for %s", what, err, Describe(a))
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-32) + s[1:]
}

// sockopt is one setsockopt call.
type sockopt struct{ level, opt, val int }

func listenTCP(b config.Bind, backlog int) (net.Listener, error) {
	ip, err := netip.ParseAddr(b.Addr.Host)
	if err != nil {
		return nil, fmt.Errorf("invalid address '%s' for %s", b.Addr.Host, Describe(b.Addr))
	}
	family := unix.AF_INET
	var sa unix.Sockaddr
	if b.Addr.Network == "tcp6" || ip.Is6() {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: b.Addr.Port, Addr: ip.As16()}
	} else {
		sa = &unix.SockaddrInet4{Port: b.Addr.Port, Addr: ip.As4()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.IPPROTO_TCP)
	if err != nil {
		return nil, bindError(b.Addr, "cannot create receiving socket", err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	opts := []sockopt{
		{unix.SOL_SOCKET, unix.SO_REUSEADDR, 1},
		{unix.SOL_SOCKET, unix.SO_REUSEPORT, 1},
		{unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
	}
	if family == unix.AF_INET6 {
		switch {
		case b.V6Only:
			opts = append(opts, sockopt{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1})
		case b.V4V6:
			opts = append(opts, sockopt{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0})
		}
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.val); err != nil {
			return nil, bindError(b.Addr, "cannot set socket options on", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, bindError(b.Addr, "cannot bind socket", err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return nil, bindError(b.Addr, "cannot listen to socket", err)
	}
	ok = true // fileListener consumes fd
	return fileListener(fd, "tcp:"+Describe(b.Addr))
}

// fileListener wraps fd in a net.Listener; fd is closed (net dups it).
func fileListener(fd int, name string) (net.Listener, error) {
	f := os.NewFile(uintptr(fd), name)
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("cannot use socket %s: %w", name, err)
	}
	return ln, nil
}

// listenUnix binds PATH.<pid>.tmp, applies mode and owner, listens, then renames it
// over PATH: clients never find the path missing.
func listenUnix(b config.Bind, backlog int) (net.Listener, error) {
	path := b.Addr.Path
	tmp := path + "." + strconv.Itoa(os.Getpid()) + ".tmp"
	if len(tmp) >= 108 {
		return nil, fmt.Errorf("name too long for UNIX socket (limit usually 97) %s", Describe(b.Addr))
	}
	os.Remove(tmp)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, bindError(b.Addr, "cannot create UNIX socket", err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
			os.Remove(tmp)
		}
	}()
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: tmp}); err != nil {
		return nil, bindError(b.Addr, "cannot bind UNIX socket", err)
	}
	if b.HasMode {
		if err := os.Chmod(tmp, os.FileMode(b.Mode)); err != nil {
			return nil, bindError(b.Addr, "cannot change UNIX socket mode", err)
		}
	}
	if b.UID >= 0 || b.GID >= 0 {
		if err := os.Chown(tmp, b.UID, b.GID); err != nil {
			return nil, bindError(b.Addr, "cannot change UNIX socket ownership", err)
		}
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return nil, bindError(b.Addr, "cannot listen to UNIX socket", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, bindError(b.Addr, "cannot switch final and temporary UNIX sockets", err)
	}
	ok = true // fileListener consumes fd
	ln, err := fileListener(fd, "unix:"+path)
	if err != nil {
		return nil, err
	}
	// The path may belong to another process after a reload: never unlink it.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	return ln, nil
}
