package storm

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestRunCountsSuccessAndReloads(t *testing.T) {
	addr := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) })
	o := Options{Target: addr, Rate: 200, KeepAlive: 2, Duration: 500 * time.Millisecond, Reload: "true", Every: 100 * time.Millisecond, BodyLen: 5}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	r := Run(context.Background(), o)
	if r.Failures() != 0 {
		t.Fatalf("failures: %+v", r)
	}
	if r.NewConns < 50 || r.KeepAliveReqs < 10 || r.Reloads < 3 {
		t.Fatalf("too little traffic: %+v", r)
	}
}

func TestRunClassifiesFailures(t *testing.T) {
	var n atomic.Int64
	addr := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			w.WriteHeader(503)
			return
		}
		w.Write([]byte("hello"))
	})
	// A closed port: every connect is refused.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()

	r := Run(context.Background(), Options{Target: dead, Rate: 100, Duration: 200 * time.Millisecond, Timeout: time.Second, BodyLen: -1})
	if r.FailuresBy[Refused] == 0 || r.OK != 0 {
		t.Fatalf("want refused failures: %+v", r)
	}
	r = Run(context.Background(), Options{Target: addr, Rate: 100, Duration: 300 * time.Millisecond, Timeout: time.Second, BodyLen: 5})
	if r.FailuresBy[BadStatus] == 0 || r.OK == 0 {
		t.Fatalf("want bad_status failures and successes: %+v", r)
	}
}

func TestValidateRefusesNonLoopback(t *testing.T) {
	for _, target := range []string{"10.0.0.1:80", "example.com:80", "8.8.8.8:53"} {
		o := Options{Target: target, Duration: time.Second}
		if err := o.Validate(); err == nil {
			t.Errorf("%s accepted", target)
		}
	}
	o := Options{Target: "[::1]:80", Duration: time.Second}
	if err := o.Validate(); err != nil {
		t.Errorf("[::1] refused: %v", err)
	}
}
