package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric names the API exports (docs/openapi.yaml, /metrics). The reconciler's own metrics are registered in the
// same registry by whoever builds the server.
const (
	MetricHTTPRequests       = "mc_http_requests_total"
	MetricHTTPDuration       = "mc_http_request_duration_seconds"
	MetricHTTPInFlight       = "mc_http_requests_in_flight"
	MetricDiffMillis         = "mc_diff_ms"
	MetricWebhookDeliveries  = "mc_webhook_deliveries_total"
	MetricPromotionsRequests = "mc_api_promotions_total"
)

type metrics struct {
	registry   *prometheus.Registry
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	inFlight   prometheus.Gauge
	diffMillis prometheus.Histogram
	webhooks   *prometheus.CounterVec
	promotions *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricHTTPRequests,
			Help: "HTTP requests to the region API, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricHTTPDuration,
			Help:    "Time to answer an HTTP request to the region API, by route pattern and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricHTTPInFlight,
			Help: "HTTP requests to the region API being answered now.",
		}),
		diffMillis: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    MetricDiffMillis,
			Help:    "Time to compute the semantic diff of two stored workflow versions, in milliseconds (decoding both definitions, digests and diff).",
			Buckets: []float64{0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000},
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricWebhookDeliveries,
			Help: "Git webhook deliveries, by result: triggered, ping, ignored, bad_signature, disabled, bad_request.",
		}, []string{"result"}),
		promotions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricPromotionsRequests,
			Help: "Promotions requested through the API, by result: promoted, refused, denied, unauthorized, disabled, failed.",
		}, []string{"result"}),
	}
	reg.MustRegister(m.requests, m.duration, m.inFlight, m.diffMillis, m.webhooks, m.promotions)
	return m
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "other" // the label stays bounded whatever clients send
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

func (s *server) metricsHandler() http.HandlerFunc {
	h := promhttp.HandlerFor(s.opts.Metrics, promhttp.HandlerOpts{
		ErrorLog:          slogPrinter{s},
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: false,
	})
	return h.ServeHTTP
}

// slogPrinter gives promhttp a logger.
type slogPrinter struct{ s *server }

func (p slogPrinter) Println(v ...any) { p.s.log.Error("serve metrics", LogKeyError, fmt.Sprint(v...)) }
