package config

import (
	"fmt"
	"strings"
)

// Compression is a proxy's `compression` lines.
type Compression struct {
	Algos   []string // in the order given: gzip, deflate, raw-deflate, identity
	Types   []string // content types compressed; empty = all
	Offload bool     // remove Accept-Encoding from requests to the servers
}

func init() {
	proxyKeywords["compression"] = kw{"dfbl", kwCompression}
}

var compressionAlgos = map[string]bool{"gzip": true, "deflate": true, "raw-deflate": true, "identity": true}

func kwCompression(ps *parser, p *Proxy, a []string) error {
	if len(a) < 2 {
		return fmt.Errorf("'compression' expects 'algo', 'type' or 'offload'")
	}
	if p.Compression == nil {
		p.Compression = &Compression{}
	} else {
		c := *p.Compression // copied from defaults: do not share its slices
		p.Compression = &c
	}
	c := p.Compression
	switch a[1] {
	case "algo":
		if len(a) < 3 {
			return fmt.Errorf("'compression algo' expects <algorithm>")
		}
		c.Algos = nil
		for _, al := range a[2:] {
			if !compressionAlgos[al] {
				return fmt.Errorf("'compression algo' : '%s' is not a supported algorithm.", al)
			}
			c.Algos = append(c.Algos, al)
		}
	case "type":
		if len(a) < 3 {
			return fmt.Errorf("'compression type' expects <mime type>")
		}
		c.Types = nil
		for _, t := range a[2:] {
			c.Types = append(c.Types, strings.ToLower(t))
		}
	case "offload":
		if p.Kind == "defaults" {
			ps.warnf("'compression offload' ignored in defaults section.")
			return nil
		}
		c.Offload = true
	case "algo-req", "algo-res", "type-req", "type-res", "direction":
		return fmt.Errorf("'compression %s' is not supported yet (HAProxy 2.8)", a[1])
	default:
		return fmt.Errorf("'compression' expects 'algo', 'type' or 'offload'")
	}
	return nil
}
