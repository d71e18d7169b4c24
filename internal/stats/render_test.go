package stats

import (
	"bufio"
	"strings"
	"testing"
)

func TestWriteCSVField(t *testing.T) {
	for in, want := range map[string]string{
		"L7STS":                  "L7STS",
		"":                       "",
		"503 Down, back soon":    `"503 Down, back soon"`,
		`say "hi"`:               `"say ""hi"""`,
		"two\nlines":             "\"two\nlines\"",
		"127.0.0.1:8080 (check)": "127.0.0.1:8080 (check)",
	} {
		var b strings.Builder
		w := bufio.NewWriter(&b)
		writeCSVField(w, in)
		w.Flush()
		if b.String() != want {
			t.Errorf("writeCSVField(%q) = %q, want %q", in, b.String(), want)
		}
	}
}
