package api

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/promote"
	"github.com/maestro-conductor/maestro/workflow"
)

// GitPromoterOptions configure a GitPromoter.
type GitPromoterOptions struct {
	// Dir is the promoter's own bare clone of the remote, made on the first promotion and fetched before each.
	// It must not be the reconciler's mirror: a promotion that fails after its tag was made leaves the tag here.
	Dir string
	// Remote is fetched before each promotion; Push receives the tag and its note ("" means Remote). Auth
	// authenticates to both.
	Remote, Push string
	Auth         transport.AuthMethod
	// Key signs the tag and the attestation; Promoter is recorded as who promoted.
	Key      *ecdsa.PrivateKey
	Promoter string
	// Log records the attestation; Index is the first-seen index of promotions (the region store, the same
	// index the reconciler checks against).
	Log   promote.Log
	Index promote.Index
	// WorkflowsDir is the workflows directory in the repository; "" means workflow.DefaultDir.
	WorkflowsDir string
	Limits       workflow.Limits
	Logger       *slog.Logger
}

// GitPromoter promotes through the library `maestro promote` uses, in a clone of its own: it fetches the remote,
// promotes at the ref, and pushes the signed tag and its attestation note. Promotions run one at a time.
type GitPromoter struct {
	opts GitPromoterOptions
	log  *slog.Logger
	mu   sync.Mutex
	repo *gitrepo.Repo
}

var _ Promoter = (*GitPromoter)(nil)

// NewGitPromoter checks the options; nothing is cloned until the first promotion.
func NewGitPromoter(opts GitPromoterOptions) (*GitPromoter, error) {
	switch {
	case opts.Dir == "" || opts.Remote == "":
		return nil, errors.New("git promoter: a clone directory and a remote are required")
	case opts.Key == nil || opts.Log == nil || opts.Index == nil:
		return nil, errors.New("git promoter: a key, a log and an index are required")
	}
	if opts.Push == "" {
		opts.Push = opts.Remote
	}
	if opts.WorkflowsDir == "" {
		opts.WorkflowsDir = workflow.DefaultDir
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	// A bare word is a remote name to go-git, and the clone has no named remotes: make a local path absolute.
	for _, p := range []*string{&opts.Remote, &opts.Push} {
		if st, err := os.Stat(*p); err == nil && st.IsDir() {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
		}
	}
	return &GitPromoter{opts: opts, log: log}, nil
}

// fetchRefSpecs bring the branches (forced: the remote's history is what is promoted) and what promotion checks:
// the existing promotion tags and the notes.
func fetchRefSpecs() []string {
	return append([]string{"+refs/heads/*:refs/heads/*"}, gitrepo.PromotionRefSpecs()...)
}

// sync clones the remote or fetches it into the clone.
func (p *GitPromoter) sync(ctx context.Context) (*gitrepo.Repo, error) {
	if p.repo == nil {
		if _, err := os.Stat(filepath.Join(p.opts.Dir, "HEAD")); err == nil {
			r, err := gitrepo.Open(p.opts.Dir)
			if err != nil {
				return nil, err
			}
			p.repo = r
		} else {
			r, err := gitrepo.Clone(ctx, p.opts.Dir, p.opts.Remote, fetchRefSpecs(), p.opts.Auth)
			if err != nil {
				return nil, authError(err)
			}
			p.repo = r
			return r, nil
		}
	}
	err := p.repo.Fetch(ctx, p.opts.Remote, fetchRefSpecs(), p.opts.Auth)
	var rej *gitrepo.RejectedError
	if errors.As(err, &rej) {
		// A tag that moved on the remote stays as it was here; promote refuses around it as it should.
		p.log.WarnContext(ctx, "promotion clone: refs not updated from the remote", "error", err)
		err = nil
	}
	return p.repo, authError(err)
}

// Promote promotes version of name at ref ("" means the remote's default branch) and pushes the tag.
func (p *GitPromoter) Promote(ctx context.Context, name, version, ref string, freeze bool) (*promote.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	repo, err := p.sync(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", p.opts.Remote, err)
	}
	if ref == "" {
		ref = "HEAD"
	}
	commit, err := repo.Resolve(ref)
	if err != nil {
		return nil, err
	}
	fsys, err := repo.FS(ctx, commit.String())
	if err != nil {
		return nil, err
	}
	set, err := workflow.Load(fsys, p.opts.WorkflowsDir, p.opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("workflows at %s: %w", ref, err)
	}
	if set.Get(name) == nil {
		return nil, fmt.Errorf("%w: %s at %s has no workflow %q", ErrWorkflowNotFound, p.opts.WorkflowsDir, ref, name)
	}
	res, err := promote.Promote(ctx, repo, promote.Options{Workflow: name, Version: version, Ref: commit.String(),
		Freeze: freeze, Key: p.opts.Key, Promoter: p.opts.Promoter, Dir: p.opts.WorkflowsDir, Limits: p.opts.Limits,
		Log: p.opts.Log, Index: p.opts.Index, Push: p.opts.Push, PushAuth: p.opts.Auth, Logger: p.log})
	if err != nil && res != nil && !res.Pushed {
		// The tag is made and attested, and the version claimed in the first-seen index, but the remote does
		// not have it: say so, so that someone pushes it (or promotes a new version).
		return nil, fmt.Errorf("%s was made and attested (log index %d) but not pushed: %w", res.Tag, res.LogIndex, authError(err))
	}
	return res, err
}

// authError marks go-git's authentication failures as ErrPushDenied.
func authError(err error) error {
	if errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed) {
		return fmt.Errorf("%w: %w", ErrPushDenied, err)
	}
	return err
}
