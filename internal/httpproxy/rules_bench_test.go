package httpproxy

import (
	"net/netip"
	"strings"
	"testing"

	"hitless/internal/http1"
)

// ruleSet is 20 ACLs and 10 rules of the kinds real configurations use; none of them
// answers the benchmark's request, so every one is evaluated.
var ruleSet = []string{
	"acl is_api path_beg /api/", "acl is_static path_end .css .js .png", "acl host_a hdr(host) -i a.example.com",
	"acl host_b hdr_dom(host) -i example.org", "acl local src 127.0.0.0/8 ::1", "acl lan src 10.0.0.0/8 192.168.0.0/16",
	"acl get method GET HEAD", "acl post method POST", "acl has_auth req.hdr(authorization) -m found",
	"acl bad_ua hdr_sub(user-agent) -i sqlmap nikto", "acl long_uri url_len gt 2048", "acl q_debug url_param(debug) 1",
	"acl cook_sid req.cook(sid) -m found", "acl v1 path_reg ^/v1/", "acl json hdr(accept) -m sub json",
	"acl port_ok dst_port 1:65535", "acl xff req.hdr_cnt(x-forwarded-for) gt 3", "acl h11 req.ver 1.1",
	"acl lower_host hdr(host),lower -m end .com", "acl dir_img path_dir img",
	"http-request deny if bad_ua || long_uri", "http-request deny if xff", "http-request set-var(txn.host) req.hdr(host),lower",
	"http-request set-var(txn.api) bool(1) if is_api", "http-request set-header X-Client %[src]",
	"http-request set-header X-Host %[var(txn.host)] if lower_host", "http-request del-header X-Debug unless q_debug",
	"http-request redirect scheme https if !local !lan !port_ok", "http-request add-header X-Static 1 if is_static || dir_img",
	"http-request set-header X-Kind api if is_api get h11 json !post !has_auth !cook_sid !v1 host_a !host_b",
}

// TestRulesAllocateNothing runs a request through the 20 ACLs and 10 rules.
func TestRulesAllocateNothing(t *testing.T) {
	te := serveEngine(t, listenConfig("127.0.0.1:9", ruleSet...))
	s := &session{e: te.e, fe: te.st.Frontends[0], src: netip.MustParseAddrPort("127.0.0.1:40000"),
		dst: netip.MustParseAddrPort("127.0.0.1:8080")}
	s.vars.Proc = te.st.Vars
	head := []byte("GET /api/users?id=3 HTTP/1.1\r\nHost: A.Example.COM\r\nUser-Agent: curl/8\r\nAccept: application/json\r\n\r\n")
	if err := http1.ParseRequest(head, &s.req); err != nil {
		t.Fatal(err)
	}
	run := func() {
		s.smp.Reset(s)
		s.arena, s.edits = s.arena[:0], s.edits[:0]
		s.vars.EndTxn()
		if done, _ := s.applyRules(s.fe.Cfg, head); done {
			t.Fatal("a rule answered")
		}
	}
	run()
	if got := fmtEdits(s.edits); got != "X-Client=127.0.0.1 X-Host=a.example.com -X-Debug X-Kind=api" {
		t.Fatalf("edits %s", got)
	}
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("%v allocations per request through 20 ACLs and 10 rules", n)
	}
}

func fmtEdits(es []edit) string {
	var out []string
	for _, e := range es {
		if e.add {
			out = append(out, e.name+"="+string(e.value))
		} else {
			out = append(out, "-"+e.name)
		}
	}
	return strings.Join(out, " ")
}

// BenchmarkEngineRules is BenchmarkEngine with the 20 ACLs and 10 rules: compare the
// two for the cost of the rule language on a keep-alive request.
func BenchmarkEngineRules(b *testing.B) {
	te := serveEngine(b, listenConfig(rawBackend(b), append([]string{"option forwardfor"}, ruleSet...)...))
	keepAliveLoad(b, te.addr)
}
