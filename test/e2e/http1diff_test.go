package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"hitless/internal/http1"
)

// The differential HTTP/1 harness: every case of http1cases_test.go goes through
// hitless and HAProxy 2.6 (when installed), each in front of its own recording
// backend. For hitless the test asserts, case by case, that the backend could parse
// everything forwarded (refParse, a parser independent of internal/http1), that it
// read as many requests as the client got answers from it, in order (nothing
// smuggled, no answer given to the wrong request), that internal/http1 reads every
// forwarded request with the same framing, and that the client could read every
// answer; then that hitless's outcome is HAProxy's or a stricter one with the reason
// the table gives. A follow-up request ends every case, so that a proxy that reads a
// message's end differently shows it.

const followUp = "GET /follow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

// diffConfig is the harness's configuration, the review's with keep-alive on both
// sides. %[1]s is the bind address, %[2]s the backend.
const diffConfig = `
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind %[1]s
    http-request deny if { path_beg /admin }
    http-request deny if { hdr(host) -i evil }
    default_backend be
backend be
    server s1 %[2]s
`

// harnessSide is one proxy with its backend.
type harnessSide struct {
	name string
	addr string
	rec  *recorder
}

func harnessSides(t *testing.T) (hitless harnessSide, haproxy *harnessSide) {
	t.Helper()
	rec := newRecorder(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startHitless(t, fmt.Sprintf(diffConfig, addr, rec.addr), addr)
	hitless = harnessSide{"hitless", addr, rec}
	if haproxyInstalled() {
		rec := newRecorder(t)
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		startHAProxy(t, fmt.Sprintf(diffConfig, addr, rec.addr), addr)
		haproxy = &harnessSide{"haproxy", addr, rec}
	}
	return hitless, haproxy
}

// runBoth runs one exchange on hitless and HAProxy at once.
func runBoth(t *testing.T, h harnessSide, x *harnessSide, raw string) (outcome, *outcome) {
	var ho outcome
	var xo *outcome
	var wg sync.WaitGroup
	for _, s := range []*harnessSide{&h, x} {
		if s == nil {
			continue
		}
		wg.Add(1)
		go func(s *harnessSide) {
			defer wg.Done()
			s.rec.reset()
			answers, rest := exchangeOpt(t, s.addr, raw, 4*time.Second, false)
			time.Sleep(10 * time.Millisecond)
			reqs, faults := s.rec.take()
			o := outcome{answers, rest, reqs, faults}
			if s.name == "hitless" {
				ho = o
			} else {
				xo = &o
			}
		}(s)
	}
	wg.Wait()
	return ho, xo
}

// fromBackend lists the X-Seq of the answers the client got from the backend.
func (o outcome) fromBackend() []int {
	var s []int
	for _, a := range o.answers {
		if a.Seq > 0 {
			s = append(s, a.Seq)
		}
	}
	return s
}

// checkForwarding holds for hitless on every case: what went to the backend is what
// hitless meant to send.
func checkForwarding(o outcome) []string {
	var bad []string
	if len(o.faults) > 0 {
		bad = append(bad, fmt.Sprintf("the backend could not parse what was forwarded: %q", o.faults))
	}
	seqs := o.fromBackend()
	want := make([]int, len(o.reqs))
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(seqs, want) {
		bad = append(bad, fmt.Sprintf("the backend read %d requests, the client got backend answers %v", len(o.reqs), seqs))
	}
	for _, r := range o.reqs {
		if why := sameWithHTTP1(r); why != "" {
			bad = append(bad, fmt.Sprintf("internal/http1 reads forwarded %q differently: %s", r.Raw, why))
		}
	}
	if o.rest != "" {
		bad = append(bad, fmt.Sprintf("the client could not read %q", o.rest))
	}
	return bad
}

// sameWithHTTP1 parses a forwarded request with hitless's own parser and compares
// its framing and body with the reference parser's.
func sameWithHTTP1(r *refRequest) string {
	br := bufio.NewReaderSize(bytes.NewReader(r.Raw), 64<<10)
	head, err := http1.ReadHead(br)
	if err != nil {
		return err.Error()
	}
	var req http1.Request
	if err := http1.ParseRequest(head, &req); err != nil {
		return err.Error()
	}
	if string(req.Method) != r.Method || string(req.Target) != r.Target {
		return fmt.Sprintf("request line %s %s", req.Method, req.Target)
	}
	br.Discard(len(head))
	var body bytes.Buffer
	w := bufio.NewWriter(&body)
	switch {
	case req.Chunked:
		_, err = http1.CopyChunked(w, br, false, nil)
	case req.ContentLength >= 0:
		_, err = http1.CopyN(w, br, req.ContentLength, nil)
	}
	w.Flush()
	if err != nil {
		return err.Error()
	}
	if !bytes.Equal(body.Bytes(), r.Body) {
		return fmt.Sprintf("body %q, reference %q", body.Bytes(), r.Body)
	}
	if br.Buffered() > 0 {
		return fmt.Sprintf("%d bytes after the request", br.Buffered())
	}
	return ""
}

// compareWithHAProxy returns "" when hitless's outcome is HAProxy's, or a stricter
// one that the case explains; else what differs.
// The comparison is about the case's own requests: the follow-up is left out of it
// (HAProxy sometimes closes after an answer where hitless serves the follow-up too),
// and only the first answer's class is compared.
// It returns "" and explained true when hitless refused where HAProxy did not, for the
// reason the case gives.
func compareWithHAProxy(h, x outcome, stricter string) (diff string, explained bool) {
	hn, xn := caseRequests(h), caseRequests(x)
	hc, xc := firstClass(h), firstClass(x)
	switch {
	case hn > xn:
		return fmt.Sprintf("hitless forwarded %d of the case's requests, HAProxy %d", hn, xn), false
	case hn == xn && sameClass(hc, xc):
		return "", false
	case stricter != "" && hc != "B":
		return "", true
	}
	return fmt.Sprintf("first answer %s (forwarded %d), HAProxy %s (forwarded %d)", hc, hn, xc, xn), false
}

// caseRequests is the number of forwarded requests that are not the follow-up.
func caseRequests(o outcome) int {
	n := 0
	for _, r := range o.reqs {
		if r.Target != "/follow" {
			n++
		}
	}
	return n
}

// firstClass is the class of the first final answer: "B" for one from the backend,
// its status for one the proxy made, "closed" for none.
func firstClass(o outcome) string {
	for _, a := range o.answers {
		switch {
		case a.Seq > 0:
			return "B"
		case a.Status >= 200:
			return fmt.Sprint(a.Status)
		}
	}
	return "closed"
}

// sameClass treats two refusals as the same (HAProxy's 422 for a list of codings,
// 504 for a body that never comes, a connection closed without an answer, and
// hitless's 400).
func sameClass(h, x string) bool {
	refusal := func(c string) bool { return c != "B" && (c == "closed" || c[0] == '4' || c[0] == '5') }
	return h == x || (refusal(h) && refusal(x))
}

func TestHTTP1DifferentialRequests(t *testing.T) {
	h, x := harnessSides(t)
	cases := requestCases()
	if len(cases) < 300 {
		t.Fatalf("only %d cases", len(cases))
	}
	var differ, stricter int
	for _, c := range cases {
		ho, xo := runBoth(t, h, x, c.raw+followUp)
		for _, why := range checkForwarding(ho) {
			t.Errorf("%s: %s\n  hitless: %v", c.name, why, ho)
		}
		if xo == nil {
			continue
		}
		d, explained := compareWithHAProxy(ho, *xo, c.stricter)
		if d != "" {
			differ++
			t.Errorf("%s: %s\n  hitless: %v\n  haproxy: %v", c.name, d, ho, *xo)
		} else if explained {
			stricter++
		}
	}
	t.Logf("%d request cases; %d where hitless is stricter than HAProxy for a recorded reason; %d unexplained differences", len(cases), stricter, differ)
}

func TestHTTP1DifferentialResponses(t *testing.T) {
	h, x := harnessSides(t)
	cases := responseCases()
	var stricter int
	for _, c := range cases {
		for _, s := range []*harnessSide{&h, x} {
			if s == nil {
				continue
			}
			s.rec.mu.Lock()
			s.rec.respond = func(r *refRequest) (string, bool) {
				if r.Target == "/r1" {
					return c.raw, c.closeAfter
				}
				return "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond", false
			}
			s.rec.mu.Unlock()
		}
		ho, xo := runBoth(t, h, x, "GET /r1 HTTP/1.1\r\nHost: x\r\n\r\nGET /r2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		// The client reads whole answers, and a second answer is the server's answer
		// to /r2, never bytes of the first.
		if ho.rest != "" && !c.closeAfter {
			t.Errorf("%s: the client could not read %q\n  hitless: %v", c.name, ho.rest, ho)
		}
		if n := len(ho.answers); n > 1 && ho.answers[n-1].Status == 200 && string(ho.answers[n-1].Body) != "second" {
			t.Errorf("%s: the last answer is %q, not the answer to /r2\n  hitless: %v", c.name, ho.answers[n-1].Body, ho)
		}
		if xo == nil {
			continue
		}
		// The answers to /r1 are compared, and those to /r2 when both proxies served it:
		// after a 502 HAProxy sometimes closes and sometimes serves the next request.
		hs, xs := respClasses(ho), respClasses(*xo)
		if h1, x1 := firstAnswers(hs), firstAnswers(xs); h1 == x1 && (len(hs) == len(h1) || len(xs) == len(x1) || hs == xs) {
			continue
		}
		if hs != xs {
			if c.stricter != "" && (strings.HasPrefix(hs, "502") || hs == "") {
				stricter++
				continue
			}
			t.Errorf("%s: hitless %s, HAProxy %s\n  hitless: %v\n  haproxy: %v", c.name, hs, xs, ho, *xo)
		}
	}
	t.Logf("%d response cases; %d where hitless is stricter than HAProxy for a recorded reason", len(cases), stricter)
}

// respClasses summarises the statuses a client got, with the body of each 200.
func respClasses(o outcome) string {
	var s []string
	for _, a := range o.answers {
		if a.Status == 200 {
			s = append(s, "200:"+string(a.Body))
		} else {
			s = append(s, fmt.Sprint(a.Status))
		}
	}
	return strings.Join(s, " ")
}

// firstAnswers is the part of respClasses that answers /r1: up to and including the
// first final answer (interim 1xx answers come before it).
func firstAnswers(classes string) string {
	for i, f := range strings.Fields(classes) {
		if len(f) < 3 || f[0] != '1' || f == "101" {
			return strings.Join(strings.Fields(classes)[:i+1], " ")
		}
	}
	return classes
}
