// Package metrics exposes evbridge on Prometheus' /metrics: per-charger
// readings collected at scrape time from the bridge's model, and poll and
// controller events received as a bridge.Observer. It uses its own registry,
// never the global one, so several bridges (tests, demos) can coexist.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/evbridge/evbridge/bridge"
)

const namespace = "evbridge"

// Metrics is a registry with evbridge's collectors. Its Observer methods
// never block, as bridge.Observer requires.
type Metrics struct {
	reg *prometheus.Registry

	pollDuration *prometheus.HistogramVec
	pollErrors   *prometheus.CounterVec
	decisions    *prometheus.CounterVec
	decided      *prometheus.GaugeVec
}

var _ bridge.Observer = (*Metrics)(nil)

// New returns the metrics with the process and Go runtime collectors and a
// build info gauge carrying version.
func New(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.pollDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "charger", Name: "poll_duration_seconds",
		Help: "Duration of charger polls, successful or not.",
		// LAN devices answer in milliseconds; a slow Wi-Fi charger in
		// seconds; the timeout caps it.
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"charger"})
	m.pollErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "charger", Name: "poll_errors_total",
		Help: "Charger polls that failed (timeout, refused, bad reply).",
	}, []string{"charger"})
	m.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "controller", Name: "decisions_total",
		Help: "Solar and load controller decisions by charger and reason code.",
	}, []string{"charger", "reason"})
	m.decided = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "controller", Name: "current_amperes",
		Help: "Current the controller last decided for a charger, A (0 = stopped).",
	}, []string{"charger"})
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info", Help: "evbridge's version; always 1.",
	}, []string{"version"})
	info.WithLabelValues(version).Set(1)
	m.reg.MustRegister(m.pollDuration, m.pollErrors, m.decisions, m.decided, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Watch adds the collector that reads src's chargers and broker link at
// every scrape. Call it once, after the bridge exists.
func (m *Metrics) Watch(src Source) error {
	return m.reg.Register(newModelCollector(src))
}

// Registry is the registry behind Handler, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, MaxRequestsInFlight: 4})
}

// ObservePoll implements bridge.Observer.
func (m *Metrics) ObservePoll(charger string, took time.Duration, err error) {
	m.pollDuration.WithLabelValues(charger).Observe(took.Seconds())
	c := m.pollErrors.WithLabelValues(charger) // present at 0 from the first poll
	if err != nil {
		c.Inc()
	}
}

// ObserveDecision implements bridge.Observer. It counts by the reason's
// stable code, so the reason's numbers never create new series.
func (m *Metrics) ObserveDecision(charger string, current float64, code string) {
	if code == "" {
		code = "other"
	}
	m.decided.WithLabelValues(charger).Set(current)
	m.decisions.WithLabelValues(charger, code).Inc()
}

// ObserveRemoved implements bridge.Observer: the removed charger's series
// go, so that dashboards and alerts do not keep a charger that is gone.
func (m *Metrics) ObserveRemoved(charger string) {
	labels := prometheus.Labels{"charger": charger}
	m.pollDuration.DeletePartialMatch(labels)
	m.pollErrors.DeletePartialMatch(labels)
	m.decisions.DeletePartialMatch(labels)
	m.decided.DeletePartialMatch(labels)
}
