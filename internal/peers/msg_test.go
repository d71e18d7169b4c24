package peers

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"hitless/internal/stick"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// The encodings of the reference (computed from peers.c and seen on the wire).
func TestVarint(t *testing.T) {
	for _, c := range []struct {
		v   uint64
		enc string
	}{
		{0, "00"}, {239, "ef"}, {240, "f000"}, {2287, "ff7f"}, {2288, "f08000"}, {264431, "ffff7f"},
		{264432, "f0808000"}, {300, "fc03"}, {3201, "f1b900"}, {5000, "f8a901"}, {10000, "f0e203"},
		{20000, "f0d308"}, {30000, "f0c40d"}, {60000, "f0971c"}, {0x1234, "f49401"}, {524289, "f1f1fe00"},
		{5000000000, "f091bd809400"}, {881112939, "fbe795a019"}, {1<<64 - 1, ""},
	} {
		enc := appendVarint(nil, c.v)
		if c.enc != "" && hex.EncodeToString(enc) != c.enc {
			t.Errorf("encode %d: %x, want %s", c.v, enc, c.enc)
		}
		if v, n := varint(enc); v != c.v || n != len(enc) {
			t.Errorf("decode %x: %d (%d bytes)", enc, v, n)
		}
	}
	if _, n := varint(unhex("f0 80")); n != 0 {
		t.Error("a truncated varint decoded")
	}
}

func captureSet() *stick.Set {
	ms := func(p int64) int64 { return p }
	return stick.NewSet([]*stick.Spec{
		{Name: "st_ip", NetName: "st_ip", Type: stick.KeyIP, Size: 1024, Expire: 60000, Columns: []stick.Column{{Type: stick.GPC0, N: 1}, {Type: stick.ConnCur, N: 1}, {Type: stick.HTTPReqRate, N: 1, Period: ms(10000)}}},
		{Name: "st_int", NetName: "st_int", Type: stick.KeyInteger, Size: 1024, Expire: 60000, Columns: []stick.Column{{Type: stick.GPT, N: 2}, {Type: stick.GPC, N: 2}, {Type: stick.GPCRate, N: 2, Period: 10000}}},
		{Name: "mypeers/t_peers", NetName: "/t_peers", Type: stick.KeyBinary, Len: 8, Size: 100, Expire: 20000, Columns: []stick.Column{{Type: stick.GPC0, N: 1}}},
		{Name: "web", NetName: "web", Type: stick.KeyIP, Size: 1024, Expire: 60000, Columns: []stick.Column{{Type: stick.ServerID, N: 1}, {Type: stick.ServerKey, N: 1}}},
		{Name: "st_ipv6", NetName: "st_ipv6", Type: stick.KeyIPv6, Size: 1024, Expire: 30000, Columns: []stick.Column{{Type: stick.GPC0, N: 1}}},
	}, nil)
}

// The table definitions HAProxy 2.6.12 sent for the same tables (reference §2.4).
func TestDefinitionsMatchHAProxy(t *testing.T) {
	set := captureSet()
	ids := map[string]uint64{"st_ip": 2, "st_int": 4, "mypeers/t_peers": 1, "web": 6, "st_ipv6": 5}
	want := map[string]string{
		"st_ip":           "0a 82 12 02 05 73745f6970 04 04 f435 f0971c 0a f0e203",
		"st_int":          "0a 82 1a 04 06 73745f696e74 02 04 f0f1fe6e f0971c 1602 1702 1802f0e203",
		"mypeers/t_peers": "0a 82 10 01 08 2f745f7065657273 07 08 04 f0d308",
		"web":             "0a 82 0e 06 03 776562 04 04 f1f1fe00 f0971c",
		"st_ipv6":         "0a 82 0f 05 07 73745f69707636 05 10 04 f0c40d",
	}
	for _, tb := range set.All() {
		d := defOf(tb, ids[tb.Name()])
		got := appendDef(nil, d)
		if !bytes.Equal(got, unhex(want[tb.Name()])) {
			t.Errorf("%s:\n got %x\nwant %s", tb.Name(), got, want[tb.Name()])
		}
		f, n, err := nextFrame(got)
		if err != nil || n != len(got) {
			t.Fatalf("frame: %v", err)
		}
		back, err := parseDef(f.payload)
		if err != nil || !back.matches(tb) || back.Bits != d.Bits || back.Expire != d.Expire || back.N != d.N {
			t.Errorf("%s: parsed back %+v %v", tb.Name(), back, err)
		}
	}
}

// Updates captured from HAProxy decode to the values `show table` printed there.
func TestUpdatesFromHAProxy(t *testing.T) {
	set := captureSet()
	st := set.Table("st_ip")
	d := defOf(st, 2)
	var dict dictRX
	var u received
	// 0a 80 11: id=1 key 10.0.0.1 gpc0=5 conn_cur=0 rate{age=now_ms,0,0}
	if err := parseUpdate(tblUpdate, unhex("00000001 0a000001 05 00 fbe795a019 00 00"), d, &dict, &u); err != nil {
		t.Fatal(err)
	}
	if u.id != 1 || !u.hasID || u.exp != -1 || !bytes.Equal(u.key, []byte{10, 0, 0, 1}) || u.values.U[stick.GPC0][0] != 5 || u.values.F[stick.HTTPReqRate][0].Age != 881112939 {
		t.Fatalf("%+v", u)
	}
	// 0a 86: no id, expire 56793 ms, key 10.0.0.2 gpc0=300 conn_cur=0 rate{3207ms,7,0}
	if err := parseUpdate(tblIncTimed, unhex("0000ddd9 0a000002 fc03 00 f8b900 07 00"), d, &dict, &u); err != nil {
		t.Fatal(err)
	}
	if u.hasID || u.exp != 56793 || u.values.U[stick.GPC0][0] != 300 || u.values.F[stick.HTTPReqRate][0] != (stick.FreqVal{Age: 3208, Curr: 7}) {
		t.Fatalf("%+v", u)
	}
	// server_key through the dictionary: "s1" new in slot 1, then cached.
	web := set.Table("web")
	wd := defOf(web, 6)
	if err := parseUpdate(tblUpdate, unhex("00000001 7f000001 01 04 01 02 7331"), wd, &dict, &u); err != nil || u.values.SrvKey != "s1" || u.values.U[stick.ServerID][0] != 1 {
		t.Fatalf("%+v %v", u, err)
	}
	if err := parseUpdate(tblUpdate, unhex("00000002 7f000001 01 01 01"), wd, &dict, &u); err != nil || u.values.SrvKey != "s1" {
		t.Fatalf("cached: %+v %v", u, err)
	}
	// And we encode the same bytes for the same entry.
	var tx dictTX
	r := &stick.Row{Key: []byte{127, 0, 0, 1}}
	r.Has[stick.ServerID], r.U[stick.ServerID] = true, []uint64{1}
	r.Has[stick.ServerKey], r.SrvKey = true, "s1"
	if got := appendUpdate(nil, update{id: 1, withID: true}, wd, r, &tx); !bytes.Equal(got, unhex("0a 80 0e 00000001 7f000001 01 04 01 02 7331")) {
		t.Errorf("web update %x", got)
	}
	if got := appendUpdate(nil, update{id: 2, withID: true}, wd, r, &tx); !bytes.Equal(got, unhex("0a 80 0b 00000002 7f000001 01 01 01")) {
		t.Errorf("cached web update %x", got)
	}
	// A dictionary id out of range is malformed.
	if err := parseUpdate(tblUpdate, unhex("00000002 7f000001 01 01 00"), wd, &dict, &u); err == nil {
		t.Error("dictionary id 0 accepted")
	}
}

func TestAckAndFrames(t *testing.T) {
	if got := appendAck(nil, 2, 0x12); !bytes.Equal(got, unhex("0a 84 05 02 00000012")) {
		t.Errorf("ack %x", got)
	}
	if _, n, err := nextFrame(unhex("0a 80 ff ff ff ff 7f")); err == nil && n != 0 {
		t.Error("an oversized length was accepted")
	}
	if _, n, _ := nextFrame(unhex("0a 82 12 02")); n != 0 {
		t.Error("a partial message was returned")
	}
	if f, n, err := nextFrame(unhex("00 04 00 00")); err != nil || n != 2 || f.typ != ctlHeartbeat {
		t.Error("heartbeat")
	}
}

// FuzzDecode feeds arbitrary bytes to the frame splitter, the definition parser and
// the update parser with every definition of the capture: no input may panic.
func FuzzDecode(f *testing.F) {
	set := captureSet()
	var defs []*Def
	for i, tb := range set.All() {
		defs = append(defs, defOf(tb, uint64(i+1)))
		f.Add(appendDef(nil, defs[i]))
	}
	f.Add(unhex("0a 80 11 00000001 0a000001 05 00 fbe795a019 00 00"))
	f.Add(unhex("0a 85 0f 00000001 0000de2d 7f000001 01 04 01 02 7331"))
	f.Add(unhex("00 00 00 04 0a 84 05 02 00000012 ff 00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var dict dictRX
		var u received
		for len(b) > 0 {
			fr, n, err := nextFrame(b)
			if err != nil || n == 0 {
				return
			}
			b = b[n:]
			if fr.class != classTable {
				continue
			}
			switch fr.typ {
			case tblDefine:
				if d, err := parseDef(fr.payload); err == nil {
					defs = append(defs[:len(set.All())], d)
				}
			case tblUpdate, tblIncUpdate, tblUpdateTimed, tblIncTimed:
				for _, d := range defs {
					if parseUpdate(fr.typ, fr.payload, d, &dict, &u) == nil {
						if tb := set.Table(strings.TrimPrefix(d.Name, "/")); tb != nil && d.matches(tb) {
							tb.Learn(localKey(tb, u.key), u.exp, &u.values, true)
						}
					}
				}
			}
		}
	})
}
