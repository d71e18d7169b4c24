package health

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// AgentConfig describes the agent check of one server (`agent-check`): every Inter
// it connects to Addr, sends Send, and reads one line of words.
type AgentConfig struct {
	Addr    string     // host:port of the agent
	Source  netip.Addr // local address (the server's `source`); zero: any
	Send    string
	Inter   time.Duration
	Timeout time.Duration
	// Enabled, when set, is asked before each check (`disable agent` would say false).
	Enabled func() bool
}

// AgentReply is what an agent said, word by word; nil fields were not said.
type AgentReply struct {
	// State is "up", "down", "fail" or "stopped" (the operational state); Admin is
	// "ready", "drain" or "maint".
	State, Admin string
	Weight       *int // percent of the configured weight
	MaxConn      *int
	Desc         string // the text after '#'
	// Err is set when the agent could not be reached or said nothing: the server's
	// state is then left as it is, as HAProxy does.
	Err string
	// Result is the agent check's outcome as HAProxy reports it (agent_status,
	// last_agt): L7OK "via agent : up", L7STS "via agent : down (text)", CHECKED
	// for a reply that changes no operational state, L4CON, L4TOUT or L7TOUT when
	// the agent could not answer.
	Result Result
}

// ParseAgentReply reads an agent's line: words separated by spaces, tabs or commas,
// in any order, a description after '#'. Unknown words are ignored, as in HAProxy.
func ParseAgentReply(line []byte) AgentReply {
	var r AgentReply
	if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	s := string(line)
	if i := strings.IndexByte(s, '#'); i >= 0 {
		r.Desc = strings.TrimSpace(s[i+1:])
		s = s[:i]
	}
	known := false
	for _, w := range strings.FieldsFunc(s, func(c rune) bool { return c == ' ' || c == '\t' || c == ',' }) {
		lw := strings.ToLower(w)
		known = known || lw == "up" || lw == "down" || lw == "fail" || lw == "stopped" || lw == "ready" || lw == "drain" ||
			lw == "maint" || strings.HasSuffix(lw, "%") || strings.HasPrefix(lw, "maxconn:")
		switch {
		case lw == "up" || lw == "down" || lw == "fail" || lw == "stopped":
			r.State = lw
		case lw == "ready" || lw == "drain" || lw == "maint":
			r.Admin = lw
		case strings.HasSuffix(lw, "%"):
			if n, err := strconv.Atoi(lw[:len(lw)-1]); err == nil && n >= 0 {
				r.Weight = &n
			}
		case strings.HasPrefix(lw, "maxconn:"):
			if n, err := strconv.Atoi(lw[len("maxconn:"):]); err == nil && n >= 0 {
				r.MaxConn = &n
			}
		}
	}
	switch {
	case r.State == "up":
		r.Result = result("L7OK", "via agent : up", 0, 0)
	case r.State != "":
		info := "via agent : " + r.State
		if r.Desc != "" {
			info += " (" + r.Desc + ")"
		}
		r.Result = result("L7STS", info, 0, 0)
	case !known:
		r.Result = result("CHECKED", "agent reports an error : "+strings.TrimSpace(string(line)), 0, 0)
	default:
		r.Result = result("CHECKED", "", 0, 0)
	}
	return r
}

// maxAgentReply bounds what an agent check reads.
const maxAgentReply = 1024

// AgentOnce runs one agent check.
func AgentOnce(ctx context.Context, c AgentConfig) AgentReply {
	start := time.Now()
	r := agentOnce(ctx, c)
	r.Result.Duration = time.Since(start)
	return r
}

func agentOnce(ctx context.Context, c AgentConfig) AgentReply {
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	failed := func(status, info string) AgentReply {
		return AgentReply{Err: info, Result: result(status, info, 0, 0)}
	}
	d := net.Dialer{Timeout: c.Timeout, KeepAlive: -1}
	if c.Source.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: c.Source.AsSlice()}
	}
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		if isTimeout(err) {
			return failed("L4TOUT", "")
		}
		return failed("L4CON", errnoText(err))
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(c.Timeout))
	if c.Send != "" {
		if _, err := conn.Write([]byte(c.Send)); err != nil {
			return failed("L4CON", errnoText(err))
		}
	}
	buf := make([]byte, 0, 256)
	var rerr error
	for len(buf) < maxAgentReply {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		var n int
		n, rerr = conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if bytes.IndexByte(buf, '\n') >= 0 || rerr != nil {
			break
		}
	}
	switch {
	case bytes.IndexByte(buf, '\n') >= 0:
	case isTimeout(rerr):
		return failed("L7TOUT", "")
	case len(buf) > 0:
		// HAProxy's words for a reply that ends without its line end.
		return failed("L4CON", "Ignoring incomplete line from agent")
	default:
		return failed("L4CON", "")
	}
	return ParseAgentReply(buf)
}

// RunAgent runs agent checks until ctx ends, passing every reply to apply (from its
// goroutine). The first one waits a random fraction of Inter.
func RunAgent(ctx context.Context, c AgentConfig, apply func(AgentReply)) {
	if c.Inter <= 0 {
		c.Inter = 2 * time.Second
	}
	timer := time.NewTimer(time.Duration(rand.Int64N(int64(c.Inter))))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if c.Enabled == nil || c.Enabled() {
			r := AgentOnce(ctx, c)
			if ctx.Err() != nil {
				return
			}
			apply(r)
		}
		timer.Reset(c.Inter)
	}
}
