package httpproxy

import (
	"bytes"
	"sort"

	"hitless/internal/config"
	"hitless/internal/sample"
)

// `http-request normalize-uri NORMALIZER [OPTION]`: HAProxy 2.6's normalizers, each a
// row rewriting the path, the query or the whole target. A strict normalizer that
// meets an invalid %-sequence answers 400.

type normalizer func(b, path []byte, full bool) (out []byte, ok bool)

var normalizers = map[string]normalizer{
	"path-merge-slashes":        normMergeSlashes,
	"path-strip-dot":            normStripDot,
	"path-strip-dotdot":         normStripDotDot,
	"percent-decode-unreserved": normDecodeUnreserved,
	"percent-to-uppercase":      normPercentUpper,
}

func normMergeSlashes(b, p []byte, _ bool) ([]byte, bool) {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i > 0 && p[i-1] == '/' {
			continue
		}
		b = append(b, p[i])
	}
	return b, true
}

// segments splits a path on '/' (the leading empty segment of an absolute path
// included).
func segments(p []byte) [][]byte { return bytes.Split(p, []byte("/")) }

func normStripDot(b, p []byte, _ bool) ([]byte, bool) {
	segs := segments(p)
	var kept [][]byte
	for i, s := range segs {
		if i > 0 && string(s) == "." {
			if i == len(segs)-1 {
				kept = append(kept, nil) // "/a/." keeps its trailing slash
			}
			continue
		}
		kept = append(kept, s)
	}
	return append(b, bytes.Join(kept, []byte("/"))...), true
}

func normStripDotDot(b, p []byte, full bool) ([]byte, bool) {
	segs := segments(p)
	var kept [][]byte
	for i, s := range segs {
		if i > 0 && string(s) == ".." {
			switch {
			case len(kept) > 1 && string(kept[len(kept)-1]) != "..":
				kept = kept[:len(kept)-1]
			case len(kept) <= 1 && full:
				// a leading "/.." is dropped with `full`
			default:
				kept = append(kept, s)
				continue
			}
			if i == len(segs)-1 {
				kept = append(kept, nil)
			}
			continue
		}
		kept = append(kept, s)
	}
	return append(b, bytes.Join(kept, []byte("/"))...), true
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func normDecodeUnreserved(b, p []byte, strict bool) ([]byte, bool) {
	for i := 0; i < len(p); i++ {
		if p[i] == '%' {
			h, ok1 := unhexByte(p, i+1)
			l, ok2 := unhexByte(p, i+2)
			if !ok1 || !ok2 {
				if strict {
					return nil, false
				}
				b = append(b, p[i])
				continue
			}
			if c := h<<4 | l; unreserved(c) {
				b = append(b, c)
				i += 2
				continue
			}
		}
		b = append(b, p[i])
	}
	return b, true
}

func normPercentUpper(b, p []byte, strict bool) ([]byte, bool) {
	for i := 0; i < len(p); i++ {
		if p[i] == '%' {
			_, ok1 := unhexByte(p, i+1)
			_, ok2 := unhexByte(p, i+2)
			if !ok1 || !ok2 {
				if strict {
					return nil, false
				}
				b = append(b, p[i])
				continue
			}
			b = append(b, '%', upper(p[i+1]), upper(p[i+2]))
			i += 2
			continue
		}
		b = append(b, p[i])
	}
	return b, true
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

func unhexByte(p []byte, i int) (byte, bool) {
	if i >= len(p) {
		return 0, false
	}
	c := p[i]
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// normalize runs one normalize-uri rule on the request target; false means the
// request is refused (a strict normalizer met an invalid sequence).
func (s *session) normalize(r *config.HTTPRule) bool {
	t := s.req.Target
	start := len(s.arena)
	switch r.Header { // the normalizer's name
	case "fragment-strip":
		if i := bytes.IndexByte(t, '#'); i >= 0 {
			s.req.Target = t[:i]
		}
		return true
	case "fragment-encode":
		if bytes.IndexByte(t, '#') < 0 {
			return true
		}
		for _, c := range t {
			if c == '#' {
				s.arena = append(s.arena, "%23"...)
			} else {
				s.arena = append(s.arena, c)
			}
		}
		s.req.Target = s.arena[start:len(s.arena):len(s.arena)]
		return true
	case "query-sort-by-name":
		_, q, _ := sample.SplitTarget(t)
		if q == nil {
			return true
		}
		params := bytes.Split(q, []byte("&"))
		sort.SliceStable(params, func(i, j int) bool {
			ni, _, _ := bytes.Cut(params[i], []byte("="))
			nj, _, _ := bytes.Cut(params[j], []byte("="))
			return bytes.Compare(ni, nj) < 0
		})
		s.arena = append(s.arena, bytes.Join(params, []byte("&"))...)
		s.setPart(lineQuery, s.arena[start:len(s.arena):len(s.arena)])
		return true
	}
	// The percent normalizers work on the whole target, the path ones on the path.
	part, in := linePath, t
	if r.Header == "percent-decode-unreserved" || r.Header == "percent-to-uppercase" {
		part = lineURI
	} else {
		path, _, ok := sample.SplitTarget(t)
		if !ok {
			return true
		}
		in = path
	}
	out, ok := normalizers[r.Header](s.arena, in, r.Level == 1)
	if !ok {
		return false
	}
	s.arena = out
	s.setPart(part, s.arena[start:len(s.arena):len(s.arena)])
	return true
}
