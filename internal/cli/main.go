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
	"k8s.io/klog/v2"

	"github.com/maestro-conductor/maestro/promote"
	"github.com/maestro-conductor/maestro/workflow"
)

// Exit codes, like diff(1).
const (
	ExitOK      = 0 // success; for diff: no graph digest differs
	ExitChanges = 1 // diff: differences found (or, with --fail-on breaking, breaking ones)
	ExitTrouble = 2 // bad input, unknown ref, any other error
)

// exitError carries an exit code up to Main. A nil err means the command already said everything it had to say.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// globalOptions are the flags every command has.
type globalOptions struct {
	LogFormat string
	LogLevel  string
	stdout    io.Writer
	stderr    io.Writer
	logger    *slog.Logger
}

func (o *globalOptions) addFlags(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&o.LogFormat, "log-format", "text", "diagnostics format on stderr: text or json")
	cmd.PersistentFlags().StringVar(&o.LogLevel, "log-level", "warn", "least severe diagnostics to show: debug, info, warn or error")
}

func (o *globalOptions) setup() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", o.LogLevel)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch o.LogFormat {
	case "text":
		o.logger = slog.New(slog.NewTextHandler(o.stderr, hopts))
	case "json":
		o.logger = slog.New(slog.NewJSONHandler(o.stderr, hopts))
	default:
		return fmt.Errorf("--log-format %q: use text or json", o.LogFormat)
	}
	// The transparency log's storage library logs through klog; send that to the same place, at the same level.
	klog.SetSlogLogger(o.logger)
	return nil
}

// Main runs the maestro command line with args (without the program name) and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globalOptions{stdout: stdout, stderr: stderr}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	return exitCode(err, stderr)
}

// exitCode reports err on stderr and maps it to an exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			reportError(stderr, ee.err)
		}
		return ee.code
	}
	reportError(stderr, err)
	// A verdict — a promotion refused, a tag that fails verification — is exit status 1, like a difference.
	var refusal *promote.Refusal
	var verr *promote.VerificationError
	if errors.As(err, &refusal) || errors.As(err, &verr) {
		return ExitChanges
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

func newRootCmd(g *globalOptions) *cobra.Command {
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
			return g.setup()
		},
	}
	g.addFlags(root)
	root.AddCommand(newValidateCmd(g), newDigestCmd(g), newDiffCmd(g), newVersionCmd(g), newGraphCmd(g), newCICmd(g),
		newKeysCmd(g), newPromoteCmd(g), newVerifyCmd(g), newLogCmd(g), newStatusCmd(g), newServeCmd(g))
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w\nRun '%s --help' for usage", err, cmd.CommandPath())
	})
	return root
}

// isTerminal reports whether w is a terminal, for colour and progress decisions.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
