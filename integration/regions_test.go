package integration_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/maestro-conductor/maestro/attest/tlog"
	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/internal/gittest"
	"github.com/maestro-conductor/maestro/internal/wftest"
	"github.com/maestro-conductor/maestro/promote"
	"github.com/maestro-conductor/maestro/runtime/api"
	"github.com/maestro-conductor/maestro/runtime/store"
	"github.com/maestro-conductor/maestro/sshsig"
)

// regionInterval is how often the regions of TestTwoRegions pull, so that they notice pushes without a webhook:
// the shortest interval `maestro serve` accepts.
const regionInterval = time.Second

// waitApplied bounds how long a region may take to apply, refuse or take over.
const waitApplied = 15 * time.Second

// TestTwoRegions runs two regions, us-east and us-west, as `maestro serve` processes on PostgreSQL databases of
// their own, pulling one remote served by git daemon, through the scenarios in order, each starting from
// what the one before left:
//
//	a. a promotion is applied by both regions: same digest, same tag object;
//	b. with us-west stopped, us-east applies the next promotion and keeps serving;
//	c. us-west, restarted on its database, catches up;
//	d. a tag signed by an unknown key is refused by both (check "signature") and shows in their status;
//	e. a promoted tag moved on the remote is refused by both, which keep serving the original, and the
//	   refusal clears once the tag is restored;
//	f. a second us-east replica on the same database: exactly one leads; when the leader is killed, the other
//	   takes over and applies the next promotion.
func TestTwoRegions(t *testing.T) {
	const wf = "nightly-etl"
	w := newWorld(t)
	w.commit(t, wf, 1)
	specs := map[string]replicaSpec{}
	stores := map[string]store.Store{}
	for _, region := range []string{"us-east", "us-west"} {
		specs[region] = replicaSpec{region: region, dsn: newDatabase(t), dataDir: filepath.Join(w.dir, region), interval: regionInterval}
		stores[region] = openStore(t, specs[region].dsn)
	}
	east, west := w.start(t, "us-east", specs["us-east"]), w.start(t, "us-west", specs["us-west"])
	ctx := context.Background()

	var v100, v110 *promote.Result
	var forged *promote.Result
	var forger *gitrepo.Repo
	forgerDir := filepath.Join(w.dir, "forger")
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow() // the next scenario starts from what this one should have left
		}
	}

	step("a_promotion_applied_in_both", func(t *testing.T) {
		v100 = w.promote(t, wf, "1.0.0")
		pushed := time.Now()
		for _, r := range []*replica{east, west} {
			waitUntil(t, waitApplied, r.name+" serves 1.0.0", func() error { return r.serving(wf, "1.0.0") })
		}
		t.Logf("pushed → served in both regions: %v", time.Since(pushed).Round(time.Millisecond))
		for _, r := range []*replica{east, west} {
			st := stores[r.region]
			checkVersion(t, r, st, v100)
			var list api.WorkflowList
			r.mustGet(t, "/api/workflows", &list)
			want := api.WorkflowList{Region: r.region, Workflows: []store.Summary{{Name: wf, Latest: "1.0.0", Digest: string(v100.Record.Digest), Versions: 1}}}
			if d := cmp.Diff(want, list, cmpopts.IgnoreFields(store.Summary{}, "Updated")); d != "" {
				t.Errorf("%s: GET /api/workflows mismatch (-want +got):\n%s", r.name, d)
			}
			waitSynced(t, r, wf, "1.0.0")
			if evs := history(t, st, v100.Tag, store.ActionApplied); len(evs) != 1 || evs[0].Region != r.region || evs[0].Commit != v100.Record.Commit {
				t.Errorf("%s: applied history of %s = %+v, want it once, in %s, from %s", r.name, v100.Tag, evs, r.region, v100.Record.Commit)
			}
		}
	})

	step("b_us_west_stopped_us_east_serves", func(t *testing.T) {
		west.stop(t)
		if _, err := west.get("/healthz", nil); err == nil {
			t.Fatal("us-west still answers after it stopped")
		}
		w.commit(t, wf, 2)
		v110 = w.promote(t, wf, "1.1.0")
		waitUntil(t, waitApplied, "us-east serves 1.1.0", func() error { return east.serving(wf, "1.1.0") })
		checkVersion(t, east, stores["us-east"], v110)
		checkVersion(t, east, stores["us-east"], v100)
		waitSynced(t, east, wf, "1.1.0")
		if code, err := east.get("/readyz", nil); err != nil || code != http.StatusOK {
			t.Errorf("us-east /readyz: %d, %v; want 200", code, err)
		}
		if _, err := stores["us-west"].Version(ctx, wf, "1.1.0"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("us-west's store while it is down: Version(1.1.0) = %v, want ErrNotFound", err)
		}
	})

	step("c_us_west_restarted_catches_up", func(t *testing.T) {
		restarted := time.Now()
		west = w.start(t, "us-west", specs["us-west"]) // the same database and data directory
		waitUntil(t, waitApplied, "us-west serves 1.1.0", func() error { return west.serving(wf, "1.1.0") })
		t.Logf("us-west restarted → serving 1.1.0: %v", time.Since(restarted).Round(time.Millisecond))
		checkVersion(t, west, stores["us-west"], v110)
		checkVersion(t, west, stores["us-west"], v100)
		waitSynced(t, west, wf, "1.1.0")
		for _, res := range []*promote.Result{v100, v110} {
			if evs := history(t, stores["us-west"], res.Tag, store.ActionApplied); len(evs) != 1 {
				t.Errorf("us-west applied %s %d times, want once: %+v", res.Tag, len(evs), evs)
			}
		}
	})

	step("d_forged_tag_refused_in_both", func(t *testing.T) {
		// Someone with push rights but not a trusted key promotes a version of their own and pushes the tag.
		gittest.Run(t, w.dir, "clone", "-q", w.url, forgerDir)
		writeFile(t, filepath.Join(forgerDir, "workflows", wf+".yaml"), []byte(wftest.SmallYAML(wf, 666)))
		gittest.Run(t, forgerDir, "commit", "-q", "-am", "a change nobody reviewed")
		var err error
		if forger, err = gitrepo.Open(forgerDir); err != nil {
			t.Fatal(err)
		}
		idx, err := tlog.NewFileIndex(filepath.Join(w.dir, "forger-index"))
		if err != nil {
			t.Fatal(err)
		}
		forged, err = promote.Promote(ctx, forger, promote.Options{Workflow: wf, Version: "2.0.0", Freeze: true, Key: newKey(t),
			Promoter: "mallory@example.com", Log: w.log, Index: idx, Logger: discard})
		if err != nil {
			t.Fatal(err)
		}
		gittest.Run(t, forgerDir, "push", "-q", "origin", "refs/tags/"+forged.Tag)

		for _, r := range []*replica{east, west} {
			ws := waitStatusError(t, r, wf, forged.Tag)
			if want := forged.Tag + ": " + promote.CheckSignature + " check failed"; !strings.Contains(ws.LastError, want) {
				t.Errorf("%s: status error %q, want %q", r.name, ws.LastError, want)
			}
			if ws.DesiredVersion != "1.1.0" || ws.AppliedVersion != "1.1.0" {
				t.Errorf("%s: status desired %s applied %s, want 1.1.0 and 1.1.0", r.name, ws.DesiredVersion, ws.AppliedVersion)
			}
			if s := r.status(t); !strings.Contains(s.Reconciler.LastError, forged.Tag) {
				t.Errorf("%s: reconciler lastError %q does not name %s", r.name, s.Reconciler.LastError, forged.Tag)
			}
			evs := history(t, stores[r.region], forged.Tag, store.ActionRefused)
			if len(evs) == 0 || evs[0].Check != promote.CheckSignature || evs[0].Workflow != wf {
				t.Fatalf("%s: refused history of %s = %+v, want a %q refusal", r.name, forged.Tag, evs, promote.CheckSignature)
			}
			t.Logf("%s refused %s: %s check: %s", r.name, forged.Tag, evs[0].Check, evs[0].Reason)
			if _, ok, err := r.version(wf, "2.0.0"); err != nil || ok {
				t.Errorf("%s: GET versions/2.0.0: served %v, %v; want 404", r.name, ok, err)
			}
			if _, err := stores[r.region].Version(ctx, wf, "2.0.0"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: the store holds the forged 2.0.0: %v", r.name, err)
			}
			checkLatest(t, r, wf, "1.1.0")
		}
	})

	step("e_moved_tag_refused_in_both", func(t *testing.T) {
		// 1.0.0 deleted on the remote and made again on 1.1.0's commit, signed with the trusted key and with a
		// record consistent with that commit: only the tag having moved gives it away.
		gittest.Run(t, forgerDir, "tag", "-d", v100.Tag)
		commit := plumbing.NewHash(v110.Record.Commit)
		identity, err := forger.IdentityOf(ctx, commit)
		if err != nil {
			t.Fatal(err)
		}
		rec := promote.Record{Workflow: wf, Version: "1.0.0", Digest: v110.Record.Digest, Commit: v110.Record.Commit, Frozen: true,
			Promoter: promoter, KeyID: v100.Record.KeyID, Time: time.Now().UTC().Truncate(time.Second), Repository: identity}
		msg, err := rec.Message()
		if err != nil {
			t.Fatal(err)
		}
		moved, err := forger.CreateSignedTag(ctx, v100.Tag, commit, object.Signature{Name: promoter, Email: promoter, When: rec.Time}, msg,
			func(p []byte) ([]byte, error) { return sshsig.Sign(w.key, p, promote.SignatureNamespace) })
		if err != nil {
			t.Fatal(err)
		}
		gittest.Run(t, forgerDir, "push", "-q", "origin", ":refs/tags/"+v100.Tag)
		gittest.Run(t, forgerDir, "push", "-q", "origin", "refs/tags/"+v100.Tag)
		if got := remoteTag(t, w, v100.Tag); got != moved.String() || got == v100.TagObject {
			t.Fatalf("the remote's %s is %s, want the moved tag object %s", v100.Tag, got, moved)
		}

		for _, r := range []*replica{east, west} {
			waitStatusError(t, r, wf, v100.Tag+":")
			evs := history(t, stores[r.region], v100.Tag, store.ActionRefused)
			if len(evs) == 0 || (evs[0].Check != promote.CheckFreeze && evs[0].Check != promote.CheckStatement) {
				t.Fatalf("%s: refused history of %s = %+v, want a %q or %q refusal", r.name, v100.Tag, evs, promote.CheckFreeze, promote.CheckStatement)
			}
			t.Logf("%s refused the moved %s: %s check: %s", r.name, v100.Tag, evs[0].Check, evs[0].Reason)
			checkVersion(t, r, stores[r.region], v100) // the original, still
			checkLatest(t, r, wf, "1.1.0")
		}

		// The tag restored on the remote: the refusal clears; the forged tag's stays, recorded once.
		gittest.Run(t, w.work, "push", "-q", "--force", "origin", "refs/tags/"+v100.Tag)
		for _, r := range []*replica{east, west} {
			waitUntil(t, waitApplied, r.name+" no longer refuses "+v100.Tag, func() error {
				ws, _ := workflowStatus(r.status(t), wf)
				if strings.Contains(ws.LastError, v100.Tag+":") {
					return fmt.Errorf("status error: %s", ws.LastError)
				}
				return nil
			})
			checkVersion(t, r, stores[r.region], v100)
			if evs := history(t, stores[r.region], forged.Tag, store.ActionRefused); len(evs) != 1 {
				t.Errorf("%s: the forged tag's lasting refusal is in the history %d times, want once: %+v", r.name, len(evs), evs)
			}
		}
	})

	step("f_second_replica_takes_over_from_killed_leader", func(t *testing.T) {
		spec := specs["us-east"]
		spec.dataDir = filepath.Join(w.dir, "us-east-2") // the same database, a mirror of its own
		east2 := w.start(t, "us-east-2", spec)
		// Both ready: exactly one leads, and goes on leading over several leader polls.
		var leader, follower *replica
		for range 3 {
			a, b := east.status(t).Reconciler.Leader, east2.status(t).Reconciler.Leader
			if a == b {
				t.Fatalf("us-east leads: %v, us-east-2 leads: %v; want exactly one", a, b)
			}
			now, other := east, east2
			if b {
				now, other = east2, east
			}
			if leader != nil && now != leader {
				t.Fatalf("the lead moved from %s to %s while both ran", leader.name, now.name)
			}
			leader, follower = now, other
			time.Sleep(400 * time.Millisecond)
		}
		var list api.WorkflowList
		follower.mustGet(t, "/api/workflows", &list) // a follower serves what the leader applied
		if len(list.Workflows) != 1 || list.Workflows[0].Latest != "1.1.0" {
			t.Errorf("%s (following): GET /api/workflows = %+v, want %s at 1.1.0", follower.name, list, wf)
		}

		leader.kill(t)
		killed := time.Now()
		takeover := waitUntil(t, waitApplied, follower.name+" leads", func() error {
			if !follower.status(t).Reconciler.Leader {
				return errors.New("not leading")
			}
			return nil
		})
		t.Logf("%s killed → %s leads: %v", leader.name, follower.name, takeover.Round(time.Millisecond))
		w.commit(t, wf, 3)
		v120 := w.promote(t, wf, "1.2.0")
		for _, r := range []*replica{follower, west} {
			waitUntil(t, waitApplied, r.name+" serves 1.2.0", func() error { return r.serving(wf, "1.2.0") })
			checkVersion(t, r, stores[r.region], v120)
		}
		t.Logf("%s killed → 1.2.0 applied by %s: %v", leader.name, follower.name, time.Since(killed).Round(time.Millisecond))
		// The history entry is written just after the version is stored.
		waitUntil(t, waitApplied, "us-east records 1.2.0 in its history", func() error {
			if len(history(t, stores["us-east"], v120.Tag, store.ActionApplied)) == 0 {
				return errors.New("not yet")
			}
			return nil
		})
		if evs := history(t, stores["us-east"], v120.Tag, store.ActionApplied); len(evs) != 1 {
			t.Errorf("us-east applied %s %d times, want once: %+v", v120.Tag, len(evs), evs)
		}
		if code, err := follower.get("/readyz", nil); err != nil || code != http.StatusOK {
			t.Errorf("%s /readyz: %d, %v; want 200", follower.name, code, err)
		}
	})
}

// checkVersion checks that r serves res's version through the API exactly as promoted, and that its store holds
// the same.
func checkVersion(t *testing.T, r *replica, st store.Store, res *promote.Result) {
	t.Helper()
	rec := res.Record
	got, ok, err := r.version(rec.Workflow, rec.Version)
	if err != nil || !ok {
		t.Fatalf("%s: GET versions/%s: served %v, %v", r.name, rec.Version, ok, err)
	}
	if len(got.Definition) == 0 {
		t.Errorf("%s: %s has no definition", r.name, res.Tag)
	}
	want := api.VersionInfo{Name: rec.Workflow, Version: rec.Version, Digest: string(rec.Digest), Commit: rec.Commit, Tag: res.Tag,
		TagObject: res.TagObject, Frozen: true, Tenant: "acme", Signer: rec.KeyID, Promoter: promoter, LogIndex: res.LogIndex,
		PromotedAt: rec.Time}
	if d := cmp.Diff(want, got, cmpopts.IgnoreFields(api.VersionInfo{}, "Definition", "AppliedAt")); d != "" {
		t.Errorf("%s: GET versions/%s mismatch (-want +got):\n%s", r.name, rec.Version, d)
	}
	sv, err := st.Version(context.Background(), rec.Workflow, rec.Version)
	if err != nil {
		t.Fatalf("%s: store: %v", r.name, err)
	}
	if sv.Digest != string(rec.Digest) || sv.TagObject != res.TagObject || !sv.Frozen || sv.Commit != rec.Commit {
		t.Errorf("%s: store holds %s as digest %s, tag object %s, frozen %v, commit %s; want %s, %s, true, %s", r.name, res.Tag,
			sv.Digest, sv.TagObject, sv.Frozen, sv.Commit, rec.Digest, res.TagObject, rec.Commit)
	}
}

// checkLatest checks GET /api/workflows names version as the latest of name.
func checkLatest(t *testing.T, r *replica, name, version string) {
	t.Helper()
	var list api.WorkflowList
	r.mustGet(t, "/api/workflows", &list)
	for _, s := range list.Workflows {
		if s.Name == name {
			if s.Latest != version {
				t.Errorf("%s: latest %s is %s, want %s", r.name, name, s.Latest, version)
			}
			return
		}
	}
	t.Errorf("%s: GET /api/workflows has no %s: %+v", r.name, name, list)
}

// waitSynced waits until r's status says name is synced at version: desired and applied, no error.
func waitSynced(t *testing.T, r *replica, name, version string) {
	t.Helper()
	waitUntil(t, waitApplied, r.name+" synced at "+version, func() error {
		s := r.status(t)
		ws, ok := workflowStatus(s, name)
		if !ok || !ws.Synced || ws.DesiredVersion != version || ws.AppliedVersion != version || s.Region != r.region || !s.Ready {
			return fmt.Errorf("status %+v", s)
		}
		return nil
	})
}

// waitStatusError waits until r's status of name has an error that contains what, and returns that status.
func waitStatusError(t *testing.T, r *replica, name, what string) store.SyncStatus {
	t.Helper()
	var ws store.SyncStatus
	waitUntil(t, waitApplied, r.name+" status shows "+what, func() error {
		ws, _ = workflowStatus(r.status(t), name)
		if ws.Synced || !strings.Contains(ws.LastError, what) {
			return fmt.Errorf("status %+v", ws)
		}
		return nil
	})
	return ws
}

// remoteTag is the object the remote's tag names.
func remoteTag(t *testing.T, w *world, tag string) string {
	t.Helper()
	out := gittest.Run(t, w.dir, "ls-remote", w.url, "refs/tags/"+tag)
	hash, _, _ := strings.Cut(out, "\t")
	return hash
}
