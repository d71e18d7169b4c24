package sample

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"hash/crc32"
	"strconv"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// Converters: text, arithmetic, addresses, encodings, hashes and variables.

func init() {
	addConvs(
		&Conv{Name: "lower", In: TStr, Out: TStr, Fn: mapBytes(func(b byte) byte {
			if 'A' <= b && b <= 'Z' {
				return b + 'a' - 'A'
			}
			return b
		})},
		&Conv{Name: "upper", In: TStr, Out: TStr, Fn: mapBytes(func(b byte) byte {
			if 'a' <= b && b <= 'z' {
				return b - ('a' - 'A')
			}
			return b
		})},
		&Conv{Name: "length", In: TStr, Out: TInt, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Int(int64(len(v.B))); return true }},
		&Conv{Name: "bytes", Args: "i|i", In: TBin, Out: TBin, Fn: convBytes},
		&Conv{Name: "field", Args: "is|i", In: TStr, Out: TStr, Check: checkIndex, Fn: convField(false)},
		&Conv{Name: "word", Args: "is|i", In: TStr, Out: TStr, Check: checkIndex, Fn: convField(true)},
		&Conv{Name: "regsub", Args: "rs|s", In: TStr, Out: TStr, Check: checkRegsub, Fn: convRegsub},
		&Conv{Name: "add", Args: "n", In: TInt, Out: TInt, Check: checkNumVar, Fn: arith(func(x, y int64) (int64, bool) { return x + y, true })},
		&Conv{Name: "sub", Args: "n", In: TInt, Out: TInt, Check: checkNumVar, Fn: arith(func(x, y int64) (int64, bool) { return x - y, true })},
		&Conv{Name: "mul", Args: "n", In: TInt, Out: TInt, Check: checkNumVar, Fn: arith(func(x, y int64) (int64, bool) { return x * y, true })},
		&Conv{Name: "div", Args: "n", In: TInt, Out: TInt, Check: checkNumVar, Fn: arith(func(x, y int64) (int64, bool) {
			if y == 0 {
				return 1<<63 - 1, true // HAProxy's "infinity"
			}
			if x == -1<<63 && y == -1 {
				return 1<<63 - 1, true
			}
			return x / y, true
		})},
		&Conv{Name: "mod", Args: "n", In: TInt, Out: TInt, Check: checkNumVar, Fn: arith(func(x, y int64) (int64, bool) {
			if y == 0 || y == -1 {
				return 0, true
			}
			return x % y, true
		})},
		&Conv{Name: "and", Args: "n", In: TInt, Out: TInt, Check: checkNumVar, Fn: arith(func(x, y int64) (int64, bool) { return x & y, true })},
		&Conv{Name: "or", Args: "n", In: TInt, Out: TInt, Check: checkNumVar, Fn: arith(func(x, y int64) (int64, bool) { return x | y, true })},
		&Conv{Name: "xor", Args: "n", In: TInt, Out: TInt, Check: checkNumVar, Fn: arith(func(x, y int64) (int64, bool) { return x ^ y, true })},
		&Conv{Name: "neg", In: TInt, Out: TInt, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Int(-v.Int); return true }},
		&Conv{Name: "cpl", In: TInt, Out: TInt, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Int(^v.Int); return true }},
		&Conv{Name: "not", In: TInt, Out: TBool, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Bool(v.Int == 0); return true }},
		&Conv{Name: "bool", In: TInt, Out: TBool, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Bool(v.Int != 0); return true }},
		&Conv{Name: "odd", In: TInt, Out: TBool, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Bool(v.Int&1 == 1); return true }},
		&Conv{Name: "even", In: TInt, Out: TBool, Fn: func(c *Ctx, a []Arg, v *Value) bool { *v = Bool(v.Int&1 == 0); return true }},
		&Conv{Name: "ipmask", Args: "m|M", In: TAddr, Out: TAddr, Fn: convIPMask},
		&Conv{Name: "base64", In: TBin, Out: TStr, Fn: convBase64(base64.StdEncoding)},
		&Conv{Name: "ub64enc", In: TBin, Out: TStr, Fn: convBase64(base64.RawURLEncoding)},
		&Conv{Name: "b64dec", In: TStr, Out: TBin, Fn: convB64Dec(base64.StdEncoding)},
		&Conv{Name: "ub64dec", In: TStr, Out: TBin, Fn: convB64Dec(base64.RawURLEncoding)},
		&Conv{Name: "hex", In: TBin, Out: TStr, Fn: convHex},
		&Conv{Name: "hex2i", In: TStr, Out: TInt, Fn: convHex2i},
		&Conv{Name: "url_dec", Args: "|i", In: TStr, Out: TStr, Fn: convURLDec},
		&Conv{Name: "url_enc", Args: "|s", In: TStr, Out: TStr, Check: checkURLEnc, Fn: convURLEnc},
		&Conv{Name: "json", Args: "|s", In: TStr, Out: TStr, Check: checkJSON, Fn: convJSON},
		&Conv{Name: "concat", Args: "|svs", In: TStr, Out: TStr, Check: checkConcat, Fn: convConcat},
		&Conv{Name: "strcmp", Args: "v", In: TStr, Out: TInt, Fn: convStrcmp},
		&Conv{Name: "secure_memcmp", Args: "v", In: TBin, Out: TBool, Fn: convSecureMemcmp},
		&Conv{Name: "crc32", Args: "|i", In: TBin, Out: TInt, Fn: hashConv(func(b []byte) uint32 { return crc32.ChecksumIEEE(b) })},
		&Conv{Name: "crc32c", Args: "|i", In: TBin, Out: TInt, Fn: hashConv(func(b []byte) uint32 { return crc32.Checksum(b, castagnoli) })},
		&Conv{Name: "djb2", Args: "|i", In: TBin, Out: TInt, Fn: hashConv(djb2)},
		&Conv{Name: "sdbm", Args: "|i", In: TBin, Out: TInt, Fn: hashConv(sdbm)},
		&Conv{Name: "xxh32", Args: "|i", In: TBin, Out: TInt, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			*v = Int(int64(xxh32(v.B, uint32(a[0].I))))
			return true
		}},
		&Conv{Name: "xxh64", Args: "|i", In: TBin, Out: TInt, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			var h uint64
			if a[0].I == 0 {
				h = xxhash.Sum64(v.B)
			} else {
				d := xxhash.NewWithSeed(uint64(a[0].I))
				d.Write(v.B)
				h = d.Sum64()
			}
			*v = Int(int64(h))
			return true
		}},
		&Conv{Name: "sha1", In: TBin, Out: TBin, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			s := sha1.Sum(v.B)
			return c.setBin(v, s[:])
		}},
		&Conv{Name: "sha2", Args: "|i", In: TBin, Out: TBin, Check: checkSHA2, Fn: convSHA2},
		&Conv{Name: "digest", Args: "s", In: TBin, Out: TBin, Check: checkDigest, Fn: convDigest},
		&Conv{Name: "hmac", Args: "ss", In: TBin, Out: TBin, Check: checkHMAC, Fn: convHMAC},
		&Conv{Name: "ltime", Args: "s|i", In: TInt, Out: TStr, Fn: convTime(false)},
		&Conv{Name: "utime", Args: "s|i", In: TInt, Out: TStr, Fn: convTime(true)},
		&Conv{Name: "http_date", Args: "|is", In: TInt, Out: TStr, Check: checkHTTPDate, Fn: convHTTPDate},
		&Conv{Name: "set-var", Args: "v", In: TAny, Out: TAny, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			if vs := c.In.Vars(); vs != nil {
				vs.Set(a[0].Var, v)
			}
			return true
		}},
		&Conv{Name: "unset-var", Args: "v", In: TAny, Out: TAny, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			if vs := c.In.Vars(); vs != nil {
				vs.Unset(a[0].Var)
			}
			return true
		}},
	)
	argKinds['n'] = "integer or variable"
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// setStr and setBin store bytes computed by a converter in the scratch space.
func (c *Ctx) setStr(v *Value, b []byte) bool {
	start := len(c.buf)
	c.buf = append(c.buf, b...)
	*v = Str(c.grab(start))
	return true
}

func (c *Ctx) setBin(v *Value, b []byte) bool {
	c.setStr(v, b)
	v.Type = TBin
	return true
}

func mapBytes(f func(byte) byte) func(c *Ctx, a []Arg, v *Value) bool {
	return func(c *Ctx, a []Arg, v *Value) bool {
		start := len(c.buf)
		for _, b := range v.B {
			c.buf = append(c.buf, f(b))
		}
		*v = Str(c.grab(start))
		return true
	}
}

func convBytes(c *Ctx, a []Arg, v *Value) bool {
	off := a[0].I
	if off < 0 || off >= int64(len(v.B)) {
		return false
	}
	b := v.B[off:]
	if a[1].Set && a[1].I >= 0 && a[1].I < int64(len(b)) {
		b = b[:a[1].I]
	}
	v.B = b
	return true
}

func checkIndex(a []Arg) error {
	if len(a[1].S) == 0 {
		return errors.New("empty delimiters list")
	}
	return nil
}

// convField is field() (every delimiter separates) and word() (runs of delimiters
// separate, empty words are skipped); a negative index counts from the end.
func convField(word bool) func(c *Ctx, a []Arg, v *Value) bool {
	return func(c *Ctx, a []Arg, v *Value) bool {
		idx, delims := a[0].I, a[1].S
		count := int64(1)
		if a[2].Set {
			count = a[2].I
		}
		isDelim := func(b byte) bool { return bytesIndexByteString(delims, b) }
		b := v.B
		// Split into fields lazily, from the left or the right.
		var parts [][2]int
		var local [16][2]int
		parts = local[:0]
		start := 0
		for i := 0; i <= len(b); i++ {
			if i == len(b) || isDelim(b[i]) {
				if !word || i > start {
					parts = append(parts, [2]int{start, i})
				}
				start = i + 1
			}
		}
		if idx == 0 {
			return false
		}
		n := int64(len(parts))
		var from, to int64 // the fields [from, to], 0-based
		if idx > 0 {
			from = idx - 1
			to = n - 1
			if count > 0 && from+count-1 < to {
				to = from + count - 1
			}
		} else {
			to = n + idx
			if count > 0 && to-count+1 > 0 {
				from = to - count + 1
			}
		}
		if from > to || from >= n || to < 0 {
			*v = Str(nil)
			return true
		}
		to++
		v.B = b[parts[from][0]:parts[to-1][1]]
		v.Type = TStr
		return true
	}
}

func bytesIndexByteString(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}

func checkRegsub(a []Arg) error {
	for _, f := range a[2].S {
		switch f {
		case 'g':
		case 'i':
			a[0].Re = mustCompileFold(a[0].S)
		default:
			return errors.New("invalid regex flag '" + string(f) + "', only 'i' and 'g' are supported")
		}
	}
	return nil
}

func convRegsub(c *Ctx, a []Arg, v *Value) bool {
	re := a[0].Re
	global := bytes.IndexByte(a[2].B, 'g') >= 0
	start := len(c.buf)
	src := v.B
	pos := 0
	for pos <= len(src) {
		m := re.FindSubmatchIndex(src[pos:])
		if m == nil {
			break
		}
		c.buf = append(c.buf, src[pos:pos+m[0]]...)
		c.buf = re.Expand(c.buf, backrefs(a[1].B), src[pos:], m)
		if m[1] == m[0] {
			if pos+m[1] < len(src) {
				c.buf = append(c.buf, src[pos+m[1]])
			}
			pos += m[1] + 1
		} else {
			pos += m[1]
		}
		if !global {
			break
		}
	}
	if pos < len(src) {
		c.buf = append(c.buf, src[pos:]...)
	}
	*v = Str(c.grab(start))
	return true
}

// backrefs turns HAProxy's \1 references into Go's ${1}; it is called with the
// converter's constant argument, so the result could be cached, but substitution
// templates are short.
func backrefs(t []byte) []byte {
	if bytes.IndexByte(t, '\\') < 0 && bytes.IndexByte(t, '$') < 0 {
		return t
	}
	out := make([]byte, 0, len(t)+8)
	for i := 0; i < len(t); i++ {
		switch {
		case t[i] == '\\' && i+1 < len(t) && t[i+1] >= '0' && t[i+1] <= '9':
			out = append(out, '$', '{', t[i+1], '}')
			i++
		case t[i] == '$':
			out = append(out, '$', '$')
		default:
			out = append(out, t[i])
		}
	}
	return out
}

// checkNumVar accepts an integer or a variable name.
func checkNumVar(a []Arg) error {
	if n, err := strconv.ParseInt(a[0].S, 10, 64); err == nil {
		a[0].I = n
		return nil
	}
	ref, err := ParseVarName(a[0].S)
	if err != nil {
		return &argError{1, "failed to parse '" + a[0].S + "' as type 'signed integer or variable name' at position 1"}
	}
	a[0].Var, a[0].X = ref, true
	return nil
}

func arith(f func(x, y int64) (int64, bool)) func(c *Ctx, a []Arg, v *Value) bool {
	return func(c *Ctx, a []Arg, v *Value) bool {
		y := a[0].I
		if a[0].X != nil {
			var w Value
			vs := c.In.Vars()
			if vs == nil || !vs.Get(c, a[0].Var, &w) || !c.Cast(&w, TInt) {
				return false
			}
			y = w.Int
		}
		r, ok := f(v.Int, y)
		*v = Int(r)
		return ok
	}
}

func convIPMask(c *Ctx, a []Arg, v *Value) bool {
	if v.Type == TIPv4 || v.Addr.Is4() || v.Addr.Is4In6() && !a[1].Set {
		p, err := v.Addr.Unmap().Prefix(int(a[0].I))
		if err != nil {
			return false
		}
		*v = Addr(p.Addr())
		return true
	}
	if !a[1].Set {
		return false
	}
	p, err := v.Addr.Prefix(int(a[1].I))
	if err != nil {
		return false
	}
	*v = Value{Type: TIPv6, Addr: p.Addr()}
	return true
}

func convBase64(enc *base64.Encoding) func(c *Ctx, a []Arg, v *Value) bool {
	return func(c *Ctx, a []Arg, v *Value) bool {
		start := len(c.buf)
		c.buf = enc.AppendEncode(c.buf, v.B)
		*v = Str(c.grab(start))
		return true
	}
}

func convB64Dec(enc *base64.Encoding) func(c *Ctx, a []Arg, v *Value) bool {
	return func(c *Ctx, a []Arg, v *Value) bool {
		start := len(c.buf)
		out, err := enc.AppendDecode(c.buf, v.B)
		if err != nil {
			return false
		}
		c.buf = out
		*v = Value{Type: TBin, B: c.grab(start)}
		return true
	}
}

const hexDigits = "0123456789ABCDEF"

func convHex(c *Ctx, a []Arg, v *Value) bool {
	start := len(c.buf)
	for _, b := range v.B {
		c.buf = append(c.buf, hexDigits[b>>4], hexDigits[b&15])
	}
	*v = Str(c.grab(start))
	return true
}

func unhex(b byte) (byte, bool) {
	switch {
	case '0' <= b && b <= '9':
		return b - '0', true
	case 'a' <= b && b <= 'f':
		return b - 'a' + 10, true
	case 'A' <= b && b <= 'F':
		return b - 'A' + 10, true
	}
	return 0, false
}

func convHex2i(c *Ctx, a []Arg, v *Value) bool {
	var n int64
	for _, b := range v.B {
		d, ok := unhex(b)
		if !ok {
			return false
		}
		n = n<<4 | int64(d)
	}
	*v = Int(n)
	return true
}

// convURLDec decodes %XX escapes; '+' becomes a space in the query part (after a
// '?') or everywhere when the argument is 1.
func convURLDec(c *Ctx, a []Arg, v *Value) bool {
	start := len(c.buf)
	inQuery := a[0].Set && a[0].I != 0
	b := v.B
	for i := 0; i < len(b); i++ {
		switch ch := b[i]; {
		case ch == '?':
			inQuery = true
			c.buf = append(c.buf, ch)
		case ch == '+' && inQuery:
			c.buf = append(c.buf, ' ')
		case ch == '%':
			if i+2 >= len(b) {
				c.buf = c.buf[:start]
				return false
			}
			h, ok1 := unhex(b[i+1])
			l, ok2 := unhex(b[i+2])
			if !ok1 || !ok2 {
				c.buf = c.buf[:start]
				return false
			}
			c.buf = append(c.buf, h<<4|l)
			i += 2
		default:
			c.buf = append(c.buf, ch)
		}
	}
	*v = Str(c.grab(start))
	return true
}

func checkURLEnc(a []Arg) error {
	if a[0].Set && a[0].S != "query" {
		return errors.New("Unexpected encode type. Allowed value is 'query'")
	}
	return nil
}

// queryKeep are the bytes url_enc(query) leaves as they are (unreserved characters).
func queryKeep(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '.' || b == '_' || b == '~'
}

func convURLEnc(c *Ctx, a []Arg, v *Value) bool {
	start := len(c.buf)
	for _, b := range v.B {
		if queryKeep(b) {
			c.buf = append(c.buf, b)
		} else {
			c.buf = append(c.buf, '%', hexDigits[b>>4], hexDigits[b&15])
		}
	}
	*v = Str(c.grab(start))
	return true
}

func checkJSON(a []Arg) error {
	switch a[0].S {
	case "", "ascii", "utf8", "utf8s", "utf8p", "utf8ps":
		return nil
	}
	return errors.New("Unexpected input code type. Allowed value are 'ascii', 'utf8', 'utf8s', 'utf8p' and 'utf8ps'")
}

// convJSON escapes a string for a JSON string body: quotes, backslashes, control
// characters, and (ascii) bytes above 0x7f as \u00XX.
func convJSON(c *Ctx, a []Arg, v *Value) bool {
	start := len(c.buf)
	mode := a[0].S
	ascii := mode == "" || mode == "ascii"
	for i := 0; i < len(v.B); i++ {
		b := v.B[i]
		switch {
		case b == '"':
			c.buf = append(c.buf, '\\', '"')
		case b == '\\':
			c.buf = append(c.buf, '\\', '\\')
		case b == '/':
			c.buf = append(c.buf, '\\', '/')
		case b == '\b':
			c.buf = append(c.buf, '\\', 'b')
		case b == '\f':
			c.buf = append(c.buf, '\\', 'f')
		case b == '\r':
			c.buf = append(c.buf, '\\', 'r')
		case b == '\n':
			c.buf = append(c.buf, '\\', 'n')
		case b == '\t':
			c.buf = append(c.buf, '\\', 't')
		case b < 0x20 || b == 0x7f || (ascii && b > 0x7f):
			c.buf = appendU(c.buf, rune(b))
		case b > 0x7f:
			r, size := utf8.DecodeRune(v.B[i:])
			if r == utf8.RuneError && size <= 1 {
				if mode == "utf8" || mode == "utf8p" {
					c.buf = c.buf[:start]
					return false
				}
				continue // utf8s, utf8ps: skip invalid bytes
			}
			c.buf = appendU(c.buf, r)
			i += size - 1
		default:
			c.buf = append(c.buf, b)
		}
	}
	*v = Str(c.grab(start))
	return true
}

const lowerHex = "0123456789abcdef"

func appendU(b []byte, r rune) []byte {
	return append(b, '\\', 'u', lowerHex[r>>12&15], lowerHex[r>>8&15], lowerHex[r>>4&15], lowerHex[r&15])
}

func checkConcat(a []Arg) error {
	if a[1].Set && a[1].S != "" {
		ref, err := ParseVarName(a[1].S)
		if err != nil {
			return err
		}
		a[1].Var, a[1].X = ref, true
	}
	return nil
}

func convConcat(c *Ctx, a []Arg, v *Value) bool {
	start := len(c.buf)
	c.buf = append(c.buf, v.B...)
	c.buf = append(c.buf, a[0].B...)
	if a[1].X != nil {
		var w Value
		if vs := c.In.Vars(); vs != nil && vs.Get(c, a[1].Var, &w) && c.Cast(&w, TStr) {
			c.buf = append(c.buf, w.B...)
		}
	}
	c.buf = append(c.buf, a[2].B...)
	*v = Str(c.grab(start))
	return true
}

func varStr(c *Ctx, ref VarRef, t Type) (Value, bool) {
	var w Value
	vs := c.In.Vars()
	if vs == nil || !vs.Get(c, ref, &w) || !c.Cast(&w, t) {
		return w, false
	}
	return w, true
}

func convStrcmp(c *Ctx, a []Arg, v *Value) bool {
	w, ok := varStr(c, a[0].Var, TStr)
	if !ok {
		return false
	}
	*v = Int(int64(bytes.Compare(v.B, w.B)))
	return true
}

func convSecureMemcmp(c *Ctx, a []Arg, v *Value) bool {
	w, ok := varStr(c, a[0].Var, TBin)
	if !ok {
		return false
	}
	*v = Bool(len(v.B) == len(w.B) && subtle.ConstantTimeCompare(v.B, w.B) == 1)
	return true
}

// hashConv wraps a 32-bit hash; an argument of 1 passes it through HAProxy's
// avalanche (Robert Jenkins' 32-bit integer hash).
func hashConv(h func([]byte) uint32) func(c *Ctx, a []Arg, v *Value) bool {
	return func(c *Ctx, a []Arg, v *Value) bool {
		x := h(v.B)
		if a[0].I != 0 {
			x = avalanche(x)
		}
		*v = Int(int64(x))
		return true
	}
}

func avalanche(a uint32) uint32 {
	a = (a + 0x7ed55d16) + (a << 12)
	a = (a ^ 0xc761c23c) ^ (a >> 19)
	a = (a + 0x165667b1) + (a << 5)
	a = (a + 0xd3a2646c) ^ (a << 9)
	a = (a + 0xfd7046c5) + (a << 3)
	a = (a ^ 0xb55a4f09) ^ (a >> 16)
	return a * 3221225473 // spread over the 32-bit space
}

func djb2(b []byte) uint32 {
	h := uint32(5381)
	for _, c := range b {
		h = h*33 + uint32(c)
	}
	return h
}

func sdbm(b []byte) uint32 {
	var h uint32
	for _, c := range b {
		h = uint32(c) + (h << 6) + (h << 16) - h
	}
	return h
}

func checkSHA2(a []Arg) error {
	switch a[0].I {
	case 0:
		a[0].I = 256
	case 224, 256, 384, 512:
	default:
		return errors.New("Unsupported number of bits: '" + a[0].S + "'")
	}
	return nil
}

func convSHA2(c *Ctx, a []Arg, v *Value) bool {
	switch a[0].I {
	case 224:
		s := sha256.Sum224(v.B)
		return c.setBin(v, s[:])
	case 384:
		s := sha512.Sum384(v.B)
		return c.setBin(v, s[:])
	case 512:
		s := sha512.Sum512(v.B)
		return c.setBin(v, s[:])
	}
	s := sha256.Sum256(v.B)
	return c.setBin(v, s[:])
}

// digests are the algorithms of digest() and hmac(), by OpenSSL's names.
var digests = map[string]func() hash.Hash{
	"md5": md5.New, "sha1": sha1.New, "sha224": sha256.New224, "sha256": sha256.New,
	"sha384": sha512.New384, "sha512": sha512.New,
}

func checkDigest(a []Arg) error {
	if digests[a[0].S] == nil {
		return errors.New("algorithm must be a valid OpenSSL message digest name")
	}
	a[0].X = digests[a[0].S]
	return nil
}

// convDigest allocates its hash state: digests are not a per-request hot path.
func convDigest(c *Ctx, a []Arg, v *Value) bool {
	h := a[0].X.(func() hash.Hash)()
	h.Write(v.B)
	start := len(c.buf)
	c.buf = h.Sum(c.buf)
	*v = Value{Type: TBin, B: c.grab(start)}
	return true
}

func checkHMAC(a []Arg) error {
	if err := checkDigest(a); err != nil {
		return err
	}
	key, err := base64.StdEncoding.DecodeString(a[1].S)
	if err != nil {
		return errors.New("failed to base64 decode key")
	}
	a[1].B = key
	return nil
}

func convHMAC(c *Ctx, a []Arg, v *Value) bool {
	h := hmac.New(a[0].X.(func() hash.Hash), a[1].B)
	h.Write(v.B)
	start := len(c.buf)
	c.buf = h.Sum(c.buf)
	*v = Value{Type: TBin, B: c.grab(start)}
	return true
}

// xxh32 is the XXH32 hash of its public specification.
func xxh32(b []byte, seed uint32) uint32 {
	const p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
	rotl := func(x uint32, r uint) uint32 { return x<<r | x>>(32-r) }
	round := func(acc, in uint32) uint32 { return rotl(acc+in*p2, 13) * p1 }
	n := len(b)
	var h uint32
	if n >= 16 {
		v1, v2, v3, v4 := seed+p1+p2, seed+p2, seed, seed-p1
		for len(b) >= 16 {
			v1 = round(v1, binary.LittleEndian.Uint32(b[0:]))
			v2 = round(v2, binary.LittleEndian.Uint32(b[4:]))
			v3 = round(v3, binary.LittleEndian.Uint32(b[8:]))
			v4 = round(v4, binary.LittleEndian.Uint32(b[12:]))
			b = b[16:]
		}
		h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)
	} else {
		h = seed + p5
	}
	h += uint32(n)
	for len(b) >= 4 {
		h = rotl(h+binary.LittleEndian.Uint32(b)*p3, 17) * p4
		b = b[4:]
	}
	for _, c := range b {
		h = rotl(h+uint32(c)*p5, 11) * p1
	}
	h ^= h >> 15
	h *= p2
	h ^= h >> 13
	h *= p3
	h ^= h >> 16
	return h
}

// mustCompileFold compiles a pattern already checked by the argument parser.
func mustCompileFold(s string) *regexpT {
	re, err := compileRegexp(s, true)
	if err != nil {
		return nil
	}
	return re
}
