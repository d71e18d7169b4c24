package checkrule

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Ruleset is the whole check of a backend: its rules in order and how its messages are
// worded.
type Ruleset struct {
	// Kind is "tcp-check" for `option tcp-check` rules, "http-check" for `option
	// httpchk`, or the protocol check's option name ("redis-check", ...). Only
	// "tcp-check" rulesets add step details to their messages, as in HAProxy.
	Kind  string
	Rules []*Rule
	// DisableOn404 is `http-check disable-on-404`: a 404 makes the check L7OKCD
	// (the server goes NOLB) instead of failing.
	DisableOn404 bool
	// SendState is `http-check send-state`: the request carries
	// X-Haproxy-Server-State.
	SendState bool
}

// HTTP reports whether the ruleset sends HTTP requests and parses HTTP responses.
func (rs *Ruleset) HTTP() bool { return rs.Kind == "http-check" }

// plainTCP reports whether messages carry step details (user tcp-check rules only).
func (rs *Ruleset) plainTCP() bool { return rs.Kind == "tcp-check" }

// Statuses: HAProxy's check statuses with their descriptions; those from L7OK on
// carry a code in messages.
var statusInfo = map[string]struct {
	desc    string
	hasCode bool
}{
	"UNK": {"Unknown", false}, "INI": {"Initializing", false}, "SOCKERR": {"Socket error", false},
	"HANA": {"Health analyze", false}, "CHECKED": {"No status change", false},
	"L4OK": {"Layer4 check passed", false}, "L4TOUT": {"Layer4 timeout", false},
	"L4CON": {"Layer4 connection problem", false}, "L6OK": {"Layer6 check passed", false},
	"L6TOUT": {"Layer6 timeout", false}, "L6RSP": {"Layer6 invalid response", false},
	"L7TOUT": {"Layer7 timeout", false}, "L7RSP": {"Layer7 invalid response", false},
	"L7OK": {"Layer7 check passed", true}, "L7OKC": {"Layer7 check conditionally passed", true},
	"L7STS": {"Layer7 wrong status", true}, "PROCERR": {"External check error", true},
	"PROCTOUT": {"External check timeout", true}, "PROCOK": {"External check passed", true},
}

// Describe returns HAProxy's description of a check status ("Layer4 check passed").
func Describe(status string) string { return statusInfo[status].desc }

// HasCode reports whether messages about a status carry the check code.
func HasCode(status string) bool { return statusInfo[status].hasCode }

// Passed reports whether a status counts as a successful check.
func Passed(status string) bool {
	switch status {
	case "L4OK", "L6OK", "L7OK", "L7OKC", "PROCOK":
		return true
	}
	return false
}

// Finish numbers the rules and adds what HAProxy implies: a connect first when the
// ruleset does not start with one (after leading comments and variables) and, for
// http-check, the request of `option httpchk` and an expect of status 200-399 after
// the last send. req is the request of `option httpchk` (nil for others).
func (rs *Ruleset) Finish(req *HTTPRequest) error {
	for i, r := range rs.Rules {
		r.Index = i
	}
	// Comments attach to the next rule.
	var pending string
	for _, r := range rs.Rules {
		if r.Action == Comment {
			pending = r.Comment
			continue
		}
		if pending != "" && r.Comment == "" && (r.Action == Connect || r.Action == Send || r.Action == Expect) {
			r.Comment = pending
		}
		pending = ""
	}
	first := -1
	for i, r := range rs.Rules {
		if r.Action != Comment && r.Action != SetVar && r.Action != UnsetVar {
			first = i
			break
		}
	}
	hasConnect := false
	for _, r := range rs.Rules {
		if r.Action == Connect {
			hasConnect = true
		}
	}
	if hasConnect && (first < 0 || rs.Rules[first].Action != Connect) {
		return fmt.Errorf("first step MUST also be a 'connect', optionally preceded by a 'set-var', an 'unset-var' or a 'comment', when there is a 'connect' step in the %s ruleset", rs.Kind)
	}
	if !hasConnect {
		c := &Rule{Action: Connect, Index: 0, Connect: &ConnectRule{Implicit: true, Default: true}}
		at := first
		if at < 0 {
			at = len(rs.Rules)
		}
		rs.Rules = append(rs.Rules[:at], append([]*Rule{c}, rs.Rules[at:]...)...)
	}
	if !rs.HTTP() {
		return nil
	}
	// http-check: the first send takes the request line of `option httpchk`; with no
	// send at all, that request is sent after the first connect.
	if req == nil {
		req = &HTTPRequest{}
	}
	defaults := *req
	fill(&defaults)
	lastSend, sends := -1, 0
	for i, r := range rs.Rules {
		if r.Action == Send {
			h := r.Send.HTTP
			if sends == 0 {
				if !h.setMethod {
					h.Method = defaults.Method
				}
				if !h.setURI {
					h.URI, h.URIFormat = defaults.URI, defaults.URIFormat
				}
				if !h.setVersion {
					h.Version = defaults.Version
				}
				h.Headers = append(append([]HTTPHeader(nil), defaults.Headers...), h.Headers...)
				if h.Body == "" && h.BodyFormat == nil {
					h.Body, h.BodyFormat = defaults.Body, defaults.BodyFormat
				}
			} else {
				fill(h)
			}
			sends++
			lastSend = i
		}
	}
	if sends == 0 {
		at := 0
		for i, r := range rs.Rules {
			if r.Action == Connect {
				at = i + 1
				break
			}
		}
		d := defaults
		s := &Rule{Action: Send, Index: rs.Rules[at-1].Index, Send: &SendRule{HTTP: &d}}
		rs.Rules = append(rs.Rules[:at], append([]*Rule{s}, rs.Rules[at:]...)...)
		lastSend = at
	}
	for _, r := range rs.Rules[lastSend+1:] {
		if r.Action == Expect {
			return nil
		}
	}
	x := &Rule{Action: Expect, Index: rs.Rules[len(rs.Rules)-1].Index, Expect: &ExpectRule{
		Kind: "status", Codes: [][2]int{{200, 399}}, MinRecv: -1, Implicit: true}}
	rs.Rules = append(rs.Rules, x)
	return nil
}

// fill gives a request HAProxy's defaults: OPTIONS / HTTP/1.0.
func fill(h *HTTPRequest) {
	if h.Method == "" {
		h.Method = "OPTIONS"
	}
	if h.URI == "" && h.URIFormat == nil {
		h.URI = "/"
	}
	if h.Version == "" {
		h.Version = "HTTP/1.0"
	}
}

// Step is the step number HAProxy reports for a rule: its index from 1, 0 for an
// implicit connect.
func Step(r *Rule) int {
	if r.Action == Connect && r.Connect.Implicit {
		return 0
	}
	return r.Index + 1
}

// ConnError words a failure to connect or a timeout, after errText (the C library's
// text of the error, "" for a timeout): step details are added for tcp-check rulesets.
// cur is the rule being run.
func (rs *Ruleset) ConnError(cur *Rule, errText string) string {
	if !rs.plainTCP() || cur == nil {
		return errText
	}
	var b strings.Builder
	b.WriteString(errText)
	step := Step(cur)
	if step == 0 {
		b.WriteString(" at initial connection step of tcp-check")
		return b.String()
	}
	fmt.Fprintf(&b, " at step %d of tcp-check", step)
	switch cur.Action {
	case Connect:
		if cur.Connect.Port != 0 {
			fmt.Fprintf(&b, " (connect port %d)", cur.Connect.Port)
		} else {
			b.WriteString(" (connect)")
		}
	case Expect:
		x := cur.Expect
		switch x.Kind {
		case "string":
			fmt.Fprintf(&b, " (expect string '%s')", x.Pattern)
		case "binary":
			b.WriteString(" (expect binary '")
			b.WriteString(dumpBinary(x.Pattern))
			b.WriteString("')")
		case "rstring":
			b.WriteString(" (expect regex)")
		case "rbinary":
			b.WriteString(" (expect binary regex)")
		case "string-lf":
			b.WriteString(" (expect log-format string)")
		case "binary-lf":
			b.WriteString(" (expect log-format binary)")
		case "custom":
			b.WriteString(" (expect custom function)")
		}
	case Send:
		b.WriteString(" (send)")
	}
	if cur.Comment != "" {
		fmt.Fprintf(&b, " comment: '%s'", cur.Comment)
	}
	return b.String()
}

// dumpBinary shows bytes as HAProxy's dump_binary does: printable characters as they
// are, others as <XX>.
func dumpBinary(p []byte) string {
	var b strings.Builder
	for _, c := range p {
		if c >= 0x20 && c < 0x7f && c != '<' && c != '>' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "<%02X>", c)
		}
	}
	return b.String()
}

// Verdict is the outcome of evaluating one expect rule.
type Verdict struct {
	Wait   bool   // not enough data yet
	OK     bool   // matched as wanted: go on with the next rule
	Status string // on failure: the check status
	Info   string // on failure: the message
	Code   int    // the check code (status-code, HTTP status)
	// HasCode tells that Code was set by the rule.
	HasCode bool
}

// Eval evaluates an expect rule on what was received; last tells that no more data
// can come (the peer closed or the check timed out with data received).
func (rs *Ruleset) Eval(r *Rule, env *Env, last bool) Verdict {
	x := r.Expect
	if x.Custom != nil {
		c := x.Custom(env, last)
		if c.Wait {
			return Verdict{Wait: true}
		}
		return Verdict{OK: c.OK, Status: c.Status, Info: c.Info, Code: c.Code, HasCode: true}
	}
	if rs.HTTP() {
		return rs.evalHTTP(r, env, last)
	}
	buf := env.Buf
	if len(buf) == 0 {
		if !last {
			return Verdict{Wait: true}
		}
		status := x.ErrStatus
		if status == "" {
			status = "L7RSP"
		}
		info := fmt.Sprintf("TCPCHK got an empty response at step %d", Step(r))
		if r.Comment != "" {
			info += " comment: " + r.Comment
		}
		return rs.withCode(x, env, Verdict{Status: status, Info: info})
	}
	if x.MinRecv > 0 && len(buf) < x.MinRecv && !last {
		return Verdict{Wait: true}
	}
	var match bool
	switch x.Kind {
	case "string", "binary":
		if len(buf) < len(x.Pattern) && !last {
			return Verdict{Wait: true}
		}
		match = bytes.Contains(buf, x.Pattern)
	case "rstring":
		match = x.Regex.Match(untilNUL(buf))
	case "rbinary":
		match = x.Regex.MatchString(strings.ToUpper(hex.EncodeToString(buf)))
	case "string-lf":
		match = bytes.Contains(buf, x.Format.Render(env))
	case "binary-lf":
		p, err := hex.DecodeString(string(x.Format.Render(env)))
		match = err == nil && bytes.Contains(buf, p)
	}
	// A mismatch waits for more data unless min-recv made it conclusive.
	if !match && !last && x.MinRecv == -1 {
		return Verdict{Wait: true}
	}
	if match != x.Inverse {
		return Verdict{OK: true}
	}
	return rs.failure(r, env, match, "")
}

// untilNUL is the part of a response regexes see: HAProxy matches strings up to the
// first NUL byte.
func untilNUL(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// failure builds the verdict of an expect rule that did not hold.
func (rs *Ruleset) failure(r *Rule, env *Env, match bool, diag string) Verdict {
	x := r.Expect
	status := x.ErrStatus
	if status == "" {
		status = "L7RSP"
		if rs.HTTP() && (x.Kind == "status" || x.Kind == "rstatus" || x.Kind == "hdr" || x.Kind == "fhdr") {
			status = "L7STS"
		}
	}
	v := Verdict{Status: status}
	var b strings.Builder
	switch {
	case diag != "":
		b.WriteString(diag)
	case x.OnError != nil:
		b.Write(x.OnError.Render(env))
	case !rs.plainTCP():
	default:
		if match {
			b.WriteString("TCPCHK matched unwanted content")
		} else {
			b.WriteString("TCPCHK did not match content")
		}
		step := Step(r)
		switch x.Kind {
		case "string":
			fmt.Fprintf(&b, " '%s' at step %d", x.Pattern, step)
		case "binary":
			fmt.Fprintf(&b, " (binary) at step %d", step)
		case "rstring":
			fmt.Fprintf(&b, " (regex) at step %d", step)
		case "rbinary":
			fmt.Fprintf(&b, " (binary regex) at step %d", step)
		case "string-lf", "binary-lf":
			fmt.Fprintf(&b, " (log-format string) at step %d", step)
		}
	}
	if r.Comment != "" {
		b.WriteString(" comment: ")
		b.WriteString(r.Comment)
	}
	v.Info = b.String()
	return rs.withCode(x, env, v)
}

// withCode sets the check code from the rule's status-code expression, if any.
func (rs *Ruleset) withCode(x *ExpectRule, env *Env, v Verdict) Verdict {
	if x.StatusCode == nil {
		return v
	}
	v.HasCode = true
	v.Code = 0
	if s, ok := x.StatusCode.Eval(env); ok {
		if n, ok := s.int(); ok {
			v.Code = int(n)
		}
	}
	return v
}

// Success words the outcome of a check whose last rule was an expect that held: its
// status (ok-status, L7OK by default), message and code.
func (rs *Ruleset) Success(r *Rule, env *Env) (status, info string, code int, hasCode bool) {
	x := r.Expect
	status = x.OKStatus
	if status == "" {
		status = "L7OK"
	}
	switch {
	case x.OnSuccess != nil:
		info = string(x.OnSuccess.Render(env))
	case rs.plainTCP():
		info = "(tcp-check)"
	}
	if x.StatusCode != nil {
		v := rs.withCode(x, env, Verdict{})
		code, hasCode = v.Code, true
	}
	return status, info, code, hasCode
}

// evalHTTP evaluates an http-check expect on an HTTP response.
func (rs *Ruleset) evalHTTP(r *Rule, env *Env, last bool) Verdict {
	x := r.Expect
	if x.MinRecv > 0 && len(env.Buf) < x.MinRecv && !last {
		return Verdict{Wait: true}
	}
	resp, complete, err := ParseResponse(env.Buf, last)
	if err != nil {
		return Verdict{Status: "L7RSP", Info: ""}
	}
	if resp == nil {
		if !last {
			return Verdict{Wait: true}
		}
		if len(env.Buf) == 0 {
			return Verdict{Status: "L7RSP", Info: ""}
		}
		return Verdict{Status: "L7RSP"}
	}
	env.HTTP = resp
	v := Verdict{Code: resp.Status, HasCode: true}
	if rs.DisableOn404 && resp.Status == 404 && !env.ServerDown {
		// A soft stop: the check ends with L7OKC.
		v.OK = true
		return v
	}
	var match bool
	desc := ""
	switch x.Kind {
	case "status":
		for _, c := range x.Codes {
			if resp.Status >= c[0] && resp.Status <= c[1] {
				match = true
			}
		}
		desc = resp.Reason
	case "rstatus":
		match = x.Regex.MatchString(strconv.Itoa(resp.Status))
		desc = resp.Reason
	case "hdr", "fhdr":
		match = x.Header.match(resp.Headers)
		desc = resp.Reason
	case "string", "rstring", "string-lf":
		if !complete && !last {
			return Verdict{Wait: true}
		}
		if len(resp.Body) == 0 {
			if x.Inverse {
				return Verdict{OK: true}
			}
			v2 := rs.failure(r, env, false, "HTTP content check could not find a response body")
			v2.Code, v2.HasCode = resp.Status, true
			return v2
		}
		switch x.Kind {
		case "string":
			match = bytes.Contains(resp.Body, x.Pattern)
		case "rstring":
			match = x.Regex.Match(untilNUL(resp.Body))
		default:
			match = bytes.Contains(resp.Body, x.Format.Render(env))
		}
		if x.Inverse {
			desc = "HTTP check matched unwanted content"
		} else {
			desc = "HTTP content check did not match"
		}
	}
	if match != x.Inverse {
		v.OK = true
		return v
	}
	if x.OnError != nil {
		desc = ""
	}
	f := rs.failure(r, env, match, desc)
	if x.StatusCode == nil {
		f.Code, f.HasCode = resp.Status, true
	}
	return f
}

func (h *HeaderMatch) match(headers [][2]string) bool {
	for _, kv := range headers {
		if !matchText(h.NameMeth, h.NameRe, strings.ToLower(kv[0]), strings.ToLower(h.Name)) {
			continue
		}
		if !h.HasValue {
			return true
		}
		values := []string{kv[1]}
		if !h.Full {
			values = strings.Split(kv[1], ",")
		}
		for _, v := range values {
			if matchText(h.ValueMeth, h.ValueRe, strings.TrimSpace(v), h.Value) {
				return true
			}
		}
	}
	return false
}

func matchText(meth string, re interface{ MatchString(string) bool }, s, pat string) bool {
	switch meth {
	case "beg":
		return strings.HasPrefix(s, pat)
	case "end":
		return strings.HasSuffix(s, pat)
	case "sub":
		return strings.Contains(s, pat)
	case "reg":
		return re.MatchString(s)
	}
	return s == pat
}
