package sqlite

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"

	"github.com/maestro-conductor/maestro/runtime/store/internal/sqlstore"
)

// lease is one leadership held: the lock file, open and locked.
type lease struct {
	s    *Store
	name string
	f    *os.File
	lost chan struct{}
	once sync.Once
}

// LockPath returns the file whose lock is the leadership of name: "<database>.leader.<name>.lock", the name
// escaped as a URL path segment so it is one file name.
func (s *Store) LockPath(name string) string {
	return s.path + ".leader." + url.PathEscape(name) + ".lock"
}

// Lead implements store.Store with an exclusive flock(2) on LockPath(name), which the kernel gives up when the
// process ends however it ends. A held lock is not lost otherwise: the lost channel closes only on release or Close.
// A second Lead on the same name, from this Store or any other, returns ok=false while the lock is held.
//
// The lock file is left in place after release (removing it would let two processes lock two different files of
// the same name); never delete it while a server runs.
func (s *Store) Lead(ctx context.Context, name string) (<-chan struct{}, func(), bool, error) {
	if err := sqlstore.CheckLeader(name); err != nil {
		return nil, nil, false, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, false, fmt.Errorf("lead %s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, false, fmt.Errorf("lead %s: store is closed", name)
	}
	path := s.LockPath(name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, false, fmt.Errorf("lead %s: %w", name, err)
	}
	if err := tryLock(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, nil, false, nil
		}
		return nil, nil, false, fmt.Errorf("lead %s: lock %s: %w", name, path, err)
	}
	// Who holds it, for a person looking at the file; the lock, not the content, is what counts.
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "pid %d\n", os.Getpid())
	}
	l := &lease{s: s, name: name, f: f, lost: make(chan struct{})}
	s.leases[l] = struct{}{}
	s.log.Info("leading", sqlstore.LogKeyLeader, name)
	return l.lost, func() {
		s.mu.Lock()
		delete(s.leases, l)
		s.mu.Unlock()
		l.release()
	}, true, nil
}

func (l *lease) release() {
	l.once.Do(func() {
		unlock(l.f)
		l.f.Close()
		close(l.lost)
		l.s.log.Info("no longer leading", sqlstore.LogKeyLeader, l.name)
	})
}
