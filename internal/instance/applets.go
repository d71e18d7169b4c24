package instance

import (
	"hitless/internal/config"
	"hitless/internal/httpproxy"
	"hitless/internal/promexport"
	"hitless/internal/runtimeapi"
	"hitless/internal/statspage"
)

// applets builds the stats page of every mode http proxy with `stats` keywords and the
// services of `http-request use-service`. Both read the live figures through the
// Runtime API's `show info` and `show stat`.
func (in *Instance) applets(cfg *config.Config) httpproxy.Applets {
	ids := proxyIDs(cfg)
	stat := runtimeapi.StatCommand(in.State, ids, in.frontendMaxConn, in.Stopping)
	a := httpproxy.Applets{Stats: map[*config.Proxy]httpproxy.Applet{}, Services: map[string]httpproxy.Applet{}}
	proc := &statspage.Process{Version: in.version, State: in.State, ProxyIDs: ids, Info: in.Info, Stat: stat}
	for _, p := range cfg.Proxies {
		if p.Stats != nil && p.Mode == config.ModeHTTP {
			a.Stats[p] = statspage.New(p, proc)
		}
	}
	a.Services["prometheus-exporter"] = promexport.New(promexport.Source{
		Info: in.Info,
		Stat: func() []runtimeapi.StatRow {
			_, rows := runtimeapi.ReadStat(stat, runtimeapi.LevelUser)
			return rows
		},
	})
	return a
}
