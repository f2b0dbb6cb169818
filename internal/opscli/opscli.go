// Package opscli is the maestro-ops command line: the promotion commands (promote, verify, keys, log) and the
// region commands (serve, status), added to the workflow commands of package cli. They live apart because they link
// the signing, transparency-log and database stacks, which would make every `maestro diff` in a pull request start
// slower and use more memory (docs/adr/0009).
package opscli

import (
	"errors"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/maestro-conductor/maestro/internal/cli"
	"github.com/maestro-conductor/maestro/promote"
)

// Ops returns the commands of maestro-ops, for cli.Main.
func Ops() *cli.Ops {
	return &cli.Ops{Commands: commands, Setup: setup, ExitCode: exitCode}
}

// commands returns one command for each of cli.OpsCommands, in that order.
func commands(g *cli.Globals) []*cobra.Command {
	return []*cobra.Command{newPromoteCmd(g), newVerifyCmd(g), newKeysCmd(g), newLogCmd(g), newServeCmd(g), newStatusCmd(g)}
}

// setup sends the transparency log's storage library's logging (klog) to the same place as maestro's, at the same
// level.
func setup(g *cli.Globals) { klog.SetSlogLogger(g.Logger) }

// exitCode makes a verdict — a promotion refused, a tag that fails verification — exit status 1, like a difference.
func exitCode(err error) (int, bool) {
	var refusal *promote.Refusal
	var verr *promote.VerificationError
	if errors.As(err, &refusal) || errors.As(err, &verr) {
		return cli.ExitChanges, true
	}
	return 0, false
}
