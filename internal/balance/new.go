package balance

import (
	"fmt"

	"hitless/internal/config"
)

// algorithm is one row of the `balance` table.
type algorithm struct {
	needsParam bool // url_param and hdr name what they hash
	make       func(b config.Balance, n int) Algorithm
}

// algorithms is the table of `balance` names; each constructor gets the pool size so
// that its per-server state is allocated once, not on the first Pick.
var algorithms = map[string]algorithm{
	"":           {false, func(_ config.Balance, n int) Algorithm { return newRoundRobin(n) }},
	"roundrobin": {false, func(_ config.Balance, n int) Algorithm { return newRoundRobin(n) }},
	"static-rr":  {false, func(_ config.Balance, n int) Algorithm { return newRoundRobin(n) }},
	"leastconn":  {false, func(config.Balance, int) Algorithm { return &leastConn{} }},
	"first":      {false, func(config.Balance, int) Algorithm { return first{} }},
	"source":     {false, func(_ config.Balance, n int) Algorithm { return newHashed(keySource, "", n) }},
	"uri":        {false, func(_ config.Balance, n int) Algorithm { return newHashed(keyURI, "", n) }},
	"url_param":  {true, func(b config.Balance, n int) Algorithm { return newHashed(keyParam, b.Param, n) }},
	"hdr":        {true, func(b config.Balance, n int) Algorithm { return newHashed(keyHeader, b.Param, n) }},
	"random":     {false, func(config.Balance, int) Algorithm { return random{} }},
}

// New returns the algorithm a backend's `balance` line names, for a pool of n servers.
// The result keeps per-pool state: use one per Pool.
func New(b config.Balance, n int) (Algorithm, error) {
	a, ok := algorithms[b.Algorithm]
	if !ok {
		return nil, fmt.Errorf("unknown balance algorithm '%s'", b.Algorithm)
	}
	if a.needsParam && b.Param == "" {
		return nil, fmt.Errorf("balance '%s' requires a parameter name", b.Algorithm)
	}
	if n < 0 {
		return nil, fmt.Errorf("balance: negative pool size %d", n)
	}
	return a.make(b, n), nil
}
