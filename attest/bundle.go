package attest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	rekornote "github.com/sigstore/rekor-tiles/v2/pkg/note"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"
)

// LogKey is what a verifier must know about a transparency log.
//
// sigstore-go (and so cosign) verifies a Rekor v2 checkpoint against the
// host name of the log's base URL in the trusted root, so Origin must be a
// host name (e.g. "log-0123abcd.maestro.local"), not a path-like origin such
// as "example.com/log".
type LogKey struct {
	Origin    string           // checkpoint origin line of the log; a host name
	BaseURL   string           // where the log's tiles are served ("" for an embedded log)
	PublicKey crypto.PublicKey // the log's checkpoint key (ECDSA P-256 or Ed25519)
}

// LogID returns the log's identifier as a Rekor v2 entry carries it
// (TransparencyLogEntry.LogId.KeyId) and a trusted root lists it: for an
// ECDSA key the SHA-256 of its PKIX DER, for Ed25519 the SHA-256 behind the
// checkpoint signature's key hash (which covers the origin).
func (k LogKey) LogID() ([]byte, error) {
	_, id, err := rekornote.KeyHash(k.Origin, k.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("log %q: %w", k.Origin, err)
	}
	return id, nil
}

// trustedBaseURL is the base URL the log gets in a trusted root: BaseURL
// when it is an http(s) URL whose host is the origin, else
// "https://<origin>". sigstore-go takes the checkpoint origin from this URL's
// host and never fetches from it when it verifies a bundle.
func (k LogKey) trustedBaseURL() (string, error) {
	if k.Origin == "" || strings.IndexFunc(k.Origin, unicode.IsSpace) >= 0 || strings.ContainsAny(k.Origin, "+/:@?#") {
		return "", fmt.Errorf("log origin %q must be a host name: sigstore-go and cosign verify a Rekor v2 checkpoint against the host of the log's base URL", k.Origin)
	}
	if u, err := url.Parse(k.BaseURL); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Hostname() == k.Origin {
		return k.BaseURL, nil
	}
	base := "https://" + k.Origin
	if u, err := url.Parse(base); err != nil || u.Hostname() != k.Origin {
		return "", fmt.Errorf("log origin %q must be a host name: sigstore-go and cosign verify a Rekor v2 checkpoint against the host of the log's base URL", k.Origin)
	}
	return base, nil
}

// transparencyLog returns k as a sigstore-go trusted-root log entry.
func (k LogKey) transparencyLog() (string, *root.TransparencyLog, error) {
	switch pk := k.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if pk.Curve != elliptic.P256() {
			return "", nil, fmt.Errorf("log %q: ECDSA %s key; want P-256 or Ed25519", k.Origin, pk.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	case nil:
		return "", nil, fmt.Errorf("log %q: no public key", k.Origin)
	default:
		return "", nil, fmt.Errorf("log %q: %T key; want ECDSA P-256 or Ed25519", k.Origin, k.PublicKey)
	}
	base, err := k.trustedBaseURL()
	if err != nil {
		return "", nil, err
	}
	id, err := k.LogID()
	if err != nil {
		return "", nil, err
	}
	return hex.EncodeToString(id), &root.TransparencyLog{
		BaseURL: base,
		ID:      id,
		// A trusted root needs a validity start; a log key is trusted for as
		// long as it is configured.
		ValidityPeriodStart: time.Unix(0, 0).UTC(),
		HashFunc:            crypto.SHA256,
		PublicKey:           k.PublicKey,
		SignatureHashFunc:   crypto.SHA256,
	}, nil
}

// trustedRoot makes a sigstore-go trusted root that lists logs and nothing else.
func trustedRoot(logs []LogKey) (*root.TrustedRoot, error) {
	if len(logs) == 0 {
		return nil, errors.New("no transparency log is trusted")
	}
	m := make(map[string]*root.TransparencyLog, len(logs))
	for _, l := range logs {
		id, tl, err := l.transparencyLog()
		if err != nil {
			return nil, err
		}
		m[id] = tl
	}
	return root.NewTrustedRoot(root.TrustedRootMediaType01, nil, nil, nil, m)
}

// TrustedRootJSON returns a Sigstore trusted root (trusted_root.json) that
// lists logs as its transparency logs and nothing else: with it, cosign
// verifies maestro's bundles offline, log entry included:
//
//	cosign verify-blob-attestation --offline --new-bundle-format \
//	  --key cosign.pub --trusted-root trusted_root.json --bundle B \
//	  --type PREDICATE_TYPE --digest HEX --digestAlg sha256
func TrustedRootJSON(logs []LogKey) ([]byte, error) {
	tr, err := trustedRoot(logs)
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	b, err := tr.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// keypair adapts an ECDSA P-256 key to sigstore-go's sign.Keypair.
type keypair struct {
	key  *ecdsa.PrivateKey
	hint []byte
}

var _ sign.Keypair = (*keypair)(nil)

func newKeypair(key *ecdsa.PrivateKey) (*keypair, error) {
	if key == nil {
		return nil, errors.New("no signing key")
	}
	if key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("ECDSA %s key; maestro signs with P-256 only", key.Curve.Params().Name)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	// The hint is sigstore-go's default: base64 of the SHA-256 of the PKIX DER.
	sum := sha256.Sum256(der)
	return &keypair{key: key, hint: []byte(base64.StdEncoding.EncodeToString(sum[:]))}, nil
}

func (k *keypair) GetHashAlgorithm() protocommon.HashAlgorithm {
	return protocommon.HashAlgorithm_SHA2_256
}

func (k *keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
}

func (k *keypair) GetHint() []byte                { return k.hint }
func (k *keypair) GetKeyAlgorithm() string        { return "ECDSA" }
func (k *keypair) GetPublicKey() crypto.PublicKey { return &k.key.PublicKey }

func (k *keypair) GetPublicKeyPem() (string, error) {
	b, err := cryptoutils.MarshalPublicKeyToPEM(&k.key.PublicKey)
	return string(b), err
}

// SignData signs the SHA-256 of data and returns the signature and the digest.
func (k *keypair) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	sum := sha256.Sum256(data)
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, sum[:])
	if err != nil {
		return nil, nil, err
	}
	return sig, sum[:], nil
}

// SignBundle signs statement (an in-toto v1 statement, see NewStatement) as a
// DSSE envelope with key, has log add it (a Rekor v2 log: the entry is a
// hashedrekord over the envelope's PAE), and returns the Sigstore bundle
// (v0.3) as JSON. The bundle names the key by a hint only; verifiers bring the
// public key. log is required: a bundle without a log entry does not verify.
func SignBundle(ctx context.Context, key *ecdsa.PrivateKey, statement []byte, log sign.Transparency) ([]byte, error) {
	if log == nil {
		return nil, errors.New("sign bundle: no transparency log")
	}
	if _, err := parseStatement(statement); err != nil {
		return nil, fmt.Errorf("sign bundle: %w", err)
	}
	kp, err := newKeypair(key)
	if err != nil {
		return nil, fmt.Errorf("sign bundle: %w", err)
	}
	pb, err := sign.Bundle(&sign.DSSEData{Data: statement, PayloadType: PayloadType}, kp, sign.BundleOptions{
		Context:          ctx,
		TransparencyLogs: []sign.Transparency{log},
	})
	if err != nil {
		return nil, fmt.Errorf("sign bundle: %w", err)
	}
	raw, err := protojson.Marshal(pb)
	if err != nil {
		return nil, fmt.Errorf("sign bundle: %w", err)
	}
	// protojson varies its whitespace from run to run on purpose; compact it
	// so that the same bundle is always the same bytes.
	var out bytes.Buffer
	if err := json.Compact(&out, raw); err != nil {
		return nil, fmt.Errorf("sign bundle: %w", err)
	}
	return out.Bytes(), nil
}

// The checks VerifyBundle names in a VerificationError.
const (
	CheckBundle    = "bundle"    // not a well-formed Sigstore bundle of a DSSE envelope signed with a public key
	CheckSignature = "signature" // the envelope's signature does not verify with the public key
	CheckStatement = "statement" // the payload is not an in-toto v1 statement
	CheckTlog      = "tlog"      // no single valid entry, inclusion proof and signed checkpoint of a trusted log
)

// VerificationError says which check a bundle failed: Check is one of
// CheckBundle, CheckSignature, CheckStatement and CheckTlog.
type VerificationError struct {
	Check string
	Err   error
}

func (e *VerificationError) Error() string {
	return fmt.Sprintf("bundle verification failed (%s): %v", e.Check, e.Err)
}

func (e *VerificationError) Unwrap() error { return e.Err }

func failed(check string, err error) error { return &VerificationError{Check: check, Err: err} }

// Verified is what VerifyBundle vouches for.
type Verified struct {
	Statement      []byte // the DSSE payload (in-toto statement JSON), verified
	Subjects       []Subject
	PredicateType  string
	Predicate      json.RawMessage
	LogIndex       int64
	LogID          string    // hex of the log's key id as in the bundle
	IntegratedTime time.Time // zero for Rekor v2 entries
}

// VerifyBundle verifies a Sigstore bundle offline with sigstore-go: the DSSE
// envelope's signature with pub, its payload as an in-toto v1 statement, and
// its one transparency-log entry (inclusion proof and checkpoint signature)
// against one of logs. It needs no observer timestamp: a key, unlike a
// certificate, has no validity window to place the signature in, and Rekor v2
// entries carry no integrated time. A bundle that fails a check gives a
// *VerificationError; bad arguments (no key, no log, a log key sigstore-go
// cannot use) give a plain error.
func VerifyBundle(ctx context.Context, bundleJSON []byte, pub *ecdsa.PublicKey, logs []LogKey) (*Verified, error) {
	if pub == nil {
		return nil, errors.New("verify bundle: no public key")
	}
	if pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("verify bundle: ECDSA %s public key; want P-256", pub.Curve.Params().Name)
	}
	tr, err := trustedRoot(logs)
	if err != nil {
		return nil, fmt.Errorf("verify bundle: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	keyVerifier, err := signature.LoadECDSAVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("verify bundle: %w", err)
	}
	// The hint in the bundle is not trusted: every hint resolves to pub.
	expiring := root.NewExpiringKey(keyVerifier, time.Time{}, time.Time{})
	keyMaterial := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return expiring, nil })
	material := root.TrustedMaterialCollection{tr, keyMaterial}

	var b bundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return nil, failed(CheckBundle, err)
	}
	env := b.GetDsseEnvelope()
	if env == nil {
		return nil, failed(CheckBundle, errors.New("bundle holds no DSSE envelope"))
	}
	if b.GetVerificationMaterial().GetPublicKey() == nil {
		return nil, failed(CheckBundle, errors.New("bundle is not signed with a public key"))
	}
	sigContent, err := b.SignatureContent()
	if err != nil {
		return nil, failed(CheckBundle, err)
	}
	verificationContent, err := b.VerificationContent()
	if err != nil {
		return nil, failed(CheckBundle, err)
	}

	// Each check on its own first, so that a failure names the right one;
	// then sigstore-go's whole verification, which adds the log.
	if err := verify.VerifySignature(sigContent, verificationContent, material); err != nil {
		return nil, failed(CheckSignature, err)
	}
	if env.GetPayloadType() != PayloadType {
		return nil, failed(CheckStatement, fmt.Errorf("payload type %q, want %q", env.GetPayloadType(), PayloadType))
	}
	st, err := parseStatement(env.GetPayload())
	if err != nil {
		return nil, failed(CheckStatement, err)
	}
	entries := b.GetVerificationMaterial().GetTlogEntries()
	if len(entries) != 1 {
		return nil, failed(CheckTlog, fmt.Errorf("bundle has %d transparency log entries, want exactly 1", len(entries)))
	}
	v, err := verify.NewVerifier(material, verify.WithTransparencyLog(1), verify.WithNoObserverTimestamps())
	if err != nil {
		return nil, fmt.Errorf("verify bundle: %w", err)
	}
	if _, err := v.Verify(&b, verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithKey())); err != nil {
		return nil, failed(CheckTlog, err)
	}

	e := entries[0]
	out := &Verified{
		Statement:     append([]byte(nil), env.GetPayload()...),
		Subjects:      st.Subjects,
		PredicateType: st.PredicateType,
		Predicate:     st.Predicate,
		LogIndex:      e.GetLogIndex(),
		LogID:         hex.EncodeToString(e.GetLogId().GetKeyId()),
	}
	if t := e.GetIntegratedTime(); t != 0 {
		out.IntegratedTime = time.Unix(t, 0).UTC()
	}
	return out, nil
}
