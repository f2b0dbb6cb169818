package tlog_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/maestro-conductor/maestro/internal/testtools"
)

// TestMain doubles as the entry point of the child processes the
// multi-process tests start by re-executing the test binary.
func TestMain(m *testing.M) {
	if role := os.Getenv(childRoleEnv); role != "" {
		os.Exit(childMain(role))
	}
	code := m.Run()
	testtools.Cleanup() // the rekor-tiles server (testtools.StartRekor) built for this binary
	os.Exit(code)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
