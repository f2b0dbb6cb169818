package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/maestro-conductor/maestro/diff"
	"github.com/maestro-conductor/maestro/graph"
	"github.com/maestro-conductor/maestro/workflow"
)

type graphOptions struct {
	source   SourceOptions
	Workflow string
	Ref      string
	DiffFrom string
	All      bool
	Format   string
}

func newGraphCmd(g *Globals) *cobra.Command {
	o := &graphOptions{}
	cmd := &cobra.Command{
		Use:   "graph -w NAME [--ref REF] [--diff-from REF] [--format mermaid|dot]",
		Short: "Draw a workflow's task graph, or the part of it a diff touched, as Mermaid or DOT",
		Long: `graph prints a workflow's task graph as a Mermaid flowchart or in Graphviz's DOT language; an arrow runs from a
task to the tasks that depend on it.

Without --diff-from it draws the whole workflow in the working tree, or at --ref. With --diff-from REF it draws the
difference from REF to the working tree (or --ref): the tasks that were added, removed, changed or renamed, each
styled distinctly, with their direct neighbours as context and a legend; --all draws every task with the same
styling. This is the picture the GitHub Action puts in pull-request comments.`,
		Example: `  maestro graph -w nightly-etl > etl.mmd
  maestro graph -w nightly-etl --diff-from main --format dot | dot -Tsvg > etl.svg
  maestro graph -w nightly-etl --ref v2 --diff-from v1 --all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runGraph(cmd, g, o) },
	}
	o.source.AddFlags(cmd)
	f := cmd.Flags()
	f.StringVarP(&o.Workflow, "workflow", "w", "", "the workflow to draw (required)")
	f.StringVar(&o.Ref, "ref", "", "git ref to draw instead of the working tree")
	f.StringVar(&o.DiffFrom, "diff-from", "", "git ref of the old version: draw what changed since")
	f.BoolVar(&o.All, "all", false, "with --diff-from: draw every task, not only the changed ones and their neighbours")
	f.StringVar(&o.Format, "format", "mermaid", "output format: mermaid or dot")
	return cmd
}

func runGraph(cmd *cobra.Command, g *Globals, o *graphOptions) error {
	if o.Format != "mermaid" && o.Format != "dot" {
		return fmt.Errorf("--format %q: use mermaid or dot", o.Format)
	}
	if o.Workflow == "" {
		return errors.New("graph needs -w NAME: which workflow to draw")
	}
	if o.All && o.DiffFrom == "" {
		return errors.New("--all goes with --diff-from; without it the whole workflow is drawn anyway")
	}
	var pic graph.Graph
	if o.DiffFrom == "" {
		set, err := o.source.loadRef(cmd.Context(), o.Ref)
		if err != nil {
			return err
		}
		w := set.Get(o.Workflow)
		if w == nil {
			return fmt.Errorf("no workflow named %q (found: %s)", o.Workflow, namesOf(set))
		}
		pic = graph.Full(w)
	} else {
		a, b, err := loadBoth(func() (*workflow.Set, error) { return o.source.loadRef(cmd.Context(), o.DiffFrom) },
			func() (*workflow.Set, error) { return o.source.loadRef(cmd.Context(), o.Ref) })
		if err != nil {
			return err
		}
		wa, wb := a.Get(o.Workflow), b.Get(o.Workflow)
		if wa == nil && wb == nil {
			return fmt.Errorf("no workflow named %q in either version (old: %s; new: %s)", o.Workflow, namesOf(a), namesOf(b))
		}
		d, err := diff.Workflows(wa, wb)
		if err != nil {
			return err
		}
		if o.All {
			pic = graph.Overlay(d)
		} else {
			pic = graph.Affected(d)
		}
		if len(pic.Nodes) == 0 {
			g.Logger.Info("no task of the workflow changed; the picture is empty", "workflow", o.Workflow, "status", d.Status)
		}
	}
	out := pic.Mermaid()
	if o.Format == "dot" {
		out = pic.DOT()
	}
	_, err := io.WriteString(g.Stdout, out)
	return err
}
