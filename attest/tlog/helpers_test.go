package tlog_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"testing"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	rekortilespb "github.com/sigstore/rekor-tiles/v2/pkg/generated/protobuf"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/maestro-conductor/maestro/attest"
	"github.com/maestro-conductor/maestro/attest/tlog"
)

// testLog is what Embedded and Remote have in common.
type testLog interface {
	Add(ctx context.Context, entry any) (*protorekor.TransparencyLogEntry, error)
	Transparency() sign.Transparency
	LogKey() tlog.LogKey
	Reader() *tlog.Reader
}

var (
	_ testLog = (*tlog.Embedded)(nil)
	_ testLog = (*tlog.Remote)(nil)
)

// signedBundle is a Sigstore bundle made by sigstore-go's sign.Bundle: an
// in-toto statement about artifact in a DSSE envelope, signed with a fresh
// ECDSA P-256 key and appended to tr.
type signedBundle struct {
	Bundle   *protobundle.Bundle
	Artifact []byte
	Keypair  *sign.EphemeralKeypair
}

func newSignedBundle(ctx context.Context, t testing.TB, tr sign.Transparency, name string) (*signedBundle, error) {
	t.Helper()
	artifact := []byte("artifact " + name + " " + rand.Text())
	sum := sha256.Sum256(artifact)
	statement, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": name, "digest": map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
		"predicateType": "https://maestro.dev/test/v1",
		"predicate":     map[string]any{"name": name},
	})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sign.Bundle(&sign.DSSEData{Data: statement, PayloadType: "application/vnd.in-toto+json"}, kp, sign.BundleOptions{
		Context:          ctx,
		TransparencyLogs: []sign.Transparency{tr},
	})
	if err != nil {
		return nil, err
	}
	return &signedBundle{Bundle: b, Artifact: artifact, Keypair: kp}, nil
}

// verifyWithSigstore verifies the bundle offline the way maestro does,
// attest.VerifyBundle (sigstore-go underneath), trusting the signing key and
// the log described by key.
func verifyWithSigstore(ctx context.Context, t testing.TB, sb *signedBundle, key tlog.LogKey) error {
	t.Helper()
	raw, err := protojson.Marshal(sb.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	v, err := attest.VerifyBundle(ctx, raw, sb.Keypair.GetPublicKey().(*ecdsa.PublicKey), []tlog.LogKey{key})
	if err != nil {
		return err
	}
	tle := sb.Bundle.GetVerificationMaterial().GetTlogEntries()[0]
	if v.LogIndex != tle.GetLogIndex() {
		t.Errorf("VerifyBundle: log index %d, want %d", v.LogIndex, tle.GetLogIndex())
	}
	sum := sha256.Sum256(sb.Artifact)
	if len(v.Subjects) != 1 || mustJSON(t, v.Subjects[0].Digest) != mustJSON(t, map[string]string{"sha256": hex.EncodeToString(sum[:])}) {
		t.Errorf("VerifyBundle: subjects %+v, want the artifact's digest %x", v.Subjects, sum)
	}
	return nil
}

// hashedRekord returns a valid entry, signed with key, for a random digest.
func hashedRekord(t testing.TB, key *ecdsa.PrivateKey) *rekortilespb.HashedRekordRequestV002 {
	t.Helper()
	digest := make([]byte, 32)
	if _, err := rand.Read(digest); err != nil {
		t.Fatal(err)
	}
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return &rekortilespb.HashedRekordRequestV002{
		Digest: digest,
		Signature: &rekortilespb.Signature{
			Content: sig,
			Verifier: &rekortilespb.Verifier{
				Verifier:   &rekortilespb.Verifier_PublicKey{PublicKey: &rekortilespb.PublicKey{RawBytes: der}},
				KeyDetails: protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
			},
		},
	}
}

func newECDSAKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// checkTLE checks that a TransparencyLogEntry verifies against the log, and
// that the log's entry at its index is its body.
func checkTLE(ctx context.Context, t testing.TB, r *tlog.Reader, tle *protorekor.TransparencyLogEntry) {
	t.Helper()
	if err := r.VerifyInclusion(ctx, tle); err != nil {
		t.Errorf("VerifyInclusion(entry %d): %v", tle.GetLogIndex(), err)
		return
	}
	body, err := r.Entry(ctx, uint64(tle.GetLogIndex()))
	if err != nil {
		t.Errorf("Entry(%d): %v", tle.GetLogIndex(), err)
		return
	}
	if !bytes.Equal(body, tle.GetCanonicalizedBody()) {
		t.Errorf("Entry(%d) = %s, want the entry's body %s", tle.GetLogIndex(), body, tle.GetCanonicalizedBody())
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
