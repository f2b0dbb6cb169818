package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/maestro-conductor/maestro/diff"
	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/runtime/store"
	"github.com/maestro-conductor/maestro/workflow"
)

// WorkflowList is GET /api/workflows.
type WorkflowList struct {
	Region    string          `json:"region"`
	Workflows []store.Summary `json:"workflows"`
}

// VersionInfo is one applied version; Definition is set only for a single version.
type VersionInfo struct {
	Name       string    `json:"name"`
	Version    string    `json:"version"`
	Digest     string    `json:"digest"`
	Commit     string    `json:"commit"`
	Tag        string    `json:"tag"`
	TagObject  string    `json:"tagObject"`
	Frozen     bool      `json:"frozen"`
	Tenant     string    `json:"tenant"`
	Signer     string    `json:"signer"`
	Promoter   string    `json:"promoter"`
	LogIndex   int64     `json:"logIndex"`
	PromotedAt time.Time `json:"promotedAt"`
	AppliedAt  time.Time `json:"appliedAt"`
	// Definition is the normalized workflow model, as stored.
	Definition json.RawMessage `json:"definition,omitempty"`
}

// WorkflowVersions is GET /api/workflows/{name}.
type WorkflowVersions struct {
	Name     string        `json:"name"`
	Latest   string        `json:"latestVersion"`
	Versions []VersionInfo `json:"versions"`
}

// Status is GET /api/status.
type Status struct {
	Region string `json:"region"`
	// Ready is the reconciler half of /readyz: this replica leads and is not stale, or follows a leader.
	Ready      bool               `json:"ready"`
	Reconciler ReconcilerStatus   `json:"reconciler"`
	Workflows  []store.SyncStatus `json:"workflows"`
}

// ReconcilerStatus is the reconciler's state with the API's judgement of it.
type ReconcilerStatus struct {
	ReconcilerState
	Stale      bool   `json:"stale"`
	StaleAfter string `json:"staleAfter"`
}

// History is GET /api/history: reconcile history entries, newest first.
type History struct {
	Region string        `json:"region"`
	Events []store.Event `json:"events"`
}

// History limits: the number of entries GET /api/history returns by default and at most.
const (
	DefaultHistoryLimit = 100
	MaxHistoryLimit     = 1000
)

// Readiness is GET /readyz: each check, and when not ready, an error saying why.
type Readiness struct {
	Status string       `json:"status,omitempty"`
	Error  *ErrorDetail `json:"error,omitempty"`
	Checks []ReadyCheck `json:"checks"`
}

// ReadyCheck is one readiness check.
type ReadyCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

func info(v store.Version) VersionInfo {
	return VersionInfo{Name: v.Name, Version: v.Version, Digest: v.Digest, Commit: v.Commit, Tag: v.Tag, TagObject: v.TagObject,
		Frozen: v.Frozen, Tenant: v.Tenant, Signer: v.Signer, Promoter: v.Promoter, LogIndex: v.LogIndex,
		PromotedAt: v.PromotedAt, AppliedAt: v.AppliedAt}
}

// pathName returns the {name} path parameter, checked.
func pathName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if !workflow.ValidName(name) {
		return "", errorf(http.StatusBadRequest, CodeBadRequest, "%q is not a workflow name: 1-63 of [a-z0-9-], starting and ending with a letter or digit", name)
	}
	return name, nil
}

// checkVersion normalizes a version parameter ("1.2.0" or "v1.2.0") to the store's form, without "v".
func checkVersion(param, v string) (string, error) {
	v = strings.TrimPrefix(v, "v")
	if !gitrepo.IsVersion("v" + v) {
		return "", errorf(http.StatusBadRequest, CodeBadRequest, "%s %q is not a semantic version MAJOR.MINOR.PATCH, e.g. 1.2.0", param, v)
	}
	return v, nil
}

// query returns a query parameter given at most once.
func query(q url.Values, key string) (string, error) {
	vs := q[key]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", errorf(http.StatusBadRequest, CodeBadRequest, "query parameter %q given %d times; give it once", key, len(vs))
}

func (s *server) listWorkflows(w http.ResponseWriter, r *http.Request) {
	list, err := s.opts.Store.Workflows(r.Context())
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if list == nil {
		list = []store.Summary{}
	}
	writeJSON(w, http.StatusOK, WorkflowList{Region: s.opts.Region, Workflows: list})
}

// versions returns a workflow's versions, or an error the handler can write.
func (s *server) versions(ctx context.Context, name string) ([]store.Version, error) {
	vs, err := s.opts.Store.Versions(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && len(vs) == 0):
		return nil, errorf(http.StatusNotFound, CodeWorkflowNotFound, "workflow %q has no version applied in region %s", name, s.opts.Region)
	case err != nil:
		return nil, storeErr{err}
	}
	return vs, nil
}

// storeErr marks a store failure for handle.
type storeErr struct{ error }

func (e storeErr) Unwrap() error { return e.error }

// handle writes err as the right answer.
func (s *server) handle(w http.ResponseWriter, r *http.Request, err error) {
	var se storeErr
	if errors.As(err, &se) {
		s.storeError(w, r, se.error)
		return
	}
	s.fail(w, r, err)
}

func (s *server) getWorkflow(w http.ResponseWriter, r *http.Request) {
	name, err := pathName(r)
	if err != nil {
		s.handle(w, r, err)
		return
	}
	vs, err := s.versions(r.Context(), name)
	if err != nil {
		s.handle(w, r, err)
		return
	}
	out := WorkflowVersions{Name: name, Versions: make([]VersionInfo, len(vs))}
	for i, v := range vs {
		out.Versions[i] = info(v)
	}
	out.Latest = vs[len(vs)-1].Version
	writeJSON(w, http.StatusOK, out)
}

// version returns one stored version, or an error the handler can write.
func (s *server) version(ctx context.Context, name, version string) (store.Version, error) {
	v, err := s.opts.Store.Version(ctx, name, version)
	if errors.Is(err, store.ErrNotFound) {
		if _, werr := s.versions(ctx, name); werr != nil {
			return v, werr
		}
		return v, errorf(http.StatusNotFound, CodeVersionNotFound, "workflow %q has no version %s applied in region %s", name, version, s.opts.Region)
	}
	if err != nil {
		return v, storeErr{err}
	}
	return v, nil
}

func (s *server) getVersion(w http.ResponseWriter, r *http.Request) {
	name, err := pathName(r)
	if err != nil {
		s.handle(w, r, err)
		return
	}
	version, err := checkVersion("version", r.PathValue("version"))
	if err != nil {
		s.handle(w, r, err)
		return
	}
	v, err := s.version(r.Context(), name, version)
	if err != nil {
		s.handle(w, r, err)
		return
	}
	out := info(v)
	if !json.Valid(v.Definition) {
		s.fail(w, r, fmt.Errorf("stored definition of %s %s is not JSON", name, version))
		return
	}
	out.Definition = v.Definition
	writeJSON(w, http.StatusOK, out)
}

// diffVersions answers GET /api/workflows/{name}/diff?from=V1&to=V2. to defaults to the latest applied version,
// from to the version applied before to; when to is the first version, the diff shows the workflow added.
func (s *server) diffVersions(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name, err := pathName(r)
	if err != nil {
		s.handle(w, r, err)
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		s.handle(w, r, errorf(http.StatusBadRequest, CodeBadRequest, "the query is malformed: %v", err))
		return
	}
	from, err := query(q, "from")
	if err != nil {
		s.handle(w, r, err)
		return
	}
	to, err := query(q, "to")
	if err != nil {
		s.handle(w, r, err)
		return
	}
	for _, p := range []struct {
		key string
		v   *string
	}{{"from", &from}, {"to", &to}} {
		if *p.v == "" {
			if q.Has(p.key) {
				s.handle(w, r, errorf(http.StatusBadRequest, CodeBadRequest, "query parameter %q is empty; give a version or leave it out", p.key))
				return
			}
			continue
		}
		if *p.v, err = checkVersion(p.key, *p.v); err != nil {
			s.handle(w, r, err)
			return
		}
	}
	var a, b *store.Version
	if from == "" || to == "" {
		vs, err := s.versions(ctx, name)
		if err != nil {
			s.handle(w, r, err)
			return
		}
		if to == "" {
			to = vs[len(vs)-1].Version
		}
		if from == "" {
			for i, v := range vs {
				if v.Version == to {
					if i > 0 {
						a = &vs[i-1]
					}
					b = &vs[i]
				}
			}
			if b == nil {
				s.handle(w, r, errorf(http.StatusNotFound, CodeVersionNotFound, "workflow %q has no version %s applied in region %s", name, to, s.opts.Region))
				return
			}
		}
	}
	if from != "" {
		v, err := s.version(ctx, name, from)
		if err != nil {
			s.handle(w, r, err)
			return
		}
		a = &v
	}
	if b == nil {
		v, err := s.version(ctx, name, to)
		if err != nil {
			s.handle(w, r, err)
			return
		}
		b = &v
	}

	start := time.Now()
	var wa, wb *workflow.Workflow
	if a != nil {
		if wa, err = decodeDefinition(*a); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if wb, err = decodeDefinition(*b); err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := diff.Workflows(wa, wb)
	if err != nil {
		s.fail(w, r, fmt.Errorf("diff %s %s..%s: %w", name, from, to, err))
		return
	}
	s.metrics.diffMillis.Observe(float64(time.Since(start).Microseconds()) / 1000)
	w.Header().Set("X-Maestro-Diff-From", versionOf(a))
	w.Header().Set("X-Maestro-Diff-To", b.Version)
	writeJSON(w, http.StatusOK, diff.NewReport(diff.Result{Workflows: []diff.Workflow{d}}))
}

func versionOf(v *store.Version) string {
	if v == nil {
		return ""
	}
	return v.Version
}

// decodeDefinition decodes a stored definition: encoding/json of a *workflow.Workflow.
func decodeDefinition(v store.Version) (*workflow.Workflow, error) {
	var w workflow.Workflow
	if err := json.Unmarshal(v.Definition, &w); err != nil {
		return nil, fmt.Errorf("stored definition of %s %s: %w", v.Name, v.Version, err)
	}
	if w.Name == "" {
		w.Name = v.Name
	}
	return &w, nil
}

// stale says whether this replica's reconciler is behind, and why: no successful reconcile yet, or none within
// StaleAfter. Only the region's leader reconciles; a replica that does not lead is judged by readyz on what the
// store holds instead (see followerReady).
func (s *server) stale(st ReconcilerState) (bool, string) {
	now := s.now()
	switch {
	case st.LastSuccess.IsZero() && st.LastAttempt.IsZero():
		return true, "no reconcile has finished yet"
	case st.LastSuccess.IsZero():
		return true, "no reconcile has succeeded yet" + lastError(st)
	case now.Sub(st.LastSuccess) > s.opts.StaleAfter:
		return true, fmt.Sprintf("the last successful reconcile was %s ago, more than %s", now.Sub(st.LastSuccess).Round(time.Second), s.opts.StaleAfter) + lastError(st)
	}
	return false, fmt.Sprintf("the last successful reconcile was %s ago", now.Sub(st.LastSuccess).Round(time.Millisecond))
}

// reconcilerReady judges the reconciler side of readiness: the leader by its own staleness, a follower by
// followerReady.
func (s *server) reconcilerReady(ctx context.Context, st ReconcilerState) (bool, string) {
	if st.Leader {
		stale, why := s.stale(st)
		return !stale, why
	}
	return s.followerReady(ctx, st)
}

// followerReady judges a replica that does not lead: it serves what the region's leader applied, so it is ready
// once the store holds the outcome of a reconcile (a sync status), and its own reconciler's age does not count.
func (s *server) followerReady(ctx context.Context, st ReconcilerState) (bool, string) {
	if !st.LastSuccess.IsZero() {
		if stale, why := s.stale(st); !stale {
			return true, why // it led until recently
		}
	}
	statuses, err := s.opts.Store.Statuses(ctx)
	switch {
	case err != nil:
		return false, "not the leader, and the store's sync status is unreadable: " + err.Error()
	case len(statuses) == 0:
		return false, "not the leader, and no reconcile has finished in this region yet"
	}
	return true, "another replica leads the region's reconciles; this one serves what the region store holds"
}

func lastError(st ReconcilerState) string {
	if st.LastError == "" {
		return ""
	}
	return "; last error: " + st.LastError
}

func (s *server) status(w http.ResponseWriter, r *http.Request) {
	st := s.opts.Reconciler.State()
	stale, _ := s.stale(st)
	ready, _ := s.reconcilerReady(r.Context(), st)
	statuses, err := s.opts.Store.Statuses(r.Context())
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if statuses == nil {
		statuses = []store.SyncStatus{}
	}
	writeJSON(w, http.StatusOK, Status{Region: s.opts.Region, Ready: ready,
		Reconciler: ReconcilerStatus{ReconcilerState: st, Stale: stale, StaleAfter: s.opts.StaleAfter.String()},
		Workflows:  statuses})
}

// historyFilter reads the query of GET /api/history: workflow, action, since and limit, each at most once.
func historyFilter(r *http.Request) (store.HistoryFilter, error) {
	f := store.HistoryFilter{Limit: DefaultHistoryLimit}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return f, errorf(http.StatusBadRequest, CodeBadRequest, "the query is malformed: %v", err)
	}
	vals := map[string]string{}
	for _, key := range []string{"workflow", "action", "since", "limit"} {
		v, err := query(q, key)
		if err != nil {
			return f, err
		}
		if v == "" && q.Has(key) {
			return f, errorf(http.StatusBadRequest, CodeBadRequest, "query parameter %q is empty; give a value or leave it out", key)
		}
		vals[key] = v
	}
	if v := vals["workflow"]; v != "" {
		if !workflow.ValidName(v) {
			return f, errorf(http.StatusBadRequest, CodeBadRequest, "workflow %q is not a workflow name: 1-63 of [a-z0-9-], starting and ending with a letter or digit", v)
		}
		f.Workflow = v
	}
	switch v := vals["action"]; v {
	case "", store.ActionApplied, store.ActionRefused, store.ActionError:
		f.Action = v
	default:
		return f, errorf(http.StatusBadRequest, CodeBadRequest, "action %q is not a history action: give %s, %s or %s", v,
			store.ActionApplied, store.ActionRefused, store.ActionError)
	}
	if v := vals["since"]; v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, errorf(http.StatusBadRequest, CodeBadRequest, "since %q is not an RFC 3339 time, e.g. 2026-11-26T08:00:00Z (write a + offset as %%2B)", v)
		}
		f.Since = t
	}
	if v := vals["limit"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxHistoryLimit {
			return f, errorf(http.StatusBadRequest, CodeBadRequest, "limit %q is not a whole number from 1 to %d", v, MaxHistoryLimit)
		}
		f.Limit = n
	}
	return f, nil
}

// history answers GET /api/history?workflow=&action=&since=&limit=: the reconcile history, newest first.
func (s *server) history(w http.ResponseWriter, r *http.Request) {
	f, err := historyFilter(r)
	if err != nil {
		s.handle(w, r, err)
		return
	}
	events, err := s.opts.Store.History(r.Context(), f)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if events == nil {
		events = []store.Event{}
	}
	writeJSON(w, http.StatusOK, History{Region: s.opts.Region, Events: events})
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// pingTimeout bounds the store check of /readyz.
const pingTimeout = 2 * time.Second

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), pingTimeout)
	defer cancel()
	storeCheck := ReadyCheck{Name: "store", OK: true, Detail: "reachable"}
	if err := s.opts.Store.Ping(ctx); err != nil {
		storeCheck = ReadyCheck{Name: "store", Detail: "ping: " + err.Error()}
	}
	ready, why := s.reconcilerReady(ctx, s.opts.Reconciler.State())
	recCheck := ReadyCheck{Name: "reconciler", OK: ready, Detail: why}
	out := Readiness{Checks: []ReadyCheck{storeCheck, recCheck}}
	if storeCheck.OK && recCheck.OK {
		out.Status = "ready"
		writeJSON(w, http.StatusOK, out)
		return
	}
	var reasons []string
	for _, c := range out.Checks {
		if !c.OK {
			reasons = append(reasons, c.Name+": "+c.Detail)
		}
	}
	out.Error = &ErrorDetail{Code: CodeNotReady, Message: strings.Join(reasons, "; ")}
	writeJSON(w, http.StatusServiceUnavailable, out)
}
