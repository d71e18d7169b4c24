package instance

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"hitless/internal/config"
	"hitless/internal/listener"
	"hitless/internal/peers"
	"hitless/internal/runtimeapi"
)

// peersSection is a `peers` section ready to run: its config and its bound
// listener.
type peersSection struct {
	cfg peers.Config
	ln  net.Listener
}

// bindPeers binds the local peer's address of every enabled peers section (with
// SO_REUSEPORT, so that the process a reload replaces can still hold it).
func (in *Instance) bindPeers(cfg *config.Config, synced bool) ([]peersSection, error) {
	var out []peersSection
	for _, p := range cfg.Peers {
		if p.Disabled {
			continue
		}
		pc := peers.Config{Name: p.Name, Local: p.Local, Synced: synced, Events: in.events, LocalIndex: -1, MaxBatch: cfg.Global.PeersMaxUpdates}
		if p.Bind != nil {
			pc.LocalAddr = net.JoinHostPort(p.Bind.Host, strconv.Itoa(p.Bind.Port))
		}
		for _, pe := range p.Peers {
			if pe.Name == p.Local {
				pc.LocalIndex = len(pc.Remotes)
				continue
			}
			if pe.Addr == nil {
				continue
			}
			pc.Remotes = append(pc.Remotes, peers.Remote{Name: pe.Name, Addr: net.JoinHostPort(pe.Addr.Host, strconv.Itoa(pe.Addr.Port))})
		}
		for _, s := range cfg.Tables {
			if s.Peers == p.Name {
				pc.Tables = append(pc.Tables, in.Tables.Table(s.Name))
			}
		}
		ps := peersSection{cfg: pc}
		if p.Bind != nil {
			ln, err := listener.Listen(config.Bind{Pos: p.Pos, Addr: *p.Bind, UID: -1, GID: -1}, 3*(len(p.Peers)+1))
			if err != nil {
				for _, o := range out {
					o.ln.Close()
				}
				return nil, fmt.Errorf("binding [%s] for peers section %s: %w", p.Pos, p.Name, err)
			}
			ps.ln = ln
		}
		out = append(out, ps)
	}
	return out, nil
}

// Peers returns the running peers sections, for `show peers`.
func (in *Instance) Peers() []runtimeapi.PeersSection {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]runtimeapi.PeersSection, len(in.peers))
	for i, s := range in.peers {
		out[i] = s
	}
	return out
}

// startPeers runs the bound sections until the listeners close (soft or hard stop).
func (in *Instance) startPeers(sections []peersSection) {
	for _, ps := range sections {
		s := peers.Start(in.acceptCtx, ps.cfg, ps.ln)
		in.mu.Lock()
		in.peers = append(in.peers, s)
		in.mu.Unlock()
		in.loops.Add(1)
		go func() {
			defer in.loops.Done()
			<-in.acceptCtx.Done()
			s.Wait()
		}()
	}
}

// teachSuccessor hands every peers-shared table to the process that replaces this
// one through the local peer, as HAProxy's old process does on a soft stop; the
// drain waits for it (at most 5 s). A hitless successor also received every table
// over `_tables`: the lesson brings the changes made since.
func (in *Instance) teachSuccessor() {
	in.mu.Lock()
	sections := append([]*peers.Section(nil), in.peers...)
	in.mu.Unlock()
	for _, s := range sections {
		in.conns.Add(1)
		go func() {
			defer in.conns.Done()
			s.Wait()
			s.TeachSuccessor(in.ctx, 5*time.Second)
		}()
	}
}
