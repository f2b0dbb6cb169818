package gitrepo

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
)

// UserEmail returns git's user.email for this repository (its own config, then the user's), or "" when unset.
func (r *Repo) UserEmail() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cfg, err := r.repo.Config(); err == nil && cfg.User.Email != "" {
		return cfg.User.Email
	}
	if cfg, err := config.LoadConfig(config.GlobalScope); err == nil {
		return cfg.User.Email
	}
	return ""
}

// DeleteTag removes refs/tags/<name>. The tag object stays until git collects garbage; only the ref made it a tag.
func (r *Repo) DeleteTag(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.repo.DeleteTag(name)
	if errors.Is(err, git.ErrTagNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete tag %s: %w", name, err)
	}
	return nil
}
