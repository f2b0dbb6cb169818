package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

type digestOptions struct {
	source   SourceOptions
	Workflow string
	Ref      string
	Output   string
	Paths    []string
}

func newDigestCmd(g *Globals) *cobra.Command {
	o := &digestOptions{}
	cmd := &cobra.Command{
		Use:   "digest [PATH...]",
		Short: "Print the canonical graph digest of each workflow",
		Long: `digest prints one line per workflow, "sha256:<hex>  <name>", sorted by name. The digest is computed from the
workflow's canonical form (docs/digest.md): formatting, key and task order, comments, quoting and YAML aliases never
change it; any change of package, param, edge, retry or timeout always does. Labels do not count.

Without PATH it reads the repository's workflows directory in the working tree, or at --ref.`,
		Example: `  maestro digest
  maestro digest -w nightly-etl --ref nightly-etl/v1.2.0
  maestro digest workflows/ --output json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Paths = args
			return runDigest(cmd, g, o)
		},
	}
	o.source.AddFlags(cmd)
	cmd.Flags().StringVarP(&o.Workflow, "workflow", "w", "", "only this workflow")
	cmd.Flags().StringVar(&o.Ref, "ref", "", "git ref to read instead of the working tree")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runDigest(cmd *cobra.Command, g *Globals, o *digestOptions) error {
	if o.Output != "text" && o.Output != "json" {
		return fmt.Errorf("--output %q: use text or json", o.Output)
	}
	if o.Ref != "" && len(o.Paths) > 0 {
		return errors.New("give either PATH arguments or --ref, not both")
	}
	var err error
	set, err := loadSet(cmd, &o.source, o.Paths, o.Ref)
	if err != nil {
		return err
	}
	sums, err := summarize(set)
	if err != nil {
		return err
	}
	if o.Workflow != "" {
		var only []workflowSummary
		for _, s := range sums {
			if s.Name == o.Workflow {
				only = append(only, s)
			}
		}
		if len(only) == 0 {
			return fmt.Errorf("no workflow named %q (found: %s)", o.Workflow, namesOf(set))
		}
		sums = only
	}
	if o.Output == "json" {
		enc := json.NewEncoder(g.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sums)
	}
	for _, s := range sums {
		fmt.Fprintf(g.Stdout, "%s  %s\n", s.Digest, s.Name)
	}
	return nil
}
