package gitrepo_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"

	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/sshsig"
)

// sshKey is an ECDSA P-256 key as promotion signs with, also written as an OpenSSH private key file for git and
// ssh-keygen.
type sshKey struct {
	priv *ecdsa.PrivateKey
	pub  ssh.PublicKey
	// file is the OpenSSH private key file (mode 0600, as ssh-keygen demands).
	file string
}

func newSSHKey(t *testing.T) *sshKey {
	t.Helper()
	requireTool(t, "ssh-keygen")
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "maestro test")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "id_ecdsa")
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return &sshKey{priv: priv, pub: pub, file: file}
}

// sign signs a tag payload as git does with gpg.format=ssh: namespace "git".
func (k *sshKey) sign(payload []byte) ([]byte, error) { return sshsig.Sign(k.priv, payload, "git") }

// allowedSigners writes an allowed-signers file that trusts k for principal, and returns its path.
func (k *sshKey) allowedSigners(t *testing.T, principal string) string {
	t.Helper()
	line := principal + " " + string(ssh.MarshalAuthorizedKey(k.pub))
	p := filepath.Join(t.TempDir(), "allowed_signers")
	if err := os.WriteFile(p, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tagger is the tagger of the tags tests create.
var tagger = object.Signature{Name: "Release Bot", Email: "release@example.com", When: time.Date(2024, 3, 2, 9, 30, 0, 0, time.FixedZone("", 2*3600))}

// gitTry runs git in dir and returns its combined output and error, for commands that are expected to fail.
func gitTry(dir string, args ...string) (string, error) {
	cmd := gitCommand(dir, baseTime, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// gitStdin runs git in the repository with stdin as its standard input and returns its trimmed standard output.
func (r *testRepo) gitStdin(stdin string, args ...string) string {
	r.t.Helper()
	cmd := gitCommand(r.dir, baseTime, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// gitIn runs git in dir and returns its trimmed standard output, failing the test on error.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return runGit(t, dir, baseTime, args...)
}

// openRepo opens dir with gitrepo.
func openRepo(t *testing.T, dir string) *gitrepo.Repo {
	t.Helper()
	repo, err := gitrepo.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// signedRepo is a repository with two commits and a signed tag etl/v1.0.0 on the second, made by CreateSignedTag.
type signedRepo struct {
	*testRepo
	repo   *gitrepo.Repo
	key    *sshKey
	commit plumbing.Hash
	tag    plumbing.Hash
}

const tagMessage = "workflow: etl\nversion: 1.0.0\ndigest: sha256:0123\n"

func newSignedRepo(t *testing.T) *signedRepo {
	t.Helper()
	r := newRepo(t)
	r.write("workflows/etl.yaml", workflowYAML("etl", "extract"))
	r.commit("first")
	r.write("workflows/etl.yaml", workflowYAML("etl", "load"))
	commit := r.commit("second")
	s := &signedRepo{testRepo: r, repo: openRepo(t, r.dir), key: newSSHKey(t), commit: commit}
	var err error
	s.tag, err = s.repo.CreateSignedTag(context.Background(), "etl/v1.0.0", commit, tagger, tagMessage, s.key.sign)
	if err != nil {
		t.Fatalf("CreateSignedTag: %v", err)
	}
	return s
}
