package health

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// checkConn is a check's connection: a non-blocking socket driven by the runtime's
// poller through an *os.File. It is opened the way HAProxy opens check connections
// (TCP_QUICKACK off, so that the handshake's last ACK leaves with the first bytes, or
// never for a connect-only check; reset at close unless lingering) and costs fewer
// system calls and no goroutine beyond the check's own, which matters with thousands
// of servers: net.Dialer spends a goroutine per dial watching its context, sets
// TCP_NODELAY and asks the kernel for both addresses.
type checkConn struct {
	f      *os.File
	raddr  netip.AddrPort
	linger bool
}

// errConnectTimeout is a connect that did not complete in time.
var errConnectTimeout = &timeoutError{}

type timeoutError struct{}

func (*timeoutError) Error() string   { return "i/o timeout" }
func (*timeoutError) Timeout() bool   { return true }
func (*timeoutError) Temporary() bool { return true }
func (*timeoutError) Unwrap() error   { return os.ErrDeadlineExceeded }

// dialCheck connects to addr within timeout (and ctx), from the source address when
// it is valid (the server's `source`; its port is not used, as checks may overlap).
func dialCheck(ctx context.Context, addr netip.AddrPort, source netip.Addr, timeout time.Duration, linger bool) (*checkConn, error) {
	family, sa := syscall.AF_INET, syscall.Sockaddr(nil)
	if addr.Addr().Unmap().Is4() {
		sa = &syscall.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().Unmap().As4()}
	} else {
		family = syscall.AF_INET6
		sa = &syscall.SockaddrInet6{Port: int(addr.Port()), Addr: addr.Addr().As16()}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 0)
	if source.IsValid() {
		var local syscall.Sockaddr = &syscall.SockaddrInet4{Addr: source.Unmap().As4()}
		if family == syscall.AF_INET6 {
			local = &syscall.SockaddrInet6{Addr: source.As16()}
		}
		if err := syscall.Bind(fd, local); err != nil {
			syscall.Close(fd)
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("bind", err)}
		}
	}
	if err := syscall.Connect(fd, sa); err != nil && err != syscall.EINPROGRESS {
		syscall.Close(fd)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
	}
	f := os.NewFile(uintptr(fd), "check")
	c := &checkConn{f: f, raddr: addr, linger: linger}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	f.SetWriteDeadline(deadline)
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	// Connecting again tells the state in one call: EISCONN once connected,
	// EALREADY while in progress, the connect's error otherwise.
	var serr error
	werr := raw.Write(func(fd uintptr) bool {
		switch err := syscall.Connect(int(fd), sa); err {
		case nil, syscall.EISCONN:
			return true
		case syscall.EALREADY, syscall.EINPROGRESS, syscall.EINTR:
			return false
		default:
			serr = err
			return true
		}
	})
	if werr != nil {
		c.abort()
		if errors.Is(werr, os.ErrDeadlineExceeded) {
			return nil, errConnectTimeout
		}
		return nil, werr
	}
	if serr != nil {
		c.abort()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", serr)}
	}
	if ctx.Err() != nil {
		c.abort()
		return nil, ctx.Err()
	}
	f.SetWriteDeadline(time.Time{})
	return c, nil
}

func (c *checkConn) abort() {
	c.linger = false
	c.Close()
}

func (c *checkConn) Read(b []byte) (int, error) {
	n, err := c.f.Read(b)
	if err != nil && n == 0 && errors.Is(err, os.ErrClosed) {
		return 0, net.ErrClosed
	}
	return n, err
}

func (c *checkConn) Write(b []byte) (int, error) { return c.f.Write(b) }

// Close resets the connection (SO_LINGER 0) unless it lingers, as HAProxy closes checks.
func (c *checkConn) Close() error {
	if !c.linger {
		if raw, err := c.f.SyscallConn(); err == nil {
			raw.Control(func(fd uintptr) {
				syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
			})
		}
	}
	return c.f.Close()
}

// LocalAddr asks the kernel, only when needed (a v1 PROXY header).
func (c *checkConn) LocalAddr() net.Addr {
	var out net.Addr = &net.TCPAddr{}
	if raw, err := c.f.SyscallConn(); err == nil {
		raw.Control(func(fd uintptr) {
			switch sa, _ := syscall.Getsockname(int(fd)); a := sa.(type) {
			case *syscall.SockaddrInet4:
				out = &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
			case *syscall.SockaddrInet6:
				out = &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
			}
		})
	}
	return out
}

func (c *checkConn) RemoteAddr() net.Addr               { return net.TCPAddrFromAddrPort(c.raddr) }
func (c *checkConn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *checkConn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *checkConn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }
