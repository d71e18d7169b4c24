package httpproxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// levelCapture records the level of each access-log line with the line.
type levelCapture struct {
	mu    sync.Mutex // guards lines
	lines []string
}

func (l *levelCapture) Log(level int, msg []byte) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf("%d %s", level, msg))
	l.mu.Unlock()
}

func (l *levelCapture) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// TestLogFormatUniqueIDAndLevels checks a custom log-format line, the unique id sent
// to the server in unique-id-header and logged as %ID, option logasap's '+' marks, and
// option log-separate-errors raising a 503 to level err (3).
func TestLogFormatUniqueIDAndLevels(t *testing.T) {
	var seen sync.Map // unique ids the server received
	be := startBackend(t, httpHandler(func(w io.Writer, req *http.Request) bool {
		seen.Store(req.Header.Get("X-Unique-ID"), true)
		return echoHeaders(w, req)
	}))
	logs := &levelCapture{}
	addr := serveEngineLog(t, `
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:1
    option log-separate-errors
    option logasap
    unique-id-format %{+X}o\ %ci:%cp_%fi:%fp_%rt
    unique-id-header X-Unique-ID
    log-format "%{+Q}o %ID %ci %HM %HU %{-Q}ST %Tt %B %[method] %b/%s %ts"
    use_backend dead if { path /dead }
    default_backend b
backend b
    server s1 `+be.addr+`
backend dead
    server s1 127.0.0.1:1 disabled
`, logs).addr
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for _, path := range []string{"/a?x=1", "/dead"} {
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
		readResponse(t, br, "GET")
	}
	var lines []string
	for i := 0; i < 200 && len(lines) < 2; i++ {
		lines = logs.get()
		if len(lines) < 2 {
			waitShort()
		}
	}
	if len(lines) != 2 {
		t.Fatalf("log lines %q", lines)
	}
	fields := strings.Fields(lines[0])
	// level, %ID, %ci, %HM, %HU, %ST, %Tt, %B, %[method], %b/%s, %ts
	if len(fields) != 11 || fields[0] != "6" || fields[2] != `"127.0.0.1"` || fields[3] != `"GET"` ||
		fields[4] != `"/a?x=1"` || fields[5] != "200" || !strings.HasPrefix(fields[6], "+") ||
		!strings.HasPrefix(fields[7], "+") || fields[8] != `"GET"` || fields[9] != `"b"/"s1"` || fields[10] != "--" {
		t.Errorf("first line %q", lines[0])
	}
	id := strings.Trim(fields[1], `"`)
	if _, ok := seen.Load(id); !ok || !strings.HasPrefix(id, "7F000001:") || !strings.HasSuffix(id, "_0000") {
		t.Errorf("unique id %q not the one the server got (%v)", id, ok)
	}
	if !strings.HasPrefix(lines[1], "3 ") || !strings.Contains(lines[1], " 503 ") || !strings.HasSuffix(lines[1], "_0001\" \"127.0.0.1\" \"GET\" \"/dead\" 503 "+strings.Fields(lines[1])[6]+" "+strings.Fields(lines[1])[7]+` "GET" "dead"/"<NOSRV>" SC`) {
		t.Errorf("503 line %q: want level 3 (err), the next id and SC", lines[1])
	}
}

// discardLog is an access logger that keeps nothing.
type discardLog struct{}

func (discardLog) Log(int, []byte) {}

// TestLogFormatAddsNoAllocation compares the allocations per keep-alive request with
// option httplog and with a custom log-format and unique id: the format costs none.
func TestLogFormatAddsNoAllocation(t *testing.T) {
	beAddr := rawBackend(t)
	measure := func(logLines string) float64 {
		addr := serveEngineLog(t, `
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:1
`+logLines+`
    default_backend b
backend b
    server s1 `+beAddr+`
`, discardLog{}).addr
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		req := []byte("GET /p?q=1 HTTP/1.1\r\nHost: x\r\n\r\n")
		round := func() {
			c.Write(req)
			if err := readFixed(br); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 50; i++ {
			round()
		}
		return testing.AllocsPerRun(500, round)
	}
	plain := measure("    option httplog")
	custom := measure("    unique-id-format %{+X}o\\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid\n    unique-id-header X-Req-ID\n" +
		`    log-format "%{+Q}o %ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %ID %HM %HU %[src] %T %{-Q}r"`)
	t.Logf("allocations per request: httplog %.2f, log-format with unique id %.2f", plain, custom)
	if custom > plain+0.1 {
		t.Errorf("log-format costs %.2f allocations per request more than httplog", custom-plain)
	}
}

func waitShort() { time.Sleep(10 * time.Millisecond) }
