package digest_test

import (
	"fmt"
	"testing"

	"github.com/maestro-conductor/maestro/digest"
	"github.com/maestro-conductor/maestro/internal/synth"
	"github.com/maestro-conductor/maestro/workflow"
)

// benchWorkflow parses a synthetic workflow of n tasks.
func benchWorkflow(b *testing.B, n int) *workflow.Workflow {
	b.Helper()
	ws, err := workflow.Parse("bench.yaml", synth.Generate(synth.Options{Tasks: n, Seed: 1}), workflow.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	return ws[0]
}

func BenchmarkCompute(b *testing.B) {
	for _, n := range []int{1_000, 5_000, 20_000} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			w := benchWorkflow(b, n)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := digest.Compute(w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOf(b *testing.B) {
	for _, n := range []int{1_000, 20_000} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			w := benchWorkflow(b, n)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := digest.Of(w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
