package instance

import (
	"hitless/internal/config"
	"hitless/internal/httpproxy"
	"hitless/internal/promexport"
	"hitless/internal/runtimeapi"
	"hitless/internal/statspage"
)

// services builds the applet of each `http-request use-service` name
// (config.HTTPServices); stat is the `show stat` command they read.
var services = map[string]func(in *Instance, stat runtimeapi.Command) httpproxy.Applet{
	"prometheus-exporter": func(in *Instance, stat runtimeapi.Command) httpproxy.Applet {
		return promexport.New(promexport.Source{
			Info: in.Info,
			Stat: func() []runtimeapi.StatRow {
				_, rows := runtimeapi.ReadStat(stat, runtimeapi.LevelUser)
				return rows
			},
		})
	},
}

// applets builds the stats page of every mode http proxy with `stats` keywords and the
// services of `http-request use-service`. Both read the live figures through the
// Runtime API's `show info` and `show stat`.
func (in *Instance) applets(cfg *config.Config) httpproxy.Applets {
	ids := proxyIDs(cfg)
	stat := runtimeapi.StatCommand(in.State, ids, in)
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
