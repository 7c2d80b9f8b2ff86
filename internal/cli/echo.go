package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/internal/config"
	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

// echoConfig is the configuration of "wssproxy echo".
type echoConfig struct {
	listen   string
	certFile string
	keyFile  string
	maxMsg   int64
	grace    time.Duration
	// handshake bounds each upgrade: TLS handshake and request header,
	// and an idle connection after a refused request.
	handshake time.Duration
	log       LogFlags
}

const echoUsage = `Usage: wssproxy echo [--listen ADDR] [--cert F --key F] [--handshake-timeout D]

A WebSocket echo server: every message comes back with its type; a close
is answered with the same code and reason. With --cert/--key it serves wss.
A client that has not sent its whole upgrade request within
--handshake-timeout (default 10s) is disconnected.

Flags:
`

func parseEchoFlags(args []string, stderr io.Writer) (echoConfig, error) {
	var cfg echoConfig
	fs := flag.NewFlagSet("wssproxy echo", flag.ContinueOnError)
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	fs.StringVar(&cfg.certFile, "cert", "", "PEM certificate chain: serve wss (needs --key)")
	fs.StringVar(&cfg.keyFile, "key", "", "PEM private key for --cert")
	maxMsg := config.Size(ws.DefaultMaxIncomingMessageSize)
	fs.Var(&maxMsg, "max-message-size", "largest message (and frame) accepted (a `size`: bytes, or with KiB/MiB/GiB); larger closes with 1009")
	fs.DurationVar(&cfg.grace, "grace", 10*time.Second, "on SIGTERM/SIGINT, how long to wait for connections to close")
	fs.DurationVar(&cfg.handshake, "handshake-timeout", echo.DefaultHandshakeTimeout, "a client that has not sent its whole upgrade request (TLS handshake included) by then is disconnected")
	fs.StringVar(&cfg.log.Format, "log-format", "", "json or console (default: console on a terminal, else json)")
	fs.StringVar(&cfg.log.Level, "log-level", "info", "trace, debug, info, warn or error")
	if err := ParseFlags(fs, echoUsage, args, stderr); err != nil {
		return cfg, err
	}
	cfg.maxMsg = int64(maxMsg)
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if (cfg.certFile == "") != (cfg.keyFile == "") {
		return cfg, errors.New("--cert and --key go together")
	}
	if cfg.maxMsg <= 0 {
		return cfg, fmt.Errorf("--max-message-size must be positive, not %d", cfg.maxMsg)
	}
	if cfg.handshake <= 0 {
		return cfg, fmt.Errorf("--handshake-timeout must be positive, not %v", cfg.handshake)
	}
	return cfg, nil
}

// RunEcho runs "wssproxy echo": a WebSocket echo server on --listen (wss
// with --cert/--key) until ctx ends, then closes its connections with
// 1001 within --grace.
func RunEcho(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseEchoFlags(args, stderr)
	if code, done := UsageExit(stderr, "echo", err); done {
		return code
	}
	log, err := cfg.log.Logger(stderr)
	if code, done := UsageExit(stderr, "echo", err); done {
		return code
	}
	if err := serveEcho(ctx, cfg, stdout, log); err != nil {
		log.Error().Err(err).Msg("echo server failed")
		return 1
	}
	return 0
}

func serveEcho(ctx context.Context, cfg echoConfig, stdout io.Writer, log zerolog.Logger) error {
	scheme := "ws"
	var tlsConfig *tls.Config
	if cfg.certFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.certFile, cfg.keyFile)
		if err != nil {
			return fmt.Errorf("loading --cert/--key: %w", err)
		}
		tlsConfig = &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
			NextProtos:   []string{"http/1.1"},
		}
		scheme = "wss"
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.listen, err)
	}
	h := &echo.Handler{
		Accept: &ws.AcceptOptions{Options: ws.Options{
			MaxIncomingFrameSize:   cfg.maxMsg,
			MaxIncomingMessageSize: cfg.maxMsg,
		}},
		Logger: log,
	}
	srv := echo.Start(ln, h, &echo.ServerOptions{
		HandshakeTimeout: cfg.handshake,
		MaxHeaderBytes:   ws.DefaultMaxHeaderBytes,
		TLSConfig:        tlsConfig,
	})
	url := fmt.Sprintf("%s://%s/", scheme, ln.Addr())
	fmt.Fprintln(stdout, url)
	log.Info().Str("url", url).Float64("handshake_timeout_seconds", cfg.handshake.Seconds()).Msg("echo server listening")

	failed := false
	select {
	case <-srv.Done():
		failed = true // the listener failed: close the connections, report it
	case <-ctx.Done():
		log.Info().Float64("grace_seconds", cfg.grace.Seconds()).Msg("shutting down: closing connections with 1001")
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.grace)
	defer cancel()
	if failed {
		return srv.Shutdown(sctx, ws.StatusGoingAway, "server failed")
	}
	if err := srv.Shutdown(sctx, ws.StatusGoingAway, "server shutting down"); err != nil {
		if serr := srv.Err(); serr != nil {
			return serr
		}
		log.Warn().Err(err).Msg("connections aborted after the grace period")
	}
	return nil
}
