package reconciler_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/maestro-conductor/maestro/runtime/store"
	"github.com/maestro-conductor/maestro/runtime/store/sqlite"
)

// newStore opens a region store, SQLite (the embedded default), in a temporary directory.
func newStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	return openStore(tb, filepath.Join(tb.TempDir(), "region.db"))
}

// openStore opens the SQLite store at path; opening one file twice is what two replicas on one machine do.
func openStore(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{Logger: discardLogger()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// faultStoreForTest is a real store with failures the real one cannot be made to have on demand: every call
// failing (the database unreachable), the leader lock lost (as a PostgreSQL store loses it with its connection),
// the lock refused, and a hook after each Apply.
type faultStoreForTest struct {
	*sqlite.Store
	fail       atomic.Pointer[error]
	refuseLead atomic.Bool
	onApply    func(store.Version)
	applies    atomic.Int32

	mu       sync.Mutex
	releases map[string]func()
}

func newFaultStore(tb testing.TB) *faultStoreForTest {
	return &faultStoreForTest{Store: newStore(tb), releases: map[string]func(){}}
}

// setFail makes every call fail with err until setFail(nil).
func (s *faultStoreForTest) setFail(err error) {
	if err == nil {
		s.fail.Store(nil)
		return
	}
	s.fail.Store(&err)
}

func (s *faultStoreForTest) err() error {
	if p := s.fail.Load(); p != nil {
		return *p
	}
	return nil
}

// dropLeader makes the holder of name lose the lock.
func (s *faultStoreForTest) dropLeader(name string) {
	s.mu.Lock()
	release := s.releases[name]
	delete(s.releases, name)
	s.mu.Unlock()
	if release != nil {
		release()
	}
}

func (s *faultStoreForTest) Lead(ctx context.Context, name string) (<-chan struct{}, func(), bool, error) {
	if err := s.err(); err != nil {
		return nil, nil, false, err
	}
	if s.refuseLead.Load() {
		return nil, nil, false, nil
	}
	lost, release, ok, err := s.Store.Lead(ctx, name)
	if ok {
		s.mu.Lock()
		s.releases[name] = release
		s.mu.Unlock()
	}
	return lost, release, ok, err
}

func (s *faultStoreForTest) Apply(ctx context.Context, v store.Version) (bool, error) {
	if err := s.err(); err != nil {
		return false, err
	}
	ok, err := s.Store.Apply(ctx, v)
	s.applies.Add(1)
	if s.onApply != nil {
		s.onApply(v)
	}
	return ok, err
}

func (s *faultStoreForTest) Workflows(ctx context.Context) ([]store.Summary, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.Workflows(ctx)
}

func (s *faultStoreForTest) Versions(ctx context.Context, name string) ([]store.Version, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.Versions(ctx, name)
}

func (s *faultStoreForTest) SetStatus(ctx context.Context, st store.SyncStatus) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.SetStatus(ctx, st)
}

func (s *faultStoreForTest) Statuses(ctx context.Context) ([]store.SyncStatus, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.Statuses(ctx)
}

func (s *faultStoreForTest) Record(ctx context.Context, e store.Event) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Record(ctx, e)
}

func (s *faultStoreForTest) Claim(ctx context.Context, key string, record []byte) ([]byte, bool, error) {
	if err := s.err(); err != nil {
		return nil, false, err
	}
	return s.Store.Claim(ctx, key, record)
}

func (s *faultStoreForTest) Lookup(ctx context.Context, key string) ([]byte, bool, error) {
	if err := s.err(); err != nil {
		return nil, false, err
	}
	return s.Store.Lookup(ctx, key)
}
