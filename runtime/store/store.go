// Package store is a region's runtime store: the workflow versions the region's reconciler applied, its sync
// status and reconcile history, the first-seen index of promotions, leader election, and the event export jobs.
//
// Two implementations pass one conformance suite (storetest): PostgreSQL through pgx (store/postgres) for
// production, SQLite through modernc.org/sqlite (store/sqlite) as the embedded default. IDs are made by the
// application, so one schema serves both.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every implementation returns, tested with errors.Is.
var (
	// ErrNotFound: no such workflow, version, or record.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write contradicts what is stored — a version with another digest, a digest under another
	// version. A frozen version never changes.
	ErrConflict = errors.New("conflicts with a stored version")
	// ErrNotLeader: the lock was lost or never held.
	ErrNotLeader = errors.New("not the leader")
)

// Version is one applied workflow version.
type Version struct {
	Name      string `json:"name"`
	Version   string `json:"version"` // semver without "v"
	Digest    string `json:"digest"`
	Commit    string `json:"commit"`
	Tag       string `json:"tag"`
	TagObject string `json:"tagObject"`
	Frozen    bool   `json:"frozen"`
	Tenant    string `json:"tenant"`
	// Definition is the normalized workflow model as JSON (encoding/json of a *workflow.Workflow), enough to
	// recompute its digest and diff it against another version.
	Definition []byte    `json:"definition"`
	Signer     string    `json:"signer"` // the promoter's key id
	Promoter   string    `json:"promoter"`
	LogIndex   int64     `json:"logIndex"`
	PromotedAt time.Time `json:"promotedAt"`
	AppliedAt  time.Time `json:"appliedAt"`
}

// Summary is one workflow with its latest applied version.
type Summary struct {
	Name     string    `json:"name"`
	Latest   string    `json:"latestVersion"`
	Digest   string    `json:"digest"`
	Versions int       `json:"versions"`
	Updated  time.Time `json:"updatedAt"`
}

// SyncStatus is the reconciler's view of one workflow: what the repository wants, what the region runs.
type SyncStatus struct {
	Workflow       string    `json:"workflow"`
	DesiredVersion string    `json:"desiredVersion"` // latest verified promotion in the repository
	AppliedVersion string    `json:"appliedVersion"` // latest version applied to the store
	Synced         bool      `json:"synced"`
	LastError      string    `json:"lastError,omitempty"`
	LastAttempt    time.Time `json:"lastAttempt"`
	LastSuccess    time.Time `json:"lastSuccess,omitzero"`
}

// Event actions in the reconcile history.
const (
	ActionApplied = "applied" // a verified version was applied
	ActionRefused = "refused" // a tag failed verification and was not applied
	ActionError   = "error"   // the reconcile itself failed (fetch, store)
)

// Event is one entry of the reconcile history.
type Event struct {
	ID       string    `json:"id"`
	At       time.Time `json:"at"`
	Region   string    `json:"region"`
	Workflow string    `json:"workflow,omitempty"`
	Tag      string    `json:"tag,omitempty"`
	Action   string    `json:"action"`
	Check    string    `json:"check,omitempty"` // the verification check that failed, for refusals
	Reason   string    `json:"reason,omitempty"`
	Commit   string    `json:"commit,omitempty"`
}

// HistoryFilter selects history entries; zero fields match everything. Results are newest first.
type HistoryFilter struct {
	Workflow string
	Action   string
	Since    time.Time
	Limit    int // 0 means 100
}

// ExportJob is one window of the hourly event export (events_export_jobs).
type ExportJob struct {
	ID          string    `json:"id"`
	WindowStart time.Time `json:"windowStart"`
	WindowEnd   time.Time `json:"windowEnd"`
	Status      string    `json:"status"` // pending, running, succeeded, failed
	CreatedAt   time.Time `json:"createdAt"`
}

// Store is a region's runtime store. Every method is safe for concurrent use by several goroutines and, for the
// PostgreSQL store, by several processes (SQLite: several processes on one machine).
//
// Times come back in UTC, truncated to the microsecond; a zero time stays zero. Lists (Workflows, Statuses,
// History, ExportJobs) are never nil.
type Store interface {
	// Apply stores a verified version in one transaction. It is idempotent: applying the same version again
	// returns applied=false and no error. It returns ErrConflict when (name, version) is stored with another
	// digest or tag object, or (name, digest) under another version. Version must be a full semantic version
	// without "v" (1.2.3, 1.2.3-rc.1); AppliedAt, if zero, becomes the time of the apply.
	Apply(ctx context.Context, v Version) (applied bool, err error)
	// Workflows lists every workflow with its latest version (by semver), sorted by name.
	Workflows(ctx context.Context) ([]Summary, error)
	// Versions lists a workflow's versions, ascending by semver; ErrNotFound if none was ever applied.
	Versions(ctx context.Context, name string) ([]Version, error)
	// Version returns one version; ErrNotFound if it was never applied.
	Version(ctx context.Context, name, version string) (Version, error)

	// SetStatus replaces the sync status of one workflow.
	SetStatus(ctx context.Context, s SyncStatus) error
	// Statuses lists every workflow's sync status, sorted by workflow.
	Statuses(ctx context.Context) ([]SyncStatus, error)
	// Record appends to the reconcile history; an empty ID is filled in.
	Record(ctx context.Context, e Event) error
	// History returns history entries, newest first.
	History(ctx context.Context, f HistoryFilter) ([]Event, error)
	// PruneHistory deletes the history entries recorded before before (At < before; an entry at before stays) and
	// returns how many it deleted: the history's retention. It is one statement, so several replicas may prune at
	// once; deleting nothing is not an error, and a zero before deletes nothing.
	PruneHistory(ctx context.Context, before time.Time) (deleted int64, err error)

	// Claim and Lookup are the first-seen index of promotions (promote.Index): Claim stores record under key
	// unless a record is there already, and returns the first record either way.
	Claim(ctx context.Context, key string, record []byte) (first []byte, created bool, err error)
	Lookup(ctx context.Context, key string) (record []byte, ok bool, err error)

	// Lead tries to become the leader of name (one per region). It returns ok=false without error when another
	// holder has it. The returned lost channel closes when leadership is lost (connection gone); release gives it
	// up. A PostgreSQL store uses a session advisory lock; SQLite a file lock beside the database.
	Lead(ctx context.Context, name string) (lost <-chan struct{}, release func(), ok bool, err error)

	// CreateExportJob adds a pending export job; ExportJobs lists them by window start.
	CreateExportJob(ctx context.Context, start, end time.Time) (ExportJob, error)
	ExportJobs(ctx context.Context) ([]ExportJob, error)
	// SetExportJobStatus moves a job to status (pending, running, succeeded or failed; any other is an error);
	// ErrNotFound if no job has that ID.
	SetExportJobStatus(ctx context.Context, id, status string) error

	// Ping checks the store is reachable, for readiness.
	Ping(ctx context.Context) error
	Close() error
}
