package tlog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	tclient "github.com/transparency-dev/tessera/client"
)

// ReadOnly is the embedded log as a verifier on the same machine sees it: its key, a verifying Reader over its
// tiles and its first-seen index, with no appender. Any number of processes may hold one; it takes no lock.
type ReadOnly struct {
	key    LogKey
	reader *Reader
	index  *FileIndex
}

// OpenEmbeddedReadOnly opens the embedded log in dir for verification. A directory without a log yet gets its
// key and origin (so that verifiers can start before the first promotion), but no appender runs.
func OpenEmbeddedReadOnly(ctx context.Context, dir string, opts EmbeddedOptions) (*ReadOnly, error) {
	abs, err := logDir(dir)
	if err != nil {
		return nil, err
	}
	_, key, err := ensureKey(ctx, abs, opts.Origin)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", abs, err)
	}
	if _, err := os.Stat(filepath.Join(abs, TilesDir, "checkpoint")); errors.Is(err, fs.ErrNotExist) {
		// A new log: let an appender publish its first, empty checkpoint, so that readers have one to check.
		e, err := OpenEmbedded(ctx, abs, opts)
		if err != nil {
			return nil, err
		}
		if err := e.Close(); err != nil {
			return nil, err
		}
	}
	verifier, err := noteVerifier(key)
	if err != nil {
		return nil, err
	}
	tilesDir := filepath.Join(abs, TilesDir)
	reader, err := newReader(key, &fileSource{f: tclient.FileFetcher{Root: tilesDir}, origin: key.Origin, verifier: verifier})
	if err != nil {
		return nil, err
	}
	index, err := NewFileIndex(filepath.Join(abs, IndexDir))
	if err != nil {
		return nil, err
	}
	return &ReadOnly{key: key, reader: reader, index: index}, nil
}

// LogKey returns the log's origin, tile location and checkpoint key.
func (r *ReadOnly) LogKey() LogKey { return r.key }

// Reader returns the verifying reader over the log's tiles.
func (r *ReadOnly) Reader() *Reader { return r.reader }

// Index returns the log's first-seen index.
func (r *ReadOnly) Index() *FileIndex { return r.index }

// Close releases nothing; it is there so a ReadOnly stands in for a log that needs closing.
func (r *ReadOnly) Close() error { return nil }

// Lazy appends to the embedded log in dir by opening it for each append and closing it after, so that a process
// that appends rarely (a promotion) does not keep other processes from appending: writers take turns on the log.
type Lazy struct {
	*ReadOnly
	dir  string
	opts EmbeddedOptions
}

// OpenEmbeddedLazy opens the embedded log in dir for reading, and for appending one entry at a time.
func OpenEmbeddedLazy(ctx context.Context, dir string, opts EmbeddedOptions) (*Lazy, error) {
	ro, err := OpenEmbeddedReadOnly(ctx, dir, opts)
	if err != nil {
		return nil, err
	}
	return &Lazy{ReadOnly: ro, dir: dir, opts: opts}, nil
}

// Transparency returns the sigstore-go log client that appends a bundle's entry through a short-lived appender.
func (l *Lazy) Transparency() sign.Transparency { return lazyTransparency{l} }

type lazyTransparency struct{ l *Lazy }

func (t lazyTransparency) GetTransparencyLogEntry(ctx context.Context, keyOrCertPEM []byte, b *protobundle.Bundle) (err error) {
	e, err := OpenEmbedded(ctx, t.l.dir, t.l.opts)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := e.Close(); err == nil {
			err = cerr
		}
	}()
	return e.Transparency().GetTransparencyLogEntry(ctx, keyOrCertPEM, b)
}
