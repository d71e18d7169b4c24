package listener

import (
	"net"
	"net/netip"
	"os"
	"regexp"
	"strings"

	"golang.org/x/sys/unix"

	"hitless/internal/config"
)

// Inherited is a listening socket received from an older process (`-x`), with the
// metadata of the bind line it came from.
type Inherited struct {
	File      *os.File
	Namespace string
	Interface string
	used      bool
}

// sockInfo is what matching compares: the bound address and the options the socket
// carries, read from the live socket as HAProxy 2.6 does.
type sockInfo struct {
	family int
	addr   netip.AddrPort
	path   string
	v6only bool
	dgram  bool
}

func inspect(f *os.File) (sockInfo, bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return sockInfo{}, false
	}
	var si sockInfo
	ok := false
	rc.Control(func(fd uintptr) { si, ok = inspectFD(int(fd)) })
	return si, ok
}

// inspectFD reads the bound address and options of a socket descriptor.
func inspectFD(fd int) (si sockInfo, ok bool) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return si, false
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return si, false
	}
	si.dgram = typ == unix.SOCK_DGRAM
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		si.family = unix.AF_INET
		si.addr = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		si.family = unix.AF_INET6
		si.addr = netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
		v, _ := unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
		si.v6only = v > 0
	case *unix.SockaddrUnix:
		si.family = unix.AF_UNIX
		si.path = a.Name
	default:
		return si, false
	}
	return si, true
}

// MatchFD reports whether the listening socket fd serves bind b, by the rules Adopt
// uses. The master of master-worker mode keeps raw descriptors and matches them with
// it at every reload.
func MatchFD(b config.Bind, fd int) bool {
	si, ok := inspectFD(fd)
	return ok && matches(b, &Inherited{}, si)
}

// tmpSuffix is the ".<pid>.tmp" a unix socket keeps in its bound name after the
// rename that put it in place.
var tmpSuffix = regexp.MustCompile(`\.[0-9]+\.tmp$`)

// sameUnixPath compares unix socket names as HAProxy does: "X" and "X.<pid>.tmp" are
// the same socket.
func sameUnixPath(a, b string) bool {
	return tmpSuffix.ReplaceAllString(a, "") == tmpSuffix.ReplaceAllString(b, "")
}

// matches reports whether an inherited socket serves bind b: same family, address and
// port (or unix path), interface, namespace and v6only setting.
func matches(b config.Bind, in *Inherited, si sockInfo) bool {
	if si.dgram || in.Namespace != "" || in.Interface != "" {
		return false // hitless binds set neither interface nor namespace
	}
	if b.Addr.Network == "unix" {
		return si.family == unix.AF_UNIX && sameUnixPath(si.path, b.Addr.Path)
	}
	ip, err := netip.ParseAddr(b.Addr.Host)
	if err != nil || int(si.addr.Port()) != b.Addr.Port {
		return false
	}
	if ip.Is4() {
		return si.family == unix.AF_INET && si.addr.Addr() == ip
	}
	if si.family != unix.AF_INET6 || si.addr.Addr() != ip {
		return false
	}
	want := b.V6Only || (!b.V4V6 && systemV6Only())
	return si.v6only == want
}

func systemV6Only() bool {
	b, err := os.ReadFile("/proc/sys/net/ipv6/bindv6only")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// Adopt returns a listener for b from the inherited sockets when one matches, marking
// it used; ok is false when none does.
func Adopt(b config.Bind, inherited []*Inherited) (ln net.Listener, ok bool, err error) {
	for _, in := range inherited {
		if in.used {
			continue
		}
		si, good := inspect(in.File)
		if !good || !matches(b, in, si) {
			continue
		}
		// A socket that is not listening (paused by its owner) is put back to listen.
		rc, _ := in.File.SyscallConn()
		rc.Control(func(fd uintptr) {
			if v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err == nil && v == 0 {
				unix.Listen(int(fd), unix.SOMAXCONN)
			}
		})
		l, err := net.FileListener(in.File)
		if err != nil {
			return nil, false, err
		}
		if ul, isUnix := l.(*net.UnixListener); isUnix {
			ul.SetUnlinkOnClose(false)
		}
		in.used = true
		return l, true, nil
	}
	return nil, false, nil
}

// CloseInherited closes the received files once every bind is done: Adopt duplicated
// the ones it used, and the others are dropped (HAProxy does the same with sockets no
// bind line claims).
func CloseInherited(inherited []*Inherited) {
	for _, in := range inherited {
		in.File.Close()
	}
}
