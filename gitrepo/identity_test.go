package gitrepo_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/maestro-conductor/maestro/gitrepo"
)

func identity(t *testing.T, repo *gitrepo.Repo) string {
	t.Helper()
	id, err := repo.Identity(context.Background())
	if err != nil {
		t.Fatalf("Identity: %v", err)
	}
	return id
}

// TestIdentity checks that the identity is the root commit, the same in every clone, kept when an unrelated
// history is merged in, and different for an unrelated history.
func TestIdentity(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	r.write("a", "1")
	root := r.commit("root")
	r.write("a", "2")
	r.commit("second")
	r.write("a", "3")
	head := r.commit("third")
	repo := openRepo(t, r.dir)
	want := "git:" + root.String()
	if got := identity(t, repo); got != want {
		t.Fatalf("Identity = %s, want %s", got, want)
	}
	if got := identity(t, repo); got != want {
		t.Errorf("second Identity = %s, want %s", got, want)
	}
	if got, err := repo.IdentityOf(ctx, r.hash("HEAD~1")); err != nil || got != want {
		t.Errorf("IdentityOf(HEAD~1) = %s, %v; want %s", got, err, want)
	}

	for _, bare := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "clone")
		args := []string{"clone", "-q"}
		if bare {
			args = append(args, "--bare")
		}
		gitIn(t, filepath.Dir(dir), append(args, "file://"+r.dir, dir)...)
		if got := identity(t, openRepo(t, dir)); got != want {
			t.Errorf("Identity of a clone (bare %v) = %s, want %s", bare, got, want)
		}
	}

	// An unrelated history, merged in as a second parent, does not change the identity; on its own it has
	// another.
	r.git("checkout", "-q", "--orphan", "other")
	r.git("rm", "-rq", "--cached", ".")
	r.write("b", "other")
	r.git("add", "b")
	otherRoot := r.commitStaged("other root")
	otherRepo := openRepo(t, r.dir)
	if got := identity(t, otherRepo); got != "git:"+otherRoot.String() {
		t.Errorf("Identity of an unrelated history = %s, want git:%s", got, otherRoot)
	}
	r.git("checkout", "-q", "-f", "main")
	r.git("merge", "-q", "--allow-unrelated-histories", "-m", "merge other", "other")
	merged := openRepo(t, r.dir)
	if got := identity(t, merged); got != want {
		t.Errorf("Identity after merging an unrelated history = %s, want %s", got, want)
	}
	if r.hash("HEAD") == head {
		t.Fatal("the merge made no commit")
	}
}

func TestIdentityShallow(t *testing.T) {
	r := newRepo(t)
	r.write("a", "1")
	r.commit("root")
	r.write("a", "2")
	r.commit("second")
	dir := filepath.Join(t.TempDir(), "shallow")
	gitIn(t, filepath.Dir(dir), "clone", "-q", "--depth=1", "file://"+r.dir, dir)
	_, err := openRepo(t, dir).Identity(context.Background())
	if !errors.Is(err, gitrepo.ErrShallow) {
		t.Fatalf("Identity of a shallow clone: error = %v, want ErrShallow", err)
	}
}

func TestIdentityEmpty(t *testing.T) {
	r := newRepo(t)
	_, err := openRepo(t, r.dir).Identity(context.Background())
	if !errors.Is(err, gitrepo.ErrUnknownRef) {
		t.Fatalf("Identity of a repository without commits: error = %v, want ErrUnknownRef", err)
	}
}
