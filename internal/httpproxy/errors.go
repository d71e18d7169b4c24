package httpproxy

import "strconv"

// errorPage is one of HAProxy 2.6's built-in answers, byte for byte.
type errorPage struct {
	status int
	raw    []byte
}

// legacy builds the answers HAProxy's HTTP/1 parser sends itself (400, 408): capitalised
// header names and Connection: close.
func legacy(status int, reason, text string) errorPage {
	body := "<html><body><h1>" + strconv.Itoa(status) + " " + reason + "</h1>\n" + text + "\n</body></html>\n"
	return errorPage{status, []byte("HTTP/1.1 " + strconv.Itoa(status) + " " + reason + "\r\n" +
		"Content-length: " + strconv.Itoa(len(body)) + "\r\n" +
		"Cache-Control: no-cache\r\n" +
		"Connection: close\r\n" +
		"Content-Type: text/html\r\n\r\n" + body)}
}

// modern builds the answers of HAProxy's HTX layer (403, 500, 502, 503, 504).
func modern(status int, reason, text string) errorPage {
	body := "<html><body><h1>" + strconv.Itoa(status) + " " + reason + "</h1>\n" + text + "\n</body></html>\n"
	return errorPage{status, []byte("HTTP/1.1 " + strconv.Itoa(status) + " " + reason + "\r\n" +
		"content-length: " + strconv.Itoa(len(body)) + "\r\n" +
		"cache-control: no-cache\r\n" +
		"content-type: text/html\r\n\r\n" + body)}
}

// withClose inserts "connection: close" before the empty line of a modern page.
func withClose(p errorPage) []byte {
	raw := p.raw
	for i := 0; i+3 < len(raw); i++ {
		if raw[i] == '\r' && raw[i+1] == '\n' && raw[i+2] == '\r' && raw[i+3] == '\n' {
			out := make([]byte, 0, len(raw)+19)
			out = append(out, raw[:i+2]...)
			out = append(out, "connection: close\r\n"...)
			return append(out, raw[i+2:]...)
		}
	}
	return raw
}

var (
	page400 = legacy(400, "Bad request", "Your browser sent an invalid request.")
	page408 = legacy(408, "Request Time-out", "Your browser didn't send a complete request in time.")
	page403 = modern(403, "Forbidden", "Request forbidden by administrative rules.")
	page500 = modern(500, "Internal Server Error", "An internal server error occurred.")
	page502 = modern(502, "Bad Gateway", "The server returned an invalid or incomplete response.")
	page503 = modern(503, "Service Unavailable", "No server is available to handle this request.")
	page504 = modern(504, "Gateway Time-out", "The server didn't respond in time.")
)

// reasons are the standard reason phrases for `deny_status` and `return status`.
var reasons = map[int]string{
	200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently", 302: "Found",
	303: "See Other", 304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
	407: "Proxy Authentication Required", 408: "Request Time-out", 410: "Gone", 413: "Payload Too Large",
	421: "Misdirected Request", 425: "Too Early", 429: "Too Many Requests", 500: "Internal Server Error",
	501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Time-out",
}

// denyPage is the answer of `http-request deny [deny_status N]`: HAProxy's page for N
// when it has one, else an empty body with the status.
func denyPage(status int) []byte {
	for _, p := range []errorPage{page400, page403, page408, page500, page502, page503, page504} {
		if p.status == status {
			return p.raw
		}
	}
	reason := reasons[status]
	if reason == "" {
		reason = "Unknown"
	}
	return []byte("HTTP/1.1 " + strconv.Itoa(status) + " " + reason + "\r\ncontent-length: 0\r\n\r\n")
}
