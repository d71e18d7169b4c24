package stats

import (
	"bufio"
	"fmt"
	"strings"
)

// Writer renders rows in one of `show stat`'s formats: "csv" (the header line first),
// "typed" or "json". Call Row for each row, then End.
type Writer struct {
	w      *bufio.Writer
	format string
	rows   int
}

// NewWriter starts a rendering on w; the CSV header is written at once.
func NewWriter(w *bufio.Writer, format string) *Writer {
	x := &Writer{w: w, format: format}
	switch format {
	case "csv":
		WriteHeader(w)
	case "json":
		w.WriteByte('[')
	}
	return x
}

// WriteHeader writes the CSV header line: "# " and every field followed by a comma.
func WriteHeader(w *bufio.Writer) {
	w.WriteString("# ")
	for _, f := range Fields {
		w.WriteString(f)
		w.WriteByte(',')
	}
	w.WriteByte('\n')
}

// WriteCSV writes one row as a CSV line.
func WriteCSV(w *bufio.Writer, r *Row) {
	for _, v := range r.values {
		writeCSVField(w, v.text())
		w.WriteByte(',')
	}
	w.WriteByte('\n')
}

// Row renders one row.
func (x *Writer) Row(r *Row) {
	w := x.w
	x.rows++
	switch x.format {
	case "csv":
		WriteCSV(w, r)
		return
	case "json":
		if x.rows > 1 {
			w.WriteByte(',')
		}
		w.WriteByte('[')
	}
	first := true
	for i, v := range r.values {
		name := Fields[i]
		if !v.set || name == "-" {
			continue
		}
		// Past the "-" pseudo-column, positions count the module fields from 103.
		pos := i
		if i > index["-"] {
			pos--
		}
		tags, kind := metaOf(name, r.Kind)
		if x.format == "typed" {
			fmt.Fprintf(w, "%c.%d.%d.%d.%s.1:%s:%s:%s\n", "FBS"[r.Kind], r.ProxyID, r.ID, pos, name, tags, kind, v.text())
			continue
		}
		if !first {
			w.WriteByte(',')
		}
		first = false
		origin, nature, scope := TagWords(tags)
		fmt.Fprintf(w, `{"objType":"%s","proxyId":%d,"id":%d,"field":{"pos":%d,"name":"%s"},"processNum":1,"tags":{"origin":"%s","nature":"%s","scope":"%s"},"value":{"type":"%s","value":`,
			[]string{"Frontend", "Backend", "Server"}[r.Kind], r.ProxyID, r.ID, pos, name, origin, nature, scope, kind)
		WriteJSONValue(w, kind, v.text())
		w.WriteString("}}")
	}
	if x.format == "json" {
		w.WriteByte(']')
	}
}

// End finishes the rendering.
func (x *Writer) End() {
	if x.format == "json" {
		x.w.WriteString("]\n")
	}
}

// TagWords spells out the three tag letters of a typed field ("MCP") as the JSON
// forms do: origin, nature and scope.
func TagWords(tags string) (origin, nature, scope string) {
	return tagWords[uint16(tags[0])], tagWords['n'<<8|uint16(tags[1])], tagWords['s'<<8|uint16(tags[2])]
}

// WriteJSONValue writes a value of a typed field: strings quoted, numbers as they are.
func WriteJSONValue(w *bufio.Writer, kind, v string) {
	if kind == "str" {
		writeJSONString(w, v)
		return
	}
	w.WriteString(v)
}

// writeJSONString writes s as a JSON string.
func writeJSONString(w *bufio.Writer, s string) {
	w.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			w.WriteByte('\\')
			w.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(w, "\\u%04x", c)
		default:
			w.WriteByte(c)
		}
	}
	w.WriteByte('"')
}

// writeCSVField writes one CSV value, quoted only when it holds a separator, a quote
// or a line break (a check's reason phrase comes from the server), as HAProxy encodes
// its string fields.
func writeCSVField(w *bufio.Writer, v string) {
	if !strings.ContainsAny(v, ",\"\r\n") {
		w.WriteString(v)
		return
	}
	w.WriteByte('"')
	w.WriteString(strings.ReplaceAll(v, `"`, `""`))
	w.WriteByte('"')
}
