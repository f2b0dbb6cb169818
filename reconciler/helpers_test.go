package reconciler_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maestro-conductor/maestro/attest"
	"github.com/maestro-conductor/maestro/attest/tlog"
	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/internal/gittest"
	"github.com/maestro-conductor/maestro/promote"
	"github.com/maestro-conductor/maestro/reconciler"
	"github.com/maestro-conductor/maestro/runtime/store"
)

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// fixture is a promoter's work repository, the bare remote it pushes to, a transparency log in a temporary
// directory and a trusted promotion key.
type fixture struct {
	tb   testing.TB
	work string
	repo *gitrepo.Repo
	bare string
	// url is the remote as reconcilers see it: file://<bare>, or git://... when served by git daemon.
	url string
	log *tlog.Embedded
	key *ecdsa.PrivateKey
	// index is the promoter's first-seen index (beside the log), as the CLI uses it.
	index promote.Index
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	gittest.Require(tb)
	base := tb.TempDir()
	f := &fixture{tb: tb, work: filepath.Join(base, "work"), bare: filepath.Join(base, "srv", "remote.git"), key: newKey(tb)}
	if err := os.MkdirAll(f.work, 0o755); err != nil {
		tb.Fatal(err)
	}
	gittest.Run(tb, base, "init", "-q", "--bare", "-b", "main", f.bare)
	gittest.Run(tb, f.work, "init", "-q", "-b", "main")
	f.url = "file://" + f.bare
	ctx := context.Background()
	l, err := tlog.OpenEmbedded(ctx, filepath.Join(base, "log"), tlog.EmbeddedOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	f.log, f.index = l, l.Index()
	f.repo, err = gitrepo.Open(f.work)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// commit writes workflows/<name>.yaml for each name → content, commits, and pushes main to the remote.
func (f *fixture) commit(files map[string]string) string {
	f.tb.Helper()
	dir := filepath.Join(f.work, "workflows")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.tb.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(content), 0o644); err != nil {
			f.tb.Fatal(err)
		}
	}
	gittest.Run(f.tb, f.work, "add", "-A")
	gittest.Run(f.tb, f.work, "commit", "-q", "-m", "change workflows")
	gittest.Run(f.tb, f.work, "push", "-q", "file://"+f.bare, "main")
	return gittest.Run(f.tb, f.work, "rev-parse", "HEAD")
}

// promote promotes workflow at HEAD as version, signed by the fixture's key, and pushes tag and notes.
func (f *fixture) promote(workflow, version string) *promote.Result {
	f.tb.Helper()
	return f.promoteWith(workflow, version, f.key, f.index)
}

func (f *fixture) promoteWith(workflow, version string, key *ecdsa.PrivateKey, index promote.Index) *promote.Result {
	f.tb.Helper()
	res, err := promote.Promote(context.Background(), f.repo, promote.Options{Workflow: workflow, Version: version, Freeze: true,
		Key: key, Promoter: "release@example.com", Log: f.log, Index: index, Push: "file://" + f.bare,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.tb.Fatalf("promote %s %s: %v", workflow, version, err)
	}
	return res
}

func (f *fixture) policy() promote.Policy {
	return promote.Policy{Trusted: []*ecdsa.PublicKey{&f.key.PublicKey}, Logs: []attest.LogKey{attest.LogKey(f.log.LogKey())}}
}

// serve serves the remote with git daemon on a loopback port until the test ends, and points url at it. The
// returned function stops the daemon.
func (f *fixture) serve() (stop func()) {
	f.tb.Helper()
	url, stop := gittest.Daemon(f.tb, filepath.Dir(f.bare), gittest.DaemonOptions{})
	f.url = url + "/" + filepath.Base(f.bare)
	return stop
}

// reconciler makes a Reconciler of region over st with its own mirror.
func (f *fixture) reconciler(region string, st store.Store, edit ...func(*reconciler.Options)) *reconciler.Reconciler {
	f.tb.Helper()
	opts := reconciler.Options{Region: region, Remote: f.url, MirrorDir: filepath.Join(f.tb.TempDir(), "mirror"), Store: st,
		Policy: f.policy(), Logger: testLogger(f.tb)}
	for _, e := range edit {
		e(&opts)
	}
	r, err := reconciler.New(opts)
	if err != nil {
		f.tb.Fatal(err)
	}
	return r
}

// testLogger logs through tb.Log while the test runs, and nowhere after it.
func testLogger(tb testing.TB) *slog.Logger {
	w := &testWriter{tb: tb}
	tb.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct {
	mu   sync.Mutex
	tb   testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// waitFor polls cond every 10ms until it holds or timeout passes, and returns how long it took.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			tb.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}
