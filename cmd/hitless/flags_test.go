package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *options
		wantErr string
	}{
		{name: "one file", args: []string{"-f", "a.cfg"}, want: &options{files: []string{"a.cfg"}}},
		{name: "files in order", args: []string{"-f", "a.cfg", "-f", "dir", "--", "b.cfg", "-c"},
			want: &options{files: []string{"a.cfg", "dir", "b.cfg", "-c"}}},
		{name: "check quiet", args: []string{"-c", "-q", "-f", "a"}, want: &options{check: true, quiet: true, files: []string{"a"}}},
		{name: "-cq is -c", args: []string{"-cq", "-f", "a"}, want: &options{check: true, files: []string{"a"}}},
		{name: "sf list ends at next flag", args: []string{"-f", "a", "-sf", "12", "34", "-p", "x.pid"},
			want: &options{files: []string{"a"}, oldPids: []int{12, 34}, pidfile: "x.pid"}},
		{name: "st decides", args: []string{"-f", "a", "-sf", "1", "-st", "2"},
			want: &options{files: []string{"a"}, oldPids: []int{1, 2}, terminate: true}},
		{name: "empty sf list", args: []string{"-f", "a", "-sf"}, want: &options{files: []string{"a"}}},
		{name: "bad pid", args: []string{"-f", "a", "-sf", "12x"}, wantErr: "sf option: some bytes unconsumed in PID list {12x}"},
		{name: "zero pid", args: []string{"-f", "a", "-sf", "0"}, wantErr: "sf option: invalid pid 0"},
		{name: "file after sf list is a pid", args: []string{"-sf", "1", "x.cfg"}, wantErr: "sf option: some bytes unconsumed in PID list {x.cfg}"},
		{name: "socket", args: []string{"-f", "a", "-x", "/run/h.sock"}, want: &options{files: []string{"a"}, sockPath: "/run/h.sock"}},
		{name: "master worker", args: []string{"-W", "-f", "a", "-S", "/run/m.sock,mode,600"},
			want: &options{master: true, files: []string{"a"}, masterCLI: []string{"/run/m.sock,mode,600"}}},
		{name: "systemd", args: []string{"-Ws", "-f", "a"}, want: &options{master: true, systemd: true, files: []string{"a"}}},
		{name: "daemon cancels debug", args: []string{"-d", "-D", "-f", "a"}, want: &options{daemon: true, files: []string{"a"}}},
		{name: "debug cancels daemon", args: []string{"-D", "-db", "-f", "a"}, want: &options{debug: true, files: []string{"a"}}},
		{name: "version needs no file", args: []string{"-vv"}, want: &options{version: true}},
		{name: "maxconn", args: []string{"-n", "500", "-f", "a"}, want: &options{maxconn: 500, files: []string{"a"}}},
		{name: "local peer", args: []string{"-L", "node1", "-f", "a"}, want: &options{localPeer: "node1", files: []string{"a"}}},
		{name: "local peer needs a name", args: []string{"-f", "a", "-L"}, wantErr: "option '-L' expects an argument"},
		{name: "missing argument", args: []string{"-f"}, wantErr: "option '-f' expects an argument"},
		{name: "unknown flag", args: []string{"-f", "a", "-Z"}, wantErr: "unknown option '-Z'"},
		{name: "stray word", args: []string{"a.cfg"}, wantErr: "unexpected argument 'a.cfg'"},
		{name: "no file", args: []string{"-c"}, wantErr: "no configuration file given (-f)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(tt.args)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestMasterArgs(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"hitless -W -f a.cfg -p p.pid", "hitless -W -f a.cfg -p p.pid"},
		{"hitless -W -f a.cfg -sf 12 13 -x /run/s.sock -p p", "hitless -W -f a.cfg -p p"},
		{"hitless -D -W -S /run/m.sock,mode,600 -f a.cfg -st 9", "hitless -W -S /run/m.sock,mode,600 -f a.cfg"},
		{"hitless -Ws -f -sf -- x.cfg -sf", "hitless -Ws -f -sf -- x.cfg -sf"},
		{"hitless -W -x", "hitless -W"},
		{"hitless -W -L -sf -f a.cfg", "hitless -W -L -sf -f a.cfg"},
	} {
		if got := strings.Join(masterArgs(strings.Fields(c.in)), " "); got != c.want {
			t.Errorf("masterArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
