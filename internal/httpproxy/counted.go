package httpproxy

import "bytes"

// HAProxy 2.6 counts a response in %B and in bout by its internal (HTX) form, not by
// the bytes on the wire: a 20-byte start-line record with the version, the status
// code and the reason; each header's name and value (without ": " and the line end;
// the connection header its H1 layer writes is not among them); one byte for the end
// of the head; then the body's data (without chunk framing), and one byte more for
// the end of the trailers of a chunked message. Measured: a head of n header lines
// counts 15-4n bytes more than on the wire.
const (
	htxStartLine     = 20
	htxEndOfHead     = 1
	htxEndOfTrailers = 1
)

// htxHeadSize is the counted size of a response head from its parts' lengths: the
// version, status code and reason, and the sum of its headers' names and values.
func htxHeadSize(version, code, reason, headers int) int {
	return htxStartLine + version + code + reason + headers + htxEndOfHead
}

// countedSize is the size HAProxy counts for a response the proxy writes itself (an
// error page, `http-request return`, an applet's answer), from its bytes: a head as
// htxHeadSize counts it, then the body as it is (these answers are not chunked).
func countedSize(page []byte) int {
	end := bytes.Index(page, []byte("\r\n\r\n"))
	if end < 0 {
		return len(page)
	}
	lines := bytes.Split(page[:end], []byte("\r\n"))
	sl := bytes.SplitN(lines[0], []byte(" "), 3)
	if len(sl) < 2 {
		return len(page)
	}
	reason := 0
	if len(sl) == 3 {
		reason = len(sl[2])
	}
	headers := 0
	for _, l := range lines[1:] {
		name, value, ok := bytes.Cut(l, []byte(":"))
		if !ok || equalFold(name, "connection") {
			continue
		}
		headers += len(name) + len(bytes.TrimLeft(value, " \t"))
	}
	return htxHeadSize(len(sl[0]), len(sl[1]), reason, headers) + len(page) - end - 4
}
