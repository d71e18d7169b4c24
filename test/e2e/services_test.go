package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// service is a real server program started by a test on a free loopback port in a
// temporary directory, stopped by its pid.
type service struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	args []string
	out  *syncBuffer
	uid  int // -1: as the test's user
	done chan struct{}
}

// program finds a server program or skips the test.
func program(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		if _, err := os.Stat(n); err == nil {
			return n
		}
	}
	t.Skipf("%s is not installed (.ci/run installs it from Debian's packages)", names[0])
	return ""
}

func startService(t *testing.T, name string, uid int, args ...string) *service {
	t.Helper()
	s := &service{t: t, name: name, args: args, uid: uid}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *service) start() {
	s.t.Helper()
	s.out = &syncBuffer{}
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if s.uid >= 0 {
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(s.uid), Gid: uint32(s.uid)}}
	}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("%s: %v", s.name, err)
	}
	s.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) {
		c.Wait()
		close(done)
	}(s.cmd, s.done)
}

// stop ends the service by its pid: SIGTERM, then SIGKILL after 10s.
func (s *service) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// waitState waits until show stat says the server of backend is in state (UP or
// DOWN) after a check, with the check status given (any when "").
func waitState(t *testing.T, sock, backend, state, check string, d time.Duration) checkRow {
	t.Helper()
	var row checkRow
	if !waitFor(d, func() bool {
		row = statRows(t, sock)[backend]
		return row.status == state && row.check != "" && row.check != "INI" && (check == "" || row.check == check)
	}) {
		t.Fatalf("%s did not go %s (%s) within %s: %+v", backend, state, check, d, row)
	}
	return row
}

// healthConfig is a hitless config with one backend per check, each with one
// server, checked every 300ms and changing state at the first result.
func healthConfig(sock, fe string, backends ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global\n stats socket %s level admin\ndefaults\n mode tcp\n timeout connect 500ms\n timeout client 5s\n timeout server 5s\n timeout check 1s\nlisten dummy\n bind %s\n server x 127.0.0.1:1\n", sock, fe)
	for _, be := range backends {
		fmt.Fprintf(&b, "backend %s\n default-server check inter 300ms rise 1 fall 1\n", be)
	}
	return b.String()
}

// TestRedisChecks: option redis-check and the master/replica tcp-check recipe
// against real redis-server instances: the replica is DOWN for role:master, a stopped
// master DOWN for both checks, and both come back UP when it returns.
func TestRedisChecks(t *testing.T) {
	redis := program(t, "redis-server")
	dir := t.TempDir()
	mp, rp := freePort(t), freePort(t)
	redisArgs := func(port int, extra ...string) []string {
		d := filepath.Join(dir, fmt.Sprint(port))
		os.MkdirAll(d, 0o755)
		return append([]string{redis, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", d,
			"--save", "", "--appendonly", "no", "--daemonize", "no"}, extra...)
	}
	master := startService(t, "redis master", -1, redisArgs(mp)...)
	startService(t, "redis replica", -1, redisArgs(rp, "--replicaof", "127.0.0.1", fmt.Sprint(mp))...)
	sock, fe := dir+"/s.sock", fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 500ms
    timeout client 5s
    timeout server 5s
    timeout check 1s
    default-server check inter 300ms rise 1 fall 1
listen redis_write
    bind %s
    option tcp-check
    tcp-check connect
    tcp-check send PING\r\n
    tcp-check expect string +PONG
    tcp-check send info\ replication\r\n
    tcp-check expect string role:master
    tcp-check send QUIT\r\n
    tcp-check expect string +OK
    server master 127.0.0.1:%d
backend redis_replica
    option tcp-check
    tcp-check send info\ replication\r\n
    tcp-check expect string role:master
    server replica 127.0.0.1:%d
backend redis_ping
    option redis-check
    server master 127.0.0.1:%d
`, sock, fe, mp, rp, mp)
	startHitless(t, cfg, fe)
	waitSocket(t, sock)
	if r := waitState(t, sock, "redis_write", "UP", "L7OK", 10*time.Second); r.info != "(tcp-check)" {
		t.Fatalf("master: %+v", r)
	}
	if r := waitState(t, sock, "redis_replica", "DOWN", "L7RSP", 10*time.Second); !strings.Contains(r.info, "TCPCHK did not match content 'role:master' at step 2") {
		t.Fatalf("replica: %+v", r)
	}
	if r := waitState(t, sock, "redis_ping", "UP", "L7OK", 10*time.Second); r.info != "Redis server is ok" {
		t.Fatalf("redis-check: %+v", r)
	}
	master.stop()
	// While it shuts down, a check may find the connection closed (L7STS or L7RSP);
	// once it is gone, connections are refused.
	waitState(t, sock, "redis_ping", "DOWN", "L4CON", 5*time.Second)
	waitState(t, sock, "redis_write", "DOWN", "L4CON", 5*time.Second)
	master.start()
	waitState(t, sock, "redis_ping", "UP", "L7OK", 10*time.Second)
	waitState(t, sock, "redis_write", "UP", "L7OK", 10*time.Second)
}

// TestMySQLCheck: option mysql-check against a real MariaDB: UP with the user
// haproxy (no password, as the check logs in), DOWN for a user that may not log in
// (L7STS with the server's message), DOWN when stopped, UP when it returns.
func TestMySQLCheck(t *testing.T) {
	mysqld := program(t, "mariadbd", "/usr/sbin/mariadbd", "mysqld")
	install := program(t, "mariadb-install-db", "mysql_install_db")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if out, err := exec.Command(install, "--no-defaults", "--datadir="+data, "--user=root", "--auth-root-authentication-method=normal",
		"--skip-test-db").CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", install, err, out)
	}
	initFile := filepath.Join(dir, "init.sql")
	os.WriteFile(initFile, []byte("CREATE USER IF NOT EXISTS 'haproxy'@'127.0.0.1';\nCREATE USER IF NOT EXISTS 'haproxy'@'localhost';\n"), 0o644)
	port := freePort(t)
	db := startService(t, "mariadbd", -1, mysqld, "--no-defaults", "--datadir="+data, "--user=root",
		"--port="+fmt.Sprint(port), "--bind-address=127.0.0.1", "--socket="+filepath.Join(dir, "my.sock"),
		"--pid-file="+filepath.Join(dir, "my.pid"), "--init-file="+initFile, "--skip-log-bin", "--innodb-buffer-pool-size=16M")
	sock, fe := dir+"/s.sock", fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := healthConfig(sock, fe) + fmt.Sprintf(`backend galera
    option mysql-check user haproxy
    default-server check inter 300ms rise 1 fall 1
    server db1 127.0.0.1:%d
backend denied
    option mysql-check user nobody
    default-server check inter 300ms rise 1 fall 1
    server db1 127.0.0.1:%d
`, port, port)
	startHitless(t, cfg, fe)
	waitSocket(t, sock)
	if r := waitState(t, sock, "galera", "UP", "L7OK", 30*time.Second); r.info != "" {
		t.Fatalf("mysql-check user haproxy: %+v\n%s", r, db.out.String())
	}
	if r := waitState(t, sock, "denied", "DOWN", "L7STS", 10*time.Second); !strings.Contains(r.info, "Access denied for user 'nobody'") {
		t.Fatalf("mysql-check user nobody: %+v", r)
	}
	db.stop()
	waitState(t, sock, "galera", "DOWN", "L4CON", 10*time.Second)
	db.start()
	waitState(t, sock, "galera", "UP", "L7OK", 30*time.Second)
}

// TestPgSQLCheck: option pgsql-check against a real PostgreSQL (run as nobody, as
// initdb refuses root): UP for a user it trusts, DOWN for a user pg_hba.conf rejects
// (the server's error), DOWN when stopped, UP when it returns.
func TestPgSQLCheck(t *testing.T) {
	bin := "/usr/lib/postgresql/15/bin/"
	postgres := program(t, bin+"postgres", "postgres")
	initdb := program(t, bin+"initdb", "initdb")
	uid := -1
	if os.Getuid() == 0 {
		uid = 65534 // nobody
	}
	dir, err := os.MkdirTemp("", "pgcheck")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	if uid >= 0 {
		os.Chown(dir, uid, uid)
		os.Chmod(dir, 0o755)
	}
	init := exec.Command(initdb, "-D", data, "-U", "postgres", "--auth=trust", "--no-sync")
	if uid >= 0 {
		init.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	// With trust, PostgreSQL authenticates before it looks the role up, so a missing
	// role still gets AuthenticationOk (which the check accepts, as HAProxy's does);
	// a rejecting pg_hba line makes the server answer with an error instead.
	hba := filepath.Join(data, "pg_hba.conf")
	old, _ := os.ReadFile(hba)
	os.WriteFile(hba, append([]byte("host all nobody 127.0.0.1/32 reject\n"), old...), 0o600)
	port := freePort(t)
	pg := startService(t, "postgres", uid, postgres, "-D", data, "-p", fmt.Sprint(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off")
	sock, fe := filepath.Join(t.TempDir(), "s.sock"), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := healthConfig(sock, fe) + fmt.Sprintf(`backend primary
    option pgsql-check user postgres
    default-server check inter 300ms rise 1 fall 1
    server pg1 127.0.0.1:%d
backend norole
    option pgsql-check user nobody
    default-server check inter 300ms rise 1 fall 1
    server pg1 127.0.0.1:%d
`, port, port)
	startHitless(t, cfg, fe)
	waitSocket(t, sock)
	if r := waitState(t, sock, "primary", "UP", "L7OK", 20*time.Second); r.info != "PostgreSQL server is ok" {
		t.Fatalf("pgsql-check user postgres: %+v\n%s", r, pg.out.String())
	}
	if r := waitState(t, sock, "norole", "DOWN", "L7RSP", 10*time.Second); r.info != "FATAL" {
		t.Fatalf("pgsql-check user nobody: %+v", r)
	}
	pg.stop()
	waitState(t, sock, "primary", "DOWN", "L4CON", 10*time.Second)
	pg.start()
	waitState(t, sock, "primary", "UP", "L7OK", 20*time.Second)
}
