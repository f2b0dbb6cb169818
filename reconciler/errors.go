package reconciler

import (
	"errors"
	"fmt"
	"strings"
)

// FetchError is trouble reaching or reading the git remote: the reconciler retries it with backoff, and the
// region keeps serving what it applied before. It is transient: nobody needs to act unless it lasts.
type FetchError struct {
	Remote string
	Err    error
}

func (e *FetchError) Error() string {
	if msg := e.Err.Error(); strings.Contains(msg, e.Remote) {
		return msg
	}
	return fmt.Sprintf("fetch %s: %v", e.Remote, e.Err)
}

// Unwrap returns the underlying error.
func (e *FetchError) Unwrap() error { return e.Err }

// StoreError is trouble with the region store (unreachable, a failed transaction): retried with backoff.
type StoreError struct {
	// Op is what the reconciler was doing, e.g. "apply etl v1.2.0".
	Op  string
	Err error
}

func (e *StoreError) Error() string { return fmt.Sprintf("store: %s: %v", e.Op, e.Err) }

// Unwrap returns the underlying error.
func (e *StoreError) Unwrap() error { return e.Err }

// Transient reports whether err is trouble the reconciler retries with backoff (a *FetchError or a *StoreError)
// rather than a verdict a person must act on (a *RefusedError).
func Transient(err error) bool {
	var fe *FetchError
	var se *StoreError
	return errors.As(err, &fe) || errors.As(err, &se)
}

// Refusal is a promotion tag the region refused: it failed verification, it moved on the remote, or its version
// conflicts with a frozen version in the store. It is never applied.
type Refusal struct {
	Tag      string `json:"tag"`
	Workflow string `json:"workflow"`
	// Version is the tag's version with its leading "v".
	Version string `json:"version"`
	// TagObject is the tag object refused: for a moved tag, the remote's new one when known.
	TagObject string `json:"tagObject,omitempty"`
	// Check names the check that failed (promote.CheckSignature, ...; promote.CheckFreeze for a moved tag or a
	// conflicting version).
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

func (r Refusal) String() string {
	return fmt.Sprintf("%s: %s check failed: %s", r.Tag, r.Check, r.Reason)
}

// RefusedError lists the tags a reconcile refused. A person must act on it (remove or fix the tag, or trust the
// key): retrying does not help, so Run does not back off for it. The rest of the reconcile succeeded.
type RefusedError struct {
	Refusals []Refusal
}

func (e *RefusedError) Error() string {
	parts := make([]string, len(e.Refusals))
	for i, r := range e.Refusals {
		parts[i] = r.String()
	}
	if len(parts) == 1 {
		return "refused " + parts[0]
	}
	return fmt.Sprintf("refused %d tags: %s", len(parts), strings.Join(parts, "; "))
}
