package attest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maestro-conductor/maestro/attest"
	"github.com/maestro-conductor/maestro/internal/testtools"
)

// The cosign CLI is pinned in tools/go.mod (`make tools` builds it too) and
// built by testtools, once per test binary, into a temporary directory: the
// first build on a machine compiles cosign's whole dependency tree (minutes),
// later ones reuse Go's build cache and only link (seconds). It runs offline
// (testtools.CosignEnv).
func TestMain(m *testing.M) {
	code := m.Run()
	testtools.Cleanup()
	os.Exit(code)
}

func mustCosign(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	out, err := testtools.RunCosign(t, dir, env, args...)
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCosignSignsWithMaestroKey: a key pair from GenerateKeyPair, with a
// password, is a key pair for cosign sign-blob and verify-blob.
func TestCosignSignsWithMaestroKey(t *testing.T) {
	dir := t.TempDir()
	const password = "pässword with spaces"
	if _, _, err := attest.GenerateKeyPair(filepath.Join(dir, "mine"), []byte(password)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := attest.GenerateKeyPair(filepath.Join(dir, "other"), nil); err != nil {
		t.Fatal(err)
	}
	blob := writeFile(t, filepath.Join(dir, "blob"), []byte("nightly-etl v1.2.0\n"))
	withPassword := []string{"COSIGN_PASSWORD=" + password}
	mustCosign(t, dir, withPassword, "sign-blob", "--key", "mine/cosign.key", "--tlog-upload=false",
		"--output-signature", "blob.sig", "--yes", blob)

	verify := func(pub, blob string) (string, error) {
		return testtools.RunCosign(t, dir, nil, "verify-blob", "--key", pub, "--signature", "blob.sig",
			"--insecure-ignore-tlog", "--offline", blob)
	}
	if out, err := verify("mine/cosign.pub", blob); err != nil || !strings.Contains(out, "Verified OK") {
		t.Errorf("cosign verify-blob with our cosign.pub: %v\n%s", err, out)
	}
	if out, err := verify("other/cosign.pub", blob); err == nil {
		t.Errorf("cosign verify-blob accepts another key:\n%s", out)
	}
	tampered := writeFile(t, filepath.Join(dir, "tampered"), []byte("nightly-etl v1.2.1\n"))
	if out, err := verify("mine/cosign.pub", tampered); err == nil {
		t.Errorf("cosign verify-blob accepts a changed blob:\n%s", out)
	}
	// cosign itself refuses the key with a wrong password.
	if out, err := testtools.RunCosign(t, dir, []string{"COSIGN_PASSWORD=wrong"}, "sign-blob", "--key", "mine/cosign.key",
		"--tlog-upload=false", "--output-signature", "x.sig", "--yes", blob); err == nil {
		t.Errorf("cosign sign-blob with a wrong password succeeded:\n%s", out)
	}
}

// TestMaestroSignsWithCosignKey: a key pair from cosign generate-key-pair
// loads with LoadPrivateKey and LoadPublicKey and makes bundles that
// VerifyBundle accepts.
func TestMaestroSignsWithCosignKey(t *testing.T) {
	dir := t.TempDir()
	const password = "from cosign"
	mustCosign(t, dir, []string{"COSIGN_PASSWORD=" + password}, "generate-key-pair")
	key, err := attest.LoadPrivateKey(filepath.Join(dir, "cosign.key"), []byte(password))
	if err != nil {
		t.Fatalf("LoadPrivateKey(cosign's key) error = %v", err)
	}
	pub, err := attest.LoadPublicKey(filepath.Join(dir, "cosign.pub"))
	if err != nil {
		t.Fatalf("LoadPublicKey(cosign's key) error = %v", err)
	}
	if !key.PublicKey.Equal(pub) {
		t.Fatal("cosign.pub does not hold cosign.key's public key")
	}
	if _, err := attest.LoadPrivateKey(filepath.Join(dir, "cosign.key"), []byte("wrong")); !errors.Is(err, attest.ErrBadPassword) {
		t.Errorf("LoadPrivateKey(cosign's key, wrong password) error = %v, want ErrBadPassword", err)
	}

	ctx := context.Background()
	log := newFakeRekorV2ForTest(t, "log-test.maestro.local", true)
	b, err := attest.SignBundle(ctx, key, testStatement(t, digestA), log.Transparency())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := attest.VerifyBundle(ctx, b, pub, []attest.LogKey{log.LogKey()}); err != nil {
		t.Errorf("VerifyBundle() error = %v", err)
	}
	var ve *attest.VerificationError
	if _, err := attest.VerifyBundle(ctx, b, &newKey(t).PublicKey, []attest.LogKey{log.LogKey()}); !errors.As(err, &ve) || ve.Check != attest.CheckSignature {
		t.Errorf("VerifyBundle(another key) error = %v, want a signature VerificationError", err)
	}
}

// TestCosignVerifiesMaestroBundle: cosign verify-blob-attestation verifies a
// bundle from SignBundle offline, transparency-log entry included: the
// inclusion proof and the checkpoint signature are checked against the log
// listed in a trusted root from TrustedRootJSON. cosign (through sigstore-go)
// takes the checkpoint origin from the host of the log's base URL there.
func TestCosignVerifiesMaestroBundle(t *testing.T) {
	for _, ed := range []bool{false, true} {
		name := "ECDSA log key"
		if ed {
			name = "Ed25519 log key"
		}
		t.Run(name, func(t *testing.T) {
			testCosignVerifiesMaestroBundle(t, ed)
		})
	}
}

func testCosignVerifiesMaestroBundle(t *testing.T, ed bool) {
	dir := t.TempDir()
	ctx := context.Background()
	if _, _, err := attest.GenerateKeyPair(filepath.Join(dir, "mine"), []byte("pw")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := attest.GenerateKeyPair(filepath.Join(dir, "other"), nil); err != nil {
		t.Fatal(err)
	}
	key, err := attest.LoadPrivateKey(filepath.Join(dir, "mine", "cosign.key"), []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	log := newFakeRekorV2ForTest(t, "log-test.maestro.local", ed)
	otherLog := newFakeRekorV2ForTest(t, "log-other.maestro.local", ed)

	// The subject is a blob's SHA-256, so cosign can be given the blob too.
	blobData := []byte("the graph of nightly-etl\n")
	sum := sha256.Sum256(blobData)
	digest := hex.EncodeToString(sum[:])
	blob := writeFile(t, filepath.Join(dir, "blob"), blobData)
	bundle := func(l *fakeRekorV2ForTest, name string) string {
		b, err := attest.SignBundle(ctx, key, testStatement(t, digest), l.Transparency())
		if err != nil {
			t.Fatal(err)
		}
		return writeFile(t, filepath.Join(dir, name), b)
	}
	good := bundle(log, "good.bundle")
	fromOtherLog := bundle(otherLog, "other-log.bundle")
	trustedRoot := func(name string, logs ...attest.LogKey) string {
		js, err := attest.TrustedRootJSON(logs)
		if err != nil {
			t.Fatal(err)
		}
		return writeFile(t, filepath.Join(dir, name), js)
	}
	trusted := trustedRoot("trusted_root.json", log.LogKey())
	otherTrusted := trustedRoot("other_root.json", otherLog.LogKey())

	goodJSON, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	tampered := writeFile(t, filepath.Join(dir, "tampered.bundle"), editBundle(t, goodJSON, func(m map[string]any) {
		env := m["dsseEnvelope"].(map[string]any)
		env["payload"] = encodeB64(testStatement(t, digestB))
	}))
	badCheckpoint := writeFile(t, filepath.Join(dir, "bad-checkpoint.bundle"), editBundle(t, goodJSON, func(m map[string]any) {
		cp := tlogEntry(m)["inclusionProof"].(map[string]any)["checkpoint"].(map[string]any)
		env := cp["envelope"].(string)
		i := strings.LastIndex(env, " ") + 1
		cp["envelope"] = env[:i] + flipBase64(t, strings.TrimSuffix(env[i:], "\n")) + "\n"
	}))

	// The exact command a user runs: verify-blob-attestation, new bundle
	// format, offline, with the public key and a trusted root that lists
	// maestro's log; the subject given as the blob or as its digest.
	run := func(pub, root, bundle, predicateType string, subject ...string) (string, error) {
		args := append([]string{"verify-blob-attestation", "--offline", "--new-bundle-format",
			"--key", pub, "--trusted-root", root, "--bundle", bundle, "--type", predicateType}, subject...)
		return testtools.RunCosign(t, dir, nil, args...)
	}
	byDigest := []string{"--digest", digest, "--digestAlg", "sha256"}
	for _, subject := range [][]string{byDigest, {blob}} {
		if out, err := run("mine/cosign.pub", trusted, good, testPredicateType, subject...); err != nil || !strings.Contains(out, "Verified OK") {
			t.Errorf("cosign verify-blob-attestation %v: %v\n%s", subject, err, out)
		}
	}

	wrongBlob := writeFile(t, filepath.Join(dir, "wrong-blob"), []byte("another graph\n"))
	failures := []struct {
		name                         string
		pub, root, bundle, predicate string
		subject                      []string
	}{
		{"another key", "other/cosign.pub", trusted, good, testPredicateType, byDigest},
		{"tampered payload", "mine/cosign.pub", trusted, tampered, testPredicateType, byDigest},
		{"bundle from an untrusted log", "mine/cosign.pub", trusted, fromOtherLog, testPredicateType, byDigest},
		{"trusted root of another log", "mine/cosign.pub", otherTrusted, good, testPredicateType, byDigest},
		{"checkpoint signature altered", "mine/cosign.pub", trusted, badCheckpoint, testPredicateType, byDigest},
		{"another subject digest", "mine/cosign.pub", trusted, good, testPredicateType, []string{"--digest", digestB, "--digestAlg", "sha256"}},
		{"another blob", "mine/cosign.pub", trusted, good, testPredicateType, []string{wrongBlob}},
		{"another predicate type", "mine/cosign.pub", trusted, good, "https://example.com/other/v1", byDigest},
	}
	for _, f := range failures {
		if out, err := run(f.pub, f.root, f.bundle, f.predicate, f.subject...); err == nil {
			t.Errorf("%s: cosign verify-blob-attestation succeeded:\n%s", f.name, out)
		}
	}
	// The bundle from the other log is well made: it verifies against its own log.
	if out, err := run("mine/cosign.pub", otherTrusted, fromOtherLog, testPredicateType, byDigest...); err != nil {
		t.Errorf("cosign verify-blob-attestation (other log, its own root): %v\n%s", err, out)
	}
}
