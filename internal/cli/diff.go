package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/maestro-conductor/maestro/diff"
	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/workflow"
)

type diffOptions struct {
	source   SourceOptions
	From     string
	To       string
	Workflow string
	Version  string
	Output   string
	FailOn   string
	Color    string
	Paths    []string
}

func newDiffCmd(g *Globals) *cobra.Command {
	o := &diffOptions{}
	cmd := &cobra.Command{
		Use:   "diff [FILE_A FILE_B] | --from REF [--to REF] | -w NAME -t VERSION",
		Short: "Show the semantic difference between two versions of workflows",
		Long: `diff compares workflows by meaning, not text: each change has a kind (task.package, edge.added, param.removed...),
a path, old and new values, and a class: breaking (the workflow's interface changed), behavioral (the graph does
something else) or metadata (labels only; the digest is unchanged).

Three forms:
  maestro diff FILE_A FILE_B         two files or directories, no git needed
  maestro diff --from REF [--to REF] every workflow between two git refs (default --to: the working tree)
  maestro diff -w NAME -t VERSION    the working tree's NAME against its promoted tag NAME/vVERSION

Exit status: 0 when no graph digest differs, 1 when one does (with --fail-on breaking: only when a change is
breaking; with --fail-on never: always 0), 2 on trouble (bad input, unknown ref).`,
		Example: `  maestro diff old.yaml new.yaml
  maestro diff --from main --output markdown
  maestro diff --from v1 --to HEAD --fail-on breaking
  maestro diff -w nightly-etl -t 1.2.0`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Paths = args
			return runDiff(cmd, g, o)
		},
	}
	o.source.AddFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.From, "from", "", "git ref of the old version")
	f.StringVar(&o.To, "to", "", "git ref of the new version (default: the working tree)")
	f.StringVarP(&o.Workflow, "workflow", "w", "", "only this workflow")
	f.StringVarP(&o.Version, "tag", "t", "", "compare against the promoted version NAME/vVERSION (needs -w)")
	f.StringVarP(&o.Output, "output", "o", "text", "output format: text, json or markdown")
	f.StringVar(&o.FailOn, "fail-on", "any", "which differences make the exit status 1: any, breaking or never")
	f.StringVar(&o.Color, "color", "auto", "colour the text output: auto, always or never")
	return cmd
}

func runDiff(cmd *cobra.Command, g *Globals, o *diffOptions) error {
	switch o.Output {
	case "text", "json", "markdown":
	default:
		return fmt.Errorf("--output %q: use text, json or markdown", o.Output)
	}
	if err := checkFailOn(o.FailOn); err != nil {
		return err
	}
	switch o.Color {
	case "auto", "always", "never":
	default:
		return fmt.Errorf("--color %q: use auto, always or never", o.Color)
	}
	from, to := o.From, o.To
	var a, b *diff.Version
	var err error
	// Without -w every workflow is compared: each version is digested as soon as it is read, beside the other's
	// reading. With -w only one is, after both are read.
	load := prepared
	if o.Workflow != "" {
		load = unprepared
	}
	switch {
	case len(o.Paths) > 0:
		if len(o.Paths) != 2 {
			return fmt.Errorf("diff takes two files or directories, got %d arguments", len(o.Paths))
		}
		if o.From != "" || o.To != "" || o.Version != "" {
			return errors.New("give either two paths or --from/--to/-t, not both")
		}
		a, b, err = loadBoth(load(func() (*workflow.Set, error) { return o.source.loadPaths(o.Paths[:1]) }),
			load(func() (*workflow.Set, error) { return o.source.loadPaths(o.Paths[1:]) }))
	case o.Version != "":
		if o.Workflow == "" {
			return errors.New("-t VERSION needs -w NAME: the promoted tag is NAME/vVERSION")
		}
		if o.From != "" {
			return errors.New("give either -t VERSION or --from, not both")
		}
		from = gitrepo.TagName(o.Workflow, o.Version)
		fallthrough
	case from != "":
		a, b, err = loadBoth(load(func() (*workflow.Set, error) { return o.source.loadRef(cmd.Context(), from) }),
			load(func() (*workflow.Set, error) { return o.source.loadRef(cmd.Context(), to) }))
	default:
		return errors.New("nothing to compare: give two files, --from REF, or -w NAME -t VERSION (see maestro diff --help)")
	}
	if err != nil {
		return err
	}
	if o.Workflow != "" {
		if a.Set.Get(o.Workflow) == nil && b.Set.Get(o.Workflow) == nil {
			return fmt.Errorf("no workflow named %q in either version (old: %s; new: %s)", o.Workflow, namesOf(a.Set), namesOf(b.Set))
		}
		a.Set, b.Set = only(a.Set, o.Workflow), only(b.Set, o.Workflow)
	}
	res, err := diff.BetweenVersions(a, b)
	if err != nil {
		return err
	}
	switch o.Output {
	case "json":
		err = diff.WriteJSON(g.Stdout, res)
	case "markdown":
		_, err = fmt.Fprint(g.Stdout, diff.Markdown(res, diff.MarkdownOptions{}))
	default:
		err = diff.WriteText(g.Stdout, res, diff.TextOptions{Color: useColor(o.Color, g)})
	}
	if err != nil {
		return err
	}
	return failOnExit(o.FailOn, res)
}

// checkFailOn validates a --fail-on value.
func checkFailOn(v string) error {
	switch v {
	case "any", "breaking", "never":
		return nil
	}
	return fmt.Errorf("--fail-on %q: use any, breaking or never", v)
}

// failOnExit turns a diff result into exit status 1 when --fail-on says its differences count: any digest change,
// breaking changes only, or never.
func failOnExit(failOn string, res diff.Result) error {
	failed := false
	switch failOn {
	case "any":
		failed = res.Changed()
	case "breaking":
		failed = res.Has(diff.Breaking)
	}
	if failed {
		return &ExitError{Code: ExitChanges}
	}
	return nil
}

// prepared turns a loader of workflows into a loader of a version digested as soon as it is read.
func prepared(load func() (*workflow.Set, error)) func() (*diff.Version, error) {
	return func() (*diff.Version, error) {
		s, err := load()
		if err != nil {
			return nil, err
		}
		return diff.Prepare(s)
	}
}

// unprepared turns a loader of workflows into a loader of a version that diff digests when it compares.
func unprepared(load func() (*workflow.Set, error)) func() (*diff.Version, error) {
	return func() (*diff.Version, error) {
		s, err := load()
		return &diff.Version{Set: s}, err
	}
}

// loadBoth loads two versions side by side, as a and b return them: reading is most of a diff's work and the
// versions are independent. It returns both, or the first error.
func loadBoth[T any](a, b func() (T, error)) (T, T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := b()
		ch <- result{v, err}
	}()
	va, errA := a()
	rb := <-ch
	var zero T
	if errA != nil {
		return zero, zero, errA
	}
	if rb.err != nil {
		return zero, zero, rb.err
	}
	return va, rb.v, nil
}

func only(s *workflow.Set, name string) *workflow.Set {
	out := &workflow.Set{Workflows: map[string]*workflow.Workflow{}}
	if w := s.Get(name); w != nil {
		out.Workflows[name] = w
	}
	return out
}

func namesOf(s *workflow.Set) string {
	if s == nil || len(s.Workflows) == 0 {
		return "none"
	}
	return strings.Join(s.Names(), ", ")
}

func useColor(mode string, g *Globals) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return IsTerminal(g.Stdout)
}

// loadSet loads workflows from paths when given, else from a ref or the working tree.
func loadSet(cmd *cobra.Command, src *SourceOptions, paths []string, ref string) (*workflow.Set, error) {
	if len(paths) > 0 {
		return src.loadPaths(paths)
	}
	return src.loadRef(cmd.Context(), ref)
}
