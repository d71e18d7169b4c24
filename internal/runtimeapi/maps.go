package runtimeapi

import (
	"bufio"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"hitless/internal/pattern"
)

// MapCommands are the map and ACL commands: show, get, add, set, del, clear,
// prepare and commit, with HAProxy 2.6's answers. Files are named by path or by
// "#<id>" (their number in `show map`/`show acl`), entries by key or "#<ref>".
func MapCommands(reg *pattern.Registry) []Command {
	var cmds []Command
	for _, kind := range []string{"map", "acl"} {
		kind := kind
		unknown := "Unknown map identifier. Please use #<id> or <file>.\n"
		if kind == "acl" {
			unknown = "Unknown ACL identifier. Please use #<id> or <file>.\n"
		}
		// file resolves the identifier; maps accept only map files.
		file := func(name string) *pattern.File {
			f := reg.Lookup(name)
			if f == nil || (kind == "map" && !f.IsMap) {
				return nil
			}
			return f
		}
		cmds = append(cmds,
			Command{Words: []string{"show", kind}, Level: LevelOperator, Usage: showUsage[kind],
				Run: func(s *Session, args []string, w *bufio.Writer) error {
					ver, args, err := version(args)
					if err != nil {
						w.WriteString(err.Error() + "\n")
						return nil
					}
					if len(args) == 0 || args[0] == "" {
						if ver == 0 {
							listFiles(reg, kind, w)
						} else {
							w.WriteString(unknown)
						}
						return nil
					}
					f := file(args[0])
					if f == nil {
						w.WriteString(unknown)
						return nil
					}
					es, err := f.Entries(ver)
					if err != nil {
						return nil // HAProxy prints nothing for an unknown version
					}
					for _, e := range es {
						fmt.Fprintf(w, "%#x %s", e.ID, e.Key)
						if f.IsMap {
							w.WriteString(" " + e.Value)
						}
						w.WriteByte('\n')
					}
					return nil
				}},
			Command{Words: []string{"get", kind}, Level: LevelOperator, Usage: getUsage[kind],
				Run: func(s *Session, args []string, w *bufio.Writer) error {
					if len(args) < 2 || args[0] == "" {
						if kind == "map" {
							w.WriteString("Missing map identifier and/or key.\n")
						} else {
							w.WriteString("Missing ACL identifier and/or key.\n")
						}
						return nil
					}
					f := file(args[0])
					if f == nil {
						w.WriteString(unknown)
						return nil
					}
					for _, u := range f.Uses() {
						writeLookup(w, kind, u, args[1])
					}
					return nil
				}},
			Command{Words: []string{"add", kind}, Level: LevelOperator, Usage: addUsage[kind],
				Run: func(s *Session, args []string, w *bufio.Writer) error {
					ver, args, err := version(args)
					if err != nil {
						w.WriteString(err.Error() + "\n")
						return nil
					}
					need := 2
					if kind == "map" {
						need = 3
					}
					if len(args) < need {
						if kind == "map" {
							w.WriteString("'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n")
						} else {
							w.WriteString("'add acl' expects two parameters: ACL identifier and pattern.\n")
						}
						return nil
					}
					f := file(args[0])
					if f == nil {
						w.WriteString(unknown)
						return nil
					}
					value := ""
					if kind == "map" {
						value = strings.Join(args[2:], " ")
					}
					if err := f.Add(ver, args[1], value); err != nil {
						w.WriteString(strings.TrimSuffix(err.Error(), ".") + ".\n")
					}
					return nil
				}},
			Command{Words: []string{"del", kind}, Level: LevelOperator, Usage: delUsage[kind],
				Run: func(s *Session, args []string, w *bufio.Writer) error {
					if len(args) < 2 || args[0] == "" {
						w.WriteString("This command expects two parameters: " + kind + " identifier and key.\n")
						return nil
					}
					f := file(args[0])
					if f == nil {
						w.WriteString(unknown)
						return nil
					}
					ok, err := f.Delete(args[1])
					switch {
					case err != nil:
						w.WriteString(err.Error() + "\n")
					case !ok:
						w.WriteString("Key not found.\n")
					}
					return nil
				}},
			Command{Words: []string{"clear", kind}, Level: LevelOperator, Usage: clearUsage[kind],
				Run: func(s *Session, args []string, w *bufio.Writer) error {
					ver, args, err := version(args)
					if err != nil {
						w.WriteString(err.Error() + "\n")
						return nil
					}
					if len(args) == 0 {
						w.WriteString(unknown)
						return nil
					}
					f := file(args[0])
					if f == nil {
						w.WriteString(unknown)
						return nil
					}
					if err := f.Clear(ver); err != nil {
						w.WriteString(err.Error() + "\n")
					}
					return nil
				}},
			Command{Words: []string{"prepare", kind}, Level: LevelOperator, Usage: prepareUsage[kind],
				Run: func(s *Session, args []string, w *bufio.Writer) error {
					if len(args) == 0 {
						w.WriteString(unknown)
						return nil
					}
					f := file(args[0])
					if f == nil {
						w.WriteString(unknown)
						return nil
					}
					fmt.Fprintf(w, "New version created: %d\n", f.Prepare())
					return nil
				}},
			Command{Words: []string{"commit", kind}, Level: LevelOperator, Usage: commitUsage[kind],
				Run: func(s *Session, args []string, w *bufio.Writer) error {
					ver, args, err := version(args)
					if err != nil {
						w.WriteString(err.Error() + "\n")
						return nil
					}
					if ver == 0 {
						w.WriteString("Missing version number.\n")
						return nil
					}
					if len(args) == 0 {
						w.WriteString(unknown)
						return nil
					}
					f := file(args[0])
					if f == nil {
						w.WriteString(unknown)
						return nil
					}
					if err := f.Commit(ver); err != nil {
						w.WriteString(err.Error() + "\n")
					}
					return nil
				}},
		)
	}
	cmds = append(cmds,
		Command{Words: []string{"set", "map"}, Level: LevelOperator, Usage: Usage("set map <map> [<key>|#<ref>] <value>", "modify a map entry"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				if len(args) < 3 {
					w.WriteString("'set map' expects three parameters: map identifier, key and value.\n")
					return nil
				}
				f := reg.Lookup(args[0])
				if f == nil || !f.IsMap {
					w.WriteString("Unknown map identifier. Please use #<id> or <file>.\n")
					return nil
				}
				ok, err := f.Set(args[1], strings.Join(args[2:], " "))
				switch {
				case err != nil:
					w.WriteString(err.Error() + "\n")
				case !ok && strings.HasPrefix(args[1], "#"):
					w.WriteString("key or pattern not found.\n")
				case !ok:
					w.WriteString("entry not found.\n")
				}
				return nil
			}},
		// _changed_patterns lists the files changed at runtime, for the next process
		// to carry over a reload (hidden, hitless only).
		Command{Words: []string{"_changed_patterns"}, Level: LevelOperator,
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				for _, f := range reg.Files() {
					if f.Dirty() {
						w.WriteString(f.Path + "\n")
					}
				}
				return nil
			}},
	)
	return cmds
}

var (
	showUsage = map[string]string{
		"map": Usage("show map [@ver] [map]", "report available maps or dump a map's contents"),
		"acl": Usage("show acl [@<ver>] <acl>]", "report available acls or dump an acl's contents"),
	}
	getUsage = map[string]string{
		"map": Usage("get map <acl> <value>", "report the keys and values matching a sample for a map"),
		"acl": Usage("get acl <acl> <value>", "report the patterns matching a sample for an ACL"),
	}
	addUsage = map[string]string{
		"map": Usage("add map [@<ver>] <map> <key> <val>", "add a map entry (payload supported instead of key/val)"),
		"acl": Usage("add acl [@<ver>] <acl> <pattern>", "add an acl entry"),
	}
	delUsage = map[string]string{
		"map": Usage("del map <map> [<key>|#<ref>]", "delete map entries matching <key>"),
		"acl": Usage("del acl <acl> [<key>|#<ref>]", "delete acl entries matching <key>"),
	}
	clearUsage = map[string]string{
		"map": Usage("clear map [@<ver>] <map>", "clear the contents of this map"),
		"acl": Usage("clear acl [@<ver>] <acl>", "clear the contents of this acl"),
	}
	prepareUsage = map[string]string{
		"map": Usage("prepare map <acl>", "prepare a new version for atomic map replacement"),
		"acl": Usage("prepare acl <acl>", "prepare a new version for atomic ACL replacement"),
	}
	commitUsage = map[string]string{
		"map": Usage("commit map @<ver> <map>", "commit the map at this version"),
		"acl": Usage("commit acl @<ver> <acl>", "commit the ACL at this version"),
	}
)

// version reads a leading "@<ver>".
func version(args []string) (uint, []string, error) {
	if len(args) == 0 || !strings.HasPrefix(args[0], "@") {
		return 0, args, nil
	}
	n, err := strconv.ParseUint(args[0][1:], 10, 32)
	if err != nil {
		return 0, args, fmt.Errorf("Version must be an integer.")
	}
	return uint(n), args[1:], nil
}

// listFiles is `show map` or `show acl` without a file.
func listFiles(reg *pattern.Registry, kind string, w *bufio.Writer) {
	w.WriteString("# id (file) description\n")
	for _, f := range reg.Files() {
		if kind == "map" && !f.IsMap {
			continue
		}
		es, _ := f.Entries(0)
		cur, next := f.Versions()
		fmt.Fprintf(w, "%d (%s) pattern loaded from file '%s' used by %s. curr_ver=%d next_ver=%d entry_cnt=%d\n",
			f.ID, f.Path, f.Path, strings.Join(f.Users(), ", by "), cur, next, len(es))
	}
}

// writeLookup is one line of `get map|acl`: how one use of the file matches value.
func writeLookup(w *bufio.Writer, kind string, u pattern.Use, value string) {
	s := u.Set
	i, ok := -1, false
	switch u.Method {
	case pattern.IP:
		if a, err := netip.ParseAddr(value); err == nil {
			i, ok = s.MatchAddr(a)
		}
	case pattern.Int:
		if n, err := strconv.ParseInt(value, 10, 64); err == nil {
			i, ok = s.MatchInt(n)
		}
	default:
		i, ok = s.MatchBytes([]byte(value))
	}
	kase := "sensitive"
	if u.Fold {
		kase = "insensitive"
	}
	word := "found"
	if kind == "acl" {
		word = "match"
	}
	fmt.Fprintf(w, "type=%s, case=%s, %s=", u.Method, kase, word)
	if !ok {
		w.WriteString("no\n")
		return
	}
	idx := "list"
	if u.Indexed() {
		idx = "tree"
	}
	e := s.Entries[i]
	if kind == "acl" {
		fmt.Fprintf(w, "yes, idx=%s, pattern=\"%s\"\n", idx, e.Key)
		return
	}
	fmt.Fprintf(w, "yes, idx=%s, key=\"%s\", value=", idx, e.Key)
	if u.Out == "" {
		w.WriteString("none\n")
		return
	}
	fmt.Fprintf(w, "\"%s\", type=\"%s\"\n", e.Value, u.Out)
}

// CarriedPatterns asks an older process (through ask, one command per call) for the
// pattern and map files it changed at runtime, and returns the dump of each one the
// new configuration also reads (`show acl FILE`, which lists maps too), by path.
func CarriedPatterns(ask func(cmd string) (string, error), reg *pattern.Registry) map[string]string {
	if len(reg.Files()) == 0 {
		return nil // nothing to carry: no question to the older process
	}
	list, err := ask("_changed_patterns")
	if err != nil || strings.HasPrefix(list, "Unknown command") {
		return nil
	}
	out := map[string]string{}
	for _, path := range strings.Split(strings.TrimSpace(list), "\n") {
		if path == "" || reg.Lookup(path) == nil {
			continue
		}
		if dump, err := ask("show acl " + path); err == nil && !strings.HasPrefix(dump, "Unknown") {
			out[path] = dump
		}
	}
	return out
}

// ParsePatternDump reads the answer of `show map FILE` or `show acl FILE`: one
// "0xREF key [value]" line per entry.
func ParsePatternDump(dump string, isMap bool) []pattern.Entry {
	var out []pattern.Entry
	for _, line := range strings.Split(dump, "\n") {
		ref, rest, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(ref, "0x") {
			continue
		}
		e := pattern.Entry{Key: rest}
		if isMap {
			e.Key, e.Value, _ = strings.Cut(rest, " ")
		}
		out = append(out, e)
	}
	return out
}
