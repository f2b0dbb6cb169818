package pgtest_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/maestro-conductor/maestro/runtime/store/pgtest"
)

// use connects to a database made by pgtest, writes to it, and reports its data directory.
func use(t *testing.T, dsn string) (dataDir string) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CREATE TABLE t (x int); INSERT INTO t VALUES (1)`); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := conn.QueryRow(ctx, `SHOW data_directory`).Scan(&dataDir); err != nil {
		// Only superusers may see it; the server is a given one then.
		return ""
	}
	return dataDir
}

func TestURL(t *testing.T) {
	db := pgtest.New(t)
	if !strings.HasPrefix(db.Name, "maestro_test_") {
		t.Errorf("database %q, want maestro_test_*", db.Name)
	}
	use(t, db.URL)
	// Each call is a database of its own.
	other := pgtest.New(t)
	if other.Name == db.Name {
		t.Errorf("two calls made one database %s", db.Name)
	}
	use(t, other.URL) // would fail if table t were there already
}

// TestInitdb starts a throwaway cluster even where a server runs, so the path a machine without one takes is known
// to work, and checks that the cluster is gone when the last test using it ends.
func TestInitdb(t *testing.T) {
	t.Setenv(pgtest.EnvInitdb, "1")
	var dataDir string
	t.Run("cluster", func(t *testing.T) {
		pgtest.Hold(t)
		for _, name := range []string{"a", "b"} {
			t.Run(name, func(t *testing.T) {
				db := pgtest.New(t)
				if db.Source != pgtest.FromInitdb {
					t.Fatalf("source %s, want %s", db.Source, pgtest.FromInitdb)
				}
				dir := use(t, db.URL)
				if dir == "" || !strings.Contains(dir, "maestro-pgtest-") {
					t.Fatalf("data directory %q, want a throwaway one", dir)
				}
				if dataDir != "" && dir != dataDir {
					t.Errorf("subtests got clusters %s and %s; want one, held by the parent", dataDir, dir)
				}
				dataDir = dir
			})
		}
	})
	if dataDir == "" {
		return
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("cluster directory %s still there after the last test using it ended (%v)", dataDir, err)
	}
}

// recorder is a testing.TB that notes how a test would have ended instead of ending it.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Fatalf(f string, args ...any) { r.fatal = fmt.Sprintf(f, args...) }
func (r *recorder) Skipf(f string, args ...any)  { r.skip = fmt.Sprintf(f, args...) }

func TestUnavailable(t *testing.T) {
	for _, tt := range []struct {
		ci       string
		wantFail bool
	}{{"true", true}, {"1", true}, {"", false}, {"false", false}} {
		t.Setenv(pgtest.EnvCI, tt.ci)
		r := &recorder{TB: t}
		pgtest.Unavailable(r, "no server")
		if failed := r.fatal != ""; failed != tt.wantFail || (r.skip != "") == tt.wantFail {
			t.Errorf("CI=%q: fatal %q, skip %q; want failed %v", tt.ci, r.fatal, r.skip, tt.wantFail)
		}
	}
}
