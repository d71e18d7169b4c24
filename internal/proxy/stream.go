package proxy

import (
	"context"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Stream is one client connection being served, as `show sess` lists it. The instance
// package creates it per accepted connection and registers it in State.Streams; the
// engines record the backend and server they chose with SetTarget.
type Stream struct {
	ID       uint64
	Frontend *Frontend // nil for a runtime API session
	// Remote is the client's address; Listener the number of the listener that
	// accepted it, which names a unix client. Source formats them only when asked.
	Remote   net.Addr
	Listener int
	Start    time.Time

	backend atomic.Pointer[Backend]
	server  atomic.Pointer[Server]
	kill    atomic.Pointer[context.CancelFunc]
}

// SetKill records how to end the stream (its context's cancel).
func (s *Stream) SetKill(f context.CancelFunc) { s.kill.Store(&f) }

// Kill ends the stream: its engine closes both connections (`on-marked-down
// shutdown-sessions`).
func (s *Stream) Kill() {
	if f := s.kill.Load(); f != nil {
		(*f)()
	}
}

// Source names the stream's protocol and source as `show sess` prints them: tcpv4 or
// tcpv6 and ip:port, or unix_stream and unix:<listener number>.
func (s *Stream) Source() (proto, src string) {
	if a, ok := s.Remote.(*net.TCPAddr); ok {
		if a.IP.To4() != nil {
			return "tcpv4", a.String()
		}
		return "tcpv6", a.String()
	}
	return "unix_stream", "unix:" + strconv.Itoa(s.Listener)
}

// SetTarget records where the stream's current request goes (nil, nil when none).
func (s *Stream) SetTarget(b *Backend, srv *Server) {
	s.backend.Store(b)
	s.server.Store(srv)
}

// Target returns the backend and server of the stream's current request.
func (s *Stream) Target() (*Backend, *Server) { return s.backend.Load(), s.server.Load() }

// Streams is the set of live streams of a State. It is split in shards by stream id,
// so that connections starting and ending on different cores rarely share a lock.
type Streams struct {
	next   atomic.Uint64
	shards [streamShards]streamShard
}

const streamShards = 16

type streamShard struct {
	mu sync.Mutex // guards m
	m  map[*Stream]struct{}
}

func (r *Streams) shard(s *Stream) *streamShard { return &r.shards[s.ID%streamShards] }

// Add registers s and gives it its id.
func (r *Streams) Add(s *Stream) {
	s.ID = r.next.Add(1)
	sh := r.shard(s)
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = map[*Stream]struct{}{}
	}
	sh.m[s] = struct{}{}
	sh.mu.Unlock()
}

// Remove forgets s.
func (r *Streams) Remove(s *Stream) {
	sh := r.shard(s)
	sh.mu.Lock()
	delete(sh.m, s)
	sh.mu.Unlock()
}

// List returns the live streams, oldest first.
func (r *Streams) List() []*Stream {
	var out []*Stream
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for s := range sh.m {
			out = append(out, s)
		}
		sh.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

type streamKey struct{}

// WithStream returns a context that carries s to the engine serving its connection.
func WithStream(ctx context.Context, s *Stream) context.Context {
	return context.WithValue(ctx, streamKey{}, s)
}

// StreamOf returns the stream carried by ctx, or nil.
func StreamOf(ctx context.Context) *Stream {
	s, _ := ctx.Value(streamKey{}).(*Stream)
	return s
}

// MaxCapture bounds the bytes kept of an invalid message (HAProxy's buffer size).
const MaxCapture = 16 << 10

// ErrorCapture is the last invalid request of a frontend or invalid response of a
// backend, as `show errors` prints it.
type ErrorCapture struct {
	When     time.Time
	Response bool
	Frontend *Frontend // the frontend that received the request
	Backend  *Backend  // nil for a request error before routing
	Server   *Server   // nil for a request error
	Src      netip.AddrPort
	Event    uint64 // the process-wide number of this capture
	Buf      []byte // the message as received, at most MaxCapture bytes
	Pos      int    // offset of the first invalid byte in Buf
}

// CaptureError keeps a copy of an invalid message: a request on its frontend, a
// response on its backend. It runs only on errors, never on the normal path.
func (st *State) CaptureError(c ErrorCapture) {
	c.Buf = append([]byte(nil), c.Buf[:min(len(c.Buf), MaxCapture)]...)
	c.Event = st.ErrorEvents.Add(1) - 1
	if c.Response {
		if c.Backend != nil {
			c.Backend.LastError.Store(&c)
		}
		return
	}
	c.Frontend.LastError.Store(&c)
}

// kill ends the streams whose current server matches.
func (r *Streams) kill(match func(*Server) bool) {
	for _, st := range r.List() {
		if _, srv := st.Target(); srv != nil && match(srv) {
			st.Kill()
		}
	}
}
