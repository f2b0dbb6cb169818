package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/maestro-conductor/maestro/digest"
	"github.com/maestro-conductor/maestro/workflow"
)

type validateOptions struct {
	source SourceOptions
	Ref    string
	Output string
	Paths  []string
}

func newValidateCmd(g *Globals) *cobra.Command {
	o := &validateOptions{}
	cmd := &cobra.Command{
		Use:   "validate [PATH...]",
		Short: "Check workflow files strictly and report every problem with file:line",
		Long: `validate parses workflow files strictly: unknown fields, duplicate keys and task ids, bad names and durations,
dependencies on missing tasks and dependency cycles are errors that name the file, line and column.

Without PATH it checks every *.yaml and *.yml under the repository's workflows directory, in the working tree
(uncommitted edits included) or, with --ref, at a git ref. Exit status 2 when any problem is found.`,
		Example: `  maestro validate
  maestro validate workflows/nightly-etl.yaml
  maestro validate --ref origin/main --output json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Paths = args
			return runValidate(cmd, g, o)
		},
	}
	o.source.AddFlags(cmd)
	cmd.Flags().StringVar(&o.Ref, "ref", "", "git ref to read instead of the working tree")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "text", "output format: text or json")
	return cmd
}

type validateReport struct {
	Valid     bool               `json:"valid"`
	Workflows []workflowSummary  `json:"workflows"`
	Errors    []validationErrorJ `json:"errors"`
}

type workflowSummary struct {
	Name   string        `json:"name"`
	Digest digest.Digest `json:"digest"`
	Tasks  int           `json:"tasks"`
	File   string        `json:"file"`
}

type validationErrorJ struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func runValidate(cmd *cobra.Command, g *Globals, o *validateOptions) error {
	if o.Output != "text" && o.Output != "json" {
		return fmt.Errorf("--output %q: use text or json", o.Output)
	}
	if o.Ref != "" && len(o.Paths) > 0 {
		return errors.New("give either PATH arguments or --ref, not both")
	}
	var set *workflow.Set
	var err error
	if len(o.Paths) > 0 {
		set, err = o.source.loadPaths(o.Paths)
	} else {
		set, err = o.source.loadRef(cmd.Context(), o.Ref)
	}
	var list workflow.ErrorList
	var one *workflow.Error
	switch {
	case err == nil:
	case errors.As(err, &list):
	case errors.As(err, &one):
		list = workflow.ErrorList{one}
	default:
		return err
	}
	rep := validateReport{Valid: len(list) == 0, Workflows: []workflowSummary{}, Errors: []validationErrorJ{}}
	if set != nil {
		rep.Workflows, err = summarize(set)
		if err != nil {
			return err
		}
	}
	for _, e := range list {
		rep.Errors = append(rep.Errors, validationErrorJ{File: e.Pos.File, Line: e.Pos.Line, Column: e.Pos.Column, Field: e.Field, Message: e.Msg})
	}
	if o.Output == "json" {
		enc := json.NewEncoder(g.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
		if !rep.Valid {
			return &ExitError{Code: ExitTrouble}
		}
		return nil
	}
	if !rep.Valid {
		return &ExitError{Code: ExitTrouble, Err: list}
	}
	for _, w := range rep.Workflows {
		fmt.Fprintf(g.Stdout, "ok  %-24s %4d tasks  %s\n", w.Name, w.Tasks, w.File)
	}
	fmt.Fprintf(g.Stdout, "%d workflows valid\n", len(rep.Workflows))
	return nil
}

func summarize(set *workflow.Set) ([]workflowSummary, error) {
	out := make([]workflowSummary, 0, len(set.Workflows))
	for _, n := range set.Names() {
		w := set.Workflows[n]
		d, err := digest.Of(w)
		if err != nil {
			return nil, err
		}
		out = append(out, workflowSummary{Name: n, Digest: d, Tasks: len(w.Tasks), File: w.Pos.File})
	}
	return out, nil
}
