package runtimeapi

import (
	"bufio"
	"fmt"
	"strconv"
	"time"

	"hitless/internal/proxy"
)

// SessionCommands are `show sess` and `show errors`.
func SessionCommands(st *proxy.State, proxyIDs map[string]int) []Command {
	return []Command{
		{Words: []string{"show", "sess"}, Level: LevelOperator, Usage: Usage("show sess [id]", "report the list of current sessions or dump this exact session"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				if len(args) > 0 && args[0] != "" {
					fmt.Fprintf(w, "'show sess %s' is not supported yet.\n", args[0])
					return nil
				}
				now := time.Now()
				for _, x := range st.Streams.List() {
					writeStream(w, x, now)
				}
				return nil
			}},
		{Words: []string{"show", "errors"}, Level: LevelOperator, Usage: Usage("show errors [<px>] [request|response]", "report last request and/or response errors for each proxy"),
			Run: func(s *Session, args []string, w *bufio.Writer) error {
				showErrors(st, proxyIDs, args, w, time.Now())
				return nil
			}},
	}
}

// writeStream prints one `show sess` line in HAProxy 2.6's layout. The fields after
// age describe HAProxy's internal buffers and tasks; hitless has none of them and
// prints the values of an idle stream.
func writeStream(w *bufio.Writer, x *proxy.Stream, now time.Time) {
	fe, be, srv := "GLOBAL", "<NONE>", "<none>" // a runtime API session has no frontend
	if x.Frontend != nil {
		fe = x.Frontend.Name
	}
	if b, sv := x.Target(); b != nil {
		be = b.Name
		if sv != nil {
			srv = sv.Name
		}
	}
	proto, src := x.Source()
	fmt.Fprintf(w, "%#x: proto=%s src=%s fe=%s be=%s srv=%s ts=00 epoch=0 age=%s calls=1 rate=0 cpu=0 lat=0 "+
		"rq[f=808000h,i=0,an=00h,rx=,wx=,ax=] rp[f=80008000h,i=0,an=00h,rx=,wx=,ax=] scf=[8,0h,fd=-1] scb=[8,1h,fd=-1] exp= rc=0 c_exp=\n",
		x.ID, proto, src, fe, be, srv, humanAge(now.Sub(x.Start)))
}

// humanAge formats a duration as HAProxy's human_time: "0s", "1m5s", "2h3m", "4d5h".
func humanAge(d time.Duration) string {
	t := int64(d / time.Second)
	switch {
	case t < 60:
		return strconv.FormatInt(t, 10) + "s"
	case t < 3600:
		return fmt.Sprintf("%dm%ds", t/60, t%60)
	case t < 86400:
		return fmt.Sprintf("%dh%dm", t/3600, t/60%60)
	}
	return fmt.Sprintf("%dd%dh", t/86400, t/3600%24)
}

// showErrors is `show errors [<px>|<iid>|-1] [request|response]` in HAProxy 2.6's
// layout: a proxy filter matches an error of that proxy or one whose other end (the
// frontend of a response error, the backend of a request error) is that proxy.
func showErrors(st *proxy.State, proxyIDs map[string]int, args []string, w *bufio.Writer, now time.Time) {
	filter := -1
	if len(args) > 0 && args[0] != "" && args[0] != "-1" {
		id, ok := proxyIDs[args[0]]
		if !ok {
			n, err := strconv.Atoi(args[0])
			if err != nil || !knownID(proxyIDs, n) {
				w.WriteString("No such proxy.\n")
				return
			}
			id = n
		}
		filter = id
	}
	wantReq, wantResp := true, true
	if len(args) > 1 {
		switch args[1] {
		case "request":
			wantResp = false
		case "response":
			wantReq = false
		}
	}
	fmt.Fprintf(w, "Total events captured on [%s] : %d\n", errorDate(now), st.ErrorEvents.Load())
	match := func(a, b string) bool {
		return filter < 0 || proxyIDs[a] == filter || (b != "" && proxyIDs[b] == filter)
	}
	for _, p := range st.Config.Proxies {
		var fe *proxy.Frontend
		for _, f := range st.Frontends {
			if f.Cfg == p {
				fe = f
			}
		}
		if fe != nil && wantReq {
			if c := fe.LastError.Load(); c != nil && match(fe.Name, backendName(c)) {
				writeCapture(w, proxyIDs, c)
			}
		}
		if b := st.Backends[p.Name]; b != nil && b.Cfg == p && wantResp {
			if c := b.LastError.Load(); c != nil && match(b.Name, c.Frontend.Name) {
				writeCapture(w, proxyIDs, c)
			}
		}
	}
}

func knownID(ids map[string]int, n int) bool {
	for _, id := range ids {
		if id == n {
			return true
		}
	}
	return false
}

func backendName(c *proxy.ErrorCapture) string {
	if c.Backend == nil {
		return ""
	}
	return c.Backend.Name
}

func errorDate(t time.Time) string { return t.Format("02/Jan/2006:15:04:05.000") }

// bufSize and wrapAt are the buffer figures HAProxy prints with a capture: its
// default tune.bufsize and where its buffer wraps.
const (
	bufSize = 16384
	wrapAt  = 16336
)

// writeCapture prints one captured message. HAProxy's two lines of H1 parser flags
// and state are left out: hitless's parser has no such state.
func writeCapture(w *bufio.Writer, proxyIDs map[string]int, c *proxy.ErrorCapture) {
	w.WriteString(" \n")
	srvName, srvID := "<NONE>", -1
	if c.Server != nil {
		srvName = c.Server.Name
		for i, s := range c.Server.Backend.Servers {
			if s == c.Server {
				srvID = i + 1
			}
		}
	}
	if c.Response {
		fmt.Fprintf(w, "[%s] backend %s (#%d): invalid response\n", errorDate(c.When), c.Backend.Name, proxyIDs[c.Backend.Name])
		fmt.Fprintf(w, "  frontend %s (#%d), server %s (#%d), event #%d, src %s\n",
			c.Frontend.Name, proxyIDs[c.Frontend.Name], srvName, srvID, c.Event, c.Src)
	} else {
		fmt.Fprintf(w, "[%s] frontend %s (#%d): invalid request\n", errorDate(c.When), c.Frontend.Name, proxyIDs[c.Frontend.Name])
		be, beID := "<NONE>", -1
		if c.Backend != nil {
			be, beID = c.Backend.Name, proxyIDs[c.Backend.Name]
		}
		fmt.Fprintf(w, "  backend %s (#%d), server %s (#%d), event #%d, src %s\n", be, beID, srvName, srvID, c.Event, c.Src)
	}
	fmt.Fprintf(w, "  buffer starts at 0 (including 0 out), %d free,\n", bufSize-len(c.Buf))
	fmt.Fprintf(w, "  len %d, wraps at %d, error at position %d\n", len(c.Buf), wrapAt, c.Pos)
	w.WriteString("  H1 chunk len 0 bytes, H1 body len 0 bytes :\n  \n")
	for ptr, line := 0, 0; ptr < len(c.Buf); {
		ptr = dumpTextLine(w, c.Buf, ptr, &line)
	}
}

// escapes are the bytes dumpTextLine writes as a backslash and a letter.
var escapes = map[byte]byte{'\t': 't', '\n': 'n', '\r': 'r', 0x1b: 'e', '\\': '\\'}

// dumpTextLine prints one line of a capture as HAProxy's dump_text_line does: the
// offset, ' ' at the start of a message line or '+' for its continuation, then the
// bytes with \t \n \r \e \\ escaped and other non-printable ones as \xHH, at most 80
// columns, ending after a '\n' of the message. It returns the next offset.
func dumpTextLine(w *bufio.Writer, buf []byte, ptr int, line *int) int {
	mark := byte('+')
	if ptr == *line {
		mark = ' '
	}
	out := make([]byte, 0, 96)
	out = fmt.Appendf(out, "  %05d%c ", ptr, mark)
	const end = 80
	const hex = "0123456789ABCDEF"
	for ptr < len(buf) {
		c := buf[ptr]
		switch {
		case c >= 0x20 && c < 0x7f && c != '\\':
			if len(out) > end-2 {
				goto done
			}
			out = append(out, c)
		case c == '\t' || c == '\n' || c == '\r' || c == 0x1b || c == '\\':
			if len(out) > end-3 {
				goto done
			}
			out = append(out, '\\', escapes[c])
		default:
			if len(out) > end-5 {
				goto done
			}
			out = append(out, '\\', 'x', hex[c>>4], hex[c&15])
		}
		ptr++
		if c == '\n' {
			*line = ptr
			break
		}
	}
done:
	out = append(out, '\n')
	w.Write(out)
	return ptr
}
