package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maestro-conductor/maestro/runtime/store"
	"github.com/maestro-conductor/maestro/runtime/store/sqlite"
)

// The test binary re-executed with childEnv set is another process using the database: it leads and waits to be
// killed, or opens the database and applies a version.
const (
	childEnv     = "MAESTRO_SQLITE_TEST_CHILD"      // "lead" or "apply"
	childPathEnv = "MAESTRO_SQLITE_TEST_CHILD_PATH" // the database path
	childNameEnv = "MAESTRO_SQLITE_TEST_CHILD_NAME" // the leadership name, or the version to apply
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "lead":
		os.Exit(childLead(os.Getenv(childPathEnv), os.Getenv(childNameEnv)))
	case "apply":
		os.Exit(childApply(os.Getenv(childPathEnv), os.Getenv(childNameEnv)))
	}
	os.Exit(m.Run())
}

func childApply(path, version string) int {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, sqlite.Options{Logger: quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	v := store.Version{Name: "flow", Version: version, Digest: "sha256:" + version}
	if _, err := s.Apply(ctx, v); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func child(role, path, name string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, childPathEnv+"="+path, childNameEnv+"="+name)
	cmd.Stderr = os.Stderr
	return cmd
}

// TestOpenAcrossProcesses: processes opening a new database at once all migrate and write it.
func TestOpenAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "region.db")
	const n = 4
	var cmds []*exec.Cmd
	for i := range n {
		cmd := child("apply", path, fmt.Sprintf("1.%d.0", i))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("process %d: %v", i, err)
		}
	}
	s := open(t, path)
	vs, err := s.Versions(t.Context(), "flow")
	if err != nil || len(vs) != n {
		t.Errorf("Versions() = %d versions, %v; want %d", len(vs), err, n)
	}
	var m int
	if err := s.DB().QueryRowContext(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&m); err != nil || m != 1 {
		t.Errorf("schema_migrations holds %d rows (%v), want 1", m, err)
	}
}

func childLead(path, name string) int {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, sqlite.Options{Logger: quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, _, ok, err := s.Lead(ctx, name)
	fmt.Printf("leading=%v err=%v\n", ok, err)
	time.Sleep(time.Minute) // killed long before
	return 0
}

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestLeadAcrossProcesses: the lock is held by another process until that process dies, however it dies.
func TestLeadAcrossProcesses(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "region.db")
	s := open(t, path)

	cmd := child("lead", path, "us-east")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "leading=true err=<nil>" {
		t.Fatalf("child: %q, %v; want leading=true", line, err)
	}

	if _, _, ok, err := s.Lead(ctx, "us-east"); ok || err != nil {
		t.Fatalf("Lead() while another process leads = %v, %v; want false, <nil>", ok, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	lost, release, ok, err := s.Lead(ctx, "us-east")
	if !ok || err != nil {
		t.Fatalf("Lead() after the leading process died = %v, %v; want true, <nil>", ok, err)
	}
	defer release()
	select {
	case <-lost:
		t.Error("lost closed while held")
	default:
	}
	if _, err := os.Stat(path + ".leader.us-east.lock"); err != nil {
		t.Errorf("lock file: %v", err)
	}
}

func TestOpenSettings(t *testing.T) {
	ctx := t.Context()
	// A path with characters a URI would otherwise read, in a directory Open makes.
	path := filepath.Join(t.TempDir(), "we?ird #dir%41", "region.db")
	s := open(t, path)
	if s.Path() != path {
		t.Errorf("Path() = %s, want %s", s.Path(), path)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
	// Every connection of the pool has the settings: hold several at once.
	db := s.DB()
	conns := make([]interface{ Close() error }, 0, 3)
	for range 3 {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		for pragma, want := range map[string]string{
			"journal_mode": "wal",
			"foreign_keys": "1",
			"busy_timeout": "10000",
			"synchronous":  "2",
		} {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
			}
		}
	}
	for _, c := range conns {
		c.Close()
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != 1 {
		t.Errorf("schema_migrations holds %d rows (%v), want 1", n, err)
	}
}

// TestCheckConstraints: the schema itself refuses what the store's checks refuse, for writers other than this code.
func TestCheckConstraints(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "region.db"))
	for name, stmt := range map[string]string{
		"status": `INSERT INTO events_export_jobs (id, window_start, window_end, status, created_at)
			VALUES ('x', '2025-01-01T00:00:00.000000Z', '2025-01-01T01:00:00.000000Z', 'done', '2025-01-01T00:00:00.000000Z')`,
		"window": `INSERT INTO events_export_jobs (id, window_start, window_end, status, created_at)
			VALUES ('y', '2025-01-01T01:00:00.000000Z', '2025-01-01T00:00:00.000000Z', 'pending', '2025-01-01T00:00:00.000000Z')`,
	} {
		if _, err := s.DB().ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "CHECK") {
			t.Errorf("%s: insert = %v, want a CHECK constraint failure", name, err)
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:region.db?mode=memory"} {
		if s, err := sqlite.Open(t.Context(), path, sqlite.Options{Logger: quiet}); err == nil {
			s.Close()
			t.Errorf("Open(%q): no error", path)
		}
	}
}
