package tlsconf

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// Options are the TLS settings a bind line, a crt-list line and a server line share.
// The config package fills them from its keyword rows; zero values mean "unset".
type Options struct {
	ALPN         []string `json:",omitempty"`
	MinVer       uint16   `json:",omitempty"` // ssl-min-ver; 0 = HAProxy's default (TLSv1.2)
	MaxVer       uint16   `json:",omitempty"` // ssl-max-ver; 0 = the highest
	Force        uint16   `json:",omitempty"` // force-tlsv1x
	NoVers       []uint16 `json:",omitempty"` // no-sslv3, no-tlsv1x
	Ciphers      string   `json:",omitempty"` // TLS <= 1.2, OpenSSL cipher list
	Ciphersuites string   `json:",omitempty"` // TLS 1.3
	Curves       string   `json:",omitempty"`
	ECDHE        string   `json:",omitempty"`
	Verify       string   `json:",omitempty"` // "none", "optional", "required"; "" = unset
	CAFile       string   `json:",omitempty"`
	CAVerifyFile string   `json:",omitempty"`
	CRLFile      string   `json:",omitempty"`
	CAIgnoreErr  string   `json:",omitempty"` // "all" or comma-separated error IDs
	CrtIgnoreErr string   `json:",omitempty"`
	NoCANames    bool     `json:",omitempty"`
	NoTickets    bool     `json:",omitempty"`
}

// VersionSSL3 is SSLv3's wire value, which Go's TLS does not implement.
const VersionSSL3 = 0x0300

// versionNames are HAProxy's version words.
var versionNames = map[string]uint16{
	"SSLv3": VersionSSL3, "TLSv1.0": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11,
	"TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13,
}

// ParseVersion reads an `ssl-min-ver` / `ssl-max-ver` word.
func ParseVersion(s string) (uint16, bool) {
	v, ok := versionNames[s]
	return v, ok
}

// VersionName is OpenSSL's name of a protocol version (ssl_fc_protocol, %sslv).
func VersionName(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS10:
		return "TLSv1"
	case VersionSSL3:
		return "SSLv3"
	}
	return ""
}

// FlagVersions maps the no-* and force-* keywords to their version.
var FlagVersions = map[string]uint16{
	"sslv3": VersionSSL3, "tlsv10": tls.VersionTLS10, "tlsv11": tls.VersionTLS11,
	"tlsv12": tls.VersionTLS12, "tlsv13": tls.VersionTLS13,
}

// versionRange computes the protocol range as HAProxy does from ssl-min-ver,
// ssl-max-ver, force-* and no-*; Go needs a contiguous range.
func (o *Options) versionRange() (lo, hi uint16, notes []string, err error) {
	if o.Force != 0 {
		if o.Force == VersionSSL3 {
			return 0, 0, nil, fmt.Errorf("'force-sslv3' is not available: Go's TLS has no SSLv3")
		}
		return o.Force, o.Force, nil, nil
	}
	lo, hi = tls.VersionTLS12, tls.VersionTLS13
	if o.MinVer != 0 {
		lo = o.MinVer
	}
	if o.MaxVer != 0 {
		hi = o.MaxVer
	}
	if lo == VersionSSL3 {
		notes = append(notes, "SSLv3 is not offered: Go's TLS has no SSLv3; the lowest version offered is TLSv1.0")
		lo = tls.VersionTLS10
	}
	if hi == VersionSSL3 {
		return 0, 0, nil, fmt.Errorf("'ssl-max-ver SSLv3' is not available: Go's TLS has no SSLv3")
	}
	if lo > hi {
		return 0, 0, nil, fmt.Errorf("ssl-min-ver %s is above ssl-max-ver %s", VersionName(lo), VersionName(hi))
	}
	off := map[uint16]bool{}
	for _, v := range o.NoVers {
		off[v] = true
	}
	for lo <= hi && off[lo] {
		lo++
	}
	for hi >= lo && off[hi] {
		hi--
	}
	if lo > hi {
		return 0, 0, nil, fmt.Errorf("every TLS version is disabled")
	}
	for v := lo; v <= hi; v++ {
		if off[v] {
			return 0, 0, nil, fmt.Errorf("'no-%s' leaves a hole between %s and %s: Go's TLS only offers a contiguous range of versions",
				strings.ToLower(strings.ReplaceAll(VersionName(v), ".", "")), VersionName(lo), VersionName(hi))
		}
	}
	return lo, hi, notes, nil
}

// applyCommon sets what Options say about versions, suites, curves and ALPN on c.
func (o *Options) applyCommon(c *tls.Config) (notes []string, err error) {
	lo, hi, n, err := o.versionRange()
	if err != nil {
		return nil, err
	}
	notes = append(notes, n...)
	c.MinVersion, c.MaxVersion = lo, hi
	if o.Ciphers != "" {
		ids, n, err := ParseCipherList(o.Ciphers)
		if err != nil {
			return nil, fmt.Errorf("'ciphers' : %v", err)
		}
		for _, s := range n {
			notes = append(notes, "'ciphers' : "+s)
		}
		c.CipherSuites = ids
	}
	if o.Ciphersuites != "" {
		if err := CheckCiphersuites(o.Ciphersuites); err != nil {
			return nil, fmt.Errorf("'ciphersuites' : %v", err)
		}
	}
	switch {
	case o.Curves != "":
		ids, err := ParseCurves(o.Curves)
		if err != nil {
			return nil, fmt.Errorf("'curves' : %v", err)
		}
		c.CurvePreferences = ids
	case o.ECDHE != "":
		ids, err := ParseCurves(o.ECDHE)
		if err != nil || len(ids) != 1 {
			if err == nil {
				err = fmt.Errorf("expects one curve name")
			}
			return nil, fmt.Errorf("'ecdhe' : %v", err)
		}
		c.CurvePreferences = ids
	}
	if len(o.ALPN) > 0 {
		c.NextProtos = append([]string(nil), o.ALPN...)
	}
	c.SessionTicketsDisabled = o.NoTickets
	return notes, nil
}
