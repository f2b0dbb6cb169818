// Command maestro is GitOps for workflow definitions: it validates workflows, computes their graph digests and
// semantic diffs. Its promotion and region commands are run by the companion program maestro-ops (docs/adr/0009).
// See `maestro --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/maestro-conductor/maestro/internal/cli"
)

func main() {
	// maestro is a short-lived process whose heap is mostly a parsed workflow it keeps to the end: collecting
	// half as often costs little memory and saves a quarter of a large diff's time (docs/benchmarks.md).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}
