package tlog

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	rekornote "github.com/sigstore/rekor-tiles/v2/pkg/note"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"golang.org/x/mod/sumdb/note"

	"github.com/maestro-conductor/maestro/attest"
)

// LogKey is what a verifier must know about a transparency log: the origin
// line of its checkpoints (a host name), where its tiles are read (BaseURL:
// an http(s) URL for a remote log, a file:// URL of the tile directory for the
// embedded log) and the public key that signs its checkpoints. It is
// attest.LogKey, so that what the log reports goes straight into
// attest.VerifyBundle and attest.TrustedRootJSON.
type LogKey = attest.LogKey

// noteVerifier returns the signed-note verifier of the log's checkpoints, the
// one rekor-tiles and sigstore-go use.
func noteVerifier(k LogKey) (note.Verifier, error) {
	v, err := signatureVerifier(k)
	if err != nil {
		return nil, err
	}
	nv, err := rekornote.NewNoteVerifier(k.Origin, v)
	if err != nil {
		return nil, fmt.Errorf("checkpoint verifier for %q: %w", k.Origin, err)
	}
	return nv, nil
}

func signatureVerifier(k LogKey) (signature.Verifier, error) {
	if k.PublicKey == nil {
		return nil, errors.New("log key has no public key")
	}
	v, err := signature.LoadDefaultVerifier(k.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("load log public key: %w", err)
	}
	return v, nil
}

// ParsePublicKeyPEM parses a PEM-encoded PKIX public key, the format of the
// embedded log's log.pub and of rekor-tiles' public key.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("parse log public key: %w", err)
	}
	return pub, nil
}

// validOrigin reports whether s can be a checkpoint origin that sigstore-go
// can match against a URL host: a note name that is also a host name.
func validOrigin(s string) error {
	if s == "" || strings.IndexFunc(s, unicode.IsSpace) >= 0 || strings.ContainsAny(s, "+/:@") {
		return fmt.Errorf("origin %q must be a host name (letters, digits, '-', '.')", s)
	}
	if u, err := url.Parse("https://" + s); err != nil || u.Hostname() != s {
		return fmt.Errorf("origin %q must be a host name (letters, digits, '-', '.')", s)
	}
	return nil
}

// defaultOrigin names a log after its key, so that two embedded logs never
// share an origin: "log-<12 hex digits of SHA-256(PKIX key)>.maestro.local".
func defaultOrigin(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("marshal log public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return "log-" + hex.EncodeToString(sum[:6]) + ".maestro.local", nil
}

const (
	privateKeyFile = "log.key"
	publicKeyFile  = "log.pub"
	originFile     = "origin"
)

// loadOrCreateKey returns the log's Ed25519 signing key from dir, creating it
// the first time. The caller holds the directory's init lock.
func loadOrCreateKey(dir string) (ed25519.PrivateKey, error) {
	keyPath := filepath.Join(dir, privateKeyFile)
	data, err := os.ReadFile(keyPath)
	switch {
	case err == nil:
		k, err := cryptoutils.UnmarshalPEMToPrivateKey(data, nil)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", keyPath, err)
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("read %s: want an Ed25519 key, got %T", keyPath, k)
		}
		if err := writePublicKey(dir, priv.Public()); err != nil {
			return nil, err
		}
		return priv, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("read log key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate log key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("marshal log key: %w", err)
	}
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("write log key: %w", err)
	}
	if err := writePublicKey(dir, priv.Public()); err != nil {
		return nil, err
	}
	return priv, nil
}

func writePublicKey(dir string, pub crypto.PublicKey) error {
	p := filepath.Join(dir, publicKeyFile)
	want, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return fmt.Errorf("marshal log public key: %w", err)
	}
	if have, err := os.ReadFile(p); err == nil && string(have) == string(want) {
		return nil
	}
	if err := writeFileAtomic(p, want, 0o644); err != nil {
		return fmt.Errorf("write log public key: %w", err)
	}
	return nil
}

// loadOrStoreOrigin returns the origin recorded in dir, recording want (or the
// key's default) the first time. A log keeps its origin for life: every
// checkpoint already published carries it.
func loadOrStoreOrigin(dir, want string, pub crypto.PublicKey) (string, error) {
	p := filepath.Join(dir, originFile)
	data, err := os.ReadFile(p)
	switch {
	case err == nil:
		have := strings.TrimSpace(string(data))
		if err := validOrigin(have); err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
		if want != "" && want != have {
			return "", fmt.Errorf("log in %s has origin %q, not %q: %w", dir, have, want, ErrOriginMismatch)
		}
		return have, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("read log origin: %w", err)
	}
	if want == "" {
		if want, err = defaultOrigin(pub); err != nil {
			return "", err
		}
	}
	if err := validOrigin(want); err != nil {
		return "", err
	}
	if err := writeFileAtomic(p, []byte(want+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("write log origin: %w", err)
	}
	return want, nil
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and
// renames it into place, so that readers see the old file or the whole new one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
