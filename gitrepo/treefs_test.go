package gitrepo_test

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-cmp/cmp"

	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/workflow"
)

// treeFixture is a repository with two commits: the first holds one workflow, the second changes it and adds links,
// an executable, a submodule and names whose git order differs from name order.
type treeFixture struct {
	r        *testRepo
	repo     *gitrepo.Repo
	old, cur plumbing.Hash
}

const (
	realYAMLTarget = "../shared/real.yaml"
	readme         = "# test repository\n"
	runScript      = "#!/bin/sh\necho run\n"
)

func newTreeFixture(t *testing.T) *treeFixture {
	t.Helper()
	r := newRepo(t)
	r.write("README.md", readme)
	r.write("workflows/etl.yaml", workflowYAML("nightly-etl", "extract-v1"))
	old := r.commit("first")

	r.write("workflows/etl.yaml", workflowYAML("nightly-etl", "extract-v2"))
	r.write("shared/real.yaml", workflowYAML("shared-flow", "shared"))
	r.symlink(realYAMLTarget, "workflows/alias.yaml")
	r.symlink("shared", "linkdir")
	r.writeMode("bin/run.sh", runScript, 0o755)
	// Git sorts the tree "docs" as "docs/", after "docs.txt"; fs.ReadDir sorts by name, "docs" first.
	r.write("docs/a.md", "a\n")
	r.write("docs.txt", "docs\n")
	// A submodule: a gitlink entry, which only the index can make without a second repository.
	r.git("add", "-A")
	r.git("update-index", "--add", "--cacheinfo", "160000,"+old.String()+",vendor/sub")
	cur := r.commitStaged("second")
	if mode := r.git("ls-tree", "HEAD", "vendor/sub"); !strings.HasPrefix(mode, "160000 commit") {
		t.Fatalf("fixture: vendor/sub is %q, want a gitlink", mode)
	}

	repo, err := gitrepo.Open(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	return &treeFixture{r: r, repo: repo, old: old, cur: cur}
}

func TestFSOldCommitAndWorkTree(t *testing.T) {
	fx := newTreeFixture(t)
	edited := workflowYAML("nightly-etl", "extract-uncommitted")
	fx.r.write("workflows/etl.yaml", edited)
	fx.r.write("workflows/untracked.yaml", workflowYAML("untracked", "new"))

	tests := []struct {
		name string
		fsys fs.FS
		want string // content of workflows/etl.yaml
		// wantPkgs is every workflow's package repository, as workflow.Load reads them.
		wantPkgs map[string]string
	}{
		{
			name: "HEAD~1", fsys: mustFS(t, fx.repo, "HEAD~1"),
			want:     workflowYAML("nightly-etl", "extract-v1"),
			wantPkgs: map[string]string{"nightly-etl": "registry.example.com/etl/extract-v1"},
		},
		{
			name: "old hash", fsys: mustFS(t, fx.repo, fx.old.String()),
			want:     workflowYAML("nightly-etl", "extract-v1"),
			wantPkgs: map[string]string{"nightly-etl": "registry.example.com/etl/extract-v1"},
		},
		{
			name: "HEAD", fsys: mustFS(t, fx.repo, "HEAD"),
			want: workflowYAML("nightly-etl", "extract-v2"),
			wantPkgs: map[string]string{
				"nightly-etl": "registry.example.com/etl/extract-v2",
				"shared-flow": "registry.example.com/etl/shared",
			},
		},
		{
			name: "work tree", fsys: fx.repo.WorkTreeFS(),
			want: edited,
			wantPkgs: map[string]string{
				"nightly-etl": "registry.example.com/etl/extract-uncommitted",
				"shared-flow": "registry.example.com/etl/shared",
				"untracked":   "registry.example.com/etl/new",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := fs.ReadFile(tt.fsys, "workflows/etl.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, string(data)); d != "" {
				t.Errorf("workflows/etl.yaml mismatch (-want +got):\n%s", d)
			}
			set, err := workflow.Load(tt.fsys, workflow.DefaultDir, workflow.Limits{})
			if err != nil {
				t.Fatalf("workflow.Load: %v", err)
			}
			got := map[string]string{}
			for _, name := range set.Names() {
				got[name] = set.Get(name).Tasks["extract"].Package.Repository()
			}
			if d := cmp.Diff(tt.wantPkgs, got); d != "" {
				t.Errorf("workflow.Load mismatch (-want +got):\n%s", d)
			}
		})
	}
}

// walkEntry is what fs.WalkDir reports for one path, with the entry's Info.
type walkEntry struct {
	Path    string
	Mode    string
	Size    int64
	ModTime time.Time
}

func TestFSWalkDir(t *testing.T) {
	fx := newTreeFixture(t)
	when := commitTime(1)
	realYAML := int64(len(workflowYAML("shared-flow", "shared")))
	etlYAML := int64(len(workflowYAML("nightly-etl", "extract-v2")))
	want := []walkEntry{
		{".", "drwxr-xr-x", 0, when},
		{"README.md", "-rw-r--r--", int64(len(readme)), when},
		{"bin", "drwxr-xr-x", 0, when},
		{"bin/run.sh", "-rwxr-xr-x", int64(len(runScript)), when},
		{"docs", "drwxr-xr-x", 0, when},
		{"docs/a.md", "-rw-r--r--", 2, when},
		{"docs.txt", "-rw-r--r--", 5, when},
		{"linkdir", "Lrwxrwxrwx", int64(len("shared")), when},
		{"shared", "drwxr-xr-x", 0, when},
		{"shared/real.yaml", "-rw-r--r--", realYAML, when},
		{"vendor", "drwxr-xr-x", 0, when},
		{"vendor/sub", "drwxr-xr-x", 0, when},
		{"workflows", "drwxr-xr-x", 0, when},
		{"workflows/alias.yaml", "Lrwxrwxrwx", int64(len(realYAMLTarget)), when},
		{"workflows/etl.yaml", "-rw-r--r--", etlYAML, when},
	}
	fsys := mustFS(t, fx.repo, "main")
	var got []walkEntry
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Type() != d.Type() {
			t.Errorf("%s: Info().Mode() = %v, Type() = %v", p, info.Mode(), d.Type())
		}
		got = append(got, walkEntry{p, info.Mode().String(), info.Size(), info.ModTime().UTC()})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("WalkDir mismatch (-want +got):\n%s", d)
	}
	info, err := fs.Stat(fsys, "workflows/etl.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.Sys(), fx.r.hash("main:workflows/etl.yaml"); got != want {
		t.Errorf("Sys() = %v, want blob hash %s", got, want)
	}
}

func TestFSConformance(t *testing.T) {
	fx := newTreeFixture(t)
	for _, ref := range []string{"main", "HEAD~1"} {
		t.Run(ref, func(t *testing.T) {
			expected := []string{"README.md", "workflows/etl.yaml"}
			if ref == "main" {
				expected = append(expected, "workflows/alias.yaml", "bin/run.sh", "docs/a.md", "docs.txt",
					"shared/real.yaml", "linkdir", "vendor/sub")
			}
			if err := fstest.TestFS(mustFS(t, fx.repo, ref), expected...); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestFSSymlinks(t *testing.T) {
	fx := newTreeFixture(t)
	fsys := mustFS(t, fx.repo, "main")
	realYAML := workflowYAML("shared-flow", "shared")

	t.Run("read through links", func(t *testing.T) {
		for _, name := range []string{"workflows/alias.yaml", "linkdir/real.yaml"} {
			data, err := fs.ReadFile(fsys, name)
			if err != nil {
				t.Fatalf("ReadFile(%s): %v", name, err)
			}
			if d := cmp.Diff(realYAML, string(data)); d != "" {
				t.Errorf("ReadFile(%s) mismatch (-want +got):\n%s", name, d)
			}
		}
	})

	tests := []struct {
		name      string
		stat      func(fs.FS, string) (fs.FileInfo, error)
		path      string
		wantMode  fs.FileMode
		wantSize  int64
		wantIsDir bool
	}{
		{"Stat follows file link", fs.Stat, "workflows/alias.yaml", 0o644, int64(len(realYAML)), false},
		{"Lstat describes file link", fs.Lstat, "workflows/alias.yaml", fs.ModeSymlink | 0o777, int64(len(realYAMLTarget)), false},
		{"Stat follows dir link", fs.Stat, "linkdir", fs.ModeDir | 0o755, 0, true},
		{"Lstat describes dir link", fs.Lstat, "linkdir", fs.ModeSymlink | 0o777, int64(len("shared")), false},
		{"Lstat follows links before the last element", fs.Lstat, "linkdir/real.yaml", 0o644, int64(len(realYAML)), false},
		{"submodule is a directory", fs.Stat, "vendor/sub", fs.ModeDir | 0o755, 0, true},
		{"executable", fs.Stat, "bin/run.sh", 0o755, int64(len(runScript)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := tt.stat(fsys, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode() != tt.wantMode || info.Size() != tt.wantSize || info.IsDir() != tt.wantIsDir {
				t.Errorf("%s: mode %v size %d dir %v; want mode %v size %d dir %v", tt.path,
					info.Mode(), info.Size(), info.IsDir(), tt.wantMode, tt.wantSize, tt.wantIsDir)
			}
			if info.Name() != filepath.Base(tt.path) {
				t.Errorf("Name() = %q, want %q", info.Name(), filepath.Base(tt.path))
			}
		})
	}

	t.Run("ReadLink", func(t *testing.T) {
		for name, want := range map[string]string{"workflows/alias.yaml": realYAMLTarget, "linkdir": "shared"} {
			got, err := fs.ReadLink(fsys, name)
			if err != nil || got != want {
				t.Errorf("ReadLink(%s) = %q, %v; want %q", name, got, err, want)
			}
		}
		if _, err := fs.ReadLink(fsys, "README.md"); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("ReadLink(regular file) error = %v, want fs.ErrInvalid", err)
		}
	})

	t.Run("ReadDir", func(t *testing.T) {
		for name, want := range map[string][]string{
			".":          {"README.md", "bin", "docs", "docs.txt", "linkdir", "shared", "vendor", "workflows"},
			"linkdir":    {"real.yaml"},
			"vendor/sub": {},
		} {
			es, err := fs.ReadDir(fsys, name)
			if err != nil {
				t.Fatalf("ReadDir(%s): %v", name, err)
			}
			got := []string{}
			for _, e := range es {
				got = append(got, e.Name())
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("ReadDir(%s) mismatch (-want +got):\n%s", name, d)
			}
		}
		if _, err := fs.ReadDir(fsys, "README.md"); err == nil {
			t.Errorf("ReadDir(regular file) succeeded")
		}
	})

	t.Run("errors", func(t *testing.T) {
		for name, want := range map[string]error{
			"missing.yaml":           fs.ErrNotExist,
			"workflows/missing.yaml": fs.ErrNotExist,
			"vendor/sub/file":        fs.ErrNotExist,
			"README.md/x":            nil, // not a directory: any error
			"../outside":             fs.ErrInvalid,
			"/etc/passwd":            fs.ErrInvalid,
			"workflows/":             fs.ErrInvalid,
		} {
			_, err := fsys.Open(name)
			if err == nil || (want != nil && !errors.Is(err, want)) {
				t.Errorf("Open(%q) error = %v, want %v", name, err, want)
			}
		}
	})

	t.Run("workflow.Load follows links inside the tree", func(t *testing.T) {
		set, err := workflow.Load(fsys, workflow.DefaultDir, workflow.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]string{"nightly-etl", "shared-flow"}, set.Names()); d != "" {
			t.Errorf("Names() mismatch (-want +got):\n%s", d)
		}
	})
}

func TestFSSymlinkOutsideRepository(t *testing.T) {
	r := newRepo(t)
	// A real file outside the repository, so a link that escapes would find something to read.
	outside := filepath.Join(filepath.Dir(r.dir), "outside.yaml")
	if err := os.WriteFile(outside, []byte(workflowYAML("stolen", "x")), 0o644); err != nil {
		t.Fatal(err)
	}
	r.symlink("../../outside.yaml", "relative/x.yaml")
	r.symlink("/etc/passwd", "absolute/x.yaml")
	r.symlink("../..", "updir/up")
	r.symlink("up/outside.yaml", "updir/x.yaml")
	r.symlink("b.yaml", "loop/a.yaml")
	r.symlink("a.yaml", "loop/b.yaml")
	r.commit("escaping links")
	repo, err := gitrepo.Open(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []struct {
		name string
		fsys fs.FS
	}{
		{"committed tree", mustFS(t, repo, "HEAD")},
		{"work tree", repo.WorkTreeFS()},
	} {
		for _, dir := range []string{"relative", "absolute", "updir", "loop"} {
			t.Run(src.name+"/"+dir, func(t *testing.T) {
				set, err := workflow.Load(src.fsys, dir, workflow.Limits{})
				if !errors.Is(err, workflow.ErrOutsideRoot) {
					t.Fatalf("workflow.Load(%s) = %v, %v; want workflow.ErrOutsideRoot", dir, set, err)
				}
			})
		}
	}
	t.Run("committed tree refuses to follow", func(t *testing.T) {
		fsys := mustFS(t, repo, "HEAD")
		for _, name := range []string{"relative/x.yaml", "absolute/x.yaml", "updir/x.yaml"} {
			_, err := fs.ReadFile(fsys, name)
			if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "outside the tree") {
				t.Errorf("ReadFile(%s) error = %v, want fs.ErrNotExist saying outside the tree", name, err)
			}
		}
		if _, err := fs.ReadFile(fsys, "loop/a.yaml"); err == nil || !strings.Contains(err.Error(), "too many levels") {
			t.Errorf("ReadFile(loop) error = %v, want too many levels of symbolic links", err)
		}
		if target, err := fs.ReadLink(fsys, "absolute/x.yaml"); err != nil || target != "/etc/passwd" {
			t.Errorf("ReadLink(absolute/x.yaml) = %q, %v; want /etc/passwd", target, err)
		}
	})
}

func TestFSLargeBlobSize(t *testing.T) {
	r := newRepo(t)
	const size = 1<<20 + 1
	r.write("workflows/big.yaml", strings.Repeat("#", size))
	r.commit("big file")
	repo, err := gitrepo.Open(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	blob := r.hash("HEAD:workflows/big.yaml")
	loose := filepath.Join(r.dir, ".git", "objects", blob.String()[:2], blob.String()[2:])

	check := func(t *testing.T) {
		t.Helper()
		fsys := mustFS(t, repo, "HEAD")
		info, err := fs.Stat(fsys, "workflows/big.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() != size {
			t.Errorf("Size() = %d, want %d", info.Size(), size)
		}
		_, err = workflow.Load(fsys, workflow.DefaultDir, workflow.Limits{MaxFileSize: 1 << 20})
		if !errors.Is(err, workflow.ErrTooLarge) {
			t.Errorf("workflow.Load error = %v, want ErrTooLarge", err)
		}
	}
	t.Run("loose object", func(t *testing.T) {
		if _, err := os.Stat(loose); err != nil {
			t.Fatalf("fixture: blob is not loose: %v", err)
		}
		check(t)
	})
	t.Run("packed object", func(t *testing.T) {
		r.git("repack", "-q", "-a", "-d")
		r.git("prune-packed")
		if _, err := os.Stat(loose); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("fixture: blob is still loose after repack: %v", err)
		}
		// A fresh Repo: the first one has indexed the packs that existed when it first looked.
		var err error
		repo, err = gitrepo.Open(r.dir)
		if err != nil {
			t.Fatal(err)
		}
		check(t)
	})
}

// TestFSStatDoesNotReadBlob proves that Stat takes a blob's size from its object header alone: the object's
// header claims 5 GB while its content is one byte, and the size reported is the header's.
func TestFSStatDoesNotReadBlob(t *testing.T) {
	r := newRepo(t)
	r.write("workflows/huge.yaml", "x")
	r.commit("huge file")
	blob := r.hash("HEAD:workflows/huge.yaml")
	const claimed = 5_000_000_000
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	fmt.Fprintf(zw, "blob %d\x00x", claimed)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(r.dir, ".git", "objects", blob.String()[:2], blob.String()[2:])
	if err := os.Remove(obj); err != nil {
		t.Fatalf("fixture: blob is not loose: %v", err)
	}
	if err := os.WriteFile(obj, buf.Bytes(), 0o444); err != nil {
		t.Fatal(err)
	}

	repo, err := gitrepo.Open(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	fsys := mustFS(t, repo, "HEAD")
	info, err := fs.Stat(fsys, "workflows/huge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() != claimed {
		t.Errorf("Size() = %d, want %d", info.Size(), claimed)
	}
	f, err := fsys.Open("workflows/huge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := f.Stat(); err != nil || st.Size() != claimed {
		t.Errorf("File.Stat() = %v, %v; want size %d", st, err, claimed)
	}
	f.Close()
	_, err = workflow.Load(fsys, workflow.DefaultDir, workflow.Limits{})
	if !errors.Is(err, workflow.ErrTooLarge) {
		t.Errorf("workflow.Load error = %v, want ErrTooLarge", err)
	}
}

func TestFSConcurrentReads(t *testing.T) {
	fx := newTreeFixture(t)
	fsys := mustFS(t, fx.repo, "main")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			_, err := workflow.Load(fsys, workflow.DefaultDir, workflow.Limits{})
			if err == nil {
				_, err = fx.repo.Resolve("HEAD~1")
			}
			if err == nil {
				_, err = fx.repo.PromotionTags(t.Context(), "")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
