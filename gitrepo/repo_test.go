package gitrepo_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/maestro-conductor/maestro/gitrepo"
)

func realPath(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestOpen(t *testing.T) {
	r := newRepo(t)
	r.write("workflows/etl.yaml", workflowYAML("etl", "extract"))
	r.commit("first")

	tests := []struct {
		name string
		path string
	}{
		{"root", r.dir},
		{"subdirectory", filepath.Join(r.dir, "workflows")},
		{"file", filepath.Join(r.dir, "workflows", "etl.yaml")},
		{"relative with dot-dot", filepath.Join(r.dir, "workflows", "..", "workflows")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo, err := gitrepo.Open(tt.path)
			if err != nil {
				t.Fatalf("Open(%s): %v", tt.path, err)
			}
			if got, want := realPath(t, repo.Root()), realPath(t, r.dir); got != want {
				t.Errorf("Root() = %s, want %s", got, want)
			}
			if repo.Bare() {
				t.Errorf("Bare() = true for a work tree")
			}
		})
	}
}

func TestOpenNotRepository(t *testing.T) {
	dir := t.TempDir()
	// go-git, like git without GIT_CEILING_DIRECTORIES, searches every parent: a repository above the temporary
	// directory would make this test meaningless.
	for p := dir; ; p = filepath.Dir(p) {
		if _, err := os.Lstat(filepath.Join(p, ".git")); err == nil {
			t.Skipf("%s is inside the git repository at %s", dir, p)
		}
		if filepath.Dir(p) == p {
			break
		}
	}
	_, err := gitrepo.Open(dir)
	if !errors.Is(err, gitrepo.ErrNotRepository) {
		t.Fatalf("Open(%s) error = %v, want ErrNotRepository", dir, err)
	}
	var nre *gitrepo.NotRepositoryError
	if !errors.As(err, &nre) || nre.Path != dir {
		t.Errorf("Open(%s) error = %#v, want *NotRepositoryError with Path %s", dir, err, dir)
	}
	if msg := err.Error(); !strings.Contains(msg, "--repo") || !strings.Contains(msg, dir) {
		t.Errorf("error message %q should name the path and suggest --repo", msg)
	}
}

func TestOpenMissingPath(t *testing.T) {
	r := newRepo(t)
	r.write("a.txt", "one\n")
	r.commit("first")
	_, err := gitrepo.Open(filepath.Join(r.dir, "no", "such", "dir"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing path) error = %v, want fs.ErrNotExist", err)
	}
}

func TestOpenLinkedWorktreeAndBare(t *testing.T) {
	r := newRepo(t)
	r.write("a.txt", "one\n")
	first := r.commit("first")
	r.write("a.txt", "two\n")
	second := r.commit("second")
	r.git("branch", "old", first.String())

	wt := filepath.Join(filepath.Dir(r.dir), "linked")
	r.git("worktree", "add", "-q", wt, "old")
	bare := filepath.Join(filepath.Dir(r.dir), "bare.git")
	runGit(t, filepath.Dir(r.dir), baseTime, "clone", "-q", "--bare", r.dir, bare)

	t.Run("linked worktree", func(t *testing.T) {
		repo, err := gitrepo.Open(wt)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := realPath(t, repo.Root()), realPath(t, wt); got != want {
			t.Errorf("Root() = %s, want %s", got, want)
		}
		// HEAD is the linked work tree's own; main comes from the shared refs.
		for ref, want := range map[string]plumbing.Hash{"HEAD": first, "main": second} {
			if got, err := repo.Resolve(ref); err != nil || got != want {
				t.Errorf("Resolve(%s) = %s, %v; want %s", ref, got, err, want)
			}
		}
		data, err := fs.ReadFile(repo.WorkTreeFS(), "a.txt")
		if err != nil || string(data) != "one\n" {
			t.Errorf("work tree a.txt = %q, %v; want %q", data, err, "one\n")
		}
	})
	t.Run("bare", func(t *testing.T) {
		repo, err := gitrepo.Open(bare)
		if err != nil {
			t.Fatal(err)
		}
		if !repo.Bare() || repo.Root() != "" {
			t.Errorf("Bare() = %v, Root() = %q; want true, \"\"", repo.Bare(), repo.Root())
		}
		if got, err := repo.Resolve("main"); err != nil || got != second {
			t.Errorf("Resolve(main) = %s, %v; want %s", got, err, second)
		}
		if _, err := repo.WorkTreeFS().Open("a.txt"); !errors.Is(err, gitrepo.ErrNoWorkTree) {
			t.Errorf("WorkTreeFS().Open error = %v, want ErrNoWorkTree", err)
		}
		data, err := fs.ReadFile(mustFS(t, repo, "main"), "a.txt")
		if err != nil || string(data) != "two\n" {
			t.Errorf("FS(main) a.txt = %q, %v; want %q", data, err, "two\n")
		}
	})
}

func TestResolve(t *testing.T) {
	r := newRepo(t)
	r.write("a.txt", "one\n")
	c1 := r.commit("first")
	r.write("a.txt", "two\n")
	c2 := r.commit("second")
	r.write("a.txt", "three\n")
	c3 := r.commit("third")
	r.git("tag", "light", c1.String())
	r.git("tag", "-a", "-m", "annotated", "ann", c2.String())
	r.git("branch", "feature", c2.String())
	r.git("update-ref", "refs/remotes/origin/release", c1.String())

	repo, err := gitrepo.Open(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	// Each revision is checked against what git itself says.
	tests := []struct {
		ref  string
		want plumbing.Hash
	}{
		{"main", c3},
		{"HEAD", c3},
		{"HEAD~1", c2},
		{"HEAD~2", c1},
		{"HEAD^", c2},
		{"main~1", c2},
		{"feature", c2},
		{"refs/heads/feature", c2},
		{"origin/release", c1},
		{"light", c1},
		{"ann", c2},
		{"ann~1", c1},
		{"tags/ann", c2},
		{"ann^{}", c2},
		{"ann^{commit}", c2},
		{"main^{/second}", c2},
		{c1.String(), c1},
		{c2.String()[:7], c2},
		{c3.String()[:12], c3},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			if gitSays := r.hash(tt.ref + "^{commit}"); gitSays != tt.want {
				t.Fatalf("fixture: git rev-parse %s = %s, test expects %s", tt.ref, gitSays, tt.want)
			}
			got, err := repo.Resolve(tt.ref)
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.ref, err)
			}
			if got != tt.want {
				t.Errorf("Resolve(%q) = %s, want %s", tt.ref, got, tt.want)
			}
		})
	}
	// The annotated tag itself is a tag object; Resolve peels it.
	if tagObj := r.hash("refs/tags/ann"); tagObj == c2 {
		t.Fatalf("fixture: tag ann is not annotated")
	}
}

func TestResolveUnknown(t *testing.T) {
	r := newRepo(t)
	r.write("a.txt", "one\n")
	r.commit("first")
	repo, err := gitrepo.Open(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"nope", "origin/nope", "HEAD~5", "deadbeef", "0123456789012345678901234567890123456789", "", "main^{/no such message}", "a..b",
		"HEAD@{1}", "main@{upstream}", "main:a.txt", "main^{tree}", "ann^{blob}"} {
		t.Run(ref, func(t *testing.T) {
			h, err := repo.Resolve(ref)
			if !errors.Is(err, gitrepo.ErrUnknownRef) {
				t.Fatalf("Resolve(%q) = %s, %v; want ErrUnknownRef", ref, h, err)
			}
			var re *gitrepo.RefError
			if !errors.As(err, &re) || re.Ref != ref {
				t.Fatalf("Resolve(%q) error = %#v, want *RefError{Ref: %q}", ref, err, ref)
			}
			if msg := err.Error(); !strings.Contains(msg, "not found") || !strings.Contains(msg, "git fetch") {
				t.Errorf("message %q should say not found and suggest git fetch", msg)
			}
			if _, err := repo.FS(t.Context(), ref); !errors.Is(err, gitrepo.ErrUnknownRef) {
				t.Errorf("FS(%q) error = %v, want ErrUnknownRef", ref, err)
			}
		})
	}
}

func TestWorkTreeFSIsReadLinkFS(t *testing.T) {
	r := newRepo(t)
	r.write("shared/real.yaml", "x: 1\n")
	r.symlink("../shared/real.yaml", "workflows/alias.yaml")
	r.commit("links")
	repo, err := gitrepo.Open(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	wt, ok := repo.WorkTreeFS().(fs.ReadLinkFS)
	if !ok {
		t.Fatalf("WorkTreeFS() is %T, which does not implement fs.ReadLinkFS", repo.WorkTreeFS())
	}
	if target, err := wt.ReadLink("workflows/alias.yaml"); err != nil || target != "../shared/real.yaml" {
		t.Errorf("ReadLink = %q, %v; want %q", target, err, "../shared/real.yaml")
	}
}

func mustFS(t *testing.T, repo *gitrepo.Repo, ref string) fs.FS {
	t.Helper()
	fsys, err := repo.FS(t.Context(), ref)
	if err != nil {
		t.Fatalf("FS(%s): %v", ref, err)
	}
	return fsys
}
