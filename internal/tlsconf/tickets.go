package tlsconf

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Session-ticket keys. Go's TLS takes 32-byte keys, the first of which encrypts new
// tickets while all of them decrypt. HAProxy's `tls-ticket-keys` file holds 48- or
// 80-byte keys (name, cipher key, HMAC key); each is hashed to the 32 bytes Go needs,
// so the file's key material decides the key and its rotation order is HAProxy's.
// Tickets themselves are Go's format, not OpenSSL's.

// ticketsNo is HAProxy's TLS_TICKETS_NO: the number of keys a file must hold and
// that are kept.
const ticketsNo = 3

// TicketKeys is an ordered set of session-ticket keys: Keys[0] encrypts.
type TicketKeys [][32]byte

// ParseTicketKeys reads a tls-ticket-keys file as HAProxy 2.6 does: one base64 key per
// line, 48 or 80 bytes (the first line decides), at least 3 lines. Line i goes to slot
// i%3, so the last 3 lines survive; the second-to-last encrypts, the last is "next"
// and the third-to-last "previous".
func ParseTicketKeys(path string, data []byte) (TicketKeys, error) {
	raw, err := parseTicketLines(path, data)
	if err != nil {
		return nil, err
	}
	n := len(raw)
	keys := make(TicketKeys, 0, ticketsNo)
	for _, i := range []int{n - 2, n - 1, n - 3} { // current, next, previous
		keys = append(keys, sha256.Sum256(raw[i]))
	}
	return keys, nil
}

// parseTicketLines decodes and checks the lines of a tls-ticket-keys file.
func parseTicketLines(path string, data []byte) ([][]byte, error) {
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1] // the file's final newline
	}
	var raw [][]byte
	size := 0
	for i, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		b, err := base64.StdEncoding.DecodeString(l)
		if err != nil {
			return nil, fmt.Errorf("'%s' : unable to decode base64 key on line %d", path, i+1)
		}
		if size == 0 {
			size = len(b)
		}
		if len(b) != size || (size != 48 && size != 80) {
			return nil, fmt.Errorf("'%s' : wrong sized key on line %d", path, i+1)
		}
		raw = append(raw, b)
	}
	if len(raw) < ticketsNo {
		return nil, fmt.Errorf("'%s' : please supply at least %d keys in the tls-tickets-file", path, ticketsNo)
	}
	return raw, nil
}

// Rotation of the keys made by the process (binds without tls-ticket-keys): a new
// key encrypts every rotateEvery, and older keys still decrypt until keepFor, the
// lifetime Go gives a session ticket.
const (
	rotateEvery = 24 * time.Hour
	keepFor     = 7*24*time.Hour + rotateEvery
)

// ProcessKey is one session-ticket key made by the process, with when it was made.
type ProcessKey struct {
	Secret  [32]byte
	Created int64 // unix seconds
}

// ProcessKeys are the session-ticket keys of binds without a tls-ticket-keys file,
// newest (encrypting) first. They are made at the first start and carried to every
// later process (reloads, worker restarts), so that clients resume across them, and
// rotated by time so that no key lives for ever.
type ProcessKeys []ProcessKey

// Rotate adds a new key when there is none or the newest is rotateEvery old, and
// drops the keys older than keepFor; it reports whether anything changed.
func (p ProcessKeys) Rotate(now time.Time) (ProcessKeys, bool) {
	changed := false
	if len(p) == 0 || now.Unix()-p[0].Created >= int64(rotateEvery/time.Second) || p[0].Created > now.Unix()+60 {
		var k ProcessKey
		rand.Read(k.Secret[:])
		k.Created = now.Unix()
		p = append(ProcessKeys{k}, p...)
		changed = true
	}
	out := p[:1]
	for _, k := range p[1:] {
		if now.Unix()-k.Created < int64(keepFor/time.Second) && len(out) < 16 {
			out = append(out, k)
		} else {
			changed = true
		}
	}
	return out, changed
}

// Secrets are the keys as Go's TLS takes them.
func (p ProcessKeys) Secrets() TicketKeys {
	out := make(TicketKeys, len(p))
	for i, k := range p {
		out[i] = k.Secret
	}
	return out
}

// Encode writes the keys one line each, "<created> <base64>", encryption key first.
// The result is a secret: it travels only over the admin-level stats socket or the
// master's private link.
func (p ProcessKeys) Encode() string {
	var b strings.Builder
	for _, k := range p {
		b.WriteString(strconv.FormatInt(k.Created, 10))
		b.WriteByte(' ')
		b.WriteString(base64.StdEncoding.EncodeToString(k.Secret[:]))
		b.WriteByte('\n')
	}
	return b.String()
}

// DecodeProcessKeys reads what Encode wrote; it refuses anything else.
func DecodeProcessKeys(s string) (ProcessKeys, error) {
	var out ProcessKeys
	bad := errors.New("malformed session-ticket keys")
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		ts, key, ok := strings.Cut(l, " ")
		created, err := strconv.ParseInt(ts, 10, 64)
		if !ok || err != nil {
			return nil, bad
		}
		b, err := base64.StdEncoding.DecodeString(key)
		if err != nil || len(b) != 32 {
			return nil, bad
		}
		k := ProcessKey{Created: created}
		copy(k.Secret[:], b)
		out = append(out, k)
	}
	if len(out) == 0 || len(out) > 16 {
		return nil, bad
	}
	return out, nil
}

// Equal reports whether two key sets are the same, in the same order.
func (k TicketKeys) Equal(o TicketKeys) bool {
	if len(k) != len(o) {
		return false
	}
	for i := range k {
		if !bytes.Equal(k[i][:], o[i][:]) {
			return false
		}
	}
	return true
}
