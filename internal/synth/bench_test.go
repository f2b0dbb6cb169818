package synth_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/maestro-conductor/maestro/diff"
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

// BenchmarkPipeline measures in-process what `maestro diff A B --output json` does between starting and exiting:
// parse both files (one after the other), digest and diff them, render the JSON report. It is diffbench without
// the process, for profiling (-cpuprofile) and for comparing commits with benchstat.
func BenchmarkPipeline(b *testing.B) {
	for _, n := range []int{5000, 20000} {
		base := synth.Generate(synth.Options{Tasks: n, Seed: 1})
		for _, pair := range []string{"changed", "reformatted"} {
			other := synth.Generate(synth.Options{Tasks: n, Seed: 1, Changes: 10})
			if pair == "reformatted" {
				other = synth.Generate(synth.Options{Tasks: n, Seed: 1, Reformat: true})
			}
			b.Run(fmt.Sprintf("tasks=%d/%s", n, pair), func(b *testing.B) {
				b.SetBytes(int64(len(base) + len(other)))
				b.ReportAllocs()
				for b.Loop() {
					sa, sb := parseSet(b, base), parseSet(b, other)
					res, err := diff.Between(sa, sb)
					if err != nil {
						b.Fatal(err)
					}
					if err := diff.WriteJSON(io.Discard, res); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func parseSet(b *testing.B, data []byte) *workflow.Set {
	ws, err := workflow.Parse("bench.yaml", data, workflow.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	s, err := workflow.NewSet(ws)
	if err != nil {
		b.Fatal(err)
	}
	return s
}
