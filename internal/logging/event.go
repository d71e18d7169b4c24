package logging

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
)

// eventHandler prints slog records as HAProxy's start-up and event messages.
type eventHandler struct {
	// mu guards writes to w.
	mu    *sync.Mutex
	w     io.Writer
	pid   int
	level slog.Leveler
	attrs []slog.Attr
}

// NewEventHandler returns a slog.Handler printing "[NOTICE]   (pid) : msg" lines:
// Info is NOTICE, Warn is WARNING, Error is ALERT, Debug is DEBUG.
func NewEventHandler(w io.Writer, pid int, level slog.Leveler) slog.Handler {
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
	add := func(a slog.Attr) bool {
		b = append(b, ' ')
		b = append(b, a.Key...)
		b = append(b, '=')
		b = append(b, a.Value.String()...)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	b = append(b, '\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(b)
	return err
}

func (h *eventHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &n
}

func (h *eventHandler) WithGroup(string) slog.Handler { return h }
