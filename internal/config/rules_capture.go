package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Captures: `capture request|response header NAME len N`, `declare capture
// request|response len N`, and `http-request|http-response capture SAMPLE len N|id
// N`. Each adds or fills a slot of the frontend, numbered in order of declaration;
// logs show them with %hr, %hs, %hrl and %hsl, and capture.req.hdr(N) reads them.

// Capture is one capture slot: a header to capture (empty for a declared slot) and
// the length kept.
type Capture struct {
	Header string // lower-cased; "" for `declare capture` and `http-request capture ... len`
	Len    int
}

func init() {
	proxyKeywords["capture"] = kw{"fl", kwCapture}
	proxyKeywords["declare"] = kw{"fl", kwDeclare}
	httpActions["capture"] = httpAction{onRequest | onResponse, parseCaptureRule}
}

func captureLen(kw, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("'%s' : 'len' expects a positive length (got '%s')", kw, v)
	}
	return n, nil
}

func kwCapture(ps *parser, p *Proxy, a []string) error {
	if len(a) >= 2 && a[1] == "cookie" {
		return fmt.Errorf("'capture cookie' is not supported yet")
	}
	if len(a) != 6 || (a[1] != "request" && a[1] != "response") || a[2] != "header" || a[4] != "len" {
		return fmt.Errorf("'capture' expects 'request header <name> len <n>' or 'response header <name> len <n>'.")
	}
	n, err := captureLen("capture", a[5])
	if err != nil {
		return err
	}
	c := Capture{Header: strings.ToLower(a[3]), Len: n}
	if a[1] == "request" {
		p.ReqCaptures = append(p.ReqCaptures, c)
	} else {
		p.ResCaptures = append(p.ResCaptures, c)
	}
	return nil
}

func kwDeclare(ps *parser, p *Proxy, a []string) error {
	if len(a) != 5 || a[1] != "capture" || (a[2] != "request" && a[2] != "response") || a[3] != "len" {
		return fmt.Errorf("'declare' expects 'capture request|response len <n>'.")
	}
	n, err := captureLen("declare capture", a[4])
	if err != nil {
		return err
	}
	if a[2] == "request" {
		p.ReqCaptures = append(p.ReqCaptures, Capture{Len: n})
	} else {
		p.ResCaptures = append(p.ResCaptures, Capture{Len: n})
	}
	return nil
}

// parseCaptureRule is `capture SAMPLE len N` (a new request slot) or `capture SAMPLE
// id N` (an existing slot); http-response captures need an id.
func parseCaptureRule(ps *parser, p *Proxy, r *HTTPRule, kw string, args []string) error {
	resp := strings.HasPrefix(kw, "http-response")
	if len(args) != 3 || (args[1] != "len" && args[1] != "id") || (resp && args[1] != "id") {
		if resp {
			return fmt.Errorf("'%s' expects <expression> id <idx>.", kw)
		}
		return fmt.Errorf("'%s' expects <expression> [ 'len' <length> | id <idx> ].", kw)
	}
	e, err := ps.expr(p, strings.Fields(kw)[0], kw, args[0])
	if err != nil {
		return err
	}
	r.Expr = e
	if args[1] == "len" {
		n, err := captureLen(kw, args[2])
		if err != nil {
			return err
		}
		p.ReqCaptures = append(p.ReqCaptures, Capture{Len: n})
		r.Status = len(p.ReqCaptures) - 1
		return nil
	}
	id, err := strconv.Atoi(args[2])
	if err != nil || id < 0 {
		return fmt.Errorf("'%s' : invalid capture id '%s'.", kw, args[2])
	}
	slots := p.ReqCaptures
	if resp {
		slots = p.ResCaptures
	}
	if id >= len(slots) {
		return fmt.Errorf("'%s' : unable to find capture id '%d' referenced by http-%s capture rule.", kw, id, map[bool]string{false: "request", true: "response"}[resp])
	}
	r.Status = id
	return nil
}
