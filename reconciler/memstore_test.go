package reconciler_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/mod/semver"

	"github.com/maestro-conductor/maestro/runtime/store"
)

// memStoreForTest is a test-only, in-memory store.Store, used until the SQLite store (runtime/store/sqlite) is in
// the tree. It follows the interface's contract: idempotent Apply, ErrConflict for a changed version, first
// writer wins in Claim, one leader per name.
type memStoreForTest struct {
	// Store is nil: it only keeps this type compiling while the interface grows; the reconciler calls none of the
	// methods it would provide.
	store.Store

	mu       sync.Mutex
	versions map[string]map[string]store.Version // name → version → Version
	statuses map[string]store.SyncStatus
	history  []store.Event
	index    map[string][]byte
	leaders  map[string]*memLease
	nextID   int
	// fail, when set, is returned by every method (the store unreachable).
	fail error
}

type memLease struct {
	lost chan struct{}
	once sync.Once
}

func (l *memLease) drop() { l.once.Do(func() { close(l.lost) }) }

var _ store.Store = (*memStoreForTest)(nil)

func newMemStoreForTest() *memStoreForTest {
	return &memStoreForTest{versions: map[string]map[string]store.Version{}, statuses: map[string]store.SyncStatus{},
		index: map[string][]byte{}, leaders: map[string]*memLease{}}
}

func (s *memStoreForTest) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

func (s *memStoreForTest) Apply(ctx context.Context, v store.Version) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return false, s.fail
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	vs := s.versions[v.Name]
	if old, ok := vs[v.Version]; ok {
		if old.Digest != v.Digest || old.TagObject != v.TagObject {
			return false, fmt.Errorf("%s v%s: %w", v.Name, v.Version, store.ErrConflict)
		}
		return false, nil
	}
	for _, old := range vs {
		if old.Digest == v.Digest {
			return false, fmt.Errorf("%s digest %s is v%s: %w", v.Name, v.Digest, old.Version, store.ErrConflict)
		}
	}
	if vs == nil {
		vs = map[string]store.Version{}
		s.versions[v.Name] = vs
	}
	vs[v.Version] = v
	return true, nil
}

func bySemver(a, b store.Version) int { return semver.Compare("v"+a.Version, "v"+b.Version) }

func (s *memStoreForTest) sorted(name string) []store.Version {
	var out []store.Version
	for _, v := range s.versions[name] {
		out = append(out, v)
	}
	slices.SortFunc(out, bySemver)
	return out
}

func (s *memStoreForTest) Workflows(ctx context.Context) ([]store.Summary, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []store.Summary
	for name := range s.versions {
		vs := s.sorted(name)
		last := vs[len(vs)-1]
		out = append(out, store.Summary{Name: name, Latest: last.Version, Digest: last.Digest, Versions: len(vs), Updated: last.AppliedAt})
	}
	slices.SortFunc(out, func(a, b store.Summary) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

func (s *memStoreForTest) Versions(ctx context.Context, name string) ([]store.Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	if len(s.versions[name]) == 0 {
		return nil, store.ErrNotFound
	}
	return s.sorted(name), nil
}

func (s *memStoreForTest) Version(ctx context.Context, name, version string) (store.Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return store.Version{}, s.fail
	}
	v, ok := s.versions[name][version]
	if !ok {
		return store.Version{}, store.ErrNotFound
	}
	return v, nil
}

func (s *memStoreForTest) SetStatus(ctx context.Context, st store.SyncStatus) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.statuses[st.Workflow] = st
	return nil
}

func (s *memStoreForTest) Statuses(ctx context.Context) ([]store.SyncStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []store.SyncStatus
	for _, st := range s.statuses {
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b store.SyncStatus) int { return cmp.Compare(a.Workflow, b.Workflow) })
	return out, nil
}

func (s *memStoreForTest) Record(ctx context.Context, e store.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if e.ID == "" {
		s.nextID++
		e.ID = fmt.Sprintf("e%d", s.nextID)
	}
	s.history = append(s.history, e)
	return nil
}

func (s *memStoreForTest) History(ctx context.Context, f store.HistoryFilter) ([]store.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	limit := cmp.Or(f.Limit, 100)
	var out []store.Event
	for i := len(s.history) - 1; i >= 0 && len(out) < limit; i-- {
		e := s.history[i]
		if (f.Workflow == "" || e.Workflow == f.Workflow) && (f.Action == "" || e.Action == f.Action) && !e.At.Before(f.Since) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *memStoreForTest) Claim(ctx context.Context, key string, record []byte) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, false, s.fail
	}
	if first, ok := s.index[key]; ok {
		return first, false, nil
	}
	s.index[key] = slices.Clone(record)
	return record, true, nil
}

func (s *memStoreForTest) Lookup(ctx context.Context, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, false, s.fail
	}
	r, ok := s.index[key]
	return r, ok, nil
}

func (s *memStoreForTest) Lead(ctx context.Context, name string) (<-chan struct{}, func(), bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, nil, false, s.fail
	}
	if _, held := s.leaders[name]; held {
		return nil, nil, false, nil
	}
	l := &memLease{lost: make(chan struct{})}
	s.leaders[name] = l
	release := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.leaders[name] == l {
			delete(s.leaders, name)
		}
		l.drop()
	}
	return l.lost, release, true, nil
}

// dropLeader makes the current holder of name lose the lock, as a PostgreSQL store does when the connection goes.
func (s *memStoreForTest) dropLeader(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leaders[name]; ok {
		delete(s.leaders, name)
		l.drop()
	}
}

func (s *memStoreForTest) CreateExportJob(ctx context.Context, start, end time.Time) (store.ExportJob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	return store.ExportJob{ID: fmt.Sprintf("j%d", s.nextID), WindowStart: start, WindowEnd: end, Status: "pending", CreatedAt: time.Now()}, nil
}

func (s *memStoreForTest) ExportJobs(ctx context.Context) ([]store.ExportJob, error) { return nil, nil }

func (s *memStoreForTest) SetExportJobStatus(ctx context.Context, id, status string) error {
	return store.ErrNotFound
}

func (s *memStoreForTest) Ping(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fail
}

func (s *memStoreForTest) Close() error { return nil }
