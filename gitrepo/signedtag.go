package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// maxTagObjectSize bounds the tag objects ReadTag reads into memory. A promotion record with its bundle is a few
// kilobytes; a tag object from a remote that is larger than this is not one maestro wrote.
const maxTagObjectSize = 4 << 20

// Sentinels wrapped by *TagError, for errors.Is.
var (
	// ErrTagExists: CreateSignedTag was asked for a tag name that is taken. Promotion tags are never moved or
	// replaced.
	ErrTagExists = errors.New("tag already exists")
	// ErrTagNotFound: no refs/tags/<name>.
	ErrTagNotFound = errors.New("tag not found")
	// ErrNotAnnotated: refs/tags/<name> names a commit directly (a lightweight tag), or is a symbolic ref, so
	// there is no tag object to carry a message or a signature.
	ErrNotAnnotated = errors.New("not an annotated tag")
	// ErrTagTarget: the tag object points at something other than a commit (a tree, a blob, another tag).
	ErrTagTarget = errors.New("tag does not point at a commit")
	// ErrTagNameMismatch: the tag object's own "tag" header names another tag than the ref it was found under,
	// so it was renamed or copied from another name.
	ErrTagNameMismatch = errors.New("tag object names another tag")
)

// TagError reports a tag that cannot be created or read as a signed annotated tag of a commit. Err is one of
// ErrTagExists, ErrTagNotFound, ErrNotAnnotated, ErrTagTarget and ErrTagNameMismatch.
type TagError struct {
	// Name is the tag name, without refs/tags/.
	Name string
	// Err is the sentinel that says what is wrong.
	Err error
	// Detail says more, e.g. the type of object the tag points at; may be "".
	Detail string
}

// Error says which tag, what is wrong with it and, where there is something to do, what.
func (e *TagError) Error() string {
	var msg string
	switch e.Err {
	case ErrTagExists:
		msg = fmt.Sprintf("tag %s already exists: a promotion tag is never moved or replaced; promote another version", e.Name)
	case ErrTagNotFound:
		msg = fmt.Sprintf("tag %s not found: check the name, or fetch tags if it exists only on a remote", e.Name)
	case ErrNotAnnotated:
		msg = fmt.Sprintf("tag %s is not an annotated tag: a lightweight tag carries no record and no signature", e.Name)
	case ErrTagTarget:
		msg = fmt.Sprintf("tag %s does not point at a commit", e.Name)
	case ErrTagNameMismatch:
		msg = fmt.Sprintf("tag %s is a tag object made for another name: it was renamed or copied", e.Name)
	default:
		msg = fmt.Sprintf("tag %s: %v", e.Name, e.Err)
	}
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg
}

// Unwrap returns the sentinel.
func (e *TagError) Unwrap() error { return e.Err }

// Tag is an annotated tag of a commit, as ReadTag found it.
type Tag struct {
	// Name is the tag name, without refs/tags/; the tag object's own name header is the same.
	Name string
	// Hash is the tag object's hash: what refs/tags/<Name> points at.
	Hash plumbing.Hash
	// Target is the tagged commit.
	Target plumbing.Hash
	// Tagger is who made the tag and when (whole seconds, in the tagger's time zone).
	Tagger object.Signature
	// Message is the tag message as stored, without the signature; it ends with a newline when the tag was made
	// by git or by CreateSignedTag.
	Message string
	// Signature is the armored signature at the end of the tag object ("-----BEGIN SSH SIGNATURE-----..." for an
	// SSH signature), or nil for an unsigned tag.
	Signature []byte
	// Payload is the part of the tag object the signature covers: the object without its signature, exactly as
	// git verify-tag hands it to ssh-keygen or gpg. For an unsigned tag it is the whole object.
	Payload []byte
}

// CreateSignedTag creates the annotated tag refs/tags/<name> on the commit target, signed by sign, and returns the
// tag object's hash.
//
// The tag object is built as git tag -s builds it: headers (object, type commit, tag, tagger), a blank line, the
// message (a final newline is added when it lacks one), then the armored signature. sign receives the payload, the
// object without the signature, which is what git verify-tag verifies (for an SSH signature:
// sshsig.Sign(key, payload, "git")); it returns one armored signature block, starting with its "-----BEGIN " line
// (a final newline is added when it lacks one). sign is called without holding the Repo's lock, so a slow remote
// signer does not block readers.
//
// A name that is taken gives a *TagError wrapping ErrTagExists, and sign is not called. A message with a line that
// starts with "-----BEGIN " is refused: git would take it for the start of the signature. The tagger needs a name
// and an email without '<', '>' or line breaks.
func (r *Repo) CreateSignedTag(ctx context.Context, name string, target plumbing.Hash, tagger object.Signature,
	message string, sign func(payload []byte) (armoredSig []byte, err error)) (plumbing.Hash, error) {
	refName := plumbing.NewTagReferenceName(name)
	if err := refName.Validate(); err != nil || strings.HasPrefix(name, "refs/") {
		return plumbing.ZeroHash, fmt.Errorf("create tag %q: not a valid tag name", name)
	}
	if err := checkIdent(tagger); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("create tag %s: tagger: %w", name, err)
	}
	if !strings.HasSuffix(message, "\n") {
		message += "\n"
	}
	if err := checkTagMessage(message); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("create tag %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return plumbing.ZeroHash, err
	}

	tag := &object.Tag{Name: name, Tagger: tagger, Message: message, TargetType: plumbing.CommitObject, Target: target}
	payload, err := r.prepareTag(refName, tag)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("create tag %s: %w", name, err)
	}

	sig, err := sign(payload)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("create tag %s: sign: %w", name, err)
	}
	if !bytes.HasPrefix(sig, []byte("-----BEGIN ")) {
		return plumbing.ZeroHash, fmt.Errorf("create tag %s: sign returned no armored signature", name)
	}
	if !bytes.HasSuffix(sig, []byte("\n")) {
		sig = append(bytes.Clone(sig), '\n')
	}
	tag.PGPSignature = string(sig)

	obj := &plumbing.MemoryObject{}
	if err := tag.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("create tag %s: encode: %w", name, err)
	}
	// What a verifier will split off as the payload must be exactly what was signed, or the tag cannot verify.
	if err := checkSplit(obj, payload, sig); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("create tag %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return plumbing.ZeroHash, err
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	// The name was free before signing; it must still be. Another process can still race us between this check
	// and SetReference: go-git has no create-only reference update.
	if err := r.checkTagFree(refName, name); err != nil {
		return plumbing.ZeroHash, err
	}
	h, err := r.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("create tag %s: write object: %w", name, err)
	}
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(refName, h)); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("create tag %s: write ref: %w", name, err)
	}
	return h, nil
}

// prepareTag checks, under the lock, that the tag name is free and the target is a commit, and returns the payload
// to sign.
func (r *Repo) prepareTag(refName plumbing.ReferenceName, tag *object.Tag) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkTagFree(refName, tag.Name); err != nil {
		return nil, err
	}
	obj, err := r.repo.Storer.EncodedObject(plumbing.AnyObject, tag.Target)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("target %s: no such object in the repository", tag.Target)
	}
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", tag.Target, err)
	}
	if obj.Type() != plumbing.CommitObject {
		return nil, fmt.Errorf("target %s is a %s, not a commit", tag.Target, obj.Type())
	}
	payload := &plumbing.MemoryObject{}
	if err := tag.EncodeWithoutSignature(payload); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return readObject(payload)
}

func (r *Repo) checkTagFree(refName plumbing.ReferenceName, name string) error {
	_, err := r.repo.Storer.Reference(refName)
	switch {
	case err == nil:
		return &TagError{Name: name, Err: ErrTagExists}
	case errors.Is(err, plumbing.ErrReferenceNotFound):
		return nil
	}
	return fmt.Errorf("create tag %s: %w", name, err)
}

// checkIdent refuses what git's ident encoding cannot hold.
func checkIdent(s object.Signature) error {
	if s.Name == "" || s.Email == "" {
		return errors.New("name and email are required")
	}
	if strings.ContainsAny(s.Name+s.Email, "<>\n\r\x00") {
		return errors.New("name and email may not contain '<', '>', line breaks or NUL")
	}
	if s.When.IsZero() {
		return errors.New("time is required")
	}
	return nil
}

// checkTagMessage refuses messages that git would not split at the signature: a line starting with "-----BEGIN "
// could be taken for a signature block (git looks for PGP, X.509 and SSH ones; go-git also for certificates), and
// NUL bytes end the message for git's C string functions.
func checkTagMessage(msg string) error {
	if strings.Contains(msg, "\x00") {
		return errors.New("the tag message contains a NUL byte")
	}
	for _, line := range strings.SplitAfter(msg, "\n") {
		if strings.HasPrefix(line, "-----BEGIN ") {
			return fmt.Errorf("the tag message has a line starting with %q, which git would take for a signature", "-----BEGIN ")
		}
	}
	return nil
}

// checkSplit decodes the encoded tag as a verifier will and checks that payload and signature come back unchanged.
func checkSplit(obj plumbing.EncodedObject, payload, sig []byte) error {
	decoded, err := object.DecodeTag(nil, obj)
	if err != nil {
		return fmt.Errorf("decode the new tag object: %w", err)
	}
	gotPayload, gotSig, err := tagPayload(decoded)
	if err != nil {
		return err
	}
	if !bytes.Equal(gotPayload, payload) || !bytes.Equal(gotSig, sig) {
		return errors.New("the signed tag object does not split back into the signed payload and its signature; " +
			"the signature must be a single armored block")
	}
	return nil
}

// tagPayload returns the bytes a tag's signature covers and the signature. go-git splits the object where git's
// parse_signed_buffer does: at the last line that starts a PGP, X.509 or SSH signature block.
func tagPayload(t *object.Tag) (payload, sig []byte, err error) {
	obj := &plumbing.MemoryObject{}
	if err := t.EncodeWithoutSignature(obj); err != nil {
		return nil, nil, fmt.Errorf("tag payload: %w", err)
	}
	payload, err = readObject(obj)
	if err != nil {
		return nil, nil, err
	}
	if t.PGPSignature != "" {
		sig = []byte(t.PGPSignature)
	}
	return payload, sig, nil
}

func readObject(obj plumbing.EncodedObject) ([]byte, error) {
	rc, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// ReadTag reads the annotated tag refs/tags/<name>. A missing tag gives a *TagError wrapping ErrTagNotFound; a
// lightweight tag ErrNotAnnotated; a tag object that points at anything but a commit (including another tag
// object) ErrTagTarget; a tag object whose own name differs from name ErrTagNameMismatch. A tag with no signature
// is returned with a nil Signature: whether that is acceptable is the caller's decision, as is whether the
// signature is valid and made by a trusted key.
func (r *Repo) ReadTag(ctx context.Context, name string) (*Tag, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ref, err := r.repo.Storer.Reference(plumbing.NewTagReferenceName(name))
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, &TagError{Name: name, Err: ErrTagNotFound}
	}
	if err != nil {
		return nil, fmt.Errorf("read tag %s: %w", name, err)
	}
	if ref.Type() != plumbing.HashReference {
		return nil, &TagError{Name: name, Err: ErrNotAnnotated, Detail: "symbolic ref to " + ref.Target().String()}
	}
	h := ref.Hash()
	size, err := r.repo.Storer.EncodedObjectSize(h)
	if err != nil {
		return nil, fmt.Errorf("read tag %s: object %s: %w", name, h, err)
	}
	if size > maxTagObjectSize {
		return nil, fmt.Errorf("read tag %s: tag object %s is %d bytes, more than the %d a promotion tag may have",
			name, h, size, maxTagObjectSize)
	}
	obj, err := r.repo.Storer.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return nil, fmt.Errorf("read tag %s: object %s: %w", name, h, err)
	}
	if obj.Type() != plumbing.TagObject {
		return nil, &TagError{Name: name, Err: ErrNotAnnotated, Detail: "points at " + obj.Type().String() + " " + h.String()}
	}
	t, err := object.DecodeTag(r.repo.Storer, obj)
	if err != nil {
		return nil, fmt.Errorf("read tag %s: decode tag object %s: %w", name, h, err)
	}
	if t.TargetType != plumbing.CommitObject {
		return nil, &TagError{Name: name, Err: ErrTagTarget, Detail: "points at " + t.TargetType.String() + " " + t.Target.String()}
	}
	if t.Name != name {
		return nil, &TagError{Name: name, Err: ErrTagNameMismatch, Detail: fmt.Sprintf("the tag object says %q", t.Name)}
	}
	if _, err := r.repo.Storer.EncodedObject(plumbing.CommitObject, t.Target); err != nil {
		return nil, fmt.Errorf("read tag %s: commit %s: %w", name, t.Target, err)
	}
	payload, sig, err := tagPayload(t)
	if err != nil {
		return nil, fmt.Errorf("read tag %s: %w", name, err)
	}
	return &Tag{
		Name:      name,
		Hash:      h,
		Target:    t.Target,
		Tagger:    t.Tagger,
		Message:   t.Message,
		Signature: sig,
		Payload:   payload,
	}, nil
}
