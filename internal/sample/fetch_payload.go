package sample

import "encoding/binary"

// Payload fetches: what a client sent before tcp-request content rules decide (mode
// tcp, with `tcp-request inspect-delay`): its length, bytes of it, and the fields of
// a TLS ClientHello (SNI, version, ALPN) without terminating TLS.

// SetPayload gives the fetches the bytes received so far; final says that no more
// will come (the inspect delay expired, the buffer is full, or the client closed).
func (c *Ctx) SetPayload(b []byte, final bool) {
	c.payload, c.payloadFinal, c.hasPayload = b, final, true
}

// MayChange reports whether an evaluation since the last ResetMayChange read a
// payload too short to decide: waiting for more data may change the answer.
func (c *Ctx) MayChange() bool { return c.mayChange }

// ResetMayChange clears the flag MayChange reports.
func (c *Ctx) ResetMayChange() { c.mayChange = false }

// incomplete notes that more payload could change a fetch's answer.
func (c *Ctx) incomplete() bool {
	if !c.payloadFinal {
		c.mayChange = true
	}
	return false
}

func init() {
	addFetches(
		&Fetch{Name: "req.len", Out: TInt, Use: SrcReqBuf, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			if !c.hasPayload {
				return false
			}
			if !c.payloadFinal {
				c.mayChange = true
			}
			*v = Int(int64(len(c.payload)))
			return true
		}},
		&Fetch{Name: "req.payload", Args: "ii", Out: TBin, Use: SrcReqBuf, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			off, n := a[0].I, a[1].I
			if off < 0 || n < 0 {
				return false
			}
			end := off + n
			if n == 0 {
				end = int64(len(c.payload))
			}
			if end > int64(len(c.payload)) || off > end {
				return c.incomplete()
			}
			*v = Value{Type: TBin, B: c.payload[off:end]}
			return true
		}},
		&Fetch{Name: "req.ssl_hello_type", Out: TInt, Use: SrcReqBuf, Fn: helloFetch(func(h *hello, v *Value) bool {
			*v = Int(int64(h.msgType))
			return true
		})},
		&Fetch{Name: "req.ssl_ver", Out: TInt, Use: SrcReqBuf, Fn: helloFetch(func(h *hello, v *Value) bool {
			*v = Int(int64(h.version))
			return true
		})},
		&Fetch{Name: "req.ssl_sni", Out: TStr, Use: SrcReqBuf, Fn: helloFetch(func(h *hello, v *Value) bool {
			*v = Str(h.sni)
			return h.sni != nil
		})},
		&Fetch{Name: "req.ssl_alpn", Out: TStr, Use: SrcReqBuf, Fn: helloFetch(func(h *hello, v *Value) bool {
			*v = Str(h.alpn)
			return h.alpn != nil
		})},
		&Fetch{Name: "wait_end", Out: TBool, Use: SrcReqBuf, Fn: func(c *Ctx, a []Arg, v *Value) bool {
			if !c.payloadFinal {
				c.mayChange = true
				return false
			}
			*v = Bool(true)
			return true
		}},
	)
	for old, cur := range map[string]string{"req_len": "req.len", "req_ssl_sni": "req.ssl_sni", "req_ssl_ver": "req.ssl_ver",
		"req_ssl_hello_type": "req.ssl_hello_type"} {
		f := *fetches[cur]
		f.Name = old
		fetches[old] = &f
	}
	for name := range fetches {
		delete(unsupportedFetches, name)
	}
}

// helloFetch reads a field of the ClientHello at the start of the payload; a hello
// still incomplete may change.
func helloFetch(field func(h *hello, v *Value) bool) func(c *Ctx, a []Arg, v *Value) bool {
	return func(c *Ctx, a []Arg, v *Value) bool {
		h, st := parseHello(c.payload)
		switch st {
		case helloShort:
			return c.incomplete()
		case helloBad:
			return false
		}
		return field(&h, v)
	}
}

type helloState int

const (
	helloOK    helloState = iota
	helloShort            // more bytes are needed
	helloBad              // not a TLS handshake
)

// hello is what the fetches read from the first TLS record of a connection.
type hello struct {
	msgType int    // the handshake type: 1 for a ClientHello
	version int    // the record's version, as HAProxy reports req.ssl_ver (0x0301 ...)
	sni     []byte // the first host_name of the server_name extension
	alpn    []byte // the first protocol of the ALPN extension
}

// parseHello reads the first TLS record (RFC 8446 §5.1, §4.1.2) of b. It never reads
// past b and allocates nothing; the slices point into b.
func parseHello(b []byte) (h hello, st helloState) {
	if len(b) < 5 {
		return h, helloShort
	}
	if b[0] != 0x16 || b[1] != 3 {
		return h, helloBad
	}
	h.version = int(binary.BigEndian.Uint16(b[1:3]))
	rec := int(binary.BigEndian.Uint16(b[3:5]))
	if len(b) < 5+rec {
		return h, helloShort
	}
	m := b[5 : 5+rec]
	if len(m) < 4 {
		return h, helloBad
	}
	h.msgType = int(m[0])
	if h.msgType != 1 {
		return h, helloOK
	}
	n := int(m[1])<<16 | int(m[2])<<8 | int(m[3])
	if n > len(m)-4 {
		return h, helloBad // a ClientHello split over records: HAProxy reads the first one only
	}
	p := m[4 : 4+n]
	// client_version (2), random (32)
	if len(p) < 34 {
		return h, helloBad
	}
	p = p[34:]
	skip := func(lenBytes int) bool {
		if len(p) < lenBytes {
			return false
		}
		l := 0
		for i := 0; i < lenBytes; i++ {
			l = l<<8 | int(p[i])
		}
		if len(p) < lenBytes+l {
			return false
		}
		p = p[lenBytes+l:]
		return true
	}
	if !skip(1) || !skip(2) || !skip(1) { // session id, cipher suites, compression methods
		return h, helloBad
	}
	if len(p) < 2 {
		return h, helloOK // no extensions
	}
	ext := p[2:]
	if l := int(binary.BigEndian.Uint16(p)); l < len(ext) {
		ext = ext[:l]
	}
	for len(ext) >= 4 {
		typ := binary.BigEndian.Uint16(ext)
		l := int(binary.BigEndian.Uint16(ext[2:]))
		if len(ext) < 4+l {
			return h, helloBad
		}
		body := ext[4 : 4+l]
		ext = ext[4+l:]
		switch typ {
		case 0: // server_name: list length, then (type, length, name)...
			if len(body) < 2 {
				continue
			}
			list := body[2:]
			for len(list) >= 3 {
				nl := int(binary.BigEndian.Uint16(list[1:]))
				if len(list) < 3+nl {
					break
				}
				if list[0] == 0 && h.sni == nil {
					h.sni = list[3 : 3+nl]
				}
				list = list[3+nl:]
			}
		case 16: // ALPN: list length, then (length, name)...
			if len(body) < 3 {
				continue
			}
			if pl := int(body[2]); len(body) >= 3+pl {
				h.alpn = body[3 : 3+pl]
			}
		}
	}
	return h, helloOK
}
