package runtimeapi

import (
	"bufio"
	"bytes"
	"testing"

	"hitless/internal/proxy"
)

func miscState(t *testing.T) *proxy.State {
	t.Helper()
	return buildState(t, "listen l\n bind 127.0.0.1:1\n server s 127.0.0.1:2\n")
}

// runCmd runs one command line against a command table at a level.
func runCmd(t *testing.T, cmds []Command, level Level, line string) string {
	t.Helper()
	srv := &Server{}
	srv.Commands = append(BaseCommands(srv), cmds...)
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	srv.run(&Session{Level: level}, line, w)
	w.Flush()
	return out.String()
}

// step is one command line at a level and the answer it must get.
type step struct {
	level      Level
	line, want string
}

// runSteps runs the steps in order against a command table.
func runSteps(t *testing.T, cmds []Command, steps []step) {
	t.Helper()
	for _, s := range steps {
		if got := runCmd(t, cmds, s.level, s.line); got != s.want {
			t.Errorf("%q at %v:\ngot  %q\nwant %q", s.line, s.level, got, s.want)
		}
	}
}

func TestMiscCommands(t *testing.T) {
	st := miscState(t)
	cmds := MiscCommands(st, "1.2.3")
	t.Setenv("HITLESS_TEST_VAR", "x=y")
	st.Frontends[0].Counters.TotalConns.Store(5)
	runSteps(t, cmds, []step{
		{LevelOperator, "show env HITLESS_TEST_VAR", "HITLESS_TEST_VAR=x=y\n"},
		{LevelOperator, "show env HITLESS_NO_SUCH_VAR", "Variable not found\n"},
		{LevelUser, "show env HITLESS_TEST_VAR", "Permission denied\n"},
		{LevelUser, "show version", "1.2.3\n"},
		{LevelUser, "set timeout cli 30", ""},
		{LevelUser, "set timeout foo 30", "'set timeout' only supports 'cli'.\n"},
		{LevelUser, "set timeout cli", "Expects an integer value.\n"},
		{LevelUser, "set timeout cli -1", "Invalid timeout value.\n"},
		{LevelOperator, "clear counters", ""},
		{LevelOperator, "clear counters all", "Permission denied\n"},
	})
	if st.Frontends[0].Counters.TotalConns.Load() != 5 {
		t.Fatal("counters cleared without the admin level")
	}
	if got := runCmd(t, cmds, LevelAdmin, "clear counters all"); got != "" || st.Frontends[0].Counters.TotalConns.Load() != 0 {
		t.Fatalf("clear counters all: %q, total %d", got, st.Frontends[0].Counters.TotalConns.Load())
	}
}

// TestServerCommandsErrors checks HAProxy's texts for bad server references and values.
func TestServerCommandsErrors(t *testing.T) {
	st := miscState(t)
	cmds := ServerCommands(st, map[string]int{"l": 2})
	tests := []struct {
		line, want string
	}{
		{"get weight l", "Require 'backend/server'.\n"},
		{"get weight nope/s", "No such backend.\n"},
		{"get weight l/nope", "No such server.\n"},
		{"get weight l/s", "1 (initial 1)\n"},
		{"set server l/s state bogus", "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"},
		{"set server l/s health bogus", "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n"},
		{"set server l/s", "usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send | check-addr | check-port | fqdn | health | ssl | state | weight\n"},
		{"set server l/s weight 300", "Absolute weight can only be between 0 and 256 inclusive.\n"},
		{"set server l/s state drain", ""},
		{"show servers state nope", "Can't find backend.\n"},
		{"show backend", "# name\nl\n"},
		{"set maxconn server l/s x", "Integer value expected.\n"},
		{"set maxconn server l/s 7", ""},
		{"disable health l/s", ""},
	}
	for _, tt := range tests {
		if got := runCmd(t, cmds, LevelAdmin, tt.line); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.line, got, tt.want)
		}
	}
	srv := st.Backends["l"].Servers[0]
	if !srv.Drain() || srv.MaxConn() != 7 || srv.ChecksEnabled() {
		t.Fatalf("not applied: drain %v maxconn %d checks %v", srv.Drain(), srv.MaxConn(), srv.ChecksEnabled())
	}
	runCmd(t, cmds, LevelAdmin, "enable health l/s")
	if !srv.ChecksEnabled() {
		t.Fatal("enable health not applied")
	}
}
