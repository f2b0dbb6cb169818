package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/maestro-conductor/maestro/digest"
	"github.com/maestro-conductor/maestro/promote"
	"github.com/maestro-conductor/maestro/runtime/store"
	"github.com/maestro-conductor/maestro/runtime/store/sqlite"
	"github.com/maestro-conductor/maestro/workflow"
)

// testOnlyReconciler stands in for the reconciler in handler tests: it counts triggers and reports the state the
// test sets. The real reconciler is exercised end to end by `maestro serve` in cmd/maestro/testdata/script.
type testOnlyReconciler struct {
	triggers atomic.Int64
	mu       sync.Mutex
	state    ReconcilerState
}

func (r *testOnlyReconciler) Trigger() { r.triggers.Add(1) }

func (r *testOnlyReconciler) State() ReconcilerState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

func (r *testOnlyReconciler) set(st ReconcilerState) {
	r.mu.Lock()
	r.state = st
	r.mu.Unlock()
}

// testOnlyPromoter answers promotions with what the test sets, to provoke every answer of the promote endpoint;
// real promotions through the API run in cmd/maestro/testdata/script/serve.txtar.
type testOnlyPromoter struct {
	mu    sync.Mutex
	res   *promote.Result
	err   error
	calls []string
}

func (p *testOnlyPromoter) Promote(ctx context.Context, name, version, ref string, freeze bool) (*promote.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, strings.Join([]string{name, version, ref, map[bool]string{true: "freeze", false: "no-freeze"}[freeze]}, " "))
	return p.res, p.err
}

// panickingStore is a test-only store whose Workflows panics: a failure the real store cannot be made to have.
type panickingStore struct{ store.Store }

func (panickingStore) Workflows(context.Context) ([]store.Summary, error) {
	panic("test-only: store bug")
}

const (
	pkgA = "registry.example.com/etl/extract@sha256:1111111111111111111111111111111111111111111111111111111111111111"
	pkgB = "registry.example.com/etl/load@sha256:2222222222222222222222222222222222222222222222222222222222222222"
	pkgC = "registry.example.com/etl/check@sha256:3333333333333333333333333333333333333333333333333333333333333333"
)

// etlV1, etlV2 and etlV3 are three versions of one workflow: v2 raises a retry count and adds a task, v3 makes a
// param required (a breaking change).
const etlV1 = `apiVersion: maestro.dev/v1
kind: Workflow
metadata: {name: nightly-etl, tenant: acme}
spec:
  params:
    date: {type: string}
  tasks:
    extract: {package: ` + pkgA + `, retries: 2}
    load: {package: ` + pkgB + `, dependsOn: [extract]}
`

var (
	etlV2 = strings.Replace(etlV1, "retries: 2", "retries: 3", 1) + "    check: {package: " + pkgC + ", dependsOn: [load]}\n"
	etlV3 = strings.Replace(etlV2, "date: {type: string}", "date: {type: string, required: true}", 1)
)

const billingV1 = `apiVersion: maestro.dev/v1
kind: Workflow
metadata: {name: billing}
spec:
  tasks:
    roll: {package: ` + pkgA + `}
`

// fixture is an API server over a real SQLite store holding applied versions.
type fixture struct {
	t     *testing.T
	store store.Store
	rec   *testOnlyReconciler
	reg   *prometheus.Registry
	srv   *server
	http  *httptest.Server
	logs  *bytes.Buffer
	now   time.Time
}

// promoteToken is the fixture's promotion bearer token.
const promoteToken = "promote-token-for-tests"

type fixtureOptions struct {
	promoter Promoter
	secret   []byte
	wrap     func(store.Store) store.Store
	empty    bool
	noToken  bool
}

func newFixture(t *testing.T, fo fixtureOptions) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "region.db"), sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, store: st, rec: &testOnlyReconciler{}, reg: prometheus.NewRegistry(), logs: &bytes.Buffer{},
		now: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)}
	if !fo.empty {
		f.apply("nightly-etl", "1.0.0", etlV1)
		f.apply("nightly-etl", "1.1.0", etlV2)
		f.apply("nightly-etl", "2.0.0", etlV3)
		f.apply("billing", "0.1.0", billingV1)
		for _, s := range []store.SyncStatus{
			{Workflow: "billing", DesiredVersion: "0.1.0", AppliedVersion: "0.1.0", Synced: true, LastAttempt: f.now, LastSuccess: f.now},
			{Workflow: "nightly-etl", DesiredVersion: "2.1.0", AppliedVersion: "2.0.0", LastAttempt: f.now,
				LastError: "nightly-etl/v2.1.0: signature check failed: not a trusted promoter key"},
		} {
			if err := st.SetStatus(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.rec.set(ReconcilerState{Leader: true, LastAttempt: f.now.Add(-time.Second), LastSuccess: f.now.Add(-time.Second), LastFetchedCommit: strings.Repeat("c", 40)})
	token := []byte(promoteToken)
	if fo.noToken {
		token = nil
	}
	var s store.Store = st
	if fo.wrap != nil {
		s = fo.wrap(st)
	}
	h, srv := newServer(Options{Region: "us-east", Store: s, Reconciler: f.rec, Promoter: fo.promoter, PromoteToken: token, WebhookSecret: fo.secret,
		StaleAfter: time.Minute, Metrics: f.reg, Logger: slog.New(slog.NewTextHandler(syncWriter{w: f.logs}, nil)),
		Now: func() time.Time { return f.now }})
	f.srv = srv
	f.http = httptest.NewServer(h)
	t.Cleanup(f.http.Close)
	return f
}

// syncWriter serializes writes to the log buffer from concurrent handlers.
type syncWriter struct{ w *bytes.Buffer }

var logMu sync.Mutex

func (s syncWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return s.w.Write(p)
}

// apply stores a workflow version as the reconciler would: definition, digest, tag.
func (f *fixture) apply(name, version, yaml string) {
	f.t.Helper()
	ws, err := workflow.Parse("workflows/"+name+".yaml", []byte(yaml), workflow.Limits{})
	if err != nil {
		f.t.Fatal(err)
	}
	w := ws[0]
	d, err := digest.Of(w)
	if err != nil {
		f.t.Fatal(err)
	}
	def, err := json.Marshal(w)
	if err != nil {
		f.t.Fatal(err)
	}
	_, err = f.store.Apply(context.Background(), store.Version{Name: name, Version: version, Digest: string(d),
		Commit: strings.Repeat("a", 40), Tag: name + "/v" + version, TagObject: strings.Repeat("b", 40), Frozen: true,
		Tenant: w.Tenant, Definition: def, Signer: "8c1f4e2a9b7d6c5e", Promoter: "release@acme.example", LogIndex: 7,
		PromotedAt: f.now.Add(-time.Hour), AppliedAt: f.now.Add(-time.Minute)})
	if err != nil {
		f.t.Fatal(err)
	}
}

// response is an answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// errorCode returns the code of an error answer, failing the test when the body is not the error shape.
func (r response) errorCode(t *testing.T) Code {
	t.Helper()
	var e ErrorBody
	dec := json.NewDecoder(bytes.NewReader(r.body))
	if err := dec.Decode(&e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not the error shape (%v): %s", err, r.body)
	}
	return e.Error.Code
}

// do sends a request and records the answer against the route for the OpenAPI checks (openapi_test.go).
func (f *fixture) do(method, path string, body []byte, header map[string]string) response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.http.URL+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	_, pattern := f.srv.mux.Handler(req)
	resp, err := f.http.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: b}
	if method != http.MethodHead {
		observe(f.t, pattern, r)
	}
	return r
}

func (f *fixture) get(path string) response { return f.do(http.MethodGet, path, nil, nil) }
