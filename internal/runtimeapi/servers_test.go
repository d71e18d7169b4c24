package runtimeapi

import (
	"strings"
	"testing"
)

func TestParseWeight(t *testing.T) {
	tests := []struct {
		in   string
		want int
		msg  string
	}{
		{"10", 10, ""},
		{"0", 0, ""},
		{"256", 256, ""},
		{"50%", 25, ""},
		{"1000%", 256, ""},
		{"", 0, "Require <weight> or <weight%>.\n"},
		{"abc", 0, "Empty weight string empty or preceded by garbage"},
		{"5x", 0, "Trailing garbage in weight string"},
		{"300", 0, "Absolute weight can only be between 0 and 256 inclusive.\n"},
		{"-5%", 0, "Relative weight must be positive.\n"},
	}
	for _, tt := range tests {
		got, msg := parseWeight(tt.in, 50)
		if got != tt.want || msg != tt.msg {
			t.Errorf("parseWeight(%q) = %d, %q; want %d, %q", tt.in, got, msg, tt.want, tt.msg)
		}
	}
}

// TestParseServersState reads HAProxy 2.6's own output (captured from 2.6.12).
func TestParseServersState(t *testing.T) {
	text := "1\n" + ServersStateHeader + "\n" +
		"3 b 1 s1 127.0.0.1 0 1 1 1 38 8 2 0 14 0 0 0 - 18091 - 0 0 - - 0\n" +
		"3 b 2 s2 127.0.0.1 2 8 20 50 37 8 2 0 6 0 0 0 - 18092 - 0 0 - - 0\n" +
		"garbage line\n\n"
	got := ParseServersState(text)
	want := []ServerState{
		{Backend: "b", Server: "s1", Running: false, Admin: 1, UWeight: 1, IWeight: 1, Addr: "127.0.0.1", Port: 18091},
		{Backend: "b", Server: "s2", Running: true, Admin: 8, UWeight: 20, IWeight: 50, Addr: "127.0.0.1", Port: 18092},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if ParseServersState("2\n# x\n") != nil {
		t.Error("accepted an unknown version")
	}
}

// FuzzParseServersState feeds state files (`show servers state > file`, read at
// start-up) of any content: rows are taken or skipped, never a crash, and every row
// taken has a backend and a server name.
func FuzzParseServersState(f *testing.F) {
	f.Add("1\n" + ServersStateHeader + "\n3 b 1 s1 127.0.0.1 0 1 1 1 38 8 2 0 14 0 0 0 - 18091 - 0 0 - - 0\n")
	f.Add("1\n3 b 1 s1 ::1 2 8 20 50 37 8 2 0 6 0 0 0 - x - 0 0 - - 0\n# x\n\n")
	f.Add("2\n")
	f.Fuzz(func(t *testing.T, text string) {
		rows := ParseServersState(text)
		if len(rows) > strings.Count(text, "\n") {
			t.Fatalf("%d rows from %d lines", len(rows), strings.Count(text, "\n"))
		}
		for _, r := range rows {
			if r.Backend == "" || r.Server == "" {
				t.Fatalf("row %+v", r)
			}
		}
	})
}
