package master

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// stateEnv carries the master's state across its own re-execution: the process list,
// the listening sockets and the master CLI sockets, by descriptor number.
const stateEnv = "HITLESS_MASTER_STATE"

// workerEnv tells a process it is a worker and where its descriptors are:
// "ipc=3;state=4;listeners=5:2" (state=-1 when there is no server state to apply).
const workerEnv = "HITLESS_WORKER"

// savedProc is one worker in the saved process list.
type savedProc struct {
	Pid     int    `json:"pid"`
	IPC     int    `json:"ipc"` // the master's end of the worker's private socket
	Reloads int    `json:"reloads"`
	Started int64  `json:"started"` // unix milliseconds
	Version string `json:"version"`
}

// savedCLI is one master CLI socket.
type savedCLI struct {
	FD    int    `json:"fd"`
	Level string `json:"level"`
}

// savedState is what one image of the master hands to the next.
type savedState struct {
	Started   int64       `json:"started"` // unix milliseconds of the first start
	Reloads   int         `json:"reloads"`
	Failed    int         `json:"failed"`
	Binary    string      `json:"binary"`
	Current   int         `json:"current"` // pid of the current worker, 0 when none
	Procs     []savedProc `json:"procs"`
	Listeners []int       `json:"listeners"`
	CLI       []savedCLI  `json:"cli"`
	Crashes   []int64     `json:"crashes,omitempty"` // unix milliseconds of recent crashes
	// Last is a memfd holding what the current worker started from, -1 when none:
	// the next image replaces a crashed worker with it even when its own load failed.
	Last int `json:"last"`
	// StopFD is the read end of a pipe that holds a stop signal received during the
	// hand-over (0 when absent).
	StopFD int `json:"stop,omitempty"`
}

func (s *savedState) encode() string {
	b, _ := json.Marshal(s)
	return string(b)
}

func decodeState(v string) (*savedState, error) {
	var s savedState
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return nil, fmt.Errorf("bad %s: %v", stateEnv, err)
	}
	return &s, nil
}

// workerFDs is the parsed value of workerEnv.
type workerFDs struct {
	ipc, state     int
	first, nlisten int
}

func (w workerFDs) String() string {
	return fmt.Sprintf("ipc=%d;state=%d;listeners=%d:%d", w.ipc, w.state, w.first, w.nlisten)
}

func parseWorkerFDs(v string) (workerFDs, error) {
	w := workerFDs{ipc: -1, state: -1}
	seen := 0
	for _, part := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return w, fmt.Errorf("bad %s %q", workerEnv, v)
		}
		var err error
		switch k {
		case "ipc":
			w.ipc, err = strconv.Atoi(val)
			seen++
		case "state":
			w.state, err = strconv.Atoi(val)
		case "listeners":
			a, b, _ := strings.Cut(val, ":")
			if w.first, err = strconv.Atoi(a); err == nil {
				w.nlisten, err = strconv.Atoi(b)
			}
		default:
			err = fmt.Errorf("unknown field %q", k)
		}
		if err != nil {
			return w, fmt.Errorf("bad %s %q: %v", workerEnv, v, err)
		}
	}
	if seen == 0 || w.ipc < 0 || w.nlisten < 0 || (w.nlisten > 0 && w.first < 0) {
		return w, fmt.Errorf("bad %s %q", workerEnv, v)
	}
	return w, nil
}

// setInheritable clears or sets close-on-exec on a descriptor.
func setInheritable(fd int, inherit bool) error {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		return err
	}
	if inherit {
		flags &^= unix.FD_CLOEXEC
	} else {
		flags |= unix.FD_CLOEXEC
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags)
	return err
}

// childEnv is the environment for a process the master starts: its own, without the
// variables that belong to the master only, plus extra.
func childEnv(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case stateEnv, workerEnv, "NOTIFY_SOCKET", "HITLESS_DAEMON_CHILD":
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

// Reexecuted reports whether this process is a master that re-executed itself for a
// reload (and so must not daemonize again, and survives a broken configuration).
func Reexecuted() bool {
	_, ok := os.LookupEnv(stateEnv)
	return ok
}
