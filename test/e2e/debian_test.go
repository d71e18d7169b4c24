package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const debianCfg = "testdata/debian-haproxy.cfg"

// TestDebianConfigIsDebians guards the fixture: its first part is, byte for byte,
// Debian 12's /etc/haproxy/haproxy.cfg (when the haproxy package is installed here).
func TestDebianConfigIsDebians(t *testing.T) {
	orig, err := os.ReadFile("/etc/haproxy/haproxy.cfg")
	if err != nil {
		t.Skip("Debian's haproxy.cfg is not installed")
	}
	ours, err := os.ReadFile(debianCfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(ours, orig) {
		t.Fatalf("%s does not start with /etc/haproxy/haproxy.cfg", debianCfg)
	}
}

// TestDebianDefaultConfigServesAsUnprivilegedUser checks Debian's default haproxy.cfg
// with a frontend and a backend appended: `hitless -c` accepts it unchanged, and,
// run as root, the daemon binds, enters its chroot, drops to nobody/nogroup, serves
// traffic, answers the runtime API on the stats socket, and answers a dead backend
// with Debian's 503.http byte for byte.
func TestDebianDefaultConfigServesAsUnprivilegedUser(t *testing.T) {
	if _, err := os.Stat("/etc/haproxy/errors/503.http"); err != nil {
		t.Skip("Debian's /etc/haproxy/errors are not installed")
	}
	app := newBackend(t, "app1", nil)
	www := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	env := append(os.Environ(), "WWW_ADDR="+www, "APP_ADDR="+app.addr)

	check := exec.Command(binPath, "-c", "-f", debianCfg)
	check.Env = env
	out, err := check.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Configuration file is valid") {
		t.Fatalf("hitless -c on Debian's config: %v\n%s", err, out)
	}

	if os.Getuid() != 0 {
		t.Skip("not root: cannot test the chroot and the change of user")
	}
	// Only what must differ per test run changes: the stats socket and the jail go to
	// a temporary directory, and the user to nobody (the haproxy user may not exist).
	dir := t.TempDir()
	jail := filepath.Join(dir, "jail")
	if err := os.Mkdir(jail, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "admin.sock")
	// /dev/log becomes a socket the test reads, outside the jail: the daemon opens it
	// before the chroot and keeps sending to it afterwards.
	logPath := filepath.Join(dir, "log")
	logs, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: logPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	text, err := os.ReadFile(debianCfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer(
		"chroot /var/lib/haproxy", "chroot "+jail,
		"stats socket /run/haproxy/admin.sock", "stats socket "+sock,
		"log /dev/log", "log "+logPath,
		"user haproxy", "user nobody",
		"group haproxy", "group nogroup",
	).Replace(string(text))
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	pidfile := filepath.Join(dir, "hitless.pid")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := exec.CommandContext(ctx, binPath, "-f", cfgPath, "-p", pidfile)
	start.Env = env
	if out, err := start.CombinedOutput(); err != nil {
		t.Fatalf("daemon start: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGTERM)
		if !waitFor(5*time.Second, func() bool { return syscall.Kill(pid, 0) != nil }) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("daemon %d did not stop on SIGTERM", pid)
		}
	})

	// The daemon runs as nobody/nogroup without supplementary groups, inside the jail.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Uid": "65534\t65534\t65534\t65534", "Gid": "65534\t65534\t65534\t65534", "Groups": ""}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		if w, ok := want[k]; ok {
			if strings.TrimSpace(v) != w {
				t.Errorf("daemon's %s: %q, want %q", k, strings.TrimSpace(v), w)
			}
			delete(want, k)
		}
	}
	if len(want) > 0 {
		t.Errorf("/proc/%d/status lacks %v", pid, want)
	}
	if root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); err != nil || root != jail {
		t.Errorf("root of the daemon is %q (%v), want %q", root, err, jail)
	}

	// It serves.
	if code, body, _ := get(t, "http://"+www+"/"); code != 200 || body != "app1" {
		t.Fatalf("GET through Debian's config: %d %q", code, body)
	}
	// The access log (option httplog, local0 info) reaches the socket outside the jail.
	logs.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := logs.Read(buf)
	if err != nil {
		t.Fatalf("no access log line on %s after the chroot: %v", logPath, err)
	}
	if line := string(buf[:n]); !strings.HasPrefix(line, "<134>") || !strings.Contains(line, " www app/app1 ") ||
		!strings.HasSuffix(line, "\"GET / HTTP/1.1\"\n") {
		t.Errorf("access log line %q", line)
	}
	// The runtime API answers on the socket bound before the chroot.
	c, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "show info\n")
	info, _ := io.ReadAll(c)
	c.Close()
	if !strings.Contains(string(info), "Pid: "+strconv.Itoa(pid)+"\n") {
		t.Errorf("show info over %s:\n%s", sock, info)
	}
	// A dead server: Debian's 503.http, read before the chroot, byte for byte.
	app.stop()
	page, _ := os.ReadFile("/etc/haproxy/errors/503.http")
	got := rawExchange(t, www, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 10*time.Second)
	if got != string(page) {
		t.Errorf("dead backend answered %q\nwant /etc/haproxy/errors/503.http: %q", got, page)
	}
}

// TestDebianExampleChecks runs `hitless -c` on examples/debian/hitless.cfg with its
// error files where the example installs them replaced by the copies in examples/, and
// its user by nobody (the hitless user exists only once installed).
func TestDebianExampleChecks(t *testing.T) {
	errors, err := filepath.Abs("../../examples/debian/errors")
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("../../examples/debian/hitless.cfg")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("/etc/hitless/errors", errors, "user hitless", "user nobody", "group hitless", "group nogroup").
		Replace(string(text))
	if n := strings.Count(cfg, errors); n != 7 {
		t.Fatalf("%d error files in the example, want 7", n)
	}
	stdout, stderr, code := runHitless(t, "-c", "-f", writeConfig(t, cfg))
	if code != 0 || !strings.Contains(stdout, "Configuration file is valid") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
}
