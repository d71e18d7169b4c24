// Package stick holds HAProxy's stick tables: keyed entries (ip, ipv6, integer,
// string, binary) carrying counters, frequency counters and arrays of them, with
// LRU eviction at `size`, expiry, and the update log that the peers protocol pushes.
// The instance package builds one Set per configuration; the Runtime API
// (`show table`, `set table`, `clear table`), the peers package and, later, the rule
// engine's tracking actions and fetches all work on its tables through this API.
package stick

import (
	"fmt"
	"strconv"
	"strings"
)

// KeyType is a table's key type, numbered as on the peers wire (the network type).
type KeyType int

// The key types, with their peers-protocol numbers.
const (
	KeyInteger KeyType = 2
	KeyIP      KeyType = 4
	KeyIPv6    KeyType = 5
	KeyString  KeyType = 6
	KeyBinary  KeyType = 7
)

var keyTypeNames = map[KeyType]string{KeyInteger: "integer", KeyIP: "ip", KeyIPv6: "ipv6", KeyString: "string", KeyBinary: "binary"}

func (k KeyType) String() string { return keyTypeNames[k] }

// ParseKeyType maps a `type` word to its KeyType.
func ParseKeyType(s string) (KeyType, bool) {
	for k, n := range keyTypeNames {
		if n == s {
			return k, true
		}
	}
	return 0, false
}

// DataType is a stored data type, numbered as HAProxy 2.6 numbers them (the bit in
// the peers table definition).
type DataType int

// The data types of HAProxy 2.6, in its order.
const (
	ServerID DataType = iota
	GPT0
	GPC0
	GPC0Rate
	ConnCnt
	ConnRate
	ConnCur
	SessCnt
	SessRate
	HTTPReqCnt
	HTTPReqRate
	HTTPErrCnt
	HTTPErrRate
	BytesInCnt
	BytesInRate
	BytesOutCnt
	BytesOutRate
	GPC1
	GPC1Rate
	ServerKey
	HTTPFailCnt
	HTTPFailRate
	GPT
	GPC
	GPCRate
	NumDataTypes
)

// Storage is how a data type's value is kept.
type Storage int

// The storage types (HAProxy's std_type).
const (
	SInt Storage = iota // int32
	UInt                // uint32
	ULL                 // uint64
	Freq                // frequency counter
	Dict                // a string (server_key)
)

// Arg is what a data type takes between parentheses in `store`.
type Arg int

// The argument kinds.
const (
	ArgNone        Arg = iota
	ArgPeriod          // http_req_rate(10s)
	ArgCount           // gpc(2)
	ArgCountPeriod     // gpc_rate(2,10s)
)

// TypeInfo is one row of the data type table.
type TypeInfo struct {
	Name    string
	Storage Storage
	Arg     Arg
	// Local types are pushed to peers but never learned from them (conn_cur).
	Local bool
	// Family groups the types that cannot be mixed in one table (gpt/gpt0,
	// gpc/gpc0/gpc1, gpc_rate/gpc0_rate/gpc1_rate); 0 = none.
	Family int
}

// Types is HAProxy 2.6's data type table, indexed by DataType.
var Types = [NumDataTypes]TypeInfo{
	ServerID:     {"server_id", SInt, ArgNone, false, 0},
	GPT0:         {"gpt0", UInt, ArgNone, false, 1},
	GPC0:         {"gpc0", UInt, ArgNone, false, 2},
	GPC0Rate:     {"gpc0_rate", Freq, ArgPeriod, false, 3},
	ConnCnt:      {"conn_cnt", UInt, ArgNone, false, 0},
	ConnRate:     {"conn_rate", Freq, ArgPeriod, false, 0},
	ConnCur:      {"conn_cur", UInt, ArgNone, true, 0},
	SessCnt:      {"sess_cnt", UInt, ArgNone, false, 0},
	SessRate:     {"sess_rate", Freq, ArgPeriod, false, 0},
	HTTPReqCnt:   {"http_req_cnt", UInt, ArgNone, false, 0},
	HTTPReqRate:  {"http_req_rate", Freq, ArgPeriod, false, 0},
	HTTPErrCnt:   {"http_err_cnt", UInt, ArgNone, false, 0},
	HTTPErrRate:  {"http_err_rate", Freq, ArgPeriod, false, 0},
	BytesInCnt:   {"bytes_in_cnt", ULL, ArgNone, false, 0},
	BytesInRate:  {"bytes_in_rate", Freq, ArgPeriod, false, 0},
	BytesOutCnt:  {"bytes_out_cnt", ULL, ArgNone, false, 0},
	BytesOutRate: {"bytes_out_rate", Freq, ArgPeriod, false, 0},
	GPC1:         {"gpc1", UInt, ArgNone, false, 2},
	GPC1Rate:     {"gpc1_rate", Freq, ArgPeriod, false, 3},
	ServerKey:    {"server_key", Dict, ArgNone, false, 0},
	HTTPFailCnt:  {"http_fail_cnt", UInt, ArgNone, false, 0},
	HTTPFailRate: {"http_fail_rate", Freq, ArgPeriod, false, 0},
	GPT:          {"gpt", UInt, ArgCount, false, 1},
	GPC:          {"gpc", UInt, ArgCount, false, 2},
	GPCRate:      {"gpc_rate", Freq, ArgCountPeriod, false, 3},
}

// MaxArray is the largest element count of an array type.
const MaxArray = 100

// LookupType finds a data type by name.
func LookupType(name string) (DataType, bool) {
	for i := range Types {
		if Types[i].Name == name {
			return DataType(i), true
		}
	}
	return 0, false
}

func (d DataType) String() string {
	if d >= 0 && d < NumDataTypes {
		return Types[d].Name
	}
	return "type" + strconv.Itoa(int(d))
}

// IsArray reports whether the type holds several elements.
func (d DataType) IsArray() bool { return Types[d].Arg == ArgCount || Types[d].Arg == ArgCountPeriod }

// Column is one stored data type of a table.
type Column struct {
	Type   DataType
	N      int   // element count (1 for scalar types)
	Period int64 // ms, for frequency counters
}

// slots is how many uint32 words one element of the type takes in an entry.
func (s Storage) slots() int {
	switch s {
	case ULL:
		return 2
	case Freq:
		return 3
	case Dict:
		return 0
	}
	return 1
}

// Spec describes a table: what `stick-table` or a peers `table` line declares.
type Spec struct {
	Name    string // the table's name: the proxy's, or "peers/name"
	NetName string // name on the peers wire: the proxy's, or "/name"
	Type    KeyType
	Len     int   // key length for string and binary (default 32)
	Size    int   // maximum number of entries
	Expire  int64 // ms; 0 = never
	NoPurge bool
	Peers   string // peers section name, "" = none
	SrvKey  string // "name" or "addr"
	Columns []Column
}

// KeySize is the key size HAProxy announces on the wire: 4, 16, 4, len+1, len.
func (s *Spec) KeySize() int {
	switch s.Type {
	case KeyIP, KeyInteger:
		return 4
	case KeyIPv6:
		return 16
	case KeyString:
		return s.Len + 1
	}
	return s.Len
}

// ParseStore parses one element of a `store` list ("gpc0", "http_req_rate(10s)",
// "gpc(2)", "gpc_rate(2,10s)"); parseTime reads a period with its unit.
func ParseStore(word string, parseTime func(string) (int64, error)) (Column, error) {
	name, arg, hasArg := strings.Cut(word, "(")
	if hasArg {
		if !strings.HasSuffix(arg, ")") {
			return Column{}, fmt.Errorf("missing closing parenthesis after store option '%s'", name)
		}
		arg = strings.TrimSuffix(arg, ")")
	}
	d, ok := LookupType(name)
	if !ok {
		return Column{}, fmt.Errorf("unknown store option '%s'", name)
	}
	c := Column{Type: d, N: 1}
	ti := Types[d]
	switch ti.Arg {
	case ArgNone:
		if hasArg {
			return Column{}, fmt.Errorf("unexpected argument to store option '%s'", name)
		}
	case ArgPeriod:
		if !hasArg {
			return Column{}, fmt.Errorf("missing argument to store option '%s'", name)
		}
		p, err := parseTime(arg)
		if err != nil {
			return Column{}, fmt.Errorf("%v in argument to store option '%s'", err, name)
		}
		c.Period = p
	case ArgCount, ArgCountPeriod:
		if !hasArg {
			return Column{}, fmt.Errorf("missing argument to store option '%s'", name)
		}
		n, per, two := strings.Cut(arg, ",")
		if ti.Arg == ArgCountPeriod && !two {
			return Column{}, fmt.Errorf("missing argument to store option '%s'", name)
		}
		if ti.Arg == ArgCount && two {
			return Column{}, fmt.Errorf("unexpected argument to store option '%s'", name)
		}
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 || v > MaxArray {
			return Column{}, fmt.Errorf("array size is out of allowed range (1-%d) for store option '%s'", MaxArray, name)
		}
		c.N = v
		if two {
			p, err := parseTime(per)
			if err != nil {
				return Column{}, fmt.Errorf("%v in argument to store option '%s'", err, name)
			}
			c.Period = p
		}
	}
	return c, nil
}
