package gitrepo_test

import (
	"context"
	"errors"
	"testing"

	"github.com/maestro-conductor/maestro/gitrepo"
)

// TestOpenMirror: a mirror opened for exclusive access sees what its own fetches bring (its cached lists of
// objects and packs follow its writes), and refuses a directory that is not a git directory itself.
func TestOpenMirror(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	r.write("workflows/etl.yaml", "x: 1\n")
	first := r.commit("one")
	r.git("tag", "-a", "-m", "promote", "etl/v1.0.0")
	bare := bareRepo(t, "remote.git")
	r.git("push", "-q", "file://"+bare, "main", "refs/tags/etl/v1.0.0")
	specs := append([]string{"+refs/heads/*:refs/heads/*"}, gitrepo.PromotionRefSpecs()...)
	dir := t.TempDir() + "/mirror"
	if _, err := gitrepo.Clone(ctx, dir, "file://"+bare, specs, nil); err != nil {
		t.Fatal(err)
	}
	m, err := gitrepo.OpenMirror(dir)
	if err != nil {
		t.Fatalf("OpenMirror: %v", err)
	}
	if tags, err := m.PromotionTags(ctx, ""); err != nil || len(tags) != 1 || tags[0].Commit != first {
		t.Fatalf("PromotionTags = %+v, %v", tags, err)
	}

	r.write("workflows/etl.yaml", "x: 2\n")
	second := r.commit("two")
	r.git("tag", "-a", "-m", "promote", "etl/v1.1.0")
	r.git("push", "-q", "file://"+bare, "main", "refs/tags/etl/v1.1.0")
	if err := m.Fetch(ctx, "file://"+bare, specs, nil); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	tags, err := m.PromotionTags(ctx, "")
	if err != nil || len(tags) != 2 || tags[1].Commit != second {
		t.Fatalf("PromotionTags after the fetch = %+v, %v", tags, err)
	}
	fsys, err := m.FS(ctx, "etl/v1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Open("workflows/etl.yaml"); err != nil {
		t.Errorf("the fetched commit's file: %v", err)
	}

	if _, err := gitrepo.OpenMirror(t.TempDir()); !errors.Is(err, gitrepo.ErrNotRepository) {
		t.Errorf("OpenMirror of an empty directory = %v, want ErrNotRepository", err)
	}
	if _, err := gitrepo.OpenMirror(r.dir + "/workflows"); !errors.Is(err, gitrepo.ErrNotRepository) {
		t.Errorf("OpenMirror inside a work tree = %v, want ErrNotRepository", err)
	}
}
