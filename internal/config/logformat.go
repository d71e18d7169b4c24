package config

import (
	"fmt"

	"hitless/internal/logformat"
	"hitless/internal/sample"
)

// Custom log formats: `log-format`, `log-format-sd`, `unique-id-format` and
// `unique-id-header`. The strings are parsed here so that `hitless -c` reports their
// errors; internal/logformat writes them.

// LogFormats are a proxy's custom formats; nil fields are unset.
type LogFormats struct {
	Log      *logformat.Format // log-format (replaces option httplog/tcplog)
	LogPos   Pos
	SD       *logformat.Format // log-format-sd: structured data of rfc5424 lines
	UniqueID *logformat.Format // unique-id-format
	UIDPos   Pos
	// UniqueIDHeader is the request header that carries the unique id to the server.
	UniqueIDHeader string
}

func formatArg(ps *parser, a []string) (*logformat.Format, error) {
	if len(a) < 2 {
		return nil, fmt.Errorf("%s expects an argument.", a[0])
	}
	if len(a) > 2 {
		return nil, fmt.Errorf("%s expects only one argument, don't forget to escape spaces!", a[0])
	}
	w := sample.AtLog
	if a[0] == "unique-id-format" {
		w = where(ps.px, "http-request")
	}
	f, err := logformat.ParseAt(a[1], w, &sample.Parser{Files: ps.cfg.Patterns})
	if err != nil {
		return nil, fmt.Errorf("failed to parse %s : %v", a[0], err)
	}
	return f, nil
}

func kwLogFormat(ps *parser, p *Proxy, a []string) error {
	f, err := formatArg(ps, a)
	if err != nil {
		return err
	}
	switch a[0] {
	case "log-format":
		p.Formats.Log, p.Formats.LogPos = f, ps.pos
		p.Options.HTTPLog, p.Options.TCPLog = false, false
	case "log-format-sd":
		p.Formats.SD = f
	case "unique-id-format":
		p.Formats.UniqueID, p.Formats.UIDPos = f, ps.pos
	}
	return nil
}

func kwUniqueIDHeader(ps *parser, p *Proxy, a []string) error {
	if len(a) < 2 {
		return fmt.Errorf("unique-id-header expects an argument.")
	}
	if len(a) > 2 {
		return fmt.Errorf("unique-id-header cannot handle unexpected argument '%s'.", a[2])
	}
	if err := validHeaderName(a[1]); err != nil {
		return fmt.Errorf("unique-id-header : %v", err)
	}
	p.Formats.UniqueIDHeader = a[1]
	return nil
}

// checkFormatModes refuses HTTP-only variables in a mode tcp proxy, as HAProxy does
// once the mode is known.
func (ps *parser) checkFormatModes(p *Proxy) {
	if p.Mode == ModeHTTP || p.Kind == "defaults" {
		return
	}
	for _, c := range []struct {
		f   *logformat.Format
		pos Pos
		kw  string
	}{{p.Formats.Log, p.Formats.LogPos, "log-format"}, {p.Formats.UniqueID, p.Formats.UIDPos, "unique-id-format"}} {
		if c.f == nil || c.f.NeedsHTTP() == "" {
			continue
		}
		ps.errs = append(ps.errs, &Error{Pos: c.pos, Msg: fmt.Sprintf("failed to parse %s : format variable '%s' is reserved for HTTP mode.", c.kw, c.f.NeedsHTTP()[1:])})
	}
}
