package runtimeapi

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
)

// StatRow is one line of `show stat`, for the readers that present the same figures
// another way (the stats page, the Prometheus exporter): they run the command and read
// its rows instead of keeping counters of their own.
type StatRow struct {
	Line   string   // the CSV line as `show stat` wrote it, without its newline
	fields []string // the line split at its commas
}

// Get returns a column by its `show stat` name; "" when the column is empty, which
// means hitless does not measure it (or it does not apply).
func (r StatRow) Get(name string) string {
	i, ok := statIndex[name]
	if !ok || i >= len(r.fields) {
		return ""
	}
	return r.fields[i]
}

// Int returns a numeric column; ok is false when it is empty or not a number.
func (r StatRow) Int(name string) (n int64, ok bool) {
	v := r.Get(name)
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// ReadStat runs a `show stat` command (see StatCommand) at the given level with args
// ("up", "no-maint") and returns its header line and rows.
func ReadStat(cmd Command, level Level, args ...string) (header string, rows []StatRow) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	cmd.Run(&Session{Level: level}, args, w)
	w.Flush()
	for i, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if i == 0 {
			header = line
			continue
		}
		if line == "" {
			continue
		}
		fields := strings.Split(line, ",")
		if strings.IndexByte(line, '"') >= 0 {
			// encoding/csv reads quoted fields, should a value ever carry a comma.
			cr := csv.NewReader(strings.NewReader(line))
			cr.FieldsPerRecord, cr.LazyQuotes = -1, true
			var err error
			if fields, err = cr.Read(); err != nil {
				continue
			}
		}
		rows = append(rows, StatRow{Line: line, fields: fields})
	}
	return header, rows
}
