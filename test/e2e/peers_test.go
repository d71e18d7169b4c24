package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// peersConfig is one peers section with a local peer a (hitless) and b (HAProxy);
// the stats socket differs per node.
const peersConfig = `
global
    stats socket %s level admin expose-fd listeners
defaults
    timeout client 5s
    timeout server 5s
    timeout connect 5s
peers mypeers
    peer a 127.0.0.1:%d
    peer b 127.0.0.1:%d
    table t_peers type binary len 8 size 100 expire 20s store gpc0
backend st_ip
    stick-table type ip size 1k expire 60s store gpc0,http_req_rate(10s),conn_cur peers mypeers
backend st_str
    stick-table type string len 16 size 1k expire 60s store gpt0,gpc0_rate(5s),conn_cnt,bytes_in_cnt,server_id,server_key peers mypeers
backend st_int
    stick-table type integer size 1k expire 60s store gpt(2),gpc(2),gpc_rate(2,10s) peers mypeers
`

// peerNode is one process of the section.
type peerNode struct {
	name, bin, cfg, sock string
	cmd                  *exec.Cmd
	out                  *syncBuffer
}

func (n *peerNode) start(t *testing.T) {
	t.Helper()
	args := []string{"-f", n.cfg, "-L", n.name}
	if n.bin != binPath {
		args = append([]string{"-db"}, args...)
	}
	n.out = &syncBuffer{}
	n.cmd = exec.Command(n.bin, args...)
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := n.cmd
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !waitFor(5*time.Second, func() bool { _, err := os.Stat(n.sock); return err == nil }) {
		t.Fatalf("%s did not start: %s", n.name, n.out.String())
	}
}

func (n *peerNode) kill() {
	n.cmd.Process.Signal(syscall.SIGKILL)
	n.cmd.Wait()
	os.Remove(n.sock)
}

func (n *peerNode) cli(t *testing.T, cmd string) string { return socketCommand(t, n.sock, cmd) }

// waitKey waits until `show table TABLE key KEY` on n shows want, and returns how
// long it took.
func (n *peerNode) waitKey(t *testing.T, table, key, want string, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	if !waitFor(d, func() bool {
		last = n.cli(t, "show table "+table+" key "+key)
		return strings.Contains(last, want)
	}) {
		t.Fatalf("%s: %s %s did not show %q within %s; last answer:\n%s\nits output:\n%s", n.name, table, key, want, d, last, n.out.String())
	}
	return time.Since(start)
}

func newPeerNodes(t *testing.T) (a, b *peerNode) {
	return peerNodes(t, haproxy(t))
}

// peerNodes makes node a (hitless) and node b (binary bin) of one section.
func peerNodes(t *testing.T, hx string) (a, b *peerNode) {
	dir := t.TempDir()
	pa, pb := freePort(t), freePort(t)
	mk := func(name, bin string) *peerNode {
		n := &peerNode{name: name, bin: bin, sock: filepath.Join(dir, name+".sock"), cfg: filepath.Join(dir, name+".cfg")}
		os.WriteFile(n.cfg, []byte(fmt.Sprintf(peersConfig, n.sock, pa, pb)), 0o644)
		return n
	}
	return mk("a", binPath), mk("b", hx)
}

// settled waits until HAProxy reports its session with hitless established and
// free of collisions for a second (both sides connect at start; the protocol
// resolves the collision with a random delay).
func settled(t *testing.T, b *peerNode) {
	t.Helper()
	stable := 0
	prev := ""
	if !waitFor(15*time.Second, func() bool {
		out := b.cli(t, "show peers")
		i := strings.Index(out, "id=a(remote,active)")
		if i < 0 || !strings.Contains(out[i:], "last_status=ESTA") {
			stable = 0
			return false
		}
		coll := out[i:]
		if j := strings.Index(coll, " coll="); j >= 0 {
			coll = strings.Fields(coll[j:])[0]
		}
		if coll == prev {
			stable++
		} else {
			stable, prev = 0, coll
		}
		return stable >= 10
	}) {
		t.Fatalf("the peers session did not settle:\n%s", b.cli(t, "show peers"))
	}
}

// TestPeersReplicateWithHAProxy: a hitless node and an HAProxy 2.6 node in one
// peers section replicate `set table` both ways within a second, every key type
// and data type of the section included; a restarted node is taught everything.
func TestPeersReplicateWithHAProxy(t *testing.T) {
	a, b := newPeerNodes(t)
	b.start(t)
	b.cli(t, "set table st_ip key 10.0.0.9 data.gpc0 9 data.http_req_rate 3")
	a.start(t)
	// hitless learned b's entry by asking for a resynchronisation at start.
	a.waitKey(t, "st_ip", "10.0.0.9", "gpc0=9 conn_cur=0 http_req_rate(10000)=3", 5*time.Second)
	settled(t, b)

	a.cli(t, "set table st_ip key 10.0.0.1 data.gpc0 5 data.http_req_rate 3")
	if d := b.waitKey(t, "st_ip", "10.0.0.1", "gpc0=5 conn_cur=0 http_req_rate(10000)=3", 2*time.Second); d > time.Second {
		t.Errorf("hitless -> HAProxy took %s", d)
	}
	a.cli(t, "set table st_str key hello data.gpt0 1 data.gpc0_rate 17 data.conn_cnt 3 data.bytes_in_cnt 5000000000 data.server_id -2")
	a.cli(t, "set table st_int key 4660 data.gpc 1 data.gpc_rate 4 data.gpt 7")
	b.waitKey(t, "st_str", "hello", "server_id=-2 gpt0=1 gpc0_rate(5000)=17 conn_cnt=3 bytes_in_cnt=5000000000 server_key=-", 2*time.Second)
	b.waitKey(t, "st_int", "4660", "gpt0=7 gpt1=0 gpc0=1 gpc1=0 gpc0_rate(10000)=4 gpc1_rate(10000)=0", 2*time.Second)

	// show peers: HAProxy's layout, field names and order (values masked).
	shape := func(out string) []string {
		var lines []string
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			var names []string
			for _, w := range f {
				if k, _, ok := strings.Cut(w, "="); ok {
					names = append(names, k)
				}
			}
			if len(names) > 0 {
				lines = append(lines, strings.Join(names, " "))
			}
		}
		return lines
	}
	hlPeers, hxPeers := a.cli(t, "show peers"), b.cli(t, "show peers")
	have := map[string]bool{}
	for _, l := range shape(hxPeers) {
		have[l] = true
	}
	for _, l := range shape(hlPeers) {
		if !have[l] {
			t.Errorf("show peers line with fields %q has no counterpart in HAProxy's:\n%s", l, hxPeers)
		}
	}
	if !strings.Contains(hlPeers, "id=b(remote,active) addr=127.0.0.1:") || !strings.Contains(hlPeers, "last_status=ESTA") || !strings.Contains(hlPeers, "id=a(local,inactive)") {
		t.Errorf("show peers:\n%s", hlPeers)
	}

	b.cli(t, "set table st_ip key 10.0.0.8 data.gpc0 8")
	if d := a.waitKey(t, "st_ip", "10.0.0.8", "gpc0=8", 2*time.Second); d > time.Second {
		t.Errorf("HAProxy -> hitless took %s", d)
	}
	b.cli(t, "set table st_ip key 10.0.0.1 data.gpc0 6")
	a.waitKey(t, "st_ip", "10.0.0.1", "gpc0=6", 2*time.Second)

	// HAProxy killed and restarted: it asks hitless to teach it everything.
	b.kill()
	a.cli(t, "set table st_ip key 10.0.0.2 data.gpc0 2")
	b.start(t)
	b.waitKey(t, "st_ip", "10.0.0.2", "gpc0=2", 10*time.Second)
	b.waitKey(t, "st_ip", "10.0.0.1", "gpc0=6", time.Second)
	b.waitKey(t, "st_str", "hello", "bytes_in_cnt=5000000000", time.Second)
	b.waitKey(t, "st_int", "4660", "gpc0_rate(10000)=4", time.Second)

	// hitless killed and restarted: HAProxy teaches it.
	a.kill()
	b.cli(t, "set table st_ip key 10.0.0.3 data.gpc0 3")
	a.start(t)
	a.waitKey(t, "st_ip", "10.0.0.3", "gpc0=3", 10*time.Second)
	a.waitKey(t, "st_ip", "10.0.0.2", "gpc0=2", time.Second)
	a.waitKey(t, "st_int", "4660", "gpt0=7 gpt1=0 gpc0=1", time.Second)
}

// TestPeersReplicateBetweenHitlessNodes: two hitless nodes of one section replicate
// both ways, and a restarted node is taught everything back.
func TestPeersReplicateBetweenHitlessNodes(t *testing.T) {
	a, b := peerNodes(t, binPath)
	a.start(t)
	b.start(t)
	settled(t, b)
	a.cli(t, "set table st_ip key 10.0.0.1 data.gpc0 5 data.http_req_rate 3")
	if d := b.waitKey(t, "st_ip", "10.0.0.1", "gpc0=5 conn_cur=0 http_req_rate(10000)=3", 2*time.Second); d > time.Second {
		t.Errorf("a -> b took %s", d)
	}
	b.cli(t, "set table st_int key 4660 data.gpc 1 data.gpc_rate 4 data.gpt 7")
	if d := a.waitKey(t, "st_int", "4660", "gpt0=7 gpt1=0 gpc0=1 gpc1=0 gpc0_rate(10000)=4", 2*time.Second); d > time.Second {
		t.Errorf("b -> a took %s", d)
	}
	b.kill()
	a.cli(t, "set table st_str key hello data.bytes_in_cnt 5000000000")
	b.start(t)
	b.waitKey(t, "st_str", "hello", "bytes_in_cnt=5000000000", 10*time.Second)
	b.waitKey(t, "st_ip", "10.0.0.1", "gpc0=5", time.Second)
}

// localPeerConfig is a node whose peers section has the local peer and a remote
// one that is down.
const localPeerConfig = `
global
    stats socket %s level admin expose-fd listeners
defaults
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind %s
    mode http
    http-request return status 200 content-type text/plain string ok
peers mypeers
    peer a 127.0.0.1:%d
    peer b 127.0.0.1:%d
backend st_ip
    stick-table type ip size 1k expire 60s store gpc0,http_req_rate(10s) peers mypeers
`

// TestHitlessTeachesHAProxyOnTakeOver: HAProxy 2.6 takes over from hitless with
// -sf -x; hitless, soft-stopping, connects to the local peer's address (now
// HAProxy's) and teaches it every entry, as an old HAProxy teaches a new one.
func TestHitlessTeachesHAProxyOnTakeOver(t *testing.T) {
	hx := haproxy(t)
	pa, pb := freePort(t), freePort(t)
	r := newReloadSetup(t, func(addr, sock string) string { return fmt.Sprintf(localPeerConfig, sock, addr, pa, pb) })
	p := r.start(t, "-L", "a")
	socketCommand(t, r.sock, "set table st_ip key 10.0.0.1 data.gpc0 5 data.http_req_rate 3;set table st_ip key 10.0.0.2 data.gpc0 7")
	hp := exec.Command(hx, "-f", r.cfg, "-p", r.pidfile, "-D", "-L", "a", "-sf", fmt.Sprint(p.cmd.Process.Pid), "-x", r.sock)
	if out, err := hp.CombinedOutput(); err != nil {
		t.Fatalf("haproxy: %v %s", err, out)
	}
	hpid := r.currentPid()
	t.Cleanup(func() { syscall.Kill(hpid, syscall.SIGKILL) })
	var out string
	if !waitFor(10*time.Second, func() bool {
		out = socketCommand(t, r.sock, "show table st_ip")
		return strings.Contains(out, "used:2")
	}) {
		t.Fatalf("HAProxy after the take-over:\n%s\nhitless:\n%s", out, p.out.String())
	}
	if !strings.Contains(out, "key=10.0.0.1 use=0 exp=") || !strings.Contains(out, "gpc0=5 http_req_rate(10000)=3") || !strings.Contains(out, "gpc0=7") {
		t.Fatalf("HAProxy after the take-over:\n%s", out)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("hitless did not leave:\n%s", p.out.String())
	}
}

// TestPeerSendingGarbageIsDisconnectedAndLogged: a connection to hitless's peers
// port that says hello correctly and then sends bytes of the reserved class gets
// 01 00 and is closed; hitless logs it and goes on replicating with the real peer.
func TestPeerSendingGarbageIsDisconnectedAndLogged(t *testing.T) {
	a, b := peerNodes(t, binPath)
	a.start(t)
	b.start(t)
	settled(t, b)
	var port int
	fmt.Sscanf(strings.SplitN(strings.SplitN(mustRead(t, a.cfg), "peer a 127.0.0.1:", 2)[1], "\n", 2)[0], "%d", &port)
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "HAProxyS 2.1\na\nb 1 1\n")
	c.Write([]byte{0xff, 0x00, 0x0a, 0x82, 0x03, 0x02})
	got, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(got), "200\n") || !strings.HasSuffix(string(got), "\x01\x00") {
		t.Fatalf("answer %q", got)
	}
	if !waitFor(3*time.Second, func() bool { return strings.Contains(a.out.String(), "protocol error") }) {
		t.Fatalf("nothing logged:\n%s", a.out.String())
	}
	// The real b reconnects (its session was replaced by ours) and replication goes on.
	a.cli(t, "set table st_ip key 10.0.0.7 data.gpc0 7")
	b.waitKey(t, "st_ip", "10.0.0.7", "gpc0=7", 10*time.Second)
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
