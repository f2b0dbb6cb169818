package sqlite_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/maestro-conductor/maestro/runtime/store"
	"github.com/maestro-conductor/maestro/runtime/store/sqlite"
	"github.com/maestro-conductor/maestro/runtime/store/storetest"
)

var quiet = slog.New(slog.DiscardHandler)

func newDB(t testing.TB) storetest.Open {
	path := filepath.Join(t.TempDir(), "region.db")
	return func(ctx context.Context) (store.Store, error) {
		return sqlite.Open(ctx, path, sqlite.Options{Logger: quiet})
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, newDB) }

func BenchmarkApply(b *testing.B) { storetest.BenchmarkApply(b, newDB) }
