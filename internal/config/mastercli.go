package config

import (
	"fmt"
	"strings"
)

// ParseMasterCLI reads the argument of `-S`: an address followed by bind options,
// all separated by commas (runs of commas count as one), as in
// `-S /run/hitless-master.sock,mode,600,level,user`. The options are those of
// `stats socket`; the level defaults to admin, as HAProxy's master CLI does.
func ParseMasterCLI(spec string) (StatsSocket, error) {
	var words []string
	for _, w := range strings.Split(spec, ",") {
		if w != "" {
			words = append(words, w)
		}
	}
	if len(words) == 0 {
		return StatsSocket{}, fmt.Errorf("'-S' expects an address")
	}
	var g Global
	ps := &parser{pos: Pos{File: "-S", Line: 0}}
	if err := kwStats(ps, &g, append([]string{"stats", "socket"}, words...)); err != nil {
		return StatsSocket{}, fmt.Errorf("%s", strings.Replace(err.Error(), "'stats socket'", "'-S "+words[0]+"'", 1))
	}
	s := g.StatsSockets[0]
	explicit := false
	for i := 1; i < len(words); i++ {
		if words[i] == "level" {
			explicit = true
		}
	}
	if !explicit {
		s.Level = "admin"
	}
	return s, nil
}
