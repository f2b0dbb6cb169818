package gittest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maestro-conductor/maestro/internal/gittest"
)

// TestDaemon serves a bare repository: with ReceivePack a clone pushes to it and another clone sees the commit;
// without it the push is refused; after stop nothing is served.
func TestDaemon(t *testing.T) {
	base := t.TempDir()
	gittest.Run(t, base, "init", "-q", "--bare", "-b", "main", "remote.git")
	url, stop := gittest.Daemon(t, base, gittest.DaemonOptions{ReceivePack: true})
	if !strings.HasPrefix(url, "git://127.0.0.1:") {
		t.Fatalf("url = %q, want git://127.0.0.1:PORT", url)
	}
	remote := url + "/remote.git"

	work := filepath.Join(base, "work")
	gittest.Run(t, base, "clone", "-q", remote, work)
	if err := os.WriteFile(filepath.Join(work, "f"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Run(t, work, "add", "f")
	gittest.Run(t, work, "commit", "-q", "-m", "first")
	gittest.Run(t, work, "push", "-q", "origin", "main")
	head := gittest.Run(t, work, "rev-parse", "HEAD")
	if got := gittest.Run(t, base, "ls-remote", remote, "refs/heads/main"); !strings.HasPrefix(got, head) {
		t.Errorf("ls-remote after the push = %q, want %s", got, head)
	}
	if got := gittest.Run(t, work, "log", "-1", "--format=%an <%ae>"); got != gittest.Name+" <"+gittest.Email+">" {
		t.Errorf("author = %q", got)
	}

	readOnly, _ := gittest.Daemon(t, base, gittest.DaemonOptions{})
	gittest.Run(t, work, "commit", "-q", "--allow-empty", "-m", "second")
	if _, err := gittest.Try(work, "push", "-q", readOnly+"/remote.git", "main"); err == nil {
		t.Error("a push to a daemon without receive-pack succeeded")
	}

	stop()
	if _, err := gittest.Try(base, "ls-remote", remote); err == nil {
		t.Error("ls-remote after stop succeeded")
	}
}
