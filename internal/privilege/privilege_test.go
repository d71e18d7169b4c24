package privilege

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// recorder is a sys that records each call and fails the one named in fail; it runs
// as euid (0 unless set) with the directories in dirs.
type recorder struct {
	calls []string
	fail  string
	euid  int
	dirs  map[string]bool
}

func (r *recorder) sys() sys {
	rec := func(name string, arg string) error {
		r.calls = append(r.calls, name+"("+arg+")")
		if name == r.fail {
			return syscall.EPERM
		}
		return nil
	}
	return sys{
		chroot: func(d string) error { return rec("chroot", d) },
		chdir:  func(d string) error { return rec("chdir", d) },
		setgroups: func(g []int) error {
			return rec("setgroups", strconv.Itoa(len(g)))
		},
		setgid:  func(g int) error { return rec("setgid", strconv.Itoa(g)) },
		setuid:  func(u int) error { return rec("setuid", strconv.Itoa(u)) },
		geteuid: func() int { return r.euid },
		getgid:  func() int { return 1000 },
		isDir:   func(p string) bool { return r.dirs[p] },
	}
}

func TestDropOrderAndErrors(t *testing.T) {
	cases := []struct {
		name  string
		s     Settings
		fail  string
		calls string
		err   string
	}{
		{"nothing", Settings{}, "", "", ""},
		{"all", Settings{Chroot: "/var/empty", UID: 65534, GID: 65534}, "",
			"chroot(/var/empty) chdir(/) setgroups(0) setgid(65534) setuid(65534)", ""},
		{"user only", Settings{UID: 33}, "", "setuid(33)", ""},
		{"group only", Settings{GID: 33}, "", "setgroups(0) setgid(33)", ""},
		{"chroot fails", Settings{Chroot: "/nope", UID: 1}, "chroot", "chroot(/nope)", "Cannot chroot(/nope): operation not permitted"},
		{"setgid fails", Settings{UID: 1, GID: 2}, "setgid", "setgroups(0) setgid(2)", "Cannot set gid 2: operation not permitted"},
		{"setuid fails", Settings{UID: 1, GID: 2}, "setuid", "setgroups(0) setgid(2) setuid(1)", "Cannot set uid 1: operation not permitted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &recorder{fail: c.fail}
			err := drop(r.sys(), c.s)
			if got := strings.Join(r.calls, " "); got != c.calls {
				t.Errorf("calls %q, want %q", got, c.calls)
			}
			if (err == nil) != (c.err == "") || err != nil && err.Error() != c.err {
				t.Errorf("err %v, want %q", err, c.err)
			}
			if err != nil && !errors.Is(err, syscall.EPERM) {
				t.Errorf("error does not wrap the cause: %v", err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name string
		euid int
		s    Settings
		err  string
	}{
		{"root, jail exists", 0, Settings{Chroot: "/jail", UID: 65534, GID: 65534}, ""},
		{"root, no jail", 0, Settings{Chroot: "/nope"}, "Cannot chroot(/nope): no such directory"},
		{"user, nothing asked", 1000, Settings{}, ""},
		{"user, same ids", 1000, Settings{UID: 1000, GID: 1000}, ""},
		{"user, chroot", 1000, Settings{Chroot: "/jail"}, "Cannot chroot(/jail): only root can, and this process runs as uid 1000"},
		{"user, other gid", 1000, Settings{GID: 33}, "Cannot set gid 33: only root can"},
		{"user, other uid", 1000, Settings{UID: 33}, "Cannot set uid 33: only root can"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &recorder{euid: c.euid, dirs: map[string]bool{"/jail": true}}
			err := check(r.sys(), c.s)
			if (err == nil) != (c.err == "") || err != nil && !strings.HasPrefix(err.Error(), c.err) {
				t.Errorf("err %v, want %q", err, c.err)
			}
		})
	}
	// Not root and nothing to change: Drop makes no call that would fail.
	r := &recorder{euid: 1000}
	if err := drop(r.sys(), Settings{UID: 1000, GID: 1000}); err != nil || len(r.calls) != 0 {
		t.Errorf("drop as the same user: %v, calls %q", err, r.calls)
	}
}

// TestDropForReal re-runs the test binary as a child that drops to nobody inside a
// chroot and reports what it became; it needs root.
func TestDropForReal(t *testing.T) {
	if os.Getenv("PRIVILEGE_CHILD") != "" {
		uid, _ := strconv.Atoi(os.Getenv("PRIVILEGE_UID"))
		if err := Drop(Settings{Chroot: os.Getenv("PRIVILEGE_CHILD"), UID: uid, GID: uid}); err != nil {
			os.Stdout.WriteString("error: " + err.Error())
			os.Exit(1)
		}
		wd, _ := os.Getwd()
		_, statErr := os.Stat("/marker")
		os.Stdout.WriteString(strconv.Itoa(os.Getuid()) + " " + strconv.Itoa(os.Getgid()) + " " + wd + " " +
			strconv.FormatBool(statErr == nil))
		os.Exit(0)
	}
	if os.Getuid() != 0 {
		t.Skip("needs root to chroot and change user")
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/marker", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDropForReal$")
	cmd.Env = append(os.Environ(), "PRIVILEGE_CHILD="+dir, "PRIVILEGE_UID=65534")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	if string(out) != "65534 65534 / true" {
		t.Errorf("child reports %q, want uid, gid 65534, cwd / and the marker at the jail's root", out)
	}
}
