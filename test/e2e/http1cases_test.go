package e2e

import (
	"fmt"
	"strings"
)

// The table of the differential HTTP/1 harness (http1diff_test.go): raw requests and
// raw responses, written from RFC 9112 and from the published request-smuggling
// techniques (CL.TE, TE.CL, TE.TE obfuscations, chunk-size tricks, bare CR and LF,
// NUL and control bytes, obs-fold, target forms, Host confusion, upgrades). A case
// that hitless refuses where HAProxy 2.6 passes it says why in stricter; no case may
// be passed by hitless where HAProxy refuses it.

type reqCase struct {
	name, raw string
	// stricter is why hitless may refuse (or forward fewer requests of) what HAProxy
	// 2.6 passes; empty when the two must agree.
	stricter string
}

type respCase struct {
	name, raw string
	// closeAfter: the backend closes after the answer (a close-delimited body, or
	// one cut short).
	closeAfter bool
	stricter   string
}

const (
	whyRFCUserinfo    = "RFC 9110 §4.2.4: http(s) URIs carry no userinfo; 'http://good@evil/' fools readers"
	whyRFCHost        = "RFC 9112 §3.2: a Host that is not uri-host[:port] gets 400"
	whyRFCAsterisk    = "RFC 9112 §3.2.4: the asterisk form is for OPTIONS only"
	whyRFCEmptyAuth   = "RFC 9110 §4.2.1: an http URI has a non-empty host"
	whyRFC10Chunked   = "RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing"
	whyUnderscore     = "a '_' variant of a framing field is read as that field by CGI-style gateways"
	whyCLList         = "RFC 9110 §8.6 lets a recipient refuse a Content-Length list; hitless never forwards an ambiguous length"
	whyTEList         = "only a single 'chunked' coding is accepted"
	whyEmptyPort      = "an empty port after ':' in an authority"
	whyCLSpace        = "a Content-Length with inner whitespace is not 1*DIGIT"
	whyBothFramings   = "RFC 9112 §6.1: a message with both Transfer-Encoding and Content-Length is what CL.TE/TE.CL smuggling is made of; hitless refuses it rather than pick one (HAProxy drops Content-Length)"
	whyVersion        = "an HTTP/1 connection carries HTTP/1.x messages only"
	whyLineSpaces     = "RFC 9112 §3: the request line's parts are separated by single spaces; lenient parsers split other whitespace differently"
	whyObsFold        = "RFC 9112 §5.2: obs-fold may be refused with 400, and folded lines are read differently by different servers"
	whyCTL            = "RFC 9110 §5.5: control bytes (NUL, VT, FF, ESC, DEL...) are not field or extension content"
	whyTargetASCII    = "RFC 3986: a request target is printable ASCII; DEL and bytes above 0x7f are refused"
	whyCLDigits       = "a Content-Length of more than 18 digits is refused"
	whyLongChunkLine  = "a chunk line longer than 4 KiB is refused"
	whyRepeatedTE     = "a repeated Transfer-Encoding field is refused"
	whyStatus         = "RFC 9112 §4: the status code is three digits from 100"
	whyOtherTE        = "a Transfer-Encoding other than chunked is refused"
	whyBothFramingsRe = "a response with both framings is refused"
	whyBodyAfterHead  = "hitless streams a response: a body found broken after a valid head ends the client connection (HAProxy, which had it all in its buffer, answers 502)"
)

// requestCases returns the request table: hand-written cases, then generated
// variants of the framing fields, chunk lines, bytes and targets.
func requestCases() []reqCase {
	cs := []reqCase{
		// The review's findings.
		{"conn nominates CL", "POST /innocent HTTP/1.1\r\nHost: x\r\nConnection: Content-Length\r\nContent-Length: 32\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"conn nominates Host", "GET / HTTP/1.1\r\nHost: x\r\nConnection: Host\r\n\r\n", ""},
		{"conn nominates TE", "POST / HTTP/1.1\r\nHost: x\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", ""},
		{"conn nominates other", "GET / HTTP/1.1\r\nHost: x\r\nConnection: X-Foo, keep-alive\r\nX-Foo: bar\r\n\r\n", ""},
		{"ftp scheme", "GET ftp://x/admin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"foo scheme", "GET foo://x/admin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"absolute evil", "GET http://evil/d HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"two hosts", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", ""},
		{"two same hosts", "GET / HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n", ""},
		{"relative target", "GET admin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"fragment dotdot", "GET /x#/../admin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"fragment", "GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"absolute query no path", "GET http://x?/admin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"high byte target", "GET /a\xffb HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"http/1.0 no host", "GET / HTTP/1.0\r\n\r\n", ""},
		{"http/1.0 keep-alive", "GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", ""},
		{"trailers forbidden", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX-T: 1\r\n\r\n", ""},
		// Classic smuggling.
		{"CL.TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED", whyBothFramings},
		{"TE.CL", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", whyBothFramings},
		{"TE.TE chunked twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", whyRepeatedTE},
		{"TE.TE gzip then chunked lines", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ""},
		{"CL.CL differing", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde", ""},
		{"CL.CL same", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", ""},
		{"CL list same", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", whyCLList},
		{"CL list differing", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\nabcd", ""},
		{"GET with CL body", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", ""},
		{"GET with smuggled body", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 32\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"CL zero then request", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"chunked smuggles admin", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"chunked body holds request", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n20\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n\r\n0\r\n\r\n", ""},
		{"short body then close", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", ""},
		{"short chunk then close", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", ""},
		{"missing last chunk", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", ""},
		{"chunk data overrun", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n", ""},
		{"chunk missing CRLF", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc0\r\n\r\n", ""},
		{"trailer injects request", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		// Pipelining.
		{"pipelined three", "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"pipelined bodies", "POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcPOST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n", ""},
		{"pipelined after close", "GET /1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"leading empty lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"bare LF head", "GET / HTTP/1.1\nHost: x\n\n", ""},
		{"bare LF chunked", "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n", ""},
		// Expect and methods.
		{"expect 100-continue", "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc", ""},
		{"expect unknown", "POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 3\r\n\r\nabc", ""},
		{"HEAD", "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"lower-case method", "get / HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"unknown method", "FOO / HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"method with dot", "M.SEARCH / HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"OPTIONS star", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"GET star", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", whyRFCAsterisk},
		{"POST star", "POST * HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", whyRFCAsterisk},
		{"CONNECT path", "CONNECT /x HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"authority for GET", "GET x:443 HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		// Upgrades.
		{"websocket without key", "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", ""},
		{"websocket with key", "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", ""},
		{"upgrade without connection", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", ""},
		{"h2c upgrade", "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", ""},
		// Versions.
		{"version 1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", ""},
		{"version lower case", "GET / http/1.1\r\nHost: x\r\n\r\n", ""},
		{"version 2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", whyVersion},
		{"version 1.10", "GET / HTTP/1.10\r\nHost: x\r\n\r\n", ""},
		{"version 0.9", "GET /\r\n\r\n", ""},
		{"version junk", "GET / HTTX/1.1\r\nHost: x\r\n\r\n", ""},
		{"chunked HTTP/1.0", "POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", whyRFC10Chunked},
		// Request line whitespace.
		{"two spaces after method", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", whyLineSpaces},
		{"tab after method", "GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", whyLineSpaces},
		{"space in target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"trailing space in line", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", ""},
		{"leading space in line", " GET / HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		// Header syntax.
		{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", ""},
		{"tab before colon", "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", ""},
		{"no colon", "GET / HTTP/1.1\r\nHost: x\r\nJunk\r\n\r\n", ""},
		{"empty name", "GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", ""},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", whyObsFold},
		{"obs-fold TE", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", whyObsFold},
		{"first header folded", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", ""},
		{"empty value", "GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\n\r\n", ""},
		{"value with tab", "GET / HTTP/1.1\r\nHost: x\r\nX: a\tb\r\n\r\n", ""},
		{"value obs-text", "GET / HTTP/1.1\r\nHost: x\r\nX: caf\xc3\xa9\r\n\r\n", ""},
		{"header name with dot", "GET / HTTP/1.1\r\nHost: x\r\nX.Y: 1\r\n\r\n", ""},
		{"long header value", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 8000) + "\r\n\r\n", ""},
		{"head too large", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 17000) + "\r\n\r\n", ""},
		{"100 header fields", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X: v\r\n", 99) + "\r\n", ""},
		{"101 header fields", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X: v\r\n", 100) + "\r\n", ""},
		{"3000 header fields", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X:\r\n", 3000) + "\r\n", ""},
		{"underscore TE", "POST / HTTP/1.1\r\nHost: x\r\nTransfer_Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", whyUnderscore},
		{"underscore CL", "POST / HTTP/1.1\r\nHost: x\r\nContent_Length: 3\r\n\r\nabc", whyUnderscore},
		// Host.
		{"no host 1.1", "GET / HTTP/1.1\r\n\r\n", ""},
		{"empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", ""},
		{"host with port", "GET / HTTP/1.1\r\nHost: x:8080\r\n\r\n", ""},
		{"host ipv6", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", ""},
		{"host space", "GET / HTTP/1.1\r\nHost: x y\r\n\r\n", whyRFCHost},
		{"host at", "GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", whyRFCHost},
		{"host slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", whyRFCHost},
		{"host bad port", "GET / HTTP/1.1\r\nHost: x:8x\r\n\r\n", whyRFCHost},
		{"host empty port", "GET / HTTP/1.1\r\nHost: x:\r\n\r\n", whyEmptyPort},
		{"host evil case", "GET / HTTP/1.1\r\nHost: EVIL\r\n\r\n", ""},
		{"host evil port", "GET / HTTP/1.1\r\nHost: evil:80\r\n\r\n", ""},
		{"host evil dot", "GET / HTTP/1.1\r\nHost: evil.\r\n\r\n", ""},
		{"host evil tab", "GET / HTTP/1.1\r\nHost:\tevil\t\r\n\r\n", ""},
		{"host line folded", "GET / HTTP/1.1\r\nHost: x\r\n evil\r\n\r\n", whyObsFold},
		// Absolute form.
		{"absolute same host", "GET http://x/d HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"absolute no host", "GET http://x/d HTTP/1.1\r\n\r\n", ""},
		{"absolute default port", "GET http://x:80/d HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"absolute other port", "GET http://x:8080/d HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"absolute https port", "GET https://x/d HTTP/1.1\r\nHost: x:443\r\n\r\n", ""},
		{"absolute case", "GET http://X/d HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"absolute no path", "GET http://x HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"absolute ipv6", "GET http://[::1]/d HTTP/1.1\r\nHost: [::1]\r\n\r\n", ""},
		{"absolute userinfo", "GET http://a@x/d HTTP/1.1\r\nHost: x\r\n\r\n", whyRFCUserinfo},
		{"absolute userinfo evil", "GET http://x@evil/d HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"absolute empty authority", "GET http:///d HTTP/1.1\r\nHost: x\r\n\r\n", whyRFCEmptyAuth},
		{"absolute scheme digit", "GET 1http://x/d HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"absolute admin", "GET http://x/admin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"absolute admin upper scheme", "GET HTTP://x/admin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"absolute evil no host", "GET http://evil/d HTTP/1.1\r\n\r\n", ""},
		// Paths.
		{"path admin", "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"path double slash admin", "GET //admin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"path encoded admin", "GET /%61dmin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"path dot admin", "GET /./admin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"path query admin", "GET /?/admin HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"path semicolon", "GET /admin;x HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"path invalid percent", "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", ""},
	}
	// Printable characters RFC 3986 does not allow in a URI, which HAProxy 2.6.12
	// passes (its manual says otherwise); hitless passes them too.
	for _, c := range `"<>\^` + "`{|}[]" {
		cs = append(cs, reqCase{fmt.Sprintf("target char %q", c), "GET /a" + string(c) + "b HTTP/1.1\r\nHost: x\r\n\r\n", ""})
	}
	cs = append(cs, teCases()...)
	cs = append(cs, clCases()...)
	cs = append(cs, chunkCases()...)
	cs = append(cs, byteCases()...)
	return cs
}

// teCases are Transfer-Encoding obfuscations, each alone and beside a
// Content-Length.
func teCases() []reqCase {
	values := []string{"chunked", "Chunked", "CHUNKED", " chunked", "chunked ", "\tchunked", "chunked\t",
		"chunked, identity", "identity, chunked", "gzip, chunked", "chunked, gzip", "chunked,chunked", "chunked, chunked",
		"xchunked", "chunkedx", "\"chunked\"", "chunk", "chunked;q=1", "chunked\x0b", "\x0bchunked", "\x0cchunked",
		"chunked\x00", "ch unked", "identity", "gzip", "", ",chunked", "chunked,", "cHuNkEd", "chunked\r"}
	names := []string{"Transfer-Encoding", "transfer-encoding", "TRANSFER-ENCODING"}
	var out []reqCase
	body := "3\r\nabc\r\n0\r\n\r\n"
	for _, n := range names {
		for _, v := range values {
			why := ""
			switch v {
			case "chunked, chunked", "chunked,chunked", ",chunked", "chunked,":
				why = whyTEList
			}
			out = append(out, reqCase{fmt.Sprintf("TE %s %q", n, v), fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\n%s: %s\r\n\r\n%s", n, v, body), why})
			if n == names[0] {
				out = append(out,
					reqCase{fmt.Sprintf("TE %q then CL", v), fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\n%s: %s\r\nContent-Length: 4\r\n\r\n%s", n, v, body), whyBothFramings},
					reqCase{fmt.Sprintf("CL then TE %q", v), fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n%s: %s\r\n\r\n%s", n, v, body), whyBothFramings})
			}
		}
	}
	for _, n := range []string{"Transfer-Encoding ", " Transfer-Encoding", "Transfer-Encoding\t", "X-Transfer-Encoding",
		"Transfer-Encodin", "Transfer\x00Encoding", "Transfer-Encoding\x0b", "Tr\xe4nsfer-Encoding"} {
		for _, withCL := range []bool{false, true} {
			cl := ""
			if withCL {
				cl = "Content-Length: 4\r\n"
			}
			why := ""
			if strings.HasPrefix(n, " ") {
				why = whyObsFold
			}
			out = append(out, reqCase{fmt.Sprintf("TE name %q cl=%v", n, withCL), fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\n%s%s: chunked\r\n\r\n%s", cl, n, body), why})
		}
	}
	return out
}

// clCases are Content-Length values.
func clCases() []reqCase {
	var out []reqCase
	for _, v := range []string{"3", "03", "003", "+3", "-3", "3 ", " 3", "3\t", "3.0", "0x3", "3a", "", "3, 3", "3,3", "3 3",
		"99999999999999999999", "9223372036854775807", "1e1", "\x0b3", "3\x00", "٣"} {
		why := ""
		switch v {
		case "3, 3", "3,3":
			why = whyCLList
		case "3 3":
			why = whyCLSpace
		case "9223372036854775807":
			why = whyCLDigits
		}
		out = append(out, reqCase{fmt.Sprintf("CL %q", v), fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\nabc", v), why})
	}
	for _, n := range []string{"content-length", "CONTENT-LENGTH", "Content-Length ", "Content-Lengthx", "X-Content-Length"} {
		out = append(out, reqCase{fmt.Sprintf("CL name %q", n), fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\n%s: 3\r\n\r\nabc", n), ""})
	}
	return out
}

// chunkCases are chunk-size lines, extensions and ends.
func chunkCases() []reqCase {
	var out []reqCase
	for _, line := range []string{"3", "03", "00000000000000000003", "3 ", "3\t", " 3", "3;", "3;a", "3;a=b", "3 ;a=b",
		"3;a=\"b c\"", "3;a=b;c=d", "0x3", "3x", "+3", "-3", "3.0", "g", "", "3\x00", "3;\x00", "3;a\rb", "fffffffffffffffff",
		"7fffffffffffffff", "3;" + strings.Repeat("a", 5000), "3\r"} {
		why := ""
		switch {
		case strings.Contains(line, "\x00"):
			why = whyCTL
		case len(line) > 4096:
			why = whyLongChunkLine
		}
		out = append(out, reqCase{fmt.Sprintf("chunk size %q", line), fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%s\r\nabc\r\n0\r\n\r\n", line), why})
	}
	for _, end := range []string{"0\r\n\r\n", "0\n\n", "00\r\n\r\n", "0;x\r\n\r\n", "0\r\nT: v\r\n\r\n", "0\r\nT v\r\n\r\n",
		"0\r\n T: v\r\n\r\n", "0\r\nT: v\x00\r\n\r\n", "0\r\n\r\nGARBAGE", "0\r\r\n\r\n", "0\r\n\n"} {
		why := ""
		switch {
		case strings.Contains(end, "\x00"):
			why = whyCTL
		case strings.Contains(end, "\n T"):
			why = whyObsFold
		}
		out = append(out, reqCase{fmt.Sprintf("last chunk %q", end), "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n" + end, why})
	}
	for _, after := range []string{"\r\n", "\n", "\r", "x\r\n", " \r\n", ""} {
		out = append(out, reqCase{fmt.Sprintf("after chunk data %q", after), "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc" + after + "0\r\n\r\n", ""})
	}
	return out
}

// byteCases put control and high bytes into each part of a request.
func byteCases() []reqCase {
	var out []reqCase
	for _, b := range []string{"\x00", "\r", "\n", "\x0b", "\x0c", "\x7f", "\x80", "\xff", "\x01", "\x1b"} {
		for _, place := range []struct{ name, tmpl string }{
			{"method", "G%sET / HTTP/1.1\r\nHost: x\r\n\r\n"},
			{"target", "GET /a%sb HTTP/1.1\r\nHost: x\r\n\r\n"},
			{"version", "GET / HTTP/1.%s1\r\nHost: x\r\n\r\n"},
			{"header name", "GET / HTTP/1.1\r\nHost: x\r\nX%sY: 1\r\n\r\n"},
			{"header value", "GET / HTTP/1.1\r\nHost: x\r\nX: a%sb\r\n\r\n"},
			{"host value", "GET / HTTP/1.1\r\nHost: x%s\r\n\r\n"},
			{"chunk extension", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a%sb\r\nabc\r\n0\r\n\r\n"},
			{"trailer", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: a%sb\r\n\r\n"},
		} {
			ctl := b != "\r" && b != "\n" && b[0] < 0x80
			why := ""
			switch place.name {
			case "host value":
				if b[0] >= 0x80 {
					why = whyRFCHost
				} else if ctl {
					why = whyCTL
				}
			case "header value", "trailer", "chunk extension":
				if ctl {
					why = whyCTL
				}
			case "target":
				if b == "\x7f" || b[0] >= 0x80 {
					why = whyTargetASCII
				}
			}
			out = append(out, reqCase{fmt.Sprintf("byte %q in %s", b, place.name), fmt.Sprintf(place.tmpl, b), why})
		}
	}
	return out
}

// responseCases is the response table: what a server answers to GET /r1 (a GET /r2
// follows on the same client connection).
func responseCases() []respCase {
	cs := []respCase{
		{"plain", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, ""},
		{"conn nominates CL", "HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello", false, ""},
		{"conn nominates TE", "HTTP/1.1 200 OK\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false, ""},
		{"same CL twice", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", false, ""},
		{"differing CL", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", false, ""},
		{"CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 20\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", false, whyBothFramingsRe},
		{"TE gzip chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", false, ""},
		{"TE not chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok", true, whyOtherTE},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", false, ""},
		{"chunked trailers CL", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nContent-Length: 9\r\nX-T: y\r\n\r\n", false, ""},
		{"chunk size junk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n", false, whyBodyAfterHead},
		{"close delimited", "HTTP/1.1 200 OK\r\n\r\nall until close", true, ""},
		{"close delimited 1.0", "HTTP/1.0 200 OK\r\n\r\nall until close", true, ""},
		{"1.0 with CL", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false, ""},
		{"1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", false, ""},
		{"204 with CL and body", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello", false, ""},
		{"304 with TE", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", false, ""},
		{"304 with CL", "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", false, ""},
		{"100 then 200", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, ""},
		{"103 then 200", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, ""},
		{"unsolicited 101", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", false, ""},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false, ""},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 2\r\n\r\nok", false, whyObsFold},
		{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok", false, ""},
		{"NUL in header", "HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 2\r\n\r\nok", false, whyCTL},
		{"bad status", "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok", false, ""},
		{"no reason", "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", false, ""},
		{"status 1000", "HTTP/1.1 1000 OK\r\nContent-Length: 2\r\n\r\nok", false, whyStatus},
		{"status 099", "HTTP/1.1 099 OK\r\nContent-Length: 2\r\n\r\nok", false, whyStatus},
		{"version 2", "HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false, whyVersion},
		{"CL plus", "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok", false, ""},
		{"CL list", "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", false, whyCLList},
		{"CL longer than body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", true, ""},
		{"body longer than CL", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nFORGED", false, ""},
		{"underscore TE", "HTTP/1.1 200 OK\r\nTransfer_Encoding: chunked\r\nContent-Length: 2\r\n\r\nok", false, whyUnderscore},
		{"100 fields", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X: v\r\n", 99) + "Content-Length: 2\r\n\r\nok", false, ""},
		{"101 fields", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X: v\r\n", 100) + "Content-Length: 2\r\n\r\nok", false, ""},
		{"garbage", "garbage\r\n\r\n", true, ""},
		{"nothing", "", true, ""},
	}
	return cs
}
