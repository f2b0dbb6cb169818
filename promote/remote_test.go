package promote_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/maestro-conductor/maestro/attest"
	"github.com/maestro-conductor/maestro/attest/tlog"
	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/internal/testtools"
	"github.com/maestro-conductor/maestro/promote"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testtools.Cleanup() // the rekor-tiles server built for TestRemoteLog
	os.Exit(code)
}

// A Rekor v2 server is a log promotions go to as it is.
var _ promote.Log = (*tlog.Remote)(nil)

// remoteFixture is a git repository with the etl workflow, a promotion key, and a real rekor-tiles server as the
// transparency log, with the promoter's own first-seen index, as maestro promote --rekor-url keeps it.
type remoteFixture struct {
	t     *testing.T
	dir   string
	repo  *gitrepo.Repo
	key   *ecdsa.PrivateKey
	rekor *testtools.Rekor
	log   *tlog.Remote
	index *tlog.FileIndex
}

func newRemoteFixture(t *testing.T, rekor *testtools.Rekor) *remoteFixture {
	t.Helper()
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	commitFlow(t, dir, flowV1, "v1")
	log, err := tlog.NewRemote(rekor.URL, rekor.LogKey())
	if err != nil {
		t.Fatal(err)
	}
	return &remoteFixture{t: t, dir: dir, repo: openRepo(t, dir), key: newKey(t), rekor: rekor, log: log, index: newFileIndex(t)}
}

func newFileIndex(t *testing.T) *tlog.FileIndex {
	t.Helper()
	x, err := tlog.NewFileIndex(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func (f *remoteFixture) promote(ctx context.Context, version string, index promote.Index) *promote.Result {
	f.t.Helper()
	res, err := promote.Promote(ctx, f.repo, promote.Options{Workflow: "etl", Version: version, Freeze: true, Key: f.key,
		Promoter: "release@example.com", Log: f.log, Index: index})
	if err != nil {
		f.t.Fatalf("Promote(%s) to rekor-tiles: %v", version, err)
	}
	return res
}

// policy trusts the fixture's key and logs (default: the server's own key, origin and tiles URL).
func (f *remoteFixture) policy(index promote.Index, logs ...attest.LogKey) promote.Policy {
	if len(logs) == 0 {
		logs = []attest.LogKey{f.rekor.LogKey()}
	}
	return promote.Policy{Trusted: []*ecdsa.PublicKey{&f.key.PublicKey}, Logs: logs, Index: index}
}

func remoteContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestRemoteLog promotes and verifies with the real rekor-tiles POSIX server (tools/rekor/go.mod) as the
// transparency log, through tlog.Remote: the entry is in the log's tiles, the bundle verifies offline against the
// server's checkpoint key and fails against any other, and the freeze check holds with file indexes.
func TestRemoteLog(t *testing.T) {
	rekor := testtools.StartRekor(t)

	t.Run("promote and verify", func(t *testing.T) {
		ctx := remoteContext(t)
		f := newRemoteFixture(t, rekor)
		first := f.promote(ctx, "1.0.0", f.index)
		commitFlow(t, f.dir, flowV2, "v2")
		second := f.promote(ctx, "1.1.0", f.index)
		if second.LogIndex <= first.LogIndex {
			t.Errorf("log indexes %d then %d, want them to grow", first.LogIndex, second.LogIndex)
		}

		// Each promotion is an entry in the server's log, read back from its tiles by a reader of our own that
		// checks every checkpoint against the server's key.
		reader, err := tlog.NewReader(rekor.LogKey())
		if err != nil {
			t.Fatal(err)
		}
		for _, res := range []*promote.Result{first, second} {
			tle := bundleEntry(t, res.Bundle)
			if tle.GetLogIndex() != res.LogIndex {
				t.Errorf("%s: bundle's entry has log index %d, Promote says %d", res.Tag, tle.GetLogIndex(), res.LogIndex)
			}
			if err := reader.VerifyInclusion(ctx, tle); err != nil {
				t.Errorf("%s: VerifyInclusion: %v", res.Tag, err)
			}
			body, err := reader.Entry(ctx, uint64(res.LogIndex))
			if err != nil {
				t.Fatalf("%s: Entry(%d): %v", res.Tag, res.LogIndex, err)
			}
			if !bytes.Equal(body, tle.GetCanonicalizedBody()) {
				t.Errorf("%s: the log's entry %d is not the bundle's:\n%s\n%s", res.Tag, res.LogIndex, body, tle.GetCanonicalizedBody())
			}
			if note, err := f.repo.Note(ctx, promote.NotesRef, plumbing.NewHash(res.TagObject)); err != nil || !bytes.Equal(note, res.Bundle) {
				t.Errorf("%s: note on the tag object = %.80q, %v; want the bundle", res.Tag, note, err)
			}
		}
		if size, err := reader.Size(ctx); err != nil || size < uint64(second.LogIndex)+1 {
			t.Errorf("log size = %d, %v; want at least %d", size, err, second.LogIndex+1)
		}

		// A verifier with its own, empty index: first seen, then known.
		verifier := newFileIndex(t)
		for _, res := range []*promote.Result{first, second} {
			for _, wantFirst := range []bool{true, false} {
				v, err := promote.Verify(ctx, openRepo(t, f.dir), res.Tag, f.policy(verifier))
				if err != nil {
					t.Fatalf("Verify(%s): %v", res.Tag, err)
				}
				if v.Record != res.Record || v.TagObject != res.TagObject || v.LogIndex != res.LogIndex || v.FirstSeen != wantFirst {
					t.Errorf("Verify(%s) = %+v, want the promotion %+v with FirstSeen %t", res.Tag, v, res, wantFirst)
				}
			}
		}
	})

	t.Run("another log key", func(t *testing.T) {
		ctx := remoteContext(t)
		f := newRemoteFixture(t, rekor)
		res := f.promote(ctx, "1.0.0", f.index)
		otherPub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		right := rekor.LogKey()
		otherKey, otherOrigin := right, right
		otherKey.PublicKey = otherPub
		otherOrigin.Origin = "other.maestro.test"
		for name, logs := range map[string][]attest.LogKey{
			"another checkpoint key":     {otherKey},
			"the key for another origin": {otherOrigin},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := promote.Verify(ctx, openRepo(t, f.dir), res.Tag, f.policy(newFileIndex(t), logs...))
				var verr *promote.VerificationError
				if !errors.As(err, &verr) || verr.Check != promote.CheckBundle || !strings.Contains(verr.Reason, "log") {
					t.Fatalf("Verify = %v, want the bundle check to fail on the log entry", err)
				}
			})
		}
		// The same tag verifies when the right key is trusted as well.
		if _, err := promote.Verify(ctx, openRepo(t, f.dir), res.Tag, f.policy(newFileIndex(t), otherKey, right)); err != nil {
			t.Errorf("Verify trusting the other key and the server's: %v", err)
		}
	})

	// Someone holding the key and an empty index deletes the frozen tag and promotes the version again on another
	// commit. The server logs the new attestation too (it has no search), so what catches it is the first-seen
	// index of whoever saw the first promotion.
	t.Run("version re-promoted with another index", func(t *testing.T) {
		ctx := remoteContext(t)
		f := newRemoteFixture(t, rekor)
		first := f.promote(ctx, "1.0.0", f.index)
		verifier := newFileIndex(t)
		if v, err := promote.Verify(ctx, openRepo(t, f.dir), first.Tag, f.policy(verifier)); err != nil || !v.FirstSeen {
			t.Fatalf("Verify(first promotion) = %+v, %v; want it verified and first seen", v, err)
		}
		git(t, f.dir, "tag", "-d", first.Tag)
		commitFlow(t, f.dir, flowV2, "v2")
		f.repo = openRepo(t, f.dir)
		again := f.promote(ctx, "1.0.0", newFileIndex(t))
		if again.TagObject == first.TagObject || again.LogIndex == first.LogIndex {
			t.Fatalf("second promotion %+v is not a new tag and log entry", again)
		}
		for name, index := range map[string]promote.Index{"verifier's index": verifier, "promoter's index": f.index} {
			_, err := promote.Verify(ctx, openRepo(t, f.dir), first.Tag, f.policy(index))
			var verr *promote.VerificationError
			if !errors.As(err, &verr) || verr.Check != promote.CheckFreeze || !strings.Contains(verr.Reason, "is frozen: its first promotion") {
				t.Errorf("Verify with the %s = %v, want the freeze check to fail", name, err)
			}
		}
		// A verifier that never saw the first promotion takes this one as the first (trust on first use, ADR 5).
		if v, err := promote.Verify(ctx, openRepo(t, f.dir), first.Tag, f.policy(newFileIndex(t))); err != nil || !v.FirstSeen || v.TagObject != again.TagObject {
			t.Errorf("Verify with a fresh index = %+v, %v; want the second promotion, first seen", v, err)
		}
	})
}

// bundleEntry returns the one transparency log entry of a Sigstore bundle.
func bundleEntry(t *testing.T, bundleJSON []byte) *protorekor.TransparencyLogEntry {
	t.Helper()
	var b protobundle.Bundle
	if err := protojson.Unmarshal(bundleJSON, &b); err != nil {
		t.Fatalf("parse bundle: %v", err)
	}
	entries := b.GetVerificationMaterial().GetTlogEntries()
	if len(entries) != 1 {
		t.Fatalf("bundle has %d transparency log entries, want 1", len(entries))
	}
	return entries[0]
}
