package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// maxNoteSize bounds the notes Note reads into memory; a note maestro writes (a Sigstore bundle) is a few
// kilobytes.
const maxNoteSize = 16 << 20

// ErrNoNote is wrapped by the error Note returns when the object has no note in that notes ref, or the notes ref
// does not exist.
var ErrNoNote = errors.New("no note")

// notesRefName turns "maestro" into refs/notes/maestro, as git notes --ref does, and refuses refs outside
// refs/notes/.
func notesRefName(ref string) (plumbing.ReferenceName, error) {
	if !strings.HasPrefix(ref, "refs/") {
		ref = "refs/notes/" + ref
	}
	n := plumbing.ReferenceName(ref)
	if !strings.HasPrefix(ref, "refs/notes/") || n.Validate() != nil {
		return "", fmt.Errorf("notes ref %q: want a name under refs/notes/, e.g. %q", ref, "maestro")
	}
	return n, nil
}

// AddNote attaches content as the note of obj (any object: maestro notes tag objects) in the notes ref notesRef
// ("maestro" or "refs/notes/maestro"), in git's notes layout, so that git notes --ref=maestro show <obj> prints it.
// Each call makes a new notes commit, by author, whose parent is the previous one. A note obj already has is
// replaced, as git notes add -f does. The note is written at the top of the notes tree ("flat"); a note for obj in
// a fanned-out subtree (ab/cdef...), as git writes them in large notes trees, is removed, and every other entry is
// kept as it is.
func (r *Repo) AddNote(ctx context.Context, notesRef string, obj plumbing.Hash, content []byte, author object.Signature) error {
	name, err := notesRefName(notesRef)
	if err != nil {
		return err
	}
	if err := checkIdent(author); err != nil {
		return fmt.Errorf("add note: author: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.repo.Storer

	old, err := s.Reference(name)
	if err != nil && !errors.Is(err, plumbing.ErrReferenceNotFound) {
		return fmt.Errorf("add note: %s: %w", name, err)
	}
	var entries []object.TreeEntry
	var parents []plumbing.Hash
	if old != nil {
		c, err := r.repo.CommitObject(old.Hash())
		if err != nil {
			return fmt.Errorf("add note: %s: %w", name, err)
		}
		t, err := object.GetTree(s, c.TreeHash)
		if err != nil {
			return fmt.Errorf("add note: %s: %w", name, err)
		}
		entries, _, err = r.withoutNote(t.Entries, obj.String())
		if err != nil {
			return fmt.Errorf("add note: %s: %w", name, err)
		}
		parents = []plumbing.Hash{c.Hash}
	}

	blob := s.NewEncodedObject()
	blob.SetType(plumbing.BlobObject)
	w, err := blob.Writer()
	if err != nil {
		return fmt.Errorf("add note: %w", err)
	}
	if _, err := w.Write(content); err != nil {
		return fmt.Errorf("add note: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("add note: %w", err)
	}
	blobHash, err := s.SetEncodedObject(blob)
	if err != nil {
		return fmt.Errorf("add note: write blob: %w", err)
	}
	entries = append(entries, object.TreeEntry{Name: obj.String(), Mode: filemode.Regular, Hash: blobHash})
	treeHash, err := r.writeTree(entries)
	if err != nil {
		return fmt.Errorf("add note: %w", err)
	}

	commit := &object.Commit{
		Author:       author,
		Committer:    author,
		Message:      fmt.Sprintf("Notes added by maestro for %s\n", obj),
		TreeHash:     treeHash,
		ParentHashes: parents,
	}
	co := s.NewEncodedObject()
	if err := commit.Encode(co); err != nil {
		return fmt.Errorf("add note: encode commit: %w", err)
	}
	commitHash, err := s.SetEncodedObject(co)
	if err != nil {
		return fmt.Errorf("add note: write commit: %w", err)
	}
	// Compare-and-set: a notes commit made meanwhile by another process is not silently dropped.
	if err := s.CheckAndSetReference(plumbing.NewHashReference(name, commitHash), old); err != nil {
		return fmt.Errorf("add note: update %s: %w", name, err)
	}
	return nil
}

// withoutNote returns entries without the note whose path, fan-out slashes removed, is hex; removed reports
// whether there was one. A subtree left empty is dropped, as git would never write it.
func (r *Repo) withoutNote(entries []object.TreeEntry, hex string) (out []object.TreeEntry, removed bool, err error) {
	out = make([]object.TreeEntry, 0, len(entries)+1)
	for _, e := range entries {
		switch {
		case e.Name == hex && e.Mode != filemode.Dir:
			removed = true
			continue
		case e.Mode == filemode.Dir && len(hex) > 2 && e.Name == hex[:2]:
			sub, err := object.GetTree(r.repo.Storer, e.Hash)
			if err != nil {
				return nil, false, err
			}
			subEntries, subRemoved, err := r.withoutNote(sub.Entries, hex[2:])
			if err != nil {
				return nil, false, err
			}
			if subRemoved {
				removed = true
				if len(subEntries) == 0 {
					continue
				}
				h, err := r.writeTree(subEntries)
				if err != nil {
					return nil, false, err
				}
				e.Hash = h
			}
		}
		out = append(out, e)
	}
	return out, removed, nil
}

// writeTree stores a tree with entries in git's order: by name, a subtree's name compared as if it ended in "/".
func (r *Repo) writeTree(entries []object.TreeEntry) (plumbing.Hash, error) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	slices.SortFunc(entries, func(a, b object.TreeEntry) int { return strings.Compare(key(a), key(b)) })
	t := &object.Tree{Entries: entries}
	o := r.repo.Storer.NewEncodedObject()
	if err := t.Encode(o); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode tree: %w", err)
	}
	h, err := r.repo.Storer.SetEncodedObject(o)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write tree: %w", err)
	}
	return h, nil
}

// Note returns the note of obj in the notes ref notesRef ("maestro" or "refs/notes/maestro"), wherever git's
// notes layout puts it: at the top of the notes tree, or in fanned-out subtrees (ab/cdef..., ab/cd/ef...). An
// object without a note, or a notes ref that does not exist, gives an error wrapping ErrNoNote.
func (r *Repo) Note(ctx context.Context, notesRef string, obj plumbing.Hash) ([]byte, error) {
	name, err := notesRefName(notesRef)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.repo.Storer
	ref, err := s.Reference(name)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, fmt.Errorf("note of %s: %s does not exist: %w", obj, name, ErrNoNote)
	}
	if err != nil {
		return nil, fmt.Errorf("note of %s: %s: %w", obj, name, err)
	}
	c, err := r.repo.CommitObject(ref.Hash())
	if err != nil {
		return nil, fmt.Errorf("note of %s: %s: %w", obj, name, err)
	}
	treeHash := c.TreeHash
	hex := obj.String()
	for {
		t, err := object.GetTree(s, treeHash)
		if err != nil {
			return nil, fmt.Errorf("note of %s: %s: %w", obj, name, err)
		}
		blob, sub, ok := noteEntry(t.Entries, hex)
		if !ok {
			return nil, fmt.Errorf("note of %s in %s: %w", obj, name, ErrNoNote)
		}
		if sub {
			treeHash, hex = blob, hex[2:]
			continue
		}
		return r.readNote(blob, obj, name)
	}
}

// noteEntry finds hex in a notes tree level: the note's blob itself (sub false), or the subtree named by its first
// two digits (sub true).
func noteEntry(entries []object.TreeEntry, hex string) (h plumbing.Hash, sub, ok bool) {
	var subtree plumbing.Hash
	found := false
	for _, e := range entries {
		switch {
		case e.Name == hex && e.Mode != filemode.Dir && e.Mode != filemode.Submodule:
			return e.Hash, false, true
		case e.Mode == filemode.Dir && len(hex) > 2 && e.Name == hex[:2]:
			subtree, found = e.Hash, true
		}
	}
	return subtree, true, found
}

func (r *Repo) readNote(h, obj plumbing.Hash, name plumbing.ReferenceName) ([]byte, error) {
	size, err := r.repo.Storer.EncodedObjectSize(h)
	if err != nil {
		return nil, fmt.Errorf("note of %s in %s: %w", obj, name, err)
	}
	if size > maxNoteSize {
		return nil, fmt.Errorf("note of %s in %s is %d bytes, more than the %d maestro reads", obj, name, size, maxNoteSize)
	}
	b, err := r.repo.BlobObject(h)
	if err != nil {
		return nil, fmt.Errorf("note of %s in %s: %w", obj, name, err)
	}
	rc, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("note of %s in %s: %w", obj, name, err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(rc, maxNoteSize)); err != nil {
		return nil, fmt.Errorf("note of %s in %s: %w", obj, name, err)
	}
	return buf.Bytes(), nil
}
