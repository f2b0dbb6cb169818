package digest_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/maestro-conductor/maestro/digest"
	"github.com/maestro-conductor/maestro/internal/wftest"
	"github.com/maestro-conductor/maestro/workflow"
)

// checkTable fails t unless TableOf(w) holds what Compute(w) does: the same digest, the ids sorted, and each task's
// node and content hash.
func checkTable(t *testing.T, w *workflow.Workflow) {
	t.Helper()
	g := compute(t, w)
	tab, err := digest.TableOf(w)
	if err != nil {
		t.Fatalf("TableOf: %v", err)
	}
	if tab.Digest != g.Digest {
		t.Fatalf("TableOf digest %s, Compute digest %s\n%s", tab.Digest, g.Digest, wftest.String(w))
	}
	if !slices.IsSorted(tab.IDs) || len(tab.IDs) != len(w.Tasks) || len(tab.Tasks) != len(w.Tasks) || len(tab.Nodes) != len(w.Tasks) {
		t.Fatalf("TableOf ids %q: want the %d task ids sorted, with as many tasks and nodes", tab.IDs, len(w.Tasks))
	}
	for i, id := range tab.IDs {
		if tab.Tasks[i] != w.Tasks[id] {
			t.Fatalf("TableOf: task %d is not task %s", i, id)
		}
		if got, want := tab.Nodes[i].Digest(), g.Nodes[id]; got != want {
			t.Fatalf("TableOf: node hash of %s %s, Compute %s", id, got, want)
		}
		if got, want := tab.Content(i).Digest(), g.Contents[id]; got != want {
			t.Fatalf("TableOf: content hash of %s %s, Compute %s", id, got, want)
		}
		var deps []string
		for _, d := range tab.Deps(i) {
			deps = append(deps, tab.IDs[d])
		}
		var want []string
		for _, d := range w.Tasks[id].DependsOn {
			if _, ok := w.Tasks[d]; ok {
				want = append(want, d)
			}
		}
		if !slices.Equal(deps, want) {
			t.Fatalf("TableOf: dependencies of %s %q, want %q", id, deps, want)
		}
	}
}

func TestTableAgreesWithGraph(t *testing.T) {
	for _, v := range loadVectors(t) {
		checkTable(t, v.w)
	}
	for seed := range uint64(propertyModels) {
		checkTable(t, wftest.Random(wftest.NewRand(seed)))
	}
}

// TestNonASCIITaskIDs: the parser allows only [a-z0-9_-] in task ids, but a workflow built in code may have any;
// its tasks are ordered by UTF-16 code units and their ids escaped, as the reference implementation does.
func TestNonASCIITaskIDs(t *testing.T) {
	ids := []string{"\ue000", "\U0001F600", "z", "Z", "é", "a\"b", "tab\t", "a", "ab"}
	w := &workflow.Workflow{Name: "odd-ids", Tenant: "acme", Tasks: map[string]*workflow.Task{}}
	for i, id := range ids {
		tk := &workflow.Task{ID: id, Package: "r.io/echo:1.0", Params: map[string]string{"n": fmt.Sprint(i % 3)}}
		if i > 0 {
			tk.DependsOn = []string{ids[0]}
		}
		// Lines in reverse id order: the digest must not depend on where tasks were written.
		tk.Pos.Line = 100 - i
		w.Tasks[id] = tk
	}
	checkAgainstReference(t, w, compute(t, w))
	checkTable(t, w)
}

func TestCycle(t *testing.T) {
	w := &workflow.Workflow{Name: "loop", Tasks: map[string]*workflow.Task{
		"a": {ID: "a", Package: "r.io/a:1", DependsOn: []string{"c"}},
		"b": {ID: "b", Package: "r.io/b:1", DependsOn: []string{"a"}},
		"c": {ID: "c", Package: "r.io/c:1", DependsOn: []string{"b"}},
		"d": {ID: "d", Package: "r.io/d:1"},
	}}
	if _, err := digest.Compute(w); err == nil {
		t.Error("Compute of a cycle: no error")
	}
	if _, err := digest.TableOf(w); err == nil {
		t.Error("TableOf of a cycle: no error")
	}
	if _, err := digest.Of(w); err == nil {
		t.Error("Of of a cycle: no error")
	}
}

// TestDanglingDependency: the parser refuses a dependency on a missing task, but a workflow built in code may have
// one; it is left out of the node hash (not of the root's dependsOn), and out of the table's dependencies.
func TestDanglingDependency(t *testing.T) {
	w := &workflow.Workflow{Name: "dangling", Tasks: map[string]*workflow.Task{
		"a": {ID: "a", Package: "r.io/a:1", DependsOn: []string{"b", "ghost"}},
		"b": {ID: "b", Package: "r.io/b:1"},
	}}
	checkTable(t, w)
}
