package attest_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/maestro-conductor/maestro/attest"
)

func testStatement(t *testing.T, digest string) []byte {
	t.Helper()
	st, err := attest.NewStatement(
		[]attest.Subject{{Name: "nightly-etl", Digest: map[string]string{"sha256": digest}}},
		testPredicateType,
		promotionForTest{Workflow: "nightly-etl", Version: "1.2.0", Frozen: true},
	)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func signTestBundle(t *testing.T, log *fakeRekorV2ForTest, key *ecdsa.PrivateKey, st []byte) []byte {
	t.Helper()
	b, err := attest.SignBundle(context.Background(), key, st, log.Transparency())
	if err != nil {
		t.Fatalf("SignBundle() error = %v", err)
	}
	return b
}

func TestSignVerifyBundle(t *testing.T) {
	for _, ed := range []bool{false, true} {
		name := "ECDSA log key"
		if ed {
			name = "Ed25519 log key"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			log := newFakeRekorV2ForTest(t, "log-test.maestro.local", ed)
			key := newKey(t)
			st := testStatement(t, digestA)
			b, err := attest.SignBundle(ctx, key, st, log.Transparency())
			if err != nil {
				t.Fatalf("SignBundle() error = %v", err)
			}
			got, err := attest.VerifyBundle(ctx, b, &key.PublicKey, []attest.LogKey{log.LogKey()})
			if err != nil {
				t.Fatalf("VerifyBundle() error = %v", err)
			}
			want := &attest.Verified{
				Statement:     st,
				Subjects:      []attest.Subject{{Name: "nightly-etl", Digest: map[string]string{"sha256": digestA}}},
				PredicateType: testPredicateType,
				Predicate:     json.RawMessage(`{"frozen":true,"version":"1.2.0","workflow":"nightly-etl"}`),
				LogIndex:      5, // after the fake log's five filler leaves
				LogID:         hex.EncodeToString(log.logID),
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("VerifyBundle() mismatch (-want +got):\n%s", d)
			}

			// A second bundle in the same log verifies too, at the next index.
			b2, err := attest.SignBundle(ctx, key, testStatement(t, digestB), log.Transparency())
			if err != nil {
				t.Fatal(err)
			}
			got2, err := attest.VerifyBundle(ctx, b2, &key.PublicKey, []attest.LogKey{log.LogKey()})
			if err != nil {
				t.Fatalf("VerifyBundle(second) error = %v", err)
			}
			if got2.LogIndex != 6 || got2.Subjects[0].Digest["sha256"] != digestB {
				t.Errorf("VerifyBundle(second) = index %d, subjects %v", got2.LogIndex, got2.Subjects)
			}
		})
	}
}

func TestSignBundleCompactJSON(t *testing.T) {
	// The JSON carries no protojson whitespace noise: re-encoding the
	// same bundle gives the same bytes.
	log := newFakeRekorV2ForTest(t, "log-test.maestro.local", false)
	b, err := attest.SignBundle(context.Background(), newKey(t), testStatement(t, digestA), log.Transparency())
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(compact.String(), string(b)); d != "" {
		t.Errorf("SignBundle() output is not compact JSON (-compact +got):\n%s", d)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["mediaType"] != "application/vnd.dev.sigstore.bundle.v0.3+json" {
		t.Errorf("bundle mediaType = %v", m["mediaType"])
	}
}

func TestSignBundleErrors(t *testing.T) {
	log := newFakeRekorV2ForTest(t, "log-test.maestro.local", false)
	key := newKey(t)
	tests := []struct {
		name string
		st   []byte
		log  sign.Transparency
		want string
	}{
		{"no log", testStatement(t, digestA), nil, "no transparency log"},
		{"not a statement", []byte(`{"hello":"world"}`), log.Transparency(), "statement"},
		{"not JSON", []byte("plain text"), log.Transparency(), "in-toto"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := attest.SignBundle(context.Background(), key, tt.st, tt.log)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("SignBundle() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := attest.SignBundle(context.Background(), nil, testStatement(t, digestA), log.Transparency()); err == nil {
		t.Error("SignBundle(nil key) succeeded")
	}
}

// editBundle decodes a bundle's JSON, lets edit change it, and encodes it again.
func editBundle(t *testing.T, b []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tlogEntry(m map[string]any) map[string]any {
	return m["verificationMaterial"].(map[string]any)["tlogEntries"].([]any)[0].(map[string]any)
}

func flipBase64(t *testing.T, s string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 1
	return base64.StdEncoding.EncodeToString(raw)
}

func TestVerifyBundleFailures(t *testing.T) {
	ctx := context.Background()
	log := newFakeRekorV2ForTest(t, "log-test.maestro.local", true)
	otherLog := newFakeRekorV2ForTest(t, "log-other.maestro.local", true)
	// Same origin, another key: an impostor of the trusted log.
	impostor := newFakeRekorV2ForTest(t, "log-test.maestro.local", true)
	key, otherKey := newKey(t), newKey(t)
	st := testStatement(t, digestA)
	good := signTestBundle(t, log, key, st)
	trusted := []attest.LogKey{log.LogKey()}

	// A DSSE bundle whose payload is not an in-toto statement, properly
	// signed and logged: SignBundle refuses to make one, sigstore-go does not.
	signRaw := func(payloadType, payload string) []byte {
		kp, err := attest.NewKeypairForTest(key)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := sign.Bundle(&sign.DSSEData{Data: []byte(payload), PayloadType: payloadType}, kp,
			sign.BundleOptions{TransparencyLogs: []sign.Transparency{log.Transparency()}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := protojson.Marshal(pb)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v01 := strings.Replace(string(st), attest.StatementType, "https://in-toto.io/Statement/v0.1", 1)

	tests := []struct {
		name  string
		input []byte
		key   *ecdsa.PrivateKey
		logs  []attest.LogKey
		check string
	}{
		{"wrong key", good, otherKey, trusted, attest.CheckSignature},
		{"tampered payload", editBundle(t, good, func(m map[string]any) {
			env := m["dsseEnvelope"].(map[string]any)
			env["payload"] = base64.StdEncoding.EncodeToString(testStatement(t, digestB))
		}), key, trusted, attest.CheckSignature},
		{"tampered signature", editBundle(t, good, func(m map[string]any) {
			sig := m["dsseEnvelope"].(map[string]any)["signatures"].([]any)[0].(map[string]any)
			sig["sig"] = flipBase64(t, sig["sig"].(string))
		}), key, trusted, attest.CheckSignature},
		{"payload type changed", editBundle(t, good, func(m map[string]any) {
			m["dsseEnvelope"].(map[string]any)["payloadType"] = "application/json"
		}), key, trusted, attest.CheckSignature},
		{"text payload", signRaw("text/plain", "just text"), key, trusted, attest.CheckStatement},
		{"in-toto payload type, not JSON", signRaw(attest.PayloadType, "just text"), key, trusted, attest.CheckStatement},
		{"in-toto v0.1 statement", signRaw(attest.PayloadType, v01), key, trusted, attest.CheckStatement},
		{"statement without subject", signRaw(attest.PayloadType, `{"_type":"`+attest.StatementType+`","subject":[],"predicateType":"x","predicate":{}}`), key, trusted, attest.CheckStatement},
		{"bundle from an untrusted log", signTestBundle(t, otherLog, key, st), key, trusted, attest.CheckTlog},
		{"bundle from an impostor log with the trusted origin", signTestBundle(t, impostor, key, st), key, trusted, attest.CheckTlog},
		{"checkpoint signature altered", editBundle(t, good, func(m map[string]any) {
			cp := tlogEntry(m)["inclusionProof"].(map[string]any)["checkpoint"].(map[string]any)
			env := cp["envelope"].(string)
			i := strings.LastIndex(env, " ") + 1 // the signature line: "— origin base64"
			sig := strings.TrimSuffix(env[i:], "\n")
			cp["envelope"] = env[:i] + flipBase64(t, sig) + "\n"
		}), key, trusted, attest.CheckTlog},
		{"checkpoint text altered", editBundle(t, good, func(m map[string]any) {
			cp := tlogEntry(m)["inclusionProof"].(map[string]any)["checkpoint"].(map[string]any)
			cp["envelope"] = strings.Replace(cp["envelope"].(string), "\n6\n", "\n7\n", 1)
		}), key, trusted, attest.CheckTlog},
		{"inclusion proof altered", editBundle(t, good, func(m map[string]any) {
			ip := tlogEntry(m)["inclusionProof"].(map[string]any)
			hashes := ip["hashes"].([]any)
			hashes[0] = flipBase64(t, hashes[0].(string))
		}), key, trusted, attest.CheckTlog},
		{"log index altered", editBundle(t, good, func(m map[string]any) {
			e := tlogEntry(m)
			e["logIndex"] = "4"
			e["inclusionProof"].(map[string]any)["logIndex"] = "4"
		}), key, trusted, attest.CheckTlog},
		{"no log entry", editBundle(t, good, func(m map[string]any) {
			delete(m["verificationMaterial"].(map[string]any), "tlogEntries")
		}), key, trusted, attest.CheckTlog},
		{"two log entries", editBundle(t, good, func(m map[string]any) {
			vm := m["verificationMaterial"].(map[string]any)
			e := vm["tlogEntries"].([]any)
			vm["tlogEntries"] = append(e, e[0])
		}), key, trusted, attest.CheckTlog},
		{"not JSON", []byte("garbage"), key, trusted, attest.CheckBundle},
		{"unknown media type", editBundle(t, good, func(m map[string]any) {
			m["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.9+json"
		}), key, trusted, attest.CheckBundle},
		{"message signature, not DSSE", editBundle(t, good, func(m map[string]any) {
			delete(m, "dsseEnvelope")
			m["messageSignature"] = map[string]any{
				"messageDigest": map[string]any{"algorithm": "SHA2_256", "digest": base64.StdEncoding.EncodeToString(make([]byte, 32))},
				"signature":     base64.StdEncoding.EncodeToString([]byte("sig")),
			}
		}), key, trusted, attest.CheckBundle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := attest.VerifyBundle(ctx, tt.input, &tt.key.PublicKey, tt.logs)
			var ve *attest.VerificationError
			if !errors.As(err, &ve) {
				t.Fatalf("VerifyBundle() = %+v, %v; want a *VerificationError", got, err)
			}
			if ve.Check != tt.check {
				t.Errorf("VerifyBundle() failed check %q (%v), want %q", ve.Check, ve.Err, tt.check)
			}
		})
	}

	// The good bundle passes with the same key and logs, so each failure
	// above is the edit's doing. Trusting more logs than the one is fine.
	if _, err := attest.VerifyBundle(ctx, good, &key.PublicKey, []attest.LogKey{otherLog.LogKey(), log.LogKey()}); err != nil {
		t.Errorf("VerifyBundle(good) error = %v", err)
	}
}

func TestVerifyBundleBadArguments(t *testing.T) {
	ctx := context.Background()
	log := newFakeRekorV2ForTest(t, "log-test.maestro.local", false)
	key := newKey(t)
	good := signTestBundle(t, log, key, testStatement(t, digestA))
	withOrigin := func(o string) []attest.LogKey {
		k := log.LogKey()
		k.Origin = o
		return []attest.LogKey{k}
	}
	tests := []struct {
		name string
		pub  *ecdsa.PublicKey
		logs []attest.LogKey
		want string
	}{
		{"no key", nil, []attest.LogKey{log.LogKey()}, "no public key"},
		{"no logs", &key.PublicKey, nil, "no transparency log"},
		{"path origin", &key.PublicKey, withOrigin("example.com/log"), "host name"},
		{"empty origin", &key.PublicKey, withOrigin(""), "host name"},
		{"log without key", &key.PublicKey, []attest.LogKey{{Origin: "log-test.maestro.local"}}, "no public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := attest.VerifyBundle(ctx, good, tt.pub, tt.logs)
			var ve *attest.VerificationError
			if err == nil || errors.As(err, &ve) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("VerifyBundle() error = %v, want a plain error containing %q", err, tt.want)
			}
		})
	}
}

func TestVerifyBundleBaseURL(t *testing.T) {
	// A base URL whose host is the origin is kept; any other (a loopback
	// port, a file:// directory) is only a location, and the trusted root
	// gets https://<origin>: both verify.
	ctx := context.Background()
	log := newFakeRekorV2ForTest(t, "log-test.maestro.local", false)
	key := newKey(t)
	good := signTestBundle(t, log, key, testStatement(t, digestA))
	for _, base := range []string{"", "https://log-test.maestro.local", "http://127.0.0.1:3000", "file:///var/lib/maestro/log/tiles"} {
		k := log.LogKey()
		k.BaseURL = base
		if _, err := attest.VerifyBundle(ctx, good, &key.PublicKey, []attest.LogKey{k}); err != nil {
			t.Errorf("VerifyBundle(BaseURL %q) error = %v", base, err)
		}
	}
}

func TestTrustedRootJSON(t *testing.T) {
	a := newFakeRekorV2ForTest(t, "log-a.maestro.local", false)
	b := newFakeRekorV2ForTest(t, "log-b.maestro.local", true)
	bKey := b.LogKey()
	bKey.BaseURL = "https://log-b.maestro.local"
	js, err := attest.TrustedRootJSON([]attest.LogKey{a.LogKey(), bKey})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromJSON(js)
	if err != nil {
		t.Fatalf("sigstore-go does not read TrustedRootJSON(): %v\n%s", err, js)
	}
	got := map[string]string{}
	for id, l := range tr.RekorLogs() {
		got[id] = l.BaseURL
	}
	want := map[string]string{
		hex.EncodeToString(a.logID): "https://log-a.maestro.local",
		hex.EncodeToString(b.logID): "https://log-b.maestro.local",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("trusted root logs mismatch (-want +got):\n%s", d)
	}
	for _, l := range tr.RekorLogs() {
		if l.ValidityPeriodStart.After(time.Now()) {
			t.Errorf("log %s valid only from %v", l.BaseURL, l.ValidityPeriodStart)
		}
	}
	if _, err := attest.TrustedRootJSON(nil); err == nil {
		t.Error("TrustedRootJSON(nil) succeeded")
	}
}

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
