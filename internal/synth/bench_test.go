package synth_test

import (
	"fmt"
	"testing"

	"github.com/maestro-conductor/maestro/internal/synth"
	"github.com/maestro-conductor/maestro/workflow"
)

// BenchmarkParse measures workflow.Parse on synthetic workflows. The yaml-bytes metric is the size of the file.
func BenchmarkParse(b *testing.B) {
	for _, n := range []int{1000, 5000, 20000} {
		for _, reformat := range []bool{false, true} {
			name := fmt.Sprintf("tasks=%d", n)
			if reformat {
				name += "/reformatted"
			}
			b.Run(name, func(b *testing.B) {
				data := synth.Generate(synth.Options{Tasks: n, Seed: 1, Reformat: reformat})
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := workflow.Parse("bench.yaml", data, workflow.Limits{}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(data)), "yaml-bytes")
			})
		}
	}
}

// BenchmarkGenerate measures the generator itself, so that its cost is known when it runs inside other benchmarks.
func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		synth.Generate(synth.Options{Tasks: 20000, Seed: 1, Changes: 10})
	}
}
