// Command hitless-storm is the reload-storm verifier: it opens new HTTP connections at a
// fixed rate (one request with `Connection: close` each), keeps N keep-alive connections
// busy, runs a reload command at a fixed interval, and prints one JSON line that
// classifies every failure. Its traffic goes to the target given, which must be a
// loopback address; it stops by itself after -duration. With -tls every connection is
// TLS, and new connections offer the last session: the result counts the resumptions
// that failed (after a reload, that means the new process lost the session keys).
//
//	hitless-storm -target 127.0.0.1:8080 -rate 2000 -keepalive 50 -duration 60s \
//	    -reload 'hitless -f h.cfg -p h.pid -sf $(cat h.pid) -x h.sock' -every 200ms
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"hitless/internal/storm"
)

func main() {
	var o storm.Options
	flag.StringVar(&o.Target, "target", "127.0.0.1:8080", "host:port of the proxy (loopback only)")
	flag.StringVar(&o.Path, "path", "/", "request path")
	flag.IntVar(&o.Rate, "rate", 1000, "new connections per second")
	flag.IntVar(&o.KeepAlive, "keepalive", 10, "keep-alive connections kept busy")
	flag.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to run")
	flag.DurationVar(&o.Timeout, "timeout", 5*time.Second, "per-request timeout")
	flag.StringVar(&o.Reload, "reload", "", "shell command run at every interval (empty: no reloads)")
	flag.DurationVar(&o.Every, "every", time.Second, "interval between reloads")
	flag.IntVar(&o.BodyLen, "body-len", -1, "expected response body length (-1: any, but it must match Content-Length)")
	useTLS := flag.Bool("tls", false, "connect with TLS")
	sni := flag.String("sni", "", "TLS server name to send (and to verify with -cafile)")
	caFile := flag.String("cafile", "", "CA certificates to verify the server with (default: no verification)")
	resume := flag.Bool("resume", true, "with -tls: new connections offer the last TLS session and failed resumptions are counted")
	flag.Parse()
	if *useTLS {
		cfg, err := tlsConfig(*sni, *caFile, *resume)
		if err != nil {
			fmt.Fprintln(os.Stderr, "hitless-storm:", err)
			os.Exit(2)
		}
		o.TLS = cfg
	}
	if err := o.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "hitless-storm:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res := storm.Run(ctx, o)
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	if res.Failures() > 0 {
		os.Exit(1)
	}
}

// tlsConfig is the client side of -tls.
func tlsConfig(sni, caFile string, resume bool) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: sni, InsecureSkipVerify: caFile == ""}
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("no certificate in %s", caFile)
		}
	}
	if resume {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(16)
	}
	return cfg, nil
}
