package logformat

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"hitless/internal/http1"
	"hitless/internal/sample"
)

func sampleEntry() *Entry {
	accept := time.Unix(0x6B06AF05, 442e6).UTC()
	return &Entry{
		ClientIP: netip.MustParseAddr("127.0.0.1"), ClientPort: 35334,
		FrontendAddr: netip.MustParseAddrPort("127.0.0.1:18510"),
		Accept:       accept, Request: accept,
		Frontend: "fe", Backend: "be", Server: "s1",
		ServerAddr: netip.MustParseAddrPort("127.0.0.1:18511"),
		BackendSrc: netip.MustParseAddrPort("127.0.0.1:40000"),
		TR:         0, Tw: 0, Tc: 1000 * time.Millisecond, Tr: 2 * time.Millisecond, Ta: 1002 * time.Millisecond, Tt: 1002 * time.Millisecond,
		Status: 200, Bytes: 116, BytesIn: 58, ActConn: 1, FeConn: 1, Retries: 1,
		RequestLine: "GET /p/a?q=1 HTTP/1.1",
		UniqueID:    []byte("7F000001:8A06_7F000001:484E_6B06AF05_0000:0866"),
		PID:         2150, Host: "vm",
		Smp: sample.NewCtx(&sample.Static{SrcAddr: netip.MustParseAddrPort("127.0.0.1:35334"), DstAddr: netip.MustParseAddrPort("127.0.0.1:18510"), Req: request("GET /p/a?q=1 HTTP/1.1\r\nHost: x\r\n\r\n")}),
	}
}

func request(raw string) *http1.Request {
	r := &http1.Request{}
	if err := http1.ParseRequest([]byte(raw), r); err != nil {
		panic(err)
	}
	return r
}

// TestAppendMatchesHAProxy writes the formats of a HAProxy 2.6.12 capture (the test
// in internal/logging compares live; these lines were sent by haproxy for the same
// values) and checks each byte.
func TestAppendMatchesHAProxy(t *testing.T) {
	tests := []struct{ format, want string }{
		{"A|%B|%CC|%CS|%HM|%HP|%HPO|%HQ|%HU|%HV|%ID|%ST|%Ta|%Tc|%Td|%Th|%Ti|%Tq|%TR|%Tr|%Tt|%Tu|%Tw|%U|%ac|%b|%bc|%bq|%ci|%cp|%f|%fc|%fi|%fp|%ft|%hr|%hs|%hrl|%hsl|%ms|%r|%rc|%s|%sc|%si|%sp|%sq|%sslc|%sslv|%ts|%tsc|%[src]|%[method]|%[dst_port]|%{+X}ci|%{+X}cp|%{+X}Ts|%bi| %hr  %hs x %%",
			"A|116|-|-|GET|/p/a|/p/a|?q=1|/p/a?q=1|HTTP/1.1|7F000001:8A06_7F000001:484E_6B06AF05_0000:0866|200|1002|1000|0|0|0|0|0|2|1002|1002|0|58|1|be|0|0|127.0.0.1|35334|fe|1|127.0.0.1|18510|fe|||||442|GET /p/a?q=1 HTTP/1.1|1|s1|0|127.0.0.1|18511|0|-|-|--|----|127.0.0.1|GET|18510|7F000001|8A06|6B06AF05|127.0.0.1| x %"},
		{"%{+Q}o|%B|%CC|%HM|%HU|%ID|%ST|%ci|%cp|%b|%ft|%r|%s|%si|%ts|%[src]|%{-Q}r|%[method]|%bi|%H",
			`|116|""|"GET"|"/p/a?q=1"|"7F000001:8A06_7F000001:484E_6B06AF05_0000:0866"|200|"127.0.0.1"|35334|"be"|"fe"|"GET /p/a?q=1 HTTP/1.1"|"s1"|"127.0.0.1"|--|"127.0.0.1"|GET /p/a?q=1 HTTP/1.1|"GET"|"127.0.0.1"|"vm"`},
		{"%{+X}o %ci:%cp_%fi:%fp_%Ts_%rt:%pid", "7F000001:8A06_7F000001:484E_6B06AF05_0000:0866"},
	}
	e := sampleEntry()
	for _, tt := range tests {
		f, err := Parse(tt.format)
		if err != nil {
			t.Fatalf("%q: %v", tt.format, err)
		}
		if got := string(f.Append(nil, e)); got != tt.want {
			t.Errorf("%q:\ngot  %q\nwant %q", tt.format, got, tt.want)
		}
	}
}

// TestDefaultFormats checks that HAProxy's log-format strings for option httplog and
// option tcplog give what the hand-written AppendHTTPLog and AppendTCPLog give.
func TestDefaultFormats(t *testing.T) {
	entries := []*Entry{sampleEntry(), {Frontend: "nobe", Tw: -1, Tc: -1, Tt: 3 * time.Millisecond, TR: -1, Tr: -1, Ta: -1,
		Term: [2]byte{'S', 'C'}, Accept: time.Unix(1700000000, 5e6), RequestLine: `<BADREQ>`}}
	entries[0].Term = [2]byte{'c', 'D'}
	entries[0].RequestLine = `GET /a?b="q"&c=` + "\x01 HTTP/1.1"
	for name, c := range map[string]struct {
		format string
		fn     func([]byte, *Entry) []byte
	}{"httplog": {HTTPLog, AppendHTTPLog}, "tcplog": {TCPLog, AppendTCPLog}} {
		f, err := Parse(c.format)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if got, want := string(f.Append(nil, e)), string(c.fn(nil, e)); got != want {
				t.Errorf("%s:\nlog-format %q\nbuilt-in   %q", name, got, want)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ format, err string }{
		{"%zz", "no such format variable 'zz'. If you wanted to emit the '%' character verbatim, you need to use '%%'."},
		{"50%", "truncated line after '%'."},
		{"%{+Q", "truncated line after '+Q'."},
		{"%[src", "missing ']' after 'src'."},
		{"%[req.hdr(host)]", "sample fetch <req.hdr(host)]> may not be reliably used here because it needs 'HTTP request headers' which is not available here."},
		{"%[path]", "needs 'HTTP request headers'"},
		{"%[foo]", "failed to parse sample expression <foo]> : unknown fetch method 'foo'."},
		{"%[src,nope]", "failed to parse sample expression <src,nope]> : unknown converter 'nope'."},
		{"%[res.hdr(x)]", "needs 'HTTP response headers'"},
		{"%lc", "no such format variable 'lc'"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.format)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%q: err %v, want %q", tt.format, err, tt.err)
		}
	}
	for format, http := range map[string]string{"%ci %HM %r": "%HM", "%ci %[method]": "%[method]", "%ci %B": ""} {
		f, err := Parse(format)
		if err != nil || f.NeedsHTTP() != http {
			t.Errorf("%q: NeedsHTTP %q, %v; want %q", format, f.NeedsHTTP(), err, http)
		}
	}
}

func TestFlagsAndSeparators(t *testing.T) {
	e := sampleEntry()
	e.Server = `a"b]c\d`
	tests := []struct{ format, want string }{
		{"%{+E}s", `a\"b\]c\\d`},
		{"%{+Q,+E}s", `"a\"b\]c\\d"`},
		{"%{+Z}s", `a"b]c\d`}, // unknown flags are ignored, as in HAProxy
		{"  %hr  x", "x"},     // no leading space; separators merge
		{"x  %hr  ", "x "},
		{"%{+Q}o %{-Q}ci %ci", `127.0.0.1 "127.0.0.1"`},
		{"%Ts %{+X}pid %{+X}rt", "1795600133 0866 0000"},
		{"%T|%trg", "25/Nov/2026:09:48:53 +0000|25/Nov/2026:09:48:53 +0000"},
	}
	for _, tt := range tests {
		f, err := Parse(tt.format)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(f.Append(nil, e)); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.format, got, tt.want)
		}
	}
	e.Partial = true
	f, _ := Parse("%Tt %B")
	if got := string(f.Append(nil, e)); got != "+1002 +116" {
		t.Errorf("logasap: %q", got)
	}
}

func TestExpressions(t *testing.T) {
	e := sampleEntry()
	for format, want := range map[string]string{
		"%[src,ipmask(24)] %[dst_port,add(1)]":           "127.0.0.0 18511",
		"%{+Q}[method,lower] %{+X}[int(255)] %[fe_name]": "\"get\" 000000FF -",
		"%[str(a b),upper]|%[var(txn.nope)]":             "A B|-",
	} {
		f, err := Parse(format)
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if got := string(f.Append(nil, e)); got != want {
			t.Errorf("%s: %q, want %q", format, got, want)
		}
	}
	f, err := ParseAt("%[req.hdr(host)]", sample.AtFEHReq, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(f.Append(nil, e)); got != "x" {
		t.Errorf("header value: %q", got)
	}
}

func TestAppendAllocatesNothing(t *testing.T) {
	f, err := Parse("%{+Q}o %ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %ID %{+X}Ts %HM %HU %[src] %T %Tl %{-Q}r %[src,ipmask(16)] %[method,lower]")
	if err != nil {
		t.Fatal(err)
	}
	e := sampleEntry()
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf = f.Append(buf[:0], e) }); n != 0 {
		t.Fatalf("%v allocations per line", n)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{HTTPLog, TCPLog, CLFLog, "%{+Q,+E}o [x@1 a=%ci]", "%[src", "%{", "%%%", "%{+X}o %ci:%cp_%Ts"} {
		f.Add(s)
	}
	e := sampleEntry()
	f.Fuzz(func(t *testing.T, s string) {
		fm, err := Parse(s)
		if err != nil {
			return
		}
		out := fm.Append(nil, e)
		if len(out) > 64*len(s)+64 {
			t.Fatalf("%d bytes from a %d-byte format", len(out), len(s))
		}
	})
}
