package proxy

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wssproxy/wssproxy/ws"
)

// Metrics are the Prometheus metrics a Server counts into. They are owned
// by the caller, never package state: create them with NewMetrics, share
// one Metrics between the Servers of a process (Options.Metrics) and
// register it, a prometheus.Collector, on the caller's registry
// (prometheus.NewRegistry; the global default registry is never used). A
// Server given none makes its own (see Server.Metrics). Safe for
// concurrent use.
//
// Every name starts with MetricsPrefix:
//
//	connections_open{route}                  gauge: connections being relayed
//	connections_total{route}                 counter: connections relayed (both handshakes done)
//	relay_parked{route}                      gauge: directions of relayed connections parked while
//	                                         idle (no goroutine; see ws.Conn.ParkRead), two per
//	                                         fully idle connection
//	handshakes_refused_total{status}         counter: client handshakes answered with an HTTP error:
//	                                         400, 405, 426, 431 (bad requests), 404 (no route),
//	                                         403 (origin), 502 (upstream failed), 503 (a pause on SSL
//	                                         errors beyond the pending-decision limits)
//	client_handshake_failures_total{stage}   counter: client connections that ended before a request
//	                                         could be answered: proxy-header, tls, request, upstream
//	                                         (the client left while its upstream was being opened)
//	upstream_failures_total{route,reason}    counter: failed upstream legs (each answered 502):
//	                                         certificate, pause-aborted, pause-timeout,
//	                                         pause-cancelled, handshake, timeout, refused, unavailable
//	upstream_ssl_errors_total{route,kind}    counter: unaccepted tlsconf error kinds of failed
//	                                         upstream handshakes (one failure may count several)
//	upstream_tls_handshakes_total{route,resumed}
//	                                         counter: completed certificate TLS handshakes of
//	                                         upstream legs (Route.UpstreamTLS), resumed "true"
//	                                         when a cached session was resumed, else "false"
//	bytes_total{route,direction}             counter: payload bytes relayed, up (client to
//	                                         upstream) or down
//	messages_total{route,direction}          counter: data messages relayed
//	closes_total{route,leg,code}             counter: how each leg ended, by close code (1006 when
//	                                         it vanished)
//	keepalive_rtt_seconds{route,leg}         histogram: round trips of the proxy's keepalive pings
//	paused_handshakes_total                  counter: upstream handshakes paused on SSL errors that
//	                                         opened a decision (see CountPause)
//	pause_refused_total{route}               counter: client handshakes answered 503 because a pause
//	                                         would exceed the pending-decision limits
//
// Label values come from configuration (route names), fixed sets (legs,
// directions, reasons, error kinds) or close codes (the private ranges
// 3000-3999 and 4000-4999 are counted as "3xxx" and "4xxx"), so the number
// of series stays bounded whatever the peers send.
type Metrics struct {
	connectionsOpen         *prometheus.GaugeVec
	connectionsTotal        *prometheus.CounterVec
	relayParked             *prometheus.GaugeVec
	handshakesRefused       *prometheus.CounterVec
	clientHandshakeFailures *prometheus.CounterVec
	upstreamFailures        *prometheus.CounterVec
	upstreamSSLErrors       *prometheus.CounterVec
	upstreamTLSHandshakes   *prometheus.CounterVec
	bytes, messages         *prometheus.CounterVec
	closes                  *prometheus.CounterVec
	keepaliveRTT            *prometheus.HistogramVec
	pausedHandshakes        prometheus.Counter
	pauseRefused            *prometheus.CounterVec
}

// MetricsPrefix starts the name of every metric of Metrics.
const MetricsPrefix = "wssproxy_"

// rttBuckets are the upper bounds (seconds) of the keepalive RTT histogram.
var rttBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// NewMetrics returns a Metrics with every metric at zero, registered
// nowhere: register it on the registry that serves it.
func NewMetrics() *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricsPrefix + name, Help: help}, labels)
	}
	return &Metrics{
		connectionsOpen:         prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricsPrefix + "connections_open", Help: "Connections being relayed."}, []string{"route"}),
		connectionsTotal:        counter("connections_total", "Connections relayed (both handshakes done).", "route"),
		relayParked:             prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricsPrefix + "relay_parked", Help: "Directions of relayed connections parked while idle (no goroutine)."}, []string{"route"}),
		handshakesRefused:       counter("handshakes_refused_total", "Client handshakes answered with an HTTP error status.", "status"),
		clientHandshakeFailures: counter("client_handshake_failures_total", "Client connections that ended before their request could be answered.", "stage"),
		upstreamFailures:        counter("upstream_failures_total", "Upstream legs that failed (the client got 502).", "route", "reason"),
		upstreamSSLErrors:       counter("upstream_ssl_errors_total", "Unaccepted certificate problems of failed upstream handshakes.", "route", "kind"),
		upstreamTLSHandshakes:   counter("upstream_tls_handshakes_total", "Completed certificate TLS handshakes of upstream legs, by whether a cached session was resumed.", "route", "resumed"),
		bytes:                   counter("bytes_total", "Payload bytes relayed.", "route", "direction"),
		messages:                counter("messages_total", "Data messages relayed.", "route", "direction"),
		closes:                  counter("closes_total", "Legs of relayed connections closed, by close code.", "route", "leg", "code"),
		keepaliveRTT: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: MetricsPrefix + "keepalive_rtt_seconds", Help: "Round trip of the proxy's keepalive pings.", Buckets: rttBuckets,
		}, []string{"route", "leg"}),
		pausedHandshakes: prometheus.NewCounter(prometheus.CounterOpts{Name: MetricsPrefix + "paused_handshakes_total", Help: "Upstream handshakes paused on SSL errors."}),
		pauseRefused:     counter("pause_refused_total", "Client handshakes answered 503: a pause on SSL errors would exceed the pending-decision limits.", "route"),
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.connectionsOpen, m.connectionsTotal, m.relayParked, m.handshakesRefused, m.clientHandshakeFailures,
		m.upstreamFailures, m.upstreamSSLErrors, m.upstreamTLSHandshakes, m.bytes, m.messages, m.closes, m.keepaliveRTT,
		m.pausedHandshakes, m.pauseRefused,
	}
}

// Describe sends the descriptions of every metric (prometheus.Collector).
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect sends the current value of every series (prometheus.Collector).
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

// CountPause counts an upstream handshake paused on SSL errors that
// opened a decision. The proxy does not see pauses itself: call it from
// the tlsconf Policy.OnPause hook.
func (m *Metrics) CountPause() { m.pausedHandshakes.Inc() }

// closeCodeLabel is the code label of closes_total.
func closeCodeLabel(c ws.StatusCode) string {
	switch {
	case c >= 3000 && c < 4000:
		return "3xxx"
	case c >= 4000 && c < 5000:
		return "4xxx"
	}
	return strconv.Itoa(int(c))
}
