// Package promote makes and checks promotions: a workflow version made real by a signed, frozen git tag
// <workflow>/v<semver>, whose message holds a promotion record, plus an in-toto attestation of the record in a
// Sigstore bundle recorded in a transparency log and attached to the tag as a git note.
//
// Promote is a list of small steps (check, tag, attest, claim, note, push); Verify checks a tag in named steps and
// says which one failed with a *VerificationError.
package promote

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/maestro-conductor/maestro/digest"
)

// PredicateType is the in-toto predicate type of a promotion attestation.
const PredicateType = "https://maestro.dev/attestations/promotion/v1"

// NotesRef is where promotion bundles are kept, one git note per tag object.
const NotesRef = "refs/notes/maestro"

// SignatureNamespace is the SSH signature namespace git uses for tags and commits.
const SignatureNamespace = "git"

// Record is what a promotion says: which graph of which workflow became which version, from which commit, by whom.
// It is the tag message's payload and the attestation's predicate.
type Record struct {
	Workflow string `json:"workflow"`
	// Version is the semantic version without its leading "v".
	Version string        `json:"version"`
	Digest  digest.Digest `json:"digest"`
	Commit  string        `json:"commit"`
	Frozen  bool          `json:"frozen"`
	// Promoter names who promoted (a principal as in git's allowed-signers file).
	Promoter string `json:"promoter"`
	// KeyID identifies the key that signed the tag and the attestation.
	KeyID string    `json:"keyId"`
	Time  time.Time `json:"time"`
	// Repository identifies the repository (git:<root commit>), so that workflows of the same name in two
	// repositories never collide in a shared log.
	Repository string `json:"repository"`
}

// Predicate is the attestation's predicate: the record plus the tag it was written to.
type Predicate struct {
	Record
	Tag string `json:"tag"`
	// TagObject is the hash of the tag object: a tag that was moved, re-signed or recreated has another.
	TagObject string `json:"tagObject"`
}

// Key is the first-seen key of a promotion: one repository, one workflow, one version.
func (r Record) Key() string { return r.Repository + "\x00" + r.Workflow + "@" + r.Version }

// recordTrailer starts the tag message line that holds the record, as a git trailer does. (Git takes any line
// that starts with "-----BEGIN " for the start of a signature, so the record cannot be a PEM-style block.)
const recordTrailer = "Maestro-Promotion-Record: "

// ErrNoRecord is returned by ParseMessage for a tag message without a promotion record.
var ErrNoRecord = errors.New("no promotion record in tag message")

// Message renders the tag message: a summary line for people, then the record between markers.
func (r Record) Message() (string, error) {
	js, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	frozen := ""
	if r.Frozen {
		frozen = ", frozen"
	}
	return fmt.Sprintf("Promote %s v%s (%s%s)\n\n%s%s\n", r.Workflow, r.Version, r.Digest, frozen, recordTrailer, js), nil
}

// ParseMessage reads the promotion record out of a tag message, strictly: one record, no unknown fields.
func ParseMessage(msg string) (Record, error) {
	var body string
	found := 0
	for _, line := range strings.Split(msg, "\n") {
		if v, ok := strings.CutPrefix(line, recordTrailer); ok {
			body = v
			found++
		}
	}
	switch found {
	case 0:
		return Record{}, ErrNoRecord
	case 1:
	default:
		return Record{}, fmt.Errorf("%w: the message has %d records, a promotion has one", ErrNoRecord, found)
	}
	var r Record
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("promotion record: %w", err)
	}
	if dec.More() {
		return Record{}, errors.New("promotion record: trailing data")
	}
	if _, err := digest.Parse(string(r.Digest)); err != nil {
		return Record{}, fmt.Errorf("promotion record: %w", err)
	}
	return r, nil
}
