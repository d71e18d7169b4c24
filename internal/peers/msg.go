// Package peers speaks HAProxy 2.6's peers protocol (version 2.1): the hello and
// status line, the table definitions, entry updates and their acknowledgements,
// heartbeats and resynchronisation, so that hitless and HAProxy nodes of one
// `peers` section replicate their stick tables both ways. The same messages carry
// the tables from an old process to the new one on a reload (Dump and Load), as
// HAProxy's local peer does. The instance package starts one Section per enabled
// `peers` section.
package peers

import (
	"encoding/binary"
	"errors"
	"fmt"

	"hitless/internal/stick"
)

// Message classes and types (peers.c).
const (
	classControl  = 0
	classError    = 1
	classTable    = 10
	classReserved = 255

	ctlResyncReq     = 0
	ctlResyncFinish  = 1
	ctlResyncPartial = 2
	ctlResyncConfirm = 3
	ctlHeartbeat     = 4

	errProto = 0
	errSize  = 1

	tblUpdate      = 0x80
	tblIncUpdate   = 0x81
	tblDefine      = 0x82
	tblSwitch      = 0x83
	tblAck         = 0x84
	tblUpdateTimed = 0x85
	tblIncTimed    = 0x86
	// tblCount is hitless's own: the number of entries that follow a definition in
	// a reload hand-over, so that the new table is sized once. HAProxy ignores
	// unknown table messages.
	tblCount = 0xc0
)

// maxPayload is the largest message a peer accepts: HAProxy's tune.bufsize.
const maxPayload = 16384

// errMalformed is a message that does not decode: a protocol error.
var errMalformed = errors.New("malformed message")

// appendVarint appends HAProxy's encoded integer.
func appendVarint(b []byte, v uint64) []byte {
	if v < 240 {
		return append(b, byte(v))
	}
	b = append(b, byte(v)|0xf0)
	v = (v - 240) >> 4
	for v >= 128 {
		b = append(b, byte(v)|0x80)
		v = (v - 128) >> 7
	}
	return append(b, byte(v))
}

// varint decodes one encoded integer from b, returning it and the bytes used (0 when b
// ends before the integer does or it is longer than 10 bytes).
func varint(b []byte) (uint64, int) {
	if len(b) == 0 {
		return 0, 0
	}
	v := uint64(b[0])
	if v < 240 {
		return v, 1
	}
	shift := uint(4)
	for i := 1; i < len(b) && i < 10; i++ {
		v += uint64(b[i]) << shift
		shift += 7
		if b[i] < 128 {
			return v, i + 1
		}
	}
	return 0, 0
}

// reader walks a payload; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) varint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := varint(r.b)
	if n == 0 {
		r.err = errMalformed
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errMalformed
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u32() uint32 {
	b := r.bytes(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

// Def is a table definition (0x82) as a peer announced it: the layout of its
// updates.
type Def struct {
	ID       uint64
	Name     string
	KeyType  stick.KeyType
	KeySize  uint64
	Bits     uint64
	Expire   uint64
	N        [stick.NumDataTypes]uint64 // element counts of arrays (1 otherwise)
	Period   [stick.NumDataTypes]uint64 // ms, of frequency counters
	noExpire bool                       // an old peer's definition without expire
}

// defOf builds the definition of a local table, with local id id.
func defOf(t *stick.Table, id uint64) *Def {
	sp := t.Spec()
	d := &Def{ID: id, Name: sp.NetName, KeyType: sp.Type, KeySize: uint64(sp.KeySize()), Expire: uint64(sp.Expire)}
	for t := range d.N {
		d.N[t] = 1
	}
	for _, c := range sp.Columns {
		d.Bits |= 1 << uint(c.Type)
		d.N[c.Type] = uint64(c.N)
		d.Period[c.Type] = uint64(c.Period)
	}
	return d
}

// appendDef appends the 0x82 message of d.
func appendDef(b []byte, d *Def) []byte {
	var p []byte
	p = appendVarint(p, d.ID)
	p = appendVarint(p, uint64(len(d.Name)))
	p = append(p, d.Name...)
	p = appendVarint(p, uint64(d.KeyType))
	p = appendVarint(p, d.KeySize)
	p = appendVarint(p, d.Bits)
	p = appendVarint(p, d.Expire)
	for t := stick.DataType(0); t < stick.NumDataTypes; t++ {
		if d.Bits&(1<<uint(t)) == 0 {
			continue
		}
		ti := stick.Types[t]
		switch {
		case t.IsArray():
			p = appendVarint(p, uint64(t))
			p = appendVarint(p, d.N[t])
			if ti.Storage == stick.Freq {
				p = appendVarint(p, d.Period[t])
			}
		case ti.Storage == stick.Freq:
			p = appendVarint(p, uint64(t))
			p = appendVarint(p, d.Period[t])
		}
	}
	return appendMsg(b, classTable, tblDefine, p)
}

// appendMsg frames a message with a payload.
func appendMsg(b []byte, class, typ byte, p []byte) []byte {
	b = append(b, class, typ)
	b = appendVarint(b, uint64(len(p)))
	return append(b, p...)
}

// parseDef decodes a 0x82 payload.
func parseDef(p []byte) (*Def, error) {
	r := reader{b: p}
	d := &Def{ID: r.varint()}
	n := r.varint()
	if r.err == nil && n == 0 {
		return nil, errMalformed
	}
	d.Name = string(r.bytes(n))
	d.KeyType = stick.KeyType(r.varint())
	d.KeySize = r.varint()
	d.Bits = r.varint()
	if r.err != nil {
		return nil, r.err
	}
	if d.Bits>>uint(stick.NumDataTypes) != 0 {
		return nil, fmt.Errorf("%w: unknown data types in 0x%x", errMalformed, d.Bits)
	}
	for t := range d.N {
		d.N[t] = 1
	}
	if len(r.b) == 0 {
		d.noExpire = true
		return d, nil
	}
	d.Expire = r.varint()
	for t := stick.DataType(0); t < stick.NumDataTypes && r.err == nil; t++ {
		if d.Bits&(1<<uint(t)) == 0 {
			continue
		}
		ti := stick.Types[t]
		if !t.IsArray() && ti.Storage != stick.Freq {
			continue
		}
		if got := r.varint(); r.err == nil && got != uint64(t) {
			return nil, fmt.Errorf("%w: parameter of type %d where %d was expected", errMalformed, got, t)
		}
		if t.IsArray() {
			d.N[t] = r.varint()
			if r.err == nil && (d.N[t] == 0 || d.N[t] > stick.MaxArray) {
				return nil, fmt.Errorf("%w: array of %d elements", errMalformed, d.N[t])
			}
		}
		if ti.Storage == stick.Freq {
			d.Period[t] = r.varint()
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return d, nil
}

// matches reports whether a remote definition can feed table t: the same key type
// and key size (peers.c ignores the definition otherwise).
func (d *Def) matches(t *stick.Table) bool {
	sp := t.Spec()
	return d.KeyType == sp.Type && d.KeySize == uint64(sp.KeySize()) && !(d.noExpire && d.hasArrays())
}

func (d *Def) hasArrays() bool {
	return d.Bits&(1<<uint(stick.GPT)|1<<uint(stick.GPC)|1<<uint(stick.GPCRate)) != 0
}

// dictTX is a session's cache of server_key strings sent (128 slots, round robin).
type dictTX struct {
	slots [128]string
	next  int
}

// dictRX is a session's cache of server_key strings received.
type dictRX struct {
	slots [128]string
}

// appendKey appends the wire form of key k for key type kt and key size ks.
func appendKey(p []byte, kt stick.KeyType, ks int, k []byte) []byte {
	switch kt {
	case stick.KeyString:
		p = appendVarint(p, uint64(len(k)))
		return append(p, k...)
	case stick.KeyBinary:
		n := len(p)
		p = append(p, k...)
		for len(p)-n < ks {
			p = append(p, 0)
		}
		return p[:n+ks]
	}
	return append(p, k...)
}

// update is an entry update to send.
type update struct {
	id     uint32
	withID bool
	timed  bool
	exp    uint32 // ms left
}

// appendUpdate appends an update message (0x80, 0x81, 0x85 or 0x86) of row r of a
// table with definition d.
func appendUpdate(b []byte, u update, d *Def, r *stick.Row, dict *dictTX) []byte {
	typ := byte(tblIncUpdate)
	switch {
	case u.withID && u.timed:
		typ = tblUpdateTimed
	case u.withID:
		typ = tblUpdate
	case u.timed:
		typ = tblIncTimed
	}
	var buf [256]byte
	p := buf[:0]
	if u.withID {
		p = binary.BigEndian.AppendUint32(p, u.id)
	}
	if u.timed {
		p = binary.BigEndian.AppendUint32(p, u.exp)
	}
	p = appendKey(p, d.KeyType, int(d.KeySize), r.Key)
	for t := stick.DataType(0); t < stick.NumDataTypes; t++ {
		if d.Bits&(1<<uint(t)) == 0 {
			continue
		}
		switch stick.Types[t].Storage {
		case stick.Freq:
			for i := uint64(0); i < d.N[t]; i++ {
				var f stick.FreqVal
				if int(i) < len(r.F[t]) {
					f = r.F[t][i]
				}
				p = appendVarint(p, uint64(f.Age))
				p = appendVarint(p, uint64(f.Curr))
				p = appendVarint(p, uint64(f.Prev))
			}
		case stick.Dict:
			p = appendDict(p, r.SrvKey, dict)
		default:
			for i := uint64(0); i < d.N[t]; i++ {
				var v uint64
				if int(i) < len(r.U[t]) {
					v = r.U[t][i]
				}
				p = appendVarint(p, v)
			}
		}
	}
	return appendMsg(b, classTable, typ, p)
}

// appendDict appends a server_key value: 0 for none, the cached slot id when this
// session sent it before, the string with a new slot otherwise.
func appendDict(p []byte, s string, dict *dictTX) []byte {
	if s == "" {
		return append(p, 0)
	}
	for i, v := range dict.slots {
		if v == s {
			p = appendVarint(p, 1)
			return appendVarint(p, uint64(i+1))
		}
	}
	slot := dict.next
	dict.slots[slot] = s
	dict.next = (slot + 1) % len(dict.slots)
	var q []byte
	q = appendVarint(q, uint64(slot+1))
	q = appendVarint(q, uint64(len(s)))
	q = append(q, s...)
	p = appendVarint(p, uint64(len(q)))
	return append(p, q...)
}

// received is a decoded entry update.
type received struct {
	id     uint32
	hasID  bool
	exp    int64 // ms left, -1 when untimed
	key    []byte
	values stick.Values
}

// parseUpdate decodes an update payload of message type typ with the remote
// definition d into u, checking every length. key is truncated to the local string
// length by the caller.
func parseUpdate(typ byte, p []byte, d *Def, dict *dictRX, u *received) error {
	r := reader{b: p}
	u.hasID = typ == tblUpdate || typ == tblUpdateTimed
	if u.hasID {
		u.id = r.u32()
	}
	u.exp = -1
	if typ == tblUpdateTimed || typ == tblIncTimed {
		u.exp = int64(r.u32())
	}
	switch d.KeyType {
	case stick.KeyString:
		n := r.varint()
		u.key = r.bytes(n)
	case stick.KeyIP, stick.KeyInteger:
		u.key = r.bytes(4)
	case stick.KeyIPv6:
		u.key = r.bytes(16)
	case stick.KeyBinary:
		u.key = r.bytes(d.KeySize)
	default:
		return errMalformed
	}
	v := &u.values
	v.Reset()
	for t := stick.DataType(0); t < stick.NumDataTypes && r.err == nil; t++ {
		if d.Bits&(1<<uint(t)) == 0 {
			continue
		}
		v.Has[t], v.N[t], v.Period[t] = true, int(d.N[t]), uint32(d.Period[t])
		switch stick.Types[t].Storage {
		case stick.Freq:
			for i := uint64(0); i < d.N[t]; i++ {
				f := stick.FreqVal{Age: uint32(r.varint()), Curr: uint32(r.varint()), Prev: uint32(r.varint())}
				v.F[t] = append(v.F[t], f)
			}
		case stick.Dict:
			s, err := readDict(&r, dict)
			if err != nil {
				return err
			}
			v.SrvKey = s
		default:
			for i := uint64(0); i < d.N[t]; i++ {
				x := r.varint()
				if stick.Types[t].Storage == stick.SInt {
					x = uint64(uint32(x))
				}
				v.U[t] = append(v.U[t], x)
			}
		}
	}
	return r.err
}

func readDict(r *reader, dict *dictRX) (string, error) {
	l := r.varint()
	if r.err != nil {
		return "", r.err
	}
	if l == 0 {
		return "", nil
	}
	body := r.bytes(l)
	if r.err != nil {
		return "", r.err
	}
	q := reader{b: body}
	id := q.varint()
	if q.err != nil || id == 0 || id > uint64(len(dict.slots)) {
		return "", errMalformed
	}
	if len(q.b) == 0 {
		return dict.slots[id-1], nil
	}
	n := q.varint()
	s := q.bytes(n)
	if q.err != nil {
		return "", errMalformed
	}
	dict.slots[id-1] = string(s)
	return dict.slots[id-1], nil
}

// appendAck appends the acknowledgement of update id of the remote table rid.
func appendAck(b []byte, rid uint64, id uint32) []byte {
	var buf [16]byte
	p := appendVarint(buf[:0], rid)
	p = binary.BigEndian.AppendUint32(p, id)
	return appendMsg(b, classTable, tblAck, p)
}

// frame is one message read off the wire.
type frame struct {
	class, typ byte
	payload    []byte
}

// errTooBig is a message longer than maxPayload.
var errTooBig = errors.New("message too large")

// nextFrame splits the first message off b: the frame, the bytes used, and 0 bytes
// used when b holds only part of a message. A length that cannot be a message is an
// error.
func nextFrame(b []byte) (frame, int, error) {
	if len(b) < 2 {
		return frame{}, 0, nil
	}
	f := frame{class: b[0], typ: b[1]}
	if f.typ < 0x80 {
		return f, 2, nil
	}
	n, used := varint(b[2:])
	if used == 0 {
		if len(b)-2 >= 5 {
			return frame{}, 0, errMalformed
		}
		return frame{}, 0, nil
	}
	if used > 5 {
		return frame{}, 0, errMalformed
	}
	if n > maxPayload {
		return frame{}, 0, errTooBig
	}
	end := 2 + used + int(n)
	if len(b) < end {
		return frame{}, 0, nil
	}
	f.payload = b[2+used : end]
	return f, end, nil
}
