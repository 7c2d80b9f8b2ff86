package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
)

// Options configure a Server; nil means defaults, and New copies them.
type Options struct {
	// Routes map requests to upstreams; at least one is required.
	Routes []Route
	// TLS, if set, makes the client leg wss (certificates from certs, or a
	// tlsconf.ServerConfig); nil serves plain ws.
	TLS *tls.Config
	// PSK, if set, accepts TLS 1.3 external-PSK clients (devices without
	// certificates) on the same port as TLS's certificate clients: each
	// ClientHello is routed to the PSK stack or to crypto/tls. With PSK
	// and no TLS the port serves PSK clients only.
	PSK *psk.ServerConfig
	// MaxConnections bounds the connections being served at once; more
	// wait in the listen backlog. Default 10000.
	MaxConnections int
	// MaxHeaderBytes bounds the request head; more gets 431. Default 16 KiB.
	MaxHeaderBytes int
	// HandshakeTimeout bounds the TLS and WebSocket handshakes of the
	// client leg up to its request (slowloris-safe); the upstream leg is
	// then bounded by Route.UpstreamTimeout. Default 10s.
	HandshakeTimeout time.Duration
	// CloseTimeout bounds each leg's closing handshake. Default 5s.
	CloseTimeout time.Duration
	// TrustedProxies lists the load balancers whose PROXY protocol (v1 or
	// v2) header is read to learn the real client address. Connections
	// from elsewhere never have a PROXY header parsed. It does not make
	// their clients' forwarding headers trusted (see TrustedForwarders):
	// a layer-4 balancer passes on whatever its clients send.
	TrustedProxies []netip.Prefix
	// TrustedForwarders lists the HTTP proxies (layer 7) whose
	// X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, Forwarded and
	// X-Real-IP headers are passed upstream, the proxy appending its own
	// hop to X-Forwarded-For and Forwarded. The client address checked is
	// the connection's peer, or the address a PROXY header named. From any
	// other client these headers (and their spellings with underscores)
	// are dropped and the upstream sees only the proxy's, naming the
	// client, as Caddy's trusted_proxies does. Empty: trust nobody.
	TrustedForwarders []netip.Prefix
	// Logger receives one line per connection open and close; the zero
	// value logs nothing.
	Logger zerolog.Logger
	// Metrics receives the Server's counts (see Metrics); share one
	// between the Servers of a process. nil: the Server makes its own,
	// returned by Server.Metrics.
	Metrics *Metrics
	// NextID, if set, numbers connections (log field "conn",
	// ConnectionInfo.ID); give Servers sharing an admin API one counter so
	// that ids are unique among them. nil numbers from 1 per Server.
	NextID func() uint64

	// parkAfter is how long a relay direction waits for a frame before it
	// is parked (defaultParkAfter if 0, never if negative); tests shorten
	// it.
	parkAfter time.Duration
}

// defaultParkAfter is how long an idle relay direction keeps its pump
// goroutine before it is parked on the Server's Poller. Parking and
// resuming cost a few system calls and a new goroutine, nothing next to
// a second of silence; an idle connection then costs no goroutine stack.
const defaultParkAfter = time.Second

// Server accepts client legs and relays them to their routes' upstreams.
type Server struct {
	opts   Options
	routes []*Route
	sem    chan struct{}

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	pairs     map[*pair]struct{}
	closing   bool
	// closeCode and closeReason are Shutdown's, for relays that start
	// while it runs.
	closeCode   ws.StatusCode
	closeReason string
	serving     int // Serve calls accepting
	conns       sync.WaitGroup
	nextID      atomic.Uint64
	// aborted ends when Shutdown's grace runs out: connections still in
	// their handshakes (client TLS, request, upstream dial) stop then.
	aborted context.Context
	abort   context.CancelFunc
	// poller holds the relay directions parked while idle.
	poller ws.Poller
}

// New checks the options and returns a Server.
func New(opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if len(o.Routes) == 0 {
		return nil, errors.New("proxy: no routes")
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = 10000
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = ws.DefaultMaxHeaderBytes
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = ws.DefaultCloseTimeout
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	switch {
	case o.parkAfter == 0:
		o.parkAfter = defaultParkAfter
	case o.parkAfter < 0:
		o.parkAfter = 0
	}
	s := &Server{
		opts:      o,
		sem:       make(chan struct{}, o.MaxConnections),
		listeners: map[net.Listener]struct{}{},
		pairs:     map[*pair]struct{}{},
	}
	s.aborted, s.abort = context.WithCancel(context.Background())
	for i := range o.Routes {
		r := o.Routes[i] // copy: the caller's slice stays untouched
		r.AllowedOrigins = append([]string(nil), r.AllowedOrigins...)
		if err := r.compile(); err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		s.routes = append(s.routes, &r)
	}
	return s, nil
}

// Serve accepts connections on ln until Shutdown or ctx ends, serving each
// on its own goroutine. It returns nil after Shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	s.serving++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.serving--
		s.mu.Unlock()
	}()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var backoff time.Duration
	for {
		// Capacity is taken before Accept: excess clients wait in the backlog.
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		nc, err := ln.Accept()
		if err != nil {
			<-s.sem
			if s.isClosing() || ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.opts.Logger.Warn().Err(err).Float64("retry_in_seconds", backoff.Seconds()).Msg("accept failed")
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("proxy: accept: %w", err)
		}
		backoff = 0
		// Add under mu, ordered with Shutdown's closing flag: a connection
		// accepted as Shutdown starts is refused, never missed by its Wait.
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			<-s.sem
			nc.Close()
			return nil
		}
		s.conns.Add(1)
		s.mu.Unlock()
		go s.serveConn(ctx, nc, func() {
			<-s.sem
			s.conns.Done()
		})
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Shutdown stops accepting, closes every relayed connection's legs with
// code (1001 going away, 1012 for a restart) and waits for them, or until
// ctx ends, when the rest (and those still in their handshakes) are
// aborted.
func (s *Server) Shutdown(ctx context.Context, code ws.StatusCode, reason string) error {
	s.mu.Lock()
	s.closing = true
	s.closeCode, s.closeReason = code, reason
	for ln := range s.listeners {
		ln.Close()
	}
	pairs := make([]*pair, 0, len(s.pairs))
	for p := range s.pairs {
		pairs = append(pairs, p)
	}
	s.mu.Unlock()
	var closers sync.WaitGroup
	for _, p := range pairs {
		closers.Go(func() { p.shutdown(code, reason) })
	}
	done := make(chan struct{})
	go func() { closers.Wait(); s.conns.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.abort()
		s.mu.Lock()
		for p := range s.pairs {
			p.client.conn.Abort()
			p.upstream.conn.Abort()
		}
		s.mu.Unlock()
		<-done
		return fmt.Errorf("proxy: shutdown: %w", ctx.Err())
	}
}

// ServeConn serves one client connection: PROXY header (from trusted
// proxies), TLS, the WebSocket handshake, the upstream, then the relay.
// It returns when the connection is closed.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn) {
	done := make(chan struct{})
	s.serveConn(ctx, nc, func() { close(done) })
	<-done
}

// serveConn is ServeConn without the wait: it returns once the relay runs
// on goroutines of its own (so that the stack the handshakes grew is
// freed), or when the connection ended before; done is called when the
// connection is closed.
func (s *Server) serveConn(ctx context.Context, nc net.Conn, done func()) {
	var id uint64
	if s.opts.NextID != nil {
		id = s.opts.NextID()
	} else {
		id = s.nextID.Add(1)
	}
	m := s.opts.Metrics
	log := s.opts.Logger.With().Uint64("conn", id).Logger()
	ctx, cancel := context.WithCancel(ctx)
	stopAbort := context.AfterFunc(s.aborted, cancel)
	// release ends the connection: here if it ends before the relay
	// starts, else when the relay ends.
	raw := nc
	release := func() {
		stopAbort()
		cancel()
		raw.Close()
		done()
	}
	relaying := false
	defer func() {
		if !relaying {
			release()
		}
	}()
	clientAddr := nc.RemoteAddr().String()
	deadline := time.Now().Add(s.opts.HandshakeTimeout)
	_ = nc.SetDeadline(deadline)
	if s.trusted(nc.RemoteAddr()) {
		pc, src, err := readProxyHeader(nc)
		if err != nil {
			log.Warn().Err(err).Str("peer", clientAddr).Msg("bad PROXY protocol header")
			m.clientHandshakeFailures.WithLabelValues("proxy-header").Inc()
			return
		}
		nc = pc
		if src != "" {
			clientAddr = src
		}
	}
	secure := s.opts.TLS != nil || s.opts.PSK != nil
	if secure {
		var err error
		nc, err = s.secure(ctx, nc, deadline, &log)
		if err != nil {
			// Info, with the cause: a device with a wrong PSK key or a
			// client refusing the certificate must show in a normal log.
			// A peer that closed before sending a byte (a TCP health
			// check, a port scan) is only worth debug.
			ev := log.Info()
			if errors.Is(err, io.EOF) {
				ev = log.Debug()
			}
			ev.Err(err).Str("peer", clientAddr).Msg("client TLS handshake failed")
			m.clientHandshakeFailures.WithLabelValues("tls").Inc()
			return
		}
	}
	hctx, cancelRequest := context.WithDeadline(ctx, deadline)
	up, err := ws.ReadUpgrade(hctx, nc, &ws.AcceptOptions{
		MaxHeaderBytes:   s.opts.MaxHeaderBytes,
		HandshakeTimeout: s.opts.HandshakeTimeout,
	})
	cancelRequest() // its timer would otherwise live as long as the connection
	if err != nil {
		log.Debug().Err(err).Str("peer", clientAddr).Msg("client handshake refused")
		countRefusal(m, err)
		return
	}
	clientIP := clientAddr
	if h, _, err := net.SplitHostPort(clientAddr); err == nil {
		clientIP = h
	}
	if !inPrefixes(clientIP, s.opts.TrustedForwarders) {
		dropForwarding(up.Request.Header)
	}
	if err := checkPath(up.Request.URL); err != nil {
		_ = up.Reject(http.StatusBadRequest, "path refused: "+err.Error())
		m.handshakesRefused.WithLabelValues("400").Inc()
		log.Info().Err(err).Str("peer", clientAddr).Str("path", up.Request.URL.EscapedPath()).Msg("path refused")
		return
	}
	route := s.route(up.Request)
	if route == nil {
		_ = up.Reject(http.StatusNotFound, "no route for this host and path")
		m.handshakesRefused.WithLabelValues("404").Inc()
		log.Info().Str("peer", clientAddr).Str("host", up.Request.Host).Str("path", up.Request.URL.Path).Msg("no route")
		return
	}
	log = log.With().Str("route", route.Name).Str("peer", clientAddr).Logger()
	if err := route.originAllowed(up.Request); err != nil {
		_ = up.Reject(http.StatusForbidden, err.Error())
		m.handshakesRefused.WithLabelValues("403").Inc()
		log.Info().Err(err).Msg("origin refused")
		return
	}
	// The upstream leg has its own bound (Route.UpstreamTimeout), which
	// covers a pause on SSL errors: the client's handshake deadline ends
	// with its request. A client leaving meanwhile cancels it at once.
	upstream, err := s.openUpstream(ctx, route, up, clientIP, secure)
	if err != nil {
		s.refuseUpstream(log, route, up, err)
		return
	}
	client, err := up.Accept(ctx, upstream.Subprotocol(), upstream.Extensions(), s.legOptions(route))
	if err != nil {
		upstream.Close(ws.StatusGoingAway, "client handshake failed")
		log.Warn().Err(err).Msg("answering the client failed")
		return
	}
	relaying = s.relay(ctx, log, route, client, upstream, secure, connInfo{id: id, peer: clientAddr}, release)
	if relaying {
		// Shutdown's grace running out aborts relayed pairs itself
		// (s.pairs): the watch of s.aborted is only for handshakes.
		stopAbort()
	}
}

// secure runs the client leg's TLS handshake: crypto/tls, or the PSK
// stack for PSK clients when Options.PSK is set. PSK identities are
// logged (they travel in clear); keys never are.
func (s *Server) secure(ctx context.Context, nc net.Conn, deadline time.Time, log *zerolog.Logger) (net.Conn, error) {
	hctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if s.opts.PSK == nil {
		tc := tls.Server(nc, s.opts.TLS)
		return tc, tc.HandshakeContext(hctx)
	}
	mc := psk.Mux(nc, s.opts.PSK, s.opts.TLS)
	if err := mc.HandshakeContext(hctx); err != nil {
		return nil, err
	}
	if pc := mc.PSK(); pc != nil {
		*log = log.With().Bytes("psk_identity", pc.ConnectionState().Identity).Logger()
	}
	return mc, nil
}

// relay starts the frame relay for an accepted pair and reports whether
// it runs; when it ends, its summary is logged and release is called. If
// the server is shutting down, the pair is closed at once and relay
// returns false.
func (s *Server) relay(ctx context.Context, log zerolog.Logger, route *Route, client, upstream *ws.Conn, secure bool, info connInfo, release func()) bool {
	m := s.opts.Metrics
	clientLeg, upstreamLeg := "ws", route.upstream.Scheme
	if secure {
		clientLeg = "wss"
	}
	info.route, info.legs = route.Name, clientLeg+"->"+upstreamLeg
	info.upstream, info.subprotocol = upstream.URL().Redacted(), upstream.Subprotocol()
	info.started = time.Now()
	p := &pair{
		info:     info,
		client:   newLeg("client", client, m, route.Name, "up"),
		upstream: newLeg("upstream", upstream, m, route.Name, "down"),
		opts: relayOptions{
			outgoingFrameSize: int64(route.OutgoingFrameSize),
			maxTinyFrameRate:  route.MaxTinyFrameRate,
			maxControlRate:    route.MaxControlRate,
			pingInterval:      route.PingInterval,
			pongTimeout:       route.PongTimeout,
			idleTimeout:       route.IdleTimeout,
			parkAfter:         s.opts.parkAfter,
		},
		poller: &s.poller,
	}
	p.bind(ctx)
	s.mu.Lock()
	if s.closing {
		code, reason := s.closeCode, s.closeReason
		s.mu.Unlock()
		p.shutdown(code, reason)
		p.abort()
		return false
	}
	s.pairs[p] = struct{}{}
	s.mu.Unlock()
	open := m.connectionsOpen.WithLabelValues(route.Name)
	open.Add(1)
	m.connectionsTotal.WithLabelValues(route.Name).Inc()
	// The closing line is info, like the opening one: when info lines are
	// off (or the logger is the zero value), the connection's logger (its
	// fields, a few hundred bytes) is not kept for the connection's life.
	var closeLog *zerolog.Logger
	if ev := log.Info(); ev.Enabled() {
		closeLog = &log
		ev.Str("legs", info.legs).Str("upstream", info.upstream).
			Str("subprotocol", info.subprotocol).Msg("connection open")
	}
	p.start(ctx, func(res relayResult) {
		p.cancel()
		s.mu.Lock()
		delete(s.pairs, p)
		s.mu.Unlock()
		open.Add(-1)
		m.closes.WithLabelValues(route.Name, "client", closeCodeLabel(res.clientCode)).Inc()
		m.closes.WithLabelValues(route.Name, "upstream", closeCodeLabel(res.upstreamCode)).Inc()
		if closeLog == nil {
			release()
			return
		}
		info := &p.info
		closeLog.Info().
			Str("legs", info.legs).
			Str("ended_by", res.initiator).Str("cause", res.cause).
			Uint16("client_close", uint16(res.clientCode)).Uint16("upstream_close", uint16(res.upstreamCode)).
			Int64("bytes_up", p.client.stats.bytes.Load()).Int64("bytes_down", p.upstream.stats.bytes.Load()).
			Int64("messages_up", p.client.stats.messages.Load()).Int64("messages_down", p.upstream.stats.messages.Load()).
			Float64("duration_seconds", time.Since(info.started).Seconds()).
			Msg("connection closed")
		release()
	})
	return true
}

// route picks the most specific route for a request.
func (s *Server) route(req *http.Request) *Route {
	host := hostOnly(req.Host)
	var best *Route
	bestScore := -1
	for _, r := range s.routes {
		if ok, score := r.matches(host, req.URL.Path); ok && score > bestScore {
			best, bestScore = r, score
		}
	}
	return best
}

// legOptions are the ws options of both legs of a route.
func (s *Server) legOptions(r *Route) *ws.Options {
	return &ws.Options{
		MaxIncomingFrameSize:   r.MaxFrameSize,
		MaxIncomingMessageSize: r.MaxMessageSize,
		OutgoingFrameSize:      r.OutgoingFrameSize,
		CloseTimeout:           s.opts.CloseTimeout,
		FrameTimeout:           r.FrameTimeout,
		WriteTimeout:           r.WriteTimeout,
		DeferFlush:             true, // the relay flushes when no further frame is at hand
		DisableAutoPong:        true, // peer pings travel end to end
		ManualCloseReply:       true, // a close is answered once the other leg answered it
		DiscardHandshake:       true, // read before the legs open; not kept for the connection's life
	}
}

// trusted reports whether addr may send a PROXY protocol header.
func (s *Server) trusted(addr net.Addr) bool {
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return inPrefixes(host, s.opts.TrustedProxies)
}

// inPrefixes reports whether the IP address ip is in one of list.
func inPrefixes(ip string, list []netip.Prefix) bool {
	if len(list) == 0 {
		return false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
