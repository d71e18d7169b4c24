package pattern

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"unsafe"
)

func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// ReadFile reads a pattern file (one pattern per line) or, with isMap, a map file
// (a key, spaces, then the value up to the end of the line). Leading and trailing
// spaces are dropped, and empty lines and lines starting with '#' are skipped, as in
// HAProxy.
func ReadFile(path string, isMap bool) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("failed to open pattern file <%s>", path)
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		e, ok := ParseLine(sc.Text(), isMap)
		if !ok {
			continue
		}
		e.Line = line
		e.ID = uint64(len(out))
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("failed to read pattern file <%s> at line %d: %v", path, line+1, err)
	}
	return out, nil
}

// ParseLine reads one line of a pattern or map file; ok is false for a comment or an
// empty line.
func ParseLine(s string, isMap bool) (Entry, bool) {
	s = strings.Trim(s, " \t\r")
	if s == "" || s[0] == '#' {
		return Entry{}, false
	}
	if !isMap {
		return Entry{Key: s}, true
	}
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return Entry{Key: s}, true
	}
	return Entry{Key: s[:i], Value: strings.TrimLeft(s[i:], " \t")}, true
}

// CompileFile reads and compiles a pattern or map file; an invalid pattern is a
// `file:line` error.
func CompileFile(path string, isMap bool, m Method, fold bool) (*Set, error) {
	entries, err := ReadFile(path, isMap)
	if err != nil {
		return nil, err
	}
	s, err := Compile(m, fold, entries)
	if err != nil {
		for _, e := range entries {
			if _, err1 := Compile(m, fold, []Entry{e}); err1 != nil {
				return nil, lineErr(path, e.Line, err1)
			}
		}
		return nil, err
	}
	return s, nil
}

func lineErr(path string, line int, err error) error { return fmt.Errorf("%s:%d: %v", path, line, err) }
