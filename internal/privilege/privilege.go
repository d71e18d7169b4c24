// Package privilege gives up what a process started as root no longer needs once its
// listeners are bound and its log targets open: it enters the `chroot` jail, then drops
// the supplementary groups, the group and the user of `global`. cmd/hitless calls Drop
// once per start, after binding and before serving anything that could be exploited.
package privilege

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// Settings are the `global` lines Drop applies. A zero UID or GID leaves it unchanged,
// as HAProxy does.
type Settings struct {
	Chroot   string
	UID, GID int
}

// sys is every system call Drop makes, so that tests can check the order and the
// errors without being root. Since Go 1.16 the set*id calls apply to every thread.
type sys struct {
	chroot    func(dir string) error
	chdir     func(dir string) error
	setgroups func(gids []int) error
	setgid    func(gid int) error
	setuid    func(uid int) error
	geteuid   func() int
	getgid    func() int
	isDir     func(path string) bool
}

var realSys = sys{
	chroot:    syscall.Chroot,
	chdir:     syscall.Chdir,
	setgroups: syscall.Setgroups,
	setgid:    syscall.Setgid,
	setuid:    syscall.Setuid,
	geteuid:   syscall.Geteuid,
	getgid:    syscall.Getgid,
	isDir: func(p string) bool {
		st, err := os.Stat(p)
		return err == nil && st.IsDir()
	},
}

// Check reports now what would make Drop fail, so that the caller can refuse to start
// before it writes the pidfile or tells an older process to leave: a missing jail, or
// a change of user, group or root that needs root while the process is not root.
func Check(s Settings) error { return check(realSys, s) }

func check(os sys, s Settings) error {
	if s.Chroot != "" && !os.isDir(s.Chroot) {
		return fmt.Errorf("Cannot chroot(%s): no such directory", s.Chroot)
	}
	if os.geteuid() == 0 {
		return nil
	}
	switch {
	case s.Chroot != "":
		return fmt.Errorf("Cannot chroot(%s): only root can, and this process runs as uid %d", s.Chroot, os.geteuid())
	case s.GID != 0 && s.GID != os.getgid():
		return fmt.Errorf("Cannot set gid %d: only root can, and this process runs as uid %d", s.GID, os.geteuid())
	case s.UID != 0 && s.UID != os.geteuid():
		return fmt.Errorf("Cannot set uid %d: only root can, and this process runs as uid %d", s.UID, os.geteuid())
	}
	return nil
}

// Drop applies s: chroot and chdir("/"), then setgroups (none), setgid, setuid, in
// that order (the group must change while the process may still do it). It returns
// HAProxy's words for the first failure; the caller stops the start then.
func Drop(s Settings) error { return drop(realSys, s) }

func drop(os sys, s Settings) error {
	if s.Chroot != "" {
		// Time zone data is read from /etc on first use: load it while /etc is in
		// sight, or every local time after the chroot would be UTC.
		_ = time.Now().Local().Format(time.RFC3339)
		if err := os.chroot(s.Chroot); err != nil {
			return fmt.Errorf("Cannot chroot(%s): %w", s.Chroot, err)
		}
		if err := os.chdir("/"); err != nil {
			return fmt.Errorf("Cannot chroot(%s): %w", s.Chroot, err)
		}
	}
	if os.geteuid() != 0 {
		return nil // Check refused any change that needs root; nothing to do
	}
	if s.GID != 0 {
		if err := os.setgroups([]int{}); err != nil {
			return fmt.Errorf("Cannot drop supplementary groups before setting gid %d: %w", s.GID, err)
		}
		if err := os.setgid(s.GID); err != nil {
			return fmt.Errorf("Cannot set gid %d: %w", s.GID, err)
		}
	}
	if s.UID != 0 {
		if err := os.setuid(s.UID); err != nil {
			return fmt.Errorf("Cannot set uid %d: %w", s.UID, err)
		}
	}
	return nil
}
