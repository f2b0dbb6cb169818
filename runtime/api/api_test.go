package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/maestro-conductor/maestro/diff"
	"github.com/maestro-conductor/maestro/digest"
	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/promote"
	"github.com/maestro-conductor/maestro/runtime/store"
	"github.com/maestro-conductor/maestro/workflow"
)

func TestListWorkflows(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	r := f.get("/api/workflows")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got WorkflowList
	r.json(t, &got)
	var names []string
	for _, w := range got.Workflows {
		names = append(names, w.Name+"@"+w.Latest)
	}
	if d := cmp.Diff([]string{"billing@0.1.0", "nightly-etl@2.0.0"}, names); d != "" || got.Region != "us-east" {
		t.Errorf("workflows (-want +got):\n%s\nregion %q", d, got.Region)
	}

	// An empty region answers [], not null.
	e := newFixture(t, fixtureOptions{empty: true})
	r = e.get("/api/workflows")
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"workflows":[]`)) {
		t.Errorf("empty store: %d %s", r.status, r.body)
	}
}

func TestGetWorkflow(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	r := f.get("/api/workflows/nightly-etl")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got WorkflowVersions
	r.json(t, &got)
	var versions []string
	for _, v := range got.Versions {
		versions = append(versions, v.Version)
		if v.Definition != nil {
			t.Errorf("version list carries definitions")
		}
	}
	if d := cmp.Diff([]string{"1.0.0", "1.1.0", "2.0.0"}, versions); d != "" || got.Latest != "2.0.0" {
		t.Errorf("versions (-want +got):\n%s\nlatest %q", d, got.Latest)
	}

	tests := []struct {
		path   string
		status int
		code   Code
	}{
		{"/api/workflows/unknown", http.StatusNotFound, CodeWorkflowNotFound},
		{"/api/workflows/Bad_Name", http.StatusBadRequest, CodeBadRequest},
		{"/api/workflows/-x", http.StatusBadRequest, CodeBadRequest},
	}
	for _, tt := range tests {
		r := f.get(tt.path)
		if r.status != tt.status || r.errorCode(t) != tt.code {
			t.Errorf("GET %s = %d %s, want %d %s", tt.path, r.status, r.body, tt.status, tt.code)
		}
	}
}

func TestGetVersion(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	for _, v := range []string{"1.1.0", "v1.1.0"} {
		r := f.get("/api/workflows/nightly-etl/versions/" + v)
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var got VersionInfo
		r.json(t, &got)
		if got.Version != "1.1.0" || got.Tag != "nightly-etl/v1.1.0" || got.Commit == "" || got.Signer == "" || !got.Frozen || got.Tenant != "acme" {
			t.Errorf("version: %+v", got)
		}
		// The definition is the stored model: it decodes into a workflow with the stored digest.
		var w workflow.Workflow
		if err := json.Unmarshal(got.Definition, &w); err != nil {
			t.Fatal(err)
		}
		d, err := digest.Of(&w)
		if err != nil || string(d) != got.Digest {
			t.Errorf("definition's digest %s (%v), version says %s", d, err, got.Digest)
		}
	}
	tests := []struct {
		path   string
		status int
		code   Code
	}{
		{"/api/workflows/nightly-etl/versions/9.9.9", http.StatusNotFound, CodeVersionNotFound},
		{"/api/workflows/unknown/versions/1.0.0", http.StatusNotFound, CodeWorkflowNotFound},
		{"/api/workflows/nightly-etl/versions/1.2", http.StatusBadRequest, CodeBadRequest},
		{"/api/workflows/nightly-etl/versions/latest", http.StatusBadRequest, CodeBadRequest},
		{"/api/workflows/NO/versions/1.0.0", http.StatusBadRequest, CodeBadRequest},
	}
	for _, tt := range tests {
		r := f.get(tt.path)
		if r.status != tt.status || r.errorCode(t) != tt.code {
			t.Errorf("GET %s = %d %s, want %d %s", tt.path, r.status, r.body, tt.status, tt.code)
		}
	}
}

func TestDiff(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	kinds := func(rep diff.Report) []string {
		var out []string
		for _, w := range rep.Workflows {
			for _, c := range w.Changes {
				out = append(out, string(c.Kind)+" "+c.Path)
			}
		}
		return out
	}
	tests := []struct {
		query    string
		from, to string
		status   diff.Status
		breaking bool
		changes  []string
	}{
		{"from=1.0.0&to=1.1.0", "1.0.0", "1.1.0", diff.Modified, false, []string{
			"task.added spec.tasks.check", "task.retries spec.tasks.extract.retries"}},
		{"from=v1.1.0&to=2.0.0", "1.1.0", "2.0.0", diff.Modified, true, []string{"param.required spec.params.date.required"}},
		{"from=2.0.0&to=1.0.0", "2.0.0", "1.0.0", diff.Modified, false, nil},
		{"from=1.1.0&to=1.1.0", "1.1.0", "1.1.0", diff.Unchanged, false, []string{}},
		// to defaults to the latest, from to the version before to.
		{"", "1.1.0", "2.0.0", diff.Modified, true, []string{"param.required spec.params.date.required"}},
		{"to=1.1.0", "1.0.0", "1.1.0", diff.Modified, false, nil},
		// The first version has nothing before it: the workflow was added.
		{"to=1.0.0", "", "1.0.0", diff.Added, false, []string{"workflow.added workflows.nightly-etl"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := f.get("/api/workflows/nightly-etl/diff?" + tt.query)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var rep diff.Report
			r.json(t, &rep)
			if len(rep.Workflows) != 1 || rep.Workflows[0].Status != tt.status || rep.Breaking != tt.breaking {
				t.Errorf("report: %s", r.body)
			}
			if tt.changes != nil {
				got := kinds(rep)
				if got == nil {
					got = []string{}
				}
				if d := cmp.Diff(tt.changes, got); d != "" {
					t.Errorf("changes (-want +got):\n%s", d)
				}
			}
			if r.header.Get("X-Maestro-Diff-From") != tt.from || r.header.Get("X-Maestro-Diff-To") != tt.to {
				t.Errorf("compared %q..%q, want %q..%q", r.header.Get("X-Maestro-Diff-From"), r.header.Get("X-Maestro-Diff-To"), tt.from, tt.to)
			}
		})
	}

	bad := []struct {
		path   string
		status int
		code   Code
	}{
		{"/api/workflows/nightly-etl/diff?from=1.0.0&to=9.9.9", http.StatusNotFound, CodeVersionNotFound},
		{"/api/workflows/nightly-etl/diff?from=9.9.9&to=1.0.0", http.StatusNotFound, CodeVersionNotFound},
		{"/api/workflows/unknown/diff?from=1.0.0&to=1.1.0", http.StatusNotFound, CodeWorkflowNotFound},
		{"/api/workflows/unknown/diff", http.StatusNotFound, CodeWorkflowNotFound},
		{"/api/workflows/nightly-etl/diff?to=9.9.9", http.StatusNotFound, CodeVersionNotFound},
		{"/api/workflows/nightly-etl/diff?from=one&to=1.0.0", http.StatusBadRequest, CodeBadRequest},
		{"/api/workflows/nightly-etl/diff?from=1.0.0&to=", http.StatusBadRequest, CodeBadRequest},
		{"/api/workflows/nightly-etl/diff?from=1.0.0&from=1.1.0", http.StatusBadRequest, CodeBadRequest},
		{"/api/workflows/nightly-etl/diff?from=%zz", http.StatusBadRequest, CodeBadRequest},
		{"/api/workflows/x_y/diff", http.StatusBadRequest, CodeBadRequest},
	}
	for _, tt := range bad {
		r := f.get(tt.path)
		if r.status != tt.status || r.errorCode(t) != tt.code {
			t.Errorf("GET %s = %d %s, want %d %s", tt.path, r.status, r.body, tt.status, tt.code)
		}
	}
}

func TestStatus(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	r := f.get("/api/status")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got Status
	r.json(t, &got)
	if got.Region != "us-east" || !got.Ready || got.Reconciler.Stale || !got.Reconciler.Leader || got.Reconciler.StaleAfter != "1m0s" {
		t.Errorf("status: %s", r.body)
	}
	if len(got.Workflows) != 2 || got.Workflows[1].Workflow != "nightly-etl" || got.Workflows[1].Synced ||
		got.Workflows[1].DesiredVersion != "2.1.0" || got.Workflows[1].AppliedVersion != "2.0.0" || got.Workflows[1].LastError == "" {
		t.Errorf("workflows: %+v", got.Workflows)
	}
	f.rec.set(ReconcilerState{Leader: true, LastAttempt: f.now, LastError: "fetch: unreachable"})
	r = f.get("/api/status")
	r.json(t, &got)
	if got.Ready || !got.Reconciler.Stale || got.Reconciler.LastError != "fetch: unreachable" {
		t.Errorf("stale status: %s", r.body)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	if r := f.get("/healthz"); r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"ok"`)) {
		t.Errorf("healthz: %d %s", r.status, r.body)
	}
	r := f.get("/readyz")
	if r.status != http.StatusOK {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}

	tests := []struct {
		name  string
		state ReconcilerState
		want  string
	}{
		{"never reconciled", ReconcilerState{Leader: true}, "no reconcile has finished yet"},
		{"never succeeded", ReconcilerState{Leader: true, LastAttempt: f.now, LastError: "fetch: connection refused"}, "no reconcile has succeeded yet; last error: fetch: connection refused"},
		{"stale", ReconcilerState{Leader: true, LastAttempt: f.now, LastSuccess: f.now.Add(-2 * time.Minute), LastError: "fetch: timeout"},
			"the last successful reconcile was 2m0s ago, more than 1m0s; last error: fetch: timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.rec.set(tt.state)
			r := f.get("/readyz")
			if r.status != http.StatusServiceUnavailable || r.errorCode(t) != CodeNotReady {
				t.Fatalf("readyz: %d %s", r.status, r.body)
			}
			var got Readiness
			r.json(t, &got)
			if !strings.Contains(got.Error.Message, "reconciler: "+tt.want) || len(got.Checks) != 2 || !got.Checks[0].OK || got.Checks[1].OK {
				t.Errorf("readyz: %s\nwant reason %q", r.body, tt.want)
			}
		})
	}

	// Fresh again: ready again.
	f.rec.set(ReconcilerState{Leader: true, LastAttempt: f.now, LastSuccess: f.now.Add(-59 * time.Second)})
	if r := f.get("/readyz"); r.status != http.StatusOK {
		t.Errorf("readyz after a success: %d %s", r.status, r.body)
	}
	// A replica that does not lead serves what the leader applied: it is ready once the region store holds a
	// reconcile's outcome, however old its own last reconcile.
	f.rec.set(ReconcilerState{LastSuccess: f.now.Add(-time.Hour)})
	if r := f.get("/readyz"); r.status != http.StatusOK || !bytes.Contains(r.body, []byte("another replica leads")) {
		t.Errorf("readyz of a follower: %d %s", r.status, r.body)
	}
	empty := newFixture(t, fixtureOptions{empty: true})
	empty.rec.set(ReconcilerState{})
	if r := empty.get("/readyz"); r.status != http.StatusServiceUnavailable || !bytes.Contains(r.body, []byte("no reconcile has finished in this region")) {
		t.Errorf("readyz of a follower in a region never reconciled: %d %s", r.status, r.body)
	}
	// A store that does not answer makes the region unready, and health unaffected.
	f.store.Close()
	r = f.get("/readyz")
	if r.status != http.StatusServiceUnavailable || !bytes.Contains(r.body, []byte("store: ping")) {
		t.Errorf("readyz with the store closed: %d %s", r.status, r.body)
	}
	if r := f.get("/healthz"); r.status != http.StatusOK {
		t.Errorf("healthz with the store closed: %d", r.status)
	}
}

func TestHistory(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	events := []store.Event{
		{At: f.now.Add(-3 * time.Hour), Region: "us-east", Workflow: "nightly-etl", Tag: "nightly-etl/v1.0.0", Action: store.ActionApplied, Commit: strings.Repeat("a", 40)},
		{At: f.now.Add(-2 * time.Hour), Region: "us-east", Action: store.ActionError, Reason: "fetch: dial tcp: i/o timeout"},
		{At: f.now.Add(-time.Hour), Region: "us-east", Workflow: "nightly-etl", Tag: "nightly-etl/v2.1.0", Action: store.ActionRefused,
			Check: "signature", Reason: "not a trusted promoter key", Commit: strings.Repeat("c", 40)},
		{At: f.now.Add(-time.Minute), Region: "us-east", Workflow: "billing", Tag: "billing/v0.1.0", Action: store.ActionApplied, Commit: strings.Repeat("b", 40)},
	}
	for _, e := range events {
		if err := f.store.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	tags := func(h History) []string {
		out := []string{}
		for _, e := range h.Events {
			out = append(out, e.Action+" "+e.Tag)
		}
		return out
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"applied billing/v0.1.0", "refused nightly-etl/v2.1.0", "error ", "applied nightly-etl/v1.0.0"}},
		{"workflow=nightly-etl", []string{"refused nightly-etl/v2.1.0", "applied nightly-etl/v1.0.0"}},
		{"action=applied", []string{"applied billing/v0.1.0", "applied nightly-etl/v1.0.0"}},
		{"action=refused&workflow=nightly-etl", []string{"refused nightly-etl/v2.1.0"}},
		{"since=2026-11-26T06:00:00Z", []string{"applied billing/v0.1.0", "refused nightly-etl/v2.1.0", "error "}},
		{"since=2026-11-26T07:00:00%2B01:00", []string{"applied billing/v0.1.0", "refused nightly-etl/v2.1.0", "error "}},
		{"limit=2", []string{"applied billing/v0.1.0", "refused nightly-etl/v2.1.0"}},
		{"workflow=unknown", []string{}},
	}
	for _, tt := range tests {
		r := f.get("/api/history?" + tt.query)
		if r.status != http.StatusOK {
			t.Fatalf("GET /api/history?%s: %d %s", tt.query, r.status, r.body)
		}
		var got History
		r.json(t, &got)
		if d := cmp.Diff(tt.want, tags(got)); d != "" || got.Region != "us-east" {
			t.Errorf("GET /api/history?%s (-want +got):\n%s\nregion %q", tt.query, d, got.Region)
		}
	}
	// The whole refusal, as recorded.
	var got History
	f.get("/api/history?action=refused").json(t, &got)
	if len(got.Events) != 1 {
		t.Fatalf("refusals: %+v", got.Events)
	}
	e := got.Events[0]
	if e.ID == "" || !e.At.Equal(f.now.Add(-time.Hour)) || e.Region != "us-east" || e.Workflow != "nightly-etl" || e.Check != "signature" ||
		e.Reason != "not a trusted promoter key" || e.Commit != strings.Repeat("c", 40) {
		t.Errorf("refusal: %+v", e)
	}

	// An empty history answers [], not null.
	empty := newFixture(t, fixtureOptions{empty: true})
	if r := empty.get("/api/history"); r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"events":[]`)) {
		t.Errorf("empty history: %d %s", r.status, r.body)
	}

	bad := []struct {
		query, param string
	}{
		{"action=skipped", "action"},
		{"action=", "action"},
		{"since=yesterday", "since"},
		{"since=2026-11-26", "since"},
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=ten", "limit"},
		{"limit=1&limit=2", "limit"},
		{"workflow=Bad_Name", "workflow"},
		{"since=%zz", "query"},
	}
	for _, tt := range bad {
		r := f.get("/api/history?" + tt.query)
		if r.status != http.StatusBadRequest || r.errorCode(t) != CodeBadRequest || !bytes.Contains(r.body, []byte(tt.param)) {
			t.Errorf("GET /api/history?%s = %d %s, want 400 bad_request naming %s", tt.query, r.status, r.body, tt.param)
		}
	}
}

// TestStoreUnavailable: a failing store is 503 with Retry-After on every endpoint that reads it, never 500.
func TestStoreUnavailable(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.store.Close()
	for _, p := range []string{"/api/workflows", "/api/workflows/nightly-etl", "/api/workflows/nightly-etl/versions/1.0.0",
		"/api/workflows/nightly-etl/diff?from=1.0.0&to=1.1.0", "/api/status", "/api/history"} {
		r := f.get(p)
		if r.status != http.StatusServiceUnavailable || r.errorCode(t) != CodeStoreUnavailable || r.header.Get("Retry-After") == "" {
			t.Errorf("GET %s with the store closed: %d %s", p, r.status, r.body)
		}
	}
	if !strings.Contains(f.logs.String(), "store failed") {
		t.Errorf("store failures not logged:\n%s", f.logs)
	}
}

func TestPanicRecovered(t *testing.T) {
	f := newFixture(t, fixtureOptions{wrap: func(s store.Store) store.Store { return panickingStore{s} }})
	r := f.get("/api/workflows")
	if r.status != http.StatusInternalServerError || r.errorCode(t) != CodeInternal {
		t.Fatalf("panic: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "store bug") {
		t.Errorf("the panic's value leaked to the client: %s", r.body)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "handler panicked") || !strings.Contains(logs, "test-only: store bug") || !strings.Contains(logs, "goroutine") {
		t.Errorf("panic not logged with its stack:\n%s", logs)
	}
	// The server keeps serving.
	if r := f.get("/healthz"); r.status != http.StatusOK {
		t.Errorf("healthz after a panic: %d", r.status)
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tests := []struct {
		method, path string
		status       int
		code         Code
		allow        string
	}{
		{"GET", "/api/nothing", http.StatusNotFound, CodeNotFound, ""},
		{"GET", "/", http.StatusNotFound, CodeNotFound, ""},
		{"GET", "/api/workflows/nightly-etl/versions", http.StatusNotFound, CodeNotFound, ""},
		{"DELETE", "/api/workflows", http.StatusMethodNotAllowed, CodeMethodNotAllowed, "GET, HEAD"},
		{"POST", "/api/workflows/nightly-etl", http.StatusMethodNotAllowed, CodeMethodNotAllowed, "GET, HEAD"},
		{"GET", "/api/workflows/nightly-etl/promote", http.StatusMethodNotAllowed, CodeMethodNotAllowed, "POST"},
		{"GET", "/api/webhooks/git", http.StatusMethodNotAllowed, CodeMethodNotAllowed, "POST"},
		{"PUT", "/healthz", http.StatusMethodNotAllowed, CodeMethodNotAllowed, "GET, HEAD"},
	}
	for _, tt := range tests {
		r := f.do(tt.method, tt.path, nil, nil)
		if r.status != tt.status || r.errorCode(t) != tt.code || r.header.Get("Allow") != tt.allow {
			t.Errorf("%s %s = %d %s (Allow %q), want %d %s (Allow %q)", tt.method, tt.path, r.status, r.body, r.header.Get("Allow"), tt.status, tt.code, tt.allow)
		}
	}
	// HEAD works where GET does.
	if r := f.do("HEAD", "/api/workflows", nil, nil); r.status != http.StatusOK {
		t.Errorf("HEAD /api/workflows = %d", r.status)
	}
}

func promoteResult() *promote.Result {
	return &promote.Result{Tag: "nightly-etl/v2.1.0", TagObject: strings.Repeat("d", 40), LogIndex: 9, Pushed: true,
		Record: promote.Record{Workflow: "nightly-etl", Version: "2.1.0", Digest: digest.Digest("sha256:" + strings.Repeat("e", 64)),
			Commit: strings.Repeat("f", 40), Frozen: true, Promoter: "maestro@us-east"}}
}

func TestPromote(t *testing.T) {
	p := &testOnlyPromoter{res: promoteResult()}
	f := newFixture(t, fixtureOptions{promoter: p})
	json := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + promoteToken}
	r := f.do("POST", "/api/workflows/nightly-etl/promote", []byte(`{"version": "v2.1.0", "ref": "main", "freeze": true}`), json)
	if r.status != http.StatusCreated {
		t.Fatalf("promote: %d %s", r.status, r.body)
	}
	var got PromoteResponse
	r.json(t, &got)
	want := PromoteResponse{Workflow: "nightly-etl", Version: "2.1.0", Tag: "nightly-etl/v2.1.0", TagObject: strings.Repeat("d", 40),
		Digest: "sha256:" + strings.Repeat("e", 64), Commit: strings.Repeat("f", 40), Frozen: true, Promoter: "maestro@us-east", LogIndex: 9, Pushed: true}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("response (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"nightly-etl 2.1.0 main freeze"}, p.calls); d != "" {
		t.Errorf("promoter calls (-want +got):\n%s", d)
	}
	if r.header.Get("Location") != "/api/workflows/nightly-etl/versions/2.1.0" {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
	if n := f.rec.triggers.Load(); n != 1 {
		t.Errorf("a promotion triggered %d reconciles, want 1", n)
	}
	// Without a content type, and without ref or freeze.
	r = f.do("POST", "/api/workflows/nightly-etl/promote", []byte(`{"version": "2.1.0"}`), map[string]string{"Authorization": "Bearer " + promoteToken})
	if r.status != http.StatusCreated || p.calls[1] != "nightly-etl 2.1.0  no-freeze" {
		t.Errorf("minimal promote: %d %s, calls %q", r.status, r.body, p.calls)
	}

	bad := []struct {
		name   string
		body   string
		header map[string]string
		status int
		code   Code
	}{
		{"no body", "", json, http.StatusBadRequest, CodeBadRequest},
		{"not JSON", "version=1", json, http.StatusBadRequest, CodeBadRequest},
		{"form", `{"version": "1.0.0"}`, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Bearer " + promoteToken}, http.StatusBadRequest, CodeBadRequest},
		{"no token", `{"version": "2.1.0"}`, map[string]string{}, http.StatusUnauthorized, CodeUnauthorized},
		{"wrong token", `{"version": "2.1.0"}`, map[string]string{"Authorization": "Bearer " + promoteToken + "x"}, http.StatusUnauthorized, CodeUnauthorized},
		{"basic auth", `{"version": "2.1.0"}`, map[string]string{"Authorization": "Basic " + promoteToken}, http.StatusUnauthorized, CodeUnauthorized},
		{"no version", `{"freeze": true}`, json, http.StatusBadRequest, CodeBadRequest},
		{"bad version", `{"version": "2.1"}`, json, http.StatusBadRequest, CodeBadRequest},
		{"unknown field", `{"version": "2.1.0", "force": true}`, json, http.StatusBadRequest, CodeBadRequest},
		{"wrong type", `{"version": 2}`, json, http.StatusBadRequest, CodeBadRequest},
		{"two values", `{"version": "2.1.0"} {}`, json, http.StatusBadRequest, CodeBadRequest},
		{"bad ref", `{"version": "2.1.0", "ref": "a b"}`, json, http.StatusBadRequest, CodeBadRequest},
		{"too large", `{"version": "2.1.0", "ref": "` + strings.Repeat("x", MaxPromoteBody) + `"}`, json, http.StatusRequestEntityTooLarge, CodeBodyTooLarge},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do("POST", "/api/workflows/nightly-etl/promote", []byte(tt.body), tt.header)
			if r.status != tt.status || r.errorCode(t) != tt.code {
				t.Errorf("%d %s, want %d %s", r.status, r.body, tt.status, tt.code)
			}
		})
	}
	r = f.do("POST", "/api/workflows/Nightly/promote", []byte(`{"version": "2.1.0"}`), json)
	if r.status != http.StatusBadRequest {
		t.Errorf("bad name: %d %s", r.status, r.body)
	}
	if len(p.calls) != 2 {
		t.Errorf("bad requests reached the promoter: %q", p.calls)
	}

	// The promoter's errors, each to its answer.
	errs := []struct {
		err    error
		status int
		code   Code
	}{
		{&promote.Refusal{Workflow: "nightly-etl", Version: "v2.1.0", Reason: "nightly-etl/v2.1.0 already exists"}, http.StatusConflict, CodePromotionRefused},
		{fmt.Errorf("promote: %w", ErrWorkflowNotFound), http.StatusNotFound, CodeWorkflowNotFound},
		{&gitrepo.RefError{Ref: "nope", Err: errors.New("reference not found")}, http.StatusUnprocessableEntity, CodeUnknownRef},
		{fmt.Errorf("at abc: %w", workflow.ErrorList{{Msg: "bad", Kind: workflow.ErrInvalid}}), http.StatusUnprocessableEntity, CodeInvalidWorkflow},
		{fmt.Errorf("push: %w", ErrPushDenied), http.StatusForbidden, CodePushDenied},
		{fmt.Errorf("push: %w", transport.ErrAuthorizationFailed), http.StatusForbidden, CodePushDenied},
		{&gitrepo.RejectedError{Remote: "origin"}, http.StatusConflict, CodePushRejected},
		{errors.New("tlog: connection refused"), http.StatusBadGateway, CodePromotionFailed},
	}
	for _, tt := range errs {
		p.err = tt.err
		r := f.do("POST", "/api/workflows/nightly-etl/promote", []byte(`{"version": "2.1.0"}`), json)
		if r.status != tt.status || r.errorCode(t) != tt.code {
			t.Errorf("promoter error %v: %d %s, want %d %s", tt.err, r.status, r.body, tt.status, tt.code)
		}
	}
	if n := f.rec.triggers.Load(); n != 2 {
		t.Errorf("failed promotions triggered reconciles: %d, want 2", n)
	}
}

// TestPromoteWithoutToken: a server that holds a key but no token refuses every promotion request.
func TestPromoteWithoutToken(t *testing.T) {
	p := &testOnlyPromoter{res: promoteResult()}
	f := newFixture(t, fixtureOptions{promoter: p, noToken: true})
	for _, h := range []string{"", "Bearer ", "Bearer x"} {
		r := f.do("POST", "/api/workflows/nightly-etl/promote", []byte(`{"version": "2.1.0"}`), map[string]string{"Authorization": h})
		if r.status != http.StatusUnauthorized || r.errorCode(t) != CodeUnauthorized || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: %d %s", h, r.status, r.body)
		}
	}
	if len(p.calls) != 0 {
		t.Errorf("unauthorized requests reached the promoter: %q", p.calls)
	}
}

func TestPromoteDisabled(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	r := f.do("POST", "/api/workflows/nightly-etl/promote", []byte(`{"version": "2.1.0"}`), map[string]string{"Content-Type": "application/json"})
	if r.status != http.StatusForbidden || r.errorCode(t) != CodePromotionDisabled || !bytes.Contains(r.body, []byte("holds no promotion key")) {
		t.Errorf("promote without a key: %d %s", r.status, r.body)
	}
	if f.rec.triggers.Load() != 0 {
		t.Errorf("a refused promotion triggered a reconcile")
	}
}

func TestWebhook(t *testing.T) {
	secret := []byte("It's a Secret to Everybody")
	f := newFixture(t, fixtureOptions{secret: secret})
	push := []byte(`{"ref": "refs/tags/nightly-etl/v2.1.0", "after": "` + strings.Repeat("a", 40) + `"}`)
	headers := func(event, sig string) map[string]string {
		h := map[string]string{"Content-Type": "application/json", HeaderDelivery: "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
		if event != "" {
			h[HeaderEvent] = event
		}
		if sig != "" {
			h[HeaderSignature] = sig
		}
		return h
	}
	// GitHub's documented test vector: secret "It's a Secret to Everybody", payload "Hello, World!".
	if got := Sign(secret, []byte("Hello, World!")); got != "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17" {
		t.Errorf("Sign() = %s, not GitHub's test vector", got)
	}

	r := f.do("POST", "/api/webhooks/git", push, headers("push", Sign(secret, push)))
	if r.status != http.StatusAccepted || f.rec.triggers.Load() != 1 {
		t.Fatalf("signed push: %d %s, %d triggers", r.status, r.body, f.rec.triggers.Load())
	}
	var got WebhookResponse
	r.json(t, &got)
	if got != (WebhookResponse{Status: "triggered", Event: "push", Ref: "refs/tags/nightly-etl/v2.1.0"}) {
		t.Errorf("response %+v", got)
	}
	// Form-encoded, as GitHub sends with content type application/x-www-form-urlencoded.
	form := []byte("payload=" + strings.ReplaceAll(string(push), " ", "+"))
	h := headers("push", Sign(secret, form))
	h["Content-Type"] = "application/x-www-form-urlencoded"
	if r := f.do("POST", "/api/webhooks/git", form, h); r.status != http.StatusAccepted {
		t.Errorf("form push: %d %s", r.status, r.body)
	}

	ping := []byte(`{"zen": "Keep it logically awesome.", "hook_id": 1}`)
	if r := f.do("POST", "/api/webhooks/git", ping, headers("ping", Sign(secret, ping))); r.status != http.StatusOK || !bytes.Contains(r.body, []byte("pong")) {
		t.Errorf("ping: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/api/webhooks/git", ping, headers("issues", Sign(secret, ping))); r.status != http.StatusOK || !bytes.Contains(r.body, []byte("ignored")) {
		t.Errorf("other event: %d %s", r.status, r.body)
	}
	if n := f.rec.triggers.Load(); n != 2 {
		t.Fatalf("triggers after ping and others: %d, want 2", n)
	}

	wrongKey := Sign([]byte("another secret"), push)
	tampered := append([]byte(nil), push...)
	tampered[10] ^= 1
	bad := []struct {
		name   string
		body   []byte
		header map[string]string
		status int
		code   Code
	}{
		{"missing signature", push, headers("push", ""), http.StatusUnauthorized, CodeUnauthorized},
		{"wrong secret", push, headers("push", wrongKey), http.StatusUnauthorized, CodeUnauthorized},
		{"tampered body", tampered, headers("push", Sign(secret, push)), http.StatusUnauthorized, CodeUnauthorized},
		{"sha1 signature", push, headers("push", "sha1="+strings.Repeat("0", 40)), http.StatusUnauthorized, CodeUnauthorized},
		{"not hex", push, headers("push", "sha256=zz"), http.StatusUnauthorized, CodeUnauthorized},
		{"truncated", push, headers("push", Sign(secret, push)[:40]), http.StatusUnauthorized, CodeUnauthorized},
		{"bad signature on a ping", ping, headers("ping", wrongKey), http.StatusUnauthorized, CodeUnauthorized},
		{"no event", push, headers("", Sign(secret, push)), http.StatusBadRequest, CodeBadRequest},
		{"push not JSON", []byte("nope"), headers("push", Sign(secret, []byte("nope"))), http.StatusBadRequest, CodeBadRequest},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do("POST", "/api/webhooks/git", tt.body, tt.header)
			if r.status != tt.status || r.errorCode(t) != tt.code {
				t.Errorf("%d %s, want %d %s", r.status, r.body, tt.status, tt.code)
			}
		})
	}
	if n := f.rec.triggers.Load(); n != 2 {
		t.Errorf("refused deliveries triggered reconciles: %d triggers, want 2", n)
	}
	if !strings.Contains(f.logs.String(), "webhook signature refused") {
		t.Errorf("refused signatures not logged")
	}

	big := bytes.Repeat([]byte("x"), MaxWebhookBody+1)
	r = f.do("POST", "/api/webhooks/git", big, headers("push", Sign(secret, big)))
	if r.status != http.StatusRequestEntityTooLarge || r.errorCode(t) != CodeBodyTooLarge {
		t.Errorf("oversized payload: %d %s", r.status, r.body)
	}
}

func TestWebhookDisabled(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	push := []byte(`{"ref": "refs/heads/main"}`)
	r := f.do("POST", "/api/webhooks/git", push, map[string]string{HeaderEvent: "push", HeaderSignature: Sign(nil, push)})
	if r.status != http.StatusForbidden || r.errorCode(t) != CodeWebhookDisabled || f.rec.triggers.Load() != 0 {
		t.Errorf("webhook without a secret: %d %s", r.status, r.body)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t, fixtureOptions{secret: []byte("s")})
	f.get("/api/workflows/nightly-etl/diff?from=1.0.0&to=1.1.0")
	f.get("/api/workflows/nightly-etl/diff?from=1.0.0&to=2.0.0")
	f.get("/api/workflows/unknown")
	f.do("DELETE", "/api/workflows", nil, nil)
	f.do("POST", "/api/webhooks/git", []byte("{}"), map[string]string{HeaderEvent: "push"})
	// Whatever else is registered in the registry is served too: in maestro serve, the reconciler's metrics
	// (checked by name in cmd/maestro/testdata/script/serve.txtar, where a real reconciler fills them in).
	extra := prometheus.NewGauge(prometheus.GaugeOpts{Name: "mc_test_only_gauge", Help: "Registered by the test."})
	f.reg.MustRegister(extra)
	extra.Set(42)
	r := f.get("/metrics")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %s", r.status, r.header.Get("Content-Type"))
	}
	body := string(r.body)
	for _, want := range []string{
		"# TYPE mc_diff_ms histogram",
		"mc_diff_ms_count 2",
		`mc_http_requests_total{code="200",method="GET",route="/api/workflows/{name}/diff"} 2`,
		`mc_http_requests_total{code="404",method="GET",route="/api/workflows/{name}"} 1`,
		`mc_http_requests_total{code="405",method="DELETE",route="unmatched"} 1`,
		`mc_http_request_duration_seconds_bucket{method="GET",route="/api/workflows/{name}/diff",le="+Inf"} 2`,
		"# TYPE mc_http_requests_in_flight gauge",
		`mc_webhook_deliveries_total{result="bad_signature"} 1`,
		"mc_test_only_gauge 42",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}
}
