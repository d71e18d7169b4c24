package instance

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"hitless/internal/config"
	"hitless/internal/proxy"
	"hitless/internal/runtimeapi"
)

// loadStateFiles applies HAProxy's server-state files at start-up: each backend with
// `load-server-state-from-file global|local` takes the rows of its file that name it
// (a file written with `show servers state > file`). A missing or unreadable file is a
// warning, as in HAProxy, never an error.
func (in *Instance) loadStateFiles(cfg *config.Config) {
	files := map[string][]runtimeapi.ServerState{} // read once per path
	failed := map[string]bool{}
	for _, p := range cfg.Proxies {
		if !p.IsBackend() || p.LoadServerState == "" {
			continue
		}
		if p.LoadServerState == "global" && cfg.Global.ServerStateFile == "" {
			in.events.Warn(fmt.Sprintf("backend '%s' configured to load server state file from global section 'server-state-file' directive. Unfortunately, 'server-state-file' is not set!", p.Name))
			continue
		}
		path := cfg.StateFile(p)
		rows, ok := files[path]
		if !ok && !failed[path] {
			var err error
			rows, err = readStateFile(path)
			if err != nil {
				failed[path] = true
				if p.LoadServerState == "global" {
					in.events.Warn(fmt.Sprintf("config: %s global server state file '%s'%s", errorVerb(err), path, errorTail(err)))
				} else {
					in.events.Warn(fmt.Sprintf("Proxy '%s': %s server state file '%s'%s.", p.Name, errorVerb(err), path, errorTail(err)))
				}
			}
			files[path] = rows
		}
		var mine []runtimeapi.ServerState
		for _, r := range rows {
			if r.Backend == p.Name {
				mine = append(mine, r)
			}
		}
		in.applyServerStates(mine, proxy.ByStateFile)
	}
}

// errBadVersion is a state file whose first line is not version 1.
var errBadVersion = errors.New("bad version")

func readStateFile(path string) ([]runtimeapi.ServerState, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if strings.TrimSpace(first) != "1" {
		return nil, errBadVersion
	}
	return runtimeapi.ParseServersState(string(b)), nil
}

// errorVerb and errorTail word a state-file failure as HAProxy does.
func errorVerb(err error) string {
	if errors.Is(err, errBadVersion) {
		return "Can't get version of the"
	}
	return "Can't open"
}

func errorTail(err error) string {
	if errors.Is(err, errBadVersion) {
		return "."
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		var errno syscall.Errno
		if errors.As(pe.Err, &errno) {
			s := errno.Error()
			return ": " + strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return ": " + err.Error()
}
