package config_test

import (
	"flag"
	"fmt"

	"github.com/wssproxy/wssproxy/internal/config"
)

// A file's content is checked whole; an error names the line and the key.
func ExampleParse() {
	cfg, err := config.Parse([]byte(`
listeners:
  - listen: 127.0.0.1:9000
    routes:
      - path: /chat
        upstream: ws://127.0.0.1:9001/
        max_message_size: 1MiB
        ping_interval: 0s      # off
`), "wssproxy.yaml", "/etc/wssproxy")
	if err != nil {
		panic(err)
	}
	r := cfg.Listeners[0].Routes[0]
	fmt.Println(r.Where, r.MaxMessageSize, r.PingInterval.D(), r.FrameTimeout.D())

	_, err = config.Parse([]byte("listeners:\n  - listen: 127.0.0.1:9000\n    routes: [{upstream: 'ws://x/', max_msg_size: 1}]\n"), "wssproxy.yaml", "")
	fmt.Println(err)
	// Output:
	// wssproxy.yaml:5: listeners[0].routes[0] 1048576 0s 30s
	// wssproxy.yaml:3: listeners[0].routes[0].max_msg_size: unknown key (known here: allowed_origins, extensions, frame_timeout, host, idle_timeout, max_control_rate, max_frame_size, max_message_size, max_tiny_frame_rate, name, outgoing_frame_size, path, ping_interval, pong_timeout, strip_path, upstream, upstream_proxy, upstream_psk, upstream_timeout, upstream_tls, write_timeout)
}

// The flags of serve fill the same structs: one listener, one route.
func ExampleNewServeFlags() {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	sf := config.NewServeFlags(fs)
	if err := fs.Parse([]string{"--listen", "127.0.0.1:9000", "--upstream", "ws://127.0.0.1:9001/", "--max-message-size", "1MiB"}); err != nil {
		panic(err)
	}
	cfg, _, _, err := sf.Config()
	if err != nil {
		panic(err)
	}
	r := cfg.Listeners[0].Routes[0]
	fmt.Println(cfg.Listeners[0].Listen, r.Upstream, r.MaxMessageSize.String(), r.MaxFrameSize.String())
	// Output:
	// 127.0.0.1:9000 ws://127.0.0.1:9001/ 1MiB 32MiB
}
