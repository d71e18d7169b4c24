package peers

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"hitless/internal/stick"
)

// A reload hands every table to the new process as the local peer of HAProxy does
// in its "old process teaches new process" exchange: for each table a definition
// (0x82), then one timed update (0x85, then 0x86) per entry, then "resync finished"
// (00 01). The old process writes it on the stats socket (`_tables`) or to the
// master, the new one reads it before it accepts its first connection.

// MaxDump bounds what Load reads: 1 GiB, far above the million-entry tables a
// reload is measured with (about 30 MB).
const MaxDump = 1 << 30

// Dump writes every table of set.
func Dump(w io.Writer, set *stick.Set) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	var msg []byte
	for i, t := range set.All() {
		d := defOf(t, uint64(i+1))
		msg = appendDef(msg[:0], d)
		msg = appendMsg(msg, classTable, tblCount, appendVarint(nil, uint64(t.Len())))
		bw.Write(msg)
		var dict dictTX
		first := true
		var werr error
		t.Each(func(r *stick.Row) {
			if werr != nil {
				return
			}
			exp := uint32(0)
			if r.Exp > 0 {
				exp = uint32(min(r.Exp, 1<<31-1))
			}
			msg = appendUpdate(msg[:0], update{id: 1, withID: first, timed: true, exp: exp}, d, r, &dict)
			first = false
			_, werr = bw.Write(msg)
		})
		if werr != nil {
			return werr
		}
	}
	bw.Write([]byte{classControl, ctlResyncFinish})
	return bw.Flush()
}

// ErrNoHandOver is an answer that held no table at all: an HAProxy or an older
// hitless, which do not know `_tables`.
var ErrNoHandOver = errors.New("no table hand-over")

// ErrIncomplete is a dump that ended before its "resync finished" message: what
// came before it is kept.
var ErrIncomplete = errors.New("incomplete table hand-over")

// Load reads a dump into set: tables are matched by name, key type and key size
// (as a peer matches them); entries of unknown tables are skipped. It returns the
// number of entries stored.
func Load(r io.Reader, set *stick.Set) (int, error) {
	byName := map[string]*stick.Table{}
	for _, t := range set.All() {
		byName[t.Spec().NetName] = t
	}
	defer func() {
		for _, t := range set.All() {
			t.Loaded()
		}
	}()
	br := bufio.NewReaderSize(io.LimitReader(r, MaxDump), 256<<10)
	var (
		cur  *stick.Table
		def  *Def
		dict dictRX
		u    received
		buf  []byte
		n    int
	)
	for {
		f, b, err := readFrame(br, buf)
		buf = b
		if err != nil {
			if def == nil {
				return 0, ErrNoHandOver
			}
			if errors.Is(err, errMalformed) || errors.Is(err, errTooBig) {
				return n, fmt.Errorf("table hand-over: %w", err)
			}
			return n, ErrIncomplete
		}
		class, typ := f.class, f.typ
		if class == classControl && typ == ctlResyncFinish {
			return n, nil
		}
		if def == nil && !(class == classTable && typ == tblDefine) {
			// A hand-over starts with a definition: this is some other answer.
			return 0, ErrNoHandOver
		}
		if class != classTable {
			continue
		}
		switch typ {
		case tblDefine:
			d, err := parseDef(f.payload)
			if err != nil {
				return n, fmt.Errorf("table hand-over: %w", err)
			}
			cur, def = byName[d.Name], d
			if cur != nil && !d.matches(cur) {
				cur = nil
			}
			dict = dictRX{}
		case tblCount:
			if c, used := varint(f.payload); used > 0 && cur != nil {
				cur.Reserve(int(min(c, 1<<26)))
			}
		case tblUpdate, tblIncUpdate, tblUpdateTimed, tblIncTimed:
			if def == nil {
				return n, fmt.Errorf("table hand-over: %w: update before definition", errMalformed)
			}
			if err := parseUpdate(typ, f.payload, def, &dict, &u); err != nil {
				return n, fmt.Errorf("table hand-over: %w", err)
			}
			if cur == nil {
				continue
			}
			if cur.Learn(localKey(cur, u.key), u.exp, &u.values, true) {
				n++
			}
		}
	}
}

// localKey fits a received key to table t: string keys are cut to its length.
func localKey(t *stick.Table, k []byte) []byte {
	if sp := t.Spec(); sp.Type == stick.KeyString && len(k) > sp.Len {
		return k[:sp.Len]
	}
	return k
}
