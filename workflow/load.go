package workflow

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// DefaultDir is where a repository keeps its workflows unless configured otherwise.
const DefaultDir = "workflows"

// Set is the workflows of one repository state, by name.
type Set struct {
	Workflows map[string]*Workflow
}

// Names returns the set's workflow names in sorted order.
func (s *Set) Names() []string { return sortedKeys(s.Workflows) }

// Get returns the named workflow, or nil.
func (s *Set) Get(name string) *Workflow { return s.Workflows[name] }

// NewSet collects workflows into a set, reporting names used twice.
func NewSet(ws []*Workflow) (*Set, error) {
	s := &Set{Workflows: make(map[string]*Workflow, len(ws))}
	var errs ErrorList
	for _, w := range ws {
		if prev, ok := s.Workflows[w.Name]; ok {
			errs = append(errs, &Error{Pos: w.Pos, Field: "metadata.name", Kind: ErrDuplicate,
				Msg: fmt.Sprintf("workflow %q is already defined at %s; workflow names must be unique in a repository", w.Name, prev.Pos)})
			continue
		}
		s.Workflows[w.Name] = w
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// IsWorkflowFile reports whether a file name has a YAML extension.
func IsWorkflowFile(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// maxLinkHops bounds how many symbolic links one file may go through.
const maxLinkHops = 8

// Load parses every *.yaml and *.yml file under dir in fsys. Symbolic links are followed only while they stay inside
// fsys (where fsys implements fs.ReadLinkFS); one that leads outside it is an error. A dir that does not exist is an
// empty set. Every problem found is returned, as an ErrorList.
func Load(fsys fs.FS, dir string, lim Limits) (*Set, error) {
	lim = lim.orDefaults()
	dir = path.Clean(dir)
	var files []string
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if IsWorkflowFile(d.Name()) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	sort.Strings(files)
	var all []*Workflow
	var errs ErrorList
	for _, f := range files {
		data, err := ReadFile(fsys, f, lim.MaxFileSize)
		if err == nil {
			var ws []*Workflow
			ws, err = ParseOwned(f, data, lim)
			all = append(all, ws...)
		}
		if err != nil {
			errs = appendErr(errs, f, err)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return NewSet(all)
}

func appendErr(errs ErrorList, file string, err error) ErrorList {
	var list ErrorList
	var one *Error
	switch {
	case errors.As(err, &list):
		return append(errs, list...)
	case errors.As(err, &one):
		return append(errs, one)
	}
	return append(errs, &Error{Pos: Position{File: file}, Msg: err.Error(), Kind: err})
}

// ReadFile reads name from fsys, following symbolic links that stay inside fsys, and refuses files over maxSize
// before reading them.
func ReadFile(fsys fs.FS, name string, maxSize int64) ([]byte, error) {
	resolved, err := resolveLinks(fsys, name)
	if err != nil {
		return nil, err
	}
	f, err := fsys.Open(resolved)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := int64(-1)
	if st, err := f.Stat(); err == nil {
		if st.IsDir() {
			return nil, &Error{Pos: Position{File: name}, Msg: "is a directory, not a file"}
		}
		if st.Size() > maxSize {
			return nil, &Error{Pos: Position{File: name}, Kind: ErrTooLarge,
				Msg: fmt.Sprintf("file is %d bytes, over the limit of %d bytes; split it into several files or raise the limit (--max-file-size)", st.Size(), maxSize)}
		}
		if st.Mode().IsRegular() {
			size = st.Size()
		}
	}
	data, err := readAll(io.LimitReader(f, maxSize+1), size)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > maxSize {
		return nil, &Error{Pos: Position{File: name}, Kind: ErrTooLarge,
			Msg: fmt.Sprintf("file is over the limit of %d bytes; split it into several files or raise the limit (--max-file-size)", maxSize)}
	}
	return data, nil
}

// readAll reads r to the end into one buffer of size+1 bytes when the size is known (a regular file), so that a
// large file is read in one go instead of through a buffer that doubles. The file may still grow or shrink
// meanwhile: the buffer grows as it must and the result is what was read.
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size < 0 {
		return io.ReadAll(r)
	}
	buf := make([]byte, 0, size+1)
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// resolveLinks follows name through symbolic links (when fsys can tell them) and returns the path of the file they
// lead to, refusing any that leaves fsys.
func resolveLinks(fsys fs.FS, name string) (string, error) {
	if _, ok := fsys.(fs.ReadLinkFS); !ok {
		return name, nil
	}
	cur := name
	for hop := 0; ; hop++ {
		// Links in parent directories count too: check every prefix of the path.
		target, linkAt, err := firstLink(fsys, cur)
		if err != nil {
			return "", err
		}
		if linkAt == "" {
			return cur, nil
		}
		if hop >= maxLinkHops {
			return "", &Error{Pos: Position{File: name}, Kind: ErrOutsideRoot, Msg: "too many symbolic links"}
		}
		if path.IsAbs(target) || strings.HasPrefix(target, "/") {
			return "", &Error{Pos: Position{File: name}, Kind: ErrOutsideRoot,
				Msg: fmt.Sprintf("symbolic link %s points to absolute path %q, outside the repository; replace it with the file itself", linkAt, target)}
		}
		joined := path.Join(path.Dir(linkAt), target)
		if joined == ".." || strings.HasPrefix(joined, "../") {
			return "", &Error{Pos: Position{File: name}, Kind: ErrOutsideRoot,
				Msg: fmt.Sprintf("symbolic link %s points to %q, outside the repository; replace it with the file itself", linkAt, target)}
		}
		cur = path.Join(joined, strings.TrimPrefix(cur, linkAt))
	}
}

// firstLink finds the first component of p that is a symbolic link and returns its target.
func firstLink(fsys fs.FS, p string) (target, at string, err error) {
	parts := strings.Split(p, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		info, err := fs.Lstat(fsys, prefix)
		if err != nil {
			return "", "", err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			t, err := fs.ReadLink(fsys, prefix)
			if err != nil {
				return "", "", err
			}
			return t, prefix, nil
		}
	}
	return "", "", nil
}
