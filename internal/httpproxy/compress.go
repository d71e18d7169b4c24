package httpproxy

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"strconv"
	"sync"

	"hitless/internal/config"
	"hitless/internal/http1"
	"hitless/internal/proxy"
)

// HTTP compression (`compression algo|type|offload`), with HAProxy 2.6's rules on
// when not to compress: an HTTP/1.0 request or response, a status other than 200 to
// 203, a HEAD request or a response without a framed body, a type not listed, a
// multipart type, Cache-Control: no-transform, a response already encoded or with
// several ETags, a Mozilla/4 user agent that is not MSIE. The body is compressed with
// the standard library and sent chunked; a strong ETag becomes weak.

// compressionOf is the backend's compression settings, else the frontend's.
func compressionOf(fe, be *config.Proxy) *config.Compression {
	if be != nil && be.Compression != nil {
		return be.Compression
	}
	return fe.Compression
}

// prepareCompression picks the algorithm for the request, while its head is intact,
// and applies `compression offload` to what the server receives.
func (s *session) prepareCompression(fe, be *config.Proxy) {
	s.compAlgo = ""
	c := compressionOf(fe, be)
	if c == nil || s.req.Minor == 0 {
		return
	}
	if c.Offload {
		s.edits = append(s.edits, edit{del: true, name: "accept-encoding"})
	}
	if ua, ok := s.req.Get("user-agent"); ok && bytes.HasPrefix(ua, []byte("Mozilla/4")) && !bytes.Contains(ua, []byte("MSIE")) {
		return
	}
	algos := c.Algos
	if len(algos) == 0 {
		algos = []string{"identity"}
	}
	best, bestQ := "", 0
	for i := range s.req.Headers {
		h := &s.req.Headers[i]
		if !equalFold(h.Name, "accept-encoding") {
			continue
		}
		for _, part := range bytes.Split(h.Value, []byte(",")) {
			name, params, _ := bytes.Cut(part, []byte(";"))
			name = bytes.TrimSpace(name)
			q := 1000
			if v, ok := bytes.CutPrefix(bytes.TrimSpace(params), []byte("q=")); ok {
				q = parseQ(v)
			}
			for _, a := range algos {
				if q > bestQ && (equalFold(name, a) || a == "raw-deflate" && equalFold(name, "deflate") || bytes.Equal(name, []byte("*"))) {
					best, bestQ = a, q
				}
			}
		}
	}
	if best != "identity" {
		s.compAlgo = best
	}
}

// parseQ reads a quality value as thousandths.
func parseQ(v []byte) int {
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
	if err != nil || f < 0 {
		return 0
	}
	return int(min(f, 1) * 1000)
}

// compressor compresses one response body into chunks.
type compressor struct {
	zw      io.WriteCloser
	bw      *bufio.Writer // in front of zw, for the body relay
	out     chunkWriter
	chunked bool  // the server's framing, restored for reading
	length  int64 // idem
	written int64 // compressed bytes sent
	pool    *sync.Pool
}

// chunkWriter frames each write as one chunk and counts the compressed bytes.
type chunkWriter struct {
	w   *bufio.Writer
	out *int64
}

func (c chunkWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	*c.out += int64(len(p))
	var num [16]byte
	c.w.Write(strconv.AppendInt(num[:0], int64(len(p)), 16))
	c.w.WriteString("\r\n")
	c.w.Write(p)
	_, err := c.w.WriteString("\r\n")
	return len(p), err
}

var (
	gzipPool    = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, 1); return w }}
	zlibPool    = sync.Pool{New: func() any { w, _ := zlib.NewWriterLevel(nil, 1); return w }}
	flatePool   = sync.Pool{New: func() any { w, _ := flate.NewWriter(nil, 1); return w }}
	zbufPool    = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufSize) }}
	contentType = []byte("multipart")
)

// startCompression decides whether to compress this response; when it does, it
// rewrites the head (no content-length, a weak ETag, Vary, Content-Encoding, chunked
// framing) and returns the compressor.
func (s *session) startCompression(resp *http1.Response, noBody, upgrade bool) *compressor {
	if s.compAlgo == "" || noBody || upgrade || resp.Minor == 0 || resp.Status < 200 || resp.Status > 203 ||
		!(resp.Chunked || resp.ContentLength >= 0) {
		return nil
	}
	c := compressionOf(s.fe.Cfg, s.be.Cfg)
	if c == nil {
		return nil
	}
	etags := 0
	for i := range resp.Headers {
		h := &resp.Headers[i]
		switch {
		case equalFold(h.Name, "content-encoding"):
			return nil
		case equalFold(h.Name, "etag"):
			etags++
		case equalFold(h.Name, "cache-control") && bytes.Contains(bytes.ToLower(h.Value), []byte("no-transform")):
			return nil
		case equalFold(h.Name, "content-type"):
			t, _, _ := bytes.Cut(h.Value, []byte(";"))
			t = bytes.ToLower(bytes.TrimSpace(t))
			if bytes.HasPrefix(t, contentType) {
				return nil
			}
			if len(c.Types) > 0 && !typeListed(c.Types, t) {
				return nil
			}
		}
	}
	if etags > 1 {
		return nil
	}
	if _, ok := resp.Get("content-type"); !ok && len(c.Types) > 0 {
		return nil
	}
	for i := range resp.Headers {
		h := &resp.Headers[i]
		if equalFold(h.Name, "etag") && !bytes.HasPrefix(h.Value, []byte("W/")) {
			start := len(s.arena)
			s.arena = append(append(s.arena, "W/"...), h.Value...)
			h.Value = s.arena[start:len(s.arena):len(s.arena)]
		}
	}
	s.redits = append(s.redits, edit{del: true, name: "content-length"},
		edit{add: true, name: "vary", value: []byte("Accept-Encoding")},
		edit{add: true, name: "content-encoding", value: []byte(encodingName(s.compAlgo))})
	z := &compressor{chunked: resp.Chunked, length: resp.ContentLength}
	z.out = chunkWriter{s.bw, &z.written}
	switch s.compAlgo {
	case "gzip":
		w := gzipPool.Get().(*gzip.Writer)
		w.Reset(z.out)
		z.zw, z.pool = w, &gzipPool
	case "deflate":
		w := zlibPool.Get().(*zlib.Writer)
		w.Reset(z.out)
		z.zw, z.pool = w, &zlibPool
	default:
		w := flatePool.Get().(*flate.Writer)
		w.Reset(z.out)
		z.zw, z.pool = w, &flatePool
	}
	z.bw = zbufPool.Get().(*bufio.Writer)
	z.bw.Reset(z.zw)
	resp.Chunked, resp.ContentLength = true, -1 // what the client sees
	return z
}

func encodingName(algo string) string {
	if algo == "raw-deflate" {
		return "deflate"
	}
	return algo
}

func typeListed(types []string, t []byte) bool {
	for _, x := range types {
		if string(t) == x || bytes.HasPrefix(t, []byte(x)) && len(t) > len(x) && t[len(x)] == '/' {
			return true
		}
	}
	return false
}

// relay copies the server's body through the compressor to the client, then ends
// the chunked body.
func (z *compressor) relay(s *session, sc *srvConn, resp *http1.Response) (int64, error) {
	resp.Chunked, resp.ContentLength = z.chunked, z.length
	var n int64
	var err error
	switch {
	case z.chunked:
		n, err = http1.CopyChunked(z.bw, sc.br, false, s.respTick)
	default:
		n, err = http1.CopyN(z.bw, sc.br, z.length, s.respTick)
	}
	if err == nil {
		if ferr := z.bw.Flush(); ferr != nil {
			err = &http1.WriteError{Err: ferr}
		} else if cerr := z.zw.Close(); cerr != nil {
			err = &http1.WriteError{Err: cerr}
		} else {
			s.bw.WriteString("0\r\n\r\n")
		}
	}
	z.bw.Reset(nil)
	zbufPool.Put(z.bw)
	z.pool.Put(z.zw)
	for _, c := range s.compCounters() {
		c.CompIn.Add(uint64(n))
		c.CompOut.Add(uint64(z.written))
		c.CompRsp.Add(1)
	}
	return n, err
}

// compCounters are the counters of the frontend and the backend of the request (both
// show the compression columns, as in HAProxy).
func (s *session) compCounters() [2]*proxy.Counters {
	return [2]*proxy.Counters{&s.fe.Counters, &s.be.Counters}
}

// bypassed counts a response body that went uncompressed while compression is
// configured (comp_byp).
func (s *session) bypassed(n int64) {
	if s.be == nil || compressionOf(s.fe.Cfg, s.be.Cfg) == nil {
		return
	}
	for _, c := range s.compCounters() {
		c.CompByp.Add(uint64(n))
	}
}
