package tlsconf

import (
	"bytes"
	"fmt"
	"strings"
)

// A crt-list file, as HAProxy 2.6 reads it (ssl_crtlist.c): one certificate per line,
//
//	<certpath> [ '[' <sslbindconf> ... ']' ] [ [!]<snifilter> ... ]
//
// A line is a comment only when its first byte is '#'; a line starting with CR or LF,
// or holding only spaces, is skipped. Words are split on spaces, and '[' and ']' cut
// words too. Line numbers count every physical line.

// CrtListLine is one certificate line of a crt-list.
type CrtListLine struct {
	Line    int
	Path    string   // as written (crt-base is joined by the caller)
	Options []string // the words between '[' and ']'
	Filters []string // as written, in order
}

// CrtListError is a problem at one line of a crt-list file.
type CrtListError struct {
	File string
	Line int // 0 when the whole file is concerned
	Msg  string
}

func (e *CrtListError) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// maxCrtLine is HAProxy's CRT_LINESIZE minus one.
const maxCrtLine = 65535

// maxCrtArgs is MAX_CRT_ARGS.
const maxCrtArgs = 2048

// ParseCrtList splits a crt-list file into lines. Errors (and warnings, which do not
// stop the parse) come with the file name and line number.
func ParseCrtList(file string, data []byte) (lines []CrtListLine, warnings []*CrtListError, err error) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, nil, &CrtListError{File: file, Msg: fmt.Sprintf("Stray NUL character at position %d.", i)}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return nil, nil, &CrtListError{File: file, Msg: fmt.Sprintf("Missing LF on last line, file might have been truncated at position %d.", len(data))}
	}
	n := 0
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		raw := data[:i]
		data = data[i+1:]
		n++
		if len(raw)+1 > maxCrtLine {
			return nil, nil, &CrtListError{File: file, Line: n, Msg: "line too long, limit is 65535 characters"}
		}
		if len(raw) == 0 || raw[0] == '#' || raw[0] == '\r' {
			continue
		}
		l, warn, err := parseCrtLine(string(raw))
		if err != nil {
			return nil, nil, &CrtListError{File: file, Line: n, Msg: err.Error()}
		}
		if warn != "" {
			warnings = append(warnings, &CrtListError{File: file, Line: n, Msg: warn})
		}
		if l == nil {
			continue
		}
		l.Line = n
		lines = append(lines, *l)
	}
	return lines, warnings, nil
}

// crtToken is a word or a bracket of a crt-list line.
type crtToken struct {
	word    string
	bracket byte // '[' or ']' for a bracket, 0 for a word
}

func tokenizeCrtLine(s string) []crtToken {
	var out []crtToken
	start := -1
	flush := func(i int) {
		if start >= 0 {
			out = append(out, crtToken{word: s[start:i]})
			start = -1
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			flush(i)
		case c == '[' || c == ']':
			flush(i)
			out = append(out, crtToken{bracket: c})
		default:
			if start < 0 {
				start = i
			}
		}
	}
	flush(len(s))
	return out
}

// parseCrtLine reads one non-comment line; nil when it holds no word.
func parseCrtLine(s string) (*CrtListLine, string, error) {
	toks := tokenizeCrtLine(s)
	if len(toks) == 0 {
		return nil, "", nil
	}
	if len(toks) > maxCrtArgs {
		return nil, "", fmt.Errorf("too many args ")
	}
	if toks[0].bracket != 0 {
		return nil, "", fmt.Errorf("file must start with a cert")
	}
	l := &CrtListLine{Path: toks[0].word}
	var before []string // filters before '['
	open, closed := 0, 0
	for _, t := range toks[1:] {
		switch t.bracket {
		case '[':
			if open > 0 {
				return nil, "", fmt.Errorf("too many '['")
			}
			open++
		case ']':
			if open == 0 {
				return nil, "", fmt.Errorf("missing '['")
			}
			if closed > 0 {
				return nil, "", fmt.Errorf("too many ']'")
			}
			closed++
		default:
			switch {
			case open > closed:
				l.Options = append(l.Options, t.word)
			case open == 0:
				before = append(before, t.word)
			default:
				l.Filters = append(l.Filters, t.word)
			}
		}
	}
	if open > closed {
		return nil, "", fmt.Errorf("missing ']'")
	}
	warn := ""
	if open > 0 && len(before) > 0 {
		// HAProxy warns and drops the filters written before the options.
		warn = "malformated line, filters can't be between filename and options!"
	} else if open == 0 {
		l.Filters = before
	}
	for _, f := range l.Filters {
		if err := checkFilter(f); err != nil {
			return nil, "", err
		}
	}
	return l, warn, nil
}

// checkFilter refuses SNI filters that can never match a host name.
func checkFilter(f string) error {
	name := strings.TrimPrefix(f, "!")
	if strings.HasPrefix(name, "*") {
		name = name[1:]
		if name != "" && name[0] != '.' {
			return fmt.Errorf("invalid SNI filter '%s': a wildcard is '*.' followed by a domain", f)
		}
	}
	if name == "" {
		return fmt.Errorf("invalid SNI filter '%s': empty name", f)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("invalid SNI filter '%s': character '%c' is not allowed in a host name", f, c)
		}
	}
	return nil
}
