package instance

import (
	"fmt"
	"net"
	"strconv"

	"hitless/internal/config"
	"hitless/internal/listener"
	"hitless/internal/peers"
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
		pc := peers.Config{Name: p.Name, Local: p.Local, Synced: synced, Events: in.events}
		for _, pe := range p.Peers {
			if pe.Name == p.Local || pe.Addr == nil {
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

// startPeers runs the bound sections until the listeners close (soft or hard stop).
func (in *Instance) startPeers(sections []peersSection) {
	for _, ps := range sections {
		s := peers.Start(in.acceptCtx, ps.cfg, ps.ln)
		in.peers = append(in.peers, s)
		in.loops.Add(1)
		go func() {
			defer in.loops.Done()
			<-in.acceptCtx.Done()
			s.Wait()
		}()
	}
}
