package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"
)

// OpsBinary is the companion program that runs the promotion and region commands.
const OpsBinary = "maestro-ops"

const (
	groupWorkflows = "workflows"
	groupOps       = "ops"
)

// OpsCommand names a command that maestro-ops runs. Short is its one-line help, the same in both binaries (a test
// in internal/opscli keeps them equal).
type OpsCommand struct {
	Name  string
	Short string
}

// OpsCommands are the commands maestro hands to maestro-ops, in the order of `maestro --help`.
var OpsCommands = []OpsCommand{
	{"promote", "Promote a workflow version: a signed annotated tag NAME/vVERSION plus an attestation in the transparency log"},
	{"verify", "Verify promotion tags: signature, digest, attestation, log inclusion and freeze"},
	{"keys", "Make and show promotion keys (cosign's key format)"},
	{"log", "Show the transparency log promotions are recorded in"},
	{"serve", "Run one region replica: the reconciler that applies promoted versions, and the region's HTTP API"},
	{"status", "Show what each region runs: per workflow the desired and the applied version, and the last error"},
}

// opsCommands returns the real commands when ops is given, else stubs that run maestro-ops with the same
// arguments, so that `maestro promote ...` works wherever maestro-ops is installed beside maestro or on PATH.
func opsCommands(g *Globals, args []string, ops *Ops) []*cobra.Command {
	var cmds []*cobra.Command
	if ops != nil {
		cmds = ops.Commands(g)
	} else {
		for _, oc := range OpsCommands {
			cmds = append(cmds, &cobra.Command{
				Use:   oc.Name,
				Short: oc.Short,
				Long: oc.Short + ".\n\n" + oc.Name + " is part of " + OpsBinary + ", the companion program that links the signing, " +
					"transparency-log and database code the workflow commands do without; maestro runs it with the same " +
					"arguments. `maestro " + oc.Name + " --help` shows its flags.",
				DisableFlagParsing: true,
				RunE: func(cmd *cobra.Command, _ []string) error {
					return runOps(g, args)
				},
			})
		}
	}
	for _, c := range cmds {
		c.GroupID = groupOps
	}
	return cmds
}

// ErrOpsMissing is returned when maestro-ops is not installed.
var ErrOpsMissing = errors.New(OpsBinary + " is not installed")

// findOps looks for maestro-ops beside the running maestro (symlinks resolved), then on PATH.
func findOps() (string, error) {
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		p := filepath.Join(filepath.Dir(exe), OpsBinary+exeSuffix)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath(OpsBinary)
	if err != nil {
		return "", fmt.Errorf("%w beside maestro or on PATH; install it with `make build` (bin/%s), "+
			"`go install github.com/maestro-conductor/maestro/cmd/%s@<version>` or action/install.sh", ErrOpsMissing, OpsBinary, OpsBinary)
	}
	return p, nil
}

// runOps runs maestro-ops with maestro's own arguments: replacing this process where the system allows it, so
// that signals, the exit status and the process id are the companion's own.
func runOps(g *Globals, args []string) error {
	path, err := findOps()
	if err != nil {
		return err
	}
	return execOps(g, path, args)
}

// CallerVersionEnv carries maestro's version to the maestro-ops it runs, which warns when its own differs: the two
// programs are meant to come from the same release.
const CallerVersionEnv = "MAESTRO_CALLER_VERSION"

// opsEnv is the environment maestro-ops runs with: maestro's, and its version.
func opsEnv() []string {
	return append(os.Environ(), CallerVersionEnv+"="+version())
}

// warnVersionSkew tells the user when the maestro that ran this maestro-ops is of another version.
func warnVersionSkew(stderr io.Writer) {
	caller := os.Getenv(CallerVersionEnv)
	if caller == "" || caller == version() {
		return
	}
	fmt.Fprintf(stderr, "maestro: warning: maestro %s ran %s %s; install both from the same release\n", caller, OpsBinary, version())
}

// runOpsChild runs maestro-ops as a child process with maestro's streams and passes on its exit status. An
// interrupt typed at a terminal reaches both processes.
func runOpsChild(g *Globals, path string, args []string) error {
	cmd := exec.Command(path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, g.Stdout, g.Stderr
	cmd.Env = opsEnv()
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() >= 0 {
			return &ExitError{Code: ee.ExitCode()} // maestro-ops has said what went wrong
		}
		return fmt.Errorf("run %s: %w", path, err)
	}
	return nil
}
