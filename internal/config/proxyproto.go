package config

import "fmt"

// bindKeywords are the bind options of the PROXY protocol. kwBind looks options up
// here before its own list.
var bindKeywords = map[string]optionRow[Bind]{
	// accept-proxy: every connection starts with a PROXY header (v1 or v2), whose
	// addresses replace the connection's.
	"accept-proxy": {0, func(b *Bind, _ string) error { b.AcceptProxy = true; return nil }},
}

// optionRow is one row of a table of line options (`bind` or `server` options): its
// number of arguments (0 or 1) and what it sets.
type optionRow[T any] struct {
	args  int
	parse func(dst *T, v string) error
}

// tableOption applies opts[0] when it is a row of table; it returns the number of
// words consumed (0 when the keyword is not in the table).
func tableOption[T any](table map[string]optionRow[T], dst *T, opts []string) (int, error) {
	k, ok := table[opts[0]]
	if !ok {
		return 0, nil
	}
	v := ""
	if k.args == 1 {
		if len(opts) < 2 {
			return 0, fmt.Errorf("'%s' expects an argument", opts[0])
		}
		v = opts[1]
	}
	return 1 + k.args, k.parse(dst, v)
}
