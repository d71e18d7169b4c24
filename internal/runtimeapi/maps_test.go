package runtimeapi

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"hitless/internal/config"
)

// TestMapCommands replays a session captured from HAProxy 2.6.12 on the same
// configuration (an ACL file, a map file read by an ACL with -M and by map()): the
// answers are HAProxy's but for the entries' references (HAProxy prints pointers)
// and the ids of the lists (HAProxy also numbers inline ACLs and its httpclient's).
func TestMapCommands(t *testing.T) {
	dir := t.TempDir()
	hosts, nets := filepath.Join(dir, "hosts.map"), filepath.Join(dir, "nets.lst")
	os.WriteFile(hosts, []byte("a.example.com be_a\nb.example.com be_b\n"), 0o644)
	os.WriteFile(nets, []byte("10.0.0.0/8\n192.168.0.0/16\n"), 0o644)
	cfg, err := config.LoadBytes("m.cfg", []byte(`
frontend f
  mode http
  bind 127.0.0.1:1
  acl trusted src -f `+nets+`
  acl h hdr(host) -i -M -f `+hosts+`
  http-request return status 200 content-type text/plain lf-string "%[req.hdr(host),map(`+hosts+`,none)]" if trusted
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	cmds := MapCommands(cfg.Patterns)
	ref := regexp.MustCompile(`0x[0-9a-f]+ `)
	show := func(line string) string { return ref.ReplaceAllString(runCmd(t, cmds, LevelOperator, line), "REF ") }
	if got, want := runCmd(t, cmds, LevelOperator, "show map"), "# id (file) description\n"+
		"1 ("+hosts+") pattern loaded from file '"+hosts+"' used by map at file 'm.cfg' line 6, by map at file 'm.cfg' line 7. curr_ver=0 next_ver=0 entry_cnt=2\n"; got != want {
		t.Errorf("show map:\n%s\nwant\n%s", got, want)
	}
	if got := runCmd(t, cmds, LevelOperator, "show acl"); !strings.Contains(got, "\n0 ("+nets+") pattern loaded from file '"+nets+"' used by acl at file 'm.cfg' line 5. curr_ver=0") {
		t.Errorf("show acl:\n%s", got)
	}
	steps := []step{
		{LevelOperator, "show map #-1", "Unknown map identifier. Please use #<id> or <file>.\n"},
		{LevelOperator, "get map " + hosts + " a.example.com", "type=str, case=insensitive, found=yes, idx=list, key=\"a.example.com\", value=none\n" +
			"type=str, case=sensitive, found=yes, idx=tree, key=\"a.example.com\", value=\"be_a\", type=\"str\"\n"},
		{LevelOperator, "get map " + hosts + " zz", "type=str, case=insensitive, found=no\ntype=str, case=sensitive, found=no\n"},
		{LevelOperator, "get acl " + nets + " 10.1.2.3", "type=ip, case=sensitive, match=yes, idx=tree, pattern=\"10.0.0.0/8\"\n"},
		{LevelOperator, "get acl " + nets + " 1.1.1.1", "type=ip, case=sensitive, match=no\n"},
		{LevelOperator, "get acl " + hosts + " a.example.com", "type=str, case=insensitive, match=yes, idx=list, pattern=\"a.example.com\"\n" +
			"type=str, case=sensitive, match=yes, idx=tree, pattern=\"a.example.com\"\n"},
		{LevelOperator, "add map " + hosts + " c.example.com be_c", ""},
		{LevelOperator, "add map " + hosts + " c.example.com be_c2", ""},
		{LevelOperator, "set map " + hosts + " a.example.com be_x", ""},
		{LevelOperator, "set map " + hosts + " nope be_x", "entry not found.\n"},
		{LevelOperator, "del map " + hosts + " c.example.com", ""},
		{LevelOperator, "del map " + hosts + " nope", "Key not found.\n"},
		{LevelOperator, "add acl " + nets + " 172.16.0.0/12", ""},
		{LevelOperator, "add acl " + nets + " bogus", "'bogus' is not a valid IPv4 or IPv6 address.\n"},
		{LevelOperator, "show map /nonexistent", "Unknown map identifier. Please use #<id> or <file>.\n"},
		{LevelOperator, "show map " + nets, "Unknown map identifier. Please use #<id> or <file>.\n"},
		{LevelOperator, "add map /nonexistent a b", "Unknown map identifier. Please use #<id> or <file>.\n"},
		{LevelOperator, "prepare map " + hosts, "New version created: 1\n"},
		{LevelOperator, "add map @1 " + hosts + " z.example.com be_z", ""},
		{LevelOperator, "add map @9 " + hosts + " a b", "Version number in the future, please use 'prepare map' before.\n"},
		{LevelOperator, "show map foo", "Unknown map identifier. Please use #<id> or <file>.\n"},
		{LevelOperator, "get map", "Missing map identifier and/or key.\n"},
		{LevelOperator, "get acl", "Missing ACL identifier and/or key.\n"},
		{LevelOperator, "add map", "'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n"},
		{LevelOperator, "add map " + hosts + " onlykey", "'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n"},
		{LevelOperator, "add acl", "'add acl' expects two parameters: ACL identifier and pattern.\n"},
		{LevelOperator, "del map", "This command expects two parameters: map identifier and key.\n"},
		{LevelOperator, "set map", "'set map' expects three parameters: map identifier, key and value.\n"},
		{LevelOperator, "set map " + hosts + " #0x1 q", "key or pattern not found.\n"},
		{LevelOperator, "commit map " + hosts, "Missing version number.\n"},
		{LevelOperator, "commit acl @5 " + nets, "Version number out of range.\n"},
		{LevelOperator, "clear acl @1 " + nets, ""},
		{LevelOperator, "show acl foo", "Unknown ACL identifier. Please use #<id> or <file>.\n"},
		{LevelUser, "show map", "Permission denied\n"},
	}
	runSteps(t, cmds, steps)
	if got := show("show map " + hosts); got != "REF a.example.com be_x\nREF b.example.com be_b\n" {
		t.Errorf("show map after the changes:\n%s", got)
	}
	if got := show("show map @1 " + hosts); got != "REF z.example.com be_z\n" {
		t.Errorf("show map @1:\n%s", got)
	}
	runSteps(t, cmds, []step{{LevelOperator, "commit map @1 " + hosts, ""}})
	if got := show("show map " + hosts); got != "REF z.example.com be_z\n" {
		t.Errorf("after commit:\n%s", got)
	}
	if got := show("show acl #0"); got != "REF 10.0.0.0/8\nREF 192.168.0.0/16\nREF 172.16.0.0/12\n" {
		t.Errorf("show acl #0:\n%s", got)
	}
	// An entry named by its reference.
	first := strings.Fields(runCmd(t, cmds, LevelOperator, "show acl #0"))[0]
	runSteps(t, cmds, []step{{LevelOperator, "del acl " + nets + " #" + first, ""}, {LevelOperator, "clear map " + hosts, ""},
		{LevelOperator, "show map " + hosts, ""}, {LevelOperator, "_changed_patterns", nets + "\n" + hosts + "\n"}})
	if got := show("show acl " + nets); got != "REF 192.168.0.0/16\nREF 172.16.0.0/12\n" {
		t.Errorf("after del #ref:\n%s", got)
	}
	// What a reload carries: the dump parses back into the same entries.
	dump := runCmd(t, cmds, LevelOperator, "show acl "+nets)
	es := ParsePatternDump(dump, false)
	if len(es) != 2 || es[0].Key != "192.168.0.0/16" {
		t.Errorf("parsed dump: %v", es)
	}
}

// FuzzMapCommands sends arbitrary lines to the map and ACL commands: they answer,
// and never panic or corrupt the files (every Set still matches what Entries lists).
func FuzzMapCommands(f *testing.F) {
	for _, s := range []string{"add map #1 a b", "set map #1 #0x1 v", "prepare acl #0", "add acl @1 #0 10.0.0.0/8",
		"commit acl @1 #0", "del map #1 a", "clear map @3 #1", "get acl #0 10.1.1.1", "show map @1 #1", "add acl #0 ::1/200"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\n;") {
			return
		}
		// Not t.TempDir(): a seed's directory name holds '#', a comment in a config.
		dir, err := os.MkdirTemp("", "maps")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		nets, hosts := filepath.Join(dir, "nets.lst"), filepath.Join(dir, "hosts.map")
		os.WriteFile(nets, []byte("10.0.0.0/8\n"), 0o644)
		os.WriteFile(hosts, []byte("a x\n"), 0o644)
		cfg, err := config.LoadBytes("m.cfg", []byte("frontend f\n mode http\n bind 127.0.0.1:1\n acl n src -f "+nets+
			"\n http-request set-header X %[req.hdr(host),map("+hosts+")] if n\n"), nil)
		if err != nil {
			t.Fatal(err)
		}
		cmds := MapCommands(cfg.Patterns)
		runCmd(t, cmds, LevelAdmin, line)
		runCmd(t, cmds, LevelAdmin, line)
		ParsePatternDump(line, true)
		for _, file := range cfg.Patterns.Files() {
			es, _ := file.Entries(0)
			for _, u := range file.Uses() {
				if u.Set.Len() > len(es) {
					t.Fatalf("%s: %d patterns compiled for %d entries", file.Path, u.Set.Len(), len(es))
				}
			}
		}
	})
}
