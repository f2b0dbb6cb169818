// Package sshsig signs and verifies messages in the SSH signature format of OpenSSH's PROTOCOL.sshsig: what
// `ssh-keygen -Y sign` writes and `ssh-keygen -Y verify` checks, and what git stores in tags and commits signed
// with gpg.format=ssh.
//
// Only ECDSA P-256 keys (ecdsa-sha2-nistp256) are supported, for signing and for verifying: they are the keys
// maestro signs with (cosign's key format), and refusing every other key type keeps legacy algorithms such as
// ssh-rsa with SHA-1 out of the trust path.
package sshsig

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"
)

const (
	// magic opens every signature blob and every signed-data blob.
	magic = "SSHSIG"
	// version is the only signature format version there is.
	version = 1

	// HashSHA512 is the message hash Sign uses, as ssh-keygen does by default.
	HashSHA512 = "sha512"
	// HashSHA256 is the other message hash PROTOCOL.sshsig allows; Verify accepts it.
	HashSHA256 = "sha256"

	// KeyAlgorithm is the one SSH key and signature algorithm this package signs and verifies with.
	KeyAlgorithm = ssh.KeyAlgoECDSA256

	armorBegin = "-----BEGIN SSH SIGNATURE-----"
	armorEnd   = "-----END SSH SIGNATURE-----"
	// lineLen is the width of the base64 lines between the armor lines, as ssh-keygen writes them.
	lineLen = 70
	// maxArmoredSize bounds the input Verify reads. A P-256 signature is about 330 bytes armored; RSA-16384, the
	// largest SSH signature there is, fits too, so a real signature is never refused for its size.
	maxArmoredSize = 16 << 10
)

var (
	// ErrUnsupportedKey is returned for a key or signature that is not ECDSA P-256.
	ErrUnsupportedKey = errors.New("unsupported key type: only ecdsa-sha2-nistp256 (ECDSA P-256) keys are supported")
	// ErrMalformed is wrapped by every error Verify returns for input that is not an SSH signature.
	ErrMalformed = errors.New("malformed SSH signature")
	// ErrNamespace is returned by Verify for a signature made for another namespace than the one expected.
	ErrNamespace = errors.New("SSH signature namespace mismatch")
	// ErrVerification is returned by Verify for a well-formed signature that does not match the message and key.
	ErrVerification = errors.New("SSH signature does not verify")
)

// Sign signs message for namespace (git uses "git"; PROTOCOL.sshsig requires a non-empty namespace, so that a
// signature made for one purpose cannot be replayed for another) with an ECDSA P-256 key, hashing the message with
// SHA-512. It returns the signature armored as "-----BEGIN SSH SIGNATURE-----" ... "-----END SSH SIGNATURE-----\n",
// byte for byte as ssh-keygen -Y sign writes it. Any crypto.Signer with an *ecdsa.PublicKey on P-256 works, so the
// key may live in a KMS or HSM; any other key gives ErrUnsupportedKey.
func Sign(signer crypto.Signer, message []byte, namespace string) ([]byte, error) {
	if namespace == "" {
		return nil, errors.New("sshsig: sign: empty namespace")
	}
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("sshsig: sign with %T: %w", signer.Public(), ErrUnsupportedKey)
	}
	s, err := ssh.NewSignerFromSigner(signer)
	if err != nil {
		return nil, fmt.Errorf("sshsig: sign: %w", err)
	}
	h := sha512.Sum512(message)
	sig, err := s.Sign(rand.Reader, signedData(namespace, nil, HashSHA512, h[:]))
	if err != nil {
		return nil, fmt.Errorf("sshsig: sign: %w", err)
	}
	var blob []byte
	blob = append(blob, magic...)
	blob = binary.BigEndian.AppendUint32(blob, version)
	blob = appendString(blob, s.PublicKey().Marshal())
	blob = appendString(blob, []byte(namespace))
	blob = appendString(blob, nil) // reserved
	blob = appendString(blob, []byte(HashSHA512))
	blob = appendString(blob, ssh.Marshal(sig))
	return armor(blob), nil
}

// Verify checks that armored is an SSH signature of message for namespace, and returns the public key that made
// it. It does not decide whether that key is trusted: the caller compares it with the keys it trusts (as
// ssh-keygen -Y verify does with an allowed-signers file). Both hashes PROTOCOL.sshsig allows (sha512, sha256) are
// accepted. Errors wrap ErrMalformed (not an SSH signature), ErrUnsupportedKey (a key other than ECDSA P-256),
// ErrNamespace or ErrVerification.
func Verify(armored, message []byte, namespace string) (ssh.PublicKey, error) {
	blob, err := dearmor(armored)
	if err != nil {
		return nil, err
	}
	sig, err := parse(blob)
	if err != nil {
		return nil, err
	}
	pub, err := ssh.ParsePublicKey(sig.publicKey)
	if err != nil {
		return nil, fmt.Errorf("sshsig: public key: %v: %w", err, ErrMalformed)
	}
	if pub.Type() != KeyAlgorithm {
		return nil, fmt.Errorf("sshsig: key type %s: %w", pub.Type(), ErrUnsupportedKey)
	}
	var s ssh.Signature
	if err := ssh.Unmarshal(sig.signature, &s); err != nil {
		return nil, fmt.Errorf("sshsig: signature blob: %v: %w", err, ErrMalformed)
	}
	if len(s.Rest) > 0 {
		return nil, fmt.Errorf("sshsig: signature blob has trailing data: %w", ErrMalformed)
	}
	if s.Format != KeyAlgorithm {
		return nil, fmt.Errorf("sshsig: signature algorithm %s: %w", s.Format, ErrUnsupportedKey)
	}
	if sig.namespace != namespace {
		return nil, fmt.Errorf("sshsig: signature is for namespace %q, want %q: %w", sig.namespace, namespace, ErrNamespace)
	}
	var h []byte
	switch sig.hashAlgorithm {
	case HashSHA512:
		sum := sha512.Sum512(message)
		h = sum[:]
	case HashSHA256:
		sum := sha256.Sum256(message)
		h = sum[:]
	default:
		return nil, fmt.Errorf("sshsig: unsupported hash algorithm %q: %w", sig.hashAlgorithm, ErrMalformed)
	}
	if err := pub.Verify(signedData(sig.namespace, sig.reserved, sig.hashAlgorithm, h), &s); err != nil {
		return nil, fmt.Errorf("sshsig: %v: %w", err, ErrVerification)
	}
	return pub, nil
}

// signature is a parsed signature blob.
type signature struct {
	publicKey     []byte
	namespace     string
	reserved      []byte
	hashAlgorithm string
	signature     []byte
}

// parse decodes a signature blob: magic, version, then five strings, and nothing after them.
func parse(blob []byte) (*signature, error) {
	fail := func(what string) (*signature, error) {
		return nil, fmt.Errorf("sshsig: %s: %w", what, ErrMalformed)
	}
	rest, ok := bytes.CutPrefix(blob, []byte(magic))
	if !ok {
		return fail("no SSHSIG preamble")
	}
	if len(rest) < 4 {
		return fail("no version")
	}
	if v := binary.BigEndian.Uint32(rest); v != version {
		return fail(fmt.Sprintf("version %d, want %d", v, version))
	}
	rest = rest[4:]
	var fields [5][]byte
	for i := range fields {
		f, r, ok := readString(rest)
		if !ok {
			return fail("truncated")
		}
		fields[i], rest = f, r
	}
	if len(rest) > 0 {
		return fail("trailing data")
	}
	return &signature{
		publicKey:     fields[0],
		namespace:     string(fields[1]),
		reserved:      fields[2],
		hashAlgorithm: string(fields[3]),
		signature:     fields[4],
	}, nil
}

// signedData is what the key signs: the preamble, namespace, reserved field, hash algorithm and message hash.
func signedData(namespace string, reserved []byte, hashAlgorithm string, hash []byte) []byte {
	b := make([]byte, 0, len(magic)+4*4+len(namespace)+len(reserved)+len(hashAlgorithm)+len(hash))
	b = append(b, magic...)
	b = appendString(b, []byte(namespace))
	b = appendString(b, reserved)
	b = appendString(b, []byte(hashAlgorithm))
	return appendString(b, hash)
}

// appendString appends s as an SSH wire-format string: a uint32 length, then the bytes.
func appendString(b, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// readString reads an SSH wire-format string from the front of b.
func readString(b []byte) (s, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, false
	}
	return b[4 : 4+n], b[4+n:], true
}

// armor wraps a signature blob as ssh-keygen does: base64 in lines of 70 characters between the armor lines.
func armor(blob []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(blob)
	var b bytes.Buffer
	b.Grow(len(armorBegin) + len(enc) + len(enc)/lineLen + len(armorEnd) + 3)
	b.WriteString(armorBegin)
	b.WriteByte('\n')
	for len(enc) > lineLen {
		b.WriteString(enc[:lineLen])
		b.WriteByte('\n')
		enc = enc[lineLen:]
	}
	b.WriteString(enc)
	b.WriteByte('\n')
	b.WriteString(armorEnd)
	b.WriteByte('\n')
	return b.Bytes()
}

// dearmor returns the blob inside the armor lines. Whitespace around the armor and line breaks (LF or CRLF) inside
// it are allowed; anything else is not.
func dearmor(armored []byte) ([]byte, error) {
	fail := func(what string) ([]byte, error) {
		return nil, fmt.Errorf("sshsig: %s: %w", what, ErrMalformed)
	}
	if len(armored) > maxArmoredSize {
		return fail(fmt.Sprintf("%d bytes, more than any SSH signature", len(armored)))
	}
	s := bytes.TrimSpace(armored)
	body, ok := bytes.CutPrefix(s, []byte(armorBegin))
	if !ok {
		return fail("no " + armorBegin + " line")
	}
	body, ok = bytes.CutSuffix(body, []byte(armorEnd))
	if !ok {
		return fail("no " + armorEnd + " line")
	}
	if len(body) == 0 || (body[0] != '\n' && body[0] != '\r') || (body[len(body)-1] != '\n') {
		return fail("armor lines must stand on lines of their own")
	}
	// base64.StdEncoding skips CR and LF itself; Strict also refuses non-zero padding bits.
	blob, err := base64.StdEncoding.Strict().DecodeString(string(body))
	if err != nil {
		return fail(fmt.Sprintf("base64: %v", err))
	}
	return blob, nil
}
