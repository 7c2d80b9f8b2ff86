package cli

import (
	"fmt"

	"github.com/wssproxy/wssproxy/proxy/netproxy"
)

// ProxyDialer turns a proxy flag into a dial function: "direct" (or "")
// dials directly (nil), "env" follows HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/
// NO_PROXY for scheme (ws or wss), and a URL (http://, https://, socks5://,
// socks5h://, user:pass@ allowed) goes through that proxy. Negotiate
// (Kerberos) towards an HTTP proxy uses the environment's settings
// (KRB5CCNAME, KRB5_CLIENT_KTNAME, KRB5_CONFIG, the default ccache): see
// netproxy.KerberosFromEnvironment.
func ProxyDialer(flagName, value, scheme string) (netproxy.DialFunc, error) {
	switch value {
	case "", "direct":
		return nil, nil
	case "env":
		d, err := netproxy.EnvironmentFromOS().Dialer(scheme, proxyOptions())
		if err != nil {
			return nil, fmt.Errorf("%s env: %w", flagName, err)
		}
		return d, nil
	}
	u, err := netproxy.ParseURL(value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	d, err := netproxy.New(u, proxyOptions())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	return d.DialContext, nil
}

// proxyOptions are the netproxy options of the proxy flags: Kerberos from
// the environment, every scheme allowed (Basic in clear only when the
// proxy offers nothing else).
func proxyOptions() *netproxy.Options {
	return &netproxy.Options{Kerberos: netproxy.KerberosFromEnvironment()}
}
