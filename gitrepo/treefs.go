package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// maxLinkHops bounds how many symbolic links one lookup may go through, as the kernel's ELOOP limit does.
const maxLinkHops = 40

// maxLinkSize is the longest symbolic link target read (PATH_MAX); a longer one is not a path but a file.
const maxLinkSize = 4096

var (
	errLinkLoop = errors.New("too many levels of symbolic links")
	errLinkLong = errors.New("symbolic link target is too long")
	errIsDir    = errors.New("is a directory")
	errNotDir   = errors.New("not a directory")
	errNotLink  = fmt.Errorf("not a symbolic link: %w", fs.ErrInvalid)
)

// outsideError is a symbolic link whose target is not in the tree. It counts as fs.ErrNotExist: the file it names
// is not in this file system.
type outsideError struct{ link, target string }

func (e *outsideError) Error() string {
	return fmt.Sprintf("symbolic link %s points to %q, outside the tree", e.link, e.target)
}

func (e *outsideError) Is(target error) bool { return target == fs.ErrNotExist }

// FS returns the tree of the commit ref names (see Resolve) as a read-only file system, read straight from git
// objects without a checkout. It implements fs.StatFS, fs.ReadDirFS and fs.ReadLinkFS:
//
//   - Open, Stat and ReadDir follow symbolic links (mode 120000) while they stay inside the tree; a link that leads
//     out of it, or is absolute, fails with an error that matches fs.ErrNotExist. Lstat and ReadLink do not follow
//     the last element, so workflow.Load can judge every link itself.
//   - A file's size comes from the blob's object header: Stat never reads the blob, so a huge file can be refused
//     before it is read. Open reads the blob only on the first Read.
//   - Modes are 0644, 0755 for executables, fs.ModeSymlink|0777 for links and fs.ModeDir|0755 for directories.
//     Every entry has the commit's committer time as its ModTime, and Sys returns the entry's git object hash
//     (a plumbing.Hash).
//   - A submodule (gitlink) is an empty directory, as in a clone made without --recurse-submodules: its commit is
//     in another repository.
//
// A ref that names no commit gives a *RefError. ctx bounds the resolution only: reading the file system is local.
func (r *Repo) FS(ctx context.Context, ref string) (fs.FS, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	h, err := r.resolve(ref)
	if err != nil {
		return nil, err
	}
	c, err := r.repo.CommitObject(h)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	return &treeFS{repo: r, root: c.TreeHash, modTime: c.Committer.When, trees: make(map[plumbing.Hash]*treeIndex)}, nil
}

// treeFS is the tree of one commit. Every method holds repo.mu while it touches git objects or the tree cache.
type treeFS struct {
	repo    *Repo
	root    plumbing.Hash
	modTime time.Time
	trees   map[plumbing.Hash]*treeIndex
}

var (
	_ fs.StatFS     = (*treeFS)(nil)
	_ fs.ReadDirFS  = (*treeFS)(nil)
	_ fs.ReadLinkFS = (*treeFS)(nil)
)

// treeIndex is a decoded tree with its entries by name, so looking up a name in a large directory is not a scan.
type treeIndex struct {
	entries []object.TreeEntry
	byName  map[string]int
}

// node is a tree entry found by a lookup, named by the last element of the path it was looked up by.
type node struct {
	name string
	mode filemode.FileMode
	hash plumbing.Hash
}

func (n node) isDir() bool { return n.mode == filemode.Dir || n.mode == filemode.Submodule }

// fileMode maps a git mode to the mode the file system reports.
func fileMode(m filemode.FileMode) fs.FileMode {
	switch m {
	case filemode.Dir, filemode.Submodule:
		return fs.ModeDir | 0o755
	case filemode.Executable:
		return 0o755
	case filemode.Symlink:
		return fs.ModeSymlink | 0o777
	}
	return 0o644
}

// tree returns the decoded tree with hash h, from the cache when it was read before.
func (f *treeFS) tree(h plumbing.Hash) (*treeIndex, error) {
	if t, ok := f.trees[h]; ok {
		return t, nil
	}
	t, err := object.GetTree(f.repo.repo.Storer, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	idx := &treeIndex{entries: t.Entries, byName: make(map[string]int, len(t.Entries))}
	for i, e := range t.Entries {
		idx.byName[e.Name] = i
	}
	f.trees[h] = idx
	return idx, nil
}

// entries returns a directory's entries in git's order; a submodule has none.
func (f *treeFS) entries(dir node) ([]object.TreeEntry, error) {
	if dir.mode == filemode.Submodule {
		return nil, nil
	}
	t, err := f.tree(dir.hash)
	if err != nil {
		return nil, err
	}
	return t.entries, nil
}

func (f *treeFS) child(dir node, name string) (object.TreeEntry, bool, error) {
	if dir.mode == filemode.Submodule {
		return object.TreeEntry{}, false, nil
	}
	t, err := f.tree(dir.hash)
	if err != nil {
		return object.TreeEntry{}, false, err
	}
	i, ok := t.byName[name]
	if !ok {
		return object.TreeEntry{}, false, nil
	}
	return t.entries[i], true, nil
}

// lookup finds name in the tree, following symbolic links in every element but the last, and in the last too when
// followLast is set. Links resolve physically, as the kernel does: ".." in a link target leaves the directory the
// link led into, not the one it was named from.
func (f *treeFS) lookup(op, name string, followLast bool) (node, error) {
	if !fs.ValidPath(name) {
		return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	fail := func(err error) (node, error) { return node{}, &fs.PathError{Op: op, Path: name, Err: err} }
	stack := []node{{name: ".", mode: filemode.Dir, hash: f.root}}
	todo := strings.Split(name, "/")
	hops := 0
	var link, target string // the last link followed, for errors
	for len(todo) > 0 {
		elem := todo[0]
		todo = todo[1:]
		switch elem {
		case "", ".":
			continue
		case "..":
			// Only a link target can bring ".." here: fs.ValidPath refuses it in name.
			if len(stack) == 1 {
				return fail(&outsideError{link: link, target: target})
			}
			stack = stack[:len(stack)-1]
			continue
		}
		dir := stack[len(stack)-1]
		if !dir.isDir() {
			return fail(errNotDir)
		}
		e, ok, err := f.child(dir, elem)
		if err != nil {
			return fail(err)
		}
		if !ok {
			return fail(fs.ErrNotExist)
		}
		n := node{name: elem, mode: e.Mode, hash: e.Hash}
		if n.mode == filemode.Symlink && (len(todo) > 0 || followLast) {
			hops++
			if hops > maxLinkHops {
				return fail(errLinkLoop)
			}
			t, err := f.linkTarget(n.hash)
			if err != nil {
				return fail(err)
			}
			link, target = pathOf(stack, elem), t
			if strings.HasPrefix(target, "/") || target == "" {
				return fail(&outsideError{link: link, target: target})
			}
			todo = append(strings.Split(target, "/"), todo...)
			continue
		}
		stack = append(stack, n)
	}
	n := stack[len(stack)-1]
	n.name = path.Base(name)
	return n, nil
}

// pathOf returns the path of elem in the directory at the top of stack.
func pathOf(stack []node, elem string) string {
	parts := make([]string, 0, len(stack))
	for _, n := range stack[1:] {
		parts = append(parts, n.name)
	}
	return path.Join(append(parts, elem)...)
}

// linkTarget reads a symbolic link's blob.
func (f *treeFS) linkTarget(h plumbing.Hash) (string, error) {
	size, err := f.repo.repo.Storer.EncodedObjectSize(h)
	if err != nil {
		return "", fmt.Errorf("read link %s: %w", h, err)
	}
	if size > maxLinkSize {
		return "", errLinkLong
	}
	b, err := f.repo.repo.BlobObject(h)
	if err != nil {
		return "", fmt.Errorf("read link %s: %w", h, err)
	}
	rc, err := b.Reader()
	if err != nil {
		return "", fmt.Errorf("read link %s: %w", h, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxLinkSize))
	if err != nil {
		return "", fmt.Errorf("read link %s: %w", h, err)
	}
	return string(data), nil
}

// info describes n; the size of a blob comes from its object header.
func (f *treeFS) info(n node) (*fileInfo, error) {
	fi := &fileInfo{name: n.name, mode: fileMode(n.mode), modTime: f.modTime, hash: n.hash}
	switch n.mode {
	case filemode.Regular, filemode.Deprecated, filemode.Executable, filemode.Symlink:
		size, err := f.repo.repo.Storer.EncodedObjectSize(n.hash)
		if err != nil {
			return nil, fmt.Errorf("size of %s: %w", n.hash, err)
		}
		fi.size = size
	}
	return fi, nil
}

// dirEntries lists dir sorted by name, leaving out entries whose names no fs.FS path may hold (a crafted tree can
// contain "..", "" or names with a slash; git itself refuses to check them out).
func (f *treeFS) dirEntries(dir node) ([]fs.DirEntry, error) {
	es, err := f.entries(dir)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, 0, len(es))
	for _, e := range es {
		if e.Name == "." || e.Name == ".." || !fs.ValidPath(e.Name) || strings.Contains(e.Name, "/") {
			continue
		}
		out = append(out, &dirEntry{fsys: f, n: node{name: e.Name, mode: e.Mode, hash: e.Hash}})
	}
	// Git orders a directory as if its name ended in "/"; fs.ReadDir promises plain name order.
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// Open opens name, following symbolic links inside the tree.
func (f *treeFS) Open(name string) (fs.File, error) {
	f.repo.mu.Lock()
	defer f.repo.mu.Unlock()
	n, err := f.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	fi, err := f.info(n)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if n.isDir() {
		es, err := f.dirEntries(n)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &openDir{path: name, info: fi, entries: es}, nil
	}
	return &openFile{fsys: f, path: name, info: fi}, nil
}

// Stat describes name, following symbolic links inside the tree.
func (f *treeFS) Stat(name string) (fs.FileInfo, error) {
	return f.stat("stat", name, true)
}

// Lstat describes name; when name is a symbolic link it describes the link.
func (f *treeFS) Lstat(name string) (fs.FileInfo, error) {
	return f.stat("lstat", name, false)
}

func (f *treeFS) stat(op, name string, follow bool) (fs.FileInfo, error) {
	f.repo.mu.Lock()
	defer f.repo.mu.Unlock()
	n, err := f.lookup(op, name, follow)
	if err != nil {
		return nil, err
	}
	fi, err := f.info(n)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return fi, nil
}

// ReadLink returns the target of the symbolic link name, as stored in its blob.
func (f *treeFS) ReadLink(name string) (string, error) {
	f.repo.mu.Lock()
	defer f.repo.mu.Unlock()
	n, err := f.lookup("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.mode != filemode.Symlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: errNotLink}
	}
	target, err := f.linkTarget(n.hash)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return target, nil
}

// ReadDir lists the directory name sorted by file name, following symbolic links inside the tree.
func (f *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f.repo.mu.Lock()
	defer f.repo.mu.Unlock()
	n, err := f.lookup("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !n.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	es, err := f.dirEntries(n)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return es, nil
}

// fileInfo describes one tree entry.
type fileInfo struct {
	name    string
	mode    fs.FileMode
	size    int64
	modTime time.Time
	hash    plumbing.Hash
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.size }
func (fi *fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *fileInfo) ModTime() time.Time { return fi.modTime }
func (fi *fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any           { return fi.hash }
func (fi *fileInfo) String() string     { return fs.FormatFileInfo(fi) }

// dirEntry is one entry of a directory listing; like os.ReadDir it describes a symbolic link, not its target.
type dirEntry struct {
	fsys *treeFS
	n    node
}

func (d *dirEntry) Name() string      { return d.n.name }
func (d *dirEntry) IsDir() bool       { return d.n.isDir() }
func (d *dirEntry) Type() fs.FileMode { return fileMode(d.n.mode).Type() }
func (d *dirEntry) String() string    { return fs.FormatDirEntry(d) }

func (d *dirEntry) Info() (fs.FileInfo, error) {
	d.fsys.repo.mu.Lock()
	defer d.fsys.repo.mu.Unlock()
	return d.fsys.info(d.n)
}

// openFile is an open regular file; its blob is read on the first Read.
type openFile struct {
	fsys   *treeFS
	path   string
	info   *fileInfo
	rc     io.ReadCloser
	closed bool
}

func (f *openFile) Stat() (fs.FileInfo, error) {
	if f.closed {
		return nil, &fs.PathError{Op: "stat", Path: f.path, Err: fs.ErrClosed}
	}
	return f.info, nil
}

func (f *openFile) Read(p []byte) (int, error) {
	if f.closed {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: fs.ErrClosed}
	}
	if f.rc == nil {
		rc, err := f.open()
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: f.path, Err: err}
		}
		f.rc = rc
	}
	return f.rc.Read(p)
}

func (f *openFile) open() (io.ReadCloser, error) {
	f.fsys.repo.mu.Lock()
	defer f.fsys.repo.mu.Unlock()
	b, err := f.fsys.repo.repo.BlobObject(f.info.hash)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", f.info.hash, err)
	}
	return b.Reader()
}

func (f *openFile) Close() error {
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.path, Err: fs.ErrClosed}
	}
	f.closed = true
	if f.rc != nil {
		return f.rc.Close()
	}
	return nil
}

// openDir is an open directory; its listing is taken when it is opened.
type openDir struct {
	path    string
	info    *fileInfo
	entries []fs.DirEntry
	off     int
	closed  bool
}

func (d *openDir) Stat() (fs.FileInfo, error) {
	if d.closed {
		return nil, &fs.PathError{Op: "stat", Path: d.path, Err: fs.ErrClosed}
	}
	return d.info, nil
}

func (d *openDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.path, Err: errIsDir}
}

func (d *openDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if d.closed {
		return nil, &fs.PathError{Op: "readdir", Path: d.path, Err: fs.ErrClosed}
	}
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return slices.Clone(rest), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return slices.Clone(rest[:n]), nil
}

func (d *openDir) Close() error {
	if d.closed {
		return &fs.PathError{Op: "close", Path: d.path, Err: fs.ErrClosed}
	}
	d.closed = true
	return nil
}
