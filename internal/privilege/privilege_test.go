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

// recorder is a sys that records each call and fails the one named in fail.
type recorder struct {
	calls []string
	fail  string
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
		setgid: func(g int) error { return rec("setgid", strconv.Itoa(g)) },
		setuid: func(u int) error { return rec("setuid", strconv.Itoa(u)) },
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
