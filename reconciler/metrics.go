package reconciler

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the reconciler's Prometheus metrics, labelled by region. Several reconcilers (regions, replicas in
// tests) may share one Metrics. A nil *Metrics records nothing.
type Metrics struct {
	duration       *prometheus.HistogramVec
	lastSuccess    *prometheus.GaugeVec
	applied        *prometheus.CounterVec
	refused        *prometheus.CounterVec
	errors         *prometheus.CounterVec
	refusedTags    *prometheus.GaugeVec
	leader         *prometheus.GaugeVec
	publishToApply *prometheus.HistogramVec
}

// NewMetrics makes the reconciler's metrics and registers them with reg (nil: not registered). Metrics already
// registered under the same names are reused, so NewMetrics may be called more than once with one registry.
//
//   - mc_reconcile_duration_seconds: histogram of reconcile passes, labels region and result (ok, refused, error)
//   - mc_reconcile_last_success_timestamp_seconds: unix time of the last reconcile that fetched and applied
//   - mc_reconcile_applied_total, mc_reconcile_refused_total: versions applied; tags refused (each refusal
//     counted once per process, not on every pass it persists)
//   - mc_reconcile_errors_total: passes that failed (fetch or store trouble)
//   - mc_reconcile_refused_tags: tags refused in the last pass
//   - mc_reconcile_leader: 1 while this replica leads its region
//   - mc_publish_to_apply_seconds: from the promotion's time (the tag's, whole seconds) to its version applied,
//     for promotions made while this process runs
func NewMetrics(reg prometheus.Registerer) *Metrics {
	region := []string{"region"}
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mc_reconcile_duration_seconds",
			Help:    "Duration of reconcile passes (fetch, discover, verify, apply, record).",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"region", "result"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mc_reconcile_last_success_timestamp_seconds",
			Help: "Unix time of the last reconcile pass that fetched the remote and applied every verified version.",
		}, region),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mc_reconcile_applied_total",
			Help: "Workflow versions applied to the region store.",
		}, region),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mc_reconcile_refused_total",
			Help: "Promotion tags refused (failed verification, moved, or conflicting with a frozen version).",
		}, region),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mc_reconcile_errors_total",
			Help: "Reconcile passes that failed with fetch or store trouble, retried with backoff.",
		}, region),
		refusedTags: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mc_reconcile_refused_tags",
			Help: "Promotion tags refused in the last reconcile pass.",
		}, region),
		leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mc_reconcile_leader",
			Help: "1 while this replica is the region's reconcile leader.",
		}, region),
		publishToApply: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mc_publish_to_apply_seconds",
			Help:    "Time from a promotion (tag time, whole seconds) to its version applied in the region.",
			Buckets: []float64{0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 120, 300, 900},
		}, region),
	}
	if reg != nil {
		m.duration = register(reg, m.duration)
		m.lastSuccess = register(reg, m.lastSuccess)
		m.applied = register(reg, m.applied)
		m.refused = register(reg, m.refused)
		m.errors = register(reg, m.errors)
		m.refusedTags = register(reg, m.refusedTags)
		m.leader = register(reg, m.leader)
		m.publishToApply = register(reg, m.publishToApply)
	}
	return m
}

// register registers c, or returns the collector already registered under its name.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	if err != nil {
		panic(err) // a programming error: another collector took the name
	}
	return c
}

func (m *Metrics) observePass(region, result string, d time.Duration) {
	if m == nil {
		return
	}
	m.duration.WithLabelValues(region, result).Observe(d.Seconds())
	if result == "error" {
		m.errors.WithLabelValues(region).Inc()
	}
}

func (m *Metrics) success(region string, at time.Time, refusedTags int) {
	if m == nil {
		return
	}
	m.lastSuccess.WithLabelValues(region).Set(float64(at.UnixNano()) / 1e9)
	m.refusedTags.WithLabelValues(region).Set(float64(refusedTags))
}

func (m *Metrics) appliedVersion(region string, publishToApply time.Duration, observe bool) {
	if m == nil {
		return
	}
	m.applied.WithLabelValues(region).Inc()
	if observe {
		m.publishToApply.WithLabelValues(region).Observe(max(publishToApply, 0).Seconds())
	}
}

func (m *Metrics) refusedTag(region string) {
	if m == nil {
		return
	}
	m.refused.WithLabelValues(region).Inc()
}

func (m *Metrics) setLeader(region string, leader bool) {
	if m == nil {
		return
	}
	v := 0.0
	if leader {
		v = 1
	}
	m.leader.WithLabelValues(region).Set(v)
}
