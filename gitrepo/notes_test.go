package gitrepo_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/maestro-conductor/maestro/gitrepo"
)

// TestNotesRoundTrip checks AddNote against git notes: git shows and lists what AddNote wrote, each AddNote is a
// commit on top of the last, and a second note for the same object replaces the first.
func TestNotesRoundTrip(t *testing.T) {
	s := newSignedRepo(t)
	ctx := context.Background()
	bundle := []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}` + "\n")
	if err := s.repo.AddNote(ctx, "maestro", s.tag, bundle, tagger); err != nil {
		t.Fatalf("AddNote: %v", err)
	}
	if got := s.git("notes", "--ref=maestro", "show", s.tag.String()); got+"\n" != string(bundle) {
		t.Errorf("git notes show = %q, want %q", got, bundle)
	}
	got, err := s.repo.Note(ctx, "refs/notes/maestro", s.tag)
	if err != nil || string(got) != string(bundle) {
		t.Fatalf("Note = %q, %v; want %q", got, err, bundle)
	}
	first := s.hash("refs/notes/maestro")
	if parents := s.git("rev-list", "--parents", "-n1", "refs/notes/maestro"); parents != first.String() {
		t.Errorf("the first notes commit has parents: %s", parents)
	}
	if author := s.git("log", "-1", "--format=%an <%ae> %at", "refs/notes/maestro"); author != "Release Bot <release@example.com> 1709364600" {
		t.Errorf("notes commit author = %q", author)
	}

	// A note on another object, then a replacement of the first note.
	if err := s.repo.AddNote(ctx, "maestro", s.commit, []byte("on the commit"), tagger); err != nil {
		t.Fatal(err)
	}
	if err := s.repo.AddNote(ctx, "maestro", s.tag, []byte("replaced\n"), tagger); err != nil {
		t.Fatal(err)
	}
	if n := s.git("rev-list", "--count", "--first-parent", "refs/notes/maestro"); n != "3" {
		t.Errorf("notes history has %s commits, want 3", n)
	}
	if parent := s.git("rev-parse", "refs/notes/maestro~2"); parent != first.String() {
		t.Errorf("refs/notes/maestro~2 = %s, want the first notes commit %s", parent, first)
	}
	if got := s.git("notes", "--ref=maestro", "show", s.tag.String()); got != "replaced" {
		t.Errorf("git notes show after replacing = %q", got)
	}
	if got := s.git("notes", "--ref=maestro", "show", s.commit.String()); got != "on the commit" {
		t.Errorf("git notes show of the commit = %q", got)
	}
	list := s.git("notes", "--ref=maestro", "list")
	if lines := strings.Split(list, "\n"); len(lines) != 2 {
		t.Errorf("git notes list =\n%s\nwant two notes", list)
	}
	for obj, want := range map[plumbing.Hash]string{s.tag: "replaced\n", s.commit: "on the commit"} {
		if got, err := s.repo.Note(ctx, "maestro", obj); err != nil || string(got) != want {
			t.Errorf("Note(%s) = %q, %v; want %q", obj, got, err, want)
		}
	}
	s.git("fsck", "--strict", "--no-dangling")
}

// TestNotesWrittenByGit checks that Note reads notes git notes add wrote, and that AddNote keeps them.
func TestNotesWrittenByGit(t *testing.T) {
	s := newSignedRepo(t)
	ctx := context.Background()
	s.git("notes", "--ref=maestro", "add", "-m", "by git", s.tag.String())
	got, err := s.repo.Note(ctx, "maestro", s.tag)
	if err != nil || string(got) != "by git\n" {
		t.Fatalf("Note = %q, %v; want %q", got, err, "by git\n")
	}
	if err := s.repo.AddNote(ctx, "maestro", s.commit, []byte("by maestro"), tagger); err != nil {
		t.Fatal(err)
	}
	if got := s.git("notes", "--ref=maestro", "show", s.tag.String()); got != "by git" {
		t.Errorf("git's note after AddNote = %q", got)
	}
	// git notes add on top of maestro's commit: the history stays linear.
	s.git("notes", "--ref=maestro", "append", "-m", "more", s.commit.String())
	want := s.git("notes", "--ref=maestro", "show", s.commit.String()) + "\n"
	if !strings.HasPrefix(want, "by maestro\n") || !strings.HasSuffix(want, "more\n") {
		t.Fatalf("git notes show after append = %q", want)
	}
	if got, err := s.repo.Note(ctx, "maestro", s.commit); err != nil || string(got) != want {
		t.Errorf("Note after git notes append = %q, %v; want %q", got, err, want)
	}
}

// TestNotesFanOut checks notes trees fanned out as git writes large ones (ab/cdef..., ab/cd/ef...): Note finds
// their notes, and AddNote replaces a fanned-out note with a flat one, keeping the others, in a tree git reads.
func TestNotesFanOut(t *testing.T) {
	s := newSignedRepo(t)
	ctx := context.Background()
	blobA := plumbing.NewHash(s.gitStdin("a object", "hash-object", "-w", "--stdin"))
	blobB := plumbing.NewHash(s.gitStdin("b object", "hash-object", "-w", "--stdin"))
	noteA := s.gitStdin("note of a\n", "hash-object", "-w", "--stdin")
	noteB := s.gitStdin("note of b\n", "hash-object", "-w", "--stdin")
	a, b := blobA.String(), blobB.String()
	// a at one level of fan-out, b at two.
	subA := s.gitStdin("100644 blob "+noteA+"\t"+a[2:]+"\n", "mktree")
	subB2 := s.gitStdin("100644 blob "+noteB+"\t"+b[4:]+"\n", "mktree")
	subB := s.gitStdin("040000 tree "+subB2+"\t"+b[2:4]+"\n", "mktree")
	entries := []string{"040000 tree " + subA + "\t" + a[:2], "040000 tree " + subB + "\t" + b[:2]}
	if a[:2] == b[:2] {
		t.Fatalf("test objects %s and %s share a fan-out directory", a, b)
	}
	root := s.gitStdin(strings.Join(entries, "\n")+"\n", "mktree")
	commit := s.git("commit-tree", "-m", "fanned out", root)
	s.git("update-ref", "refs/notes/fan", commit)
	// git itself reads this layout.
	if got := s.git("notes", "--ref=fan", "show", a); got != "note of a" {
		t.Fatalf("git notes show of a fanned-out note = %q: the test tree is not a git notes tree", got)
	}

	for obj, want := range map[plumbing.Hash]string{blobA: "note of a\n", blobB: "note of b\n"} {
		if got, err := s.repo.Note(ctx, "fan", obj); err != nil || string(got) != want {
			t.Errorf("Note(%s) = %q, %v; want %q", obj, got, err, want)
		}
	}
	if err := s.repo.AddNote(ctx, "fan", blobB, []byte("new note of b\n"), tagger); err != nil {
		t.Fatal(err)
	}
	if got := s.git("notes", "--ref=fan", "show", b); got != "new note of b" {
		t.Errorf("git notes show b after AddNote = %q", got)
	}
	if got := s.git("notes", "--ref=fan", "show", a); got != "note of a" {
		t.Errorf("git notes show a after AddNote = %q", got)
	}
	if list := s.git("notes", "--ref=fan", "list"); strings.Count(list, "\n") != 1 {
		t.Errorf("git notes list =\n%s\nwant exactly two notes", list)
	}
	tree := s.git("ls-tree", "-r", "--name-only", "refs/notes/fan")
	if want := a[:2] + "/" + a[2:] + "\n" + b; tree != want && tree != b+"\n"+a[:2]+"/"+a[2:] {
		t.Errorf("notes tree =\n%s\nwant a fanned out and b flat, b's empty subtrees gone", tree)
	}
	if got, err := s.repo.Note(ctx, "fan", blobB); err != nil || string(got) != "new note of b\n" {
		t.Errorf("Note(b) after AddNote = %q, %v", got, err)
	}
	s.git("fsck", "--strict", "--no-dangling")
}

func TestNoteMissing(t *testing.T) {
	s := newSignedRepo(t)
	ctx := context.Background()
	if _, err := s.repo.Note(ctx, "maestro", s.tag); !errors.Is(err, gitrepo.ErrNoNote) {
		t.Errorf("Note without a notes ref: error = %v, want ErrNoNote", err)
	}
	if err := s.repo.AddNote(ctx, "maestro", s.commit, []byte("x"), tagger); err != nil {
		t.Fatal(err)
	}
	if _, err := s.repo.Note(ctx, "maestro", s.tag); !errors.Is(err, gitrepo.ErrNoNote) {
		t.Errorf("Note of an object without one: error = %v, want ErrNoNote", err)
	}
	for _, ref := range []string{"refs/heads/main", "refs/notes/", "bad..name"} {
		if _, err := s.repo.Note(ctx, ref, s.tag); err == nil || errors.Is(err, gitrepo.ErrNoNote) {
			t.Errorf("Note(%q) error = %v, want a bad notes ref", ref, err)
		}
		if err := s.repo.AddNote(ctx, ref, s.tag, []byte("x"), tagger); err == nil {
			t.Errorf("AddNote(%q) succeeded", ref)
		}
	}
}
