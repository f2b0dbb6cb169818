package gitrepo_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/internal/gittest"
)

// TestClone clones a bare remote with branches and tags into a new bare repository over file:// and git daemon,
// with HEAD where the remote's points; a failed clone leaves nothing behind, and a non-empty directory is refused.
func TestClone(t *testing.T) {
	for _, transport := range []string{"file", "git-daemon"} {
		t.Run(transport, func(t *testing.T) {
			ctx := context.Background()
			r := newRepo(t)
			r.write("workflows/etl.yaml", "x: 1\n")
			first := r.commit("one")
			r.git("tag", "-a", "-m", "promote", "etl/v1.0.0")
			r.git("checkout", "-q", "-b", "dev")
			r.write("workflows/etl.yaml", "x: 2\n")
			r.commit("two")
			r.git("checkout", "-q", "main")
			bare := bareRepo(t, "remote.git")
			r.git("push", "-q", "file://"+bare, "main", "dev", "refs/tags/etl/v1.0.0")
			url := "file://" + bare
			if transport == "git-daemon" {
				url, _ = gittest.Daemon(t, filepath.Dir(bare), gittest.DaemonOptions{ReceivePack: true})
				url += "/remote.git"
			}
			specs := append([]string{"+refs/heads/*:refs/heads/*"}, gitrepo.PromotionRefSpecs()...)

			dir := filepath.Join(t.TempDir(), "data", "mirror")
			m, err := gitrepo.Clone(ctx, dir, url, specs, nil)
			if err != nil {
				t.Fatalf("Clone: %v", err)
			}
			if !m.Bare() {
				t.Error("the clone is not bare")
			}
			if h, err := m.Resolve("HEAD"); err != nil || h != first {
				t.Errorf("HEAD = %s, %v; want main's %s", h, err, first)
			}
			tags, err := m.PromotionTags(ctx, "")
			if err != nil || len(tags) != 1 || tags[0].Commit != first {
				t.Errorf("PromotionTags = %+v, %v", tags, err)
			}
			if got := gitIn(t, dir, "rev-parse", "dev"); got != r.hash("dev").String() {
				t.Errorf("dev = %s", got)
			}
			if _, err := gitrepo.Clone(ctx, dir, url, specs, nil); !errors.Is(err, gitrepo.ErrExists) {
				t.Errorf("Clone into the clone = %v, want ErrExists", err)
			}

			// The remote gone: an error, and nothing left behind.
			parent := t.TempDir()
			if _, err := gitrepo.Clone(ctx, filepath.Join(parent, "mirror"), "file://"+filepath.Join(parent, "none.git"), specs, nil); err == nil {
				t.Fatal("Clone of a missing remote: no error")
			}
			if ents, _ := os.ReadDir(parent); len(ents) != 0 {
				t.Errorf("a failed clone left %v behind", ents)
			}
		})
	}
}
