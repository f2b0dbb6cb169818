package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/maestro-conductor/maestro/runtime/store/pgtest"
	"github.com/maestro-conductor/maestro/runtime/store/postgres"
	"github.com/maestro-conductor/maestro/runtime/store/storetest"
)

func open(t *testing.T, dsn string, opts postgres.Options) *postgres.Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	s, err := postgres.Open(t.Context(), dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestLeadLostWithConnection: when the server ends the leader's session (as when the leader's host dies or an
// operator kills it), lost closes within the leader check and another replica takes over.
func TestLeadLostWithConnection(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.URL(t)
	s1 := open(t, dsn, postgres.Options{LeaderCheck: 200 * time.Millisecond})
	s2 := open(t, dsn, postgres.Options{})

	lost, release, ok, err := s1.Lead(ctx, "us-east")
	if !ok || err != nil {
		t.Fatalf("s1.Lead() = %v, %v", ok, err)
	}
	defer release()
	if _, _, ok, err := s2.Lead(ctx, "us-east"); ok || err != nil {
		t.Fatalf("s2.Lead() while s1 leads = %v, %v; want false, <nil>", ok, err)
	}

	// The session holding the advisory lock, ended from outside.
	var terminated int
	err = s2.Pool().QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND granted`).Scan(&terminated)
	if err != nil || terminated != 1 {
		t.Fatalf("terminate the leader's session: %d sessions, %v", terminated, err)
	}
	began := time.Now()
	select {
	case <-lost:
		t.Logf("lost closed %v after the session ended", time.Since(began).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("lost still open 10 s after the leader's session ended")
	}
	release() // after loss, harmless

	lost2, release2, ok, err := s2.Lead(ctx, "us-east")
	if !ok || err != nil {
		t.Fatalf("s2.Lead() after s1 lost = %v, %v; want true, <nil>", ok, err)
	}
	defer release2()
	select {
	case <-lost2:
		t.Fatal("s2's lost closed")
	default:
	}
	// s1's pool is still usable: the dead connection left it.
	if err := s1.Ping(ctx); err != nil {
		t.Errorf("s1.Ping() after its leader connection died: %v", err)
	}
}

// TestReleaseUnlocks: the connection that led goes back to the pool without the lock.
func TestReleaseUnlocks(t *testing.T) {
	ctx := t.Context()
	s := open(t, pgtest.URL(t), postgres.Options{MaxConns: 1})
	for range 3 {
		_, release, ok, err := s.Lead(ctx, "us-east")
		if !ok || err != nil {
			t.Fatalf("Lead() = %v, %v", ok, err)
		}
		release()
		var held int
		if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&held); err != nil {
			t.Fatal(err)
		}
		if held != 0 {
			t.Fatalf("%d advisory locks held after release", held)
		}
	}
	if got := s.Pool().Config().MaxConns; got != 1 {
		t.Errorf("MaxConns = %d, want 1", got)
	}
}

func TestCheckConstraints(t *testing.T) {
	ctx := t.Context()
	s := open(t, pgtest.URL(t), postgres.Options{})
	for name, stmt := range map[string]string{
		"status": `INSERT INTO events_export_jobs (id, window_start, window_end, status, created_at)
			VALUES (gen_random_uuid(), '2025-01-01T00:00:00Z', '2025-01-01T01:00:00Z', 'done', now())`,
		"window": `INSERT INTO events_export_jobs (id, window_start, window_end, status, created_at)
			VALUES (gen_random_uuid(), '2025-01-01T01:00:00Z', '2025-01-01T00:00:00Z', 'pending', now())`,
	} {
		if _, err := s.Pool().Exec(ctx, stmt); err == nil || !strings.Contains(err.Error(), "check constraint") {
			t.Errorf("%s: insert = %v, want a check constraint violation", name, err)
		}
	}
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != 1 {
		t.Errorf("schema_migrations holds %d rows (%v), want 1", n, err)
	}
	// Times are timestamptz, microseconds.
	var typ string
	if err := s.Pool().QueryRow(ctx, `SELECT data_type FROM information_schema.columns
		WHERE table_name = 'workflows' AND column_name = 'applied_at'`).Scan(&typ); err != nil || typ != "timestamp with time zone" {
		t.Errorf("workflows.applied_at is %q (%v), want timestamp with time zone", typ, err)
	}
}

func TestOpenBadDSN(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://maestro:s3cret@127.0.0.1:1/x?connect_timeout=1&sslmode=disable", postgres.Options{Logger: quiet})
	if err == nil {
		t.Fatal("Open() of an unreachable server: no error")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
	_, err = postgres.Open(t.Context(), "postgres://maestro:s3cret@host:notaport/x", postgres.Options{Logger: quiet})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open() of a bad DSN = %v; want an error without the password", err)
	}
}

// TestConformanceInitdb runs the suite on a throwaway cluster, the path taken on a machine without a server.
func TestConformanceInitdb(t *testing.T) {
	if testing.Short() {
		t.Skip("short: the suite runs on the given server in TestConformance")
	}
	t.Setenv(pgtest.EnvInitdb, "1")
	pgtest.Hold(t)
	storetest.Run(t, newDB)
}
