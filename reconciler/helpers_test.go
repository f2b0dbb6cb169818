package reconciler_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/maestro-conductor/maestro/attest"
	"github.com/maestro-conductor/maestro/attest/tlog"
	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/promote"
	"github.com/maestro-conductor/maestro/reconciler"
	"github.com/maestro-conductor/maestro/runtime/store"
)

// gitEnv isolates the git CLI from the user's and the system's configuration.
func gitEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	return append(env, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
}

func git(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func requireGit(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Fatalf("git is required by this test (package git): %v", err)
	}
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// workflowYAML is a valid two-task workflow; n varies the load task's package digest, so each n is another graph.
func workflowYAML(name string, n int) string {
	return fmt.Sprintf(`apiVersion: maestro.dev/v1
kind: Workflow
metadata: {name: %s, tenant: acme}
spec:
  params:
    date: {type: string, required: true}
  tasks:
    extract:
      package: registry.example.com/etl/extract@sha256:%064x
      params: {date: "{{ params.date }}"}
      retries: 2
    load:
      package: registry.example.com/etl/load@sha256:%064x
      dependsOn: [extract]
      timeout: 10m
`, name, 1, n)
}

// embeddedLog adapts the embedded log to promote.Log.
type embeddedLog struct{ *tlog.Embedded }

func (e embeddedLog) LogKey() attest.LogKey { return attest.LogKey(e.Embedded.LogKey()) }

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
	requireGit(tb)
	base := tb.TempDir()
	f := &fixture{tb: tb, work: filepath.Join(base, "work"), bare: filepath.Join(base, "srv", "remote.git"), key: newKey(tb)}
	if err := os.MkdirAll(f.work, 0o755); err != nil {
		tb.Fatal(err)
	}
	git(tb, base, "init", "-q", "--bare", "-b", "main", f.bare)
	git(tb, f.work, "init", "-q", "-b", "main")
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
	git(f.tb, f.work, "add", "-A")
	git(f.tb, f.work, "commit", "-q", "-m", "change workflows")
	git(f.tb, f.work, "push", "-q", "file://"+f.bare, "main")
	return git(f.tb, f.work, "rev-parse", "HEAD")
}

// promote promotes workflow at HEAD as version, signed by the fixture's key, and pushes tag and notes.
func (f *fixture) promote(workflow, version string) *promote.Result {
	f.tb.Helper()
	return f.promoteWith(workflow, version, f.key, f.index)
}

func (f *fixture) promoteWith(workflow, version string, key *ecdsa.PrivateKey, index promote.Index) *promote.Result {
	f.tb.Helper()
	res, err := promote.Promote(context.Background(), f.repo, promote.Options{Workflow: workflow, Version: version, Freeze: true,
		Key: key, Promoter: "release@example.com", Log: embeddedLog{f.log}, Index: index, Push: "file://" + f.bare,
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
	url, stop := startGitDaemon(f.tb, filepath.Dir(f.bare))
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

// startGitDaemon serves the repositories under base with git daemon on a free loopback port and returns the
// git:// URL of base and a function that stops the daemon (also called when the test ends).
func startGitDaemon(tb testing.TB, base string) (string, func()) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	// git-daemon itself rather than "git daemon", whose child would outlive a kill.
	daemon := filepath.Join(git(tb, base, "--exec-path"), "git-daemon")
	cmd := exec.Command(daemon, "--reuseaddr", "--base-path="+base, "--export-all",
		"--listen=127.0.0.1", fmt.Sprintf("--port=%d", port), base)
	cmd.Env = gitEnv()
	// git-daemon forks a process per connection: a group, so that none survives.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			<-done
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		})
	}
	tb.Cleanup(stop)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-done:
			tb.Fatalf("git daemon exited: %v\n%s", err, stderr.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "git://" + addr, stop
		}
		if time.Now().After(deadline) {
			tb.Fatalf("git daemon did not listen on %s: %v\n%s", addr, err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
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
