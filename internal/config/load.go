// Package config reads HAProxy's configuration language into a validated Config: the
// lexer (quotes, escapes, environment variables, conditional blocks), the sections, one
// table row per keyword, and the checks that run once every file is read. Every error
// names its file and line, and one run reports all of them. cmd/hitless calls Load; the
// proxy package builds live state from the result.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Error is one configuration error with its position.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string {
	if e.Pos.File == "" {
		return e.Msg
	}
	return e.Pos.String() + ": " + e.Msg
}

// ErrorList holds every error of a run, in the order found.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// maxErrors stops a run that has clearly read the wrong file.
const maxErrors = 50

// Load reads the files and directories in order (a directory expands to its regular
// files whose name ends in ".cfg" and does not start with ".", sorted bytewise), parses
// and validates everything. On failure it returns a nil Config and an ErrorList.
func Load(paths []string, lookupEnv func(string) (string, bool)) (*Config, error) {
	src, err := Read(paths)
	if err != nil {
		return nil, err
	}
	return LoadSources(src, lookupEnv)
}

// Source is one configuration file's name and content, as read at one moment.
type Source struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

// LoadSources parses and validates files already read by Read. The master of
// master-worker mode hands its workers the sources it validated, so that a worker it
// starts later runs that configuration even if the files have changed since.
func LoadSources(src []Source, lookupEnv func(string) (string, bool)) (*Config, error) {
	ps := newParser(lookupEnv)
	names := make([]string, len(src))
	for i, f := range src {
		names[i] = f.Name
		ps.parseFile(f.Name, f.Data)
	}
	return ps.finish(names)
}

// Read reads the files and directories as Load does, without parsing them.
func Read(paths []string) ([]Source, error) {
	var files []string
	var errs ErrorList
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, &Error{Msg: fmt.Sprintf("Cannot open configuration file/directory %s : %v", p, unwrapPathErr(err))})
			continue
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			errs = append(errs, &Error{Msg: fmt.Sprintf("Cannot open configuration directory %s : %v", p, unwrapPathErr(err))})
			continue
		}
		var names []string
		for _, e := range ents {
			n := e.Name()
			if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".cfg") {
				continue
			}
			if info, err := os.Stat(filepath.Join(p, n)); err == nil && info.Mode().IsRegular() {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			files = append(files, filepath.Join(p, n))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var src []Source
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, &Error{Msg: fmt.Sprintf("Cannot open configuration file %s : %v", f, unwrapPathErr(err))})
			continue
		}
		src = append(src, Source{Name: f, Data: data})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return src, nil
}

// LoadBytes is Load for one in-memory file.
func LoadBytes(name string, data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	ps := newParser(lookupEnv)
	ps.parseFile(name, data)
	return ps.finish([]string{name})
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// parseFile reads one file line by line; sections continue across lines, not files.
func (ps *parser) parseFile(name string, data []byte) {
	ps.endSection()
	ps.file = name
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(ps.errs) >= maxErrors {
			ps.errs = append(ps.errs, &Error{Msg: fmt.Sprintf("too many fatal errors (%d), stopping now.", maxErrors)})
			return
		}
		text := sc.Text()
		text = strings.TrimSuffix(text, "\r")
		ps.pos = Pos{File: name, Line: line}
		ps.cfg.Patterns.At = "file '" + name + "' line " + strconv.Itoa(line)
		if strings.IndexByte(text, 0) >= 0 {
			ps.errorf("Stray NUL character at position %d.", strings.IndexByte(text, 0)+1)
			continue
		}
		words, err := lexLine(text, ps.lookupEnv, name, line, ps.sectionName())
		if err != nil {
			ps.errorf("%v", err)
			continue
		}
		if len(words) == 0 {
			continue
		}
		if len(words) > 64 {
			ps.errorf("too many words, truncating after word 64, position %d: <%s>.", len(text), words[64])
			words = words[:64]
		}
		ps.line(words)
	}
	if err := sc.Err(); err != nil {
		ps.errorf("%v", err)
	}
	if len(ps.conds) > 0 {
		ps.errorf("non-terminated '.if' block.")
		ps.conds = nil
	}
}
