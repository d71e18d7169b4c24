package http1

import (
	"bufio"
	"errors"
	"io"
	"strconv"
)

// maxChunkLine bounds a chunk-size line (size and extensions).
const maxChunkLine = 4096

// CopyChunked relays a chunked body from src to dst, checking the framing. With
// reframe it re-emits the chunked encoding (extensions dropped, trailers kept);
// without, it writes the payload only (for an HTTP/1.0 peer). It returns the payload
// bytes, flushes dst after each chunk so that streams make progress, and calls tick
// (when not nil) before each chunk, for the caller to extend its deadlines.
func CopyChunked(dst *bufio.Writer, src *bufio.Reader, reframe bool, tick func()) (int64, error) {
	var total int64
	var num [20]byte
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
			if !reframe {
				dst = bufio.NewWriterSize(io.Discard, 64)
			}
			if _, err := dst.WriteString("0\r\n"); err != nil {
				return total, err
			}
			// Trailers up to the empty line.
			for n := 0; ; n++ {
				tl, err := readLine(src)
				if err != nil {
					return total, err
				}
				if len(tl) == 0 {
					break
				}
				if n > 100 || tl[0] == ' ' || tl[0] == '\t' {
					return total, malformed("invalid trailer")
				}
				dst.Write(tl)
				dst.WriteString("\r\n")
			}
			if _, err := dst.WriteString("\r\n"); err != nil {
				return total, err
			}
			return total, dst.Flush()
		}
		if reframe {
			dst.Write(strconv.AppendInt(num[:0], size, 16))
			dst.WriteString("\r\n")
		}
		n, err := io.CopyN(dst, src, size)
		total += n
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return total, err
		}
		end, err := readLine(src)
		if err != nil {
			return total, err
		}
		if len(end) != 0 {
			return total, malformed("missing CRLF after chunk data")
		}
		if reframe {
			if _, err := dst.WriteString("\r\n"); err != nil {
				return total, err
			}
		}
		if err := dst.Flush(); err != nil {
			return total, err
		}
	}
}

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
		if i >= 15 {
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
