package proxy

import (
	"bytes"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/wssproxy/wssproxy/ws"
)

// count reads a counter or gauge.
func count(c prometheus.Collector) uint64 { return uint64(testutil.ToFloat64(c)) }

// observations reads how many values a histogram observed.
func observations(o prometheus.Observer) uint64 {
	var m dto.Metric
	if err := o.(prometheus.Metric).Write(&m); err != nil {
		panic(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// exposition registers m on a registry of its own and returns what it
// serves in the Prometheus text format.
func exposition(t *testing.T, m *Metrics) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// Every metric is described under the prefix, one Metrics registers
// cleanly, a second on the same registry is refused (same names), and
// the paused handshakes count from CountPause.
func TestMetricsRegister(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	reg := prometheus.NewRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(NewMetrics()); err == nil {
		t.Fatal("a second Metrics registered under the same names")
	}
	m.CountPause()
	m.CountPause()
	out := exposition(t, m)
	if want := "# TYPE wssproxy_paused_handshakes_total counter\nwssproxy_paused_handshakes_total 2\n"; !strings.Contains(out, want) {
		t.Errorf("exposition lacks %q:\n%s", want, out)
	}
	// Families without series yet are not written, but are described.
	ch := make(chan *prometheus.Desc, 32)
	m.Describe(ch)
	close(ch)
	n := 0
	for d := range ch {
		n++
		if !strings.Contains(d.String(), `fqName: "wssproxy_`) {
			t.Errorf("unprefixed metric %s", d)
		}
	}
	if n != 14 {
		t.Errorf("%d metrics described, want 14", n)
	}
}

// The handles a leg resolves once per connection count a relayed frame
// and a keepalive round trip without allocating.
func TestLegCountingAllocs(t *testing.T) {
	m := NewMetrics()
	l := newLeg("client", nil, m, "r", "up")
	h := ws.Header{Fin: true, OpCode: ws.OpText, Length: 100}
	allocs := testing.AllocsPerRun(1000, func() {
		l.count(h)
		l.rttSeen.Observe(0.003)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame, want 0", allocs)
	}
	if v := count(m.bytes.WithLabelValues("r", "up")); v != 100*1001 {
		t.Fatalf("bytes %d, want %d", v, 100*1001)
	}
	if v := count(m.messages.WithLabelValues("r", "up")); v != 1001 {
		t.Fatalf("messages %d", v)
	}
}
