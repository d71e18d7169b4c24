package instance

import (
	"hitless/internal/config"
	"hitless/internal/httpproxy"
	"hitless/internal/promexport"
	"hitless/internal/stats"
	"hitless/internal/statspage"
)

// services builds the applet of each `http-request use-service` name
// (config.HTTPServices); stat collects the statistics they read.
var services = map[string]func(in *Instance, stat func(stats.Options) []*stats.Row) httpproxy.Applet{
	"prometheus-exporter": func(in *Instance, stat func(stats.Options) []*stats.Row) httpproxy.Applet {
		return promexport.New(promexport.Source{
			Info: in.Info,
			// As a user-level socket sees them, as HAProxy's exporter does.
			Stat: func() []*stats.Row { return stat(stats.Options{Types: -1, ServerID: -1}) },
		})
	},
}

// applets builds the stats page of every mode http proxy with `stats` keywords and the
// services of `http-request use-service`. Both read `show info` and the rows of
// package stats, as the Runtime API does.
func (in *Instance) applets(cfg *config.Config) httpproxy.Applets {
	ids := in.State.IDs
	stat := func(o stats.Options) []*stats.Row { return stats.Collect(in.State, ids, in, o) }
	a := httpproxy.Applets{Stats: map[*config.Proxy]httpproxy.Applet{}, Services: map[string]httpproxy.Applet{}}
	proc := &statspage.Process{Version: in.version, State: in.State, ProxyIDs: ids, Info: in.Info, Stat: stat}
	for _, p := range cfg.Proxies {
		if p.Stats != nil && p.Mode == config.ModeHTTP {
			a.Stats[p] = statspage.New(p, proc)
		}
	}
	for name, build := range services {
		a.Services[name] = build(in, stat)
	}
	return a
}
