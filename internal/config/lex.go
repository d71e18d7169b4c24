package config

import (
	"fmt"
	"strconv"
	"strings"
)

// lexLine splits one configuration line into words with HAProxy's rules: spaces
// separate words, '#' starts a comment, double quotes allow spaces and expand
// environment variables, single quotes are literal, backslash escapes.
// It returns nil words for an empty or comment-only line.
func lexLine(line string, lookup func(string) (string, bool), file string, lineno int, section string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	i := 0
	n := len(line)
	errAt := func(msg string, pos int) error {
		caret := strings.Repeat(" ", pos) + "^"
		return fmt.Errorf("%s at position %d:\n  %s\n  %s", msg, pos+1, line, caret)
	}
	var quote byte // 0, '"' or '\''
	quoteStart := 0
	for i < n {
		c := line[i]
		if quote == '\'' {
			if c == '\'' {
				quote = 0
				i++
				continue
			}
			cur.WriteByte(c)
			i++
			continue
		}
		switch {
		case quote == 0 && (c == ' ' || c == '\t'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			i++
			continue
		case quote == 0 && c == '#':
			i = n
			continue
		case c == '"':
			inWord = true
			if quote == '"' {
				quote = 0
			} else {
				quote = '"'
				quoteStart = i
			}
			i++
			continue
		case quote == 0 && c == '\'':
			inWord = true
			quote = '\''
			quoteStart = i
			i++
			continue
		case c == '\\':
			inWord = true
			if i+1 >= n {
				cur.WriteByte('\\')
				i++
				continue
			}
			e := line[i+1]
			switch e {
			case ' ', '\\', '#', '\'', '"':
				cur.WriteByte(e)
				i += 2
			case 't':
				cur.WriteByte('\t')
				i += 2
			case 'n':
				cur.WriteByte('\n')
				i += 2
			case 'r':
				cur.WriteByte('\r')
				i += 2
			case 'x':
				if i+3 < n+0 && isHex(line[i+2]) && i+3 < n && isHex(line[i+3]) {
					cur.WriteByte(unhex(line[i+2])<<4 | unhex(line[i+3]))
					i += 4
				} else {
					return nil, errAt("truncated or invalid hexadecimal sequence", i)
				}
			case '$':
				if quote == '"' {
					cur.WriteByte('$')
					i += 2
				} else {
					cur.WriteString("\\$")
					i += 2
				}
			default:
				cur.WriteByte('\\')
				i++
			}
			continue
		case c == '$' && quote == '"':
			inWord = true
			j := i + 1
			brace := false
			if j < n && line[j] == '{' {
				brace = true
				j++
			}
			start := j
			if j >= n || !(isAlpha(line[j]) || line[j] == '_' || line[j] == '.') {
				if brace {
					return nil, errAt("forbidden first char in environment variable name", j)
				}
				cur.WriteByte('$')
				i++
				continue
			}
			j++
			for j < n && (isAlnum(line[j]) || line[j] == '_') {
				j++
			}
			name := line[start:j]
			def, hasDef, split := "", false, false
			if brace {
				if j+3 <= n && line[j:j+3] == "[*]" {
					split = true
					j += 3
				}
				if j < n && line[j] == '-' {
					k := strings.IndexByte(line[j:], '}')
					if k < 0 {
						return nil, errAt("unmatched brace in environment variable name", start-2)
					}
					def, hasDef = line[j+1:j+k], true
					j += k
				}
				if j >= n || line[j] != '}' {
					return nil, errAt("unmatched brace in environment variable name", start-2)
				}
				j++
			}
			var val string
			var ok bool
			switch name {
			case ".FILE":
				val, ok = file, true
			case ".LINE":
				val, ok = strconv.Itoa(lineno), true
			case ".SECTION":
				val, ok = section, true
			default:
				if strings.HasPrefix(name, ".") {
					return nil, errAt("unknown variable name '"+name+"'", start)
				}
				val, ok = lookup(name)
			}
			if !ok && hasDef {
				val = def
			}
			if split {
				parts := strings.Fields(val)
				for k, p := range parts {
					cur.WriteString(p)
					if k < len(parts)-1 {
						words = append(words, cur.String())
						cur.Reset()
					}
				}
			} else {
				cur.WriteString(val)
			}
			i = j
			continue
		}
		inWord = true
		cur.WriteByte(c)
		i++
	}
	if quote != 0 {
		return nil, errAt("unmatched quote", quoteStart)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isAlpha(c) || c >= '0' && c <= '9' }
