package reconciler_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/maestro-conductor/maestro/digest"
	"github.com/maestro-conductor/maestro/internal/gittest"
	"github.com/maestro-conductor/maestro/internal/wftest"
	"github.com/maestro-conductor/maestro/promote"
	"github.com/maestro-conductor/maestro/reconciler"
	"github.com/maestro-conductor/maestro/runtime/store"
	"github.com/maestro-conductor/maestro/workflow"
)

func reconcileOnce(t *testing.T, r *reconciler.Reconciler) reconciler.Result {
	t.Helper()
	res, err := r.ReconcileOnce(context.Background())
	if err != nil {
		t.Fatalf("ReconcileOnce: %v", err)
	}
	return res
}

func history(t *testing.T, st store.Store, action string) []store.Event {
	t.Helper()
	evs, err := st.History(context.Background(), store.HistoryFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func versionsOf(t *testing.T, st store.Store, name string) []string {
	t.Helper()
	vs, err := st.Versions(context.Background(), name)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range vs {
		out = append(out, v.Version+"@"+v.TagObject[:12])
	}
	return out
}

func statusOf(t *testing.T, st store.Store, name string) store.SyncStatus {
	t.Helper()
	ss, err := st.Statuses(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if s.Workflow == name {
			return s
		}
	}
	t.Fatalf("no status for %s in %+v", name, ss)
	return store.SyncStatus{}
}

// TestReconcile promotes a version, applies it, finds nothing new on a second run, and applies a second version;
// over a file:// remote and over git daemon.
func TestReconcile(t *testing.T) {
	for _, transport := range []string{"file", "git-daemon"} {
		t.Run(transport, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t)
			if transport == "git-daemon" {
				f.serve()
			}
			commit := f.commit(map[string]string{"etl": wftest.SmallYAML("etl", 1)})
			first := f.promote("etl", "1.0.0")
			st := newStore(t)
			reg := prometheus.NewRegistry()
			r := f.reconciler("us-east", st, func(o *reconciler.Options) { o.Metrics = reconciler.NewMetrics(reg) })

			res := reconcileOnce(t, r)
			if d := cmp.Diff([]string{"etl/v1.0.0"}, res.Applied); d != "" {
				t.Fatalf("Applied (-want +got):\n%s", d)
			}
			if res.Commit != commit {
				t.Errorf("Result.Commit = %s, want main's %s", res.Commit, commit)
			}
			v, err := st.Version(ctx, "etl", "1.0.0")
			if err != nil {
				t.Fatal(err)
			}
			want := store.Version{Name: "etl", Version: "1.0.0", Digest: string(first.Record.Digest), Commit: commit, Tag: "etl/v1.0.0",
				TagObject: first.TagObject, Frozen: true, Tenant: "acme", Signer: first.Record.KeyID, Promoter: "release@example.com",
				LogIndex: first.LogIndex, PromotedAt: first.Record.Time}
			got := v
			got.Definition, got.AppliedAt = nil, time.Time{}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("applied version (-want +got):\n%s", d)
			}
			// The definition is the normalized model: its digest is the promoted one.
			var w workflow.Workflow
			if err := json.Unmarshal(v.Definition, &w); err != nil {
				t.Fatalf("definition: %v", err)
			}
			if d, err := digest.Of(&w); err != nil || string(d) != v.Digest {
				t.Errorf("digest of the stored definition = %s, %v; want %s", d, err, v.Digest)
			}
			if s := statusOf(t, st, "etl"); !s.Synced || s.DesiredVersion != "1.0.0" || s.AppliedVersion != "1.0.0" || s.LastError != "" {
				t.Errorf("status = %+v, want synced at 1.0.0", s)
			}
			if evs := history(t, st, store.ActionApplied); len(evs) != 1 || evs[0].Tag != "etl/v1.0.0" || evs[0].Region != "us-east" {
				t.Errorf("applied history = %+v", evs)
			}
			state := r.State()
			if state.LastError != "" || state.LastSuccess.IsZero() || state.LastFetchedCommit != commit || state.Stale(time.Minute) {
				t.Errorf("state = %+v", state)
			}

			// Again: nothing new, nothing written.
			res = reconcileOnce(t, r)
			if len(res.Applied) != 0 || !slices.Equal(res.Unchanged, []string{"etl/v1.0.0"}) || len(res.Refused) != 0 {
				t.Errorf("second reconcile = %+v, want etl/v1.0.0 unchanged", res)
			}
			if evs := history(t, st, ""); len(evs) != 1 {
				t.Errorf("history after an idempotent reconcile = %+v", evs)
			}

			// A second version.
			f.commit(map[string]string{"etl": wftest.SmallYAML("etl", 2)})
			f.promote("etl", "1.1.0")
			res = reconcileOnce(t, r)
			if !slices.Equal(res.Applied, []string{"etl/v1.1.0"}) || !slices.Equal(res.Unchanged, []string{"etl/v1.0.0"}) {
				t.Errorf("third reconcile = %+v, want etl/v1.1.0 applied", res)
			}
			if got := versionsOf(t, st, "etl"); len(got) != 2 {
				t.Errorf("versions = %v", got)
			}
			if s := statusOf(t, st, "etl"); !s.Synced || s.DesiredVersion != "1.1.0" || s.AppliedVersion != "1.1.0" {
				t.Errorf("status = %+v, want synced at 1.1.0", s)
			}
			// A fresh replica (empty mirror) over the same store finds everything applied.
			res = reconcileOnce(t, f.reconciler("us-east", st))
			if len(res.Applied) != 0 || len(res.Unchanged) != 2 {
				t.Errorf("fresh mirror over a full store = %+v, want 2 unchanged", res)
			}
			wantMetric(t, reg, "mc_reconcile_applied_total", 2)
			wantMetric(t, reg, "mc_reconcile_refused_total", 0)
		})
	}
}

// wantMetric checks the sum of a counter or gauge over its label sets.
func wantMetric(t *testing.T, reg *prometheus.Registry, name string, want float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			got += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	if got != want {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

// TestRefusesForgedTag: a tag signed by a key the region does not trust is refused with check "signature" and
// never applied; the region keeps the versions it had, and the refusal is recorded once.
func TestRefusesForgedTag(t *testing.T) {
	f := newFixture(t)
	f.commit(map[string]string{"etl": wftest.SmallYAML("etl", 1)})
	f.promote("etl", "1.0.0")
	st := newStore(t)
	reg := prometheus.NewRegistry()
	r := f.reconciler("us-east", st, func(o *reconciler.Options) { o.Metrics = reconciler.NewMetrics(reg) })
	reconcileOnce(t, r)

	f.commit(map[string]string{"etl": wftest.SmallYAML("etl", 2)})
	mallory := newKey(t)
	f.promoteWith("etl", "1.1.0", mallory, f.index)
	for range 2 {
		res, err := r.ReconcileOnce(context.Background())
		var refused *reconciler.RefusedError
		if !errors.As(err, &refused) || reconciler.Transient(err) {
			t.Fatalf("ReconcileOnce error = %v, want a *RefusedError", err)
		}
		if len(refused.Refusals) != 1 || refused.Refusals[0].Check != promote.CheckSignature ||
			!strings.Contains(refused.Refusals[0].Reason, "not a trusted promoter key") {
			t.Fatalf("refusals = %+v", refused.Refusals)
		}
		if !slices.Equal(res.Refused, []string{"etl/v1.1.0"}) || !slices.Equal(res.Unchanged, []string{"etl/v1.0.0"}) || len(res.Applied) != 0 {
			t.Errorf("result = %+v", res)
		}
	}
	if got := versionsOf(t, st, "etl"); len(got) != 1 || !strings.HasPrefix(got[0], "1.0.0@") {
		t.Errorf("versions = %v, want only 1.0.0", got)
	}
	evs := history(t, st, store.ActionRefused)
	if len(evs) != 1 || evs[0].Check != promote.CheckSignature || evs[0].Tag != "etl/v1.1.0" || evs[0].Reason == "" {
		t.Errorf("refused history = %+v, want one signature refusal", evs)
	}
	s := statusOf(t, st, "etl")
	if s.Synced || s.DesiredVersion != "1.0.0" || s.AppliedVersion != "1.0.0" || !strings.Contains(s.LastError, "signature check failed") {
		t.Errorf("status = %+v", s)
	}
	state := r.State()
	if !strings.Contains(state.LastError, "etl/v1.1.0") || state.Stale(time.Minute) {
		t.Errorf("state = %+v: want the refusal as last error, and fresh", state)
	}
	wantMetric(t, reg, "mc_reconcile_refused_total", 1)
	wantMetric(t, reg, "mc_reconcile_refused_tags", 1)
}

// TestRefusesMovedTag: a tag deleted and recreated on another commit on the remote is refused, by the replica
// that has the first one (the tag moved) and by a fresh one (the first-seen index in the store); the applied
// version does not change.
func TestRefusesMovedTag(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.commit(map[string]string{"etl": wftest.SmallYAML("etl", 1)})
	first := f.promote("etl", "1.0.0")
	st := newStore(t)
	r := f.reconciler("us-east", st)
	reconcileOnce(t, r)

	// Someone with the key and an empty first-seen index recreates the tag on another commit.
	gittest.Run(t, f.bare, "tag", "-d", "etl/v1.0.0")
	gittest.Run(t, f.work, "tag", "-d", "etl/v1.0.0")
	f.commit(map[string]string{"etl": wftest.SmallYAML("etl", 2)})
	elsewhere := newStore(t)
	second := f.promoteWith("etl", "1.0.0", f.key, elsewhere)
	if second.TagObject == first.TagObject {
		t.Fatal("the recreated tag is the same object")
	}

	for name, r := range map[string]*reconciler.Reconciler{"same mirror": r, "fresh mirror": f.reconciler("us-east", st)} {
		t.Run(name, func(t *testing.T) {
			res, err := r.ReconcileOnce(ctx)
			var refused *reconciler.RefusedError
			if !errors.As(err, &refused) || len(refused.Refusals) != 1 {
				t.Fatalf("ReconcileOnce = %+v, %v; want one refusal", res, err)
			}
			ref := refused.Refusals[0]
			if ref.Tag != "etl/v1.0.0" || ref.Check != promote.CheckFreeze {
				t.Errorf("refusal = %+v, want etl/v1.0.0 refused by the freeze check", ref)
			}
			t.Logf("refusal: %s", ref)
			if len(res.Applied) != 0 {
				t.Errorf("applied %v", res.Applied)
			}
			v, err := st.Version(ctx, "etl", "1.0.0")
			if err != nil || v.TagObject != first.TagObject {
				t.Errorf("applied version = %+v, %v; want the first tag object %s", v, err, first.TagObject)
			}
		})
	}
}

// TestRemoteUnreachable: with the remote gone (deleted, or its git daemon stopped) a reconcile fails with a
// transient *FetchError, the store keeps everything, and the state turns stale after the configured age.
func TestRemoteUnreachable(t *testing.T) {
	for _, transport := range []string{"file", "git-daemon"} {
		t.Run(transport, func(t *testing.T) {
			f := newFixture(t)
			stop := func() { os.RemoveAll(f.bare) }
			if transport == "git-daemon" {
				stop = f.serve()
			}
			f.commit(map[string]string{"etl": wftest.SmallYAML("etl", 1)})
			f.promote("etl", "1.0.0")
			st := newStore(t)
			clock := time.Now()
			r := f.reconciler("us-east", st, func(o *reconciler.Options) { o.Now = func() time.Time { return clock } })
			reconcileOnce(t, r)
			before := versionsOf(t, st, "etl")

			stop()
			clock = clock.Add(30 * time.Second)
			_, err := r.ReconcileOnce(context.Background())
			var fe *reconciler.FetchError
			if !errors.As(err, &fe) || !reconciler.Transient(err) {
				t.Fatalf("ReconcileOnce with the remote gone = %v, want a *FetchError", err)
			}
			t.Logf("error: %v", err)
			if got := versionsOf(t, st, "etl"); !slices.Equal(got, before) {
				t.Errorf("versions = %v, want %v kept", got, before)
			}
			if s := statusOf(t, st, "etl"); !s.Synced {
				t.Errorf("status changed to %+v", s)
			}
			state := r.State()
			if state.LastError == "" || state.Failures != 1 {
				t.Errorf("state = %+v, want the fetch error", state)
			}
			if state.Stale(time.Minute) {
				t.Errorf("stale 30s after the last success with a 1m limit")
			}
			clock = clock.Add(time.Minute)
			if !r.State().Stale(time.Minute) {
				t.Errorf("not stale 90s after the last success with a 1m limit")
			}
			// One error event, however often the fetch fails.
			r.ReconcileOnce(context.Background())
			if evs := history(t, st, store.ActionError); len(evs) != 1 {
				t.Errorf("error history = %+v, want one entry", evs)
			}
		})
	}
}

// TestFirstCloneUnreachable: a region whose remote was never reachable has nothing, is stale, and leaves no
// half-made mirror behind.
func TestFirstCloneUnreachable(t *testing.T) {
	f := newFixture(t)
	os.RemoveAll(f.bare)
	r := f.reconciler("us-east", newStore(t))
	_, err := r.ReconcileOnce(context.Background())
	if !reconciler.Transient(err) {
		t.Fatalf("ReconcileOnce = %v, want a transient error", err)
	}
	if !r.State().Stale(time.Hour) {
		t.Error("a region that never reconciled is not stale")
	}
}

// TestStoreDown: store trouble is transient, distinct from refusals, and nothing is half-applied.
func TestStoreDown(t *testing.T) {
	f := newFixture(t)
	f.commit(map[string]string{"etl": wftest.SmallYAML("etl", 1)})
	f.promote("etl", "1.0.0")
	st := newFaultStore(t)
	r := f.reconciler("us-east", st)
	st.setFail(errors.New("connection refused"))
	_, err := r.ReconcileOnce(context.Background())
	var se *reconciler.StoreError
	if !errors.As(err, &se) || !reconciler.Transient(err) {
		t.Fatalf("ReconcileOnce with the store down = %v, want a *StoreError", err)
	}
	st.setFail(nil)
	if res := reconcileOnce(t, r); !slices.Equal(res.Applied, []string{"etl/v1.0.0"}) {
		t.Errorf("after the store came back: %+v", res)
	}
}
