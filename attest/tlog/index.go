package tlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Index records, for each key, the first record claimed for it. Rekor v2 has
// no search, so "the first log entry for (repository, workflow, version)
// wins" is kept beside the log: the promoter claims the key with a record
// naming its log entry, and a verifier looks the key up and checks the entry
// it names in the log.
//
// Trust model: an Index is not tamper-evident. Whoever can write to it can
// delete or replace a claim, and the log cannot tell, because a hashedrekord
// entry holds only a digest and a signature. What an Index offers is that
// first-come is decided exactly once among honest writers sharing it; what
// makes a record believable is the log entry it points at, which a verifier
// checks (inclusion, signature, and that the signed statement names the key).
// Keep the index where the log is kept, with the same permissions.
type Index interface {
	// Claim records record under key unless the key is already claimed. It
	// returns the record that holds after the call, and created true when
	// that is this record. Of concurrent claims, from any number of
	// goroutines or processes, exactly one is created.
	Claim(ctx context.Context, key string, record []byte) (first []byte, created bool, err error)
	// Lookup returns the record claimed for key; ok is false when there is none.
	Lookup(ctx context.Context, key string) (record []byte, ok bool, err error)
}

// FileIndex is an Index in a directory: one file per key, named by the
// SHA-256 of the key, holding the key and its record. A claim writes a
// temporary file and links it to its name, link(2) failing with EEXIST when
// the name exists (the O_EXCL of a rename): the first claim wins, across
// processes, and no reader ever sees a partly written record.
type FileIndex struct {
	dir string
}

var _ Index = (*FileIndex)(nil)

// NewFileIndex returns the index in dir, creating the directory.
func NewFileIndex(dir string) (*FileIndex, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("index %s: %w", dir, err)
	}
	return &FileIndex{dir: dir}, nil
}

// Dir returns the index directory.
func (x *FileIndex) Dir() string { return x.dir }

type indexFile struct {
	Key    string `json:"key"`
	Record []byte `json:"record"`
}

func (x *FileIndex) path(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(x.dir, hex.EncodeToString(sum[:]))
}

// Claim implements Index.
func (x *FileIndex) Claim(ctx context.Context, key string, record []byte) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	data, err := json.Marshal(indexFile{Key: key, Record: record})
	if err != nil {
		return nil, false, fmt.Errorf("claim %q: %w", key, err)
	}
	f, err := os.CreateTemp(x.dir, ".claim-*")
	if err != nil {
		return nil, false, fmt.Errorf("claim %q: %w", key, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, fmt.Errorf("claim %q: %w", key, err)
	}
	switch err := os.Link(tmp, x.path(key)); {
	case err == nil:
		if err := syncDir(x.dir); err != nil {
			return nil, false, fmt.Errorf("claim %q: %w", key, err)
		}
		return record, true, nil
	case errors.Is(err, os.ErrExist):
		first, ok, err := x.Lookup(ctx, key)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			return nil, false, fmt.Errorf("claim %q: claim file vanished", key)
		}
		return first, false, nil
	default:
		return nil, false, fmt.Errorf("claim %q: %w", key, err)
	}
}

// Lookup implements Index.
func (x *FileIndex) Lookup(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	p := x.path(key)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("lookup %q: %w", key, err)
	}
	var f indexFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, false, fmt.Errorf("lookup %q: %s: %w", key, p, err)
	}
	if f.Key != key {
		return nil, false, fmt.Errorf("lookup %q: %s holds the claim of %q", key, p, f.Key)
	}
	return f.Record, true, nil
}
