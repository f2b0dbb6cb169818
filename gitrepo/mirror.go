package gitrepo

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// mirrorObjectCache is the size of a mirror's cache of decoded objects: the workflow files of the commits being
// verified, read again for every tag promoted from them.
const mirrorObjectCache = 256 * cache.MiByte

// mirrorOpenPacks bounds the pack files a mirror keeps open; each incremental fetch adds one.
const mirrorOpenPacks = 64

// OpenMirror opens the bare repository at dir, exactly there (Open would also search the parent directories),
// for the exclusive use of this process: go-git then keeps its lists of objects and packs in memory instead of
// asking the file system on every object read, keeps pack files open, and caches more decoded objects. Reading
// many objects, as a reconciler verifying thousands of tags does, gets several times faster.
//
// While the Repo is open nothing else may write to the repository (another process, git gc); writes through the
// Repo itself (Fetch, tags, notes) keep the lists right.
func OpenMirror(dir string) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open mirror %s: %w", dir, err)
	}
	if !isGitDir(abs) {
		return nil, &NotRepositoryError{Path: abs}
	}
	st := filesystem.NewStorageWithOptions(osfs.New(abs), cache.NewObjectLRU(mirrorObjectCache),
		filesystem.Options{ExclusiveAccess: true, MaxOpenDescriptors: mirrorOpenPacks})
	r, err := git.Open(st, nil)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, &NotRepositoryError{Path: abs}
	}
	if err != nil {
		return nil, fmt.Errorf("open mirror %s: %w", abs, err)
	}
	return &Repo{repo: r}, nil
}
