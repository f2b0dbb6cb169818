package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/maestro-conductor/maestro/runtime/store/internal/sqlstore"
)

// lease is one leadership held: a pooled connection, taken out of the pool, whose session holds the advisory lock.
// Its goroutine owns the connection: it pings it every leaderCheck and, on release, unlocks and returns it.
type lease struct {
	s    *Store
	name string
	key  int64
	conn *pgxpool.Conn
	lost chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Lead implements store.Store with pg_try_advisory_lock on a connection kept for the leadership: the lock is the
// session's, so it ends when the connection does (the server releases it when the client dies or the network
// between them does). The connection is pinged every Options.LeaderCheck; when a ping fails, the connection is
// closed (so this process surely no longer holds the lock) and then lost is closed. Another replica's Lead
// succeeds once the server has ended the session: at once when the process dies, within TCP keepalive when the
// network does.
//
// Between the death of a connection and the next ping, this process may still act as leader while another already
// is; what the leader writes (Apply, Claim) is idempotent and conflict-checked, so that overlap is harmless.
//
// A second Lead on the same name, from this Store or any other on the same database, returns ok=false while the
// lock is held. ctx bounds taking the lock, not holding it; release (or Close) gives it up.
func (s *Store) Lead(ctx context.Context, name string) (<-chan struct{}, func(), bool, error) {
	if err := sqlstore.CheckLeader(name); err != nil {
		return nil, nil, false, err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, nil, false, fmt.Errorf("lead %s: store is closed", name)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, false, fmt.Errorf("lead %s: %w", name, err)
	}
	key := sqlstore.LockKey(name)
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		// The query may have taken the lock before failing (a cancelled context): drop the session to be sure.
		conn.Hijack().Close(context.Background())
		return nil, nil, false, fmt.Errorf("lead %s: %w", name, err)
	}
	if !ok {
		conn.Release()
		return nil, nil, false, nil
	}
	l := &lease{s: s, name: name, key: key, conn: conn,
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.unlock()
		return nil, nil, false, fmt.Errorf("lead %s: store is closed", name)
	}
	s.leases[l] = struct{}{}
	s.mu.Unlock()
	s.log.Info("leading", sqlstore.LogKeyLeader, name)
	go l.watch(s.leaderCheck)
	return l.lost, func() {
		s.mu.Lock()
		delete(s.leases, l)
		s.mu.Unlock()
		l.release()
	}, true, nil
}

// watch pings the connection until release or until a ping fails.
func (l *lease) watch(every time.Duration) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			l.unlock()
			close(l.lost)
			l.s.log.Info("no longer leading", sqlstore.LogKeyLeader, l.name)
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), max(every, 2*time.Second))
			err := l.conn.Ping(ctx)
			cancel()
			if err != nil {
				// Close before telling: once lost is closed, this process must surely not hold the lock.
				l.conn.Hijack().Close(context.Background())
				close(l.lost)
				l.s.log.Warn("leadership lost: the connection holding the lock failed", sqlstore.LogKeyLeader, l.name,
					"err", err)
				return
			}
		}
	}
}

// unlock gives the lock up and returns the connection to the pool, or closes the connection if it cannot.
func (l *lease) unlock() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var ok bool
	if err := l.conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, l.key).Scan(&ok); err != nil || !ok {
		l.conn.Hijack().Close(ctx)
		return
	}
	l.conn.Release()
}

// release stops the watch, which unlocks, and waits for it, so the lock is free when release returns.
func (l *lease) release() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
}
