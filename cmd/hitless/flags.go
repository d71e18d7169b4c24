package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// options is the command line, spelled as HAProxy 2.6 spells it.
type options struct {
	files     []string // -f FILE|DIR (repeatable) and everything after --
	check     bool     // -c
	pidfile   string   // -p
	quiet     bool     // -q
	verbose   bool     // -V
	debug     bool     // -d (foreground, debug events)
	daemon    bool     // -D
	version   bool     // -v / -vv
	oldPids   []int    // -sf / -st lists
	terminate bool     // the last of -sf/-st was -st
	sockPath  string   // -x
	master    bool     // -W
	systemd   bool     // -Ws
	masterCLI []string // -S (repeatable)
	maxconn   int      // -n
	chdir     string   // -C
	localPeer string   // -L: the local peer's name in peers sections
}

// usageError is a command-line mistake: the caller prints the message and the usage text
// and exits 1.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// parseArgs walks argv left to right as HAProxy's init_args() does: the flag is chosen by
// its first letters, arguments are the next word, -sf/-st take every following word up
// to the next one starting with '-', and -- makes the rest config files.
func parseArgs(args []string) (*options, error) {
	o := &options{}
	next := func(i *int, flag string) (string, error) {
		if *i+1 >= len(args) {
			return "", &usageError{fmt.Sprintf("option '%s' expects an argument", flag)}
		}
		*i++
		return args[*i], nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.files = append(o.files, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			return nil, &usageError{fmt.Sprintf("unexpected argument '%s'", a)}
		}
		var err error
		switch {
		case a == "-sf" || a == "-st":
			o.terminate = a == "-st"
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				pid, perr := strconv.Atoi(args[i])
				if perr != nil {
					return nil, &usageError{fmt.Sprintf("%s option: some bytes unconsumed in PID list {%s}", a[1:], args[i])}
				}
				if pid <= 0 {
					return nil, &usageError{fmt.Sprintf("%s option: invalid pid %d", a[1:], pid)}
				}
				o.oldPids = append(o.oldPids, pid)
			}
		case a[1] == 'v':
			o.version = true
		case a == "-f":
			var f string
			if f, err = next(&i, a); err == nil {
				o.files = append(o.files, f)
			}
		case a == "-p":
			o.pidfile, err = next(&i, a)
		case a == "-x":
			if o.sockPath, err = next(&i, a); err == nil && o.sockPath == "" {
				err = &usageError{"Unix socket path expected with the -x flag"}
			}
		case a == "-S":
			var s string
			if s, err = next(&i, a); err == nil {
				o.masterCLI = append(o.masterCLI, s)
			}
		case a == "-C":
			o.chdir, err = next(&i, a)
		case a == "-L":
			o.localPeer, err = next(&i, a)
		case a == "-n":
			var s string
			if s, err = next(&i, a); err == nil {
				if o.maxconn, err = strconv.Atoi(s); err != nil || o.maxconn <= 0 {
					err = &usageError{fmt.Sprintf("invalid maxconn '%s'", s)}
				}
			}
		case a == "-Ws":
			o.master, o.systemd = true, true
		case a == "-W":
			o.master = true
		case a == "-cc":
			err = &usageError{"'-cc' is not supported yet"}
		case a[1] == 'c':
			o.check = true
		case a == "-q":
			o.quiet = true
		case a == "-V":
			o.verbose = true
		case a == "-D":
			o.daemon, o.debug = true, false
		case a[1] == 'd':
			o.debug, o.daemon = true, false
		default:
			err = &usageError{fmt.Sprintf("unknown option '%s'", a)}
		}
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) {
				err = &usageError{err.Error()}
			}
			return nil, err
		}
	}
	if !o.version && len(o.files) == 0 {
		return nil, &usageError{"no configuration file given (-f)"}
	}
	return o, nil
}

const usageText = `Usage : %s [-f <cfgfile|cfgdir>]* [ -vdVD ] [ -n <maxconn> ]
        [ -p <pidfile> ] [ -C <dir> ] [-- <cfgfile>*]
        -v displays version
        -d enters debug mode (foreground, debug events)
        -V enters verbose mode (disables quiet mode)
        -D goes daemon ; -C changes to <dir> before loading files.
        -W master-worker mode.
        -Ws master-worker mode with systemd notify support.
        -q quiet mode : don't display messages
        -c check mode : only check config files and exit
        -n sets the maximum total # of connections
        -p writes the pid to this file
        -sf/-st [pid ]* finishes/terminates old pids.
        -x <unix_socket> get listening sockets from a unix socket
        -S <bind>[,<bind options>...] new master CLI
        -L <name> sets the local peer name (peers sections)

`

// masterArgs is the command line the master runs again on reload and gives its
// workers: argv without -sf/-st and their pids, -x and its path (the master hands the
// sockets over itself) and -D (the master has already left the terminal).
func masterArgs(argv []string) []string {
	out := []string{argv[0]}
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--":
			return append(out, argv[i:]...)
		case a == "-sf" || a == "-st":
			for i+1 < len(argv) && !strings.HasPrefix(argv[i+1], "-") {
				i++
			}
		case a == "-x":
			i++
		case a == "-D":
		case a == "-f" || a == "-p" || a == "-S" || a == "-C" || a == "-n" || a == "-L":
			out = append(out, a)
			if i+1 < len(argv) {
				i++
				out = append(out, argv[i])
			}
		default:
			out = append(out, a)
		}
	}
	return out
}
