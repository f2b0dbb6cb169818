// Package sqlstore is what the PostgreSQL and SQLite stores share besides their schema: input checks, the conflict
// rules of Apply, semver ordering, IDs, times and leader lock keys, so both behave the same by construction.
package sqlstore

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/semver"

	"github.com/maestro-conductor/maestro/runtime/store"
)

// Log keys the stores use.
const (
	LogKeyMigration = "migration"
	LogKeyLeader    = "leader"
	LogKeyDatabase  = "database"
)

// DefaultHistoryLimit is the number of history entries returned when the filter sets none.
const DefaultHistoryLimit = 100

// Export job statuses (the CHECK constraint of events_export_jobs).
var ExportStatuses = []string{"pending", "running", "succeeded", "failed"}

// NewID returns a new time-ordered ID (UUIDv7), as text.
func NewID() (string, error) {
	u, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return u.String(), nil
}

// ParseID returns the canonical text of a UUID; ok is false if id is not one, so no record can have it.
func ParseID(id string) (canonical string, ok bool) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// UTC returns t as the stores keep it: UTC, truncated to the microsecond. The zero time stays zero.
func UTC(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// Now returns the current time as the stores keep it.
func Now() time.Time { return UTC(time.Now()) }

// CheckVersion checks a version before Apply stores it: a name, a digest, and a full semantic version
// (MAJOR.MINOR.PATCH, optional pre-release and build) without a leading "v".
func CheckVersion(v store.Version) error {
	switch {
	case v.Name == "":
		return errors.New("apply: workflow name is empty")
	case v.Digest == "":
		return fmt.Errorf("apply %s@%s: digest is empty", v.Name, v.Version)
	case !IsVersion(v.Version):
		return fmt.Errorf("apply %s: version %q is not a semantic version MAJOR.MINOR.PATCH without a leading v", v.Name, v.Version)
	}
	return nil
}

// IsVersion reports whether s is a full semantic version without a leading "v".
func IsVersion(s string) bool {
	if s == "" || strings.HasPrefix(s, "v") {
		return false
	}
	sv := "v" + s
	// semver.IsValid accepts "v1" and "v1.2"; a promotion tag always has all three numbers.
	return semver.IsValid(sv) && semver.Canonical(sv)+semver.Build(sv) == sv
}

// CompareVersions orders versions by semver precedence, then (for versions differing only in build metadata) as text.
func CompareVersions(a, b string) int {
	if c := semver.Compare("v"+a, "v"+b); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// SortVersions sorts versions ascending by semver.
func SortVersions(vs []store.Version) {
	slices.SortFunc(vs, func(a, b store.Version) int { return CompareVersions(a.Version, b.Version) })
}

// Conflict is the error Apply returns for v when stored holds (v.Name, v.Version) or (v.Name, v.Digest). It returns
// nil when stored is the same version: same digest and tag object, so applying v again changes nothing.
func Conflict(v, stored store.Version) error {
	if stored.Version == v.Version {
		if stored.Digest == v.Digest && stored.TagObject == v.TagObject {
			return nil
		}
		return fmt.Errorf("apply %s@%s (digest %s, tag object %s): stored with digest %s, tag object %s: %w",
			v.Name, v.Version, v.Digest, v.TagObject, stored.Digest, stored.TagObject, store.ErrConflict)
	}
	return fmt.Errorf("apply %s@%s: digest %s is stored as version %s: %w",
		v.Name, v.Version, v.Digest, stored.Version, store.ErrConflict)
}

// VersionRow is what Workflows reads of each stored version.
type VersionRow struct {
	Name, Version, Digest string
	AppliedAt             time.Time
}

// Summaries folds version rows into one summary per workflow, sorted by name: the latest version by semver, its
// digest, the number of versions, and the last time one was applied. It never returns nil.
func Summaries(rows []VersionRow) []store.Summary {
	byName := map[string]*store.Summary{}
	for _, r := range rows {
		s, ok := byName[r.Name]
		if !ok {
			s = &store.Summary{Name: r.Name}
			byName[r.Name] = s
		}
		s.Versions++
		if s.Latest == "" || CompareVersions(r.Version, s.Latest) > 0 {
			s.Latest, s.Digest = r.Version, r.Digest
		}
		if r.AppliedAt.After(s.Updated) {
			s.Updated = r.AppliedAt
		}
	}
	out := make([]store.Summary, 0, len(byName))
	for _, s := range byName {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b store.Summary) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// SortStatuses sorts statuses by workflow, byte-wise (a database's collation may order text otherwise).
func SortStatuses(ss []store.SyncStatus) {
	slices.SortFunc(ss, func(a, b store.SyncStatus) int { return strings.Compare(a.Workflow, b.Workflow) })
}

// CheckStatus checks a sync status before SetStatus stores it.
func CheckStatus(s store.SyncStatus) error {
	if s.Workflow == "" {
		return errors.New("set status: workflow is empty")
	}
	return nil
}

// PrepareEvent fills in an event's ID and time and checks it before Record stores it.
func PrepareEvent(e store.Event) (store.Event, error) {
	if e.Action == "" {
		return e, errors.New("record: action is empty")
	}
	if e.ID == "" {
		id, err := NewID()
		if err != nil {
			return e, fmt.Errorf("record: %w", err)
		}
		e.ID = id
	}
	if e.At.IsZero() {
		e.At = Now()
	}
	e.At = UTC(e.At)
	return e, nil
}

// Limit is the number of entries History returns for f.
func Limit(f store.HistoryFilter) int {
	if f.Limit <= 0 {
		return DefaultHistoryLimit
	}
	return f.Limit
}

// CheckClaim checks the arguments of Claim.
func CheckClaim(key string) error {
	if key == "" {
		return errors.New("claim: key is empty")
	}
	return nil
}

// NewExportJob checks a window and makes its pending job.
func NewExportJob(start, end time.Time) (store.ExportJob, error) {
	start, end = UTC(start), UTC(end)
	if start.IsZero() || !end.After(start) {
		return store.ExportJob{}, fmt.Errorf("create export job: window [%s, %s) is empty; its end must be after its start",
			start.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano))
	}
	id, err := NewID()
	if err != nil {
		return store.ExportJob{}, fmt.Errorf("create export job: %w", err)
	}
	return store.ExportJob{ID: id, WindowStart: start, WindowEnd: end, Status: "pending", CreatedAt: Now()}, nil
}

// CheckExportStatus checks a status before SetExportJobStatus stores it.
func CheckExportStatus(id, status string) error {
	if !slices.Contains(ExportStatuses, status) {
		return fmt.Errorf("export job %s: status %q is not one of %s", id, status, strings.Join(ExportStatuses, ", "))
	}
	return nil
}

// CheckLeader checks a leadership name.
func CheckLeader(name string) error {
	if name == "" {
		return errors.New("lead: name is empty")
	}
	return nil
}

// LockKey is the PostgreSQL advisory lock key of a leadership name: the first 64 bits of an FNV-1a hash of the
// name, in a namespace of maestro's own so other applications' keys do not collide with it by accident.
func LockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("maestro/leader/" + name))
	return int64(h.Sum64())
}

// MigrationLockKey is the PostgreSQL advisory lock key held while migrating.
var MigrationLockKey = func() int64 {
	h := fnv.New64a()
	h.Write([]byte("maestro/migrate"))
	return int64(h.Sum64())
}()
