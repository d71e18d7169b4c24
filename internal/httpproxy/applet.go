package httpproxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"hitless/internal/config"
	"hitless/internal/http1"
	"hitless/internal/sample"
)

// Applet answers a request inside the proxy instead of a server, as HAProxy's applets
// do: the stats page (package statspage) and the services of `http-request
// use-service` (package promexport). Applets are off the hot path: the request is
// copied into a net/http Request (body included, up to maxAppletBody) and the answer is
// buffered, then sent with the connection's keep-alive rules.
type Applet interface {
	// ServeApplet answers r on w. s evaluates ACL conditions on the request (the
	// `stats admin if` condition).
	ServeApplet(w http.ResponseWriter, r *http.Request, s *sample.Ctx)
}

// Applets are the engine's applets; the instance package builds them with the engine.
type Applets struct {
	// Stats holds the stats page of each proxy with `stats` keywords.
	Stats map[*config.Proxy]Applet
	// Services holds the targets of `http-request use-service`, by service name.
	Services map[string]Applet
}

// SetApplets installs the applets; it must be called before the first Serve.
func (e *Engine) SetApplets(a Applets) { e.applets = a }

// maxAppletBody bounds the request body an applet receives (the stats page's admin
// form); a larger one is answered with 413 and the connection closes.
const maxAppletBody = 64 << 10

// appletLogNames are the server names the access log shows for an applet's answers,
// as HAProxy logs them ("fe be/<STATS>").
var appletLogNames = map[string]string{
	"stats":               "<STATS>",
	"prometheus-exporter": "<PROMEX>",
}

// statsMethods are the methods the stats page answers; others go to the backend, as
// in HAProxy.
var statsMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true}

// stats hands the request to p's stats page when its URI starts with the page's
// prefix. done reports that the page answered; keep whether the connection stays.
func (s *session) stats(p *config.Proxy, head []byte) (done, keep bool) {
	if p.Stats == nil {
		return false, false
	}
	a := s.e.applets.Stats[p]
	if a == nil || !statsMethods[bstr(s.req.Method)] || !bytes.HasPrefix(s.req.Target, []byte(p.Stats.URI)) {
		return false, false
	}
	s.backendAnswers(p)
	return true, s.runApplet(a, p, "stats", head)
}

// service runs an `http-request use-service` rule.
func (s *session) service(p *config.Proxy, name string, head []byte) bool {
	a := s.e.applets.Services[name]
	if a == nil {
		return s.answer(page503, 503, [2]byte{'S', 'C'}, s.skipBody(head))
	}
	return s.runApplet(a, p, name, head)
}

// runApplet reads the request body, lets a answer and sends the answer; it reports
// whether the connection may carry another request.
func (s *session) runApplet(a Applet, p *config.Proxy, name string, head []byte) bool {
	body, err := s.readAppletBody(head)
	if err != nil {
		if errors.Is(err, errBodyTooLarge) {
			return s.answer(page(413), 413, [2]byte{'P', 'R'}, false)
		}
		s.reject(page400Parse, 400, [2]byte{'C', 'R'})
		return false
	}
	r, err := s.appletRequest(body)
	if err != nil {
		s.reject(page400Parse, 400, [2]byte{'P', 'R'})
		return false
	}
	var w appletResponse
	a.ServeApplet(&w, r, &s.smp)
	e := &s.entry
	e.Backend, e.Server = p.Name, appletLogNames[name]
	e.Tw, e.Tc, e.Tr = 0, 0, 0
	return s.answer(w.bytes(r.Method == "HEAD"), w.status(), [2]byte{'L', 'R'}, true)
}

var errBodyTooLarge = errors.New("request body too large for an applet")

// readAppletBody consumes the request head and body from the connection and returns
// the body (nil when there is none).
func (s *session) readAppletBody(head []byte) ([]byte, error) {
	req := &s.req
	s.br.Discard(len(head))
	switch {
	case req.Chunked:
		s.c.SetReadDeadline(deadline(s.fe.Cfg.Timeouts.Client))
		lb := &limitedBuffer{max: maxAppletBody}
		bw := bufio.NewWriterSize(lb, 4096)
		if _, err := http1.CopyChunked(bw, s.br, false, nil); err != nil {
			var we *http1.WriteError
			if errors.As(err, &we) {
				return nil, errBodyTooLarge
			}
			return nil, err
		}
		return lb.buf.Bytes(), nil
	case req.ContentLength > maxAppletBody:
		return nil, errBodyTooLarge
	case req.ContentLength > 0:
		s.c.SetReadDeadline(deadline(s.fe.Cfg.Timeouts.Client))
		body := make([]byte, req.ContentLength)
		if _, err := io.ReadFull(s.br, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	return nil, nil
}

// limitedBuffer is a buffer that refuses to grow past max.
type limitedBuffer struct {
	buf bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if l.buf.Len()+len(p) > l.max {
		return 0, errBodyTooLarge
	}
	return l.buf.Write(p)
}

// appletRequest copies the parsed request into a net/http Request.
func (s *session) appletRequest(body []byte) (*http.Request, error) {
	req := &s.req
	u, err := url.ParseRequestURI(string(req.Target))
	if err != nil {
		return nil, err
	}
	h := make(http.Header, len(req.Headers))
	for _, f := range req.Headers {
		h.Add(string(f.Name), string(f.Value))
	}
	r := &http.Request{
		Method:        string(req.Method),
		URL:           u,
		RequestURI:    string(req.Target),
		Proto:         "HTTP/1." + strconv.Itoa(req.Minor),
		ProtoMajor:    1,
		ProtoMinor:    req.Minor,
		Header:        h,
		Host:          h.Get("Host"),
		RemoteAddr:    s.src.String(),
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
	}
	return r.WithContext(s.ctx), nil
}

// appletResponse buffers an applet's answer.
type appletResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *appletResponse) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}

func (w *appletResponse) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *appletResponse) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

func (w *appletResponse) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// bytes is the whole HTTP/1.1 answer: the status line, content-length, the headers in
// lower case and sorted, and the body unless the request was HEAD.
func (w *appletResponse) bytes(head bool) []byte {
	code := w.status()
	reason := reasons[code]
	if reason == "" {
		reason = http.StatusText(code)
	}
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " " + reason + "\r\n")
	b.WriteString("content-length: " + strconv.Itoa(w.body.Len()) + "\r\n")
	names := make([]string, 0, len(w.header))
	for k := range w.header {
		if lk := strings.ToLower(k); lk != "content-length" && lk != "connection" && lk != "transfer-encoding" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range w.header[k] {
			b.WriteString(strings.ToLower(k) + ": " + strings.NewReplacer("\r", "", "\n", "").Replace(v) + "\r\n")
		}
	}
	b.WriteString("\r\n")
	if !head {
		b.Write(w.body.Bytes())
	}
	return b.Bytes()
}
