package config

import (
	"fmt"
	"strings"

	"hitless/internal/logformat"
	"hitless/internal/sample"
)

// splitCond separates a rule's words from its trailing `if|unless` condition.
func splitCond(args []string) (rule, cond []string) {
	for i, w := range args {
		if w == "if" || w == "unless" {
			return args[:i], args[i:]
		}
	}
	return args, nil
}

func validHeaderName(h string) error {
	if h == "" {
		return fmt.Errorf("empty header name")
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return fmt.Errorf("invalid character in header name '%s'", h)
		}
	}
	return nil
}

// where is the evaluation point of a rule of kind ("http-request", "http-response",
// "tcp-request connection", ...) in p: a listen section runs its rules at the
// frontend's and the backend's point at once.
func where(p *Proxy, kind string) sample.Where {
	var w sample.Where
	fe, be := p.Cap&CapFrontend != 0 || p.Kind == "defaults", p.Cap&CapBackend != 0 || p.Kind == "defaults"
	pick := func(f, b sample.Where) {
		if fe {
			w |= f
		}
		if be {
			w |= b
		}
	}
	switch kind {
	case "http-request":
		pick(sample.AtFEHReq, sample.AtBEHReq)
	case "http-response":
		pick(sample.AtFEHRes, sample.AtBEHRes)
	case "http-after-response":
		w = sample.AtAfterRes
	case "tcp-request connection":
		w = sample.AtFEConn
	case "tcp-request session":
		w = sample.AtFESess
	case "tcp-request content":
		pick(sample.AtFEContent, sample.AtBEContent)
	case "use_backend":
		w = sample.AtFESetBack
	case "use-server":
		w = sample.AtBESetSrv
	}
	return w
}

// parseTemplate parses a header value or lf-string: a log-format string whose
// %[...] expressions run where the rule runs.
func (ps *parser) parseTemplate(p *Proxy, kind, s string) (*logformat.Format, error) {
	return logformat.ParseAt(s, where(p, kind), &sample.Parser{Files: ps.cfg.Patterns})
}
