package sample

import (
	"crypto/tls"
	"net/netip"

	"hitless/internal/http1"
)

// testInput is an Input over a parsed request and response, as a session gives.
type testInput struct {
	src, dst netip.AddrPort
	req      *http1.Request
	res      *http1.Response
	vars     Vars
	tls      *tls.ConnectionState
}

func (t *testInput) Src() netip.AddrPort { return t.src }
func (t *testInput) Dst() netip.AddrPort { return t.dst }
func (t *testInput) Frontend() ProxyInfo {
	return ProxyInfo{Found: true, Name: "fe", ID: 2, Conns: 3, SessRate: 4}
}
func (t *testInput) Backend(name string) ProxyInfo {
	switch name {
	case "", "be":
		return ProxyInfo{Found: true, Name: "be", ID: 3, Usable: 2, Conns: 5, Queue: 1, Slots: 10}
	case "empty":
		return ProxyInfo{Found: true, Name: "empty", ID: 4}
	}
	return ProxyInfo{}
}
func (t *testInput) Server(be, name string) ServerInfo {
	if (be == "" && name == "") || (be == "be" && name == "s1") {
		return ServerInfo{Found: true, Name: "s1", ID: 1, Up: true, Conns: 7}
	}
	if be == "be" && name == "s2" {
		return ServerInfo{Found: true, Name: "s2", ID: 2}
	}
	return ServerInfo{}
}
func (t *testInput) Request() *http1.Request          { return t.req }
func (t *testInput) Response() *http1.Response        { return t.res }
func (t *testInput) Vars() *Vars                      { return &t.vars }
func (t *testInput) TLS() *tls.ConnectionState        { return t.tls }
func (t *testInput) BackendTLS() *tls.ConnectionState { return nil }

func newTestInput(rawReq, rawRes string) *testInput {
	in := &testInput{src: netip.MustParseAddrPort("10.1.2.3:45678"), dst: netip.MustParseAddrPort("127.0.0.1:8080")}
	in.vars.Proc = NewStore()
	if rawReq != "" {
		in.req = &http1.Request{}
		if err := http1.ParseRequest([]byte(rawReq), in.req); err != nil {
			panic(err)
		}
	}
	if rawRes != "" {
		in.res = &http1.Response{}
		if err := http1.ParseResponse([]byte(rawRes), in.res); err != nil {
			panic(err)
		}
	}
	return in
}
