// Package fdpass speaks HAProxy 2.6's `_getsocks` protocol, both directions: an old
// process sends its listening sockets over a unix stream connection (SCM_RIGHTS) to a
// new process, which adopts them so that the kernel's accept queues are never closed.
// The runtime API serves it (Send) and start-up with `-x` calls it (Receive).
//
// Wire format (all integers are C ints in host byte order):
//
//	client: "_getsocks\n"
//	server: int32 N (4 bytes, no fds)
//	server: batches of up to 252 fds, each one sendmsg whose data holds one record per
//	        fd: ns_len(1) ns ifname_len(1) ifname options(4, always 0)
//	client: after each recvmsg that returned data, an int32 ack (fds received before it);
//	        the server reads it only after a full batch
package fdpass

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// Command is the request line.
const Command = "_getsocks\n"

// MaxBatch is the number of fds HAProxy 2.6 sends per message.
const MaxBatch = 252

// MaxSockets bounds N on the receiving side: a count beyond it is refused rather than
// trusted.
const MaxSockets = 1 << 16

// Socket is one transferred listening socket with the metadata of its bind line.
// Send reads FD (a raw descriptor: os.File.Fd would switch the shared open file
// description to blocking mode under the listener that still uses it); Receive fills
// File.
type Socket struct {
	FD        int
	File      *os.File
	Namespace string
	Interface string
}

// Timeout is applied to each read and write, as HAProxy's SO_RCVTIMEO of one second.
var Timeout = time.Second

// Send answers a `_getsocks` request already read from c: the count, then the sockets
// in batches, waiting for the peer's acknowledgement after each full batch. The files
// stay open and owned by the caller.
func Send(c *net.UnixConn, socks []Socket) error {
	var n [4]byte
	binary.NativeEndian.PutUint32(n[:], uint32(len(socks)))
	c.SetDeadline(time.Now().Add(Timeout))
	if _, err := c.Write(n[:]); err != nil {
		return fmt.Errorf("failed to send the number of sockets to send: %w", err)
	}
	for start := 0; start < len(socks); start += MaxBatch {
		end := min(start+MaxBatch, len(socks))
		batch := socks[start:end]
		data := make([]byte, 0, 6*len(batch))
		fds := make([]int, 0, len(batch))
		for _, s := range batch {
			if len(s.Namespace) > 255 || len(s.Interface) > 255 {
				return errors.New("failed to transfer sockets: namespace or interface name longer than 255 bytes")
			}
			data = append(data, byte(len(s.Namespace)))
			data = append(data, s.Namespace...)
			data = append(data, byte(len(s.Interface)))
			data = append(data, s.Interface...)
			data = append(data, 0, 0, 0, 0)
			fds = append(fds, s.FD)
		}
		c.SetDeadline(time.Now().Add(Timeout))
		if _, _, err := c.WriteMsgUnix(data, syscall.UnixRights(fds...), nil); err != nil {
			return fmt.Errorf("failed to transfer sockets: %w", err)
		}
		if len(batch) == MaxBatch {
			var ack [4]byte
			c.SetDeadline(time.Now().Add(Timeout))
			if _, err := c.Read(ack[:]); err != nil {
				return fmt.Errorf("unexpected error while transferring sockets: %w", err)
			}
		}
	}
	return nil
}

// Receive sends the request on c and reads every socket the peer sends. On any error
// it closes what it received and returns none.
func Receive(c *net.UnixConn) (socks []Socket, err error) {
	var files []*os.File
	defer func() {
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			socks = nil
		}
	}()
	c.SetDeadline(time.Now().Add(Timeout))
	if _, err := c.Write([]byte(Command)); err != nil {
		return nil, fmt.Errorf("failed to send the request: %w", err)
	}
	oob := make([]byte, syscall.CmsgSpace(MaxBatch*4))
	// The count: read with a control buffer too, so that fds arriving early are kept.
	var count []byte
	var data []byte
	buf := make([]byte, 64<<10)
	for len(count) < 4 {
		c.SetDeadline(time.Now().Add(Timeout))
		n, oobn, _, _, rerr := c.ReadMsgUnix(buf[:4-len(count)], oob)
		got, perr := parseRights(oob[:oobn])
		files = append(files, got...)
		if perr != nil {
			return nil, perr
		}
		if n == 0 || rerr != nil {
			return nil, fmt.Errorf("failed to get the number of sockets to be transferred: %v", orEOF(rerr))
		}
		count = append(count, buf[:n]...)
	}
	total := int(int32(binary.NativeEndian.Uint32(count)))
	if total <= 0 || total > MaxSockets {
		return nil, fmt.Errorf("failed to get the number of sockets to be transferred: invalid count %d", total)
	}
	var recs []record
	for {
		recs, err = parseRecords(data, total)
		if err != nil && !errors.Is(err, errShort) {
			return nil, err
		}
		if len(files) > total {
			return nil, fmt.Errorf("got too many sockets (expecting %d, got %d)", total, len(files))
		}
		if err == nil && len(files) == total {
			break
		}
		c.SetDeadline(time.Now().Add(Timeout))
		n, oobn, flags, _, rerr := c.ReadMsgUnix(buf, oob)
		got, perr := parseRights(oob[:oobn])
		before := len(files)
		files = append(files, got...)
		if perr != nil {
			return nil, perr
		}
		if flags&syscall.MSG_CTRUNC != 0 {
			return nil, errors.New("inconsistency while transferring sockets: control data truncated")
		}
		if n == 0 || rerr != nil {
			return nil, fmt.Errorf("we didn't get the expected number of sockets (expecting %d got %d): %v", total, len(files), orEOF(rerr))
		}
		data = append(data, buf[:n]...)
		if len(data) > total*(1+255+1+255+4) {
			return nil, errors.New("inconsistency while transferring sockets: too much metadata")
		}
		var ack [4]byte
		binary.NativeEndian.PutUint32(ack[:], uint32(before))
		c.SetDeadline(time.Now().Add(Timeout))
		if _, werr := c.Write(ack[:]); werr != nil {
			// The server closes after its last batch: only an error before the end
			// matters, and the next read reports it.
			_ = werr
		}
	}
	socks = make([]Socket, total)
	for i := range socks {
		socks[i] = Socket{File: files[i], Namespace: recs[i].ns, Interface: recs[i].iface}
	}
	return socks, nil
}

type record struct{ ns, iface string }

// errShort means the metadata is incomplete so far.
var errShort = errors.New("inconsistency while transferring sockets: metadata shorter than needed")

// parseRecords decodes n records from data; errShort when more bytes are needed.
func parseRecords(data []byte, n int) ([]record, error) {
	recs := make([]record, 0, min(n, MaxBatch))
	p := data
	for i := 0; i < n; i++ {
		if len(p) < 1 {
			return nil, errShort
		}
		l := int(p[0])
		if len(p) < 1+l+1 {
			return nil, errShort
		}
		ns := string(p[1 : 1+l])
		p = p[1+l:]
		l = int(p[0])
		if len(p) < 1+l+4 {
			return nil, errShort
		}
		iface := string(p[1 : 1+l])
		p = p[1+l+4:]
		recs = append(recs, record{ns: ns, iface: iface})
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("inconsistency while transferring sockets: %d unexpected bytes after the metadata", len(p))
	}
	return recs, nil
}

// parseRights turns SCM_RIGHTS control messages into files; it keeps every fd it
// could decode even when it also returns an error, so the caller can close them.
func parseRights(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("inconsistency while transferring sockets: %w", err)
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			syscall.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "getsocks"))
		}
	}
	return files, nil
}

func orEOF(err error) error {
	if err == nil {
		return errors.New("connection closed")
	}
	return err
}
