// Package cli is the maestro command line: cobra commands, one file a verb, each copying its flags into an options
// struct and calling library code. Exit codes are decided in one place, Main.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/maestro-conductor/maestro/workflow"
)

// Exit codes, like diff(1).
const (
	ExitOK      = 0 // success; for diff: no graph digest differs
	ExitChanges = 1 // diff: differences found (or, with --fail-on breaking, breaking ones)
	ExitTrouble = 2 // bad input, unknown ref, any other error
)

// ExitError carries an exit code up to Main. A nil Err means the command already said everything it had to say.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Globals are the flags and streams every command shares.
type Globals struct {
	LogFormat string
	LogLevel  string
	Stdout    io.Writer
	Stderr    io.Writer
	// Logger is set up from the flags before any command runs.
	Logger *slog.Logger
}

func (o *Globals) addFlags(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&o.LogFormat, "log-format", "text", "diagnostics format on stderr: text or json")
	cmd.PersistentFlags().StringVar(&o.LogLevel, "log-level", "warn", "least severe diagnostics to show: debug, info, warn or error")
}

// Setup makes Logger from LogFormat and LogLevel.
func (o *Globals) Setup() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", o.LogLevel)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch o.LogFormat {
	case "text":
		o.Logger = slog.New(slog.NewTextHandler(o.Stderr, hopts))
	case "json":
		o.Logger = slog.New(slog.NewJSONHandler(o.Stderr, hopts))
	default:
		return fmt.Errorf("--log-format %q: use text or json", o.LogFormat)
	}
	return nil
}

// Ops is what the maestro-ops binary adds to the command line: the promotion and region commands, which link the
// signing, transparency-log and database stacks that the workflow commands do without (docs/adr/0009). Without
// it, those commands are stubs that run maestro-ops with the same arguments.
type Ops struct {
	// Commands returns the real commands, one for each of OpsCommands, in that order.
	Commands func(g *Globals) []*cobra.Command
	// Setup runs once logging is set up, before any command.
	Setup func(g *Globals)
	// ExitCode maps errors that are verdicts (a refused promotion, a failed verification) to exit status 1.
	ExitCode func(err error) (code int, ok bool)
}

// Main runs the maestro command line with args (without the program name) and returns the process exit code. ops
// is nil in the maestro binary and the real commands in maestro-ops.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, ops *Ops) int {
	g := &Globals{Stdout: stdout, Stderr: stderr}
	if ops != nil {
		warnVersionSkew(stderr)
	}
	root := newRootCmd(g, args, ops)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	return exitCode(err, stderr, ops)
}

// exitCode reports err on stderr and maps it to an exit code.
func exitCode(err error, stderr io.Writer, ops *Ops) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			reportError(stderr, ee.Err)
		}
		return ee.Code
	}
	reportError(stderr, err)
	if ops != nil && ops.ExitCode != nil {
		if code, ok := ops.ExitCode(err); ok {
			return code
		}
	}
	return ExitTrouble
}

func reportError(w io.Writer, err error) {
	var list workflow.ErrorList
	if errors.As(err, &list) && len(list) > 1 {
		fmt.Fprintf(w, "maestro: %d problems:\n", len(list))
		for _, e := range list {
			fmt.Fprintf(w, "  %s\n", e)
		}
		return
	}
	msg := err.Error()
	if errors.Is(err, context.Canceled) {
		msg = "interrupted"
	}
	fmt.Fprintf(w, "maestro: %s\n", strings.TrimSpace(msg))
}

func newRootCmd(g *Globals, args []string, ops *Ops) *cobra.Command {
	root := &cobra.Command{
		Use:   "maestro",
		Short: "GitOps for workflow definitions: validate, digest and diff workflow graphs",
		Long: `maestro reads workflow definitions (DAGs of tasks that run versioned task packages) from YAML files in a
git repository, checks them strictly, computes each workflow's canonical graph digest, and shows the semantic
difference between two versions.

Exit codes: 0 success (diff: no graph digest differs), 1 differences found (promote: refused; verify: a
check failed), 2 trouble.`,
		Example: `  maestro validate
  maestro digest --ref main
  maestro diff --from main
  maestro diff -w nightly-etl -t 1.2.0 --output markdown`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := g.Setup(); err != nil {
				return err
			}
			if ops != nil && ops.Setup != nil {
				ops.Setup(g)
			}
			return nil
		},
	}
	g.addFlags(root)
	root.AddGroup(&cobra.Group{ID: groupWorkflows, Title: "Workflow commands:"},
		&cobra.Group{ID: groupOps, Title: "Promotion and region commands (maestro-ops):"})
	for _, c := range []*cobra.Command{newValidateCmd(g), newDigestCmd(g), newDiffCmd(g), newGraphCmd(g), newCICmd(g)} {
		c.GroupID = groupWorkflows
		root.AddCommand(c)
	}
	root.AddCommand(newVersionCmd(g))
	root.AddCommand(opsCommands(g, args, ops)...)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w\nRun '%s --help' for usage", err, cmd.CommandPath())
	})
	return root
}

// IsTerminal reports whether w is a terminal, for colour and progress decisions.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
