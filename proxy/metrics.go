package proxy

import (
	"bufio"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wssproxy/wssproxy/ws"
)

// Metrics are the counters, gauges and histograms a Server counts into.
// They are handles owned by the caller, never package state: share one
// Metrics between the Servers of a process (Options.Metrics) and expose it
// with WritePrometheus. Create it with NewMetrics; a Server given none
// makes its own (see Server.Metrics). All methods are safe for concurrent
// use.
//
// Label values come from configuration (route names), fixed sets (legs,
// directions, reasons, error kinds) or close codes (the private ranges
// 3000-3999 and 4000-4999 are counted as "3xxx" and "4xxx"), so the number
// of series stays bounded whatever the peers send.
type Metrics struct {
	// ConnectionsOpen is the number of connections being relayed, by route.
	ConnectionsOpen *GaugeVec
	// ConnectionsTotal counts connections relayed (both handshakes done),
	// by route.
	ConnectionsTotal *CounterVec
	// HandshakesRefused counts client handshakes answered with an HTTP
	// error, by status: 400, 405, 426, 431 (bad requests), 404 (no route),
	// 403 (origin), 502 (upstream failed), 503 (the upstream's
	// certificate would need a pause beyond the pending-decision limits).
	HandshakesRefused *CounterVec
	// ClientHandshakeFailures counts client connections that ended before
	// a request could be answered, by stage: proxy-header, tls, request,
	// upstream (the client left, or sent data, while its upstream was
	// being opened, a pause on SSL errors included; the upstream
	// connection is then closed at once).
	ClientHandshakeFailures *CounterVec
	// UpstreamFailures counts failed upstream legs (each answered 502), by
	// route and reason: certificate, pause-aborted, pause-timeout,
	// pause-cancelled (Route.UpstreamTimeout passed or the Server shut
	// down during the pause), handshake (the upstream refused the WebSocket handshake), timeout,
	// refused, unavailable.
	UpstreamFailures *CounterVec
	// UpstreamSSLErrors counts the unaccepted tlsconf errors of failed
	// upstream handshakes, by route and kind (the kebab-case tlsconf
	// ErrorKind names); one failure may count several kinds.
	UpstreamSSLErrors *CounterVec
	// Bytes and Messages count the data relayed, by route and direction:
	// up (client to upstream) and down (upstream to client). Bytes are
	// payload bytes of data and control frames relayed.
	Bytes, Messages *CounterVec
	// Closes counts how each leg of a relayed connection ended, by route,
	// leg (client, upstream) and close code (1006 when it vanished).
	Closes *CounterVec
	// KeepaliveRTT observes the round trip of the proxy's own keepalive
	// pings, in seconds, by route and leg.
	KeepaliveRTT *HistogramVec
	// PausedHandshakes counts upstream handshakes paused on SSL errors
	// that opened a decision (those joining a pending decision for the
	// same certificate are not counted again). The proxy does not see
	// pauses itself: count them from the tlsconf Policy.OnPause hook with
	// PausedHandshakes.Inc().
	PausedHandshakes *Counter
	// PauseRefused counts client handshakes answered 503 because their
	// upstream's certificate would have opened a pause beyond the
	// pending-decision limits (tlsconf.ErrTooManyPending), by route.
	PauseRefused *CounterVec
}

// rttBuckets are the upper bounds (seconds) of the KeepaliveRTT histogram.
var rttBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// NewMetrics returns a Metrics with every handle created and at zero.
func NewMetrics() *Metrics {
	return &Metrics{
		ConnectionsOpen:         newGaugeVec("connections_open", "Connections being relayed.", "route"),
		ConnectionsTotal:        newCounterVec("connections_total", "Connections relayed (both handshakes done).", "route"),
		HandshakesRefused:       newCounterVec("handshakes_refused_total", "Client handshakes answered with an HTTP error status.", "status"),
		ClientHandshakeFailures: newCounterVec("client_handshake_failures_total", "Client connections that ended before their request could be answered.", "stage"),
		UpstreamFailures:        newCounterVec("upstream_failures_total", "Upstream legs that failed (the client got 502).", "route", "reason"),
		UpstreamSSLErrors:       newCounterVec("upstream_ssl_errors_total", "Unaccepted certificate problems of failed upstream handshakes.", "route", "kind"),
		Bytes:                   newCounterVec("bytes_total", "Payload bytes relayed.", "route", "direction"),
		Messages:                newCounterVec("messages_total", "Data messages relayed.", "route", "direction"),
		Closes:                  newCounterVec("closes_total", "Legs of relayed connections closed, by close code.", "route", "leg", "code"),
		KeepaliveRTT:            newHistogramVec("keepalive_rtt_seconds", "Round trip of the proxy's keepalive pings.", rttBuckets, "route", "leg"),
		PausedHandshakes:        &Counter{},
		PauseRefused:            newCounterVec("pause_refused_total", "Client handshakes answered 503: a pause on SSL errors would exceed the pending-decision limits.", "route"),
	}
}

// MetricsPrefix starts the name of every metric WritePrometheus writes.
const MetricsPrefix = "wssproxy_"

// WritePrometheus writes every metric in the Prometheus text exposition
// format (version 0.0.4), names prefixed with MetricsPrefix, series
// sorted by label values.
func (m *Metrics) WritePrometheus(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, f := range []family{
		m.ConnectionsOpen, m.ConnectionsTotal, m.HandshakesRefused, m.ClientHandshakeFailures,
		m.UpstreamFailures, m.UpstreamSSLErrors, m.Bytes, m.Messages, m.Closes, m.KeepaliveRTT, m.PauseRefused,
	} {
		f.write(bw)
	}
	WriteMetricHeader(bw, "paused_handshakes_total", "counter", "Upstream handshakes paused on SSL errors.")
	bw.WriteString(MetricsPrefix + "paused_handshakes_total " + strconv.FormatUint(m.PausedHandshakes.Value(), 10) + "\n")
	return bw.Flush()
}

// WriteMetricHeader writes the # HELP and # TYPE lines of a metric named
// MetricsPrefix+name, for callers adding their own metrics after
// WritePrometheus.
func WriteMetricHeader(w io.StringWriter, name, typ, help string) {
	help = strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(help)
	w.WriteString("# HELP " + MetricsPrefix + name + " " + help + "\n")
	w.WriteString("# TYPE " + MetricsPrefix + name + " " + typ + "\n")
}

// closeCodeLabel is the code label of Closes.
func closeCodeLabel(c ws.StatusCode) string {
	switch {
	case c >= 3000 && c < 4000:
		return "3xxx"
	case c >= 4000 && c < 5000:
		return "4xxx"
	}
	return strconv.Itoa(int(c))
}

// Counter is a monotonically increasing count. A nil *Counter ignores
// updates and reads 0.
type Counter struct{ v atomic.Uint64 }

// Inc adds 1.
func (c *Counter) Inc() { c.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) {
	if c != nil {
		c.v.Add(n)
	}
}

// Value returns the count.
func (c *Counter) Value() uint64 {
	if c == nil {
		return 0
	}
	return c.v.Load()
}

// Gauge is a value that goes up and down. A nil *Gauge ignores updates and
// reads 0.
type Gauge struct{ v atomic.Int64 }

// Add adds n (negative to subtract).
func (g *Gauge) Add(n int64) {
	if g != nil {
		g.v.Add(n)
	}
}

// Value returns the current value.
func (g *Gauge) Value() int64 {
	if g == nil {
		return 0
	}
	return g.v.Load()
}

// Histogram counts observations into buckets with fixed upper bounds. A
// nil *Histogram ignores observations.
type Histogram struct {
	bounds []float64 // shared with its vector; read-only
	counts []atomic.Uint64
	count  atomic.Uint64
	sum    atomic.Uint64 // float64 bits
}

// Observe records one value.
func (h *Histogram) Observe(v float64) {
	if h == nil {
		return
	}
	i, _ := slices.BinarySearch(h.bounds, v) // first bound >= v: le is inclusive
	if i < len(h.counts) {
		h.counts[i].Add(1)
	}
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
	h.count.Add(1)
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 {
	if h == nil {
		return 0
	}
	return h.count.Load()
}

// vec is a metric family: one child per combination of label values.
type vec[M any] struct {
	name, help, typ string
	labels          []string
	newChild        func() *M
	mu              sync.Mutex
	children        map[string]*child[M]
}

type child[M any] struct {
	values []string
	m      *M
}

func newVec[M any](name, help, typ string, labels []string, newChild func() *M) vec[M] {
	return vec[M]{name: name, help: help, typ: typ, labels: labels, newChild: newChild, children: map[string]*child[M]{}}
}

// With returns the child for the label values, in the order of the
// family's labels (missing values are ""), creating it at zero. A nil
// family returns nil, which ignores updates.
func (v *vec[M]) With(values ...string) *M {
	if v == nil {
		return nil
	}
	vals := make([]string, len(v.labels))
	copy(vals, values)
	key := strings.Join(vals, "\xff")
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.children[key]
	if !ok {
		c = &child[M]{values: vals, m: v.newChild()}
		v.children[key] = c
	}
	return c.m
}

// sorted returns the children ordered by label values.
func (v *vec[M]) sorted() []*child[M] {
	v.mu.Lock()
	out := make([]*child[M], 0, len(v.children))
	for _, c := range v.children {
		out = append(out, c)
	}
	v.mu.Unlock()
	slices.SortFunc(out, func(a, b *child[M]) int { return slices.Compare(a.values, b.values) })
	return out
}

// labelString renders {name="value",…} with extra appended (for le).
func labelString(names, values []string, extra ...string) string {
	if len(names) == 0 && len(extra) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n + `="` + escapeLabel(values[i]) + `"`)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(extra[i] + `="` + escapeLabel(extra[i+1]) + `"`)
	}
	b.WriteByte('}')
	return b.String()
}

func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// family is what WritePrometheus needs of a vector.
type family interface{ write(w *bufio.Writer) }

// CounterVec is a family of counters distinguished by label values.
type CounterVec struct{ vec[Counter] }

func newCounterVec(name, help string, labels ...string) *CounterVec {
	return &CounterVec{newVec(name, help, "counter", labels, func() *Counter { return &Counter{} })}
}

func (v *CounterVec) write(w *bufio.Writer) {
	WriteMetricHeader(w, v.name, v.typ, v.help)
	for _, c := range v.sorted() {
		w.WriteString(MetricsPrefix + v.name + labelString(v.labels, c.values) + " " + strconv.FormatUint(c.m.Value(), 10) + "\n")
	}
}

// GaugeVec is a family of gauges distinguished by label values.
type GaugeVec struct{ vec[Gauge] }

func newGaugeVec(name, help string, labels ...string) *GaugeVec {
	return &GaugeVec{newVec(name, help, "gauge", labels, func() *Gauge { return &Gauge{} })}
}

func (v *GaugeVec) write(w *bufio.Writer) {
	WriteMetricHeader(w, v.name, v.typ, v.help)
	for _, c := range v.sorted() {
		w.WriteString(MetricsPrefix + v.name + labelString(v.labels, c.values) + " " + strconv.FormatInt(c.m.Value(), 10) + "\n")
	}
}

// HistogramVec is a family of histograms distinguished by label values.
type HistogramVec struct {
	vec[Histogram]
	bounds []float64
}

func newHistogramVec(name, help string, bounds []float64, labels ...string) *HistogramVec {
	bounds = slices.Clone(bounds)
	return &HistogramVec{
		vec: newVec(name, help, "histogram", labels, func() *Histogram {
			return &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds))}
		}),
		bounds: bounds,
	}
}

func (v *HistogramVec) write(w *bufio.Writer) {
	WriteMetricHeader(w, v.name, v.typ, v.help)
	for _, c := range v.sorted() {
		h := c.m
		// Read the total first: buckets observed after it may make them
		// exceed it by a little, never fall short of what +Inf says.
		count := h.count.Load()
		var cum uint64
		for i, b := range v.bounds {
			cum += h.counts[i].Load()
			w.WriteString(MetricsPrefix + v.name + "_bucket" + labelString(v.labels, c.values, "le", formatFloat(b)) + " " + strconv.FormatUint(min(cum, count), 10) + "\n")
		}
		w.WriteString(MetricsPrefix + v.name + "_bucket" + labelString(v.labels, c.values, "le", "+Inf") + " " + strconv.FormatUint(count, 10) + "\n")
		w.WriteString(MetricsPrefix + v.name + "_sum" + labelString(v.labels, c.values) + " " + formatFloat(math.Float64frombits(h.sum.Load())) + "\n")
		w.WriteString(MetricsPrefix + v.name + "_count" + labelString(v.labels, c.values) + " " + strconv.FormatUint(count, 10) + "\n")
	}
}
