package tlsconf

import (
	"crypto/tls"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// OpenSSL's names for the TLS 1.2 suites, with the attributes its cipher-list aliases
// select on. Go implements exactly these; anything else OpenSSL knows (DHE, CCM, ARIA,
// CAMELLIA, PSK, ...) has no Go equivalent.
type suite struct {
	name     string // OpenSSL's name
	id       uint16
	kx, au   string // key exchange ("ECDHE", "RSA") and authentication ("ECDSA", "RSA")
	enc      string // "AESGCM", "CHACHA20", "AES", "3DES", "RC4"
	bits     int
	mac      string // "AEAD", "SHA1", "SHA256", "SHA384"
	strength string // "HIGH", "MEDIUM", "LOW"
}

var suites = []suite{
	{"ECDHE-ECDSA-AES256-GCM-SHA384", tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE", "ECDSA", "AESGCM", 256, "AEAD", "HIGH"},
	{"ECDHE-RSA-AES256-GCM-SHA384", tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE", "RSA", "AESGCM", 256, "AEAD", "HIGH"},
	{"ECDHE-ECDSA-CHACHA20-POLY1305", tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE", "ECDSA", "CHACHA20", 256, "AEAD", "HIGH"},
	{"ECDHE-RSA-CHACHA20-POLY1305", tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE", "RSA", "CHACHA20", 256, "AEAD", "HIGH"},
	{"ECDHE-ECDSA-AES128-GCM-SHA256", tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE", "ECDSA", "AESGCM", 128, "AEAD", "HIGH"},
	{"ECDHE-RSA-AES128-GCM-SHA256", tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE", "RSA", "AESGCM", 128, "AEAD", "HIGH"},
	{"ECDHE-ECDSA-AES128-SHA256", tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "ECDHE", "ECDSA", "AES", 128, "SHA256", "HIGH"},
	{"ECDHE-RSA-AES128-SHA256", tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "ECDHE", "RSA", "AES", 128, "SHA256", "HIGH"},
	{"ECDHE-ECDSA-AES256-SHA", tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE", "ECDSA", "AES", 256, "SHA1", "HIGH"},
	{"ECDHE-RSA-AES256-SHA", tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE", "RSA", "AES", 256, "SHA1", "HIGH"},
	{"ECDHE-ECDSA-AES128-SHA", tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE", "ECDSA", "AES", 128, "SHA1", "HIGH"},
	{"ECDHE-RSA-AES128-SHA", tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE", "RSA", "AES", 128, "SHA1", "HIGH"},
	{"AES256-GCM-SHA384", tls.TLS_RSA_WITH_AES_256_GCM_SHA384, "RSA", "RSA", "AESGCM", 256, "AEAD", "HIGH"},
	{"AES128-GCM-SHA256", tls.TLS_RSA_WITH_AES_128_GCM_SHA256, "RSA", "RSA", "AESGCM", 128, "AEAD", "HIGH"},
	{"AES128-SHA256", tls.TLS_RSA_WITH_AES_128_CBC_SHA256, "RSA", "RSA", "AES", 128, "SHA256", "HIGH"},
	{"AES256-SHA", tls.TLS_RSA_WITH_AES_256_CBC_SHA, "RSA", "RSA", "AES", 256, "SHA1", "HIGH"},
	{"AES128-SHA", tls.TLS_RSA_WITH_AES_128_CBC_SHA, "RSA", "RSA", "AES", 128, "SHA1", "HIGH"},
	{"ECDHE-RSA-DES-CBC3-SHA", tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, "ECDHE", "RSA", "3DES", 112, "SHA1", "MEDIUM"},
	{"DES-CBC3-SHA", tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, "RSA", "RSA", "3DES", 112, "SHA1", "MEDIUM"},
	{"ECDHE-ECDSA-RC4-SHA", tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, "ECDHE", "ECDSA", "RC4", 128, "SHA1", "LOW"},
	{"ECDHE-RSA-RC4-SHA", tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA, "ECDHE", "RSA", "RC4", 128, "SHA1", "LOW"},
	{"RC4-SHA", tls.TLS_RSA_WITH_RC4_128_SHA, "RSA", "RSA", "RC4", 128, "SHA1", "LOW"},
}

// SuiteName is OpenSSL's name of a suite (what ssl_fc_cipher and %sslc print): the
// IANA name for TLS 1.3 suites, the dash name for the others.
func SuiteName(id uint16) string {
	for i := range suites {
		if suites[i].id == id {
			return suites[i].name
		}
	}
	return tls.CipherSuiteName(id)
}

// SuiteBits is the symmetric key size of a suite (ssl_fc_use_keysize).
func SuiteBits(id uint16) int {
	switch id {
	case tls.TLS_AES_128_GCM_SHA256:
		return 128
	case tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256:
		return 256
	}
	for i := range suites {
		if suites[i].id == id {
			return suites[i].bits
		}
	}
	return 0
}

// aliases are OpenSSL's cipher-list aliases, as predicates on Go's suites.
var aliases = map[string]func(s *suite) bool{
	"ALL":      func(s *suite) bool { return true },
	"DEFAULT":  func(s *suite) bool { return s.enc != "RC4" && s.enc != "3DES" },
	"HIGH":     func(s *suite) bool { return s.strength == "HIGH" },
	"MEDIUM":   func(s *suite) bool { return s.strength == "MEDIUM" },
	"LOW":      func(s *suite) bool { return s.strength == "LOW" },
	"ECDHE":    func(s *suite) bool { return s.kx == "ECDHE" },
	"EECDH":    func(s *suite) bool { return s.kx == "ECDHE" },
	"kECDHE":   func(s *suite) bool { return s.kx == "ECDHE" },
	"kEECDH":   func(s *suite) bool { return s.kx == "ECDHE" },
	"AECDH":    func(s *suite) bool { return false },
	"kRSA":     func(s *suite) bool { return s.kx == "RSA" },
	"RSA":      func(s *suite) bool { return s.kx == "RSA" },
	"aRSA":     func(s *suite) bool { return s.au == "RSA" },
	"aECDSA":   func(s *suite) bool { return s.au == "ECDSA" },
	"ECDSA":    func(s *suite) bool { return s.au == "ECDSA" },
	"AESGCM":   func(s *suite) bool { return s.enc == "AESGCM" },
	"AES":      func(s *suite) bool { return s.enc == "AESGCM" || s.enc == "AES" },
	"AES128":   func(s *suite) bool { return (s.enc == "AESGCM" || s.enc == "AES") && s.bits == 128 },
	"AES256":   func(s *suite) bool { return (s.enc == "AESGCM" || s.enc == "AES") && s.bits == 256 },
	"CHACHA20": func(s *suite) bool { return s.enc == "CHACHA20" },
	"3DES":     func(s *suite) bool { return s.enc == "3DES" },
	"RC4":      func(s *suite) bool { return s.enc == "RC4" },
	"SHA1":     func(s *suite) bool { return s.mac == "SHA1" },
	"SHA":      func(s *suite) bool { return s.mac == "SHA1" },
	"SHA256": func(s *suite) bool {
		return s.mac == "SHA256" || s.id == tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 || s.id == tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 || s.id == tls.TLS_RSA_WITH_AES_128_GCM_SHA256 || s.enc == "CHACHA20"
	},
	"SHA384":  func(s *suite) bool { return s.mac == "SHA384" || s.enc == "AESGCM" && s.bits == 256 },
	"AEAD":    func(s *suite) bool { return s.mac == "AEAD" },
	"TLSv1.2": func(s *suite) bool { return s.mac == "AEAD" || s.mac == "SHA256" },
	"TLSv1":   func(s *suite) bool { return s.mac == "SHA1" },
	"SSLv3":   func(s *suite) bool { return s.mac == "SHA1" },
	// Families Go does not implement select nothing (and `!` on them removes nothing).
	"aNULL": none, "eNULL": none, "NULL": none, "COMPLEMENTOFDEFAULT": func(s *suite) bool { return s.enc == "RC4" || s.enc == "3DES" },
	"COMPLEMENTOFALL": none, "EXPORT": none, "EXP": none, "MD5": none, "DSS": none, "aDSS": none,
	"PSK": none, "kPSK": none, "aPSK": none, "ECDHEPSK": none, "DHEPSK": none, "RSAPSK": none, "SRP": none, "kSRP": none,
	"aSRP": none, "CAMELLIA": none, "CAMELLIA128": none, "CAMELLIA256": none, "ARIA": none, "ARIA128": none,
	"ARIA256": none, "SEED": none, "IDEA": none, "DES": none, "RC2": none, "CCM": none, "CCM8": none, "AESCCM": none,
	"AESCCM8": none, "kGOST": none, "aGOST": none, "GOST94": none, "GOST89MAC": none, "aECDH": none, "kECDH": none,
	"ADH": none, "EDH": none, "DHE": none, "kDHE": none, "kEDH": none, "DH": none, "kDH": none, "aDH": none,
	"SUITEB128": none, "SUITEB128ONLY": none, "SUITEB192": none, "CHACHA20-POLY1305": func(s *suite) bool { return s.enc == "CHACHA20" },
}

func none(*suite) bool { return false }

// noGoEquivalent recognises OpenSSL suite names that Go's TLS does not implement, so
// that the message can say so instead of "unknown".
func noGoEquivalent(name string) string {
	switch {
	case strings.HasPrefix(name, "DHE-") || strings.HasPrefix(name, "EDH-") || strings.HasPrefix(name, "ADH-") || strings.Contains(name, "-DHE-"):
		return "Go's TLS has no finite-field DHE key exchange"
	case strings.Contains(name, "CCM"):
		return "Go's TLS has no AES-CCM suites"
	case strings.Contains(name, "CAMELLIA"), strings.Contains(name, "ARIA"), strings.Contains(name, "SEED"), strings.Contains(name, "IDEA"):
		return "Go's TLS has no CAMELLIA, ARIA, SEED or IDEA suites"
	case strings.Contains(name, "PSK"), strings.HasPrefix(name, "SRP-"):
		return "Go's TLS has no PSK or SRP suites"
	case strings.Contains(name, "NULL"), strings.Contains(name, "EXP"), strings.Contains(name, "MD5"), strings.Contains(name, "DES-CBC-"), strings.Contains(name, "RC2"):
		return "Go's TLS has no export, NULL, MD5 or single-DES suites"
	case strings.HasPrefix(name, "ECDHE-ECDSA-AES256-SHA384"), strings.HasPrefix(name, "ECDHE-RSA-AES256-SHA384"), name == "AES256-SHA256":
		return "Go's TLS has no AES-256-CBC-SHA384/SHA256 suites"
	case strings.Contains(name, "-DSS-"), strings.HasPrefix(name, "DSS-"):
		return "Go's TLS has no DSA suites"
	case strings.HasPrefix(name, "ECDH-"):
		return "Go's TLS has no static ECDH suites"
	case strings.HasPrefix(name, "GOST"):
		return "Go's TLS has no GOST suites"
	}
	return ""
}

// ParseCipherList evaluates an OpenSSL cipher list (man 1 ciphers) over the suites
// Go implements, for TLS 1.2 and below. It returns the selected suite IDs (OpenSSL's
// order; Go applies its own preference order among them) and notes about suites that
// Go cannot offer. A name nobody knows, or a list that leaves nothing Go can offer,
// is an error.
func ParseCipherList(s string) (ids []uint16, notes []string, err error) {
	elems := strings.FieldsFunc(s, func(c rune) bool { return c == ':' || c == ',' || c == ' ' })
	if len(elems) == 0 {
		return nil, nil, fmt.Errorf("empty cipher list")
	}
	var list []*suite
	killed := map[*suite]bool{}
	var missing []string
	for _, e := range elems {
		if err := checkElement(e); err != nil {
			return nil, nil, err
		}
		if e == "@STRENGTH" {
			sort.SliceStable(list, func(i, j int) bool { return list[i].bits > list[j].bits })
			continue
		}
		if strings.HasPrefix(e, "@") {
			continue // @SECLEVEL=N: Go's suites all pass OpenSSL's levels 0..2
		}
		op := byte(0)
		if e[0] == '!' || e[0] == '-' || e[0] == '+' {
			op, e = e[0], e[1:]
		}
		match, known, why := selectSuites(e)
		if !known {
			if why != "" {
				missing = append(missing, fmt.Sprintf("'%s' (%s)", e, why))
				continue
			}
			return nil, nil, fmt.Errorf("unknown cipher '%s'", e)
		}
		switch op {
		case '!':
			for _, m := range match {
				killed[m] = true
			}
			list = slices.DeleteFunc(list, func(x *suite) bool { return killed[x] })
		case '-':
			list = slices.DeleteFunc(list, func(x *suite) bool { return slices.Contains(match, x) })
		case '+':
			var moved []*suite
			list = slices.DeleteFunc(list, func(x *suite) bool {
				if slices.Contains(match, x) {
					moved = append(moved, x)
					return true
				}
				return false
			})
			list = append(list, moved...)
		default:
			for _, m := range match {
				if !killed[m] && !slices.Contains(list, m) {
					list = append(list, m)
				}
			}
		}
	}
	if len(missing) > 0 {
		notes = append(notes, "not offered, as "+strings.Join(missing, ", "))
	}
	if len(list) == 0 {
		msg := fmt.Sprintf("cipher list '%s' selects no suite that Go's TLS implements", s)
		if len(missing) > 0 {
			msg += ": " + strings.Join(missing, ", ")
		}
		return nil, nil, fmt.Errorf("%s", msg)
	}
	for _, x := range list {
		ids = append(ids, x.id)
	}
	return ids, notes, nil
}

// selectSuites resolves one list element: a suite name, an alias, or several joined
// with '+' (their intersection).
func selectSuites(e string) (match []*suite, known bool, why string) {
	for i := range suites {
		if suites[i].name == e {
			return []*suite{&suites[i]}, true, ""
		}
	}
	parts := strings.Split(e, "+")
	preds := make([]func(*suite) bool, 0, len(parts))
	for _, p := range parts {
		f, ok := aliases[p]
		if !ok {
			if len(parts) == 1 {
				return nil, false, noGoEquivalent(p)
			}
			return nil, false, ""
		}
		preds = append(preds, f)
	}
	for i := range suites {
		ok := true
		for _, f := range preds {
			ok = ok && f(&suites[i])
		}
		if ok {
			match = append(match, &suites[i])
		}
	}
	return match, true, ""
}

// checkElement checks the syntax of one cipher list element: an optional '!', '-'
// or '+', then names joined with '+'; or "@STRENGTH" / "@SECLEVEL=N".
func checkElement(e string) error {
	if strings.HasPrefix(e, "@") {
		if e == "@STRENGTH" {
			return nil
		}
		if lv, ok := strings.CutPrefix(e, "@SECLEVEL="); ok && len(lv) == 1 && lv[0] >= '0' && lv[0] <= '5' {
			return nil
		}
		return fmt.Errorf("invalid cipher list element '%s' (expected @STRENGTH or @SECLEVEL=0..5)", e)
	}
	body := strings.TrimLeft(e, "!-+")
	if len(e)-len(body) > 1 {
		return fmt.Errorf("invalid cipher list element '%s'", e)
	}
	for _, name := range strings.Split(body, "+") {
		if name == "" {
			return fmt.Errorf("invalid cipher list element '%s' (empty name)", e)
		}
		for _, c := range name {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '=') {
				return fmt.Errorf("invalid character '%c' in cipher list element '%s'", c, e)
			}
		}
	}
	return nil
}

// goTLS13 are the TLS 1.3 suites Go always offers; it cannot be told to offer fewer.
var goTLS13 = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}

// CheckCiphersuites checks a TLS 1.3 `ciphersuites` list against what Go can do: Go
// offers its three suites always, so the list must name all of them (in any order).
func CheckCiphersuites(s string) error {
	seen := map[string]bool{}
	for _, name := range strings.Split(s, ":") {
		switch name {
		case "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256":
			seen[name] = true
		case "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256":
			return fmt.Errorf("TLS 1.3 suite '%s' is not available: Go's TLS has no AES-CCM suites", name)
		default:
			return fmt.Errorf("unknown TLS 1.3 cipher suite '%s'", name)
		}
	}
	if len(seen) != len(goTLS13) {
		var miss []string
		for _, n := range goTLS13 {
			if !seen[n] {
				miss = append(miss, n)
			}
		}
		return fmt.Errorf("Go's TLS 1.3 always offers %s and cannot leave out %s", strings.Join(goTLS13, ", "), strings.Join(miss, ", "))
	}
	return nil
}

// curveNames maps OpenSSL's group names to Go's.
var curveNames = map[string]tls.CurveID{
	"X25519": tls.X25519, "x25519": tls.X25519,
	"P-256": tls.CurveP256, "prime256v1": tls.CurveP256, "secp256r1": tls.CurveP256,
	"P-384": tls.CurveP384, "secp384r1": tls.CurveP384,
	"P-521": tls.CurveP521, "secp521r1": tls.CurveP521,
	"X25519MLKEM768": tls.X25519MLKEM768,
}

// ParseCurves reads a `curves` list (':'-separated) or an `ecdhe` curve name.
func ParseCurves(s string) ([]tls.CurveID, error) {
	var out []tls.CurveID
	for _, name := range strings.Split(s, ":") {
		id, ok := curveNames[name]
		if !ok {
			switch name {
			case "X448", "x448", "ffdhe2048", "ffdhe3072", "ffdhe4096", "ffdhe6144", "ffdhe8192", "secp224r1", "secp192r1", "prime192v1",
				"brainpoolP256r1", "brainpoolP384r1", "brainpoolP512r1", "secp256k1":
				return nil, fmt.Errorf("curve '%s' is not available: Go's TLS offers X25519, P-256, P-384, P-521 and X25519MLKEM768", name)
			}
			return nil, fmt.Errorf("unknown curve '%s'", name)
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}
