package gitrepo_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// testRepo is a real git repository in a temporary directory, built with the git CLI isolated from the user's and
// the system's configuration.
type testRepo struct {
	t   *testing.T
	dir string
	// commits counts commits, so that each gets its own fixed, increasing date.
	commits int
}

// baseTime is the committer date of a test repository's first commit; each later commit is an hour later.
var baseTime = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func newRepo(t *testing.T) *testRepo {
	t.Helper()
	requireTool(t, "git")
	r := &testRepo{t: t, dir: filepath.Join(t.TempDir(), "repo")}
	if err := os.Mkdir(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.git("init", "-q", "-b", "main")
	return r
}

// requireTool fails the test when a program the test runs is not installed: CI has them, and a test that skips
// where they are missing would pass without testing anything.
func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is required by this test (git: package git; ssh-keygen: package openssh-client): %v", name, err)
	}
}

// gitEnv is the environment of every git command: no global or system config, a fixed identity and dates.
func gitEnv(date time.Time) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	d := date.Format(time.RFC3339)
	return append(env,
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_DATE="+d,
		"GIT_COMMITTER_DATE="+d,
	)
}

// git runs git in the repository and returns its trimmed standard output.
func (r *testRepo) git(args ...string) string {
	r.t.Helper()
	return runGit(r.t, r.dir, baseTime.Add(time.Duration(r.commits)*time.Hour), args...)
}

func runGit(t *testing.T, dir string, date time.Time, args ...string) string {
	t.Helper()
	cmd := gitCommand(dir, date, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// gitCommand is a git command in dir, isolated from the user's and the system's configuration.
func gitCommand(dir string, date time.Time, args ...string) *exec.Cmd {
	all := append([]string{
		"-c", "user.name=Maestro Test",
		"-c", "user.email=test@maestro.invalid",
		"-c", "commit.gpgSign=false",
		"-c", "tag.gpgSign=false",
		"-c", "core.symlinks=true",
		"-c", "advice.nestedTag=false",
	}, args...)
	cmd := exec.Command("git", all...)
	cmd.Dir = dir
	cmd.Env = gitEnv(date)
	return cmd
}

// write writes a file in the work tree, creating its directory.
func (r *testRepo) write(name, content string) {
	r.t.Helper()
	r.writeMode(name, content, 0o644)
}

func (r *testRepo) writeMode(name, content string, mode os.FileMode) {
	r.t.Helper()
	p := filepath.Join(r.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		r.t.Fatal(err)
	}
}

// symlink creates a symbolic link in the work tree.
func (r *testRepo) symlink(target, name string) {
	r.t.Helper()
	p := filepath.Join(r.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		r.t.Fatal(err)
	}
}

// commit stages everything and commits it, returning the new commit's hash.
func (r *testRepo) commit(msg string) plumbing.Hash {
	r.t.Helper()
	r.git("add", "-A")
	return r.commitStaged(msg)
}

// commitStaged commits the index as it is.
func (r *testRepo) commitStaged(msg string) plumbing.Hash {
	r.t.Helper()
	r.git("commit", "-q", "-m", msg)
	r.commits++
	return r.hash("HEAD")
}

// hash asks git for the object a revision names.
func (r *testRepo) hash(rev string) plumbing.Hash {
	r.t.Helper()
	return plumbing.NewHash(r.git("rev-parse", "--verify", rev))
}

// commitTime is the committer date of the n-th commit, counting from 0.
func commitTime(n int) time.Time { return baseTime.Add(time.Duration(n) * time.Hour) }

// workflowYAML is a minimal valid workflow whose one task runs pkg.
func workflowYAML(name, pkg string) string {
	return fmt.Sprintf(`apiVersion: maestro.dev/v1
kind: Workflow
metadata:
  name: %s
spec:
  tasks:
    extract:
      package: registry.example.com/etl/%s@sha256:%s
`, name, pkg, strings.Repeat("a", 64))
}
