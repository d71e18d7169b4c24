package httpproxy

import (
	"strconv"

	"hitless/internal/config"
)

// errorPage is one of HAProxy 2.6's built-in answers, byte for byte (captured from
// haproxy 2.6.12 on loopback; testdata/pages.golden holds the same bytes).
type errorPage struct {
	status int
	raw    []byte
}

// htmlBody is the body of every built-in page.
func htmlBody(status int, reason, text string) string {
	return "<html><body><h1>" + strconv.Itoa(status) + " " + reason + "</h1>\n" + text + "\n</body></html>\n"
}

// legacy builds the answers HAProxy's HTTP/1 parser sends itself (400 for a bad
// request, 408 for a request that did not arrive in time): capitalised header names
// and Connection: close.
func legacy(status int, reason, text string) errorPage {
	body := htmlBody(status, reason, text)
	return errorPage{status, []byte("HTTP/1.1 " + strconv.Itoa(status) + " " + reason + "\r\n" +
		"Content-length: " + strconv.Itoa(len(body)) + "\r\n" +
		"Cache-Control: no-cache\r\n" +
		"Connection: close\r\n" +
		"Content-Type: text/html\r\n\r\n" + body)}
}

// modern builds the answers of HAProxy's HTX layer (deny, 502, 503, 504, ...). When
// HAProxy closes after one (400, 408), it appends "connection: close" as the last
// header; answer() does that.
func modern(status int, reason, text string) errorPage {
	body := htmlBody(status, reason, text)
	return errorPage{status, []byte("HTTP/1.1 " + strconv.Itoa(status) + " " + reason + "\r\n" +
		"content-length: " + strconv.Itoa(len(body)) + "\r\n" +
		"cache-control: no-cache\r\n" +
		"content-type: text/html\r\n\r\n" + body)}
}

// pages is HAProxy 2.6's table of built-in answers: the statuses that `deny_status`
// accepts without an errorfile, with their exact reason phrases and texts (407's
// reason and 501's leading dot are HAProxy's own).
var pages = []errorPage{
	modern(200, "OK", "Service ready."),
	modern(400, "Bad request", "Your browser sent an invalid request."),
	modern(401, "Unauthorized", "You need a valid user and password to access this content."),
	modern(403, "Forbidden", "Request forbidden by administrative rules."),
	modern(404, "Not Found", "The resource could not be found."),
	modern(405, "Method Not Allowed", "A request was made of a resource using a request method not supported by that resource"),
	modern(407, "Unauthorized", "You need a valid user and password to access this content."),
	modern(408, "Request Time-out", "Your browser didn't send a complete request in time."),
	modern(410, "Gone", "The resource is no longer available and will not be available again."),
	modern(413, "Payload Too Large", "The request entity exceeds the maximum allowed."),
	modern(421, "Misdirected Request", "Request sent to a non-authoritative server."),
	modern(422, "Unprocessable Content", "The server cannot process the contained instructions."),
	modern(425, "Too Early", "Your browser sent early data."),
	modern(429, "Too Many Requests", "You have sent too many requests in a given amount of time."),
	modern(500, "Internal Server Error", "An internal server error occurred."),
	modern(501, "Not Implemented", ".The server does not support the functionality required to fulfill the request."),
	modern(502, "Bad Gateway", "The server returned an invalid or incomplete response."),
	modern(503, "Service Unavailable", "No server is available to handle this request."),
	modern(504, "Gateway Time-out", "The server didn't respond in time."),
}

// page returns the built-in answer for status, or nil.
func page(status int) []byte {
	for i := range pages {
		if pages[i].status == status {
			return pages[i].raw
		}
	}
	return nil
}

var (
	page400Parse = legacy(400, "Bad request", "Your browser sent an invalid request.").raw
	page408Parse = legacy(408, "Request Time-out", "Your browser didn't send a complete request in time.").raw
	page500      = page(500)
	page502      = page(502)
	page503      = page(503)
	page504      = page(504)
)

// denyPage is the answer of `http-request deny [deny_status N]`: HAProxy's page for N
// (the config accepts only those), else an empty answer with the status.
func denyPage(status int) []byte {
	if p := page(status); p != nil {
		return p
	}
	return returnPage(&config.HTTPRule{Status: status})
}

// returnPage is the answer of `http-request return`, as HAProxy 2.6 writes it:
// content-length first, then content-type when set.
func returnPage(r *config.HTTPRule) []byte {
	if r.Raw != nil {
		return r.Raw
	}
	status := r.Status
	if status == 0 {
		status = 200
	}
	return []byte(config.AnswerHead(status, nil, len(r.Body), r.ContentType) + r.Body)
}
