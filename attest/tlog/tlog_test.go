package tlog_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"

	rekornote "github.com/sigstore/rekor-tiles/v2/pkg/note"

	"github.com/maestro-conductor/maestro/attest/tlog"
	"github.com/maestro-conductor/maestro/internal/testtools"
)

// logUnderTest is a log to run a test against, with the directory its tiles
// live in (to tamper with).
type logUnderTest struct {
	log      testLog
	tilesDir string
}

// logs returns the two kinds of log every behaviour is checked against: the
// embedded log and a real rekor-tiles server.
func logs(t *testing.T) map[string]func(t *testing.T) logUnderTest {
	return map[string]func(t *testing.T) logUnderTest{
		"embedded": func(t *testing.T) logUnderTest {
			e := openEmbedded(t, filepath.Join(t.TempDir(), "log"), tlog.EmbeddedOptions{})
			return logUnderTest{log: e, tilesDir: filepath.Join(e.Dir(), tlog.TilesDir)}
		},
		"rekor-tiles": func(t *testing.T) logUnderTest {
			s := testtools.StartRekor(t)
			r, err := tlog.NewRemote(s.URL, s.LogKey())
			if err != nil {
				t.Fatal(err)
			}
			return logUnderTest{log: r, tilesDir: s.StorageDir}
		},
	}
}

func openEmbedded(t *testing.T, dir string, opts tlog.EmbeddedOptions) *tlog.Embedded {
	t.Helper()
	e, err := tlog.OpenEmbedded(t.Context(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// TestBundle signs a DSSE envelope with sigstore-go's sign.Bundle into each
// log, then verifies the entry with the Reader and the whole bundle with
// sigstore-go against a trusted root made from the log's key.
func TestBundle(t *testing.T) {
	for name, open := range logs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := testContext(t)
			lut := open(t)
			var prev int64 = -1
			for i := range 3 {
				sb, err := newSignedBundle(ctx, t, lut.log.Transparency(), fmt.Sprint("flow-", i))
				if err != nil {
					t.Fatalf("sign.Bundle: %v", err)
				}
				tles := sb.Bundle.GetVerificationMaterial().GetTlogEntries()
				if len(tles) != 1 {
					t.Fatalf("bundle has %d tlog entries, want 1", len(tles))
				}
				tle := tles[0]
				if tle.GetLogIndex() <= prev {
					t.Errorf("entry %d: index %d, want > %d", i, tle.GetLogIndex(), prev)
				}
				prev = tle.GetLogIndex()
				if kv := tle.GetKindVersion(); kv.GetKind() != "hashedrekord" || kv.GetVersion() != "0.0.2" {
					t.Errorf("kind/version = %v, want hashedrekord 0.0.2", kv)
				}
				wantID, _ := lut.log.LogKey().LogID()
				if !bytes.Equal(tle.GetLogId().GetKeyId(), wantID) {
					t.Errorf("log id = %x, want %x", tle.GetLogId().GetKeyId(), wantID)
				}
				checkTLE(ctx, t, lut.log.Reader(), tle)
				if err := verifyWithSigstore(ctx, t, sb, lut.log.LogKey()); err != nil {
					t.Errorf("sigstore-go verify: %v", err)
				}
			}
			cp, err := lut.log.Reader().Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if cp.Origin != lut.log.LogKey().Origin || cp.Size <= uint64(prev) {
				t.Errorf("checkpoint %q size %d, want origin %q and size > %d", cp.Origin, cp.Size, lut.log.LogKey().Origin, prev)
			}
		})
	}
}

// TestBundleOtherLogKeyFails checks that the sigstore-go verification in
// TestBundle can fail: a trusted root with another key for the same origin.
func TestBundleOtherLogKeyFails(t *testing.T) {
	ctx := testContext(t)
	e := openEmbedded(t, filepath.Join(t.TempDir(), "log"), tlog.EmbeddedOptions{})
	sb, err := newSignedBundle(ctx, t, e.Transparency(), "x")
	if err != nil {
		t.Fatal(err)
	}
	other := e.LogKey()
	other.PublicKey, _, _ = ed25519.GenerateKey(rand.Reader)
	if err := verifyWithSigstore(ctx, t, sb, other); err == nil {
		t.Error("sigstore-go verified the bundle against another log key")
	}
}

// TestWrongLogKey reads each log with a key that did not sign it: the
// checkpoint, entries and inclusion proofs are refused.
func TestWrongLogKey(t *testing.T) {
	otherPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, open := range logs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := testContext(t)
			lut := open(t)
			tle, err := lut.log.Add(ctx, hashedRekord(t, newECDSAKey(t)))
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name string
				edit func(k *tlog.LogKey)
			}{
				{"other public key", func(k *tlog.LogKey) { k.PublicKey = otherPub }},
				{"other origin", func(k *tlog.LogKey) { k.Origin = "other.maestro.test" }},
			} {
				t.Run(tc.name, func(t *testing.T) {
					key := lut.log.LogKey()
					tc.edit(&key)
					r, err := tlog.NewReader(key)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := r.Checkpoint(ctx); !errors.Is(err, tlog.ErrCheckpoint) {
						t.Errorf("Checkpoint() error = %v, want ErrCheckpoint", err)
					}
					if _, err := r.Entry(ctx, uint64(tle.GetLogIndex())); !errors.Is(err, tlog.ErrCheckpoint) {
						t.Errorf("Entry() error = %v, want ErrCheckpoint", err)
					}
					if err := r.VerifyInclusion(ctx, tle); !errors.Is(err, tlog.ErrCheckpoint) {
						t.Errorf("VerifyInclusion() error = %v, want ErrCheckpoint", err)
					}
				})
			}
		})
	}
}

// TestTamperedLog edits the log's files under each reader: an entry bundle,
// a tile, the checkpoint. Each edit is caught.
func TestTamperedLog(t *testing.T) {
	for name, open := range logs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := testContext(t)
			lut := open(t)
			key := newECDSAKey(t)
			var tles []*protorekor.TransparencyLogEntry
			for range 3 {
				tle, err := lut.log.Add(ctx, hashedRekord(t, key))
				if err != nil {
					t.Fatal(err)
				}
				tles = append(tles, tle)
			}
			size, err := lut.log.Reader().Size(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, tle := range tles {
				checkTLE(ctx, t, lut.log.Reader(), tle)
			}
			victim := uint64(tles[1].GetLogIndex())

			t.Run("entry bundle", func(t *testing.T) {
				p := filepath.Join(lut.tilesDir, layout.EntriesPath(victim/layout.EntryBundleWidth, layout.PartialTileSize(0, victim/layout.EntryBundleWidth, size)))
				restore := editFile(t, p, func(b []byte) []byte {
					i := bytes.Index(b, tles[1].GetCanonicalizedBody())
					if i < 0 {
						t.Fatalf("entry %d not found in %s", victim, p)
					}
					b[i+len(b[i:])/3] ^= 1
					return b
				})
				defer restore()
				r, _ := tlog.NewReader(lut.log.LogKey())
				if _, err := r.Entry(ctx, victim); !errors.Is(err, tlog.ErrTampered) {
					t.Errorf("Entry(%d) error = %v, want ErrTampered", victim, err)
				}
			})
			t.Run("tile", func(t *testing.T) {
				p := filepath.Join(lut.tilesDir, layout.TilePath(0, 0, layout.PartialTileSize(0, 0, size)))
				restore := editFile(t, p, func(b []byte) []byte {
					b[int(victim)*32] ^= 1 // the leaf hash of the victim
					return b
				})
				defer restore()
				// The victim's own proof does not use its leaf hash (it is
				// computed from the entry), every other entry's proof does.
				r, _ := tlog.NewReader(lut.log.LogKey())
				for i := range size {
					if i == victim {
						continue
					}
					if _, err := r.Entry(ctx, i); !errors.Is(err, tlog.ErrTampered) {
						t.Errorf("Entry(%d) error = %v, want ErrTampered", i, err)
					}
				}
			})
			t.Run("checkpoint signature", func(t *testing.T) {
				p := filepath.Join(lut.tilesDir, layout.CheckpointPath)
				restore := editFile(t, p, func(b []byte) []byte {
					// Claim a tree one entry larger, keeping the signature.
					return bytes.Replace(b, fmt.Appendf(nil, "\n%d\n", size), fmt.Appendf(nil, "\n%d\n", size+1), 1)
				})
				defer restore()
				r, _ := tlog.NewReader(lut.log.LogKey())
				if _, err := r.Checkpoint(ctx); !errors.Is(err, tlog.ErrCheckpoint) {
					t.Errorf("Checkpoint() error = %v, want ErrCheckpoint", err)
				}
			})
			// After every edit is undone, the log verifies again: the failures
			// above came from the edits.
			for _, tle := range tles {
				checkTLE(ctx, t, lut.log.Reader(), tle)
			}
		})
	}
}

// editFile replaces the file at p with edit(its content) and returns a
// function that restores it.
func editFile(t *testing.T, p string, edit func([]byte) []byte) func() {
	t.Helper()
	orig, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, edit(bytes.Clone(orig)), 0o644); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.WriteFile(p, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestForkedCheckpoint gives a reader a correctly signed checkpoint that
// contradicts one it verified before (what a log that rewrote its history
// would publish): the reader refuses it.
func TestForkedCheckpoint(t *testing.T) {
	ctx := testContext(t)
	dir := filepath.Join(t.TempDir(), "log")
	e := openEmbedded(t, dir, tlog.EmbeddedOptions{})
	key := newECDSAKey(t)
	var tles []*protorekor.TransparencyLogEntry
	for range 2 {
		tle, err := e.Add(ctx, hashedRekord(t, key))
		if err != nil {
			t.Fatal(err)
		}
		tles = append(tles, tle)
	}
	r := e.Reader()
	cp, err := r.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Sign, with the log's own key, a checkpoint of the same size and another root.
	forged := signCheckpoint(t, dir, e.LogKey(), log.Checkpoint{Origin: cp.Origin, Size: cp.Size, Hash: rfc6962.DefaultHasher.HashLeaf([]byte("forged"))})
	restore := editFile(t, filepath.Join(dir, tlog.TilesDir, layout.CheckpointPath), func([]byte) []byte { return forged })
	if _, err := r.Checkpoint(ctx); !errors.Is(err, tlog.ErrInconsistent) {
		t.Errorf("Checkpoint() after a fork: error = %v, want ErrInconsistent", err)
	}
	// An entry logged under the real history does not verify in the forked one.
	fresh, _ := tlog.NewReader(e.LogKey())
	if err := fresh.VerifyInclusion(ctx, tles[0]); !errors.Is(err, tlog.ErrInconsistent) {
		t.Errorf("VerifyInclusion() in a forked log: error = %v, want ErrInconsistent", err)
	}
	restore()
	if _, err := r.Checkpoint(ctx); err != nil {
		t.Errorf("Checkpoint() after restoring: %v", err)
	}
}

func signCheckpoint(t *testing.T, dir string, key tlog.LogKey, cp log.Checkpoint) []byte {
	t.Helper()
	sv, err := signature.LoadSignerVerifierFromPEMFile(filepath.Join(dir, "log.key"), crypto.Hash(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := rekornote.NewNoteSigner(t.Context(), key.Origin, sv)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Sign(&note.Note{Text: string(cp.Marshal())}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTamperedEntry edits a TransparencyLogEntry: its body, a proof hash,
// its checkpoint, its index. VerifyInclusion refuses each.
func TestTamperedEntry(t *testing.T) {
	ctx := testContext(t)
	e := openEmbedded(t, filepath.Join(t.TempDir(), "log"), tlog.EmbeddedOptions{})
	key := newECDSAKey(t)
	var tle *protorekor.TransparencyLogEntry
	for range 5 { // enough entries for a proof with hashes
		var err error
		if tle, err = e.Add(ctx, hashedRekord(t, key)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		edit func(*protorekor.TransparencyLogEntry)
		want error
	}{
		{"unchanged", func(*protorekor.TransparencyLogEntry) {}, nil},
		{"body", func(x *protorekor.TransparencyLogEntry) { x.CanonicalizedBody[10] ^= 1 }, tlog.ErrInclusion},
		{"proof hash", func(x *protorekor.TransparencyLogEntry) { x.InclusionProof.Hashes[0][0] ^= 1 }, tlog.ErrInclusion},
		{"index", func(x *protorekor.TransparencyLogEntry) { x.LogIndex--; x.InclusionProof.LogIndex-- }, tlog.ErrInclusion},
		{"checkpoint", func(x *protorekor.TransparencyLogEntry) {
			lines := strings.SplitN(x.InclusionProof.Checkpoint.Envelope, "\n", 3)
			lines[1] += "0" // the tree size, under the same signature
			x.InclusionProof.Checkpoint.Envelope = strings.Join(lines, "\n")
		}, tlog.ErrCheckpoint},
		{"log id", func(x *protorekor.TransparencyLogEntry) { x.LogId.KeyId[0] ^= 1 }, tlog.ErrCheckpoint},
		{"no proof", func(x *protorekor.TransparencyLogEntry) { x.InclusionProof = nil }, tlog.ErrInclusion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := proto.Clone(tle).(*protorekor.TransparencyLogEntry)
			tc.edit(x)
			err := e.Reader().VerifyInclusion(ctx, x)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("VerifyInclusion() error = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestEmbeddedReopen appends, closes, reopens: the entries, key and origin
// are still there, the log grows on from where it was, and old entries
// verify against the new checkpoint.
func TestEmbeddedReopen(t *testing.T) {
	ctx := testContext(t)
	dir := filepath.Join(t.TempDir(), "log")
	key := newECDSAKey(t)
	var tles []*protorekor.TransparencyLogEntry
	var logKey tlog.LogKey
	for round := range 3 {
		e, err := tlog.OpenEmbedded(ctx, dir, tlog.EmbeddedOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			logKey = e.LogKey()
		} else if got := e.LogKey(); got.Origin != logKey.Origin || !logKey.PublicKey.(ed25519.PublicKey).Equal(got.PublicKey) {
			t.Errorf("round %d: log key %v, want %v", round, got, logKey)
		}
		for range 4 {
			tle, err := e.Add(ctx, hashedRekord(t, key))
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(len(tles)); tle.GetLogIndex() != want {
				t.Errorf("round %d: index %d, want %d", round, tle.GetLogIndex(), want)
			}
			tles = append(tles, tle)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// A verifier on the same machine reads the key from the directory.
	readKey, err := tlog.ReadEmbeddedLogKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if readKey.Origin != logKey.Origin || readKey.BaseURL != logKey.BaseURL || !logKey.PublicKey.(ed25519.PublicKey).Equal(readKey.PublicKey) {
		t.Errorf("ReadEmbeddedLogKey = %+v, want %+v", readKey, logKey)
	}
	r, err := tlog.NewReader(readKey)
	if err != nil {
		t.Fatal(err)
	}
	if size, err := r.Size(ctx); err != nil || size != uint64(len(tles)) {
		t.Errorf("Size() = %d, %v; want %d", size, err, len(tles))
	}
	for _, tle := range tles {
		checkTLE(ctx, t, r, tle)
	}
	if _, err := tlog.OpenEmbedded(ctx, dir, tlog.EmbeddedOptions{Origin: "another.maestro.test"}); !errors.Is(err, tlog.ErrOriginMismatch) {
		t.Errorf("OpenEmbedded with another origin: error = %v, want ErrOriginMismatch", err)
	}
	fi, err := os.Stat(filepath.Join(dir, "log.key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("log.key mode = %v, want 0600", fi.Mode().Perm())
	}
	pub, err := os.ReadFile(filepath.Join(dir, "log.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if k, err := tlog.ParsePublicKeyPEM(pub); err != nil || !logKey.PublicKey.(ed25519.PublicKey).Equal(k) {
		t.Errorf("log.pub = %v, %v; want the log key", k, err)
	}
}

// TestEmbeddedOrigin checks the configured and the default origin.
func TestEmbeddedOrigin(t *testing.T) {
	ctx := testContext(t)
	e := openEmbedded(t, filepath.Join(t.TempDir(), "log"), tlog.EmbeddedOptions{Origin: "log.example.test"})
	if got := e.LogKey().Origin; got != "log.example.test" {
		t.Errorf("origin = %q, want log.example.test", got)
	}
	if _, err := e.Add(ctx, hashedRekord(t, newECDSAKey(t))); err != nil {
		t.Fatal(err)
	}
	if cp, err := e.Reader().Checkpoint(ctx); err != nil || cp.Origin != "log.example.test" {
		t.Errorf("checkpoint origin = %v, %v", cp, err)
	}
	d := openEmbedded(t, filepath.Join(t.TempDir(), "log"), tlog.EmbeddedOptions{})
	if o := d.LogKey().Origin; !strings.HasPrefix(o, "log-") || !strings.HasSuffix(o, ".maestro.local") {
		t.Errorf("default origin = %q, want log-<hex>.maestro.local", o)
	}
	for _, bad := range []string{"maestro.local/abc", "has space", "a+b"} {
		if _, err := tlog.OpenEmbedded(ctx, filepath.Join(t.TempDir(), "log"), tlog.EmbeddedOptions{Origin: bad}); err == nil {
			t.Errorf("OpenEmbedded(origin %q) succeeded, want an error", bad)
		}
	}
}

// TestConcurrentAppends has 8 goroutines append at once: every entry gets its
// own index and verifies. The rekor-tiles server answers no sooner than its
// one-second publication poll, so it gets fewer rounds.
func TestConcurrentAppends(t *testing.T) {
	perGoroutine := map[string]int{"embedded": 50, "rekor-tiles": 5}
	for name, open := range logs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := testContext(t)
			lut := open(t)
			const goroutines = 8
			n := perGoroutine[name]
			tles := make([][]*protorekor.TransparencyLogEntry, goroutines)
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					key := newECDSAKey(t)
					for range n {
						tle, err := lut.log.Add(ctx, hashedRekord(t, key))
						if err != nil {
							t.Error(err)
							return
						}
						tles[g] = append(tles[g], tle)
					}
				}()
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			seen := map[int64]bool{}
			r := lut.log.Reader()
			for _, list := range tles {
				for _, tle := range list {
					if seen[tle.GetLogIndex()] {
						t.Errorf("index %d given twice", tle.GetLogIndex())
					}
					seen[tle.GetLogIndex()] = true
					checkTLE(ctx, t, r, tle)
				}
			}
			if len(seen) != goroutines*n {
				t.Errorf("%d distinct indices, want %d", len(seen), goroutines*n)
			}
		})
	}
}

// TestDuplicate appends the same entry twice. The embedded log answers the
// retry with the first entry; rekor-tiles answers 409 Conflict.
func TestDuplicate(t *testing.T) {
	for name, open := range logs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := testContext(t)
			lut := open(t)
			req := hashedRekord(t, newECDSAKey(t))
			first, err := lut.log.Add(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			again, err := lut.log.Add(ctx, req)
			switch name {
			case "embedded":
				if err != nil {
					t.Fatalf("second Add: %v", err)
				}
				if again.GetLogIndex() != first.GetLogIndex() {
					t.Errorf("second Add: index %d, want the first entry's %d", again.GetLogIndex(), first.GetLogIndex())
				}
				checkTLE(ctx, t, lut.log.Reader(), again)
			default:
				if err == nil || !strings.Contains(err.Error(), "409") {
					t.Errorf("second Add: error %v, want 409 Conflict", err)
				}
			}
			if size, err := lut.log.Reader().Size(ctx); err != nil || size != uint64(first.GetLogIndex())+1 {
				t.Errorf("Size() = %d, %v; want %d (no second entry)", size, err, first.GetLogIndex()+1)
			}
		})
	}
}

// TestInvalidEntry checks that both logs refuse what rekor-tiles refuses.
func TestInvalidEntry(t *testing.T) {
	for name, open := range logs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := testContext(t)
			lut := open(t)
			key := newECDSAKey(t)
			badSig := hashedRekord(t, key)
			badSig.Signature.Content[8] ^= 1
			shortDigest := hashedRekord(t, key)
			shortDigest.Digest = shortDigest.Digest[:20]
			for _, tc := range []struct {
				name  string
				entry any
			}{
				{"bad signature", badSig},
				{"short digest", shortDigest},
				{"not a hashedrekord", []byte("hello")},
			} {
				t.Run(tc.name, func(t *testing.T) {
					_, err := lut.log.Add(ctx, tc.entry)
					if err == nil {
						t.Fatal("Add succeeded, want an error")
					}
					if _, ok := lut.log.(*tlog.Embedded); ok && !errors.Is(err, tlog.ErrInvalidEntry) {
						t.Errorf("Add error = %v, want ErrInvalidEntry", err)
					}
				})
			}
			if size, err := lut.log.Reader().Size(ctx); err != nil || size != 0 {
				t.Errorf("Size() = %d, %v; want 0", size, err)
			}
		})
	}
}

// TestEmbeddedSharedInProcess opens one directory twice in one process: both
// handles append to one log, and closing one leaves the other working.
func TestEmbeddedSharedInProcess(t *testing.T) {
	ctx := testContext(t)
	dir := filepath.Join(t.TempDir(), "log")
	a, err := tlog.OpenEmbedded(ctx, dir, tlog.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := openEmbedded(t, dir, tlog.EmbeddedOptions{})
	key := newECDSAKey(t)
	ta, err := a.Add(ctx, hashedRekord(t, key))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Add(ctx, hashedRekord(t, key)); !errors.Is(err, tlog.ErrClosed) {
		t.Errorf("Add after Close: error = %v, want ErrClosed", err)
	}
	tb, err := b.Add(ctx, hashedRekord(t, key))
	if err != nil {
		t.Fatal(err)
	}
	if tb.GetLogIndex() != ta.GetLogIndex()+1 {
		t.Errorf("second handle appended at %d, want %d", tb.GetLogIndex(), ta.GetLogIndex()+1)
	}
	checkTLE(ctx, t, b.Reader(), ta)
	checkTLE(ctx, t, b.Reader(), tb)
}

// TestEntryNotFound asks for an entry past the end of the log.
func TestEntryNotFound(t *testing.T) {
	ctx := testContext(t)
	e := openEmbedded(t, filepath.Join(t.TempDir(), "log"), tlog.EmbeddedOptions{})
	if _, err := e.Reader().Entry(ctx, 0); !errors.Is(err, tlog.ErrNotFound) {
		t.Errorf("Entry(0) of an empty log: error = %v, want ErrNotFound", err)
	}
}

// TestFileIndexClaimRace has goroutines claim one key at once: exactly one
// creates it and all of them get its record.
func TestFileIndexClaimRace(t *testing.T) {
	ctx := testContext(t)
	x, err := tlog.NewFileIndex(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := x.Lookup(ctx, "k"); ok || err != nil {
		t.Fatalf("Lookup before any claim = %v, %v", ok, err)
	}
	for round := range 20 {
		key := fmt.Sprint("repo/flow@v", round)
		const n = 2
		var wg sync.WaitGroup
		var mu sync.Mutex
		var created []string
		firsts := map[string]bool{}
		start := make(chan struct{})
		for g := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec := fmt.Sprint("record-", g)
				<-start
				first, ok, err := x.Claim(ctx, key, []byte(rec))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if ok {
					created = append(created, rec)
				}
				firsts[string(first)] = true
			}()
		}
		close(start)
		wg.Wait()
		if len(created) != 1 || len(firsts) != 1 || !firsts[created[0]] {
			t.Fatalf("%s: created by %v, first records %v; want exactly one of each, the same", key, created, firsts)
		}
		rec, ok, err := x.Lookup(ctx, key)
		if err != nil || !ok || string(rec) != created[0] {
			t.Errorf("Lookup(%s) = %q, %v, %v; want %q", key, rec, ok, err, created[0])
		}
	}
	// The embedded log keeps its index beside it.
	e := openEmbedded(t, filepath.Join(t.TempDir(), "log"), tlog.EmbeddedOptions{})
	if got, want := e.Index().Dir(), filepath.Join(e.Dir(), tlog.IndexDir); got != want {
		t.Errorf("Index().Dir() = %s, want %s", got, want)
	}
}

var _ = context.Background
