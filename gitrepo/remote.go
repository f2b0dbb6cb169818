package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// ErrRejected is wrapped by every *RejectedError.
var ErrRejected = errors.New("ref update rejected")

// ErrUnknownRemote is wrapped by the error Push and Fetch return for a remote that is neither a configured remote
// name nor a URL.
var ErrUnknownRemote = errors.New("unknown remote")

// RejectedError reports refs that Push or Fetch refused to update, because that would have replaced an existing
// tag or moved a ref to a commit that does not descend from where it was (not a fast-forward). Updating them
// needs a person: fetch and look, or, knowingly, a forced refspec ("+src:dst").
type RejectedError struct {
	// Op is "push" or "fetch".
	Op string
	// Remote is the remote as given.
	Remote string
	// Refs are the refused updates, in refspec order.
	Refs []RejectedRef
}

// RejectedRef is one refused ref update.
type RejectedRef struct {
	// Ref is the ref that would have been updated: on the remote for a push, locally for a fetch.
	Ref string
	// Reason is why, in git's words where git has some: "already exists", "would clobber existing tag",
	// "non-fast-forward", "fetch first", or what the server said.
	Reason string
}

// Error lists the refused refs and why.
func (e *RejectedError) Error() string {
	parts := make([]string, len(e.Refs))
	for i, r := range e.Refs {
		parts[i] = r.Ref + " (" + r.Reason + ")"
	}
	return fmt.Sprintf("%s %s: rejected %s", e.Op, e.Remote, strings.Join(parts, ", "))
}

// Is reports whether target is ErrRejected.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }

// anonymousRemote names the unconfigured remote made for a URL.
const anonymousRemote = "maestro-url"

// remote returns the configured remote called name or, when there is none, a remote for name as a URL or path.
func (r *Repo) remote(name string) (*git.Remote, error) {
	rem, err := r.repo.Remote(name)
	if err == nil {
		return rem, nil
	}
	if !errors.Is(err, git.ErrRemoteNotFound) {
		return nil, err
	}
	if !looksLikeURL(name) {
		return nil, fmt.Errorf("%q is not a configured remote, nor a URL or path: %w", name, ErrUnknownRemote)
	}
	if _, err := transport.NewEndpoint(name); err != nil {
		return nil, fmt.Errorf("remote %q: %w", name, err)
	}
	return git.NewRemote(r.repo.Storer, &config.RemoteConfig{Name: anonymousRemote, URLs: []string{name}}), nil
}

// looksLikeURL tells a URL, an scp-like address (user@host:path) or a path from a bare word such as "origin",
// which can only be a remote name.
func looksLikeURL(s string) bool {
	return strings.Contains(s, "://") || strings.ContainsAny(s, "/:\\") || s == "." || s == ".."
}

// refUpdate is one ref a refspec updates.
type refUpdate struct {
	src, dst plumbing.ReferenceName
	hash     plumbing.Hash // the source's value: the new value of dst
	force    bool
}

func (u refUpdate) spec() config.RefSpec {
	s := string(u.src) + ":" + string(u.dst)
	if u.force {
		s = "+" + s
	}
	return config.RefSpec(s)
}

// parseRefSpecs validates refspecs; a deletion (":dst") is refused, since neither promotion nor its verification
// deletes anything remotely.
func parseRefSpecs(refspecs []string) ([]config.RefSpec, error) {
	if len(refspecs) == 0 {
		return nil, errors.New("no refspecs")
	}
	out := make([]config.RefSpec, len(refspecs))
	for i, s := range refspecs {
		rs := config.RefSpec(s)
		if err := rs.Validate(); err != nil {
			return nil, fmt.Errorf("refspec %q: %w", s, err)
		}
		if rs.IsDelete() {
			return nil, fmt.Errorf("refspec %q deletes a ref, which is not supported", s)
		}
		out[i] = rs
	}
	return out, nil
}

// listRemote returns the remote's refs by name, without peeled entries or symbolic refs. An empty remote has none.
func listRemote(ctx context.Context, rem *git.Remote, auth transport.AuthMethod) (map[plumbing.ReferenceName]plumbing.Hash, error) {
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth, PeelingOption: git.IgnorePeeled})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return map[plumbing.ReferenceName]plumbing.Hash{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := make(map[plumbing.ReferenceName]plumbing.Hash, len(refs))
	for _, ref := range refs {
		if ref.Type() == plumbing.HashReference && !strings.HasSuffix(ref.Name().String(), "^{}") {
			out[ref.Name()] = ref.Hash()
		}
	}
	return out, nil
}

// Push updates refs on remote (a configured remote's name, a URL such as file:///srv/repo.git,
// git://host/repo.git, https://... or ssh://..., or a path) from local refs, e.g.
// "refs/tags/etl/v1.2.0:refs/tags/etl/v1.2.0" and "refs/notes/maestro:refs/notes/maestro", sending the objects
// they need. A remote that already has every ref at the pushed value is not an error.
//
// Before sending anything Push compares with the remote's refs, as git push does: an existing tag is never
// replaced, and any other ref only fast-forwarded, unless its refspec is forced ("+src:dst"). If any ref would be
// refused, nothing is pushed and the error is a *RejectedError naming every such ref; the push itself asks the
// server for an atomic update where it supports it, so the tag and its note arrive together or not at all. A
// rejection by the server (a ref that moved meanwhile, a hook) is a *RejectedError too.
//
// The Repo's lock is held for the whole push, network included: bound it with ctx.
func (r *Repo) Push(ctx context.Context, remote string, refspecs []string, auth transport.AuthMethod) error {
	specs, err := parseRefSpecs(refspecs)
	if err != nil {
		return fmt.Errorf("push %s: %w", remote, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rem, err := r.remote(remote)
	if err != nil {
		return fmt.Errorf("push %s: %w", remote, err)
	}
	updates, err := r.pushUpdates(specs)
	if err != nil {
		return fmt.Errorf("push %s: %w", remote, err)
	}
	remoteRefs, err := listRemote(ctx, rem, auth)
	if err != nil {
		return fmt.Errorf("push %s: %w", remote, err)
	}
	var send []config.RefSpec
	rejected := &RejectedError{Op: "push", Remote: remote}
	for _, u := range updates {
		old, exists := remoteRefs[u.dst]
		switch {
		case exists && old == u.hash:
			continue
		case !exists || u.force:
		case u.dst.IsTag():
			rejected.Refs = append(rejected.Refs, RejectedRef{Ref: u.dst.String(), Reason: "already exists"})
			continue
		default:
			if reason := r.fastForward(old, u.hash); reason != "" {
				rejected.Refs = append(rejected.Refs, RejectedRef{Ref: u.dst.String(), Reason: reason})
				continue
			}
		}
		send = append(send, u.spec())
	}
	if len(rejected.Refs) > 0 {
		return rejected
	}
	if len(send) == 0 {
		return nil
	}
	err = rem.PushContext(ctx, &git.PushOptions{RemoteName: rem.Config().Name, RefSpecs: send, Auth: auth, Atomic: true})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case isPushRejection(err):
		return &RejectedError{Op: "push", Remote: remote, Refs: []RejectedRef{pushRejection(err)}}
	}
	return fmt.Errorf("push %s: %w", remote, err)
}

// pushUpdates expands refspecs against the local refs. A refspec without a wildcard must name an existing ref.
func (r *Repo) pushUpdates(specs []config.RefSpec) ([]refUpdate, error) {
	var out []refUpdate
	for _, rs := range specs {
		if !rs.IsWildcard() {
			src := plumbing.ReferenceName(rs.Src())
			ref, err := r.repo.Reference(src, true)
			if err != nil {
				return nil, fmt.Errorf("refspec %s: no local ref %s: %w", rs, src, ErrUnknownRef)
			}
			out = append(out, refUpdate{src: src, dst: rs.Dst(src), hash: ref.Hash(), force: rs.IsForceUpdate()})
			continue
		}
		iter, err := r.repo.References()
		if err != nil {
			return nil, err
		}
		err = iter.ForEach(func(ref *plumbing.Reference) error {
			if ref.Type() == plumbing.HashReference && rs.Match(ref.Name()) {
				out = append(out, refUpdate{src: ref.Name(), dst: rs.Dst(ref.Name()), hash: ref.Hash(), force: rs.IsForceUpdate()})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fastForward returns "" when the commit old is an ancestor of new, else why the update is not a fast-forward,
// in git's words: "fetch first" when old is not even in this repository.
func (r *Repo) fastForward(old, new plumbing.Hash) string {
	oc, err := r.repo.CommitObject(old)
	if err != nil {
		return "fetch first"
	}
	nc, err := r.repo.CommitObject(new)
	if err != nil {
		return "non-fast-forward"
	}
	ok, err := oc.IsAncestor(nc)
	if err != nil || !ok {
		return "non-fast-forward"
	}
	return ""
}

// isPushRejection tells go-git's refusals of a ref update, which have no type: its own fast-forward check (after a
// ref moved between our look and the push) and the server's "ng <ref> <reason>" reports.
func isPushRejection(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "non-fast-forward update: ") || strings.HasPrefix(msg, "command error on ")
}

func pushRejection(err error) RejectedRef {
	msg := err.Error()
	if ref, ok := strings.CutPrefix(msg, "non-fast-forward update: "); ok {
		return RejectedRef{Ref: ref, Reason: "non-fast-forward"}
	}
	rest := strings.TrimPrefix(msg, "command error on ")
	ref, reason, _ := strings.Cut(rest, ": ")
	return RejectedRef{Ref: ref, Reason: reason}
}

// PromotionRefSpecs are the refspecs that fetch what promotion verification needs: every tag and every notes ref.
// Tags bring the commits they point at.
func PromotionRefSpecs() []string {
	return []string{"refs/tags/*:refs/tags/*", "refs/notes/*:refs/notes/*"}
}

// Fetch updates local refs from remote (a configured remote's name, a URL or a path) by refspecs such as
// PromotionRefSpecs(), fetching only the objects this repository lacks; refs already up to date cost nothing but
// the ref listing. Tags are not followed implicitly: fetch them with a refspec.
//
// Unless its refspec is forced, an existing local tag is never replaced by a different one (a moved tag is what
// promotion verification exists to catch, and it must not disappear locally), and any other ref is only
// fast-forwarded. Such refs are left as they are, everything else is fetched, and the error is a *RejectedError
// naming them. A refspec without a wildcard whose source the remote lacks wraps ErrUnknownRef.
//
// The Repo's lock is held for the whole fetch, network included: bound it with ctx.
func (r *Repo) Fetch(ctx context.Context, remote string, refspecs []string, auth transport.AuthMethod) error {
	specs, err := parseRefSpecs(refspecs)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", remote, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rem, err := r.remote(remote)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", remote, err)
	}
	remoteRefs, err := listRemote(ctx, rem, auth)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", remote, err)
	}
	updates, err := fetchUpdates(specs, remoteRefs)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", remote, err)
	}
	rejected := &RejectedError{Op: "fetch", Remote: remote}
	var fetch []refUpdate
	for _, u := range updates {
		local, err := r.repo.Storer.Reference(u.dst)
		switch {
		case errors.Is(err, plumbing.ErrReferenceNotFound):
		case err != nil:
			return fmt.Errorf("fetch %s: %w", remote, err)
		case local.Type() == plumbing.HashReference && local.Hash() == u.hash:
			continue
		case u.dst.IsTag() && !u.force:
			rejected.Refs = append(rejected.Refs, RejectedRef{Ref: u.dst.String(), Reason: "would clobber existing tag"})
			continue
		}
		fetch = append(fetch, u)
	}
	if len(fetch) > 0 {
		send := make([]config.RefSpec, len(fetch))
		for i, u := range fetch {
			send[i] = u.spec()
		}
		err := rem.FetchContext(ctx, &git.FetchOptions{RemoteName: rem.Config().Name, RefSpecs: send, Auth: auth, Tags: git.NoTags})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) && !errors.Is(err, git.ErrForceNeeded) {
			return fmt.Errorf("fetch %s: %w", remote, err)
		}
		// go-git skips a ref that would not fast-forward without saying which (and, with NoTags, without returning
		// ErrForceNeeded at all): those are the refs that still differ.
		for _, u := range fetch {
			if ref, err := r.repo.Storer.Reference(u.dst); err != nil || ref.Hash() != u.hash {
				rejected.Refs = append(rejected.Refs, RejectedRef{Ref: u.dst.String(), Reason: "non-fast-forward"})
			}
		}
	}
	if len(rejected.Refs) > 0 {
		return rejected
	}
	return nil
}

// fetchUpdates expands refspecs against the remote's refs.
func fetchUpdates(specs []config.RefSpec, remoteRefs map[plumbing.ReferenceName]plumbing.Hash) ([]refUpdate, error) {
	var out []refUpdate
	for _, rs := range specs {
		if !rs.IsWildcard() {
			src := plumbing.ReferenceName(rs.Src())
			h, ok := remoteRefs[src]
			if !ok {
				return nil, fmt.Errorf("refspec %s: the remote has no ref %s: %w", rs, src, ErrUnknownRef)
			}
			out = append(out, refUpdate{src: src, dst: rs.Dst(src), hash: h, force: rs.IsForceUpdate()})
			continue
		}
		var matched []refUpdate
		for name, h := range remoteRefs {
			if rs.Match(name) {
				matched = append(matched, refUpdate{src: name, dst: rs.Dst(name), hash: h, force: rs.IsForceUpdate()})
			}
		}
		// Map order would make errors and fetches vary from run to run.
		slices.SortFunc(matched, func(a, b refUpdate) int { return strings.Compare(string(a.src), string(b.src)) })
		out = append(out, matched...)
	}
	return out, nil
}
