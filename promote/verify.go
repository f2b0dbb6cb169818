package promote

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/maestro-conductor/maestro/attest"
	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/sshsig"
	"github.com/maestro-conductor/maestro/workflow"
)

// Checks, in the order Verify runs them.
const (
	CheckTag       = "tag"       // the tag exists, is annotated, points at a commit and is signed
	CheckSignature = "signature" // the tag's SSH signature is by a trusted key
	CheckRecord    = "record"    // the tag message holds a promotion record that matches the tag
	CheckDigest    = "digest"    // the record's digest is the digest of the workflow at the tagged commit
	CheckBundle    = "bundle"    // the attestation bundle (git note) verifies: signature, log inclusion, checkpoint
	CheckStatement = "statement" // the attestation is about this record, this digest and this tag object
	CheckFreeze    = "freeze"    // the first promotion of this version in the log is this one
)

// VerificationError says which check a promotion failed and why. It is a verdict on the tag, not trouble
// reading it: exit status 1.
type VerificationError struct {
	Tag    string
	Check  string
	Reason string
}

func (e *VerificationError) Error() string {
	return fmt.Sprintf("%s: %s check failed: %s", e.Tag, e.Check, e.Reason)
}

// Policy is what a verifier trusts. It comes from the verifier's configuration, never from the repository.
type Policy struct {
	// Trusted are the keys allowed to promote.
	Trusted []*ecdsa.PublicKey
	// Logs are the transparency logs whose checkpoints are trusted.
	Logs []attest.LogKey
	// Index is the first-seen index; a version not in it yet is recorded as first seen now.
	Index Index
	// Dir is the workflows directory; "" means workflow.DefaultDir.
	Dir    string
	Limits workflow.Limits
	// Cache, when set, keeps the parsed workflows of recent commits across Verify calls (a reconciler's pass).
	Cache *Cache
}

// Verified describes a promotion that passed every check.
type Verified struct {
	Tag       string
	TagObject string
	Record    Record
	LogIndex  int64
	// FirstSeen is true when this verification recorded the version in the first-seen index.
	FirstSeen bool
}

// Verify checks the promotion tag <workflow>/v<version> in repo against the policy.
func Verify(ctx context.Context, repo *gitrepo.Repo, tagName string, p Policy) (*Verified, error) {
	fail := func(check, format string, args ...any) error {
		return &VerificationError{Tag: tagName, Check: check, Reason: fmt.Sprintf(format, args...)}
	}
	name, version, ok := gitrepo.ParseTagName(tagName)
	if !ok {
		return nil, fmt.Errorf("%q is not a promotion tag name <workflow>/v<MAJOR.MINOR.PATCH>", tagName)
	}
	if len(p.Trusted) == 0 {
		return nil, errors.New("no trusted keys: give the promoters' public keys (--pub)")
	}
	tag, err := repo.ReadTag(ctx, tagName)
	if err != nil {
		if errors.Is(err, gitrepo.ErrTagNotFound) {
			return nil, err // trouble, not a verdict: there is nothing to judge
		}
		return nil, fail(CheckTag, "%v", err)
	}
	if len(tag.Signature) == 0 {
		return nil, fail(CheckTag, "the tag is not signed")
	}

	signer, err := sshsig.Verify(tag.Signature, tag.Payload, SignatureNamespace)
	if err != nil {
		return nil, fail(CheckSignature, "%v", err)
	}
	if !trusted(signer, p.Trusted) {
		return nil, fail(CheckSignature, "signed by %s, which is not a trusted promoter key", sshFingerprint(signer))
	}

	rec, err := ParseMessage(tag.Message)
	if err != nil {
		return nil, fail(CheckRecord, "%v", err)
	}
	switch {
	case rec.Workflow != name:
		return nil, fail(CheckRecord, "the record promotes workflow %q, the tag names %q", rec.Workflow, name)
	case "v"+rec.Version != version:
		return nil, fail(CheckRecord, "the record promotes v%s, the tag names %s", rec.Version, version)
	case rec.Commit != tag.Target.String():
		return nil, fail(CheckRecord, "the record names commit %s, the tag points at %s", short(rec.Commit), short(tag.Target.String()))
	}
	if id, err := repo.IdentityOf(ctx, tag.Target); err != nil {
		return nil, err
	} else if id != rec.Repository {
		return nil, fail(CheckRecord, "the record belongs to repository %s, this one is %s", rec.Repository, id)
	}

	_, d, err := loadWorkflow(ctx, repo, tag.Target, name, p.Dir, p.Limits, p.Cache)
	if err != nil {
		return nil, fail(CheckDigest, "%v", err)
	}
	if d != rec.Digest {
		return nil, fail(CheckDigest, "the record says %s, the workflow at %s has %s", rec.Digest, short(rec.Commit), d)
	}

	bundle, err := repo.Note(ctx, NotesRef, tag.Hash)
	if err != nil {
		return nil, fail(CheckBundle, "no attestation for tag object %s in %s: %v (fetch %s from the remote)", short(tag.Hash.String()), NotesRef, err, NotesRef)
	}
	var v *attest.Verified
	for _, key := range p.Trusted {
		if v, err = attest.VerifyBundle(ctx, bundle, key, p.Logs); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fail(CheckBundle, "%v", err)
	}

	var pred Predicate
	dec := json.NewDecoder(bytes.NewReader(v.Predicate))
	dec.DisallowUnknownFields()
	if v.PredicateType != PredicateType {
		return nil, fail(CheckStatement, "predicate type %q, want %q", v.PredicateType, PredicateType)
	}
	if err := dec.Decode(&pred); err != nil {
		return nil, fail(CheckStatement, "predicate: %v", err)
	}
	if len(v.Subjects) != 1 || v.Subjects[0].Digest["sha256"] != d.Hex() {
		return nil, fail(CheckStatement, "the attestation is not about graph %s", d)
	}
	if pred.TagObject != tag.Hash.String() {
		return nil, fail(CheckStatement, "the attestation names tag object %s, the tag is %s: the tag was re-made after it was attested", short(pred.TagObject), short(tag.Hash.String()))
	}
	if pred.Record != rec || pred.Tag != tagName {
		return nil, fail(CheckStatement, "the attested record differs from the tag's")
	}

	out := &Verified{Tag: tagName, TagObject: tag.Hash.String(), Record: rec, LogIndex: v.LogIndex}
	if p.Index == nil {
		return out, nil
	}
	c := claim{TagObject: out.TagObject, Digest: d, Commit: rec.Commit, Frozen: rec.Frozen, LogIndex: v.LogIndex, Bundle: bundle}
	cjs, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	firstJS, created, err := p.Index.Claim(ctx, rec.Key(), cjs)
	if err != nil {
		return nil, fmt.Errorf("first-seen index: %w", err)
	}
	out.FirstSeen = created
	if created {
		return out, nil
	}
	var first claim
	if err := json.Unmarshal(firstJS, &first); err != nil {
		return nil, fmt.Errorf("first-seen index entry for %s: %w", tagName, err)
	}
	if first.Frozen && (first.TagObject != c.TagObject || first.Digest != c.Digest) {
		what := "tag object " + short(first.TagObject)
		if first.Digest != c.Digest {
			what = "graph " + string(first.Digest)
		}
		return nil, fail(CheckFreeze, "%s is frozen: its first promotion (log index %d) names %s, this tag names %s; the tag was moved, re-signed or recreated",
			version, first.LogIndex, what, strings.TrimPrefix(short(c.TagObject), ""))
	}
	return out, nil
}

func trusted(k interface{ Marshal() []byte }, keys []*ecdsa.PublicKey) bool {
	for _, t := range keys {
		if pk, err := sshPublicKey(t); err == nil && bytes.Equal(pk.Marshal(), k.Marshal()) {
			return true
		}
	}
	return false
}
