package main

import (
	"fmt"

	"github.com/wssproxy/wssproxy/proxy/netproxy"
)

// proxyDialer turns a proxy flag into a dial function: "direct" (or "")
// dials directly (nil), "env" follows HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/
// NO_PROXY for scheme (ws or wss), and a URL (http://, https://, socks5://,
// socks5h://, user:pass@ allowed) goes through that proxy.
func proxyDialer(flagName, value, scheme string) (netproxy.DialFunc, error) {
	switch value {
	case "", "direct":
		return nil, nil
	case "env":
		d, err := netproxy.EnvironmentFromOS().Dialer(scheme, nil)
		if err != nil {
			return nil, fmt.Errorf("%s env: %w", flagName, err)
		}
		return d, nil
	}
	u, err := netproxy.ParseURL(value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	d, err := netproxy.New(u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	return d.DialContext, nil
}
