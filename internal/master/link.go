package master

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"hitless/internal/config"
	"hitless/internal/runtimeapi"
)

// Link is a worker's side of its master: the listening sockets the master handed
// over, the server state to start from, and the private socket on which the worker
// reports that it is ready and receives Runtime API connections.
type Link struct {
	// Listeners are the listening sockets, for instance.Options.Inherited.
	Listeners []*os.File
	// Config is the configuration the master validated: the worker runs it rather
	// than reading the files again.
	Config []config.Source
	// States is `show servers state` of the previous worker, empty when none.
	States string
	// TicketKeys are the TLS session-ticket keys to serve with (encoded; "" when
	// none were handed over).
	TicketKeys string
	// Certs are the certificates the previous worker committed at runtime.
	Certs string
	// Tables is the previous worker's stick tables (its `_tables`), nil when none.
	Tables []byte
	ipc    *net.UnixConn
}

// Attach returns the link when this process was started as a worker by a master, nil
// otherwise. It removes the variable from the environment.
func Attach() (*Link, error) {
	v, ok := os.LookupEnv(workerEnv)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(workerEnv)
	fds, err := parseWorkerFDs(v)
	if err != nil {
		return nil, err
	}
	uc, err := unixConn(fds.ipc)
	if err != nil {
		return nil, fmt.Errorf("master socket: %v", err)
	}
	l := &Link{ipc: uc}
	if fds.state >= 0 {
		sf := os.NewFile(uintptr(fds.state), "server-state")
		b, err := io.ReadAll(io.LimitReader(sf, maxStartup))
		sf.Close()
		var st startup
		if err == nil {
			var tables []byte
			b, tables = splitStartup(b)
			err = json.Unmarshal(b, &st)
			l.Tables = tables
		}
		if err != nil {
			uc.Close()
			return nil, fmt.Errorf("cannot read what the master handed over: %v", err)
		}
		l.Config, l.States, l.TicketKeys, l.Certs = st.Config, st.States, st.TicketKeys, st.Certs
	}
	for i := 0; i < fds.nlisten; i++ {
		fd := fds.first + i
		unix.CloseOnExec(fd)
		l.Listeners = append(l.Listeners, os.NewFile(uintptr(fd), fmt.Sprintf("listener-%d", i)))
	}
	return l, nil
}

// Ready tells the master how start-up went: nil means every listener is served.
func (l *Link) Ready(err error) {
	msg := "ready\n"
	if err != nil {
		msg = "failed " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n"
	}
	l.ipc.Write([]byte(msg))
}

// levelByte and levelOf encode the Runtime API level of a connection handed over the
// private socket in the one data byte that carries its descriptor.
func levelByte(l runtimeapi.Level) byte {
	switch l {
	case runtimeapi.LevelUser:
		return 'u'
	case runtimeapi.LevelOperator:
		return 'o'
	}
	return 'a'
}

func levelOf(b byte) runtimeapi.Level {
	switch b {
	case 'a':
		return runtimeapi.LevelAdmin
	case 'o':
		return runtimeapi.LevelOperator
	}
	return runtimeapi.LevelUser
}

// Serve receives the connections the master hands over and calls serve for each in
// its own goroutine. It returns when the master is gone (its end is closed), which is
// the worker's cue to stop accepting and leave.
func (l *Link) Serve(serve func(c net.Conn, level runtimeapi.Level)) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := l.ipc.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			return
		}
		fds := rights(oob[:oobn])
		for i, fd := range fds {
			if i > 0 {
				unix.Close(fd) // one connection per message
				continue
			}
			f := os.NewFile(uintptr(fd), "master-cli")
			c, err := net.FileConn(f)
			f.Close()
			if err != nil {
				continue
			}
			go serve(c, levelOf(buf[0]))
		}
	}
}

// rights returns the descriptors carried by SCM_RIGHTS messages.
func rights(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var out []int
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err == nil {
			out = append(out, fds...)
		}
	}
	return out
}
