// Package metrics exposes rotor's Prometheus metrics on a registry of its own: the inventory
// (credentials by tenant and state, expiring soon, days to the next expiry) and rotations by
// state, computed from the store when scraped but at most once per cache period; rotation
// outcomes and step durations from this process's engine; Microsoft Graph calls by status and
// route, throttling (429s and x-ms-throttle-limit-percentage); and the HTTP API's requests.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/graph"
	"github.com/rotorhq/rotor/runner"
)

// DefaultCacheFor is how long figures computed from the store are reused between scrapes.
const DefaultCacheFor = 30 * time.Second

// Store is what the metrics read: the aggregate queries, never a full listing.
type Store interface {
	CredentialStats(ctx context.Context, p *rotor.CredentialStatsParams) (*rotor.CredentialStats, error)
	RotationCounts(ctx context.Context) ([]rotor.RotationCount, error)
}

// Options configure Metrics.
type Options struct {
	Store Store
	Clock clockwork.Clock
	// Warn is the expiring threshold (thresholds.warn), for the credentials' states.
	Warn time.Duration
	// CacheFor bounds how often the store is asked (default 30 s).
	CacheFor time.Duration
	Log      *slog.Logger
}

// Metrics is rotor's registry and its instruments. It is safe for concurrent use.
type Metrics struct {
	reg  *prometheus.Registry
	opts Options

	graphRequests  *prometheus.CounterVec
	graphDuration  *prometheus.HistogramVec
	graphThrottled *prometheus.CounterVec
	graphPressure  *prometheus.GaugeVec
	rotations      *prometheus.CounterVec
	stepDuration   *prometheus.HistogramVec
	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec

	mu      sync.Mutex
	snap    *snapshot
	queries int // store snapshots taken (tests)
}

var _ runner.Observer = (*Metrics)(nil)

// New returns rotor's metrics. They include the Go runtime's and the process's.
func New(o Options) *Metrics {
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.CacheFor <= 0 {
		o.CacheFor = DefaultCacheFor
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{reg: prometheus.NewRegistry(), opts: o}
	m.graphRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rotor_graph_requests_total",
		Help: "Microsoft Graph requests by tenant, method, route (ids replaced by {id}) and status code (0: no response)."},
		[]string{"tenant", "method", "route", "code"})
	m.graphDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rotor_graph_request_duration_seconds",
		Help: "Duration of Microsoft Graph requests.", Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}},
		[]string{"tenant", "method", "route"})
	m.graphThrottled = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rotor_graph_throttled_total",
		Help: "Microsoft Graph requests answered 429 Too Many Requests."}, []string{"tenant", "route"})
	m.graphPressure = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rotor_graph_throttle_limit_ratio",
		Help: "The last x-ms-throttle-limit-percentage Graph reported (share of the throttling limit used; sent from 0.8)."},
		[]string{"tenant"})
	m.rotations = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rotor_rotation_attempts_total",
		Help: "Rotation attempts this process finished, by outcome: completed, completed_needs_attention, failed, parked, cancelled."},
		[]string{"tenant", "outcome"})
	m.stepDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rotor_rotation_step_duration_seconds",
		Help:    "Duration of rotation steps this process ran, by step type and result.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800}},
		[]string{"type", "state"})
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rotor_http_requests_total",
		Help: "Requests to rotor's API and web UI by route pattern, method and status code."}, []string{"route", "method", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rotor_http_request_duration_seconds",
		Help: "Duration of requests to rotor's API and web UI by route pattern.", Buckets: prometheus.DefBuckets}, []string{"route"})
	m.reg.MustRegister(m.graphRequests, m.graphDuration, m.graphThrottled, m.graphPressure, m.rotations, m.stepDuration,
		m.httpRequests, m.httpDuration, &storeCollector{m: m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, for tests and further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slogLogger{m.opts.Log}})
}

// GraphObserve records one Graph call; wire it as tenant.Options.GraphObserve.
func (m *Metrics) GraphObserve(tenant string, c graph.Call) {
	code := strconv.Itoa(c.StatusCode)
	m.graphRequests.WithLabelValues(tenant, c.Method, c.Route, code).Inc()
	m.graphDuration.WithLabelValues(tenant, c.Method, c.Route).Observe(c.Duration.Seconds())
	if c.StatusCode == http.StatusTooManyRequests {
		m.graphThrottled.WithLabelValues(tenant, c.Route).Inc()
	}
	if c.StatusCode != 0 {
		// Graph sends the header only from 0.8 of the limit on; no header means below that.
		m.graphPressure.WithLabelValues(tenant).Set(c.ThrottlePct)
	}
}

// StepFinished implements runner.Observer.
func (m *Metrics) StepFinished(_ *rotor.Rotation, st *rotor.RotationStep) {
	if st.StartedAt.IsZero() || st.FinishedAt.Before(st.StartedAt) {
		return
	}
	m.stepDuration.WithLabelValues(st.Type, string(st.State)).Observe(st.FinishedAt.Sub(st.StartedAt).Seconds())
}

// RotationOutcome implements runner.Observer.
func (m *Metrics) RotationOutcome(r *rotor.Rotation, outcome string) {
	m.rotations.WithLabelValues(r.Tenant, outcome).Inc()
}

// ObserveHTTP records one request to rotor's own HTTP server.
func (m *Metrics) ObserveHTTP(route, method string, code int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Println(v ...any) { l.log.Error("metrics", "err", v) }
