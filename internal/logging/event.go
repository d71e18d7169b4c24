package logging

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
)

// eventHandler prints slog records as HAProxy's start-up and event messages.
type eventHandler struct {
	// mu guards writes to w.
	mu    *sync.Mutex
	w     io.Writer
	pid   int
	level slog.Leveler
	// pre holds the attributes of WithAttrs, already formatted; group is the prefix
	// of WithGroup ("g1.g2.").
	pre   []byte
	group string
}

// NewEventHandler returns a slog.Handler printing "[NOTICE]   (pid) : msg" lines:
// Info is NOTICE, Warn is WARNING, Error is ALERT, Debug is DEBUG (printed only when
// level allows it; a nil level means Info). Attributes follow the message as
// key=value, values quoted when they hold spaces or quotes; groups prefix keys with
// "group.". Each record is one Write, serialized between handlers sharing w.
func NewEventHandler(w io.Writer, pid int, level slog.Leveler) slog.Handler {
	if level == nil {
		level = slog.LevelInfo
	}
	return &eventHandler{mu: &sync.Mutex{}, w: w, pid: pid, level: level}
}

func (h *eventHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *eventHandler) Handle(_ context.Context, r slog.Record) error {
	label := "[NOTICE]   ("
	switch {
	case r.Level >= slog.LevelError:
		label = "[ALERT]    ("
	case r.Level >= slog.LevelWarn:
		label = "[WARNING]  ("
	case r.Level < slog.LevelInfo:
		label = "[DEBUG]    ("
	}
	b := make([]byte, 0, 64+len(r.Message))
	b = append(b, label...)
	b = strconv.AppendInt(b, int64(h.pid), 10)
	b = append(b, ") : "...)
	b = append(b, r.Message...)
	b = append(b, h.pre...)
	r.Attrs(func(a slog.Attr) bool {
		b = appendAttr(b, h.group, a)
		return true
	})
	b = append(b, '\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(b)
	return err
}

func (h *eventHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.pre = append([]byte(nil), h.pre...)
	for _, a := range as {
		n.pre = appendAttr(n.pre, h.group, a)
	}
	return &n
}

func (h *eventHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.group = h.group + name + "."
	return &n
}

// appendAttr writes " prefix.key=value"; a group attribute writes its members.
func appendAttr(b []byte, prefix string, a slog.Attr) []byte {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, m := range v.Group() {
			b = appendAttr(b, prefix, m)
		}
		return b
	}
	if a.Equal(slog.Attr{}) {
		return b
	}
	b = append(b, ' ')
	b = append(b, prefix...)
	b = append(b, a.Key...)
	b = append(b, '=')
	s := v.String()
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}
