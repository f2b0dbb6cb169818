package attest_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	rekortilespb "github.com/sigstore/rekor-tiles/v2/pkg/generated/protobuf"
	rekornote "github.com/sigstore/rekor-tiles/v2/pkg/note"
	"github.com/sigstore/rekor-tiles/v2/pkg/types/hashedrekord"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/signature"
	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/maestro-conductor/maestro/attest"
)

// fakeRekorV2ForTest is a TEST-ONLY transparency log: an in-memory Merkle
// tree that speaks the Rekor v2 write API (sigstore-go's sign.RekorV2Client)
// and answers like rekor-tiles does: a hashedrekord v0.0.2 entry validated
// and canonicalized with rekor-tiles' own code, its inclusion proof, and a
// checkpoint signed with rekor-tiles' note signer. It exists so that attest's
// tests do not depend on the real log (attest/tlog), which has its own tests;
// it keeps nothing, serves no tiles, and is not a log anyone should trust.
type fakeRekorV2ForTest struct {
	origin string
	signer note.Signer
	key    attest.LogKey
	logID  []byte

	mu   sync.Mutex
	tree *testonly.Tree
}

var _ sign.RekorV2Client = (*fakeRekorV2ForTest)(nil)

// newFakeRekorV2ForTest starts a fake log with a fresh checkpoint key, ECDSA
// P-256 (what rekor-tiles uses) or, with ed25519 set, Ed25519 (what the
// embedded log uses). A few filler leaves make inclusion proofs non-trivial.
func newFakeRekorV2ForTest(t *testing.T, origin string, useEd25519 bool) *fakeRekorV2ForTest {
	t.Helper()
	var (
		sv  signature.SignerVerifier
		pub crypto.PublicKey
		err error
	)
	if useEd25519 {
		var priv ed25519.PrivateKey
		pub, priv, err = ed25519.GenerateKey(rand.Reader)
		if err == nil {
			sv, err = signature.LoadED25519SignerVerifier(priv)
		}
	} else {
		var priv *ecdsa.PrivateKey
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err == nil {
			pub = &priv.PublicKey
			sv, err = signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
		}
	}
	if err != nil {
		t.Fatalf("fake log key: %v", err)
	}
	ns, err := rekornote.NewNoteSigner(context.Background(), origin, sv)
	if err != nil {
		t.Fatalf("fake log note signer: %v", err)
	}
	_, logID, err := rekornote.KeyHash(origin, pub)
	if err != nil {
		t.Fatalf("fake log id: %v", err)
	}
	f := &fakeRekorV2ForTest{
		origin: origin,
		signer: ns,
		key:    attest.LogKey{Origin: origin, PublicKey: pub},
		logID:  logID,
		tree:   testonly.New(rfc6962.DefaultHasher),
	}
	for i := range 5 {
		f.tree.AppendData([]byte(fmt.Sprintf("filler %d", i)))
	}
	return f
}

// LogKey is what a verifier must trust to accept this log's entries.
func (f *fakeRekorV2ForTest) LogKey() attest.LogKey { return f.key }

// Transparency is the log as sigstore-go's signer uses a Rekor v2 server.
func (f *fakeRekorV2ForTest) Transparency() sign.Transparency {
	return sign.NewRekor(&sign.RekorOptions{Version: 2, ClientV2: f})
}

// Add appends a hashedrekord request as rekor-tiles' CreateEntry does.
func (f *fakeRekorV2ForTest) Add(_ context.Context, entry any) (*protorekor.TransparencyLogEntry, error) {
	req, ok := entry.(*rekortilespb.HashedRekordRequestV002)
	if !ok {
		return nil, fmt.Errorf("fake log: %T entries are not supported", entry)
	}
	registry, err := signature.NewAlgorithmRegistryConfig([]protocommon.PublicKeyDetails{
		protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
	})
	if err != nil {
		return nil, err
	}
	e, err := hashedrekord.ToLogEntry(req, registry)
	if err != nil {
		return nil, fmt.Errorf("fake log: invalid hashedrekord: %w", err)
	}
	serialized, err := protojson.Marshal(e)
	if err != nil {
		return nil, err
	}
	body, err := jsoncanonicalizer.Transform(serialized)
	if err != nil {
		return nil, err
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.tree.AppendData(body)
	size := f.tree.Size()
	idx := size - 1
	proof, err := f.tree.InclusionProof(idx, size)
	if err != nil {
		return nil, err
	}
	cp := flog.Checkpoint{Origin: f.origin, Size: size, Hash: f.tree.Hash()}
	signed, err := note.Sign(&note.Note{Text: string(cp.Marshal())}, f.signer)
	if err != nil {
		return nil, err
	}
	if idx > 1<<62 {
		return nil, errors.New("fake log: full")
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex:          int64(idx),
		LogId:             &protocommon.LogId{KeyId: f.logID},
		KindVersion:       &protorekor.KindVersion{Kind: e.Kind, Version: e.ApiVersion},
		CanonicalizedBody: body,
		InclusionProof: &protorekor.InclusionProof{
			LogIndex:   int64(idx),
			RootHash:   cp.Hash,
			TreeSize:   int64(size),
			Hashes:     proof,
			Checkpoint: &protorekor.Checkpoint{Envelope: string(signed)},
		},
	}, nil
}
