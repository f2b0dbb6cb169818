package tlog_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/maestro-conductor/maestro/attest/tlog"
)

// TestLazyTakesTurns appends through a Lazy log while a ReadOnly view of the same directory reads it: the reader
// sees every entry, the appender is not held between appends (another writer can open the log), and a ReadOnly
// open of a new directory yields an empty, verifiable log.
func TestLazyTakesTurns(t *testing.T) {
	ctx := testContext(t)
	dir := filepath.Join(t.TempDir(), "log")
	ro, err := tlog.OpenEmbeddedReadOnly(ctx, dir, tlog.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := ro.Reader().Size(ctx); err != nil || n != 0 {
		t.Fatalf("a new log read-only: size %d, %v; want an empty log", n, err)
	}
	lazy, err := tlog.OpenEmbeddedLazy(ctx, dir, tlog.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lazy.LogKey().Origin != ro.LogKey().Origin {
		t.Fatalf("two opens of one directory disagree on the origin: %q, %q", lazy.LogKey().Origin, ro.LogKey().Origin)
	}
	for i := range 3 {
		sb, err := newSignedBundle(ctx, t, lazy.Transparency(), "lazy")
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if err := verifyWithSigstore(ctx, t, sb, ro.LogKey()); err != nil {
			t.Fatalf("append %d does not verify: %v", i, err)
		}
		if got := sb.Bundle.GetVerificationMaterial().GetTlogEntries()[0].GetLogIndex(); got != int64(i) {
			t.Errorf("append %d got log index %d", i, got)
		}
	}
	if n, err := ro.Reader().Size(ctx); err != nil || n != 3 {
		t.Errorf("read-only view: size %d, %v; want 3", n, err)
	}
	// Between appends nothing holds the writer lock: a writer opens at once.
	e, err := tlog.OpenEmbedded(ctx, dir, tlog.EmbeddedOptions{})
	if err != nil {
		t.Fatalf("open for writing after lazy appends: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".writer.lock")); err != nil {
		t.Errorf("no writer lock file: %v", err)
	}
}
