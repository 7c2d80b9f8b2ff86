package proxy_test

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wssproxy/wssproxy/proxy"
)

// The caller owns the registry: the proxy's metrics, shared by its
// Servers, go on it beside the Go runtime's and the process's, and it is
// served with OpenMetrics negotiation.
func ExampleNewMetrics() {
	m := proxy.NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := proxy.New(&proxy.Options{Metrics: m, Routes: []proxy.Route{{Upstream: "ws://127.0.0.1:8080"}}})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	_ = mux // serve it with an http.Server on the admin address

	m.CountPause() // from a tlsconf Policy.OnPause hook
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "wssproxy_paused_handshakes_total" {
			fmt.Println(mf.GetName(), mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
	fmt.Println(srv.Metrics() == m)
	// Output:
	// wssproxy_paused_handshakes_total 1
	// true
}
