package config

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"hitless/internal/http1"
)

// Error files: `errorfile CODE PATH` in a proxy or an `http-errors NAME` section, and
// `errorfiles NAME [CODE...]` importing a section. Files are read and checked while
// the configuration is parsed (so before any chroot), as HAProxy does; the httpproxy
// package sends them verbatim instead of its built-in pages.

// ErrorFile is the raw HTTP response of one `errorfile` line.
type ErrorFile struct {
	Pos  Pos
	Path string
	Raw  []byte // the whole file; empty (e.g. /dev/null) means "close without answering"
	// Made is set for the answers hitless writes itself (errorloc, http-error): they
	// are framed like its own pages (connection: close when closing, keep-alive
	// otherwise) rather than sent verbatim.
	Made bool
}

// ErrorCodes are the statuses HAProxy 2.6 generates and so accepts in `errorfile`.
var ErrorCodes = []int{200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 421, 422, 425, 429, 500, 501, 502, 503, 504}

// errDirective is one `errorfile` or `errorfiles` line of a proxy, kept in order: an
// `errorfiles` line is resolved once every http-errors section is known, and later
// lines override earlier ones.
type errDirective struct {
	pos     Pos
	code    int        // errorfile
	file    *ErrorFile // errorfile
	section string     // errorfiles
	codes   []int      // errorfiles; nil = every code of the section
}

// httpErrors is one `http-errors NAME` section.
type httpErrors struct {
	pos   Pos
	files map[int]*ErrorFile
}

func parseCode(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		n = 0
	}
	if slices.Contains(ErrorCodes, n) {
		return n, nil
	}
	return 0, fmt.Errorf("status code '%d' not handled.", n)
}

// maxErrorFile is the largest answer that fits HAProxy's buffer with room for rewrites:
// tune.bufsize - tune.maxrewrite.
func (g *Global) maxErrorFile() int {
	size, rewrite := 16384, 1024
	if g.TuneBufSize > 0 {
		size = g.TuneBufSize
	}
	if g.TuneMaxRewrite > 0 {
		rewrite = min(g.TuneMaxRewrite, size/2)
	}
	return size - rewrite
}

// readErrorFile reads and checks one `errorfile CODE PATH` line (keyword first).
func (ps *parser) readErrorFile(a []string) (int, *ErrorFile, error) {
	if len(a) != 3 {
		return 0, nil, fmt.Errorf("errorfile : expects <status_code> and <file> as arguments.")
	}
	code, err := parseCode(a[1])
	if err != nil {
		return 0, nil, fmt.Errorf("errorfile : %v", err)
	}
	path := a[2]
	st, err := os.Stat(path)
	if err != nil {
		return 0, nil, fmt.Errorf("errorfile : error opening file '%s'.", path)
	}
	if st.IsDir() {
		return 0, nil, fmt.Errorf("errorfile : error reading file '%s'.", path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, fmt.Errorf("errorfile : error reading file '%s'.", path)
	}
	if err := CheckErrorFile(raw, ps.cfg.Global.maxErrorFile()); err != nil {
		return 0, nil, fmt.Errorf("errorfile : '%s': %v", path, err)
	}
	return code, &ErrorFile{Pos: ps.pos, Path: path, Raw: raw}, nil
}

// CheckErrorFile checks that raw is a complete HTTP/1 response no larger than max: a
// status line, headers, the empty line, and a body that matches its content-length.
// An empty file is valid (the answer is then to close).
func CheckErrorFile(raw []byte, max int) error {
	if len(raw) == 0 {
		return nil
	}
	if len(raw) > max {
		return fmt.Errorf("larger than %d bytes (tune.bufsize - tune.maxrewrite)", max)
	}
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	n := 4
	if lf := bytes.Index(raw, []byte("\n\n")); lf >= 0 && (end < 0 || lf < end) {
		end, n = lf, 2
	}
	if end < 0 {
		return fmt.Errorf("unable to parse headers (no empty line after the headers)")
	}
	var r http1.Response
	if err := http1.ParseResponse(raw[:end+n], &r); err != nil {
		return fmt.Errorf("unable to parse headers (%v)", err)
	}
	if r.Status < 200 {
		return fmt.Errorf("unable to parse headers (status %d is not a final answer)", r.Status)
	}
	if cl, ok := r.Get("content-length"); ok {
		want, err := strconv.Atoi(strings.TrimSpace(string(cl)))
		if err != nil || want < 0 {
			return fmt.Errorf("unable to parse headers (invalid content-length '%s')", cl)
		}
		if got := len(raw) - end - n; got != want {
			return fmt.Errorf("payload size does not match the announced content-length (%d != %d)", got, want)
		}
	}
	return nil
}

func kwErrorFile(ps *parser, p *Proxy, a []string) error {
	code, f, err := ps.readErrorFile(a)
	if err != nil {
		return err
	}
	p.errDirectives = append(p.errDirectives, errDirective{pos: ps.pos, code: code, file: f})
	return nil
}

func kwErrorFiles(ps *parser, p *Proxy, a []string) error {
	if len(a) < 2 {
		return fmt.Errorf("errorfiles : expects <name> as argument.")
	}
	d := errDirective{pos: ps.pos, section: a[1]}
	for _, s := range a[2:] {
		code, err := parseCode(s)
		if err != nil {
			return fmt.Errorf("errorfiles : %v", err)
		}
		d.codes = append(d.codes, code)
	}
	p.errDirectives = append(p.errDirectives, d)
	return nil
}

// startHTTPErrors opens an `http-errors NAME` section.
func (ps *parser) startHTTPErrors(w []string) {
	ps.section, ps.px, ps.httpErr = "http-errors", nil, nil
	if len(w) < 2 || w[1] == "" {
		ps.errorf("missing name for http-errors section.")
		ps.section = "skip"
		return
	}
	if prev := ps.httpErrs[w[1]]; prev != nil {
		ps.errorf("http-errors section '%s' already exists (declared at %s).", w[1], prev.pos)
		ps.section = "skip"
		return
	}
	ps.httpErr = &httpErrors{pos: ps.pos, files: map[int]*ErrorFile{}}
	ps.httpErrs[w[1]] = ps.httpErr
}

// httpErrorsKeyword reads one line of an http-errors section.
func (ps *parser) httpErrorsKeyword(w []string) {
	if w[0] != "errorfile" {
		ps.errorf("unknown keyword '%s' in 'http-errors' section", w[0])
		return
	}
	code, f, err := ps.readErrorFile(w)
	if err != nil {
		ps.errorf("%v", err)
		return
	}
	ps.httpErr.files[code] = f
}

// resolveErrorFiles builds each proxy's ErrorFiles from its lines in order; an
// `errorfiles` naming no http-errors section is an error at that line.
func (ps *parser) resolveErrorFiles(p *Proxy) {
	for _, d := range p.errDirectives {
		if d.file != nil {
			if p.ErrorFiles == nil {
				p.ErrorFiles = map[int]*ErrorFile{}
			}
			p.ErrorFiles[d.code] = d.file
			continue
		}
		sec := ps.httpErrs[d.section]
		if sec == nil {
			ps.errs = append(ps.errs, &Error{Pos: d.pos, Msg: fmt.Sprintf("proxy '%s': unknown http-errors section '%s'.", p.Name, d.section)})
			continue
		}
		for code, f := range sec.files {
			if d.codes != nil && !slices.Contains(d.codes, code) {
				continue
			}
			if p.ErrorFiles == nil {
				p.ErrorFiles = map[int]*ErrorFile{}
			}
			p.ErrorFiles[code] = f
		}
	}
}
