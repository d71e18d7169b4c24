package balance

import (
	"fmt"

	"hitless/internal/config"
)

// algorithms is the table of `balance` names; each constructor gets the pool size.
var algorithms = map[string]func(b config.Balance, n int) Algorithm{
	"":           func(config.Balance, int) Algorithm { return newRoundRobin(true) },
	"roundrobin": func(config.Balance, int) Algorithm { return newRoundRobin(true) },
	"static-rr":  func(config.Balance, int) Algorithm { return newRoundRobin(false) },
	"leastconn":  func(config.Balance, int) Algorithm { return &leastConn{} },
	"first":      func(config.Balance, int) Algorithm { return first{} },
	"source":     func(config.Balance, int) Algorithm { return &hashed{key: keySource} },
	"uri":        func(config.Balance, int) Algorithm { return &hashed{key: keyURI} },
	"url_param":  func(b config.Balance, _ int) Algorithm { return &hashed{key: keyParam, param: b.Param} },
	"hdr":        func(b config.Balance, _ int) Algorithm { return &hashed{key: keyHeader, param: b.Param} },
	"random":     func(config.Balance, int) Algorithm { return newRandom() },
}

// New returns the algorithm a backend's `balance` line names, for a pool of n servers.
func New(b config.Balance, n int) (Algorithm, error) {
	f, ok := algorithms[b.Algorithm]
	if !ok {
		return nil, fmt.Errorf("unknown balance algorithm '%s'", b.Algorithm)
	}
	return f(b, n), nil
}
