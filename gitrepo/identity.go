package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"
)

// ErrShallow is wrapped by the error Identity returns when the history it walks is cut short by a shallow clone:
// the root commit, and so the identity, is not in the repository.
var ErrShallow = errors.New("history is shallow")

// maxRoots bounds Identity's memo; it starts over when full.
const maxRoots = 1024

// Identity returns the repository identity promotion records carry, "git:" + the hex hash of the root commit of
// HEAD's history: the parentless commit a first-parent walk from HEAD ends at. Every clone of a repository, bare
// or not, has the same identity, and so do its forks; two unrelated repositories have different ones. It changes
// only if HEAD's first-parent line is rewritten down to its root (a history rewrite, or a branch whose first
// parent comes from another repository's history becoming HEAD). A history merged in as a second parent does not
// change it.
//
// A shallow clone gives an error wrapping ErrShallow; a repository without commits a *RefError for HEAD.
func (r *Repo) Identity(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	head, err := r.resolve("HEAD")
	if err != nil {
		return "", err
	}
	return r.identityOf(ctx, head)
}

// IdentityOf is Identity for the history of commit instead of HEAD's; a verifier holding only a tagged commit
// (a repository fetched by tags) can compute it.
func (r *Repo) IdentityOf(ctx context.Context, commit plumbing.Hash) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.identityOf(ctx, commit)
}

func (r *Repo) identityOf(ctx context.Context, start plumbing.Hash) (string, error) {
	if root, ok := r.roots[start]; ok {
		return "git:" + root.String(), nil
	}
	shallow, err := r.repo.Storer.Shallow()
	if err != nil {
		return "", fmt.Errorf("repository identity: %w", err)
	}
	h := start
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return "", err
			}
		}
		if slices.Contains(shallow, h) {
			return "", fmt.Errorf("repository identity: commit %s is the edge of a shallow clone; fetch the whole "+
				"history (git fetch --unshallow): %w", h, ErrShallow)
		}
		c, err := r.repo.CommitObject(h)
		if err != nil {
			return "", fmt.Errorf("repository identity: commit %s: %w", h, err)
		}
		if len(c.ParentHashes) == 0 {
			break
		}
		h = c.ParentHashes[0]
	}
	if r.roots == nil || len(r.roots) >= maxRoots {
		r.roots = make(map[plumbing.Hash]plumbing.Hash)
	}
	// The root of a commit never changes: remember it, so a reconciler asking every cycle walks once.
	r.roots[start] = h
	return "git:" + h.String(), nil
}
