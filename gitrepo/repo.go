// Package gitrepo gives maestro read access to a git repository through go-git: the workflows of any revision as an
// fs.FS read straight from git objects, the work tree on disk, and the promotion tags (<workflow>/v<semver>).
//
// Nothing here shells out to git or checks anything out, so reading an old revision never touches the work tree.
package gitrepo

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// ErrNotRepository is wrapped by the error Open returns for a path that is not inside a git repository.
var ErrNotRepository = errors.New("not a git repository")

// ErrUnknownRef is wrapped by every *RefError: a revision that names no commit in the repository.
var ErrUnknownRef = errors.New("unknown ref")

// ErrNoWorkTree is returned by every operation on the work tree of a bare repository.
var ErrNoWorkTree = errors.New("repository is bare: it has no work tree")

// NotRepositoryError reports a path that is neither in a git work tree nor a git directory. It wraps
// ErrNotRepository.
type NotRepositoryError struct {
	// Path is the absolute path that was searched upwards from.
	Path string
}

// Error says which path is not in a repository and what to do about it.
func (e *NotRepositoryError) Error() string {
	return fmt.Sprintf("%s is not inside a git repository (nor is any parent directory); "+
		"run maestro inside a git repository or pass --repo", e.Path)
}

// Unwrap returns ErrNotRepository.
func (e *NotRepositoryError) Unwrap() error { return ErrNotRepository }

// RefError reports a revision that names no commit. errors.Is(err, ErrUnknownRef) holds for it.
type RefError struct {
	// Ref is the revision as given.
	Ref string
	// Err is what go-git reported, when it says more than "not found" (e.g. a malformed revision); may be nil.
	Err error
}

// Error says which ref was not found and how to make it resolvable.
func (e *RefError) Error() string {
	msg := fmt.Sprintf("ref %q not found: check the branch, tag or commit name, or run git fetch if it exists only on a remote", e.Ref)
	if e.Err != nil {
		msg += " (" + e.Err.Error() + ")"
	}
	return msg
}

// Is reports whether target is ErrUnknownRef.
func (e *RefError) Is(target error) bool { return target == ErrUnknownRef }

// Unwrap returns the underlying go-git error, if any.
func (e *RefError) Unwrap() error { return e.Err }

// Repo is an open git repository. It is safe for concurrent use, and so are the file systems it returns.
type Repo struct {
	// mu serializes access to go-git's object storage, which caches and indexes lazily without locks of its own.
	mu   sync.Mutex
	repo *git.Repository
	root string // work tree root; "" for a bare repository
	// roots memoizes Identity: the first-parent root commit of each commit asked about.
	roots map[plumbing.Hash]plumbing.Hash
}

// Open opens the git repository that contains path. Like git, it looks in path and then in each parent directory
// for a .git directory or file, or for a directory that is itself a git directory (a bare repository). Linked work
// trees (git worktree add) are supported. A path that is in no repository gives a *NotRepositoryError.
func Open(path string) (*Repo, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}
	dir, err := discover(abs)
	if err != nil {
		return nil, err
	}
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, &NotRepositoryError{Path: abs}
	}
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	out := &Repo{repo: r}
	wt, err := r.Worktree()
	switch {
	case errors.Is(err, git.ErrIsBareRepository):
	case err != nil:
		return nil, fmt.Errorf("open work tree of %s: %w", dir, err)
	default:
		out.root = wt.Filesystem.Root()
	}
	return out, nil
}

// discover returns the nearest directory, from abs upwards, that holds .git or is a git directory itself. go-git's
// own search (DetectDotGit) finds only the first kind, and walks up from a path that does not exist.
func discover(abs string) (string, error) {
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("open repository: %w", err)
	}
	dir := abs
	if !st.IsDir() {
		dir = filepath.Dir(abs)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			return dir, nil
		}
		if isGitDir(dir) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", &NotRepositoryError{Path: abs}
		}
		dir = parent
	}
}

// isGitDir reports whether dir looks like a git directory, by the test git itself makes: a HEAD file and objects
// and refs directories.
func isGitDir(dir string) bool {
	for name, wantDir := range map[string]bool{"HEAD": false, "objects": true, "refs": true} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.IsDir() != wantDir {
			return false
		}
	}
	return true
}

// Root returns the absolute path of the work tree root, or "" for a bare repository.
func (r *Repo) Root() string { return r.root }

// Bare reports whether the repository has no work tree.
func (r *Repo) Bare() bool { return r.root == "" }

// Git returns the underlying go-git repository, for what this package does not cover. Callers that use it while
// the Repo is in use by other goroutines must synchronize themselves.
func (r *Repo) Git() *git.Repository { return r.repo }

// Resolve returns the commit a revision names: a full or abbreviated commit hash, a branch, a remote-tracking branch
// (origin/main), a tag (annotated tags are peeled to their commit), HEAD, or any of these followed by ~N or ^N.
// ^{commit}, ^{} and ^{/regexp} work too. A revision that names nothing, reaches too far back in history, or uses a
// form go-git would silently ignore (@{...}, rev:path, ^{tree}) gives a *RefError.
func (r *Repo) Resolve(ref string) (plumbing.Hash, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resolve(ref)
}

func (r *Repo) resolve(ref string) (plumbing.Hash, error) {
	if err := unsupportedRevision(ref); err != nil {
		return plumbing.ZeroHash, &RefError{Ref: ref, Err: err}
	}
	h, err := r.repo.ResolveRevision(plumbing.Revision(ref))
	if err == nil {
		return *h, nil
	}
	switch {
	case errors.Is(err, plumbing.ErrReferenceNotFound), errors.Is(err, plumbing.ErrObjectNotFound):
		return plumbing.ZeroHash, &RefError{Ref: ref}
	case errors.Is(err, io.EOF):
		// HEAD~N past the first commit: the parent iterator ran out.
		return plumbing.ZeroHash, &RefError{Ref: ref, Err: errors.New("history is not that long")}
	case isRevisionMiss(err):
		return plumbing.ZeroHash, &RefError{Ref: ref, Err: err}
	}
	return plumbing.ZeroHash, fmt.Errorf("resolve %s: %w", ref, err)
}

// peelRE matches the ^{type} and ^{/regexp} suffixes of a revision.
var peelRE = regexp.MustCompile(`\^\{([^}]*)\}`)

// unsupportedRevision refuses the revision forms go-git parses and then silently ignores, which would resolve to
// some other commit: reflog and upstream suffixes (@{...}), paths (:path), and peeling to anything but a commit.
func unsupportedRevision(ref string) error {
	if strings.Contains(ref, "@{") {
		return errors.New("reflog and upstream revisions (@{...}) are not supported")
	}
	if strings.Contains(ref, ":") {
		return errors.New("a revision with a path (rev:path) names a file, not a commit")
	}
	for _, m := range peelRE.FindAllStringSubmatch(ref, -1) {
		if t := m[1]; t != "" && t != "commit" && !strings.HasPrefix(t, "/") {
			return fmt.Errorf("^{%s} does not name a commit", t)
		}
	}
	return nil
}

// isRevisionMiss reports whether err is go-git's complaint about a malformed revision, or about a ^{/regexp} that
// matches no commit message. Neither has an exported type or sentinel, so they are told by type name and text.
func isRevisionMiss(err error) bool {
	return fmt.Sprintf("%T", err) == "*revision.ErrInvalidRevision" ||
		strings.HasPrefix(err.Error(), "no commit message match regexp")
}

// WorkTreeFS returns the work tree on disk, with uncommitted and untracked changes, as an os.DirFS of Root. It
// implements fs.ReadLinkFS, so workflow.Load sees symbolic links and refuses those that lead outside the
// repository. For a bare repository every operation fails with ErrNoWorkTree.
func (r *Repo) WorkTreeFS() fs.FS {
	if r.root == "" {
		return noWorkTree{}
	}
	return os.DirFS(r.root)
}

// noWorkTree is the work tree of a bare repository.
type noWorkTree struct{}

func (noWorkTree) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: ErrNoWorkTree}
}
