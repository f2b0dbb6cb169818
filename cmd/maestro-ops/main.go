// Command maestro-ops is maestro's companion for promotion and the region runtime: promote, verify, keys, log,
// serve and status, besides every command of maestro itself. `maestro promote ...` runs it; it can also be run
// directly. See docs/adr/0009-two-binaries.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/maestro-conductor/maestro/internal/cli"
	"github.com/maestro-conductor/maestro/internal/opscli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, opscli.Ops())
	stop()
	os.Exit(code)
}
