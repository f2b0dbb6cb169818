// Package sqlite is the region store on SQLite (modernc.org/sqlite, pure Go): the embedded default, one database
// file under the server's data directory.
//
// The database runs in WAL mode, so readers never wait for the writer; every transaction begins IMMEDIATE, so
// writers queue on the database lock (busy_timeout) instead of failing when two upgrade from reading at once.
// Several Stores, in one process or several, may open the same file. Leader election is an exclusive flock(2) on a
// file beside the database, held until released or until the process ends.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/maestro-conductor/maestro/runtime/store"
	"github.com/maestro-conductor/maestro/runtime/store/internal/schema"
	"github.com/maestro-conductor/maestro/runtime/store/internal/sqlstore"
)

// Options configure a Store.
type Options struct {
	// Logger receives migrations applied and leadership changes; nil means slog.Default().
	Logger *slog.Logger
}

// Store is the region store in one SQLite database file.
type Store struct {
	db   *sql.DB
	path string
	log  *slog.Logger

	mu     sync.Mutex
	leases map[*lease]struct{}
	closed bool
}

var _ store.Store = (*Store)(nil)

// busyTimeout is how long a writer waits for the database lock before it fails with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// Open opens (creating it and its directory if need be) the database at path and brings its schema up to date.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open sqlite store %q: want the path of a database file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	db, err := sql.Open("sqlite", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	// Readers run in parallel under WAL; writers take turns anyway, so a few connections are enough.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	s := &Store{db: db, path: abs, log: log.With(sqlstore.LogKeyDatabase, abs), leases: map[*lease]struct{}{}}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	return s, nil
}

// dsn is the modernc.org/sqlite data source for the file at abs: a file: URI, so any byte of the path survives.
func dsn(abs string) string {
	p := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(filepath.ToSlash(abs))
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// FULL: a commit is on disk when Apply or Claim returns; the first-seen index guards frozen versions.
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	return "file:" + p + "?" + q.Encode()
}

// Path returns the database file's absolute path.
func (s *Store) Path() string { return s.path }

// DB returns the underlying database, for tests and diagnostics.
func (s *Store) DB() *sql.DB { return s.db }

func (s *Store) migrate(ctx context.Context) error {
	ms, err := schema.Migrations(schema.SQLite)
	if err != nil {
		return err
	}
	if err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, schema.MigrationsTable(schema.SQLite))
		return err
	}); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range ms {
		applied := false
		// BEGIN IMMEDIATE takes the write lock first: of two processes opening the database at once, the second
		// finds the migration recorded by the first.
		err := s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, fmtTime(sqlstore.Now())); err != nil {
				return err
			}
			applied = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("migrate %04d_%s: %w", m.Version, m.Name, err)
		}
		if applied {
			s.log.Info("applied migration", sqlstore.LogKeyMigration, fmt.Sprintf("%04d_%s", m.Version, m.Name))
		}
	}
	var latest sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&latest); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if n := int64(len(ms)); latest.Int64 > n {
		// A newer maestro migrated this database; its migrations only add, so this one can still run beside it.
		s.log.Warn("database schema is newer than this maestro", sqlstore.LogKeyMigration, latest.Int64, "known", n)
	}
	return nil
}

// tx runs f in one transaction (BEGIN IMMEDIATE), committing if f returns nil.
func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
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
	applied := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO workflows (`+versionColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			v.Name, v.Version, v.Digest, v.Commit, v.Tag, v.TagObject, v.Frozen, v.Tenant, bytesOf(v.Definition),
			v.Signer, v.Promoter, v.LogIndex, nullTime(v.PromotedAt), fmtTime(v.AppliedAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			applied = true
			return nil
		}
		// A row holds (name, version) or (name, digest): the same version again, or a conflict.
		stored, err := scanVersion(tx.QueryRowContext(ctx, `SELECT `+versionColumns+` FROM workflows
			WHERE name = ? AND (version = ? OR digest = ?) ORDER BY version = ? DESC LIMIT 1`,
			v.Name, v.Version, v.Digest, v.Version))
		if err != nil {
			return err
		}
		return sqlstore.Conflict(v, stored)
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return false, err
		}
		return false, fmt.Errorf("apply %s@%s: %w", v.Name, v.Version, err)
	}
	return applied, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanVersion(row scanner) (store.Version, error) {
	var v store.Version
	var promoted, applied timeColumn
	err := row.Scan(&v.Name, &v.Version, &v.Digest, &v.Commit, &v.Tag, &v.TagObject, &v.Frozen, &v.Tenant,
		&v.Definition, &v.Signer, &v.Promoter, &v.LogIndex, &promoted, &applied)
	if v.Definition == nil {
		v.Definition = []byte{}
	}
	v.PromotedAt, v.AppliedAt = promoted.t, applied.t
	return v, err
}

// Workflows implements store.Store.
func (s *Store) Workflows(ctx context.Context) ([]store.Summary, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, version, digest, applied_at FROM workflows`)
	if err != nil {
		return nil, fmt.Errorf("workflows: %w", err)
	}
	defer rows.Close()
	var rs []sqlstore.VersionRow
	for rows.Next() {
		var r sqlstore.VersionRow
		var at timeColumn
		if err := rows.Scan(&r.Name, &r.Version, &r.Digest, &at); err != nil {
			return nil, fmt.Errorf("workflows: %w", err)
		}
		r.AppliedAt = at.t
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("workflows: %w", err)
	}
	return sqlstore.Summaries(rs), nil
}

// Versions implements store.Store.
func (s *Store) Versions(ctx context.Context, name string) ([]store.Version, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+versionColumns+` FROM workflows WHERE name = ?`, name)
	if err != nil {
		return nil, fmt.Errorf("versions of %s: %w", name, err)
	}
	defer rows.Close()
	var vs []store.Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("versions of %s: %w", name, err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
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
	v, err := scanVersion(s.db.QueryRowContext(ctx, `SELECT `+versionColumns+` FROM workflows WHERE name = ? AND version = ?`,
		name, version))
	if errors.Is(err, sql.ErrNoRows) {
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
	_, err := s.db.ExecContext(ctx, `INSERT INTO sync_status
		(workflow, desired_version, applied_version, synced, last_error, last_attempt, last_success)
		VALUES (?, ?, ?, ?, ?, ?, ?)
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
	rows, err := s.db.QueryContext(ctx, `SELECT workflow, desired_version, applied_version, synced, last_error,
		last_attempt, last_success FROM sync_status`)
	if err != nil {
		return nil, fmt.Errorf("statuses: %w", err)
	}
	defer rows.Close()
	out := []store.SyncStatus{}
	for rows.Next() {
		var st store.SyncStatus
		var attempt, success timeColumn
		if err := rows.Scan(&st.Workflow, &st.DesiredVersion, &st.AppliedVersion, &st.Synced, &st.LastError,
			&attempt, &success); err != nil {
			return nil, fmt.Errorf("statuses: %w", err)
		}
		st.LastAttempt, st.LastSuccess = attempt.t, success.t
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("statuses: %w", err)
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
	_, err = s.db.ExecContext(ctx, `INSERT INTO reconcile_history
		(id, at, region, workflow, tag, action, check_name, reason, "commit")
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		e.ID, fmtTime(e.At), e.Region, e.Workflow, e.Tag, e.Action, e.Check, e.Reason, e.Commit)
	if err != nil {
		return fmt.Errorf("record %s: %w", e.Action, err)
	}
	return nil
}

// History implements store.Store.
func (s *Store) History(ctx context.Context, f store.HistoryFilter) ([]store.Event, error) {
	var where []string
	var args []any
	if f.Workflow != "" {
		where, args = append(where, "workflow = ?"), append(args, f.Workflow)
	}
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, fmtTime(sqlstore.UTC(f.Since)))
	}
	q := `SELECT id, at, region, workflow, tag, action, check_name, reason, "commit" FROM reconcile_history`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY at DESC, id DESC LIMIT ?"
	args = append(args, sqlstore.Limit(f))
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer rows.Close()
	out := []store.Event{}
	for rows.Next() {
		var e store.Event
		var at timeColumn
		if err := rows.Scan(&e.ID, &at, &e.Region, &e.Workflow, &e.Tag, &e.Action, &e.Check, &e.Reason, &e.Commit); err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		e.At = at.t
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return out, nil
}

// PruneHistory implements store.Store. Times are fixed-width text, so the comparison uses reconcile_history_at.
func (s *Store) PruneHistory(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM reconcile_history WHERE at < ?`, fmtTime(before))
	if err != nil {
		return 0, fmt.Errorf("prune history: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune history: %w", err)
	}
	return n, nil
}

// Claim implements store.Store.
func (s *Store) Claim(ctx context.Context, key string, record []byte) ([]byte, bool, error) {
	if err := sqlstore.CheckClaim(key); err != nil {
		return nil, false, err
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO first_seen (key, record, created_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO NOTHING`, key, bytesOf(record), fmtTime(sqlstore.Now()))
	if err != nil {
		return nil, false, fmt.Errorf("claim %s: %w", key, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, false, fmt.Errorf("claim %s: %w", key, err)
	} else if n == 1 {
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

// Lookup implements store.Store.
func (s *Store) Lookup(ctx context.Context, key string) ([]byte, bool, error) {
	var rec []byte
	err := s.db.QueryRowContext(ctx, `SELECT record FROM first_seen WHERE key = ?`, key).Scan(&rec)
	if errors.Is(err, sql.ErrNoRows) {
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
	_, err = s.db.ExecContext(ctx, `INSERT INTO events_export_jobs (id, window_start, window_end, status, created_at)
		VALUES (?, ?, ?, ?, ?)`, j.ID, fmtTime(j.WindowStart), fmtTime(j.WindowEnd), j.Status, fmtTime(j.CreatedAt))
	if err != nil {
		return store.ExportJob{}, fmt.Errorf("create export job: %w", err)
	}
	return j, nil
}

// ExportJobs implements store.Store.
func (s *Store) ExportJobs(ctx context.Context) ([]store.ExportJob, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, window_start, window_end, status, created_at
		FROM events_export_jobs ORDER BY window_start, id`)
	if err != nil {
		return nil, fmt.Errorf("export jobs: %w", err)
	}
	defer rows.Close()
	out := []store.ExportJob{}
	for rows.Next() {
		var j store.ExportJob
		var start, end, created timeColumn
		if err := rows.Scan(&j.ID, &start, &end, &j.Status, &created); err != nil {
			return nil, fmt.Errorf("export jobs: %w", err)
		}
		j.WindowStart, j.WindowEnd, j.CreatedAt = start.t, end.t, created.t
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("export jobs: %w", err)
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
	res, err := s.db.ExecContext(ctx, `UPDATE events_export_jobs SET status = ? WHERE id = ?`, status, canon)
	if err != nil {
		return fmt.Errorf("export job %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("export job %s: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("export job %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping %s: %w", s.path, err)
	}
	return nil
}

// Close gives up every leadership this Store holds and closes the database. Closing twice is not an error.
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
	return s.db.Close()
}

// bytesOf keeps a nil slice from becoming NULL in a NOT NULL column.
func bytesOf(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func fmtTime(t time.Time) string { return sqlstore.UTC(t).Format(schema.TimeFormat) }

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return fmtTime(t)
}

// timeColumn scans a time stored as text in schema.TimeFormat; NULL is the zero time.
type timeColumn struct{ t time.Time }

func (c *timeColumn) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case nil:
		c.t = time.Time{}
		return nil
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("time column holds %T, want text", src)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("time column: %w", err)
	}
	c.t = t.UTC()
	return nil
}
