// Package storetest is the conformance suite every store.Store implementation passes, and the store benchmarks.
//
// A backend's test calls Run with a NewDB that makes an empty database for a test:
//
//	func TestConformance(t *testing.T) { storetest.Run(t, newDB) }
//
// The suite opens several Stores on one database (as several processes would) to test leader election, concurrent
// writers, and data surviving Close and re-open; so NewDB returns an Open, not a Store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/maestro-conductor/maestro/runtime/store"
)

// NewDB makes an empty database for t, removed when t ends, and returns how to open a Store on it.
type NewDB func(t testing.TB) Open

// Open opens a Store on one database. Each call opens another Store with its own connections, as another process
// would. The caller closes it.
type Open func(ctx context.Context) (store.Store, error)

// Run runs the conformance suite against the stores newDB opens.
func Run(t *testing.T, newDB NewDB) {
	tests := []struct {
		name string
		f    func(t *testing.T, newDB NewDB)
	}{
		{"Apply", testApply},
		{"ApplyStoresEveryField", testApplyFields},
		{"ApplyConcurrent", testApplyConcurrent},
		{"ApplyConcurrentConflicts", testApplyConcurrentConflicts},
		{"VersionsSemverOrder", testVersionsOrder},
		{"Workflows", testWorkflows},
		{"NotFound", testNotFound},
		{"Statuses", testStatuses},
		{"History", testHistory},
		{"HistoryRecord", testHistoryRecord},
		{"PruneHistory", testPruneHistory},
		{"Claim", testClaim},
		{"ClaimConcurrent", testClaimConcurrent},
		{"Lead", testLead},
		{"LeadReleasedByClose", testLeadClose},
		{"ExportJobs", testExportJobs},
		{"ReopenKeepsData", testReopen},
		{"OpenConcurrently", testOpenConcurrently},
		{"Closed", testClosed},
		{"CanceledContext", testCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, newDB) })
	}
}

// open opens a Store on the database, closed when t ends.
func open(t testing.TB, o Open) store.Store {
	t.Helper()
	s, err := o(context.Background())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// fresh opens a Store on a new, empty database.
func fresh(t testing.TB, newDB NewDB) store.Store {
	t.Helper()
	return open(t, newDB(t))
}

func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", err.Error())
}
