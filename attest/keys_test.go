package attest_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"golang.org/x/crypto/ssh"

	"github.com/maestro-conductor/maestro/attest"
)

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestGenerateKeyPair(t *testing.T) {
	for _, pw := range []string{"correct horse", ""} {
		t.Run("password="+pw, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keys")
			priv, pub, err := attest.GenerateKeyPair(dir, []byte(pw))
			if err != nil {
				t.Fatalf("GenerateKeyPair() error = %v", err)
			}
			if d := cmp.Diff([]string{filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")}, []string{priv, pub}); d != "" {
				t.Errorf("GenerateKeyPair() paths mismatch (-want +got):\n%s", d)
			}
			fi, err := os.Stat(priv)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("cosign.key mode = %v, want 0600", got)
			}
			key, err := attest.LoadPrivateKey(priv, []byte(pw))
			if err != nil {
				t.Fatalf("LoadPrivateKey() error = %v", err)
			}
			pk, err := attest.LoadPublicKey(pub)
			if err != nil {
				t.Fatalf("LoadPublicKey() error = %v", err)
			}
			if !key.PublicKey.Equal(pk) {
				t.Error("cosign.pub does not hold cosign.key's public key")
			}
			// cosign's own loader reads the key with the same password.
			data, err := os.ReadFile(priv)
			if err != nil {
				t.Fatal(err)
			}
			sv, err := cosign.LoadPrivateKey(data, []byte(pw), nil)
			if err != nil {
				t.Fatalf("cosign.LoadPrivateKey() error = %v", err)
			}
			cpk, err := sv.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			if !pk.Equal(cpk) {
				t.Error("cosign.LoadPrivateKey() gives another key than LoadPrivateKey()")
			}
		})
	}
}

func TestGenerateKeyPairRefusesToOverwrite(t *testing.T) {
	for _, existing := range []string{"cosign.key", "cosign.pub"} {
		t.Run(existing, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, existing)
			if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := attest.GenerateKeyPair(dir, nil)
			if !errors.Is(err, fs.ErrExist) {
				t.Fatalf("GenerateKeyPair() error = %v, want fs.ErrExist", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("GenerateKeyPair() error %q does not name %s", err, path)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != "keep me" {
				t.Errorf("%s changed: %q, %v", existing, got, err)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Errorf("GenerateKeyPair() left %d files, want only the existing one", len(entries))
			}
		})
	}
}

// writeEncryptedKey writes a private key the way cosign does (PKCS#8,
// encrypted, ENCRYPTED SIGSTORE PRIVATE KEY), for key types cosign can hold
// but maestro refuses.
func writeEncryptedKey(t *testing.T, path string, key any, pw []byte) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encrypted.Encrypt(der, pw)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: cosign.SigstorePrivateKeyPemType, Bytes: enc}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadPrivateKeyErrors(t *testing.T) {
	dir := t.TempDir()
	priv, pub, err := attest.GenerateKeyPair(dir, []byte("right"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyPEM, err := os.ReadFile(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	flipped := bytes.Clone(block.Bytes)
	// Alter the ciphertext, well inside the JSON's base64 "ciphertext" value.
	i := bytes.Index(flipped, []byte(`"ciphertext":"`)) + len(`"ciphertext":"`) + 10
	if flipped[i] == 'A' {
		flipped[i] = 'B'
	} else {
		flipped[i] = 'A'
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384Path := filepath.Join(dir, "p384.key")
	writeEncryptedKey(t, p384Path, p384, []byte("right"))
	edPath := filepath.Join(dir, "ed25519.key")
	writeEncryptedKey(t, edPath, ed, []byte("right"))

	tests := []struct {
		name     string
		path     string
		password string
		is       error    // errors.Is target, if any
		contains []string // the message names the file and the trouble
	}{
		{"wrong password", priv, "wrong", attest.ErrBadPassword, []string{priv}},
		{"empty password for a protected key", priv, "", attest.ErrBadPassword, []string{priv}},
		{"altered ciphertext", write("altered.key", pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: flipped})), "right", attest.ErrBadPassword, []string{"altered.key"}},
		{"missing file", filepath.Join(dir, "nope.key"), "right", fs.ErrNotExist, []string{"nope.key"}},
		{"garbage", write("garbage.key", []byte("this is not a key\x00\xff")), "right", nil, []string{"garbage.key", "not a PEM file"}},
		{"empty file", write("empty.key", nil), "right", nil, []string{"empty.key", "not a PEM file"}},
		{"public key instead", pub, "right", nil, []string{pub, `"PUBLIC KEY"`}},
		{"unencrypted EC key", write("plain.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1, 2, 3}})), "right", nil, []string{"plain.key", `"EC PRIVATE KEY"`}},
		{"corrupted JSON", write("json.key", pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: []byte("{not json")})), "right", nil, []string{"json.key", "corrupted"}},
		{"P-384 key", p384Path, "right", nil, []string{"p384.key", "P-384", "P-256 only"}},
		{"Ed25519 key", edPath, "right", nil, []string{"ed25519.key", "ED25519", "P-256 only"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := attest.LoadPrivateKey(tt.path, []byte(tt.password))
			if err == nil {
				t.Fatalf("LoadPrivateKey() = %v, want an error", key)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("LoadPrivateKey() error = %v, want errors.Is %v", err, tt.is)
			}
			if tt.is == nil && errors.Is(err, attest.ErrBadPassword) {
				t.Errorf("LoadPrivateKey() error = %v, must not be ErrBadPassword", err)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("LoadPrivateKey() error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestPublicKeyPEMRoundTrip(t *testing.T) {
	key := newKey(t)
	b, err := attest.PublicKeyPEM(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("-----BEGIN PUBLIC KEY-----\n")) {
		t.Errorf("PublicKeyPEM() = %q, want a PUBLIC KEY block", b)
	}
	got, err := attest.ParsePublicKeyPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(&key.PublicKey) {
		t.Error("ParsePublicKeyPEM(PublicKeyPEM(k)) != k")
	}
}

func TestParsePublicKeyPEMErrors(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkix := func(pub any) []byte {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	tests := []struct {
		name, input, want string
	}{
		{"garbage", "not a key", "not a PEM"},
		{"private key block", string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: []byte("x")})), `"ENCRYPTED SIGSTORE PRIVATE KEY"`},
		{"bad DER", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("x")})), "parse public key"},
		{"P-384", string(pkix(&p384.PublicKey)), "P-384"},
		{"RSA", string(pkix(&rsaKey.PublicKey)), "RSA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := attest.ParsePublicKeyPEM([]byte(tt.input))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParsePublicKeyPEM() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(path, []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := attest.LoadPublicKey(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadPublicKey(junk) error = %v, want one naming %s", err, path)
	}
}

func TestKeyID(t *testing.T) {
	a, b := newKey(t), newKey(t)
	idA := attest.KeyID(&a.PublicKey)
	if !regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}$`).MatchString(idA) {
		t.Errorf("KeyID() = %q, want SHA256:<43 unpadded base64 characters>", idA)
	}
	if again := attest.KeyID(&a.PublicKey); again != idA {
		t.Errorf("KeyID() not stable: %q then %q", idA, again)
	}
	if idB := attest.KeyID(&b.PublicKey); idB == idA {
		t.Errorf("two keys share KeyID %q", idA)
	}

	// It is the fingerprint ssh-keygen prints for the allowed-signers key.
	line, err := attest.AllowedSignersLine(&a.PublicKey, "me@example.com")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "key.pub")
	if err := os.WriteFile(f, []byte(strings.SplitN(line, " ", 2)[1]+" comment\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ssh-keygen", "-l", "-f", f).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen -l: %v\n%s", err, out)
	}
	fields := strings.Fields(string(out))
	if len(fields) < 2 {
		t.Fatalf("ssh-keygen -l printed %q", out)
	}
	if d := cmp.Diff(fields[1], idA); d != "" {
		t.Errorf("KeyID() vs ssh-keygen -l mismatch (-want +got):\n%s", d)
	}
}

func TestAllowedSignersLine(t *testing.T) {
	key := newKey(t)
	sshPub, err := ssh.NewPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	wantKey := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
	tests := []struct {
		principal string
		want      string // the line, or "" for an error
		wantErr   string
	}{
		{"release@example.com", "release@example.com " + wantKey, ""},
		{"Release.Bot-1_x", "Release.Bot-1_x " + wantKey, ""},
		{"ünïcödé@example.com", "ünïcödé@example.com " + wantKey, ""},
		{"", "", "empty"},
		{"two words", "", "whitespace"},
		{"line\nbreak", "", "whitespace"},
		{"tab\there", "", "whitespace"},
		{"cr\r", "", "whitespace"},
		{"nul\x00", "", "control"},
		{"a@x,b@y", "", "','"},
		{"*", "", "'*'"},
		{"*@example.com", "", "'*'"},
		{"me?", "", "'?'"},
		{"!me", "", "'!'"},
		{`"me"`, "", `'"'`},
		{"#me", "", "comment"},
	}
	for _, tt := range tests {
		t.Run(tt.principal, func(t *testing.T) {
			got, err := attest.AllowedSignersLine(&key.PublicKey, tt.principal)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("AllowedSignersLine(%q) = %q, %v; want an error containing %q", tt.principal, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("AllowedSignersLine(%q) error = %v", tt.principal, err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("AllowedSignersLine() mismatch (-want +got):\n%s", d)
			}
			fields := strings.Fields(got)
			if len(fields) != 3 || fields[0] != tt.principal || fields[1] != "ecdsa-sha2-nistp256" {
				t.Fatalf("AllowedSignersLine() = %q, want <principal> ecdsa-sha2-nistp256 <key>", got)
			}
			parsed, _, _, _, err := ssh.ParseAuthorizedKey([]byte(fields[1] + " " + fields[2]))
			if err != nil {
				t.Fatalf("key of the line does not parse: %v", err)
			}
			if !bytes.Equal(parsed.Marshal(), sshPub.Marshal()) {
				t.Error("the line holds another key")
			}
		})
	}
}

// TestAllowedSignersLineWithSSHKeygen has ssh-keygen, which git runs to verify
// SSH-signed tags, check a signature against the line: the key's own
// signature is accepted for the principal, another key's is not.
func TestAllowedSignersLineWithSSHKeygen(t *testing.T) {
	dir := t.TempDir()
	key, other := newKey(t), newKey(t)
	const principal = "release@example.com"
	line, err := attest.AllowedSignersLine(&key.PublicKey, principal)
	if err != nil {
		t.Fatal(err)
	}
	allowed := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(allowed, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "message")
	if err := os.WriteFile(data, []byte("promote nightly-etl v1.2.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sshSign := func(k *ecdsa.PrivateKey, name string) string {
		block, err := ssh.MarshalPrivateKey(k, "")
		if err != nil {
			t.Fatal(err)
		}
		keyFile := filepath.Join(dir, name)
		if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		msg := filepath.Join(dir, name+".msg")
		if err := os.WriteFile(msg, []byte("promote nightly-etl v1.2.0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("ssh-keygen", "-Y", "sign", "-f", keyFile, "-n", "git", msg).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
		}
		return msg + ".sig"
	}
	verify := func(sig string) error {
		cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", allowed, "-I", principal, "-n", "git", "-s", sig)
		in, err := os.Open(data)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		cmd.Stdin = in
		out, err := cmd.CombinedOutput()
		if err != nil {
			return errors.New(strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := verify(sshSign(key, "key")); err != nil {
		t.Errorf("ssh-keygen -Y verify rejects the key's own signature: %v", err)
	}
	if err := verify(sshSign(other, "other")); err == nil {
		t.Error("ssh-keygen -Y verify accepts a signature by a key not on the line")
	}
}
