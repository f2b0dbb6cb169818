package tlog

import "errors"

// Errors a caller can test for with errors.Is. The first five mean the log or
// an entry failed verification: a person must look, retrying will not help.
var (
	// ErrCheckpoint: a checkpoint is not signed by the log key, names another
	// origin, or cannot be parsed.
	ErrCheckpoint = errors.New("checkpoint does not verify")
	// ErrInclusion: an entry's inclusion proof does not lead to its checkpoint.
	ErrInclusion = errors.New("inclusion proof does not verify")
	// ErrInconsistent: two verified checkpoints of one log contradict each
	// other (a fork, or history rewritten).
	ErrInconsistent = errors.New("log checkpoints are inconsistent")
	// ErrTampered: the log's tiles or entry bundles do not hash to its
	// verified checkpoint.
	ErrTampered = errors.New("log data does not match its checkpoint")
	// ErrOriginMismatch: a log directory was opened with another origin than
	// the one its checkpoints carry.
	ErrOriginMismatch = errors.New("log origin mismatch")

	// ErrNotFound: no such entry (yet) under the current checkpoint.
	ErrNotFound = errors.New("entry not in the log")
	// ErrInvalidEntry: an entry was refused before it reached the log, as
	// rekor-tiles refuses it (bad signature, unsupported algorithm, ...).
	ErrInvalidEntry = errors.New("invalid log entry")
	// ErrClosed: the embedded log was closed.
	ErrClosed = errors.New("log is closed")
)
