package attest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"golang.org/x/crypto/ssh"
)

// File names of a key pair in a directory, as cosign generate-key-pair writes them.
const (
	PrivateKeyFile = "cosign.key"
	PublicKeyFile  = "cosign.pub"
)

// ErrBadPassword is returned (wrapped) by LoadPrivateKey when the key file
// does not decrypt with the password. cosign's format (scrypt + secretbox)
// cannot tell a wrong password from a ciphertext that was altered, so a
// corrupted key file also gives ErrBadPassword.
var ErrBadPassword = errors.New("wrong password for private key (or the encrypted key was altered)")

// GenerateKeyPair writes a new ECDSA P-256 key pair into dir (created if
// missing) in cosign's format: cosign.key, the private key encrypted with
// password (empty allowed), mode 0600, and cosign.pub, the PKIX public key in
// PEM. It refuses to overwrite either file (the error wraps fs.ErrExist) and
// leaves neither behind when it fails.
func GenerateKeyPair(dir string, password []byte) (privPath, pubPath string, err error) {
	privPath = filepath.Join(dir, PrivateKeyFile)
	pubPath = filepath.Join(dir, PublicKeyFile)
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fmt.Errorf("generate key pair: %s: %w (remove it or choose another directory)", p, fs.ErrExist)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", "", fmt.Errorf("generate key pair: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("generate key pair: %w", err)
	}
	// cosign's own generator, so the files are exactly what the cosign CLI
	// reads and writes (ENCRYPTED SIGSTORE PRIVATE KEY, scrypt + secretbox).
	kb, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return password, nil })
	if err != nil {
		return "", "", fmt.Errorf("generate key pair: %w", err)
	}
	if err := writeNew(privPath, kb.PrivateBytes, 0o600); err != nil {
		return "", "", fmt.Errorf("generate key pair: %w", err)
	}
	if err := writeNew(pubPath, kb.PublicBytes, 0o644); err != nil {
		_ = os.Remove(privPath)
		return "", "", fmt.Errorf("generate key pair: %w", err)
	}
	return privPath, pubPath, nil
}

// writeNew creates path (failing if it exists) with data and mode.
func writeNew(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// LoadPrivateKey reads a cosign private key file (made by GenerateKeyPair or
// by cosign generate-key-pair) and decrypts it with password. A password that
// does not decrypt it gives an error that wraps ErrBadPassword; a key that is
// not ECDSA P-256, or a file that is not a cosign private key, gives an error
// naming the file and what it holds instead.
func LoadPrivateKey(path string, password []byte) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load private key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("load private key %s: not a PEM file (want a cosign.key from cosign generate-key-pair or maestro keys generate)", path)
	}
	if block.Type != cosign.SigstorePrivateKeyPemType && block.Type != cosign.CosignPrivateKeyPemType {
		return nil, fmt.Errorf("load private key %s: holds a %q PEM block, want %q (a cosign.key from cosign generate-key-pair or maestro keys generate)",
			path, block.Type, cosign.SigstorePrivateKeyPemType)
	}
	// These are the steps of cosign.LoadPrivateKey, with the same library and
	// constants; it returns an opaque signature.SignerVerifier, and maestro
	// needs the *ecdsa.PrivateKey itself (the same key also makes the tag's
	// SSH signature).
	der, err := encrypted.Decrypt(block.Bytes, password)
	if err != nil {
		// secretbox.Open failing is the only cause of this message; every
		// other failure (malformed JSON, unknown KDF) says what it is.
		if strings.Contains(err.Error(), "decryption failed") {
			return nil, fmt.Errorf("load private key %s: %w", path, ErrBadPassword)
		}
		return nil, fmt.Errorf("load private key %s: corrupted encrypted key: %w", path, err)
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("load private key %s: corrupted key: %w", path, err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("load private key %s: a %s key; maestro signs with ECDSA P-256 only (cosign generate-key-pair's default)", path, keyKind(key))
	}
	if ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("load private key %s: an ECDSA %s key; maestro signs with ECDSA P-256 only (cosign generate-key-pair's default)", path, ec.Curve.Params().Name)
	}
	return ec, nil
}

// LoadPublicKey reads a PEM public key file such as cosign.pub; see ParsePublicKeyPEM.
func LoadPublicKey(path string) (*ecdsa.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load public key: %w", err)
	}
	pub, err := ParsePublicKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("load public key %s: %w", path, err)
	}
	return pub, nil
}

// ParsePublicKeyPEM parses a PEM-encoded PKIX ("PUBLIC KEY") ECDSA P-256
// public key, the format of cosign.pub.
func ParsePublicKeyPEM(pemBytes []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("not a PEM-encoded public key (want a cosign.pub)")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("holds a %q PEM block, want \"PUBLIC KEY\" (a cosign.pub)", block.Type)
	}
	key, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	ec, ok := key.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %s public key; maestro verifies ECDSA P-256 only", keyKind(key))
	}
	if ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("an ECDSA %s public key; maestro verifies ECDSA P-256 only", ec.Curve.Params().Name)
	}
	return ec, nil
}

// PublicKeyPEM encodes pub as cosign writes cosign.pub: a PEM "PUBLIC KEY" block of PKIX DER.
func PublicKeyPEM(pub *ecdsa.PublicKey) ([]byte, error) {
	if pub == nil {
		return nil, errors.New("public key PEM: nil key")
	}
	b, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, fmt.Errorf("public key PEM: %w", err)
	}
	return b, nil
}

// KeyID returns the key's fingerprint as OpenSSH prints it: "SHA256:" and the
// unpadded base64 of the SHA-256 of the key in SSH wire format. It is what
// `ssh-keygen -lf` shows for the key's allowed-signers line and what git
// prints when it verifies a tag signed with the key, so one identifier names
// the key in maestro's output, in git's and in ssh-keygen's.
func KeyID(pub *ecdsa.PublicKey) string {
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		// Only a nil key or a curve SSH does not know gets here; P-256
		// keys from this package always convert.
		return ""
	}
	return ssh.FingerprintSHA256(sp)
}

// AllowedSignersLine returns the line of an OpenSSH allowed-signers file
// (git's gpg.ssh.allowedSignersFile) that trusts pub for principal:
// "<principal> ecdsa-sha2-nistp256 AAAA...". The principal must be one plain
// name: no whitespace or control characters, no quotes, commas (a list) or the
// pattern characters '*', '?' and '!', which would make the line trust other
// principals too.
func AllowedSignersLine(pub *ecdsa.PublicKey, principal string) (string, error) {
	if err := validPrincipal(principal); err != nil {
		return "", err
	}
	if pub == nil {
		return "", errors.New("allowed signers line: nil key")
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("allowed signers line: %w", err)
	}
	return principal + " " + strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(sp)), "\n"), nil
}

func validPrincipal(p string) error {
	if p == "" {
		return errors.New("principal is empty")
	}
	if strings.HasPrefix(p, "#") {
		return fmt.Errorf("principal %q starts with '#', which makes the line a comment", p)
	}
	for _, r := range p {
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r):
			return fmt.Errorf("principal %q contains whitespace or a control character", p)
		case strings.ContainsRune(`"',*?!`, r):
			return fmt.Errorf("principal %q contains %q: give one plain name (an e-mail address, say), not a list or a pattern", p, r)
		}
	}
	return nil
}

func keyKind(key any) string {
	switch key.(type) {
	case *ecdsa.PrivateKey, *ecdsa.PublicKey:
		return "ECDSA"
	default:
		s := fmt.Sprintf("%T", key)
		s = strings.TrimPrefix(s, "*")
		if i := strings.IndexByte(s, '.'); i >= 0 {
			s = s[:i]
		}
		return strings.ToUpper(s)
	}
}
