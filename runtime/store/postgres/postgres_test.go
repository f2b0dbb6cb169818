package postgres_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/maestro-conductor/maestro/runtime/store"
	"github.com/maestro-conductor/maestro/runtime/store/pgtest"
	"github.com/maestro-conductor/maestro/runtime/store/postgres"
	"github.com/maestro-conductor/maestro/runtime/store/storetest"
)

var quiet = slog.New(slog.DiscardHandler)

func newDB(t testing.TB) storetest.Open {
	dsn := pgtest.URL(t)
	return func(ctx context.Context) (store.Store, error) {
		return postgres.Open(ctx, dsn, postgres.Options{Logger: quiet})
	}
}

func TestConformance(t *testing.T) {
	pgtest.Hold(t)
	storetest.Run(t, newDB)
}

func BenchmarkApply(b *testing.B) {
	pgtest.Hold(b)
	storetest.BenchmarkApply(b, newDB)
}
