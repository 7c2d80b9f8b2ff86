package servecmd

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/internal/cli"
	"github.com/wssproxy/wssproxy/proxy"
)

// announce prints where the listener serves what, with the pin and CA a
// client needs and a command to try it.
func (bl *builtListener) announce(stdout io.Writer) {
	scheme := bl.scheme()
	for i, r := range bl.routes {
		fmt.Fprintf(stdout, "wssproxy: serving %s%s -> %s\n", bl.routeURL(r), hostNote(r), bl.upstreamName(i))
	}
	if bl.pin != "" {
		fmt.Fprintf(stdout, "certificate pin: %s\n", bl.pin)
	}
	if bl.caFile != "" {
		fmt.Fprintf(stdout, "trust this CA:   %s\n", bl.caFile)
	}
	if bl.caFile != "" || bl.tls == nil && !bl.psk {
		if cmd, why := tryCommand(scheme, bl.ln.Addr(), bl.routes, bl.tls, bl.caFile); cmd != "" {
			fmt.Fprintf(stdout, "try it:          %s\n", cmd)
		} else {
			fmt.Fprintf(stdout, "try it:          no command: %s\n", why)
		}
	}
	if bl.psk {
		from := bl.cfg.PSKFile
		if bl.cfg.PSKStore {
			from = "the etcd trust store (watched)"
		}
		fmt.Fprintf(stdout, "TLS-PSK clients: keys from %s (wssproxy client %s --psk-identity ID --psk-key-file F)\n", from, bl.routeURL(bl.routes[0]))
	}
}

// logServing logs what announce printed, one line per route.
func (bl *builtListener) logServing(log zerolog.Logger) {
	for i, r := range bl.routes {
		log.Info().Str("url", bl.routeURL(r)).Str("host", r.Host).Str("upstream", bl.upstreamName(i)).Str("route", r.EffectiveName()).Msg("serving")
	}
}

func (bl *builtListener) scheme() string {
	if bl.tls != nil || bl.psk {
		return "wss"
	}
	return "ws"
}

// routeURL is the listener's URL for a route's path.
func (bl *builtListener) routeURL(r proxy.Route) string {
	if r.Path == "" || r.Path == "/" {
		return fmt.Sprintf("%s://%s/", bl.scheme(), bl.ln.Addr())
	}
	return fmt.Sprintf("%s://%s%s", bl.scheme(), bl.ln.Addr(), r.Path)
}

func hostNote(r proxy.Route) string {
	if r.Host == "" {
		return ""
	}
	return " (host " + r.Host + ")"
}

func (bl *builtListener) upstreamName(i int) string {
	if bl.cfg.Routes[i].Upstream == "" {
		return "built-in echo server"
	}
	return bl.routes[i].Upstream
}

// tryCommand returns the "wssproxy client" command that reaches one of a
// listener's routes from this machine, or "" and why none can be
// derived. addr is the listener's address, scheme ws or wss; caFile is
// the dev CA to trust ("" for none). The route chosen is the first that
// matches every host (so the URL's own host is accepted), else the first;
// a route bound to a host gets a Host header naming it (the certificate
// is still checked for the address), and a route with an Origin
// allow-list gets the first allowed origin.
func tryCommand(scheme string, addr net.Addr, routes []proxy.Route, tlsConfig *tls.Config, caFile string) (cmd, why string) {
	if len(routes) == 0 {
		return "", "the listener has no route"
	}
	if tlsConfig != nil && tlsConfig.ClientAuth >= tls.RequireAnyClientCert {
		return "", "the listener requires a client certificate (add --cert F --key F)"
	}
	r := routes[0]
	for _, c := range routes {
		if c.Host == "" {
			r = c
			break
		}
	}
	host := addr.String()
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		// Listening on every address: loopback is one of them.
		loop := "127.0.0.1"
		if ta.IP.To4() == nil {
			loop = "::1"
		}
		host = net.JoinHostPort(loop, strconv.Itoa(ta.Port))
	}
	path := r.Path
	if path == "" {
		path = "/"
	}
	args := []string{"wssproxy", "client", cli.ShellQuote(scheme + "://" + host + path)}
	if caFile != "" {
		args = append(args, "--ca", cli.ShellQuote(caFile))
	}
	if r.Host != "" {
		args = append(args, "--header", cli.ShellQuote("Host: "+r.Host))
	}
	if len(r.AllowedOrigins) > 0 {
		args = append(args, "--origin", cli.ShellQuote(r.AllowedOrigins[0]))
	}
	return strings.Join(args, " "), ""
}
