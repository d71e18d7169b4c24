// Package logformat reads HAProxy's custom log format strings (`log-format`,
// `log-format-sd`, `unique-id-format`) into a Format and writes an access-log record
// with one, as HAProxy 2.6 does: its % variables and flags, the %[...] sample fetches
// usable at log time, and spaces that act as merged separators. The config package
// parses the strings (so that `hitless -c` reports their errors); the tcp and http
// engines fill an Entry per connection or request and call Append into a reused
// buffer, which allocates nothing.
package logformat

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"hitless/internal/sample"
)

// Entry is one access-log record. Durations are -1 when the phase was not reached.
type Entry struct {
	ClientIP   netip.Addr
	ClientPort int
	// FrontendAddr is the accepting address (%fi:%fp).
	FrontendAddr netip.AddrPort
	Accept       time.Time // %t; the base of %tr when Request is zero
	Request      time.Time // %tr: when the request started
	// Frontend, Backend and Server are names; Backend is the frontend's name when no
	// backend was chosen, Server "<NOSRV>" when none.
	Frontend   string
	Backend    string
	Server     string
	ServerAddr netip.AddrPort // %si:%sp
	BackendSrc netip.AddrPort // %bi:%bp, the proxy's side of the server connection
	TR, Tw, Tc time.Duration
	Tr, Ta, Tt time.Duration
	Status     int
	Bytes      int64   // bytes sent to the client
	BytesIn    int64   // bytes received from the client (%U)
	Term       [2]byte // termination state, "--" when normal
	ActConn    int
	FeConn     int
	BeConn     int
	SrvConn    int
	Retries    int
	// Redispatched marks a retry that went to another server: %rc gets a '+' prefix.
	Redispatched bool
	SrvQueue     int
	BeQueue      int
	ReqCounter   uint64 // %rt
	// RequestLine is the HTTP request line ("<BADREQ>" for an invalid request).
	RequestLine string
	UniqueID    []byte // %ID
	// Partial marks a line logged before the end (option logasap): %Tt and %B get a
	// '+' prefix.
	Partial bool
	PID     int    // %pid
	Host    string // %H
	// Smp evaluates the %[...] expressions; nil outside a session (they print "-").
	Smp *sample.Ctx
	// SSLVersion and SSLCipher are the client connection's TLS protocol and suite in
	// OpenSSL's words (%sslv, %sslc), "" on a plain connection, which also decides
	// the '~' after the frontend name of %ft.
	SSLVersion, SSLCipher string
}

// Format is a parsed format string. It is immutable and safe for concurrent use.
type Format struct {
	Source string
	nodes  []node
	http   string // the first variable that needs mode http, "" when none
	// bare: an absent sample prints nothing (header values, lf-strings) rather than
	// "-" (log lines).
	bare bool
}

// NeedsHTTP names the first variable that only mode http provides ("%HM"), or "".
func (f *Format) NeedsHTTP() string { return f.http }

type kind uint8

const (
	kText kind = iota
	kSep       // one or more spaces: at most one space, never after another
	kVar
	kExpr // %[expr]
)

type node struct {
	kind kind
	v    varID
	text string
	opts opts
	expr *sample.Expr // kExpr
}

// opts are a variable's flags: Q quotes strings, X writes IPs, ports and some
// numbers in hexadecimal, E escapes '"', '\' and ']'.
type opts uint8

const (
	optQ opts = 1 << iota
	optX
	optE
)

type varID uint8

const (
	vB varID = iota
	vCC
	vCS
	vH
	vHM
	vHP
	vHPO
	vHQ
	vHU
	vHV
	vID
	vST
	vT
	vTa
	vTc
	vTd
	vTl
	vTh
	vTi
	vTq
	vTR
	vTr
	vTs
	vTt
	vTu
	vTw
	vU
	vac
	vb
	vbc
	vbi
	vbp
	vbq
	vci
	vcp
	vf
	vfc
	vfi
	vfp
	vft
	vhr
	vhrl
	vhs
	vhsl
	vms
	vpid
	vr
	vrc
	vrt
	vs
	vsc
	vsi
	vsp
	vsq
	vsslc
	vsslv
	vt
	vtr
	vtrg
	vtrl
	vts
	vtsc
	vo
)

// vars is HAProxy 2.6's table of log-format variables (section 8.2.6 of its manual);
// http marks those reserved for mode http. %lc is not there: hitless does not count
// log lines per frontend yet.
var vars = map[string]struct {
	id   varID
	http bool
}{
	"B": {vB, false}, "CC": {vCC, true}, "CS": {vCS, true}, "H": {vH, false}, "HM": {vHM, true},
	"HP": {vHP, true}, "HPO": {vHPO, true}, "HQ": {vHQ, true}, "HU": {vHU, true}, "HV": {vHV, true},
	"ID": {vID, false}, "ST": {vST, false}, "T": {vT, false}, "Ta": {vTa, true}, "Tc": {vTc, false},
	"Td": {vTd, false}, "Tl": {vTl, false}, "Th": {vTh, false}, "Ti": {vTi, true}, "Tq": {vTq, true},
	"TR": {vTR, true}, "Tr": {vTr, true}, "Ts": {vTs, false}, "Tt": {vTt, false}, "Tu": {vTu, false},
	"Tw": {vTw, false}, "U": {vU, false}, "ac": {vac, false}, "b": {vb, false}, "bc": {vbc, false},
	"bi": {vbi, false}, "bp": {vbp, false}, "bq": {vbq, false}, "ci": {vci, false}, "cp": {vcp, false},
	"f": {vf, false}, "fc": {vfc, false}, "fi": {vfi, false}, "fp": {vfp, false}, "ft": {vft, false},
	"hr": {vhr, false}, "hrl": {vhrl, false}, "hs": {vhs, false}, "hsl": {vhsl, false}, "ms": {vms, false},
	"pid": {vpid, false}, "r": {vr, true}, "rc": {vrc, false}, "rt": {vrt, false}, "s": {vs, false},
	"sc": {vsc, false}, "si": {vsi, false}, "sp": {vsp, false}, "sq": {vsq, false}, "sslc": {vsslc, false},
	"sslv": {vsslv, false}, "t": {vt, false}, "tr": {vtr, true}, "trg": {vtrg, true}, "trl": {vtrl, true},
	"ts": {vts, false}, "tsc": {vtsc, true}, "o": {vo, false},
}

// Parse reads a log format string (its %[...] run at the end of the stream).
func Parse(s string) (*Format, error) { return ParseAt(s, sample.AtLog, nil) }

// ParseAt reads a format string as HAProxy's parse_logformat does, for use at the
// points w (a log line, a header value of an http-request rule, ...), with map
// files from p (nil: none). Errors are worded as HAProxy words them after "failed to
// parse log-format : ".
func ParseAt(s string, w sample.Where, p *sample.Parser) (f *Format, err error) {
	if p == nil {
		p = &sample.Parser{}
	}
	defer func() {
		if f != nil {
			f.bare = w&sample.AtLog == 0
		}
	}()
	f = &Format{Source: s}
	var def opts // flags set by %o for the variables that follow
	text := strings.Builder{}
	flush := func() {
		if text.Len() > 0 {
			f.nodes = append(f.nodes, node{kind: kText, text: text.String()})
			text.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c == ' ' {
			flush()
			for i < len(s) && s[i] == ' ' {
				i++
			}
			f.nodes = append(f.nodes, node{kind: kSep})
			continue
		}
		if c != '%' {
			text.WriteByte(c)
			i++
			continue
		}
		i++
		if i >= len(s) {
			return nil, errors.New("truncated line after '%'.")
		}
		if s[i] == '%' {
			text.WriteByte('%')
			i++
			continue
		}
		o := def
		if s[i] == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("truncated line after '%s'.", s[i+1:])
			}
			o = applyFlags(o, s[i+1:i+end])
			i += end + 1
			if i >= len(s) {
				return nil, fmt.Errorf("truncated line after '%s'.", s[i-end:i])
			}
		}
		flush()
		if s[i] == '[' {
			e, n, err := p.ParsePrefix(s[i+1:], ']')
			if err != nil {
				return nil, fmt.Errorf("failed to parse sample expression <%s> : %v.", s[i+1:], err)
			}
			if i+1+n >= len(s) || s[i+1+n] != ']' {
				return nil, fmt.Errorf("missing ']' after '%s'.", s[i+1:])
			}
			if src := e.Missing(w); src != 0 {
				return nil, fmt.Errorf("sample fetch <%s> may not be reliably used here because it needs '%s' which is not available here.", s[i+1:], src.Name())
			}
			f.nodes = append(f.nodes, node{kind: kExpr, expr: e, opts: o})
			if e.NeedsHTTP() && f.http == "" {
				f.http = "%[" + e.Text + "]"
			}
			i += n + 2
			continue
		}
		j := i
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
			j++
		}
		name := s[i:j]
		v, ok := vars[name]
		if !ok {
			return nil, fmt.Errorf("no such format variable '%s'. If you wanted to emit the '%%' character verbatim, you need to use '%%%%'.", name)
		}
		i = j
		if v.id == vo {
			def = o
			continue
		}
		if v.http && f.http == "" {
			f.http = "%" + name
		}
		f.nodes = append(f.nodes, node{kind: kVar, v: v.id, opts: o})
	}
	flush()
	return f, nil
}

// applyFlags applies "+Q,-X,..." to o; unknown flags are ignored, as in HAProxy.
func applyFlags(o opts, list string) opts {
	for _, fl := range strings.Split(list, ",") {
		if len(fl) != 2 || (fl[0] != '+' && fl[0] != '-') {
			continue
		}
		var bit opts
		switch fl[1] {
		case 'Q':
			bit = optQ
		case 'X':
			bit = optX
		case 'E':
			bit = optE
		default:
			continue
		}
		if fl[0] == '+' {
			o |= bit
		} else {
			o &^= bit
		}
	}
	return o
}

// HAProxy 2.6's formats behind `option httplog`, `option tcplog` and `option httplog
// clf`, as its manual gives them.
const (
	HTTPLog = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"
	TCPLog  = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq"
	CLFLog  = `%{+Q}o %{-Q}ci - - [%trg] %r %ST %B "" "" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl`
)
