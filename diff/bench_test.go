package diff_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/maestro-conductor/maestro/diff"
	"github.com/maestro-conductor/maestro/workflow"
)

// benchPlanted is how many changes genWorkflow(n, true) plants, one of each kind it knows.
const benchPlanted = 10

// genWorkflow writes a deterministic workflow of n tasks (n >= 100): a DAG in which task i depends on 1-3 earlier
// tasks, with digest-pinned refs to 64 packages. With planted set it writes the same workflow with benchPlanted
// changes: a package, a task param, retries, a timeout, an edge added, an edge removed, a task added, a task removed,
// a task renamed (its dependents follow it) and a workflow param added.
func genWorkflow(n int, planted bool) string {
	at := func(tenth int) int { return n * tenth / 10 }
	renamed := at(7)
	id := func(i int) string {
		if planted && i == renamed {
			return "moved"
		}
		return fmt.Sprintf("t%05d", i)
	}
	var b strings.Builder
	b.Grow(n * 220)
	b.WriteString("apiVersion: maestro.dev/v1\nkind: Workflow\nmetadata: {name: bench, labels: {team: perf}}\nspec:\n")
	b.WriteString("  params:\n    date: {type: string, required: true}\n")
	if planted {
		b.WriteString("    extra: {type: string, default: x}\n")
	}
	b.WriteString("  defaults: {retries: 1, timeout: 30m}\n  tasks:\n")
	last := n
	if planted {
		last = n - 1 // the last task is removed: nothing depends on it
	}
	for i := range last {
		p := i % 64
		if planted && i == at(1) {
			p = (p + 1) % 64
		}
		sum := sha256.Sum256([]byte(fmt.Sprintf("pkg-%d", p)))
		fmt.Fprintf(&b, "    %s: {package: \"registry.example.com/bench/pkg-%d@sha256:%s\"", id(i), p, hex.EncodeToString(sum[:]))
		shard := fmt.Sprint(i)
		if planted && i == at(2) {
			shard += "-b"
		}
		fmt.Fprintf(&b, ", params: {shard: %q, date: \"{{ params.date }}\"}", shard)
		if i%4 != 0 || (planted && i == at(3)) {
			r := i % 4
			if planted && i == at(3) {
				r = 9
			}
			fmt.Fprintf(&b, ", retries: %d", r)
		}
		if i%7 == 0 || (planted && i == at(4)) {
			t := 60 + i%600
			if planted && i == at(4) {
				t = 7200
			}
			fmt.Fprintf(&b, ", timeout: %d", t)
		}
		var deps []int
		if i > 0 && !(planted && i == at(6)) {
			deps = append(deps, i-1)
		}
		if i%3 == 0 && i >= 3 {
			deps = append(deps, i/2)
		}
		if i%5 == 0 && i >= 10 {
			deps = append(deps, i-7)
		}
		if planted && i == at(5) {
			deps = append(deps, 1)
		}
		if len(deps) > 0 {
			b.WriteString(", dependsOn: [")
			for j, d := range deps {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(id(d))
			}
			b.WriteString("]")
		}
		b.WriteString("}\n")
	}
	if planted {
		fmt.Fprintf(&b, "    extra: {package: \"registry.example.com/bench/extra:1.0\", dependsOn: [%s]}\n", id(n-2))
	}
	return b.String()
}

func parseBench(b *testing.B, doc string) *workflow.Set {
	b.Helper()
	ws, err := workflow.Parse("bench.yaml", []byte(doc), workflow.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	s, err := workflow.NewSet(ws)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkBetween(b *testing.B) {
	for _, n := range []int{1_000, 5_000, 20_000} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			old, new := parseBench(b, genWorkflow(n, false)), parseBench(b, genWorkflow(n, true))
			r, err := diff.Between(old, new)
			if err != nil {
				b.Fatal(err)
			}
			if got := len(r.Workflows[0].Changes); got != benchPlanted {
				b.Fatalf("planted %d changes, Between found %d: %v", benchPlanted, got, r.Workflows[0].Changes)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := diff.Between(old, new); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestBenchWorkflows keeps the benchmark's generator honest: one change of each planted kind, found as planted.
func TestBenchWorkflows(t *testing.T) {
	parse := func(doc string) *workflow.Set { return parseDocs(t, doc) }
	r, err := diff.Between(parse(genWorkflow(200, false)), parse(genWorkflow(200, true)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range r.Workflows[0].Changes {
		got = append(got, string(c.Kind)+" "+c.Path)
	}
	want := []string{
		"param.added spec.params.extra",
		"task.renamed spec.tasks.t00140",
		"task.added spec.tasks.extra",
		"task.package spec.tasks.t00020.package",
		"task.param spec.tasks.t00040.params.shard",
		"task.retries spec.tasks.t00060.retries",
		"task.timeout spec.tasks.t00080.timeout",
		"edge.added spec.tasks.t00100.dependsOn",
		"edge.removed spec.tasks.t00120.dependsOn",
		"task.removed spec.tasks.t00199",
	}
	sort.Strings(want)
	sort.Strings(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("planted changes mismatch (-want +got):\n%s", d)
	}
}
