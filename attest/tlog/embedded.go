package tlog

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	rekortilespb "github.com/sigstore/rekor-tiles/v2/pkg/generated/protobuf"
	rekornote "github.com/sigstore/rekor-tiles/v2/pkg/note"
	"github.com/sigstore/rekor-tiles/v2/pkg/types/hashedrekord"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/signature"
	f_log "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera"
	tclient "github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"
)

// Defaults of EmbeddedOptions.
const (
	// DefaultCheckpointInterval is how often the embedded log publishes a
	// checkpoint while it grows; tessera's POSIX driver allows no less.
	DefaultCheckpointInterval = 100 * time.Millisecond
	// DefaultBatchMaxAge is how long an entry waits for others to join its
	// batch before the batch is sequenced.
	DefaultBatchMaxAge = 10 * time.Millisecond
	// DefaultBatchMaxSize is the largest batch sequenced at once.
	DefaultBatchMaxSize = 256
)

// Layout of an embedded log directory. The tile directory is what a reader
// needs and may be served read-only over HTTP as it is (rekor-tiles serves
// its POSIX directory the same way); the signing key stays outside it.
const (
	// TilesDir holds tessera's POSIX log: checkpoint, tile/, .state/.
	TilesDir = "tiles"
	// IndexDir holds the first-seen FileIndex of the log.
	IndexDir = "index"
	lockFile = ".lock"
	// writerLockFile is held, with flock(2), by the one process at a time that runs an appender on the log.
	writerLockFile = ".writer.lock"
)

// EmbeddedOptions configures OpenEmbedded. The zero value is ready to use.
type EmbeddedOptions struct {
	// Origin is the checkpoint origin, a host name. Empty: the origin recorded
	// in the directory, or for a new log one derived from its key,
	// "log-<hex>.maestro.local". A log keeps its origin for life, so a
	// different non-empty Origin for an existing log is ErrOriginMismatch.
	Origin string
	// CheckpointInterval is how often a checkpoint is published while the log
	// grows; at least 100ms (DefaultCheckpointInterval).
	CheckpointInterval time.Duration
	// BatchMaxAge and BatchMaxSize bound how entries appended concurrently are
	// batched before they are sequenced (DefaultBatchMaxAge, DefaultBatchMaxSize).
	BatchMaxAge  time.Duration
	BatchMaxSize uint
	// Logger receives diagnostics; nil means slog.Default().
	Logger *slog.Logger
}

// Embedded is maestro's default transparency log: a tessera log with POSIX
// storage in a local directory, appended to in process, whose entries and
// checkpoints are those of a Rekor v2 server (hashedrekord v0.0.2 entries,
// checkpoints signed with an Ed25519 key in the c2sp.org/signed-note format
// rekor-tiles and sigstore-go use). Bundles it logs verify with sigstore-go
// exactly as bundles logged by Rekor v2 do.
//
// Several processes share one directory (the CLI and the reconcilers share
// $MAESTRO_HOME/log), but only one at a time runs an appender: OpenEmbedded
// waits for an flock on dir/.writer.lock, held until Close. (tessera's POSIX
// driver takes fcntl record locks in an order two processes can deadlock on,
// and panics when the kernel reports it.) Processes that only verify use
// OpenEmbeddedReadOnly; processes that append rarely use OpenEmbeddedLazy,
// which holds the appender only for each append. Within one process,
// opening a directory twice shares one appender. The directory must be on a
// local file system with working fcntl locks and atomic rename (ext4, XFS,
// ZFS, tmpfs; not NFS), as tessera's POSIX driver requires.
type Embedded struct {
	c      *embeddedCore
	closed atomic.Bool
}

// embeddedCore is the state shared by every Embedded of one directory in
// this process.
type embeddedCore struct {
	dir      string
	key      LogKey
	logID    []byte
	verifier note.Verifier
	algs     *signature.AlgorithmRegistryConfig
	add      tessera.AddFn
	tiles    tessera.LogReader
	reader   *Reader
	index    *FileIndex
	log      *slog.Logger
	shutdown func(context.Context) error
	cancel   context.CancelFunc
	unlock   func() // releases the writer lock
	refs     int
}

var (
	openMu sync.Mutex
	opened = map[string]*embeddedCore{}
)

// OpenEmbedded opens the embedded log in dir, creating the directory, the
// log's signing key (dir/log.key, mode 0600, and dir/log.pub beside it) and
// an empty log the first time. ctx bounds the opening only; the log runs
// until Close.
func OpenEmbedded(ctx context.Context, dir string, opts EmbeddedOptions) (*Embedded, error) {
	// One directory, one core: resolve the name the way the kernel does, so
	// that two paths to one directory share the appender.
	abs, err := logDir(dir)
	if err != nil {
		return nil, err
	}

	openMu.Lock()
	defer openMu.Unlock()
	if c, ok := opened[abs]; ok {
		if opts.Origin != "" && opts.Origin != c.key.Origin {
			return nil, fmt.Errorf("open log %s: origin %q, not %q: %w", abs, c.key.Origin, opts.Origin, ErrOriginMismatch)
		}
		c.refs++
		return &Embedded{c: c}, nil
	}
	c, err := openCore(ctx, abs, opts)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", abs, err)
	}
	c.refs = 1
	opened[abs] = c
	return &Embedded{c: c}, nil
}

func openCore(ctx context.Context, dir string, opts EmbeddedOptions) (*embeddedCore, error) {
	if opts.CheckpointInterval == 0 {
		opts.CheckpointInterval = DefaultCheckpointInterval
	}
	if opts.CheckpointInterval < DefaultCheckpointInterval {
		return nil, fmt.Errorf("checkpoint interval %v is below the minimum %v", opts.CheckpointInterval, DefaultCheckpointInterval)
	}
	if opts.BatchMaxAge <= 0 {
		opts.BatchMaxAge = DefaultBatchMaxAge
	}
	if opts.BatchMaxSize == 0 {
		opts.BatchMaxSize = DefaultBatchMaxSize
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}

	priv, key, err := ensureKey(ctx, dir, opts.Origin)
	if err != nil {
		return nil, err
	}
	origin, tilesDir := key.Origin, filepath.Join(dir, TilesDir)
	logID, err := key.LogID()
	if err != nil {
		return nil, err
	}
	sv, err := signature.LoadED25519SignerVerifier(priv)
	if err != nil {
		return nil, fmt.Errorf("load log key: %w", err)
	}
	// The lifetime context of the appender's background work (batching,
	// checkpoint publication, garbage collection), ended by Close.
	runCtx, cancel := context.WithCancel(context.Background())
	noteSigner, err := rekornote.NewNoteSigner(runCtx, origin, sv)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("checkpoint signer: %w", err)
	}
	noteVerifier, err := noteVerifier(key)
	if err != nil {
		cancel()
		return nil, err
	}
	algs, err := signature.NewAlgorithmRegistryConfig(entrySigningAlgorithms)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("algorithm registry: %w", err)
	}

	// One appender per log at a time, across processes: tessera's POSIX driver coordinates several writers with
	// fcntl record locks, and two processes taking them in opposite orders get EDEADLK, on which tessera panics.
	// Appends are rare (promotions), so writers take turns instead; readers need no lock.
	unlockWriter, err := flock(ctx, filepath.Join(dir, writerLockFile))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("wait for the other process appending to the log: %w", err)
	}
	driver, err := posix.New(ctx, posix.Config{Path: tilesDir})
	if err != nil {
		unlockWriter()
		cancel()
		return nil, fmt.Errorf("tessera posix driver: %w", err)
	}
	fail := func(err error) (*embeddedCore, error) {
		unlockWriter()
		cancel()
		return nil, err
	}
	appendOpts := tessera.NewAppendOptions().
		WithCheckpointSigner(noteSigner).
		WithCheckpointInterval(opts.CheckpointInterval).
		WithBatching(opts.BatchMaxSize, opts.BatchMaxAge).
		WithAntispam(dedupCacheSize, nil)
	appender, shutdown, tiles, err := tessera.NewAppender(runCtx, driver, appendOpts)
	if err != nil {
		return fail(fmt.Errorf("tessera appender: %w", err))
	}
	reader, err := newReader(key, &fileSource{f: tclient.FileFetcher{Root: tilesDir}, origin: origin, verifier: noteVerifier})
	if err != nil {
		return fail(err)
	}
	index, err := NewFileIndex(filepath.Join(dir, IndexDir))
	if err != nil {
		return fail(err)
	}
	return &embeddedCore{
		dir:      dir,
		key:      key,
		logID:    logID,
		verifier: noteVerifier,
		algs:     algs,
		add:      appender.Add,
		tiles:    tiles,
		reader:   reader,
		index:    index,
		log:      logger,
		shutdown: shutdown,
		cancel:   cancel,
		unlock:   unlockWriter,
	}, nil
}

// logDir creates dir when missing and resolves it the way the kernel does, so that two paths to one log are one.
func logDir(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("open log %s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return "", fmt.Errorf("open log %s: %w", dir, err)
	}
	return abs, nil
}

// ensureKey loads the log's signing key and origin from dir, creating them the first time. Creating them is
// serialised across processes by an flock on dir/.lock.
func ensureKey(ctx context.Context, dir, origin string) (ed25519.PrivateKey, LogKey, error) {
	unlock, err := flock(ctx, filepath.Join(dir, lockFile))
	if err != nil {
		return nil, LogKey{}, err
	}
	defer unlock()
	priv, err := loadOrCreateKey(dir)
	if err != nil {
		return nil, LogKey{}, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	origin, err = loadOrStoreOrigin(dir, origin, pub)
	if err != nil {
		return nil, LogKey{}, err
	}
	tilesDir := filepath.Join(dir, TilesDir)
	return priv, LogKey{Origin: origin, BaseURL: (&url.URL{Scheme: "file", Path: tilesDir}).String(), PublicKey: pub}, nil
}

// entrySigningAlgorithms are the entry signature algorithms the embedded log
// accepts: rekor-tiles' default --client-signing-algorithms.
var entrySigningAlgorithms = []protocommon.PublicKeyDetails{
	protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_2048_SHA256,
	protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_3072_SHA256,
	protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_4096_SHA256,
	protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
	protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384,
	protocommon.PublicKeyDetails_PKIX_ECDSA_P521_SHA_512,
	protocommon.PublicKeyDetails_PKIX_ED25519,
	protocommon.PublicKeyDetails_PKIX_ED25519_PH,
}

// dedupCacheSize is how many recent entries the log remembers in memory to
// answer a resubmitted entry with its first index.
const dedupCacheSize = 4096

// flock takes an exclusive flock(2) on path, waiting for other processes.
func flock(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing the file drops the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// ReadEmbeddedLogKey returns the LogKey of the embedded log in dir (its
// origin, tile directory and log.pub) without opening the log for writing,
// for a process on the same machine that only verifies. The key comes from
// the directory being verified, so it is only as trustworthy as the
// directory: a verifier that must not trust it takes the key from its own
// configuration (a copy of log.pub) instead.
func ReadEmbeddedLogKey(dir string) (LogKey, error) {
	origin, err := os.ReadFile(filepath.Join(dir, originFile))
	if err != nil {
		return LogKey{}, fmt.Errorf("read log key in %s: %w", dir, err)
	}
	pemKey, err := os.ReadFile(filepath.Join(dir, publicKeyFile))
	if err != nil {
		return LogKey{}, fmt.Errorf("read log key in %s: %w", dir, err)
	}
	pub, err := ParsePublicKeyPEM(pemKey)
	if err != nil {
		return LogKey{}, fmt.Errorf("read log key in %s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return LogKey{}, fmt.Errorf("read log key in %s: %w", dir, err)
	}
	abs = filepath.Join(abs, TilesDir)
	return LogKey{
		Origin:    strings.TrimSpace(string(origin)),
		BaseURL:   (&url.URL{Scheme: "file", Path: abs}).String(),
		PublicKey: pub,
	}, nil
}

// Dir returns the log's directory.
func (e *Embedded) Dir() string { return e.c.dir }

// LogKey returns what a verifier needs to know about the log: its origin, the
// file:// URL of its tile directory and its Ed25519 public key.
func (e *Embedded) LogKey() LogKey { return e.c.key }

// Reader returns a Reader over the log's directory.
func (e *Embedded) Reader() *Reader { return e.c.reader }

// Index returns the first-seen index kept beside the log (dir/index).
func (e *Embedded) Index() *FileIndex { return e.c.index }

// Transparency returns the log as a sigstore-go transparency log, so that
// sign.Bundle appends to it: sign.BundleOptions{TransparencyLogs: ...}.
func (e *Embedded) Transparency() sign.Transparency {
	return sign.NewRekor(&sign.RekorOptions{Version: 2, ClientV2: e})
}

var _ sign.RekorV2Client = (*Embedded)(nil)

// Add appends an entry, a *rekortilespb.HashedRekordRequestV002 (the only
// kind rekor-tiles v2.3.0 accepts), and returns its TransparencyLogEntry once
// the entry is integrated and a checkpoint covering it is published: log
// index, log id, kind and version, canonicalized body, and an inclusion proof
// with the signed checkpoint. The entry is validated as rekor-tiles validates
// it (hashedrekord.ToLogEntry with rekor-tiles' default algorithms); a
// refused entry is an error wrapping ErrInvalidEntry.
//
// An entry identical to one this process appended recently (a retry: ECDSA
// signatures are randomised, so only a resubmission is identical) is not
// appended again; Add returns the entry at its first index. Where rekor-tiles
// answers 409 Conflict, the embedded log answers as if the first call had
// succeeded, which keeps retries idempotent. Across processes or restarts a
// resubmission is appended again, as on a rekor-tiles server without
// persistent antispam; both entries verify.
//
// If ctx ends while Add waits for the checkpoint, the entry may still be
// appended; a retry from the same process then returns it.
func (e *Embedded) Add(ctx context.Context, entry any) (*protorekor.TransparencyLogEntry, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	var req *rekortilespb.HashedRekordRequestV002
	switch v := entry.(type) {
	case *rekortilespb.HashedRekordRequestV002:
		req = v
	case *rekortilespb.CreateEntryRequest:
		req = v.GetHashedRekordRequestV002()
	}
	if req == nil {
		return nil, fmt.Errorf("%w: unsupported entry type %T, want *HashedRekordRequestV002", ErrInvalidEntry, entry)
	}
	c := e.c
	logEntry, err := hashedrekord.ToLogEntry(req, c.algs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidEntry, err)
	}
	serialized, err := protojson.Marshal(logEntry)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidEntry, err)
	}
	body, err := jsoncanonicalizer.Transform(serialized)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidEntry, err)
	}
	idx, err := c.add(ctx, tessera.NewEntry(body))()
	if err != nil {
		return nil, fmt.Errorf("append to log: %w", err)
	}
	if idx.IsDup {
		c.log.DebugContext(ctx, "entry already in the log", "index", idx.Index)
	}
	cpRaw, cp, err := c.awaitCheckpoint(ctx, idx.Index)
	if err != nil {
		return nil, fmt.Errorf("await checkpoint for entry %d: %w", idx.Index, err)
	}
	hashes, err := c.inclusionProof(ctx, idx.Index, cp, body)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof for entry %d: %w", idx.Index, err)
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex:    int64(idx.Index),
		LogId:       &protocommon.LogId{KeyId: c.logID},
		KindVersion: &protorekor.KindVersion{Kind: logEntry.GetKind(), Version: logEntry.GetApiVersion()},
		InclusionProof: &protorekor.InclusionProof{
			LogIndex:   int64(idx.Index),
			RootHash:   cp.Hash,
			TreeSize:   int64(cp.Size),
			Hashes:     hashes,
			Checkpoint: &protorekor.Checkpoint{Envelope: string(cpRaw)},
		},
		CanonicalizedBody: body,
	}, nil
}

// awaitCheckpoint polls the published checkpoint (which any process sharing
// the directory may have written) until it covers index.
func (c *embeddedCore) awaitCheckpoint(ctx context.Context, index uint64) ([]byte, *f_log.Checkpoint, error) {
	wait := time.Millisecond
	for {
		raw, err := c.tiles.ReadCheckpoint(ctx)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, err
		}
		if err == nil {
			cp, _, _, err := f_log.ParseCheckpoint(raw, c.key.Origin, c.verifier)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: %w", ErrCheckpoint, err)
			}
			if cp.Size > index {
				return raw, cp, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
}

// inclusionProof builds the proof for the entry at index from the tiles under
// cp and checks it, as rekor-tiles does before it answers.
func (c *embeddedCore) inclusionProof(ctx context.Context, index uint64, cp *f_log.Checkpoint, body []byte) ([][]byte, error) {
	pb, err := tclient.NewProofBuilder(ctx, cp.Size, c.tiles.ReadTile)
	if err != nil {
		return nil, err
	}
	hashes, err := pb.InclusionProof(ctx, index)
	if err != nil {
		return nil, err
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, rfc6962.DefaultHasher.HashLeaf(body), hashes, cp.Hash); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTampered, err)
	}
	return hashes, nil
}

// Close releases the log. The last Close of a directory in this process
// waits (up to 30s) until every entry appended here is covered by a published
// checkpoint, then stops the appender. Close is idempotent.
func (e *Embedded) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	openMu.Lock()
	defer openMu.Unlock()
	c := e.c
	c.refs--
	if c.refs > 0 {
		return nil
	}
	delete(opened, c.dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.shutdown(ctx)
	c.cancel()
	c.unlock()
	if err != nil {
		return fmt.Errorf("close log %s: %w", c.dir, err)
	}
	return nil
}
