// Command synthgen writes a synthetic workflow and two variants of it for benchmarks and manual diffing:
// DIR/base.yaml, DIR/changed.yaml (base with -changes planted semantic changes) and DIR/reformatted.yaml (base written
// differently, same meaning). It prints the planted changes on stdout.
//
//	synthgen -tasks 20000 -seed 1 -changes 10 -out DIR
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/maestro-conductor/maestro/internal/synth"
)

func main() {
	var opts synth.Options
	var out string
	flag.IntVar(&opts.Tasks, "tasks", 1000, "number of tasks")
	flag.Uint64Var(&opts.Seed, "seed", 1, "random seed")
	flag.IntVar(&opts.Changes, "changes", 10, "semantic changes planted in changed.yaml")
	flag.StringVar(&out, "out", ".", "directory to write base.yaml, changed.yaml and reformatted.yaml to")
	flag.Parse()
	if err := run(opts, out); err != nil {
		fmt.Fprintln(os.Stderr, "synthgen:", err)
		os.Exit(1)
	}
}

func run(opts synth.Options, out string) error {
	if opts.Tasks < 1 || opts.Changes < 0 || opts.Changes > opts.Tasks {
		return fmt.Errorf("need -tasks >= 1 and 0 <= -changes <= -tasks, got %d and %d", opts.Tasks, opts.Changes)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	changed, reformatted := opts, opts
	opts.Changes = 0
	reformatted.Changes, reformatted.Reformat = 0, true
	for name, o := range map[string]synth.Options{"base.yaml": opts, "changed.yaml": changed, "reformatted.yaml": reformatted} {
		if err := os.WriteFile(filepath.Join(out, name), synth.Generate(o), 0o644); err != nil {
			return err
		}
	}
	for _, c := range synth.Planted(changed) {
		fmt.Println(c)
	}
	return nil
}
