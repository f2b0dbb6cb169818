package reconciler_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/maestro-conductor/maestro/internal/wftest"
	"github.com/maestro-conductor/maestro/reconciler"
	"github.com/maestro-conductor/maestro/runtime/store"
)

// running is a Reconciler's Run in a goroutine.
type running struct {
	r      *reconciler.Reconciler
	cancel context.CancelFunc
	done   chan error
}

// start runs r until stop or the end of the test.
func start(t *testing.T, r *reconciler.Reconciler) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	run := &running{r: r, cancel: cancel, done: make(chan error, 1)}
	go func() { run.done <- r.Run(ctx) }()
	t.Cleanup(func() { run.stop(t) })
	return run
}

// stop cancels Run and waits for it to return.
func (run *running) stop(t *testing.T) {
	t.Helper()
	run.cancel()
	select {
	case err, ok := <-run.done:
		if ok && err != nil {
			t.Errorf("Run returned %v", err)
		}
		if ok {
			close(run.done)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of its context's end")
	}
}

func applied(st store.Store, name, version string) func() bool {
	return func() bool {
		_, err := st.Version(context.Background(), name, version)
		return err == nil
	}
}

// TestRunOneLeader runs two replicas of a region on one store: exactly one leads and applies; when it stops, the
// other takes over within seconds and applies what is promoted next.
func TestRunOneLeader(t *testing.T) {
	f := newFixture(t)
	f.commit(map[string]string{"etl": wftest.SmallYAML("etl", 1)})
	f.promote("etl", "1.0.0")
	// Two replicas, each with its own handle on the region's database, as two processes have.
	st := newStore(t)
	other := openStore(t, st.Path())
	slow := func(o *reconciler.Options) { o.Interval = time.Hour } // only the first reconcile and triggers
	a, b := start(t, f.reconciler("us-east", st, slow)), start(t, f.reconciler("us-east", other, slow))

	waitFor(t, 10*time.Second, "1.0.0 applied", applied(st, "etl", "1.0.0"))
	leader, follower := a, b
	if b.r.State().Leader {
		leader, follower = b, a
	}
	if !leader.r.State().Leader || follower.r.State().Leader {
		t.Fatalf("leaders: a %v, b %v; want exactly one", a.r.State().Leader, b.r.State().Leader)
	}

	f.commit(map[string]string{"etl": wftest.SmallYAML("etl", 2)})
	f.promote("etl", "1.1.0")
	follower.r.Trigger() // not the leader: ignored
	leader.r.Trigger()
	waitFor(t, 10*time.Second, "1.1.0 applied", applied(st, "etl", "1.1.0"))
	// The history entry is written just after the version is stored.
	waitFor(t, 10*time.Second, "1.1.0 in the history", func() bool { return len(history(t, st, store.ActionApplied)) >= 2 })
	if evs := history(t, st, store.ActionApplied); len(evs) != 2 {
		t.Errorf("applied history = %+v, want each version applied once", evs)
	}
	if !follower.r.State().LastAttempt.IsZero() {
		t.Errorf("the follower reconciled: %+v", follower.r.State())
	}

	stopped := time.Now()
	leader.stop(t)
	takeover := waitFor(t, 10*time.Second, "the follower leads", func() bool { return follower.r.State().Leader })
	t.Logf("takeover after the leader stopped: %v", takeover)
	f.commit(map[string]string{"etl": wftest.SmallYAML("etl", 3)})
	f.promote("etl", "1.2.0")
	follower.r.Trigger()
	waitFor(t, 10*time.Second, "1.2.0 applied by the new leader", applied(st, "etl", "1.2.0"))
	t.Logf("leader stopped → next promotion applied by the new leader: %v", time.Since(stopped))
}

// TestRunStopsApplyingWhenLeadershipLost: a leader that loses the lock in the middle of a reconcile applies
// nothing more; it applies the rest once it leads again.
func TestRunStopsApplyingWhenLeadershipLost(t *testing.T) {
	f := newFixture(t)
	f.commit(map[string]string{"a": wftest.SmallYAML("a", 1), "b": wftest.SmallYAML("b", 1), "c": wftest.SmallYAML("c", 1)})
	for _, name := range []string{"a", "b", "c"} {
		f.promote(name, "1.0.0")
	}
	st := newFaultStore(t)
	var once sync.Once
	st.onApply = func(store.Version) {
		once.Do(func() {
			st.refuseLead.Store(true)
			st.dropLeader("reconciler/us-east")
		})
	}
	r := f.reconciler("us-east", st, func(o *reconciler.Options) { o.LeaderPoll = 50 * time.Millisecond })
	start(t, r)
	waitFor(t, 10*time.Second, "the first apply", func() bool { return st.applies.Load() > 0 })
	waitFor(t, 10*time.Second, "leadership gone", func() bool { return !r.State().Leader })
	time.Sleep(300 * time.Millisecond) // a leader that kept going would apply the others meanwhile
	if n := st.applies.Load(); n != 1 {
		t.Fatalf("%d applies after the lock was lost in the first, want 1", n)
	}
	st.refuseLead.Store(false)
	for _, name := range []string{"a", "b", "c"} {
		waitFor(t, 10*time.Second, name+" applied after leading again", applied(st, name, "1.0.0"))
	}
}

// TestTriggerLatency promotes 20 versions one after another while Run waits out a one-hour interval, triggers
// after each push, and reports how long each took to be applied (p50, p95, max), over file:// and git daemon.
func TestTriggerLatency(t *testing.T) {
	for _, transport := range []string{"file", "git-daemon"} {
		t.Run(transport, func(t *testing.T) {
			f := newFixture(t)
			if transport == "git-daemon" {
				f.serve()
			}
			f.commit(map[string]string{"etl": wftest.SmallYAML("etl", 1)})
			st := newStore(t)
			r := start(t, f.reconciler("us-east", st, func(o *reconciler.Options) { o.Interval = time.Hour })).r
			waitFor(t, 10*time.Second, "the first reconcile", func() bool { return !r.State().LastSuccess.IsZero() })

			var lat []time.Duration
			for i := range 20 {
				if i > 0 {
					f.commit(map[string]string{"etl": wftest.SmallYAML("etl", i+1)})
				}
				version := fmt.Sprintf("1.%d.0", i)
				f.promote("etl", version)
				t0 := time.Now()
				r.Trigger()
				for !applied(st, "etl", version)() {
					if time.Since(t0) > 10*time.Second {
						t.Fatalf("%s not applied within 10s of the trigger", version)
					}
					time.Sleep(time.Millisecond)
				}
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			t.Logf("trigger → applied over %d promotions (%s): p50 %v, p95 %v, max %v", len(lat), transport,
				lat[len(lat)/2], lat[len(lat)*95/100-1], lat[len(lat)-1])
		})
	}
}

// TestRunBacksOff: while the remote is gone, Run retries with growing delays; when it is back, the failures
// reset and the region is fresh again.
func TestRunBacksOff(t *testing.T) {
	f := newFixture(t)
	f.commit(map[string]string{"etl": wftest.SmallYAML("etl", 1)})
	f.promote("etl", "1.0.0")
	st := newStore(t)
	r := start(t, f.reconciler("us-east", st, func(o *reconciler.Options) {
		o.Interval = 50 * time.Millisecond
		o.Backoff = reconciler.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond}
	})).r
	waitFor(t, 10*time.Second, "1.0.0 applied", applied(st, "etl", "1.0.0"))

	hidden := f.bare + ".away"
	if err := os.Rename(f.bare, hidden); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "4 failures", func() bool { return r.State().Failures >= 4 })
	if s := r.State(); s.LastError == "" {
		t.Errorf("state = %+v, want the fetch error", s)
	}
	if err := os.Rename(hidden, f.bare); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "recovery", func() bool { s := r.State(); return s.Failures == 0 && s.LastError == "" })
	if evs := history(t, st, store.ActionError); len(evs) != 1 {
		t.Errorf("error history = %+v, want the outage once", evs)
	}
}

// TestBackoff checks the schedule with an injected clock: Initial, doubling, capped at Max, reset on success.
func TestBackoff(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	b := reconciler.Backoff{Now: func() time.Time { return now }}
	if b.Remaining() != 0 {
		t.Fatalf("Remaining before any failure = %v", b.Remaining())
	}
	var got []time.Duration
	for range 13 {
		got = append(got, b.Fail())
	}
	want := []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second, 6 * time.Second, 12 * time.Second,
		24 * time.Second, 48 * time.Second, 96 * time.Second, 192 * time.Second, 384 * time.Second, 768 * time.Second,
		15 * time.Minute, 15 * time.Minute}
	if !slices.Equal(got, want) {
		t.Errorf("delays = %v, want %v", got, want)
	}
	if b.Failures() != 13 || b.Remaining() != 15*time.Minute {
		t.Errorf("Failures %d, Remaining %v", b.Failures(), b.Remaining())
	}
	now = now.Add(10 * time.Minute)
	if b.Remaining() != 5*time.Minute {
		t.Errorf("Remaining 10m later = %v, want 5m", b.Remaining())
	}
	now = now.Add(time.Hour)
	if b.Remaining() != 0 {
		t.Errorf("Remaining after the delay = %v", b.Remaining())
	}
	b.Reset()
	if b.Failures() != 0 || b.Remaining() != 0 || b.Fail() != 750*time.Millisecond {
		t.Errorf("after Reset: %d failures, first delay not 750ms", b.Failures())
	}

	custom := reconciler.Backoff{Initial: time.Second, Max: 5 * time.Second, Factor: 3}
	got = nil
	for range 4 {
		got = append(got, custom.Fail())
	}
	if want := []time.Duration{time.Second, 3 * time.Second, 5 * time.Second, 5 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("custom delays = %v, want %v", got, want)
	}
}

// TestNewRefusesIncompleteOptions: a reconciler without a region, remote, mirror, store or trust is a
// configuration error, found before anything runs.
func TestNewRefusesIncompleteOptions(t *testing.T) {
	f := newFixture(t)
	full := reconciler.Options{Region: "r", Remote: f.url, MirrorDir: t.TempDir(), Store: newStore(t), Policy: f.policy()}
	for name, edit := range map[string]func(*reconciler.Options){
		"region":  func(o *reconciler.Options) { o.Region = "" },
		"remote":  func(o *reconciler.Options) { o.Remote = "" },
		"mirror":  func(o *reconciler.Options) { o.MirrorDir = "" },
		"store":   func(o *reconciler.Options) { o.Store = nil },
		"trusted": func(o *reconciler.Options) { o.Policy.Trusted = nil },
		"logs":    func(o *reconciler.Options) { o.Policy.Logs = nil },
	} {
		o := full
		edit(&o)
		if _, err := reconciler.New(o); err == nil {
			t.Errorf("New without %s: no error", name)
		}
	}
	if _, err := reconciler.New(full); err != nil {
		t.Errorf("New: %v", err)
	}
}
