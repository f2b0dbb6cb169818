package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// ErrExists is returned by Clone for a directory that exists and is not empty.
var ErrExists = errors.New("directory exists and is not empty")

// Clone makes dir a bare copy of remote (a URL or a path, as for Fetch) holding the refs refspecs fetch, e.g.
// PromotionRefSpecs() plus the branches, and points its HEAD where the remote's HEAD points when the remote says.
// Later updates are incremental: Open(dir) and Fetch with the same refspecs.
//
// The copy is made in a temporary directory beside dir and renamed into place only once the fetch succeeded, so a
// clone that fails (the remote unreachable, ctx done) leaves nothing behind and can simply be retried. dir may
// exist if it is empty. A *RejectedError from the fetch cannot happen into an empty repository.
func Clone(ctx context.Context, dir, remote string, refspecs []string, auth transport.AuthMethod) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("clone %s: %w", remote, err)
	}
	if ents, err := os.ReadDir(abs); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("clone %s into %s: %w", remote, abs, ErrExists)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("clone %s: %w", remote, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".clone-")
	if err != nil {
		return nil, fmt.Errorf("clone %s: %w", remote, err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if _, err := git.PlainInit(tmp, true); err != nil {
		return nil, fmt.Errorf("clone %s: init %s: %w", remote, tmp, err)
	}
	r, err := Open(tmp)
	if err != nil {
		return nil, fmt.Errorf("clone %s: %w", remote, err)
	}
	head, err := r.remoteHead(ctx, remote, auth)
	if err != nil {
		return nil, fmt.Errorf("clone %s: %w", remote, err)
	}
	if err := r.Fetch(ctx, remote, refspecs, auth); err != nil {
		return nil, fmt.Errorf("clone: %w", err)
	}
	if head != "" {
		if err := r.repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, head)); err != nil {
			return nil, fmt.Errorf("clone %s: set HEAD: %w", remote, err)
		}
	}
	// rename(2) replaces an empty directory, and fails on a non-empty one that appeared meanwhile.
	if err := os.Rename(tmp, abs); err != nil {
		return nil, fmt.Errorf("clone %s into %s: %w", remote, abs, err)
	}
	done = true
	return Open(abs)
}

// remoteHead returns the branch the remote's HEAD names, or "" when the remote does not say (an empty remote, a
// detached HEAD, a server that does not advertise symbolic refs).
func (r *Repo) remoteHead(ctx context.Context, remote string, auth transport.AuthMethod) (plumbing.ReferenceName, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rem, err := r.remote(remote)
	if err != nil {
		return "", err
	}
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth, PeelingOption: git.IgnorePeeled})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for _, ref := range refs {
		if ref.Name() == plumbing.HEAD && ref.Type() == plumbing.SymbolicReference && ref.Target().IsBranch() {
			return ref.Target(), nil
		}
	}
	return "", nil
}
