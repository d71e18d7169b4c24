package instance

import (
	"testing"

	"hitless/internal/config"
)

// TestEveryServiceHasAnApplet: each name `http-request use-service` accepts has a row
// in services, and no row is unreachable.
func TestEveryServiceHasAnApplet(t *testing.T) {
	for name := range config.HTTPServices {
		if services[name] == nil {
			t.Errorf("service %q has no applet", name)
		}
	}
	for name := range services {
		if !config.HTTPServices[name] {
			t.Errorf("applet %q is not a service name the config accepts", name)
		}
	}
}
