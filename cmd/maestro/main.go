// Command maestro is GitOps for workflow definitions: it validates workflows, computes their graph digests and
// semantic diffs. See `maestro --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/maestro-conductor/maestro/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
