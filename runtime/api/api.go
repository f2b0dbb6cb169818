// Package api is a region's HTTP API: the workflow versions the region applied, their semantic diffs, promotion,
// the reconciler's status and reconcile history, the git webhook that triggers a reconcile, health, readiness and Prometheus metrics.
// docs/openapi.yaml documents every route, and a test holds the two together.
//
// Every error is JSON of one shape, {"error": {"code": "...", "message": "..."}}; the codes are the Code
// constants. Bad requests are 4xx with a reason, never 500; a handler that panics is a logged 500.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/maestro-conductor/maestro/promote"
	"github.com/maestro-conductor/maestro/runtime/store"
)

// Log keys.
const (
	LogKeyRegion   = "region"
	LogKeyMethod   = "method"
	LogKeyPath     = "path"
	LogKeyStatus   = "status"
	LogKeyDelivery = "delivery"
	LogKeyError    = "error"
)

// Body size limits: a promotion request is a few fields; GitHub caps webhook payloads at 25 MB.
const (
	MaxPromoteBody = 64 << 10
	MaxWebhookBody = 25 << 20
)

// Reconciler is the region's reconciler, as the API sees it.
type Reconciler interface {
	// Trigger asks for a reconcile now; it never blocks, and triggers that arrive while one is pending merge.
	Trigger()
	// State returns what the reconciler last did.
	State() ReconcilerState
}

// ReconcilerState is the reconciler's view of itself, shown in /api/status and judged by /readyz.
type ReconcilerState struct {
	// Leader is true when this replica holds the region's leader lock and applies versions.
	Leader            bool      `json:"leader"`
	LastAttempt       time.Time `json:"lastAttempt,omitzero"`
	LastSuccess       time.Time `json:"lastSuccess,omitzero"`
	LastError         string    `json:"lastError,omitempty"`
	LastFetchedCommit string    `json:"lastFetchedCommit,omitempty"`
	// Failures counts consecutive reconciles that failed with fetch or store trouble.
	Failures int `json:"failures,omitempty"`
}

// Promoter promotes workflow versions for the promote endpoint: a signed promotion tag, attested in the
// transparency log and pushed to the remote.
type Promoter interface {
	// Promote promotes version of the workflow name at ref ("" means the remote's default branch). It returns
	// a *promote.Refusal for a promotion maestro will not make; ErrWorkflowNotFound when ref has no such
	// workflow; an error wrapping gitrepo.ErrUnknownRef for an unknown ref; ErrPushDenied when the remote does
	// not let this server push; an error wrapping gitrepo.ErrRejected when the remote refuses the tag.
	Promote(ctx context.Context, name, version, ref string, freeze bool) (*promote.Result, error)
}

// Errors a Promoter returns for the API to map to a status.
var (
	// ErrWorkflowNotFound: the ref holds no workflow of that name.
	ErrWorkflowNotFound = errors.New("no such workflow at the ref")
	// ErrPushDenied: the remote refused this server's credentials for a push.
	ErrPushDenied = errors.New("the remote denied the push")
)

// Options configure the API handler.
type Options struct {
	// Region is the region's name, reported in status.
	Region string
	// Store is the region store; required.
	Store store.Store
	// Reconciler is the region's reconciler; required.
	Reconciler Reconciler
	// Promoter promotes through POST /api/workflows/{name}/promote; nil means this server holds no promotion key
	// and the endpoint answers 403.
	Promoter Promoter
	// PromoteToken is the bearer token a promotion request must carry (Authorization: Bearer TOKEN); a request
	// without it, or with another, is 401. An empty token refuses every promotion request: the endpoint signs
	// with the server's key, so it is never open.
	PromoteToken []byte
	// WebhookSecret is the git webhook's shared secret; empty means the webhook endpoint answers 403.
	WebhookSecret []byte
	// StaleAfter is how old the last successful reconcile may be before /readyz fails; 0 means 5 minutes.
	StaleAfter time.Duration
	// Metrics is the registry /metrics serves; the API registers its own metrics in it. nil means a new registry
	// holding only the API's metrics.
	Metrics *prometheus.Registry
	Logger  *slog.Logger
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

// DefaultStaleAfter is the staleness bound when Options.StaleAfter is 0.
const DefaultStaleAfter = 5 * time.Minute

// route is one endpoint: its net/http ServeMux pattern (method and path) and handler.
type route struct {
	method, path string
	handler      http.HandlerFunc
}

func (r route) pattern() string { return r.method + " " + r.path }

// server holds the handlers' dependencies.
type server struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	mux     *http.ServeMux
}

// New returns the API's handler. It panics when Store or Reconciler is nil, or when the API's metrics are already
// registered in Options.Metrics: both are programming errors.
func New(opts Options) http.Handler {
	h, _ := newServer(opts)
	return h
}

func newServer(opts Options) (http.Handler, *server) {
	if opts.Store == nil || opts.Reconciler == nil {
		panic("api.New: Store and Reconciler are required")
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = DefaultStaleAfter
	}
	if opts.Metrics == nil {
		opts.Metrics = prometheus.NewRegistry()
	}
	s := &server{opts: opts, log: opts.Logger, now: opts.Now, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.metrics = newMetrics(opts.Metrics)
	for _, rt := range s.routes() {
		s.mux.Handle(rt.pattern(), rt.handler)
	}
	return s.middleware(s.mux), s
}

// routes is every endpoint the API serves; docs/openapi.yaml documents exactly these.
func (s *server) routes() []route {
	return []route{
		{"GET", "/api/workflows", s.listWorkflows},
		{"GET", "/api/workflows/{name}", s.getWorkflow},
		{"GET", "/api/workflows/{name}/versions/{version}", s.getVersion},
		{"GET", "/api/workflows/{name}/diff", s.diffVersions},
		{"POST", "/api/workflows/{name}/promote", s.promote},
		{"GET", "/api/status", s.status},
		{"GET", "/api/history", s.history},
		{"POST", "/api/webhooks/git", s.webhook},
		{"GET", "/healthz", s.healthz},
		{"GET", "/readyz", s.readyz},
		{"GET", "/metrics", s.metricsHandler()},
	}
}
