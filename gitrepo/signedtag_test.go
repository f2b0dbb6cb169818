package gitrepo_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"

	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/sshsig"
)

// TestCreateSignedTagGitVerifies checks that git itself accepts what CreateSignedTag writes: git fsck, git cat-file,
// git verify-tag with the signer's key in the allowed-signers file (and not with another key), git tag -v.
func TestCreateSignedTagGitVerifies(t *testing.T) {
	s := newSignedRepo(t)
	if got := s.hash("refs/tags/etl/v1.0.0"); got != s.tag {
		t.Fatalf("refs/tags/etl/v1.0.0 = %s, want the returned tag object %s", got, s.tag)
	}
	if typ := s.git("cat-file", "-t", s.tag.String()); typ != "tag" {
		t.Fatalf("git cat-file -t = %s, want tag", typ)
	}
	s.git("fsck", "--strict", "--no-dangling")

	raw := s.git("cat-file", "tag", "etl/v1.0.0")
	wantHead := "object " + s.commit.String() + "\ntype commit\ntag etl/v1.0.0\ntagger Release Bot <release@example.com> 1709364600 +0200\n\n" +
		tagMessage + "-----BEGIN SSH SIGNATURE-----\n"
	if !strings.HasPrefix(raw, wantHead) || !strings.HasSuffix(raw, "-----END SSH SIGNATURE-----") {
		t.Errorf("git cat-file tag etl/v1.0.0:\n%s\nwant it to start with\n%s\nand end with the signature's END line", raw, wantHead)
	}
	if got := s.git("rev-parse", "etl/v1.0.0^{commit}"); got != s.commit.String() {
		t.Errorf("etl/v1.0.0^{commit} = %s, want %s", got, s.commit)
	}

	trusted := s.key.allowedSigners(t, "release@example.com")
	out, err := gitTry(s.dir, "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+trusted, "verify-tag", "etl/v1.0.0")
	if err != nil {
		t.Fatalf("git verify-tag with the signer's key: %v\n%s", err, out)
	}
	fp := ssh.FingerprintSHA256(s.key.pub)
	if want := `Good "git" signature for release@example.com with ECDSA key ` + fp; !strings.Contains(out, want) {
		t.Errorf("git verify-tag output %q does not contain %q", out, want)
	}

	out, err = gitTry(s.dir, "-c", "gpg.ssh.allowedSignersFile="+trusted, "tag", "-v", "etl/v1.0.0")
	if err != nil {
		t.Fatalf("git tag -v: %v\n%s", err, out)
	}
	for _, want := range []string{"object " + s.commit.String(), "tag etl/v1.0.0", "digest: sha256:0123", `Good "git" signature for release@example.com`} {
		if !strings.Contains(out, want) {
			t.Errorf("git tag -v output lacks %q:\n%s", want, out)
		}
	}

	stranger := newSSHKey(t).allowedSigners(t, "release@example.com")
	out, err = gitTry(s.dir, "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+stranger, "verify-tag", "etl/v1.0.0")
	if err == nil {
		t.Errorf("git verify-tag with another key allowed succeeded:\n%s", out)
	}
	// ssh-keygen checks the signature itself ("Good "git" signature with ECDSA key ..."), then finds no principal
	// for the key.
	if strings.Contains(out, "signature for release@example.com") || !strings.Contains(out, "No principal matched") {
		t.Errorf("git verify-tag with another key allowed: output does not say the key is not allowed:\n%s", out)
	}
}

// TestReadTagCreated checks ReadTag on a tag CreateSignedTag made: every field, and a payload and signature that
// sshsig.Verify accepts and that are exactly the object git stores.
func TestReadTagCreated(t *testing.T) {
	s := newSignedRepo(t)
	got, err := s.repo.ReadTag(context.Background(), "etl/v1.0.0")
	if err != nil {
		t.Fatalf("ReadTag: %v", err)
	}
	if got.Name != "etl/v1.0.0" || got.Hash != s.tag || got.Target != s.commit || got.Message != tagMessage {
		t.Errorf("ReadTag = {Name %q, Hash %s, Target %s, Message %q}, want {etl/v1.0.0, %s, %s, %q}",
			got.Name, got.Hash, got.Target, got.Message, s.tag, s.commit, tagMessage)
	}
	if got.Tagger.Name != tagger.Name || got.Tagger.Email != tagger.Email || !got.Tagger.When.Equal(tagger.When) {
		t.Errorf("Tagger = %v, want %v", got.Tagger, tagger)
	}
	if _, off := got.Tagger.When.Zone(); off != 2*3600 {
		t.Errorf("Tagger time zone offset = %d, want +0200", off)
	}
	raw := s.git("cat-file", "tag", "etl/v1.0.0") + "\n"
	if string(got.Payload)+string(got.Signature) != raw {
		t.Errorf("Payload + Signature is not the tag object:\n%q\nwant\n%q", string(got.Payload)+string(got.Signature), raw)
	}
	pub, err := sshsig.Verify(got.Signature, got.Payload, "git")
	if err != nil {
		t.Fatalf("sshsig.Verify(ReadTag): %v", err)
	}
	if !bytes.Equal(pub.Marshal(), s.key.pub.Marshal()) {
		t.Errorf("signed by %s, want %s", ssh.FingerprintSHA256(pub), ssh.FingerprintSHA256(s.key.pub))
	}
	if _, err := sshsig.Verify(got.Signature, append(bytes.Clone(got.Payload), ' '), "git"); err == nil {
		t.Error("sshsig.Verify accepted the signature over an altered payload")
	}

	tags, err := s.repo.PromotionTags(context.Background(), "etl")
	if err != nil {
		t.Fatal(err)
	}
	want := []gitrepo.PromotionTag{{Name: "etl/v1.0.0", Workflow: "etl", Version: "v1.0.0", Hash: s.tag, Annotated: true, Commit: s.commit}}
	if d := cmp.Diff(want, tags); d != "" {
		t.Errorf("PromotionTags mismatch (-want +got):\n%s", d)
	}
}

// TestCreateSignedTagMessage checks that a message gets its final newline, and keeps any it has, and that the tag
// verifies either way.
func TestCreateSignedTagMessage(t *testing.T) {
	s := newSignedRepo(t)
	ctx := context.Background()
	trusted := s.key.allowedSigners(t, "release@example.com")
	for name, msg := range map[string]string{"etl/v1.0.1": "no newline", "etl/v1.0.2": "two lines\n\nand a blank one\n", "etl/v1.0.3": ""} {
		if _, err := s.repo.CreateSignedTag(ctx, name, s.commit, tagger, msg, s.key.sign); err != nil {
			t.Fatalf("CreateSignedTag(%q): %v", msg, err)
		}
		tag, err := s.repo.ReadTag(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		want := msg
		if !strings.HasSuffix(want, "\n") {
			want += "\n"
		}
		if tag.Message != want {
			t.Errorf("message %q stored as %q, want %q", msg, tag.Message, want)
		}
		if out, err := gitTry(s.dir, "-c", "gpg.ssh.allowedSignersFile="+trusted, "verify-tag", name); err != nil {
			t.Errorf("git verify-tag %s: %v\n%s", name, err, out)
		}
	}
}

func TestCreateSignedTagExists(t *testing.T) {
	s := newSignedRepo(t)
	ctx := context.Background()
	s.git("tag", "etl/v0.9.0") // lightweight
	for _, name := range []string{"etl/v1.0.0", "etl/v0.9.0"} {
		called := false
		sign := func(p []byte) ([]byte, error) { called = true; return s.key.sign(p) }
		_, err := s.repo.CreateSignedTag(ctx, name, s.commit, tagger, "again", sign)
		if !errors.Is(err, gitrepo.ErrTagExists) {
			t.Fatalf("CreateSignedTag(%s) again: error = %v, want ErrTagExists", name, err)
		}
		var te *gitrepo.TagError
		if !errors.As(err, &te) || te.Name != name {
			t.Errorf("error = %#v, want *TagError for %s", err, name)
		}
		if called {
			t.Errorf("CreateSignedTag(%s) signed although the tag exists", name)
		}
	}
	if got := s.hash("refs/tags/etl/v1.0.0"); got != s.tag {
		t.Errorf("the existing tag moved to %s", got)
	}
}

// TestCreateSignedTagSignedMeanwhile checks that a tag created while the signer runs is not overwritten.
func TestCreateSignedTagSignedMeanwhile(t *testing.T) {
	s := newSignedRepo(t)
	sign := func(p []byte) ([]byte, error) {
		s.git("tag", "etl/v2.0.0")
		return s.key.sign(p)
	}
	_, err := s.repo.CreateSignedTag(context.Background(), "etl/v2.0.0", s.commit, tagger, "m", sign)
	if !errors.Is(err, gitrepo.ErrTagExists) {
		t.Fatalf("error = %v, want ErrTagExists", err)
	}
	if typ := s.git("cat-file", "-t", "refs/tags/etl/v2.0.0"); typ != "commit" {
		t.Errorf("the tag made meanwhile was replaced by a %s", typ)
	}
}

func TestCreateSignedTagRefused(t *testing.T) {
	s := newSignedRepo(t)
	ctx := context.Background()
	tree := s.hash("HEAD^{tree}")
	errSign := errors.New("signer unavailable")
	noTagger := tagger
	noTagger.Email = ""
	badTagger := tagger
	badTagger.Name = "Eve <eve@example.com>"
	tests := []struct {
		name, tag, msg string
		target         plumbing.Hash
		tagger         object.Signature // zero: tagger
		sign           func([]byte) ([]byte, error)
		want           string
	}{
		{name: "invalid name", tag: "etl/v1..0", msg: "m", target: s.commit, sign: s.key.sign, want: "not a valid tag name"},
		{name: "name with a space", tag: "etl v1", msg: "m", target: s.commit, sign: s.key.sign, want: "not a valid tag name"},
		{name: "full ref name", tag: "refs/tags/x", msg: "m", target: s.commit, sign: s.key.sign, want: "not a valid tag name"},
		{name: "tree target", tag: "etl/v3.0.0", msg: "m", target: tree, sign: s.key.sign, want: "is a tree, not a commit"},
		{name: "missing target", tag: "etl/v3.0.0", msg: "m", target: plumbing.NewHash(strings.Repeat("ab", 20)), sign: s.key.sign, want: "no such object"},
		{name: "signature line in message", tag: "etl/v3.0.0", msg: "a\n-----BEGIN PGP SIGNATURE-----\nb\n", target: s.commit, sign: s.key.sign, want: "take for a signature"},
		{name: "NUL in message", tag: "etl/v3.0.0", msg: "a\x00b", target: s.commit, sign: s.key.sign, want: "NUL"},
		{name: "signer fails", tag: "etl/v3.0.0", msg: "m", target: s.commit, sign: func([]byte) ([]byte, error) { return nil, errSign }, want: "signer unavailable"},
		{name: "signer returns no armor", tag: "etl/v3.0.0", msg: "m", target: s.commit, sign: func([]byte) ([]byte, error) { return []byte("sig"), nil }, want: "no armored signature"},
		{name: "signer returns two blocks", tag: "etl/v3.0.0", msg: "m", target: s.commit, sign: func(p []byte) ([]byte, error) {
			a, _ := s.key.sign(p)
			return append(a, a...), nil
		}, want: "single armored block"},
		{name: "tagger without email", tag: "etl/v3.0.0", msg: "m", target: s.commit, tagger: noTagger, sign: s.key.sign, want: "tagger"},
		{name: "tagger with brackets", tag: "etl/v3.0.0", msg: "m", target: s.commit, tagger: badTagger, sign: s.key.sign, want: "tagger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := tt.tagger
			if tg.When.IsZero() {
				tg = tagger
			}
			_, err := s.repo.CreateSignedTag(ctx, tt.tag, tt.target, tg, tt.msg, tt.sign)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CreateSignedTag error = %v, want one containing %q", err, tt.want)
			}
			if tt.name == "signer fails" && !errors.Is(err, errSign) {
				t.Errorf("error %v does not wrap the signer's error", err)
			}
			if out, err := gitTry(s.dir, "rev-parse", "--verify", "-q", "refs/tags/"+tt.tag); err == nil {
				t.Errorf("a refused tag was created: %s", out)
			}
		})
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.repo.CreateSignedTag(cancelled, "etl/v3.0.0", s.commit, tagger, "m", s.key.sign); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateSignedTag(cancelled context) error = %v, want context.Canceled", err)
	}
}

// TestReadTagGitSigned checks ReadTag on a tag git tag -s signed with an SSH key: sshsig.Verify accepts its payload
// and signature, and reports git's key.
func TestReadTagGitSigned(t *testing.T) {
	r := newRepo(t)
	r.write("a", "a")
	commit := r.commit("first")
	key := newSSHKey(t)
	r.git("-c", "gpg.format=ssh", "-c", "user.signingkey="+key.file, "tag", "-s", "-m", "signed by git", "etl/v2.0.0")
	repo := openRepo(t, r.dir)
	tag, err := repo.ReadTag(context.Background(), "etl/v2.0.0")
	if err != nil {
		t.Fatalf("ReadTag: %v", err)
	}
	if tag.Target != commit || tag.Message != "signed by git\n" || tag.Tagger.Email != "test@maestro.invalid" {
		t.Errorf("ReadTag = {Target %s, Message %q, Tagger %v}, want {%s, %q, test@maestro.invalid}", tag.Target, tag.Message, tag.Tagger, commit, "signed by git\n")
	}
	if !bytes.HasPrefix(tag.Signature, []byte("-----BEGIN SSH SIGNATURE-----\n")) {
		t.Fatalf("Signature = %q, want an SSH signature", tag.Signature)
	}
	pub, err := sshsig.Verify(tag.Signature, tag.Payload, "git")
	if err != nil {
		t.Fatalf("sshsig.Verify(git's tag): %v\npayload:\n%s", err, tag.Payload)
	}
	if !bytes.Equal(pub.Marshal(), key.pub.Marshal()) {
		t.Errorf("signed by %s, want %s", ssh.FingerprintSHA256(pub), ssh.FingerprintSHA256(key.pub))
	}
	raw := r.git("cat-file", "tag", "etl/v2.0.0") + "\n"
	if string(tag.Payload)+string(tag.Signature) != raw {
		t.Errorf("Payload + Signature is not the tag object")
	}
}

func TestReadTagErrors(t *testing.T) {
	s := newSignedRepo(t)
	ctx := context.Background()
	s.git("tag", "light")
	s.git("tag", "-a", "-m", "a tree", "treetag", "HEAD^{tree}")
	s.git("tag", "-a", "-m", "a tag of a tag", "nested", "etl/v1.0.0")
	// A tag object made for etl/v1.0.0 under another name, as if a signed tag were copied to promote another
	// version.
	s.git("update-ref", "refs/tags/etl/v9.0.0", s.tag.String())
	tests := []struct {
		name string
		want error
	}{
		{"etl/v5.0.0", gitrepo.ErrTagNotFound},
		{"light", gitrepo.ErrNotAnnotated},
		{"treetag", gitrepo.ErrTagTarget},
		{"nested", gitrepo.ErrTagTarget},
		{"etl/v9.0.0", gitrepo.ErrTagNameMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag, err := s.repo.ReadTag(ctx, tt.name)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ReadTag(%s) error = %v, want %v", tt.name, err, tt.want)
			}
			var te *gitrepo.TagError
			if !errors.As(err, &te) || te.Name != tt.name || !strings.Contains(err.Error(), tt.name) {
				t.Errorf("error = %#v, want a *TagError naming %s", err, tt.name)
			}
			if tag != nil {
				t.Errorf("ReadTag returned a tag with its error")
			}
		})
	}
}

func TestReadTagUnsigned(t *testing.T) {
	r := newRepo(t)
	r.write("a", "a")
	commit := r.commit("first")
	r.git("tag", "-a", "-m", "not signed", "etl/v1.0.0")
	tag, err := openRepo(t, r.dir).ReadTag(context.Background(), "etl/v1.0.0")
	if err != nil {
		t.Fatalf("ReadTag: %v", err)
	}
	if tag.Signature != nil || tag.Target != commit || tag.Message != "not signed\n" {
		t.Errorf("ReadTag = {Signature %q, Target %s, Message %q}, want no signature, %s, %q", tag.Signature, tag.Target, tag.Message, commit, "not signed\n")
	}
	if raw := r.git("cat-file", "tag", "etl/v1.0.0") + "\n"; string(tag.Payload) != raw {
		t.Errorf("Payload = %q, want the whole object %q", tag.Payload, raw)
	}
}
