package tlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	rekorclient "github.com/sigstore/rekor-tiles/v2/pkg/client"
	"github.com/sigstore/rekor-tiles/v2/pkg/client/read"
	f_log "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
	tclient "github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// Reader reads a tiled transparency log (the embedded one from its directory,
// a Rekor v2 server over HTTP) and verifies everything it returns against the
// log's key: checkpoints by signature, entries and inclusion proofs by Merkle
// proofs up to a verified checkpoint. It remembers the largest checkpoint it
// has verified and refuses any later one that is not consistent with it, so a
// log that forks or rewrites its past is caught. A Reader is safe for
// concurrent use.
type Reader struct {
	key      LogKey
	logID    []byte
	verifier note.Verifier
	src      read.Client

	mu   sync.Mutex
	seen *f_log.Checkpoint // the largest verified checkpoint so far
}

// NewReader returns a Reader for the log at key.BaseURL: a file:// URL names
// the embedded log's tile directory, an http(s) URL a Rekor v2 tiles endpoint
// (read with rekor-tiles' read client, which takes opts).
func NewReader(key LogKey, opts ...rekorclient.Option) (*Reader, error) {
	u, err := url.Parse(key.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("log base URL %q: %w", key.BaseURL, err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("log base URL %q: a file URL must name a local path", key.BaseURL)
		}
		return newFileReader(u.Path, key)
	case "http", "https":
		sv, err := signatureVerifier(key)
		if err != nil {
			return nil, err
		}
		src, err := read.NewReader(key.BaseURL, key.Origin, sv, opts...)
		if err != nil {
			return nil, fmt.Errorf("log reader for %s: %w", key.BaseURL, err)
		}
		return newReader(key, src)
	default:
		return nil, fmt.Errorf("log base URL %q: want file://, http:// or https://", key.BaseURL)
	}
}

func newFileReader(dir string, key LogKey) (*Reader, error) {
	if dir == "" {
		return nil, errors.New("log directory is empty")
	}
	v, err := noteVerifier(key)
	if err != nil {
		return nil, err
	}
	return newReader(key, &fileSource{f: tclient.FileFetcher{Root: dir}, origin: key.Origin, verifier: v})
}

func newReader(key LogKey, src read.Client) (*Reader, error) {
	v, err := noteVerifier(key)
	if err != nil {
		return nil, err
	}
	id, err := key.LogID()
	if err != nil {
		return nil, err
	}
	return &Reader{key: key, logID: id, verifier: v, src: src}, nil
}

// fileSource is rekor-tiles' read.Client for a log on the local file system.
type fileSource struct {
	f        tclient.FileFetcher
	origin   string
	verifier note.Verifier
}

func (s *fileSource) ReadCheckpoint(ctx context.Context) (*f_log.Checkpoint, *note.Note, error) {
	cp, _, n, err := tclient.FetchCheckpoint(ctx, s.f.ReadCheckpoint, s.verifier, s.origin)
	if err != nil {
		return nil, nil, fmt.Errorf("fetching checkpoint: %w", err)
	}
	return cp, n, nil
}

func (s *fileSource) ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	return s.f.ReadTile(ctx, level, index, p)
}

func (s *fileSource) ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error) {
	return s.f.ReadEntryBundle(ctx, index, p)
}

// Key returns the key the Reader verifies with.
func (r *Reader) Key() LogKey { return r.key }

// Checkpoint fetches the log's current checkpoint and returns it once its
// signature verifies against the log key and it is consistent with every
// checkpoint this Reader verified before. A checkpoint signed by another key
// or for another origin is an error wrapping ErrCheckpoint; one that
// contradicts an earlier checkpoint wraps ErrInconsistent.
func (r *Reader) Checkpoint(ctx context.Context) (*f_log.Checkpoint, error) {
	cp, _, err := r.src.ReadCheckpoint(ctx)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read checkpoint of %s: %w", r.key.Origin, err)
		}
		return nil, fmt.Errorf("read checkpoint of %s: %w: %w", r.key.Origin, ErrCheckpoint, err)
	}
	if err := r.observe(ctx, cp); err != nil {
		return nil, err
	}
	return cp, nil
}

// Size returns the size of the log's current verified checkpoint.
func (r *Reader) Size(ctx context.Context) (uint64, error) {
	cp, err := r.Checkpoint(ctx)
	if err != nil {
		return 0, err
	}
	return cp.Size, nil
}

// observe checks that cp is consistent with the largest checkpoint seen so far
// and remembers it if it is larger.
func (r *Reader) observe(ctx context.Context, cp *f_log.Checkpoint) error {
	r.mu.Lock()
	seen := r.seen
	r.mu.Unlock()
	if seen != nil {
		if err := r.consistent(ctx, seen, cp); err != nil {
			return err
		}
	}
	r.mu.Lock()
	if r.seen == nil || cp.Size > r.seen.Size {
		r.seen = cp
	}
	r.mu.Unlock()
	return nil
}

// consistent proves that two verified checkpoints of the log describe one
// append-only history: the smaller tree is a prefix of the larger.
func (r *Reader) consistent(ctx context.Context, a, b *f_log.Checkpoint) error {
	if a.Size > b.Size {
		a, b = b, a
	}
	switch {
	case a.Size == b.Size:
		if !bytes.Equal(a.Hash, b.Hash) {
			return fmt.Errorf("%w: two checkpoints of size %d with different root hashes", ErrInconsistent, a.Size)
		}
		return nil
	case a.Size == 0:
		return nil
	}
	pb, err := tclient.NewProofBuilder(ctx, b.Size, r.src.ReadTile)
	if err != nil {
		return fmt.Errorf("consistency proof %d → %d: %w", a.Size, b.Size, err)
	}
	p, err := pb.ConsistencyProof(ctx, a.Size, b.Size)
	if err != nil {
		return fmt.Errorf("consistency proof %d → %d: %w", a.Size, b.Size, err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, a.Size, b.Size, p, a.Hash, b.Hash); err != nil {
		return fmt.Errorf("%w: checkpoint %d is not a prefix of checkpoint %d: %w", ErrInconsistent, a.Size, b.Size, err)
	}
	return nil
}

// Entry returns the log entry at index, for a Rekor v2 log the canonical JSON
// body of the entry. The entry is read from the entry bundle tiles and is
// returned only if its inclusion in the current checkpoint verifies, so a
// tampered bundle or tile is an error wrapping ErrTampered. An index the
// checkpoint does not yet cover is an error wrapping ErrNotFound.
func (r *Reader) Entry(ctx context.Context, index uint64) ([]byte, error) {
	cp, err := r.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	if index >= cp.Size {
		return nil, fmt.Errorf("entry %d: %w (log size %d)", index, ErrNotFound, cp.Size)
	}
	bundle, err := tclient.GetEntryBundle(ctx, r.src.ReadEntryBundle, index/layout.EntryBundleWidth, cp.Size)
	if err != nil {
		return nil, fmt.Errorf("entry %d: %w: %w", index, ErrTampered, err)
	}
	i := index % layout.EntryBundleWidth
	if i >= uint64(len(bundle.Entries)) {
		return nil, fmt.Errorf("entry %d: %w: its bundle holds %d entries", index, ErrTampered, len(bundle.Entries))
	}
	data := bundle.Entries[i]
	if err := r.verifyLeaf(ctx, index, rfc6962.DefaultHasher.HashLeaf(data), cp); err != nil {
		return nil, fmt.Errorf("entry %d: %w", index, err)
	}
	return data, nil
}

// verifyLeaf proves from the log's tiles that leaf is at index under cp.
func (r *Reader) verifyLeaf(ctx context.Context, index uint64, leaf []byte, cp *f_log.Checkpoint) error {
	pb, err := tclient.NewProofBuilder(ctx, cp.Size, r.src.ReadTile)
	if err != nil {
		return err
	}
	p, err := pb.InclusionProof(ctx, index)
	if err != nil {
		return fmt.Errorf("%w: inclusion proof: %w", ErrTampered, err)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, leaf, p, cp.Hash); err != nil {
		return fmt.Errorf("%w: %w", ErrTampered, err)
	}
	return nil
}

// VerifyInclusion verifies a Rekor v2 transparency log entry: its checkpoint
// is signed by the log key, its inclusion proof leads from the hash of its
// canonicalized body to that checkpoint's root, and the log as it is now is
// consistent with that checkpoint (a consistency proof when the sizes differ),
// so the entry is still in the log. It does not check that the body matches a
// bundle's signature: sigstore-go's bundle verification does that. Failures
// wrap ErrCheckpoint, ErrInclusion or ErrInconsistent.
func (r *Reader) VerifyInclusion(ctx context.Context, tle *protorekor.TransparencyLogEntry) error {
	cp, err := r.verifyEntry(tle)
	if err != nil {
		return fmt.Errorf("log entry %d: %w", tle.GetLogIndex(), err)
	}
	cur, err := r.Checkpoint(ctx)
	if err != nil {
		return err
	}
	if err := r.consistent(ctx, cp, cur); err != nil {
		return fmt.Errorf("log entry %d: %w", tle.GetLogIndex(), err)
	}
	return r.observe(ctx, cp)
}

// verifyEntry checks a TransparencyLogEntry on its own, offline: checkpoint
// signature, log id and inclusion proof. It returns the entry's checkpoint.
func (r *Reader) verifyEntry(tle *protorekor.TransparencyLogEntry) (*f_log.Checkpoint, error) {
	if tle == nil {
		return nil, fmt.Errorf("%w: no entry", ErrInclusion)
	}
	ip := tle.GetInclusionProof()
	if ip == nil || ip.GetCheckpoint().GetEnvelope() == "" {
		return nil, fmt.Errorf("%w: no inclusion proof with a checkpoint", ErrInclusion)
	}
	if len(tle.GetCanonicalizedBody()) == 0 {
		return nil, fmt.Errorf("%w: no canonicalized body", ErrInclusion)
	}
	if id := tle.GetLogId().GetKeyId(); len(id) > 0 && !bytes.Equal(id, r.logID) {
		return nil, fmt.Errorf("%w: log id %x is not this log's %x", ErrCheckpoint, id, r.logID)
	}
	cp, _, _, err := f_log.ParseCheckpoint([]byte(ip.GetCheckpoint().GetEnvelope()), r.key.Origin, r.verifier)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	if tle.GetLogIndex() < 0 || ip.GetLogIndex() != tle.GetLogIndex() {
		return nil, fmt.Errorf("%w: index %d, proof for index %d", ErrInclusion, tle.GetLogIndex(), ip.GetLogIndex())
	}
	if ip.GetTreeSize() < 0 || uint64(ip.GetTreeSize()) != cp.Size || !bytes.Equal(ip.GetRootHash(), cp.Hash) {
		return nil, fmt.Errorf("%w: proof is for tree size %d, checkpoint for %d", ErrInclusion, ip.GetTreeSize(), cp.Size)
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(tle.GetCanonicalizedBody())
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(tle.GetLogIndex()), cp.Size, leaf, ip.GetHashes(), cp.Hash); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInclusion, err)
	}
	return cp, nil
}
