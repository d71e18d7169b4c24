package auth

import (
	"strings"
	"testing"
)

// The hashes of "pw" that glibc's crypt(3) writes (Python's crypt module on this
// machine), for each supported scheme.
const (
	hash512 = "$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/"
	hash256 = "$5$saltsalt$0rl.MZtoLLPP3X0Rdl8riRnphIcAXJY27/aOAyK2hB5"
	hashMD5 = "$1$saltsalt$6SNdNaZLKst2LlSm7oPPL1"
)

func TestUserlist(t *testing.T) {
	reg := NewRegistry()
	p := NewParser(reg)
	if err := p.Start("L"); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"group admins users carol", "group ops",
		"user alice password " + hash512 + " groups admins,ops", "user bob password " + hash256,
		"user carol password " + hashMD5, "user dave insecure-password secret groups ops",
	} {
		if err := p.Line(strings.Fields(line)); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
	if errs := p.Finish(); len(errs) != 0 {
		t.Fatal(errs)
	}
	for _, tt := range []struct {
		user, pass string
		ok         bool
	}{
		{"alice", "pw", true}, {"alice", "pw", true}, {"alice", "px", false}, {"bob", "pw", true}, {"carol", "pw", true},
		{"dave", "secret", true}, {"dave", "pw", false}, {"nobody", "pw", false},
	} {
		if got := reg.Check("L", tt.user, tt.pass); got != tt.ok {
			t.Errorf("%s:%s: %v", tt.user, tt.pass, got)
		}
	}
	if reg.Check("M", "alice", "pw") {
		t.Error("unknown list")
	}
	if g := reg.Groups("L", "carol"); len(g) != 1 || g[0] != "admins" {
		t.Errorf("carol's groups %v", g)
	}
}

func TestUserlistErrors(t *testing.T) {
	for _, tt := range []struct{ lines, want string }{
		{"user a password abzlUXK5ed5rs", "DES is not supported yet"},
		{"user a insecure-password x y z", "'user' only supports 'password', 'insecure-password' and 'groups' options (got 'y')."},
		{"user a insecure-password x|user a insecure-password y", "duplicate user 'a' in userlist 'L'."},
		{"user a insecure-password x groups nope", "no such group 'nope' for user 'a'."},
		{"group g users zed", "no such user 'zed' in group 'g'."},
		{"frob x", "unknown keyword 'frob' in 'userlist' section"},
	} {
		p := NewParser(NewRegistry())
		p.Start("L")
		var got []string
		for _, l := range strings.Split(tt.lines, "|") {
			if err := p.Line(strings.Fields(l)); err != nil {
				got = append(got, err.Error())
			}
		}
		for _, err := range p.Finish() {
			got = append(got, err.Error())
		}
		if !strings.Contains(strings.Join(got, "\n"), tt.want) {
			t.Errorf("%s: %v, want %q", tt.lines, got, tt.want)
		}
	}
}
