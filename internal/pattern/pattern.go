// Package pattern holds the pattern lists that ACLs match samples against and the
// maps that map*() converters look keys up in: HAProxy's match methods (str, beg,
// end, sub, reg, dir, dom, len, found, bool, int, ip), pattern and map files read at
// start-up with file:line errors, and the indexes that make a lookup cost a hash or
// a few hash lookups rather than a walk of the list. A Set is immutable; a Ref lets
// the Runtime API swap a whole new Set in (`add map`, `commit map`) while requests
// keep matching. internal/acl and internal/sample use it; the runtime API edits
// Refs through a Registry.
package pattern

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"sync/atomic"
)

// Method is a match method (`-m NAME`).
type Method uint8

const (
	Str Method = iota
	Beg
	End
	Sub
	Reg
	Dir
	Dom
	Len
	Found
	Bool
	Int
	IP
	Bin
)

// Methods maps the `-m` names to methods.
var Methods = map[string]Method{
	"str": Str, "beg": Beg, "end": End, "sub": Sub, "reg": Reg, "dir": Dir, "dom": Dom, "len": Len,
	"found": Found, "bool": Bool, "int": Int, "ip": IP, "bin": Bin,
}

var methodNames = func() map[Method]string {
	m := map[Method]string{}
	for k, v := range Methods {
		m[v] = k
	}
	return m
}()

func (m Method) String() string { return methodNames[m] }

// Entry is one pattern (or one map line: Key then Value).
type Entry struct {
	Key, Value string
	Line       int // line in its file, 0 when given inline
	ID         uint64
}

type intRange struct{ lo, hi int64 }

func (r intRange) contains(n int64) bool { return n >= r.lo && n <= r.hi }

// Set is a compiled list of patterns for one method; Match returns the index of the
// first matching entry (the longest prefix for ip). It is immutable.
type Set struct {
	Method  Method
	Fold    bool // -i
	Entries []Entry

	exact  map[string]int               // str, bin (keys lower-cased when Fold)
	byLen  map[int]map[string]int       // beg, end: pattern length -> pattern -> index
	lens   []int                        // the distinct lengths of byLen
	res    []*regexp.Regexp             // reg
	ranges []intRange                   // int, len
	nets   map[int]map[netip.Prefix]int // ip: prefix bits -> network -> index
	bits   []int                        // distinct prefix lengths, longest first
}

// Compile builds a Set; a pattern that does not parse for the method is an error
// naming it, in HAProxy's words.
func Compile(m Method, fold bool, entries []Entry) (*Set, error) {
	s := &Set{Method: m, Fold: fold, Entries: entries}
	switch m {
	case Str, Bin:
		s.exact = make(map[string]int, len(entries))
		for i, e := range entries {
			k := e.Key
			if fold {
				k = strings.ToLower(k)
			}
			if _, dup := s.exact[k]; !dup {
				s.exact[k] = i
			}
		}
	case Beg, End:
		s.byLen = map[int]map[string]int{}
		for i, e := range entries {
			k := e.Key
			if fold {
				k = strings.ToLower(k)
			}
			byK := s.byLen[len(k)]
			if byK == nil {
				byK = map[string]int{}
				s.byLen[len(k)] = byK
				s.lens = append(s.lens, len(k))
			}
			if _, dup := byK[k]; !dup {
				byK[k] = i
			}
		}
	case Sub, Dir, Dom:
		if fold {
			s.Entries = append([]Entry(nil), entries...)
			for i := range s.Entries {
				s.Entries[i].Key = strings.ToLower(s.Entries[i].Key)
			}
		}
	case Reg:
		for _, e := range entries {
			re, err := CompileRegexp(e.Key, fold)
			if err != nil {
				return nil, err
			}
			s.res = append(s.res, re)
		}
	case Int, Len:
		var op string
		var kept []Entry
		for _, e := range entries {
			if intOps[e.Key] && op == "" {
				op = e.Key
				continue
			}
			var r intRange
			var err error
			if op != "" {
				r, err = opRange(op, e.Key)
				op = ""
			} else {
				r, err = parseIntRange(e.Key)
			}
			if err != nil {
				return nil, err
			}
			s.ranges = append(s.ranges, r)
			kept = append(kept, e)
		}
		s.Entries = kept
	case IP:
		s.nets = map[int]map[netip.Prefix]int{}
		for i, e := range entries {
			p, err := ParsePrefix(e.Key)
			if err != nil {
				return nil, err
			}
			p = canonical(p)
			byP := s.nets[p.Bits()]
			if byP == nil {
				byP = map[netip.Prefix]int{}
				s.nets[p.Bits()] = byP
				s.bits = append(s.bits, p.Bits())
			}
			if _, dup := byP[p]; !dup {
				byP[p] = i
			}
		}
		sortDesc(s.bits)
	}
	return s, nil
}

// canonical stores IPv4 networks (and IPv4-mapped IPv6 ones of at least /96) as
// IPv6-mapped prefixes, so that one lookup serves both families.
func canonical(p netip.Prefix) netip.Prefix {
	a := p.Addr()
	if a.Is4() {
		return netip.PrefixFrom(netip.AddrFrom16(a.As16()), p.Bits()+96).Masked()
	}
	return p.Masked()
}

func sortDesc(b []int) {
	for i := 1; i < len(b); i++ {
		for j := i; j > 0 && b[j] > b[j-1]; j-- {
			b[j], b[j-1] = b[j-1], b[j]
		}
	}
}

// Len is the number of patterns.
func (s *Set) Len() int { return len(s.Entries) }

// foldBuf lower-cases b into buf when it fits (the common case), else allocates.
func foldBuf(b []byte, buf []byte) []byte {
	out := buf[:0]
	if len(b) > cap(buf) {
		out = make([]byte, 0, len(b))
	}
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out = append(out, c)
	}
	return out
}

// MatchBytes returns the index of the first entry a string sample matches.
func (s *Set) MatchBytes(b []byte) (int, bool) {
	switch s.Method {
	case Reg:
		for i, re := range s.res {
			if re.Match(b) {
				return i, true
			}
		}
		return -1, false
	case Len:
		return s.MatchInt(int64(len(b)))
	}
	if !s.Fold {
		return s.matchText(b)
	}
	// Lower-case into a buffer on the stack (which must not reach the regexp code
	// above, or it would escape to the heap).
	var tmp [256]byte
	return s.matchText(foldBuf(b, tmp[:]))
}

// matchText matches the text methods; b is already lower-cased for -i.
func (s *Set) matchText(b []byte) (int, bool) {
	switch s.Method {
	case Str, Bin:
		i, ok := s.exact[string(b)]
		return i, ok
	case Beg, End:
		best := -1
		for _, l := range s.lens {
			if l > len(b) {
				continue
			}
			part := b[:l]
			if s.Method == End {
				part = b[len(b)-l:]
			}
			if i, ok := s.byLen[l][string(part)]; ok && (best < 0 || i < best) {
				best = i
			}
		}
		return best, best >= 0
	case Sub:
		for i := range s.Entries {
			if strings.Contains(bstr(b), s.Entries[i].Key) {
				return i, true
			}
		}
	case Dir:
		for i := range s.Entries {
			if matchWord(bstr(b), s.Entries[i].Key, '/') {
				return i, true
			}
		}
	case Dom:
		for i := range s.Entries {
			if matchWord(bstr(b), s.Entries[i].Key, '.') {
				return i, true
			}
		}
	}
	return -1, false
}

// MatchInt returns the index of the first range holding n.
func (s *Set) MatchInt(n int64) (int, bool) {
	for i, r := range s.ranges {
		if r.contains(n) {
			return i, true
		}
	}
	return -1, false
}

// MatchAddr returns the index of the longest network holding a.
func (s *Set) MatchAddr(a netip.Addr) (int, bool) {
	if !a.IsValid() {
		return -1, false
	}
	a16 := netip.AddrFrom16(a.As16())
	if a.Is6() && !a.Is4In6() {
		a16 = a
	}
	for _, bits := range s.bits {
		p, err := a16.Prefix(bits)
		if err != nil {
			continue
		}
		if i, ok := s.nets[bits][p]; ok {
			return i, true
		}
	}
	return -1, false
}

// matchWord reports whether pat occurs in s as a whole run of words delimited by
// delim (or '/', '?' and the ends), ignoring the delimiters at pat's ends: HAProxy's
// dir and dom matching.
func matchWord(s, pat string, delim byte) bool {
	isDelim := func(c byte) bool { return c == delim || c == '/' || c == '?' || delim == '.' && c == ':' }
	for len(pat) > 0 && isDelim(pat[0]) {
		pat = pat[1:]
	}
	for len(pat) > 0 && isDelim(pat[len(pat)-1]) {
		pat = pat[:len(pat)-1]
	}
	if pat == "" {
		return true
	}
	for i := 0; i+len(pat) <= len(s); i++ {
		if (i == 0 || isDelim(s[i-1])) && s[i:i+len(pat)] == pat &&
			(i+len(pat) == len(s) || isDelim(s[i+len(pat)])) {
			return true
		}
	}
	return false
}

// CompileRegexp compiles a pattern with HAProxy's message for a bad one.
func CompileRegexp(p string, fold bool) (*regexp.Regexp, error) {
	src := p
	if fold {
		src = "(?i)" + p
	}
	re, err := regexp.Compile(src)
	if err != nil {
		msg := err.Error()
		var se *syntax.Error
		if errors.As(err, &se) {
			msg = string(se.Code)
		}
		return nil, fmt.Errorf("regex '%s' is invalid (error=%s)", p, msg)
	}
	return re, nil
}

// ParsePrefix reads an address or a network (CIDR or dotted netmask).
func ParsePrefix(v string) (netip.Prefix, error) {
	bad := fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", v)
	addr, mask, hasMask := strings.Cut(v, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, bad
	}
	if !hasMask {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	if bits, err := strconv.Atoi(mask); err == nil {
		if bits < 0 || bits > a.BitLen() {
			return netip.Prefix{}, bad
		}
		return netip.PrefixFrom(a, bits).Masked(), nil
	}
	m, err := netip.ParseAddr(mask)
	if err != nil || !a.Is4() || !m.Is4() {
		return netip.Prefix{}, bad
	}
	b4 := m.As4()
	u := uint32(b4[0])<<24 | uint32(b4[1])<<16 | uint32(b4[2])<<8 | uint32(b4[3])
	bits := 0
	for bits < 32 && u&(1<<(31-bits)) != 0 {
		bits++
	}
	if bits < 32 && u<<bits != 0 {
		return netip.Prefix{}, bad
	}
	return netip.PrefixFrom(a, bits).Masked(), nil
}

// parseIntRange reads N or LO:HI (either bound may be omitted).
func parseIntRange(v string) (intRange, error) {
	lo, hi, isRange := strings.Cut(v, ":")
	if !isRange {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return intRange{}, fmt.Errorf("'%s' is neither a number nor a supported operator", v)
		}
		return intRange{n, n}, nil
	}
	r := intRange{math.MinInt64, math.MaxInt64}
	var err1, err2 error
	if lo != "" {
		r.lo, err1 = strconv.ParseInt(lo, 10, 64)
	}
	if hi != "" {
		r.hi, err2 = strconv.ParseInt(hi, 10, 64)
	}
	if err1 != nil || err2 != nil || lo == "" && hi == "" || r.lo > r.hi {
		return intRange{}, fmt.Errorf("'%s' is not a valid number range", v)
	}
	return r, nil
}

var intOps = map[string]bool{"eq": true, "ge": true, "gt": true, "le": true, "lt": true}

// opRange is the range `OP N` accepts, without overflowing at the int64 bounds.
func opRange(op, v string) (intRange, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return intRange{}, fmt.Errorf("'%s' is neither a number nor a supported operator", v)
	}
	switch op {
	case "ge":
		return intRange{n, math.MaxInt64}, nil
	case "gt":
		if n == math.MaxInt64 {
			return intRange{1, 0}, nil
		}
		return intRange{n + 1, math.MaxInt64}, nil
	case "le":
		return intRange{math.MinInt64, n}, nil
	case "lt":
		if n == math.MinInt64 {
			return intRange{1, 0}, nil
		}
		return intRange{math.MinInt64, n - 1}, nil
	}
	return intRange{n, n}, nil
}

// Ref is a Set that the Runtime API may replace while requests read it.
type Ref struct {
	p atomic.Pointer[Set]
}

// NewRef returns a Ref holding s.
func NewRef(s *Set) *Ref {
	r := &Ref{}
	r.p.Store(s)
	return r
}

// Load returns the current Set.
func (r *Ref) Load() *Set { return r.p.Load() }

// Store replaces the Set.
func (r *Ref) Store(s *Set) { r.p.Store(s) }
