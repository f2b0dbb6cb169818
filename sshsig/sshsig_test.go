package sshsig

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sshPub(t testing.TB, k crypto.Signer) ssh.PublicKey {
	t.Helper()
	p, err := ssh.NewPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func sign(t testing.TB, k crypto.Signer, msg, ns string) []byte {
	t.Helper()
	sig, err := Sign(k, []byte(msg), ns)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return sig
}

// unarmor decodes an armored signature for tests that take it apart; it fails the test on bad input.
func unarmor(t testing.TB, armored []byte) []byte {
	t.Helper()
	b, err := dearmor(armored)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSignVerifyRoundTrip(t *testing.T) {
	k := newKey(t)
	for _, msg := range []string{"", "hello\n", strings.Repeat("long message ", 10000)} {
		sig := sign(t, k, msg, "git")
		pub, err := Verify(sig, []byte(msg), "git")
		if err != nil {
			t.Fatalf("Verify(Sign(%.20q)): %v", msg, err)
		}
		if !bytes.Equal(pub.Marshal(), sshPub(t, k).Marshal()) {
			t.Errorf("Verify returned key %s, want the signer's %s", ssh.FingerprintSHA256(pub), ssh.FingerprintSHA256(sshPub(t, k)))
		}
	}
}

func TestSignArmor(t *testing.T) {
	sig := sign(t, newKey(t), "m", "git")
	lines := strings.Split(string(sig), "\n")
	if lines[0] != armorBegin || lines[len(lines)-2] != armorEnd || lines[len(lines)-1] != "" {
		t.Fatalf("armor lines wrong:\n%s", sig)
	}
	for i, l := range lines[1 : len(lines)-2] {
		if len(l) > lineLen || (i < len(lines)-4 && len(l) != lineLen) {
			t.Errorf("base64 line %d has %d characters, want %d (the last at most %d)", i+1, len(l), lineLen, lineLen)
		}
	}
	s, err := parse(unarmor(t, sig))
	if err != nil {
		t.Fatal(err)
	}
	if s.namespace != "git" || s.hashAlgorithm != HashSHA512 || len(s.reserved) != 0 {
		t.Errorf("namespace %q, hash %q, reserved %q; want git, sha512, empty", s.namespace, s.hashAlgorithm, s.reserved)
	}
}

// TestArmorLikeSSHKeygen checks that armor lays out a blob byte for byte as ssh-keygen did in testdata/ecdsa.sig.
func TestArmorLikeSSHKeygen(t *testing.T) {
	want, err := os.ReadFile("testdata/ecdsa.sig")
	if err != nil {
		t.Fatal(err)
	}
	if got := armor(unarmor(t, want)); !bytes.Equal(got, want) {
		t.Errorf("armor() =\n%s\nwant (as ssh-keygen wrote it)\n%s", got, want)
	}
}

// TestVerifyFixture verifies a signature ssh-keygen -Y sign made once, so that a change in Verify cannot go unnoticed
// even where ssh-keygen is not installed.
func TestVerifyFixture(t *testing.T) {
	sig, msg, pubLine := readFile(t, "testdata/ecdsa.sig"), readFile(t, "testdata/message"), readFile(t, "testdata/ecdsa_key.pub")
	want, _, _, _, err := ssh.ParseAuthorizedKey(pubLine)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(sig, msg, "git")
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !bytes.Equal(got.Marshal(), want.Marshal()) {
		t.Errorf("Verify returned %s, want %s", ssh.FingerprintSHA256(got), ssh.FingerprintSHA256(want))
	}
	if _, err := Verify(sig, append(msg, 'x'), "git"); !errors.Is(err, ErrVerification) {
		t.Errorf("Verify(other message) error = %v, want ErrVerification", err)
	}
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSignUnsupportedKey(t *testing.T) {
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]crypto.Signer{"ed25519": edKey, "rsa": rsaKey, "ecdsa-p384": p384} {
		if _, err := Sign(k, []byte("m"), "git"); !errors.Is(err, ErrUnsupportedKey) {
			t.Errorf("Sign with %s key: error = %v, want ErrUnsupportedKey", name, err)
		}
	}
	if _, err := Sign(newKey(t), []byte("m"), ""); err == nil {
		t.Error("Sign with an empty namespace: no error")
	}
}

// blobFields are the fields of a signature blob, for building altered ones.
type blobFields struct {
	magic     string
	version   uint32
	publicKey []byte
	namespace string
	reserved  []byte
	hash      string
	signature []byte
	trailing  []byte
}

func fieldsOf(t testing.TB, armored []byte) blobFields {
	t.Helper()
	s, err := parse(unarmor(t, armored))
	if err != nil {
		t.Fatal(err)
	}
	return blobFields{magic, version, s.publicKey, s.namespace, s.reserved, s.hashAlgorithm, s.signature, nil}
}

func (f blobFields) armored() []byte {
	b := append([]byte(nil), f.magic...)
	b = binary.BigEndian.AppendUint32(b, f.version)
	b = appendString(b, f.publicKey)
	b = appendString(b, []byte(f.namespace))
	b = appendString(b, f.reserved)
	b = appendString(b, []byte(f.hash))
	b = appendString(b, f.signature)
	return armor(append(b, f.trailing...))
}

func TestVerifyErrors(t *testing.T) {
	k := newKey(t)
	const msg = "object 0123\ntype commit\n"
	good := sign(t, k, msg, "git")
	other := fieldsOf(t, sign(t, newKey(t), msg, "git"))
	edSig := readFile(t, "testdata/ed25519.sig")
	edMsg := readFile(t, "testdata/message")

	alter := func(f func(*blobFields)) []byte {
		b := fieldsOf(t, good)
		f(&b)
		return b.armored()
	}
	flipSig := func(b *blobFields) {
		var s ssh.Signature
		if err := ssh.Unmarshal(b.signature, &s); err != nil {
			t.Fatal(err)
		}
		s.Blob = bytes.Clone(s.Blob)
		s.Blob[len(s.Blob)-1] ^= 1
		b.signature = ssh.Marshal(s)
	}
	b64 := func(blob []byte) []byte {
		return []byte(armorBegin + "\n" + base64.StdEncoding.EncodeToString(blob) + "\n" + armorEnd + "\n")
	}

	tests := []struct {
		name      string
		sig, msg  []byte
		namespace string
		want      error
	}{
		{"wrong namespace", good, []byte(msg), "file", ErrNamespace},
		{"namespace prefix", good, []byte(msg), "gi", ErrNamespace},
		{"wrong message", good, []byte(msg + "x"), "git", ErrVerification},
		{"empty message", good, nil, "git", ErrVerification},
		{"tampered signature", alter(flipSig), []byte(msg), "git", ErrVerification},
		{"another key in the blob", alter(func(b *blobFields) { b.publicKey = other.publicKey }), []byte(msg), "git", ErrVerification},
		{"another signature in the blob", alter(func(b *blobFields) { b.signature = other.signature }), []byte(msg), "git", ErrVerification},
		{"namespace changed in the blob", alter(func(b *blobFields) { b.namespace = "file" }), []byte(msg), "file", ErrVerification},
		{"reserved changed", alter(func(b *blobFields) { b.reserved = []byte("x") }), []byte(msg), "git", ErrVerification},
		{"hash changed to sha256", alter(func(b *blobFields) { b.hash = HashSHA256 }), []byte(msg), "git", ErrVerification},
		{"unknown hash", alter(func(b *blobFields) { b.hash = "md5" }), []byte(msg), "git", ErrMalformed},
		{"version 2", alter(func(b *blobFields) { b.version = 2 }), []byte(msg), "git", ErrMalformed},
		{"bad magic", alter(func(b *blobFields) { b.magic = "SSHSIH" }), []byte(msg), "git", ErrMalformed},
		{"trailing data", alter(func(b *blobFields) { b.trailing = []byte{0} }), []byte(msg), "git", ErrMalformed},
		{"garbage key", alter(func(b *blobFields) { b.publicKey = []byte("garbage") }), []byte(msg), "git", ErrMalformed},
		{"garbage signature", alter(func(b *blobFields) { b.signature = []byte{0, 0, 0, 9} }), []byte(msg), "git", ErrMalformed},
		{"signature with trailing data", alter(func(b *blobFields) { b.signature = append(bytes.Clone(b.signature), 1) }), []byte(msg), "git", ErrMalformed},
		{"ed25519 key (ssh-keygen)", edSig, edMsg, "git", ErrUnsupportedKey},
		{"ecdsa key with ed25519 signature format", alter(func(b *blobFields) {
			b.signature = ssh.Marshal(ssh.Signature{Format: ssh.KeyAlgoED25519, Blob: make([]byte, 64)})
		}), []byte(msg), "git", ErrUnsupportedKey},
		{"truncated blob", b64(unarmor(t, good)[:60]), []byte(msg), "git", ErrMalformed},
		{"empty blob", b64(nil), []byte(msg), "git", ErrMalformed},
		{"empty input", nil, []byte(msg), "git", ErrMalformed},
		{"no armor", []byte(base64.StdEncoding.EncodeToString(unarmor(t, good))), []byte(msg), "git", ErrMalformed},
		{"no end line", bytes.TrimSuffix(good, []byte(armorEnd+"\n")), []byte(msg), "git", ErrMalformed},
		{"armor on one line", []byte(armorBegin + base64.StdEncoding.EncodeToString(unarmor(t, good)) + armorEnd), []byte(msg), "git", ErrMalformed},
		{"PGP armor", []byte("-----BEGIN PGP SIGNATURE-----\n\niQ==\n-----END PGP SIGNATURE-----\n"), []byte(msg), "git", ErrMalformed},
		{"bad base64", bytes.Replace(good, []byte("\n"), []byte("\n!"), 2), []byte(msg), "git", ErrMalformed},
		{"too large", append(bytes.Repeat([]byte(" "), maxArmoredSize), good...), []byte(msg), "git", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, err := Verify(tt.sig, tt.msg, tt.namespace)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify() error = %v, want %v", err, tt.want)
			}
			if pub != nil {
				t.Errorf("Verify() returned a key along with error %v", err)
			}
		})
	}
}

func TestVerifyAcceptsLooseWhitespace(t *testing.T) {
	sig := sign(t, newKey(t), "m", "git")
	enc := base64.StdEncoding.EncodeToString(unarmor(t, sig))
	var short strings.Builder
	for rest := enc; rest != ""; rest = rest[min(16, len(rest)):] {
		short.WriteString(rest[:min(16, len(rest))] + "\n")
	}
	tests := []struct {
		name string
		sig  []byte
	}{
		{"CRLF", bytes.ReplaceAll(sig, []byte("\n"), []byte("\r\n"))},
		{"no final newline", bytes.TrimSuffix(sig, []byte("\n"))},
		{"surrounding blank space", append(append([]byte("\n  "), sig...), "\n\n"...)},
		{"one long base64 line", []byte(armorBegin + "\n" + enc + "\n" + armorEnd + "\n")},
		{"short base64 lines", []byte(armorBegin + "\n" + short.String() + armorEnd + "\n")},
	}
	for _, tt := range tests {
		if _, err := Verify(tt.sig, []byte("m"), "git"); err != nil {
			t.Errorf("%s: Verify: %v", tt.name, err)
		}
	}
}

// sshKeygen returns the path of ssh-keygen, which the interoperability tests need (package openssh-client).
func sshKeygen(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Fatalf("ssh-keygen (OpenSSH, package openssh-client) is required to check interoperability: %v", err)
	}
	return p
}

// runKeygen runs ssh-keygen with stdin and reports its combined output and whether it succeeded.
func runKeygen(t *testing.T, stdin []byte, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(sshKeygen(t), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("ssh-keygen %s: %v", strings.Join(args, " "), err)
	}
	return string(out), err == nil
}

func writeFile(t *testing.T, dir, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

func allowedSigners(t *testing.T, principal string, k crypto.Signer) []byte {
	t.Helper()
	return []byte(principal + " " + string(ssh.MarshalAuthorizedKey(sshPub(t, k))))
}

// TestSSHKeygenVerifiesSign checks that ssh-keygen -Y verify and -Y check-novalidate accept what Sign writes, and
// refuse it for another namespace, message or key.
func TestSSHKeygenVerifiesSign(t *testing.T) {
	dir := t.TempDir()
	k, stranger := newKey(t), newKey(t)
	msg := []byte("object 0123\ntype commit\ntag etl/v1.0.0\n\nrecord\n")
	sigFile := writeFile(t, dir, "msg.sig", sign(t, k, string(msg), "git"), 0o644)
	allowed := writeFile(t, dir, "allowed", allowedSigners(t, "release@example.com", k), 0o644)
	strangers := writeFile(t, dir, "strangers", allowedSigners(t, "release@example.com", stranger), 0o644)

	tests := []struct {
		name  string
		stdin []byte
		args  []string
		ok    bool
	}{
		{"verify", msg, []string{"-Y", "verify", "-f", allowed, "-I", "release@example.com", "-n", "git", "-s", sigFile}, true},
		{"check-novalidate", msg, []string{"-Y", "check-novalidate", "-n", "git", "-s", sigFile}, true},
		{"find-principals", nil, []string{"-Y", "find-principals", "-f", allowed, "-s", sigFile}, true},
		{"verify other namespace", msg, []string{"-Y", "verify", "-f", allowed, "-I", "release@example.com", "-n", "file", "-s", sigFile}, false},
		{"check-novalidate other namespace", msg, []string{"-Y", "check-novalidate", "-n", "file", "-s", sigFile}, false},
		{"verify other message", append(bytes.Clone(msg), 'x'), []string{"-Y", "verify", "-f", allowed, "-I", "release@example.com", "-n", "git", "-s", sigFile}, false},
		{"verify with another key allowed", msg, []string{"-Y", "verify", "-f", strangers, "-I", "release@example.com", "-n", "git", "-s", sigFile}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, ok := runKeygen(t, tt.stdin, tt.args...)
			if ok != tt.ok {
				t.Errorf("ssh-keygen %s: success = %v, want %v\n%s", strings.Join(tt.args, " "), ok, tt.ok, out)
			}
			if tt.ok && tt.args[1] == "verify" && !strings.Contains(out, `Good "git" signature for release@example.com`) {
				t.Errorf("ssh-keygen -Y verify output %q does not report a good signature", out)
			}
		})
	}
}

// TestVerifySSHKeygenSignatures checks that Verify accepts what ssh-keygen -Y sign writes with an ECDSA P-256 key
// exported by golang.org/x/crypto/ssh, with either hash.
func TestVerifySSHKeygenSignatures(t *testing.T) {
	dir := t.TempDir()
	k := newKey(t)
	block, err := ssh.MarshalPrivateKey(k, "maestro test")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := writeFile(t, dir, "key", pem.EncodeToMemory(block), 0o600)
	msg := []byte("a message\nwith two lines\n")
	msgFile := writeFile(t, dir, "msg", msg, 0o644)
	for _, hash := range []string{HashSHA512, HashSHA256} {
		t.Run(hash, func(t *testing.T) {
			sigFile := msgFile + ".sig"
			os.Remove(sigFile)
			if out, ok := runKeygen(t, nil, "-Y", "sign", "-n", "git", "-O", "hashalg="+hash, "-f", keyFile, msgFile); !ok {
				t.Fatalf("ssh-keygen -Y sign: %s", out)
			}
			sig := readFile(t, sigFile)
			if f := fieldsOf(t, sig); f.hash != hash {
				t.Fatalf("ssh-keygen used hash %q, want %q", f.hash, hash)
			}
			pub, err := Verify(sig, msg, "git")
			if err != nil {
				t.Fatalf("Verify: %v\n%s", err, sig)
			}
			if !bytes.Equal(pub.Marshal(), sshPub(t, k).Marshal()) {
				t.Errorf("Verify returned %s, want %s", ssh.FingerprintSHA256(pub), ssh.FingerprintSHA256(sshPub(t, k)))
			}
			if _, err := Verify(sig, msg, "file"); !errors.Is(err, ErrNamespace) {
				t.Errorf("Verify(namespace file) error = %v, want ErrNamespace", err)
			}
			if _, err := Verify(sig, msg[1:], "git"); !errors.Is(err, ErrVerification) {
				t.Errorf("Verify(other message) error = %v, want ErrVerification", err)
			}
		})
	}
}

// FuzzVerify feeds Verify arbitrary input: it must not panic, and whatever it accepts must carry an ECDSA P-256 key
// and fail for any other message.
func FuzzVerify(f *testing.F) {
	msg := readFile(f, "testdata/message")
	f.Add(readFile(f, "testdata/ecdsa.sig"), msg)
	f.Add(readFile(f, "testdata/ed25519.sig"), msg)
	k := newKey(f)
	f.Add(sign(f, k, "", "git"), []byte{})
	f.Add(sign(f, k, "m", "git"), []byte("m"))
	f.Fuzz(func(t *testing.T, armored, message []byte) {
		pub, err := Verify(armored, message, "git")
		if err != nil {
			if pub != nil {
				t.Fatalf("Verify returned a key with error %v", err)
			}
			return
		}
		if pub.Type() != KeyAlgorithm {
			t.Fatalf("Verify accepted a %s key", pub.Type())
		}
		if _, err := Verify(armored, append(bytes.Clone(message), 0), "git"); err == nil {
			t.Fatal("Verify accepted the same signature for another message")
		}
	})
}
