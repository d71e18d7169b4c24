package runtimeapi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"hitless/internal/stick"
)

// TableCommands are the stick-table commands: `show table`, `clear table` and
// `set table`, with HAProxy 2.6's outputs, messages and levels (show at user level,
// whose entries are dumped from operator level; clear and set at operator level),
// and the hidden `_tables`, which writes every table for a newer process (as
// _getsocks, only on a socket with `expose-fd listeners`, or from the master).
func TableCommands(set *stick.Set, dump func(io.Writer) error) []Command {
	return []Command{
		{Words: []string{"_tables"}, Level: LevelUser,
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				if !s.ExposeFD {
					return errEnd
				}
				s.Conn.SetWriteDeadline(time.Now().Add(tableDumpTimeout))
				dump(w)
				return errEnd
			}},
		{Words: []string{"show", "table"}, Level: LevelUser, Usage: Usage("show table <table> [<filter>]*", "report table usage stats or dump this table's contents (filter: data/key)"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				showTable(set, s.Level, args, w)
				return nil
			}},
		{Words: []string{"clear", "table"}, Level: LevelOperator, Usage: Usage("clear table <table> [<filter>]*", "remove an entry from a table (filter: data/key)"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				clearTable(set, args, w)
				return nil
			}},
		{Words: []string{"set", "table"}, Level: LevelOperator, Usage: Usage("set table <table> key <k> [data.* <v>]*", "update or create a table entry's data"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				setTable(set, args, w)
				return nil
			}},
	}
}

// PeersSection is a running peers section, as `show peers` prints it.
type PeersSection interface {
	Name() string
	Show(w io.Writer, now time.Time)
}

// PeersCommand is `show peers [dict|-] [section]` (user level, as in HAProxy);
// sections is called at each use.
func PeersCommand(sections func() []PeersSection) Command {
	return Command{Words: []string{"show", "peers"}, Level: LevelUser, Usage: Usage("show peers [dict|-] [section]", "dump some information about all the peers or this peers section"),
		Run: func(s *Session, args []string, w *bufio.Writer) error {
			if len(args) > 0 && (args[0] == "dict" || args[0] == "-") {
				args = args[1:]
			}
			all := sections()
			if len(args) > 0 {
				found := false
				for _, sec := range all {
					if sec.Name() == args[0] {
						sec.Show(w, time.Now())
						found = true
					}
				}
				if !found {
					w.WriteString("No such peers\n")
				}
				return nil
			}
			for i := len(all) - 1; i >= 0; i-- {
				all[i].Show(w, time.Now())
			}
			return nil
		}}
}

// tableDumpTimeout bounds how long `_tables` waits for its reader.
const tableDumpTimeout = 10 * time.Second

// tableHeader is HAProxy's `# table:` line.
func tableHeader(t *stick.Table) string {
	sp := t.Spec()
	return fmt.Sprintf("# table: %s, type: %s, size:%d, used:%d\n", sp.Name, sp.Type, sp.Size, t.Len())
}

// filter is one `data.TYPE op VALUE` of show/clear table.
type filter struct {
	d  stick.DataType
	op string
	v  int64
}

// tableQuery is what follows the table name: a key, or filters.
type tableQuery struct {
	key     []byte
	hasKey  bool
	filters []filter
}

// errMsg is an answer that is only a message.
type errMsg string

func (e errMsg) Error() string { return string(e) }

// maxFilters is HAProxy 2.6's STKTABLE_FILTER_LEN.
const maxFilters = 4

// parseQuery reads `key K` or up to four filters; action words the binary-key message.
func parseQuery(t *stick.Table, args []string, action string) (tableQuery, error) {
	var q tableQuery
	if len(args) == 0 {
		return q, nil
	}
	if args[0] == "key" {
		if len(args) < 2 {
			return q, errMsg("Key value expected")
		}
		if t.Spec().Type == stick.KeyBinary {
			return q, errMsg(action + " keys " + map[string]string{"Showing": "from", "Removing": "from", "Inserting": "into"}[action] + " tables of type other than ip, ipv6, string and integer is not supported")
		}
		k, err := t.ParseKey(args[1])
		if err != nil {
			return q, errMsg("Invalid key")
		}
		q.key, q.hasKey = k, true
		return q, nil
	}
	if !strings.HasPrefix(args[0], "data.") {
		return q, errMsg(`Optional argument only supports "data.<store_data_type>" <operator> <value> and key <key>`)
	}
	for i := 0; i < len(args) && len(q.filters) < maxFilters; i += 3 {
		n := len(q.filters) + 1
		name, ok := strings.CutPrefix(args[i], "data.")
		d, known := stick.LookupType(name)
		if !ok || !known {
			return q, errMsg(fmt.Sprintf("Filter entry #%d: Unknown data type", n))
		}
		if !t.Stores(d) || stick.Types[d].Storage == stick.Dict {
			return q, errMsg(fmt.Sprintf("Filter entry #%d: Data type not stored in this table", n))
		}
		op := ""
		if i+1 < len(args) {
			op = args[i+1]
		}
		switch op {
		case "eq", "ne", "le", "ge", "lt", "gt":
		default:
			return q, errMsg(fmt.Sprintf(`Filter entry #%d: Require and operator among "eq", "ne", "le", "ge", "lt", "gt"`, n))
		}
		var v int64
		var err error = errors.New("missing")
		if i+2 < len(args) {
			v, err = strconv.ParseInt(args[i+2], 10, 64)
		}
		if err != nil {
			return q, errMsg(fmt.Sprintf("Filter entry #%d: Require a valid integer value to compare against", n))
		}
		q.filters = append(q.filters, filter{d: d, op: op, v: v})
	}
	return q, nil
}

// matches reports whether every filter holds for r (element 0 of arrays).
func (q *tableQuery) matches(r *stick.Row) bool {
	for _, f := range q.filters {
		var v int64
		if st := stick.Types[f.d].Storage; st == stick.Freq {
			v = int64(rateOf(r, f.d, 0))
		} else if len(r.U[f.d]) > 0 {
			v = int64(r.U[f.d][0])
			if st == stick.SInt {
				v = int64(int32(r.U[f.d][0]))
			}
		}
		ok := false
		switch f.op {
		case "eq":
			ok = v == f.v
		case "ne":
			ok = v != f.v
		case "le":
			ok = v <= f.v
		case "ge":
			ok = v >= f.v
		case "lt":
			ok = v < f.v
		case "gt":
			ok = v > f.v
		}
		if !ok {
			return false
		}
	}
	return true
}

// rateOf reads a frequency counter of a row now.
func rateOf(r *stick.Row, d stick.DataType, i int) uint32 {
	if i >= len(r.F[d]) {
		return 0
	}
	return stick.ReadFreq(r.F[d][i], r.Period[d])
}

func showTable(set *stick.Set, level Level, args []string, w *bufio.Writer) {
	if len(args) == 0 {
		all := set.All()
		for i := len(all) - 1; i >= 0; i-- {
			w.WriteString(tableHeader(all[i]))
		}
		return
	}
	t := set.Table(args[0])
	if t == nil {
		w.WriteString("No such table\n")
		return
	}
	q, err := parseQuery(t, args[1:], "Showing")
	if err != nil {
		w.WriteString(err.Error() + "\n")
		return
	}
	if q.hasKey {
		r, ok := t.Find(q.key)
		if !ok {
			return
		}
		w.WriteString(tableHeader(t))
		if level < LevelOperator {
			w.WriteString("# contents not dumped due to insufficient privileges\n")
			return
		}
		writeEntry(w, t, &r)
		return
	}
	w.WriteString(tableHeader(t))
	if level < LevelOperator {
		w.WriteString("# contents not dumped due to insufficient privileges\n")
		return
	}
	t.Walk(func(r *stick.Row) bool {
		if q.matches(r) {
			writeEntry(w, t, r)
		}
		return true
	})
}

// writeEntry prints one entry as HAProxy's table_dump_entry_to_buffer does.
func writeEntry(w *bufio.Writer, t *stick.Table, r *stick.Row) {
	exp := r.Exp
	if exp < 0 {
		exp = 0
	}
	fmt.Fprintf(w, "%#x: key=%s use=%d exp=%d", r.Ref, t.FormatKey(r.Key), r.Use, exp)
	for d := stick.DataType(0); d < stick.NumDataTypes; d++ {
		if !r.Has[d] {
			continue
		}
		name := stick.Types[d].Name
		switch stick.Types[d].Storage {
		case stick.Dict:
			v := r.SrvKey
			if v == "" {
				v = "-"
			}
			w.WriteString(" " + name + "=" + v)
		case stick.Freq:
			for i := 0; i < r.N[d]; i++ {
				n := name
				if d.IsArray() {
					n = "gpc" + strconv.Itoa(i) + "_rate"
				}
				fmt.Fprintf(w, " %s(%d)=%d", n, r.Period[d], rateOf(r, d, i))
			}
		default:
			for i := 0; i < r.N[d] && i < len(r.U[d]); i++ {
				n := name
				if d.IsArray() {
					n += strconv.Itoa(i)
				}
				if stick.Types[d].Storage == stick.SInt {
					fmt.Fprintf(w, " %s=%d", n, int32(r.U[d][i]))
				} else {
					fmt.Fprintf(w, " %s=%d", n, r.U[d][i])
				}
			}
		}
	}
	w.WriteByte('\n')
}

func clearTable(set *stick.Set, args []string, w *bufio.Writer) {
	if len(args) == 0 {
		w.WriteString(`Required arguments: <table> "data.<store_data_type>" <operator> <value> or <table> key <key>` + "\n")
		return
	}
	t := set.Table(args[0])
	if t == nil {
		w.WriteString("No such table\n")
		return
	}
	q, err := parseQuery(t, args[1:], "Removing")
	if err != nil {
		w.WriteString(err.Error() + "\n")
		return
	}
	if q.hasKey {
		if err := t.Delete(q.key); err != nil {
			w.WriteString(err.Error() + "\n")
		}
		return
	}
	t.DeleteIf(q.matches)
}

func setTable(set *stick.Set, args []string, w *bufio.Writer) {
	if len(args) == 0 {
		w.WriteString("Required arguments: <table> key <key> [data.<store_data_type> <value>]*\n")
		return
	}
	t := set.Table(args[0])
	if t == nil {
		w.WriteString("No such table\n")
		return
	}
	if len(args) == 1 {
		// HAProxy 2.6.12 clears the whole table here, like `clear table NAME`
		// (observed); hitless does the same.
		t.DeleteIf(func(*stick.Row) bool { return true })
		return
	}
	if args[1] != "key" {
		if strings.HasPrefix(args[1], "data.") {
			w.WriteString(`content-based lookup is only supported with the "show" and "clear" actions` + "\n")
			return
		}
		w.WriteString(`Optional argument only supports "data.<store_data_type>" <operator> <value> and key <key>` + "\n")
		return
	}
	q, err := parseQuery(t, args[1:], "Inserting")
	if err != nil {
		w.WriteString(err.Error() + "\n")
		return
	}
	pairs := args[3:]
	var msg string
	err = t.Upsert(q.key, func(setv func(stick.DataType, int, uint64) bool) {
		for i := 0; i < len(pairs); i += 2 {
			name, ok := strings.CutPrefix(pairs[i], "data.")
			if !ok || i+1 >= len(pairs) {
				msg = `"data.<type>" followed by a value expected`
				return
			}
			d, known := stick.LookupType(name)
			if !known {
				msg = "Unknown data type"
				return
			}
			if !t.Stores(d) {
				msg = "Data type not stored in this table"
				return
			}
			v, err := strconv.ParseInt(pairs[i+1], 10, 64)
			if err != nil || stick.Types[d].Storage == stick.Dict {
				msg = "Require a valid integer value to store"
				return
			}
			setv(d, 0, uint64(v))
		}
	})
	if err != nil {
		msg = err.Error()
	}
	if msg != "" {
		w.WriteString(msg + "\n")
	}
}
