// Package postgres is the region store on PostgreSQL through pgx (a connection pool): what a region runs at scale,
// with several replicas of `maestro serve` sharing one database.
//
// Writes that can race between replicas are single INSERT ... ON CONFLICT statements, which PostgreSQL decides
// under READ COMMITTED without serialization failures: of two replicas applying the same version, one inserts and
// the other finds the same row. Leader election is a session advisory lock held on a connection of its own.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/maestro-conductor/maestro/runtime/store"
	"github.com/maestro-conductor/maestro/runtime/store/internal/schema"
	"github.com/maestro-conductor/maestro/runtime/store/internal/sqlstore"
)

// Options configure a Store.
type Options struct {
	// Logger receives migrations applied and leadership changes; nil means slog.Default().
	Logger *slog.Logger
	// MaxConns caps the pool (each leadership held keeps one more connection); 0 keeps pgx's default or the DSN's
	// pool_max_conns.
	MaxConns int32
	// LeaderCheck is how often a leader's connection is pinged to notice it has died; 0 means one second.
	LeaderCheck time.Duration
}

// Store is the region store in a PostgreSQL database.
type Store struct {
	pool        *pgxpool.Pool
	log         *slog.Logger
	leaderCheck time.Duration

	mu     sync.Mutex
	leases map[*lease]struct{}
	closed bool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by dsn (a postgres:// URL or key=value string) and brings its schema up to
// date. Several processes may open one database at once: migrations run under an advisory lock.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx masks the password in the connection string it quotes.
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	where := cfg.ConnConfig.Host + ":" + strconv.Itoa(int(cfg.ConnConfig.Port)) + "/" + cfg.ConnConfig.Database
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	s := &Store{pool: pool, log: log.With(sqlstore.LogKeyDatabase, where), leaderCheck: opts.LeaderCheck,
		leases: map[*lease]struct{}{}}
	if s.leaderCheck <= 0 {
		s.leaderCheck = time.Second
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	return s, nil
}

// Pool returns the connection pool, for tests and diagnostics.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

func (s *Store) migrate(ctx context.Context) error {
	ms, err := schema.Migrations(schema.Postgres)
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	// A session lock on this connection for the whole run: another process opening the database waits here, then
	// finds every migration recorded.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, sqlstore.MigrationLockKey); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, sqlstore.MigrationLockKey); err != nil {
			// Never hand a connection holding the lock back to the pool.
			conn.Hijack().Close(uctx)
		}
	}()
	if _, err := conn.Exec(ctx, schema.MigrationsTable(schema.Postgres)); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied := map[int64]bool{}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var latest int64
	for _, v := range versions {
		applied[v] = true
		latest = max(latest, v)
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, sqlstore.Now())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %04d_%s: %w", m.Version, m.Name, err)
		}
		s.log.Info("applied migration", sqlstore.LogKeyMigration, fmt.Sprintf("%04d_%s", m.Version, m.Name))
	}
	if n := int64(len(ms)); latest > n {
		// A newer maestro migrated this database; its migrations only add, so this one can still run beside it.
		s.log.Warn("database schema is newer than this maestro", sqlstore.LogKeyMigration, latest, "known", n)
	}
	return nil
}

const versionColumns = `name, version, digest, "commit", tag, tag_object, frozen, tenant, definition, signer, promoter,
	log_index, promoted_at, applied_at`

// Apply implements store.Store.
func (s *Store) Apply(ctx context.Context, v store.Version) (bool, error) {
	if err := sqlstore.CheckVersion(v); err != nil {
		return false, err
	}
	v.PromotedAt = sqlstore.UTC(v.PromotedAt)
	v.AppliedAt = sqlstore.UTC(v.AppliedAt)
	if v.AppliedAt.IsZero() {
		v.AppliedAt = sqlstore.Now()
	}
	// One statement, so one transaction with no round trips for BEGIN and COMMIT. Without a conflict target, DO
	// NOTHING covers both unique keys; an insert racing another of the same key waits for the other transaction
	// and then does nothing, so replicas applying one version at once end with one row and no error.
	tag, err := s.pool.Exec(ctx, `INSERT INTO workflows (`+versionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING`,
		v.Name, v.Version, v.Digest, v.Commit, v.Tag, v.TagObject, v.Frozen, v.Tenant, bytesOf(v.Definition),
		v.Signer, v.Promoter, v.LogIndex, nullTime(v.PromotedAt), v.AppliedAt)
	if err != nil {
		return false, fmt.Errorf("apply %s@%s: %w", v.Name, v.Version, err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	// A row holds (name, version) or (name, digest): the same version again, or a conflict. Stored rows never
	// change, so the row that made the insert do nothing is there to read, committed.
	stored, err := scanVersion(s.pool.QueryRow(ctx, `SELECT `+versionColumns+` FROM workflows
		WHERE name = $1 AND (version = $2 OR digest = $3) ORDER BY version = $2 DESC LIMIT 1`,
		v.Name, v.Version, v.Digest))
	if err != nil {
		return false, fmt.Errorf("apply %s@%s: %w", v.Name, v.Version, err)
	}
	return false, sqlstore.Conflict(v, stored)
}

func scanVersion(row pgx.Row) (store.Version, error) {
	var v store.Version
	var promoted, applied pgtype.Timestamptz
	err := row.Scan(&v.Name, &v.Version, &v.Digest, &v.Commit, &v.Tag, &v.TagObject, &v.Frozen, &v.Tenant,
		&v.Definition, &v.Signer, &v.Promoter, &v.LogIndex, &promoted, &applied)
	if v.Definition == nil {
		v.Definition = []byte{}
	}
	v.PromotedAt, v.AppliedAt = timeOf(promoted), timeOf(applied)
	return v, err
}

// Workflows implements store.Store.
func (s *Store) Workflows(ctx context.Context) ([]store.Summary, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, version, digest, applied_at FROM workflows`)
	if err != nil {
		return nil, fmt.Errorf("workflows: %w", err)
	}
	rs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (sqlstore.VersionRow, error) {
		var r sqlstore.VersionRow
		var at pgtype.Timestamptz
		err := row.Scan(&r.Name, &r.Version, &r.Digest, &at)
		r.AppliedAt = timeOf(at)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("workflows: %w", err)
	}
	return sqlstore.Summaries(rs), nil
}

// Versions implements store.Store.
func (s *Store) Versions(ctx context.Context, name string) ([]store.Version, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+versionColumns+` FROM workflows WHERE name = $1`, name)
	if err != nil {
		return nil, fmt.Errorf("versions of %s: %w", name, err)
	}
	vs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Version, error) { return scanVersion(row) })
	if err != nil {
		return nil, fmt.Errorf("versions of %s: %w", name, err)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("workflow %s: %w", name, store.ErrNotFound)
	}
	sqlstore.SortVersions(vs)
	return vs, nil
}

// Version implements store.Store.
func (s *Store) Version(ctx context.Context, name, version string) (store.Version, error) {
	v, err := scanVersion(s.pool.QueryRow(ctx, `SELECT `+versionColumns+` FROM workflows WHERE name = $1 AND version = $2`,
		name, version))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Version{}, fmt.Errorf("workflow %s version %s: %w", name, version, store.ErrNotFound)
	}
	if err != nil {
		return store.Version{}, fmt.Errorf("workflow %s version %s: %w", name, version, err)
	}
	return v, nil
}

// SetStatus implements store.Store.
func (s *Store) SetStatus(ctx context.Context, st store.SyncStatus) error {
	if err := sqlstore.CheckStatus(st); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO sync_status
		(workflow, desired_version, applied_version, synced, last_error, last_attempt, last_success)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (workflow) DO UPDATE SET desired_version = excluded.desired_version,
			applied_version = excluded.applied_version, synced = excluded.synced, last_error = excluded.last_error,
			last_attempt = excluded.last_attempt, last_success = excluded.last_success`,
		st.Workflow, st.DesiredVersion, st.AppliedVersion, st.Synced, st.LastError,
		nullTime(st.LastAttempt), nullTime(st.LastSuccess))
	if err != nil {
		return fmt.Errorf("set status of %s: %w", st.Workflow, err)
	}
	return nil
}

// Statuses implements store.Store.
func (s *Store) Statuses(ctx context.Context) ([]store.SyncStatus, error) {
	rows, err := s.pool.Query(ctx, `SELECT workflow, desired_version, applied_version, synced, last_error,
		last_attempt, last_success FROM sync_status`)
	if err != nil {
		return nil, fmt.Errorf("statuses: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.SyncStatus, error) {
		var st store.SyncStatus
		var attempt, success pgtype.Timestamptz
		err := row.Scan(&st.Workflow, &st.DesiredVersion, &st.AppliedVersion, &st.Synced, &st.LastError,
			&attempt, &success)
		st.LastAttempt, st.LastSuccess = timeOf(attempt), timeOf(success)
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("statuses: %w", err)
	}
	if out == nil {
		out = []store.SyncStatus{}
	}
	sqlstore.SortStatuses(out)
	return out, nil
}

// Record implements store.Store.
func (s *Store) Record(ctx context.Context, e store.Event) error {
	e, err := sqlstore.PrepareEvent(e)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO reconcile_history
		(id, at, region, workflow, tag, action, check_name, reason, "commit")
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`,
		e.ID, e.At, e.Region, e.Workflow, e.Tag, e.Action, e.Check, e.Reason, e.Commit)
	if err != nil {
		return fmt.Errorf("record %s: %w", e.Action, err)
	}
	return nil
}

// History implements store.Store.
func (s *Store) History(ctx context.Context, f store.HistoryFilter) ([]store.Event, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Workflow != "" {
		where = append(where, "workflow = "+arg(f.Workflow))
	}
	if f.Action != "" {
		where = append(where, "action = "+arg(f.Action))
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+arg(sqlstore.UTC(f.Since)))
	}
	q := `SELECT id, at, region, workflow, tag, action, check_name, reason, "commit" FROM reconcile_history`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	// COLLATE "C": ids tie-break byte-wise, as in SQLite, whatever the database's collation.
	q += ` ORDER BY at DESC, id COLLATE "C" DESC LIMIT ` + arg(sqlstore.Limit(f))
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Event, error) {
		var e store.Event
		var at pgtype.Timestamptz
		err := row.Scan(&e.ID, &at, &e.Region, &e.Workflow, &e.Tag, &e.Action, &e.Check, &e.Reason, &e.Commit)
		e.At = timeOf(at)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if out == nil {
		out = []store.Event{}
	}
	return out, nil
}

// PruneHistory implements store.Store.
func (s *Store) PruneHistory(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM reconcile_history WHERE at < $1`, sqlstore.UTC(before))
	if err != nil {
		return 0, fmt.Errorf("prune history: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Claim implements store.Store.
func (s *Store) Claim(ctx context.Context, key string, record []byte) ([]byte, bool, error) {
	if err := sqlstore.CheckClaim(key); err != nil {
		return nil, false, err
	}
	// A concurrent claim of the same key waits for the first to commit, then does nothing; the lookup after it
	// (a new statement, so a new snapshot) sees the winner.
	tag, err := s.pool.Exec(ctx, `INSERT INTO first_seen (key, record, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO NOTHING`, firstSeenKey(key), bytesOf(record), sqlstore.Now())
	if err != nil {
		return nil, false, fmt.Errorf("claim %s: %w", key, err)
	}
	if tag.RowsAffected() == 1 {
		return append([]byte{}, record...), true, nil
	}
	first, ok, err := s.Lookup(ctx, key)
	if err != nil {
		return nil, false, fmt.Errorf("claim %s: %w", key, err)
	}
	if !ok {
		return nil, false, fmt.Errorf("claim %s: the record that holds the key disappeared", key)
	}
	return first, false, nil
}

// firstSeenKeys escapes what a TEXT column cannot hold: NUL, which separates the parts of a promotion's key
// (promote.Record.Key), becomes \0, and the backslash \\, so that two keys never share a row. A key without
// either is stored as it is.
var firstSeenKeys = strings.NewReplacer(`\`, `\\`, "\x00", `\0`)

func firstSeenKey(key string) string { return firstSeenKeys.Replace(key) }

// Lookup implements store.Store.
func (s *Store) Lookup(ctx context.Context, key string) ([]byte, bool, error) {
	var rec []byte
	err := s.pool.QueryRow(ctx, `SELECT record FROM first_seen WHERE key = $1`, firstSeenKey(key)).Scan(&rec)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("lookup %s: %w", key, err)
	}
	if rec == nil {
		rec = []byte{}
	}
	return rec, true, nil
}

// CreateExportJob implements store.Store.
func (s *Store) CreateExportJob(ctx context.Context, start, end time.Time) (store.ExportJob, error) {
	j, err := sqlstore.NewExportJob(start, end)
	if err != nil {
		return store.ExportJob{}, err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO events_export_jobs (id, window_start, window_end, status, created_at)
		VALUES ($1, $2, $3, $4, $5)`, j.ID, j.WindowStart, j.WindowEnd, j.Status, j.CreatedAt)
	if err != nil {
		return store.ExportJob{}, fmt.Errorf("create export job: %w", err)
	}
	return j, nil
}

// ExportJobs implements store.Store.
func (s *Store) ExportJobs(ctx context.Context) ([]store.ExportJob, error) {
	rows, err := s.pool.Query(ctx, `SELECT id::text, window_start, window_end, status, created_at
		FROM events_export_jobs ORDER BY window_start, id`)
	if err != nil {
		return nil, fmt.Errorf("export jobs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.ExportJob, error) {
		var j store.ExportJob
		var start, end, created pgtype.Timestamptz
		err := row.Scan(&j.ID, &start, &end, &j.Status, &created)
		j.WindowStart, j.WindowEnd, j.CreatedAt = timeOf(start), timeOf(end), timeOf(created)
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("export jobs: %w", err)
	}
	if out == nil {
		out = []store.ExportJob{}
	}
	return out, nil
}

// SetExportJobStatus implements store.Store.
func (s *Store) SetExportJobStatus(ctx context.Context, id, status string) error {
	if err := sqlstore.CheckExportStatus(id, status); err != nil {
		return err
	}
	canon, ok := sqlstore.ParseID(id)
	if !ok {
		return fmt.Errorf("export job %q: %w", id, store.ErrNotFound)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE events_export_jobs SET status = $1 WHERE id = $2`, status, canon)
	if err != nil {
		return fmt.Errorf("export job %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("export job %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Close gives up every leadership this Store holds and closes the pool. Closing twice is not an error.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	leases := s.leases
	s.leases = nil
	s.mu.Unlock()
	for l := range leases {
		l.release()
	}
	s.pool.Close()
	return nil
}

// bytesOf keeps a nil slice from becoming NULL in a NOT NULL column.
func bytesOf(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return sqlstore.UTC(t)
}

// timeOf is a scanned timestamptz in UTC; NULL is the zero time.
func timeOf(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}
