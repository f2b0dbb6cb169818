package promote_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/maestro-conductor/maestro/attest"
	"github.com/maestro-conductor/maestro/attest/tlog"
	"github.com/maestro-conductor/maestro/digest"
	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/promote"
	"github.com/maestro-conductor/maestro/sshsig"
	"github.com/maestro-conductor/maestro/workflow"
)

const flowV1 = `apiVersion: maestro.dev/v1
kind: Workflow
metadata: {name: etl}
spec:
  tasks:
    extract:
      package: registry.example.com/etl/extract@sha256:1111111111111111111111111111111111111111111111111111111111111111
    load:
      package: registry.example.com/etl/load@sha256:2222222222222222222222222222222222222222222222222222222222222222
      dependsOn: [extract]
`

var flowV2 = strings.Replace(flowV1, "2222222222222222222222222222222222222222222222222222222222222222", "3333333333333333333333333333333333333333333333333333333333333333", 1)

// fixture is a git repository with the etl workflow, a transparency log and a promotion key.
type fixture struct {
	t     *testing.T
	dir   string
	repo  *gitrepo.Repo
	log   *tlog.Embedded
	index promote.Index
	key   *ecdsa.PrivateKey
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	commitFlow(t, dir, flowV1, "v1")
	ctx := context.Background()
	l, err := tlog.OpenEmbedded(ctx, filepath.Join(t.TempDir(), "log"), tlog.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &fixture{t: t, dir: dir, repo: openRepo(t, dir), log: l, index: l.Index(), key: newKey(t)}
}

func openRepo(t *testing.T, dir string) *gitrepo.Repo {
	t.Helper()
	r, err := gitrepo.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func commitFlow(t *testing.T, dir, content, msg string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "workflows", "etl.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", msg)
	return git(t, dir, "rev-parse", "HEAD")
}

type embedded struct{ *tlog.Embedded }

func (e embedded) LogKey() attest.LogKey { return attest.LogKey(e.Embedded.LogKey()) }

func (f *fixture) options(version string) promote.Options {
	return promote.Options{Workflow: "etl", Version: version, Freeze: true, Key: f.key, Promoter: "release@example.com",
		Log: embedded{f.log}, Index: f.index, Now: func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }}
}

func (f *fixture) promote(version string) *promote.Result {
	f.t.Helper()
	res, err := promote.Promote(context.Background(), f.repo, f.options(version))
	if err != nil {
		f.t.Fatalf("Promote(%s): %v", version, err)
	}
	return res
}

func (f *fixture) policy(index promote.Index, keys ...*ecdsa.PublicKey) promote.Policy {
	if len(keys) == 0 {
		keys = []*ecdsa.PublicKey{&f.key.PublicKey}
	}
	return promote.Policy{Trusted: keys, Logs: []attest.LogKey{attest.LogKey(f.log.LogKey())}, Index: index}
}

func TestPromoteAndVerify(t *testing.T) {
	f := newFixture(t)
	res := f.promote("1.0.0")
	if res.Tag != "etl/v1.0.0" || !res.Record.Frozen || res.Record.Promoter != "release@example.com" {
		t.Fatalf("unexpected result %+v", res)
	}
	if res.Record.Commit != git(t, f.dir, "rev-parse", "HEAD") {
		t.Errorf("record commit %s is not HEAD", res.Record.Commit)
	}
	// git itself accepts the signature with the key in an allowed-signers file, and refuses another key.
	allowed := filepath.Join(t.TempDir(), "allowed_signers")
	writeAllowed(t, allowed, &f.key.PublicKey)
	git(t, f.dir, "-c", "gpg.ssh.allowedSignersFile="+allowed, "verify-tag", "etl/v1.0.0")
	other := filepath.Join(t.TempDir(), "other_signers")
	writeAllowed(t, other, &newKey(t).PublicKey)
	if out, err := gitErr(f.dir, "-c", "gpg.ssh.allowedSignersFile="+other, "verify-tag", "etl/v1.0.0"); err == nil {
		t.Errorf("git verify-tag accepted the tag with another key in the allowed-signers file:\n%s", out)
	}
	// git notes show the bundle.
	if note := git(t, f.dir, "notes", "--ref=maestro", "show", res.TagObject); !strings.Contains(note, `"dsseEnvelope"`) {
		t.Errorf("the note on the tag object is not a bundle: %.200s", note)
	}

	v, err := promote.Verify(context.Background(), f.repo, "etl/v1.0.0", f.policy(f.index))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if v.Record != res.Record || v.TagObject != res.TagObject || v.LogIndex != res.LogIndex || v.FirstSeen {
		t.Errorf("Verify = %+v, want the promotion %+v (already in the index)", v, res)
	}
	// A fresh verifier's index records it as first seen.
	fresh, err := tlog.NewFileIndex(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if v, err := promote.Verify(context.Background(), f.repo, "etl/v1.0.0", f.policy(fresh)); err != nil || !v.FirstSeen {
		t.Errorf("Verify with a fresh index = %+v, %v; want first seen", v, err)
	}
}

func writeAllowed(t *testing.T, path string, pub *ecdsa.PublicKey) {
	t.Helper()
	line, err := attest.AllowedSignersLine(pub, "release@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func gitErr(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestPromoteRefusals(t *testing.T) {
	unpinned := strings.Replace(flowV1, "@sha256:1111111111111111111111111111111111111111111111111111111111111111", ":1.4", 1)
	tests := []struct {
		name   string
		setup  func(f *fixture)
		opts   func(f *fixture) promote.Options
		reason string
	}{
		{"not semver", nil, func(f *fixture) promote.Options { return f.options("1.2") }, "not a semantic version"},
		{"unpinned package", func(f *fixture) { commitFlow(t, f.dir, unpinned, "unpinned") },
			func(f *fixture) promote.Options { return f.options("1.0.0") }, "not pinned by digest"},
		{"frozen version promoted again", func(f *fixture) { f.promote("1.0.0") },
			func(f *fixture) promote.Options { return f.options("1.0.0") }, "already exists"},
		{"same digest under another version", func(f *fixture) { f.promote("1.0.0") },
			func(f *fixture) promote.Options { return f.options("1.1.0") }, "already promoted as etl/v1.0.0"},
		{"older than the latest", func(f *fixture) { f.promote("2.0.0"); commitFlow(t, f.dir, flowV2, "v2") },
			func(f *fixture) promote.Options { return f.options("1.5.0") }, "etl/v2.0.0 is newer"},
		{"tag deleted, version promoted again", func(f *fixture) {
			f.promote("1.0.0")
			git(t, f.dir, "tag", "-d", "etl/v1.0.0")
			commitFlow(t, f.dir, flowV2, "v2")
		}, func(f *fixture) promote.Options { return f.options("1.0.0") }, "was promoted before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			tagsBefore := git(t, f.dir, "tag", "-l")
			_, err := promote.Promote(context.Background(), f.repo, tt.opts(f))
			var refusal *promote.Refusal
			if !errors.As(err, &refusal) {
				t.Fatalf("Promote error = %v, want a *promote.Refusal", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Promote error = %q, want it to say %q", err, tt.reason)
			}
			if after := git(t, f.dir, "tag", "-l"); after != tagsBefore {
				t.Errorf("a refused promotion changed the tags: before %q, after %q", tagsBefore, after)
			}
		})
	}
	t.Run("allow older", func(t *testing.T) {
		f := newFixture(t)
		f.promote("2.0.0")
		commitFlow(t, f.dir, flowV2, "v2")
		opts := f.options("1.5.0")
		opts.AllowOlder = true
		if _, err := promote.Promote(context.Background(), f.repo, opts); err != nil {
			t.Fatalf("Promote with AllowOlder: %v", err)
		}
	})
}

// forgeTag replaces the tag with one signed by key whose message is msg (the tag of the fixture, changed by edit),
// pointing at commit, and copies the note of noteFrom onto it.
func forgeTag(t *testing.T, f *fixture, name, commit string, key *ecdsa.PrivateKey, edit func(promote.Record) promote.Record, noteFrom string) {
	t.Helper()
	ctx := context.Background()
	old, err := f.repo.ReadTag(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := promote.ParseMessage(old.Message)
	if err != nil {
		t.Fatal(err)
	}
	rec = edit(rec)
	msg, err := rec.Message()
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := f.repo.Note(ctx, promote.NotesRef, mustHash(t, f, noteFrom))
	if err != nil {
		t.Fatal(err)
	}
	git(t, f.dir, "tag", "-d", name)
	f.repo = openRepo(t, f.dir)
	target := mustCommit(t, f, commit)
	h, err := f.repo.CreateSignedTag(ctx, name, target, object.Signature{Name: "mallory", Email: "m@example.com", When: time.Now()}, msg,
		func(p []byte) ([]byte, error) { return sshsig.Sign(key, p, promote.SignatureNamespace) })
	if err != nil {
		t.Fatal(err)
	}
	if err := f.repo.AddNote(ctx, promote.NotesRef, h, bundle, object.Signature{Name: "m", Email: "m@example.com", When: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyRefusesForgeries(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		forge func(t *testing.T, f *fixture) promote.Policy
		check string
		says  string
	}{
		{"tag signed by an unknown key", func(t *testing.T, f *fixture) promote.Policy {
			res := f.promote("1.0.0")
			forgeTag(t, f, "etl/v1.0.0", res.Record.Commit, newKey(t), func(r promote.Record) promote.Record { return r }, res.TagObject)
			return f.policy(f.index)
		}, promote.CheckSignature, "not a trusted promoter key"},
		{"tag deleted and recreated on another commit", func(t *testing.T, f *fixture) promote.Policy {
			res := f.promote("1.0.0")
			c2 := commitFlow(t, f.dir, flowV2, "v2")
			forgeTag(t, f, "etl/v1.0.0", c2, f.key, func(r promote.Record) promote.Record {
				r.Commit = c2
				r.Digest = digestAt(t, f, c2)
				return r
			}, res.TagObject)
			return f.policy(f.index)
		}, promote.CheckStatement, "not about graph"},
		{"record digest edited", func(t *testing.T, f *fixture) promote.Policy {
			res := f.promote("1.0.0")
			forgeTag(t, f, "etl/v1.0.0", res.Record.Commit, f.key, func(r promote.Record) promote.Record {
				r.Digest = digest.Digest("sha256:" + strings.Repeat("ab", 32))
				return r
			}, res.TagObject)
			return f.policy(f.index)
		}, promote.CheckDigest, "the record says sha256:abab"},
		{"tag re-signed, same content", func(t *testing.T, f *fixture) promote.Policy {
			res := f.promote("1.0.0")
			forgeTag(t, f, "etl/v1.0.0", res.Record.Commit, f.key, func(r promote.Record) promote.Record { return r }, res.TagObject)
			return f.policy(f.index)
		}, promote.CheckStatement, "the tag was re-made after it was attested"},
		{"bundle for another digest", func(t *testing.T, f *fixture) promote.Policy {
			first := f.promote("1.0.0")
			commitFlow(t, f.dir, flowV2, "v2")
			second := f.promote("1.1.0")
			forgeTag(t, f, "etl/v1.1.0", second.Record.Commit, f.key, func(r promote.Record) promote.Record { return r }, first.TagObject)
			return f.policy(f.index)
		}, promote.CheckStatement, "not about graph"},
		{"version re-promoted elsewhere after the first was frozen", func(t *testing.T, f *fixture) promote.Policy {
			f.promote("1.0.0")
			verifier := f.index // this machine saw the first promotion
			git(t, f.dir, "tag", "-d", "etl/v1.0.0")
			commitFlow(t, f.dir, flowV2, "v2")
			f.repo = openRepo(t, f.dir)
			elsewhere, err := tlog.NewFileIndex(t.TempDir()) // someone with the key and an empty index
			if err != nil {
				t.Fatal(err)
			}
			opts := f.options("1.0.0")
			opts.Index = elsewhere
			if _, err := promote.Promote(ctx, f.repo, opts); err != nil {
				t.Fatal(err)
			}
			return f.policy(verifier)
		}, promote.CheckFreeze, "is frozen: its first promotion"},
		{"checkpoint signed by another log", func(t *testing.T, f *fixture) promote.Policy {
			f.promote("1.0.0")
			other, err := tlog.OpenEmbedded(ctx, filepath.Join(t.TempDir(), "other"), tlog.EmbeddedOptions{Origin: f.log.LogKey().Origin})
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			p := f.policy(f.index)
			p.Logs = []attest.LogKey{attest.LogKey(other.LogKey())}
			return p
		}, promote.CheckBundle, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			p := tt.forge(t, f)
			tag := "etl/v1.0.0"
			if strings.Contains(tt.name, "another digest") {
				tag = "etl/v1.1.0"
			}
			_, err := promote.Verify(ctx, openRepo(t, f.dir), tag, p)
			var verr *promote.VerificationError
			if !errors.As(err, &verr) {
				t.Fatalf("Verify error = %v, want a *promote.VerificationError", err)
			}
			if verr.Check != tt.check || !strings.Contains(verr.Reason, tt.says) {
				t.Errorf("Verify failed check %q: %q; want check %q saying %q", verr.Check, verr.Reason, tt.check, tt.says)
			}
		})
	}
}

func TestVerifyWithoutNote(t *testing.T) {
	f := newFixture(t)
	res := f.promote("1.0.0")
	git(t, f.dir, "notes", "--ref=maestro", "remove", res.TagObject)
	_, err := promote.Verify(context.Background(), openRepo(t, f.dir), "etl/v1.0.0", f.policy(f.index))
	var verr *promote.VerificationError
	if !errors.As(err, &verr) || verr.Check != promote.CheckBundle {
		t.Fatalf("Verify = %v, want the bundle check to fail", err)
	}
}

func mustCommit(t *testing.T, f *fixture, rev string) plumbing.Hash {
	t.Helper()
	h, err := f.repo.Resolve(rev)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustHash(t *testing.T, f *fixture, hexHash string) plumbing.Hash {
	t.Helper()
	if len(hexHash) != 40 {
		t.Fatalf("bad hash %q", hexHash)
	}
	return plumbing.NewHash(hexHash)
}

func digestAt(t *testing.T, f *fixture, commit string) digest.Digest {
	t.Helper()
	fsys, err := f.repo.FS(context.Background(), commit)
	if err != nil {
		t.Fatal(err)
	}
	set, err := workflow.Load(fsys, "workflows", workflow.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := digest.Of(set.Get("etl"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestVerifyCacheParsesACommitOnce(t *testing.T) {
	f := newFixture(t)
	f.promote("1.0.0")
	cache := promote.NewCache(4)
	p := f.policy(f.index)
	p.Cache = cache
	for range 3 {
		if _, err := promote.Verify(context.Background(), f.repo, "etl/v1.0.0", p); err != nil {
			t.Fatal(err)
		}
	}
	if n := cache.Len(); n != 1 {
		t.Errorf("cache holds %d commits after verifying one tag three times, want 1", n)
	}
	// A cache never outgrows its capacity.
	small := promote.NewCache(1)
	p.Cache = small
	commitFlow(t, f.dir, flowV2, "v2")
	f.repo = openRepo(t, f.dir)
	f.promote("1.1.0")
	for _, tag := range []string{"etl/v1.0.0", "etl/v1.1.0", "etl/v1.0.0"} {
		if _, err := promote.Verify(context.Background(), f.repo, tag, p); err != nil {
			t.Fatalf("Verify(%s) with a one-commit cache: %v", tag, err)
		}
	}
	if n := small.Len(); n != 1 {
		t.Errorf("a cache of capacity 1 holds %d commits", n)
	}
}
