package sample

import (
	"crypto/tls"
	"net/netip"

	"hitless/internal/http1"
)

// Static is an Input with fixed addresses and messages and no proxies: what a test,
// or a caller outside any session (the global section's `set-var`), evaluates with.
type Static struct {
	SrcAddr, DstAddr netip.AddrPort
	Req              *http1.Request
	Res              *http1.Response
	V                Vars
}

func (s *Static) Src() netip.AddrPort              { return s.SrcAddr }
func (s *Static) Dst() netip.AddrPort              { return s.DstAddr }
func (s *Static) Frontend() ProxyInfo              { return ProxyInfo{} }
func (s *Static) Backend(string) ProxyInfo         { return ProxyInfo{} }
func (s *Static) Server(_, _ string) ServerInfo    { return ServerInfo{} }
func (s *Static) Request() *http1.Request          { return s.Req }
func (s *Static) Response() *http1.Response        { return s.Res }
func (s *Static) Vars() *Vars                      { return &s.V }
func (s *Static) TLS() *tls.ConnectionState        { return nil }
func (s *Static) BackendTLS() *tls.ConnectionState { return nil }

// NewCtx returns a Ctx over in.
func NewCtx(in Input) *Ctx {
	c := &Ctx{}
	c.Reset(in)
	return c
}
