package config

import (
	"testing"
	"time"
)

// TestServerOptions: what server and default-server lines set, with no- forms and
// default-server inheritance.
func TestServerOptions(t *testing.T) {
	cfg, err := LoadBytes("t.cfg", []byte(base+`
backend b
    fullconn 300
    default-server check-send-proxy send-proxy-v2 agent-port 9999 slowstart 30s
    server s1 127.0.0.1 check port 8080 addr 127.0.0.9 minconn 10 maxconn 100 id 7
    server s2 127.0.0.1:-10 no-check-send-proxy no-send-proxy-v2 agent-check agent-inter 3s agent-send "ping\n" source 127.0.0.1:0 tfo
    server s3 no-such-host.invalid:80 init-addr libc,none
    server s4 no-such-host.invalid:81 init-addr 10.0.0.7 track s1 on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions
    server s5 127.0.0.1:82 send-proxy proxy-v2-options crc32c,unique-id non-stick
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var b *Proxy
	for _, p := range cfg.Proxies {
		if p.Name == "b" {
			b = p
		}
	}
	s := b.Servers
	checks := []struct {
		name string
		ok   bool
	}{
		{"s1 port-less", s[0].PortMode == PortClient && s[0].CheckPort == 8080 && s[0].CheckAddr == "127.0.0.9"},
		{"s1 from default-server", s[0].CheckSendProxy && s[0].SendProxy == 2 && s[0].Agent.Port == 9999 && s[0].Slowstart == 30*time.Second},
		{"s1 minconn id", s[0].MinConn == 10 && s[0].MaxConn == 100 && s[0].ID == 7 && b.FullConn == 300},
		{"s2 offset", s[1].PortMode == PortOffset && s[1].Port == -10},
		{"s2 no- forms", !s[1].CheckSendProxy && s[1].SendProxy == 0},
		{"s2 agent", s[1].Agent.Enabled && s[1].Agent.Inter == 3*time.Second && s[1].Agent.Send == "ping\n"},
		{"s2 source tfo", s[1].Source == "127.0.0.1:0" && s[1].TFO},
		{"s3 init-addr none", s[2].Disabled && s[2].Host == "0.0.0.0" && s[2].Port == 80},
		{"s4 init-addr ip", s[3].Host == "10.0.0.7" && s[3].Port == 81 && s[3].TrackServer == s[0]},
		{"s4 on-marked", s[3].OnMarkedDown == "shutdown-sessions" && s[3].OnMarkedUp == "shutdown-backup-sessions"},
		{"s5 proxy", s[4].SendProxy == 1 && len(s[4].ProxyV2Options) == 2 && s[4].NonStick},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: %+v", c.name, s)
		}
	}
}
