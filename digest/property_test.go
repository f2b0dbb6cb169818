package digest_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/maestro-conductor/maestro/digest"
	"github.com/maestro-conductor/maestro/internal/wftest"
	"github.com/maestro-conductor/maestro/workflow"
)

const (
	propertyModels = 300
	propertyStyles = 4
)

// ignoreStyle leaves out what depends on how a workflow is written rather than what it means.
var ignoreStyle = cmp.Options{
	cmpopts.IgnoreFields(workflow.Workflow{}, "Pos", "Defaults"),
	cmpopts.IgnoreFields(workflow.Param{}, "Pos"),
	cmpopts.IgnoreFields(workflow.Task{}, "Pos"),
	cmpopts.EquateEmpty(),
}

func parseOne(t *testing.T, src []byte) *workflow.Workflow {
	t.Helper()
	ws, err := workflow.Parse("emitted.yaml", src, workflow.Limits{})
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, src)
	}
	if len(ws) != 1 {
		t.Fatalf("Parse returned %d workflows, want 1\n%s", len(ws), src)
	}
	return ws[0]
}

func compute(t *testing.T, w *workflow.Workflow) *digest.Graph {
	t.Helper()
	g, err := digest.Compute(w)
	if err != nil {
		t.Fatalf("Compute: %v\n%s", err, wftest.String(w))
	}
	return g
}

// TestDigestIgnoresStyle: every rendering of a model (task and key order, block or flow, quoting, comments,
// defaults moved, dependsOn shuffled with duplicates, anchors, aliases and merge keys) parses to the model and has
// the model's digest; and the digest agrees with the reference implementation in independent_test.go.
func TestDigestIgnoresStyle(t *testing.T) {
	for seed := range uint64(propertyModels) {
		w := wftest.Random(wftest.NewRand(seed))
		want := compute(t, w)
		checkAgainstReference(t, w, want)
		for i := range uint64(propertyStyles) {
			style := wftest.StyleOf(seed*propertyStyles + i)
			src := wftest.Emit(w, style)
			got := parseOne(t, src)
			if d := cmp.Diff(w, got, ignoreStyle); d != "" {
				t.Fatalf("seed %d, style %v: parsed model mismatch (-want +got):\n%s\n%s", seed, style, d, src)
			}
			if g := compute(t, got); g.Digest != want.Digest {
				t.Fatalf("seed %d, style %v: digest %s, want %s\n%s", seed, style, g.Digest, want.Digest, src)
			}
		}
	}
}

// TestDigestSeesEdits: every semantic edit changes the digest, whichever style the edited model is written in;
// an edit of labels alone does not.
func TestDigestSeesEdits(t *testing.T) {
	applied := map[string]int{}
	for seed := range uint64(propertyModels) {
		r := wftest.NewRand(seed)
		w := wftest.Random(r)
		before := compute(t, w)
		for k, e := range wftest.Edits {
			edited := wftest.Clone(w)
			if !e.Apply(r, edited) {
				continue
			}
			applied[e.Name]++
			style := wftest.StyleOf(seed*uint64(len(wftest.Edits)) + uint64(k))
			src := wftest.Emit(edited, style)
			after := compute(t, parseOne(t, src))
			if e.Semantic && after.Digest == before.Digest {
				t.Fatalf("seed %d: edit %s kept digest %s\nbefore:\n%s\nafter:\n%s", seed, e.Name, before.Digest, wftest.String(w), wftest.String(edited))
			}
			if !e.Semantic && after.Digest != before.Digest {
				t.Fatalf("seed %d: edit %s changed the digest from %s to %s\n%s", seed, e.Name, before.Digest, after.Digest, src)
			}
		}
	}
	for _, e := range wftest.Edits {
		if applied[e.Name] < propertyModels/10 {
			t.Errorf("edit %s applied to only %d of %d models", e.Name, applied[e.Name], propertyModels)
		}
	}
}

// TestRenameKeepsNodeHashes: renaming a task changes the digest but no node hash, the property the diff uses to
// recognise renames.
func TestRenameKeepsNodeHashes(t *testing.T) {
	for seed := range uint64(propertyModels / 3) {
		r := wftest.NewRand(seed)
		w := wftest.Random(r)
		before := compute(t, w)
		ids := w.TaskIDs()
		from := ids[r.IntN(len(ids))]
		to := "renamed-" + from
		edited := wftest.Clone(w)
		wftest.RenameTask(edited, from, to)
		after := compute(t, edited)
		if after.Digest == before.Digest {
			t.Fatalf("seed %d: renaming %s kept the digest", seed, from)
		}
		for _, id := range ids {
			newID := id
			if id == from {
				newID = to
			}
			if before.Nodes[id] != after.Nodes[newID] || before.Contents[id] != after.Contents[newID] {
				t.Fatalf("seed %d: renaming %s to %s changed the hashes of %s", seed, from, to, id)
			}
		}
	}
}

// TestEqualSubgraphsEqualHashes: two tasks have the same node hash exactly when they have the same content and
// their dependencies have the same node hashes.
func TestEqualSubgraphsEqualHashes(t *testing.T) {
	twins := 0
	for seed := range uint64(propertyModels) {
		w := wftest.Random(wftest.NewRand(seed))
		g := compute(t, w)
		depHashes := func(tk *workflow.Task) []digest.Digest {
			var hs []digest.Digest
			for _, d := range tk.DependsOn {
				hs = append(hs, g.Nodes[d])
			}
			return hs
		}
		ids := w.TaskIDs()
		for i, a := range ids {
			for _, b := range ids[i+1:] {
				ta, tb := w.Tasks[a], w.Tasks[b]
				same := ta.Package == tb.Package && ta.Retries == tb.Retries && ta.Timeout == tb.Timeout &&
					cmp.Equal(ta.Params, tb.Params, cmpopts.EquateEmpty()) &&
					cmp.Equal(depHashes(ta), depHashes(tb), cmpopts.SortSlices(func(x, y digest.Digest) bool { return x < y }), cmpopts.EquateEmpty())
				if same != (g.Nodes[a] == g.Nodes[b]) {
					t.Fatalf("seed %d: tasks %s and %s: same subgraph %t, but node hashes %s and %s", seed, a, b, same, g.Nodes[a], g.Nodes[b])
				}
				if same {
					twins++
				}
			}
		}
	}
	if twins == 0 {
		t.Error("no model had two tasks with equal subgraphs")
	}
}

// TestTwinRewire checks that every edge counts, even between identical twins: dependencies enter a node by hash,
// so moving a dependency from one twin to the other changes no node hash, but the root's per-task dependsOn ids
// change and with them the digest (docs/digest.md §4 and §6).
func TestTwinRewire(t *testing.T) {
	src := func(deps string) []byte {
		return []byte(`apiVersion: maestro.dev/v1
kind: Workflow
metadata: {name: twins}
spec:
  tasks:
    a: {package: r.io/notify:1.0, params: {channel: ops}}
    b: {package: r.io/notify:1.0, params: {channel: ops}}
    c: {package: r.io/echo:1.0, dependsOn: ` + deps + `}
`)
	}
	d := map[string]*digest.Graph{}
	for _, deps := range []string{"[a]", "[b]", "[a, b]", "[]"} {
		d[deps] = compute(t, parseOne(t, src(deps)))
	}
	if d["[a]"].Nodes["c"] != d["[b]"].Nodes["c"] {
		t.Errorf("c's node hash differs between depending on a and on its twin b; node hashes carry no ids")
	}
	seen := map[digest.Digest]string{}
	for deps, g := range d {
		if other, dup := seen[g.Digest]; dup {
			t.Errorf("c depending on %s and on %s: same digest %s", deps, other, g.Digest)
		}
		seen[g.Digest] = deps
	}
}
