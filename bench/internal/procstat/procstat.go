// Package procstat reads a process's CPU time and resident memory from /proc, for the
// benchmarks in bench/ that put hitless and HAProxy side by side (CPU time per
// operation, not wall time alone).
package procstat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat; it is 100
// on Linux.
const clockTicks = 100

// CPU is the user and system CPU time of pid (all threads), in seconds.
func CPU(pid int) (user, sys float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, 0, errors.New("malformed utime/stime in /proc stat")
	}
	return ut / clockTicks, st / clockTicks, nil
}

// CPUSeconds is user plus system CPU time of pid, in seconds.
func CPUSeconds(pid int) (float64, error) {
	u, s, err := CPU(pid)
	return u + s, err
}

// RSSKB is the resident memory (VmRSS) of pid in kB; 0 when it cannot be read.
func RSSKB(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			if fs := strings.Fields(v); len(fs) > 0 {
				n, _ := strconv.ParseInt(fs[0], 10, 64)
				return n
			}
		}
	}
	return 0
}
