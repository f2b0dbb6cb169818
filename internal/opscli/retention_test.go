package opscli

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/maestro-conductor/maestro/runtime/store"
	"github.com/maestro-conductor/maestro/runtime/store/sqlite"
)

// syncBuffer is a log destination the pruner's goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// retentionFixture is a SQLite region store holding entries 40, 31 and 29 days and 1 hour old, as of now.
type retentionFixture struct {
	st  *sqlite.Store
	now time.Time
	log *syncBuffer
}

func newRetentionFixture(t *testing.T) *retentionFixture {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "region.db"), sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &retentionFixture{st: st, now: time.Date(2025, 11, 30, 12, 0, 0, 0, time.UTC), log: &syncBuffer{}}
	for _, e := range []store.Event{
		{ID: "40d", At: f.now.Add(-40 * 24 * time.Hour), Action: store.ActionApplied},
		{ID: "31d", At: f.now.Add(-31 * 24 * time.Hour), Action: store.ActionRefused},
		{ID: "29d", At: f.now.Add(-29 * 24 * time.Hour), Action: store.ActionApplied},
		{ID: "1h", At: f.now.Add(-time.Hour), Action: store.ActionError},
	} {
		if err := st.Record(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// pruner returns a pruner of f's store with a 30-day retention, on f's clock, polling and pruning every few
// milliseconds.
func (f *retentionFixture) pruner(leading func() bool) *historyPruner {
	return &historyPruner{Store: f.st, Retention: 720 * time.Hour, Leading: leading, Delay: -1,
		Every: 5 * time.Millisecond, Poll: time.Millisecond, Now: func() time.Time { return f.now },
		Logger: slog.New(slog.NewTextHandler(f.log, nil))}
}

func (f *retentionFixture) ids(t *testing.T) []string {
	t.Helper()
	es, err := f.st.History(t.Context(), store.HistoryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

// waitFor polls cond until it holds, failing the test after a generous deadline (slow CI machines).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// run starts p.Run and returns a function that stops it and waits for it to return. A test that fails before
// calling it leaves Run to stop with t's context.
func run(t *testing.T, p *historyPruner) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
	}
}

// TestHistoryPrunerLeaderPrunes: a follower leaves the history alone; once it leads, it deletes the entries older
// than the retention and logs how many.
func TestHistoryPrunerLeaderPrunes(t *testing.T) {
	f := newRetentionFixture(t)
	var leading atomic.Bool
	var asked atomic.Int64
	stop := run(t, f.pruner(func() bool { asked.Add(1); return leading.Load() }))

	waitFor(t, "the follower to check its leadership a few times", func() bool { return asked.Load() >= 5 })
	if d := cmp.Diff([]string{"1h", "29d", "31d", "40d"}, f.ids(t)); d != "" {
		t.Errorf("a follower pruned the history (-want +got):\n%s", d)
	}

	leading.Store(true)
	waitFor(t, "the leader to prune", func() bool { return strings.Contains(f.log.String(), "deleted=2") })
	if d := cmp.Diff([]string{"1h", "29d"}, f.ids(t)); d != "" {
		t.Errorf("history after the leader pruned (-want +got):\n%s", d)
	}
	// It prunes again every Every, deleting nothing more.
	waitFor(t, "a second prune", func() bool { return strings.Contains(f.log.String(), "deleted=0") })
	stop()
	logged := f.log.String()
	for _, want := range []string{"level=INFO", `msg="pruned the reconcile history"`, "before=2025-10-31T12:00:00Z", "retention=720h0m0s"} {
		if !strings.Contains(logged, want) {
			t.Errorf("log does not contain %q:\n%s", want, logged)
		}
	}
}

// TestHistoryPrunerRetentionZero: retention 0 keeps the history forever, even on the leader.
func TestHistoryPrunerRetentionZero(t *testing.T) {
	f := newRetentionFixture(t)
	p := f.pruner(func() bool { return true })
	p.Retention = 0
	// Run returns at once, without ctx being canceled.
	if err := p.Run(t.Context()); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if d := cmp.Diff([]string{"1h", "29d", "31d", "40d"}, f.ids(t)); d != "" {
		t.Errorf("retention 0 pruned the history (-want +got):\n%s", d)
	}
	if logged := f.log.String(); !strings.Contains(logged, "keeping the reconcile history forever") {
		t.Errorf("log does not say the history is kept forever:\n%s", logged)
	}
}

// TestHistoryPrunerFailure: a prune that fails is logged at error level and tried again; Run keeps going until
// ctx is done.
func TestHistoryPrunerFailure(t *testing.T) {
	f := newRetentionFixture(t)
	f.st.Close() // every prune fails
	stop := run(t, f.pruner(func() bool { return true }))
	waitFor(t, "two failed prunes", func() bool {
		return strings.Count(f.log.String(), `level=ERROR msg="cannot prune the reconcile history; trying again later"`) >= 2
	})
	stop()
}
