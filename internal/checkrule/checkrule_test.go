package checkrule

import (
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		line string
		err  string // substring; "" = valid
	}{
		{"tcp-check send PING\\r\\n", ""},
		{"tcp-check send", "expects a string"},
		{"tcp-check send a b", "unexpected argument 'b'"},
		{"tcp-check send a comment c", ""},
		{"tcp-check send-binary 50494e47", ""},
		{"tcp-check send-binary 5049zz", "invalid hexa-string"},
		{"tcp-check send-lf %[res.nope]", "unknown fetch method 'res.nope'"},
		{"tcp-check send-lf %ci", "not supported in a health check"},
		{"tcp-check expect string +PONG", ""},
		{"tcp-check expect ! string +PONG", ""},
		{"tcp-check expect !string +PONG", ""},
		{"tcp-check expect min-recv 4 rstring ^2[0-9]{2}", ""},
		{"tcp-check expect rstring (", "regex"},
		{"tcp-check expect binary 2b50", ""},
		{"tcp-check expect binary 2b5", "invalid hexa-string"},
		{"tcp-check expect status 200", "expects 'min-recv'"},
		{"tcp-check expect string", "expects <pattern>"},
		{"tcp-check expect", "expects a pattern type"},
		{"tcp-check expect string x error-status L7OK", "only supports 'L7OKC', 'L7RSP', 'L7STS', 'L6RSP', 'L4CON'"},
		{"tcp-check expect string x ok-status L6OK tout-status L6TOUT error-status L6RSP", ""},
		{"tcp-check expect string x on-success %[res.payload(0,3)] status-code res.payload(0,3)", ""},
		{"tcp-check expect string x status-code res.payload(a,3)", "expects an integer"},
		{"tcp-check expect min-recv x string a", "expects an integer"},
		{"tcp-check connect port 6379 linger comment c", ""},
		{"tcp-check connect port 0", "valid TCP port"},
		{"tcp-check connect addr 10.0.0.1 send-proxy", ""},
		{"tcp-check connect addr db.example", "expects an IP address"},
		{"tcp-check connect ssl", "'ssl' is not supported yet"},
		{"tcp-check connect bogus", "expects 'comment', 'port'"},
		{"tcp-check comment hello", ""},
		{"tcp-check set-var(check.x) str(a)", ""},
		{"tcp-check set-var-fmt(check.x) %[str(a)]b", ""},
		{"tcp-check unset-var(check.x)", ""},
		{"tcp-check set-var(txn.x) str(a)", "only the 'proc', 'sess' and 'check' scopes"},
		{"tcp-check set-var(check.x,ifnotempty) str(a)", "conditions are not supported yet"},
		{"tcp-check bogus", "expects 'comment', 'connect', 'send'"},
		{"http-check send meth GET uri /x ver HTTP/1.1 hdr Host a body b", ""},
		{"http-check send hdr Host", "expects 2 argument"},
		{"http-check send bogus", "expects 'comment', 'meth'"},
		{"http-check expect status 200-399,404", ""},
		{"http-check expect status 99", "invalid status code"},
		{"http-check expect rstatus ^5", ""},
		{"http-check expect hdr name x-a value -m beg b", ""},
		{"http-check expect fhdr name -m reg ^x- value -m sub y", ""},
		{"http-check expect hdr value x", "expects 'name'"},
		{"http-check expect hdr name x-a value -m foo b", "'-m' expects"},
		{"http-check expect binary 00", "expects 'min-recv'"},
		{"http-check send-lf x", "'http-check' expects"},
	}
	for _, tt := range tests {
		_, err := Parse(strings.Fields(tt.line))
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.line, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: got %v, want an error with %q", tt.line, err, tt.err)
		}
	}
}

// TestEval: expectations on received bytes, as HAProxy evaluates them (waiting for
// more data while a mismatch may still turn into a match).
func TestEval(t *testing.T) {
	tests := []struct {
		line string
		buf  string
		last bool
		want string // wait, ok, or the failure status and info
	}{
		{"expect string +PONG", "+PO", false, "wait"},
		{"expect string +PONG", "+PONG\r\n", false, "ok"},
		{"expect string +PONG", "-ERR", false, "wait"},
		{"expect string +PONG", "-ERR\r\n", true, "L7RSP TCPCHK did not match content '+PONG' at step 1"},
		{"expect string +PONG", "", true, "L7RSP TCPCHK got an empty response at step 1"},
		{"expect string +PONG", "", false, "wait"},
		{"expect min-recv 4 rstring ^2", "220 ", false, "ok"},
		{"expect min-recv 4 rstring ^2", "22", false, "wait"},
		{"expect min-recv 4 rstring ^2", "554 ", false, "L7RSP TCPCHK did not match content (regex) at step 1"},
		{"expect rstring ^a", "b\x00a", true, "L7RSP TCPCHK did not match content (regex) at step 1"},
		{"expect rbinary ^2B50", "+PONG", false, "ok"},
		{"expect ! string ERR", "-ERR", false, "L7RSP TCPCHK matched unwanted content 'ERR' at step 1"},
		{"expect ! string ERR", "+OK", true, "ok"},
		{"expect string x error-status L7STS on-error %[res.payload(0,0),cut_crlf]", "bad\r\nmore", true, "L7STS bad"},
		{"expect binary-lf %[str(+P),hex]", "+PONG", false, "ok"},
		{"expect string-lf %[str(ON)]", "+PONG", false, "ok"},
	}
	for _, tt := range tests {
		r, err := Parse(append([]string{"tcp-check"}, strings.Fields(tt.line)...))
		if err != nil {
			t.Fatalf("%s: %v", tt.line, err)
		}
		rs := &Ruleset{Kind: "tcp-check", Rules: []*Rule{r}}
		v := rs.Eval(r, &Env{Buf: []byte(tt.buf)}, tt.last)
		got := "ok"
		switch {
		case v.Wait:
			got = "wait"
		case !v.OK:
			got = v.Status + " " + v.Info
		}
		if got != tt.want {
			t.Errorf("%s on %q (last %v): %q, want %q", tt.line, tt.buf, tt.last, got, tt.want)
		}
	}
}

// TestFinish: the implicit connect and, for http-check, the request of option httpchk
// and the implicit expect.
func TestFinish(t *testing.T) {
	rs := &Ruleset{Kind: "http-check"}
	for _, l := range []string{"http-check comment c", "http-check send hdr Host x"} {
		r, err := Parse(strings.Fields(l))
		if err != nil {
			t.Fatal(err)
		}
		rs.Rules = append(rs.Rules, r)
	}
	if err := rs.Finish(&HTTPRequest{Method: "GET", URI: "/h", Version: "HTTP/1.1"}); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range rs.Rules {
		kinds = append(kinds, []string{"connect", "send", "expect", "comment", "set-var", "unset-var"}[r.Action])
	}
	if got := strings.Join(kinds, " "); got != "comment connect send expect" {
		t.Fatalf("rules %s", got)
	}
	if got := string(rs.Rules[2].Send.HTTP.Request(&Env{}, nil)); got != "GET /h HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n" {
		t.Fatalf("request %q", got)
	}
	if rs.Rules[2].Comment != "c" || Step(rs.Rules[1]) != 0 {
		t.Fatalf("comment %q, connect step %d", rs.Rules[2].Comment, Step(rs.Rules[1]))
	}
	bad := &Ruleset{Kind: "tcp-check"}
	for _, l := range []string{"tcp-check send x", "tcp-check connect port 1"} {
		r, _ := Parse(strings.Fields(l))
		bad.Rules = append(bad.Rules, r)
	}
	if err := bad.Finish(nil); err == nil || !strings.Contains(err.Error(), "first step MUST also be a 'connect'") {
		t.Fatalf("connect after send: %v", err)
	}
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		in       string
		last     bool
		status   int
		reason   string
		body     string
		complete bool
		err      bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 200, "OK", "ok", true, false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok", false, 200, "OK", "ok", false, false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3\r\nyes\r\n0\r\n\r\n", false, 200, "OK", "okyes", true, false},
		{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", false, 204, "No Content", "", true, false},
		{"HTTP/1.0 200 OK", true, 200, "OK", "", true, false},
		{"HTTP/1.0 200 OK", false, 0, "", "", false, false},
		{"HTTP/1.1 404\r\n\r\n", true, 404, "", "", true, false},
		{"HTTP/1.1 2000 OK\r\n\r\n", false, 0, "", "", false, true},
		{"HTTP/2 200\r\n\r\n", false, 0, "", "", false, true},
		{"SSH-2.0-OpenSSH\r\n", false, 0, "", "", false, true},
		{"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", false, 0, "", "", false, true},
	}
	for _, tt := range tests {
		r, complete, err := ParseResponse([]byte(tt.in), tt.last)
		if (err != nil) != tt.err {
			t.Errorf("%q: err %v", tt.in, err)
			continue
		}
		if r == nil {
			if tt.status != 0 {
				t.Errorf("%q: no response", tt.in)
			}
			continue
		}
		if r.Status != tt.status || r.Reason != tt.reason || string(r.Body) != tt.body || complete != tt.complete {
			t.Errorf("%q: %d %q %q %v", tt.in, r.Status, r.Reason, r.Body, complete)
		}
	}
}

// FuzzParse feeds rule lines to the parser: it returns a rule or an error, never
// panics, and a rule it returns evaluates on any bytes without panicking.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"tcp-check expect string +PONG", "tcp-check expect ! rstring ^E min-recv 5 on-error %[res.payload(6,0)]",
		"tcp-check expect rbinary ^1[56] min-recv 5 ok-status L6OK", "http-check expect hdr name x value -m reg ^a",
		"http-check expect status 200-399", "tcp-check send-binary-lf %[date(),htonl,hex]00",
		"tcp-check expect string x status-code res.payload(0,3) on-success %[res.payload(4,0),ltrim(' '),cut_crlf]",
		"tcp-check set-var(check.a) res.payload(0,2),upper",
	} {
		f.Add(s, []byte("220 hello\r\n"))
	}
	f.Fuzz(func(t *testing.T, line string, buf []byte) {
		r, err := Parse(strings.Fields(line))
		if err != nil {
			return
		}
		if r == nil {
			t.Fatal("nil rule without error")
		}
		kind := "tcp-check"
		if strings.HasPrefix(line, "http-check") {
			kind = "http-check"
		}
		rs := &Ruleset{Kind: kind, Rules: []*Rule{r}}
		env := &Env{Buf: buf, Vars: map[string]Value{}}
		switch r.Action {
		case Expect:
			rs.Eval(r, env, false)
			rs.Eval(r, env, true)
			rs.Success(r, env)
		case Send:
			if r.Send.Format != nil {
				r.Send.Format.Render(env)
			}
			if r.Send.HTTP != nil {
				fill(r.Send.HTTP)
				r.Send.HTTP.Request(env, nil)
			}
		case SetVar:
			if r.Var.Expr != nil {
				r.Var.Expr.Eval(env)
			}
		}
	})
}

// FuzzParseResponse: any bytes parse to a response or an error, never a panic, and a
// response's body is within what was received.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), true)
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\nx"), false)
	f.Fuzz(func(t *testing.T, b []byte, last bool) {
		r, _, err := ParseResponse(b, last)
		if err == nil && r != nil && len(r.Body) > len(b) {
			t.Fatalf("body of %d bytes from %d", len(r.Body), len(b))
		}
	})
}

// FuzzCustom: the mysql and ldap verdicts read any bytes without panicking.
func FuzzCustom(f *testing.F) {
	f.Add([]byte("\x05\x00\x00\x00\x0a5.5\x00"))
	f.Add([]byte("\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		env := &Env{Buf: b}
		mysqlPacket(false)(env, true)
		mysqlPacket(true)(env, true)
		ldapBindResponse(env, true)
	})
}
