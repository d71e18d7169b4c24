package sample

import (
	"fmt"
	"unsafe"
)

// Src is what a fetch reads; each source is available at some points of a stream's
// life only.
type Src uint16

const (
	SrcConst    Src = 1 << iota // constants: int(), str()
	SrcInternal                 // process state: date, rand, env, var(proc...)
	SrcListener                 // the receiving socket
	SrcFrontend                 // the frontend
	SrcL4Cli                    // the client's addresses
	SrcL5Cli                    // the client connection (TLS)
	SrcReqBuf                   // request contents (tcp-request content)
	SrcHReqHdr                  // HTTP request headers
	SrcHReq                     // the HTTP request line
	SrcBackend                  // the backend
	SrcServer                   // the server
	SrcHResHdr                  // HTTP response headers
	SrcHRes                     // the HTTP status line
	SrcVars                     // transaction variables (checked by scope at run time)
)

var srcNames = map[Src]string{
	SrcConst: "constant", SrcInternal: "internal", SrcListener: "listener", SrcFrontend: "frontend",
	SrcL4Cli: "client address", SrcL5Cli: "client-side connection", SrcReqBuf: "request buffers",
	SrcHReqHdr: "HTTP request headers", SrcHReq: "HTTP request", SrcBackend: "backend",
	SrcServer: "server", SrcHResHdr: "HTTP response headers", SrcHRes: "HTTP response",
	SrcVars: "variables",
}

// Where is a set of evaluation points; a proxy with both sides (listen) evaluates a
// rule at the frontend's and the backend's point at once.
type Where uint16

const (
	AtFEConn    Where = 1 << iota // tcp-request connection
	AtFESess                      // tcp-request session
	AtFEContent                   // tcp-request content in a frontend
	AtFEHReq                      // http-request in a frontend
	AtFESetBack                   // use_backend
	AtBEContent                   // tcp-request content in a backend
	AtBEHReq                      // http-request in a backend
	AtBESetSrv                    // use-server, balance
	AtBEHRes                      // http-response in a backend
	AtFEHRes                      // http-response in a frontend
	AtAfterRes                    // http-after-response
	AtLog                         // log-format at the end of the stream
)

// whereNames are HAProxy's names of the points, for its warnings.
var whereNames = map[Where]string{
	AtFEConn: "frontend tcp-request connection rule", AtFESess: "frontend tcp-request session rule",
	AtFEContent: "frontend tcp-request content rule", AtFEHReq: "frontend http-request header rule",
	AtFESetBack: "frontend use-backend rule", AtBEContent: "backend tcp-request content rule",
	AtBEHReq: "backend http-request header rule", AtBESetSrv: "backend use-server rule",
	AtBEHRes: "backend http-response header rule", AtFEHRes: "frontend http-response header rule",
	AtAfterRes: "frontend http-after-response rule", AtLog: "frontend log-format",
}

// allAt is every point.
const allAt = AtFEConn | AtFESess | AtFEContent | AtFEHReq | AtFESetBack | AtBEContent | AtBEHReq |
	AtBESetSrv | AtBEHRes | AtFEHRes | AtAfterRes | AtLog

const reqSide = AtFEContent | AtFEHReq | AtFESetBack | AtBEContent | AtBEHReq | AtBESetSrv

// validAt says where each source can be read.
var validAt = map[Src]Where{
	SrcConst: allAt, SrcInternal: allAt, SrcListener: allAt, SrcFrontend: allAt, SrcL4Cli: allAt,
	SrcL5Cli:   allAt &^ AtFEConn,
	SrcReqBuf:  reqSide,
	SrcHReqHdr: reqSide,
	SrcHReq:    reqSide | AtBEHRes | AtFEHRes | AtAfterRes | AtLog,
	SrcBackend: AtBEContent | AtBEHReq | AtBESetSrv | AtBEHRes | AtFEHRes | AtAfterRes | AtLog,
	SrcServer:  AtBEHRes | AtFEHRes | AtAfterRes | AtLog,
	SrcHResHdr: AtBEHRes | AtFEHRes | AtAfterRes,
	SrcHRes:    AtBEHRes | AtFEHRes | AtAfterRes | AtLog,
	SrcVars:    allAt,
}

// Missing returns the first source of use not available at w, or 0.
func Missing(use Src, w Where) Src {
	for s := Src(1); s != 0 && s <= SrcVars; s <<= 1 {
		if use&s != 0 && validAt[s]&w == 0 {
			return s
		}
	}
	return 0
}

// Name is HAProxy's name of a source ("HTTP response headers").
func (s Src) Name() string { return srcNames[s] }

// Name is HAProxy's name of the first point of w.
func (w Where) Name() string {
	for b := Where(1); b != 0 && b <= AtLog; b <<= 1 {
		if w&b != 0 {
			return whereNames[b]
		}
	}
	return ""
}

// Check reports an error when the expression reads something not available at w, in
// HAProxy's words.
func (e *Expr) Check(w Where) error {
	if s := Missing(e.fetch.Use, w); s != 0 {
		return fmt.Errorf("fetch method '%s' extracts information from '%s', none of which is available here", e.fetch.Name, s.Name())
	}
	return nil
}

// Missing returns the first source the expression reads that is not available at
// w, or 0.
func (e *Expr) Missing(w Where) Src { return Missing(e.fetch.Use, w) }

// NeedsHTTP reports whether the expression reads an HTTP message.
func (e *Expr) NeedsHTTP() bool { return e.fetch.Use&(SrcHReqHdr|SrcHReq|SrcHResHdr|SrcHRes) != 0 }

// bstr views b as a string without copying; the string must not outlive b.
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
