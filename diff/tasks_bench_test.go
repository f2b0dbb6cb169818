package diff

import (
	"fmt"
	"testing"

	"github.com/maestro-conductor/maestro/internal/synth"
	"github.com/maestro-conductor/maestro/workflow"
)

// BenchmarkDiffTasks measures the diff's own work on two versions of a synthetic workflow with 10 planted changes:
// Between without the digests, which BenchmarkBetween includes.
func BenchmarkDiffTasks(b *testing.B) {
	for _, n := range []int{1_000, 20_000} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			parse := func(opts synth.Options) *workflow.Workflow {
				ws, err := workflow.Parse("bench.yaml", synth.Generate(opts), workflow.Limits{})
				if err != nil {
					b.Fatal(err)
				}
				return ws[0]
			}
			ta, tb, err := tables(parse(synth.Options{Tasks: n, Seed: 1}), parse(synth.Options{Tasks: n, Seed: 1, Changes: 10}), nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				c := &collector{changes: []Change{}}
				diffTasks(c, ta, tb)
				if len(c.changes) != 10 {
					b.Fatalf("found %d changes, planted 10", len(c.changes))
				}
			}
		})
	}
}
