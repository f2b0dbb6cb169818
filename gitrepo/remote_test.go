package gitrepo_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/internal/gittest"
	"github.com/maestro-conductor/maestro/sshsig"
)

// bareRepo makes an empty bare repository in a new directory and returns its path.
func bareRepo(t *testing.T, name string) string {
	t.Helper()
	requireTool(t, "git")
	base := t.TempDir()
	gitIn(t, base, "init", "-q", "--bare", "--initial-branch=main", name)
	return filepath.Join(base, name)
}

// wantRejected checks that err is a *gitrepo.RejectedError for exactly the given ref, with a reason containing
// reason.
func wantRejected(t *testing.T, err error, ref, reason string) {
	t.Helper()
	if !errors.Is(err, gitrepo.ErrRejected) {
		t.Fatalf("error = %v, want ErrRejected", err)
	}
	var re *gitrepo.RejectedError
	if !errors.As(err, &re) {
		t.Fatalf("error = %#v, want *RejectedError", err)
	}
	if len(re.Refs) != 1 || re.Refs[0].Ref != ref || !strings.Contains(re.Refs[0].Reason, reason) {
		t.Fatalf("rejected refs = %+v, want just %s (%s)", re.Refs, ref, reason)
	}
}

// promotionSpecs push what a promotion makes: the branch, the tag and the notes.
func promotionSpecs(tag string) []string {
	return []string{
		"refs/heads/main:refs/heads/main",
		"refs/tags/" + tag + ":refs/tags/" + tag,
		"refs/notes/maestro:refs/notes/maestro",
	}
}

// TestPushFetch pushes a signed tag and its note to a bare repository, over file:// and over git daemon, checks
// them there with git, clones the repository and reads them back, then does it again incrementally.
func TestPushFetch(t *testing.T) {
	for _, transport := range []string{"file", "git-daemon"} {
		t.Run(transport, func(t *testing.T) {
			ctx := context.Background()
			s := newSignedRepo(t)
			bundle := []byte(`{"bundle":1}`)
			if err := s.repo.AddNote(ctx, "maestro", s.tag, bundle, tagger); err != nil {
				t.Fatal(err)
			}
			bare := bareRepo(t, "remote.git")
			url, remote := "file://"+bare, "file://"+bare
			if transport == "git-daemon" {
				url, _ = gittest.Daemon(t, filepath.Dir(bare), gittest.DaemonOptions{ReceivePack: true})
				url += "/remote.git"
				// Push by the name of a configured remote.
				s.git("remote", "add", "origin", url)
				remote = "origin"
			}
			if err := s.repo.Push(ctx, remote, promotionSpecs("etl/v1.0.0"), nil); err != nil {
				t.Fatalf("Push: %v", err)
			}
			if got := gitIn(t, bare, "rev-parse", "refs/tags/etl/v1.0.0"); got != s.tag.String() {
				t.Errorf("remote tag = %s, want %s", got, s.tag)
			}
			gitIn(t, bare, "fsck", "--strict", "--no-dangling")
			trusted := s.key.allowedSigners(t, "release@example.com")
			if out, err := gitTry(bare, "-c", "gpg.ssh.allowedSignersFile="+trusted, "verify-tag", "etl/v1.0.0"); err != nil {
				t.Errorf("git verify-tag in the remote: %v\n%s", err, out)
			}
			if got := gitIn(t, bare, "notes", "--ref=maestro", "show", s.tag.String()); got != string(bundle) {
				t.Errorf("git notes show in the remote = %q", got)
			}
			if err := s.repo.Push(ctx, remote, promotionSpecs("etl/v1.0.0"), nil); err != nil {
				t.Errorf("Push when up to date: %v", err)
			}

			cloneDir := filepath.Join(t.TempDir(), "clone")
			gitIn(t, filepath.Dir(cloneDir), "clone", "-q", url, cloneDir)
			clone := openRepo(t, cloneDir)
			if _, err := clone.Note(ctx, "maestro", s.tag); !errors.Is(err, gitrepo.ErrNoNote) {
				t.Fatalf("a fresh clone has the note already (err %v): the test cannot tell Fetch worked", err)
			}
			if err := clone.Fetch(ctx, "origin", gitrepo.PromotionRefSpecs(), nil); err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			checkPromotion(t, clone, "etl/v1.0.0", s.tag, s.key, bundle)
			if got, want := identity(t, clone), identity(t, s.repo); got != want {
				t.Errorf("Identity of the clone = %s, want the origin's %s", got, want)
			}

			// A second promotion, fetched incrementally.
			s.write("workflows/etl.yaml", workflowYAML("etl", "transform"))
			commit := s.testRepo.commit("third")
			tag2, err := s.repo.CreateSignedTag(ctx, "etl/v1.1.0", commit, tagger, "v1.1.0\n", s.key.sign)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.repo.AddNote(ctx, "maestro", tag2, []byte("bundle 2"), tagger); err != nil {
				t.Fatal(err)
			}
			if err := s.repo.Push(ctx, remote, promotionSpecs("etl/v1.1.0"), nil); err != nil {
				t.Fatalf("Push of the second tag: %v", err)
			}
			if err := clone.Fetch(ctx, "origin", gitrepo.PromotionRefSpecs(), nil); err != nil {
				t.Fatalf("second Fetch: %v", err)
			}
			checkPromotion(t, clone, "etl/v1.1.0", tag2, s.key, []byte("bundle 2"))
			checkPromotion(t, clone, "etl/v1.0.0", s.tag, s.key, bundle)
			if err := clone.Fetch(ctx, url, gitrepo.PromotionRefSpecs(), nil); err != nil {
				t.Errorf("Fetch by URL when up to date: %v", err)
			}
		})
	}
}

// checkPromotion reads a tag and its note and verifies the tag's signature.
func checkPromotion(t *testing.T, repo *gitrepo.Repo, name string, hash plumbing.Hash, key *sshKey, note []byte) {
	t.Helper()
	ctx := context.Background()
	tag, err := repo.ReadTag(ctx, name)
	if err != nil {
		t.Fatalf("ReadTag(%s): %v", name, err)
	}
	if tag.Hash != hash {
		t.Errorf("tag %s = %s, want %s", name, tag.Hash, hash)
	}
	pub, err := sshsig.Verify(tag.Signature, tag.Payload, "git")
	if err != nil || !bytes.Equal(pub.Marshal(), key.pub.Marshal()) {
		t.Errorf("tag %s signature: key %v, error %v; want the signer's key", name, pub, err)
	}
	got, err := repo.Note(ctx, "maestro", hash)
	if err != nil || !bytes.Equal(got, note) {
		t.Errorf("Note(%s) = %q, %v; want %q", name, got, err, note)
	}
}

// TestPushRejectsExistingTag checks that Push never replaces a tag on the remote, and pushes nothing else then.
func TestPushRejectsExistingTag(t *testing.T) {
	ctx := context.Background()
	s := newSignedRepo(t)
	bare := bareRepo(t, "remote.git")
	if err := s.repo.Push(ctx, bare, []string{"refs/heads/main:refs/heads/main"}, nil); err != nil {
		t.Fatalf("Push by path: %v", err)
	}
	// Someone else promotes etl/v1.0.0 first, with another tag object.
	other := filepath.Join(t.TempDir(), "other")
	gitIn(t, filepath.Dir(other), "clone", "-q", bare, other)
	theirs, err := openRepo(t, other).CreateSignedTag(ctx, "etl/v1.0.0", s.commit, tagger, "theirs\n", newSSHKey(t).sign)
	if err != nil {
		t.Fatal(err)
	}
	gitIn(t, other, "push", "-q", "origin", "refs/tags/etl/v1.0.0")

	if err := s.repo.AddNote(ctx, "maestro", s.tag, []byte("note"), tagger); err != nil {
		t.Fatal(err)
	}
	err = s.repo.Push(ctx, "file://"+bare, promotionSpecs("etl/v1.0.0"), nil)
	wantRejected(t, err, "refs/tags/etl/v1.0.0", "already exists")
	if !strings.Contains(err.Error(), "refs/tags/etl/v1.0.0") {
		t.Errorf("error %q does not name the tag", err)
	}
	if got := gitIn(t, bare, "rev-parse", "refs/tags/etl/v1.0.0"); got != theirs.String() {
		t.Errorf("the remote tag was replaced: %s, want %s", got, theirs)
	}
	if out, err := gitTry(bare, "rev-parse", "--verify", "-q", "refs/notes/maestro"); err == nil {
		t.Errorf("the note was pushed although the tag was rejected: %s", out)
	}

	// Forcing is the caller's explicit choice.
	if err := s.repo.Push(ctx, bare, []string{"+refs/tags/etl/v1.0.0:refs/tags/etl/v1.0.0"}, nil); err != nil {
		t.Fatalf("forced Push: %v", err)
	}
	if got := gitIn(t, bare, "rev-parse", "refs/tags/etl/v1.0.0"); got != s.tag.String() {
		t.Errorf("forced push left the remote tag at %s", got)
	}
}

// TestNotesNonFastForward checks that Push and Fetch refuse to move a notes ref to a commit that does not descend
// from it, whether or not the other side's commit is known locally.
func TestNotesNonFastForward(t *testing.T) {
	ctx := context.Background()
	s := newSignedRepo(t)
	bare := bareRepo(t, "remote.git")
	if err := s.repo.AddNote(ctx, "maestro", s.tag, []byte("one"), tagger); err != nil {
		t.Fatal(err)
	}
	notes := []string{"refs/notes/maestro:refs/notes/maestro"}
	if err := s.repo.Push(ctx, bare, append(notes, "refs/tags/etl/v1.0.0:refs/tags/etl/v1.0.0"), nil); err != nil {
		t.Fatal(err)
	}
	first := s.hash("refs/notes/maestro")

	// Another promoter adds a note and pushes it.
	other := filepath.Join(t.TempDir(), "other")
	gitIn(t, filepath.Dir(other), "init", "-q", other)
	theirs := openRepo(t, other)
	if err := theirs.Fetch(ctx, bare, notes, nil); err != nil {
		t.Fatal(err)
	}
	if err := theirs.AddNote(ctx, "maestro", s.commit, []byte("theirs"), tagger); err != nil {
		t.Fatal(err)
	}
	if err := theirs.Push(ctx, bare, notes, nil); err != nil {
		t.Fatalf("Push of a fast-forward: %v", err)
	}
	remoteNotes := gitIn(t, bare, "rev-parse", "refs/notes/maestro")

	// Ours diverge: the remote's notes commit is unknown here.
	if err := s.repo.AddNote(ctx, "maestro", s.commit, []byte("ours"), tagger); err != nil {
		t.Fatal(err)
	}
	ours := s.hash("refs/notes/maestro")
	wantRejected(t, s.repo.Push(ctx, bare, notes, nil), "refs/notes/maestro", "fetch first")
	wantRejected(t, s.repo.Fetch(ctx, bare, notes, nil), "refs/notes/maestro", "non-fast-forward")
	if got := s.hash("refs/notes/maestro"); got != ours {
		t.Errorf("Fetch moved the local notes ref to %s", got)
	}
	// Now the remote's commit is here (Fetch brought the objects), and still not an ancestor.
	if _, err := gitTry(s.dir, "cat-file", "-e", remoteNotes); err != nil {
		t.Fatalf("the rejected fetch did not bring the remote's notes commit: %v", err)
	}
	wantRejected(t, s.repo.Push(ctx, bare, notes, nil), "refs/notes/maestro", "non-fast-forward")
	if got := gitIn(t, bare, "rev-parse", "refs/notes/maestro"); got != remoteNotes {
		t.Errorf("the remote notes ref moved to %s", got)
	}

	// Back at the first commit, ours is behind the remote: Fetch fast-forwards it.
	s.git("update-ref", "refs/notes/maestro", first.String())
	if err := s.repo.Fetch(ctx, bare, notes, nil); err != nil {
		t.Fatalf("fast-forward Fetch: %v", err)
	}
	if got := s.hash("refs/notes/maestro").String(); got != remoteNotes {
		t.Errorf("after Fetch the notes ref is %s, want %s", got, remoteNotes)
	}
}

// TestFetchKeepsMovedTag checks that Fetch never replaces a local tag with a different one from the remote, still
// fetches everything else, and names the refused tag.
func TestFetchKeepsMovedTag(t *testing.T) {
	ctx := context.Background()
	s := newSignedRepo(t)
	bare := bareRepo(t, "remote.git")
	if err := s.repo.Push(ctx, bare, promotionSpecs("etl/v1.0.0")[:2], nil); err != nil {
		t.Fatal(err)
	}
	cloneDir := filepath.Join(t.TempDir(), "clone")
	gitIn(t, filepath.Dir(cloneDir), "clone", "-q", bare, cloneDir)
	clone := openRepo(t, cloneDir)

	// The tag is deleted and recreated on the remote (a forgery), and another version is promoted.
	s.git("tag", "-d", "etl/v1.0.0")
	moved, err := s.repo.CreateSignedTag(ctx, "etl/v1.0.0", s.hash("HEAD~1"), tagger, "moved\n", s.key.sign)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := s.repo.CreateSignedTag(ctx, "etl/v2.0.0", s.commit, tagger, "v2\n", s.key.sign)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.repo.Push(ctx, bare, []string{"+refs/tags/*:refs/tags/*"}, nil); err != nil {
		t.Fatal(err)
	}

	err = clone.Fetch(ctx, "origin", gitrepo.PromotionRefSpecs(), nil)
	wantRejected(t, err, "refs/tags/etl/v1.0.0", "would clobber existing tag")
	if got, err := clone.ReadTag(ctx, "etl/v1.0.0"); err != nil || got.Hash != s.tag {
		t.Errorf("the local tag after Fetch: %v, %v; want it kept at %s", got, err, s.tag)
	}
	if got, err := clone.ReadTag(ctx, "etl/v2.0.0"); err != nil || got.Hash != v2 {
		t.Errorf("the new tag was not fetched along: %v, %v", got, err)
	}
	if err := clone.Fetch(ctx, "origin", []string{"+refs/tags/*:refs/tags/*"}, nil); err != nil {
		t.Fatalf("forced Fetch: %v", err)
	}
	if got, err := clone.ReadTag(ctx, "etl/v1.0.0"); err != nil || got.Hash != moved {
		t.Errorf("after a forced Fetch the tag is %v, %v; want %s", got, err, moved)
	}
}

// TestPushDeclinedByServer checks that a ref update the server refuses (here by a pre-receive hook) is a
// *RejectedError.
func TestPushDeclinedByServer(t *testing.T) {
	ctx := context.Background()
	s := newSignedRepo(t)
	bare := bareRepo(t, "remote.git")
	hook := filepath.Join(bare, "hooks", "pre-receive")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho no promotions today >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := s.repo.Push(ctx, "file://"+bare, []string{"refs/tags/etl/v1.0.0:refs/tags/etl/v1.0.0"}, nil)
	wantRejected(t, err, "refs/tags/etl/v1.0.0", "declined")
	if out, err := gitTry(bare, "rev-parse", "--verify", "-q", "refs/tags/etl/v1.0.0"); err == nil {
		t.Errorf("the declined tag is on the remote: %s", out)
	}
}

func TestPushFetchErrors(t *testing.T) {
	ctx := context.Background()
	s := newSignedRepo(t)
	bare := bareRepo(t, "remote.git")
	tag := []string{"refs/tags/etl/v1.0.0:refs/tags/etl/v1.0.0"}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		do   func() error
		is   error  // when not nil, errors.Is must hold
		msg  string // the error message contains it
	}{
		{"push to an unknown remote name", func() error { return s.repo.Push(ctx, "nosuch", tag, nil) }, gitrepo.ErrUnknownRemote, "nosuch"},
		{"fetch from an unknown remote name", func() error { return s.repo.Fetch(ctx, "nosuch", tag, nil) }, gitrepo.ErrUnknownRemote, "nosuch"},
		{"push without refspecs", func() error { return s.repo.Push(ctx, bare, nil, nil) }, nil, "no refspecs"},
		{"fetch without refspecs", func() error { return s.repo.Fetch(ctx, bare, nil, nil) }, nil, "no refspecs"},
		{"push a malformed refspec", func() error { return s.repo.Push(ctx, bare, []string{"refs/tags/*:refs/tags/x"}, nil) }, nil, "refspec"},
		{"push a deletion", func() error { return s.repo.Push(ctx, bare, []string{":refs/tags/etl/v1.0.0"}, nil) }, nil, "deletes"},
		{"push a missing local ref", func() error {
			return s.repo.Push(ctx, bare, []string{"refs/tags/etl/v9.0.0:refs/tags/etl/v9.0.0"}, nil)
		}, gitrepo.ErrUnknownRef, "refs/tags/etl/v9.0.0"},
		{"fetch a ref the remote lacks", func() error { return s.repo.Fetch(ctx, bare, tag, nil) }, gitrepo.ErrUnknownRef, "refs/tags/etl/v1.0.0"},
		{"push to a missing repository", func() error {
			return s.repo.Push(ctx, "file://"+filepath.Join(t.TempDir(), "nothing.git"), tag, nil)
		}, nil, "push"},
		{"push with a cancelled context", func() error { return s.repo.Push(cancelled, "file://"+bare, tag, nil) }, context.Canceled, "push"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error = %v, want %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if errors.Is(err, gitrepo.ErrRejected) {
				t.Errorf("error %v is a rejection", err)
			}
		})
	}
	// Fetching from an empty repository is not an error: there is nothing to fetch.
	if err := s.repo.Fetch(ctx, bare, gitrepo.PromotionRefSpecs(), nil); err != nil {
		t.Errorf("Fetch from an empty repository: %v", err)
	}
}
