package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// maxChunkLine bounds a chunk-size line (size and extensions).
const maxChunkLine = 4096

// CopyChunked relays a chunked body from src to dst, checking the framing. With
// reframe it re-emits the chunked encoding (extensions dropped, trailers kept);
// without, it writes the payload only (for an HTTP/1.0 peer, or nil dst to skip a
// body). It returns the payload bytes, flushes dst after each chunk so that streams
// make progress, and calls tick (when not nil) before each chunk, for the caller to
// extend its deadlines. Write failures come back as *WriteError.
func CopyChunked(dst *bufio.Writer, src *bufio.Reader, reframe bool, tick func()) (int64, error) {
	var total int64
	var num [20]byte
	if dst == nil {
		reframe = false
	}
	out := func(b []byte) error {
		if !reframe {
			return nil
		}
		if _, err := dst.Write(b); err != nil {
			return &WriteError{err}
		}
		return nil
	}
	flush := func() error {
		if dst == nil {
			return nil
		}
		if err := dst.Flush(); err != nil {
			return &WriteError{err}
		}
		return nil
	}
	for {
		if tick != nil {
			tick()
		}
		line, err := readLine(src)
		if err != nil {
			return total, err
		}
		size, err := parseChunkSize(line)
		if err != nil {
			return total, err
		}
		if size == 0 {
			if err := out(lastChunk); err != nil {
				return total, err
			}
			// Trailer fields up to the empty line, checked like header fields.
			for n := 0; ; n++ {
				tl, err := readLine(src)
				if err != nil {
					return total, err
				}
				if len(tl) == 0 {
					break
				}
				if n >= maxTrailers || !validField(tl) {
					return total, malformed("invalid trailer")
				}
				if forbiddenTrailer(tl) {
					continue
				}
				if err := out(tl); err != nil {
					return total, err
				}
				if err := out(crlf); err != nil {
					return total, err
				}
			}
			if err := out(crlf); err != nil {
				return total, err
			}
			return total, flush()
		}
		if err := out(append(strconv.AppendInt(num[:0], size, 16), '\r', '\n')); err != nil {
			return total, err
		}
		var n int64
		if dst == nil {
			n, err = discardN(src, size)
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
		} else {
			n, err = CopyN(dst, src, size, tick)
		}
		total += n
		if err != nil {
			return total, err
		}
		end, err := readLine(src)
		if err != nil {
			return total, err
		}
		if len(end) != 0 {
			return total, malformed("missing CRLF after chunk data")
		}
		if err := out(crlf); err != nil {
			return total, err
		}
		if err := flush(); err != nil {
			return total, err
		}
	}
}

var (
	crlf      = []byte("\r\n")
	lastChunk = []byte("0\r\n")
)

// maxTrailers bounds the trailer fields of a chunked body.
const maxTrailers = 100

func discardN(src *bufio.Reader, n int64) (int64, error) {
	var done int64
	for done < n {
		m, err := src.Discard(int(min(n-done, 1<<30)))
		done += int64(m)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// forbiddenTrailer reports whether a trailer field (a line validField accepted) is
// one that must not be sent in trailers (RFC 9110 §6.5.1): framing, routing (Host)
// and connection management. They are dropped, not forwarded; HAProxy 2.6 drops
// Content-Length only.
func forbiddenTrailer(line []byte) bool {
	name := line[:bytes.IndexByte(line, ':')]
	return inTable(name, framingHeaders) || inTable(name, hopHeaders) || equalFoldLower(name, "host")
}

// validField reports whether a trailer line is "token: value" with a clean value.
func validField(line []byte) bool {
	colon := -1
	for i, c := range line {
		if c == ':' {
			colon = i
			break
		}
		if !isToken(c) {
			return false
		}
	}
	if colon <= 0 {
		return false
	}
	for _, c := range line[colon+1:] {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// CopyN moves exactly n bytes from src to dst through their buffers, without the
// allocation of io.CopyN. Before waiting for more input it flushes dst, so that a
// slow stream still flows, and calls tick (when not nil), for the caller to extend
// its inactivity deadlines. A source that ends early gives io.ErrUnexpectedEOF; a
// failed write gives a *WriteError.
func CopyN(dst *bufio.Writer, src *bufio.Reader, n int64, tick func()) (int64, error) {
	done, err := relay(dst, src, n, tick)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return done, err
}

// CopyAll moves everything from src to dst until src ends (a body delimited by the
// connection's close), like CopyN; the end of src is not an error.
func CopyAll(dst *bufio.Writer, src *bufio.Reader, tick func()) (int64, error) {
	done, err := relay(dst, src, -1, tick)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if err == nil {
		if ferr := dst.Flush(); ferr != nil {
			err = &WriteError{ferr}
		}
	}
	return done, err
}

// relay copies n bytes (n < 0: until EOF) from src to dst.
func relay(dst *bufio.Writer, src *bufio.Reader, n int64, tick func()) (int64, error) {
	var done int64
	for n < 0 || done < n {
		if src.Buffered() == 0 {
			if dst.Buffered() > 0 {
				if err := dst.Flush(); err != nil {
					return done, &WriteError{err}
				}
			}
			if tick != nil {
				tick()
			}
			if _, err := src.Peek(1); err != nil {
				return done, err
			}
		}
		step := src.Buffered()
		if n >= 0 && int64(step) > n-done {
			step = int(n - done)
		}
		p, _ := src.Peek(step)
		if _, err := dst.Write(p); err != nil {
			return done, &WriteError{err}
		}
		src.Discard(len(p))
		done += int64(len(p))
	}
	return done, nil
}

// WriteError marks a failure on the writing side of a relay, so that a caller can
// tell who ended it.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return "http1: write: " + e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// readLine reads one line (CRLF or LF), without its end.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, malformed("line too long")
		}
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(line) > maxChunkLine {
		return nil, malformed("line too long")
	}
	line = line[:len(line)-1]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	for _, c := range line {
		if c == '\r' || c == 0 {
			return nil, malformed("bare CR or NUL")
		}
	}
	return line, nil
}

func parseChunkSize(line []byte) (int64, error) {
	var n int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			goto ext
		}
		if n >= 1<<55 {
			return 0, malformed("chunk size too large")
		}
		n = n<<4 | int64(v)
	}
ext:
	if i == 0 {
		return 0, malformed("invalid chunk size")
	}
	rest := line[i:]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] != ';' {
		return 0, malformed("invalid chunk size")
	}
	return n, nil
}
