package examples_test

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/maestro-conductor/maestro/workflow"
)

// ignorePos leaves source positions out of model comparisons: the edits move lines around.
var ignorePos = cmpopts.IgnoreFields(workflow.Task{}, "Pos")

// loadRepo loads the example repository as committed first.
func loadRepo(t *testing.T) *workflow.Set {
	t.Helper()
	set, err := workflow.Load(os.DirFS("repo"), workflow.DefaultDir, workflow.Limits{})
	if err != nil {
		t.Fatalf("load repo: %v", err)
	}
	return set
}

// loadEdited loads the example repository with the demo's second commit applied: edits/ copied over repo/, then the
// paths listed in edits/REMOVE deleted.
func loadEdited(t *testing.T) *workflow.Set {
	t.Helper()
	merged := fstest.MapFS{}
	for _, root := range []string{"repo", "edits"} {
		err := fs.WalkDir(os.DirFS(root), workflow.DefaultDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path.Join(root, p))
			if err != nil {
				return err
			}
			merged[p] = &fstest.MapFile{Data: data, Mode: 0o644}
			return nil
		})
		if err != nil {
			t.Fatalf("read %s: %v", root, err)
		}
	}
	remove, err := os.ReadFile("edits/REMOVE")
	if err != nil {
		t.Fatalf("read edits/REMOVE: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(remove))
	for sc.Scan() {
		p := string(bytes.TrimSpace(sc.Bytes()))
		if p == "" {
			continue
		}
		if _, ok := merged[p]; !ok {
			t.Errorf("edits/REMOVE names %s, which the repository does not have", p)
		}
		delete(merged, p)
	}
	set, err := workflow.Load(merged, workflow.DefaultDir, workflow.Limits{})
	if err != nil {
		t.Fatalf("load edited repo: %v", err)
	}
	return set
}

func TestExamplesLoad(t *testing.T) {
	for _, tc := range []struct {
		name string
		load func(*testing.T) *workflow.Set
		want []string
	}{
		{"repo", loadRepo, []string{"billing-rollup", "nightly-etl", "train-model", "weekly-report"}},
		{"edited", loadEdited, []string{"billing-rollup", "data-quality", "nightly-etl", "train-model", "weekly-report"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := tc.load(t)
			if d := cmp.Diff(tc.want, set.Names()); d != "" {
				t.Errorf("workflow names mismatch (-want +got):\n%s", d)
			}
			for _, name := range set.Names() {
				w := set.Get(name)
				if n := len(w.Tasks); n < 4 || n > 15 {
					t.Errorf("%s: %d tasks, want 4 to 15", name, n)
				}
				if w.Tenant != "acme" {
					t.Errorf("%s: tenant %q, want acme", name, w.Tenant)
				}
				for _, l := range []string{"team", "owner"} {
					if w.Labels[l] == "" {
						t.Errorf("%s: no %s label", name, l)
					}
				}
				for _, id := range w.TaskIDs() {
					if pkg := w.Tasks[id].Package; !pkg.Pinned() {
						t.Errorf("%s: task %s: package %s is not pinned by digest", name, id, pkg)
					}
				}
			}
		})
	}
}

// TestEditsChangeSet checks that the second commit makes exactly the changes examples/README.md describes.
func TestEditsChangeSet(t *testing.T) {
	before, after := loadRepo(t), loadEdited(t)
	type want struct {
		added, removed []string
		// changed maps a task id to the fields of workflow.Task that differ.
		changed map[string][]string
		labels  bool // whether the labels differ
		params  bool // whether the workflow params differ
	}
	for _, tc := range []struct {
		name string
		want want
	}{
		{"nightly-etl", want{
			added:   []string{"archive-raw"},
			changed: map[string][]string{"extract-crm": {"Retries"}, "extract-orders": {"Package"}, "load": {"Timeout"}},
			labels:  true,
		}},
		{"train-model", want{
			added:   []string{"assemble-features"},
			removed: []string{"join-features"},
			changed: map[string][]string{"split": {"DependsOn"}},
			params:  true,
		}},
		{"weekly-report", want{}},
		{"billing-rollup", want{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := before.Get(tc.name), after.Get(tc.name)
			if a == nil || b == nil {
				t.Fatalf("workflow %s missing before (%v) or after (%v) the edits", tc.name, a != nil, b != nil)
			}
			var got want
			got.changed = map[string][]string{}
			for _, id := range b.TaskIDs() {
				ta, ok := a.Tasks[id]
				if !ok {
					got.added = append(got.added, id)
					continue
				}
				if f := taskFieldsChanged(ta, b.Tasks[id]); len(f) > 0 {
					got.changed[id] = f
				}
			}
			for _, id := range a.TaskIDs() {
				if _, ok := b.Tasks[id]; !ok {
					got.removed = append(got.removed, id)
				}
			}
			got.labels = !cmp.Equal(a.Labels, b.Labels)
			got.params = !cmp.Equal(a.Params, b.Params, cmpopts.IgnoreFields(workflow.Param{}, "Pos"))
			if d := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{}), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("changes mismatch (-want +got):\n%s", d)
			}
		})
	}

	t.Run("rename keeps content", func(t *testing.T) {
		old, renamed := before.Get("train-model").Tasks["join-features"], after.Get("train-model").Tasks["assemble-features"]
		if old == nil || renamed == nil {
			t.Fatal("join-features or assemble-features missing")
		}
		if d := cmp.Diff(old, renamed, ignorePos, cmpopts.IgnoreFields(workflow.Task{}, "ID")); d != "" {
			t.Errorf("renamed task's content changed (-before +after):\n%s", d)
		}
	})

	t.Run("param made required", func(t *testing.T) {
		a, b := before.Get("train-model").Params["experiment"], after.Get("train-model").Params["experiment"]
		if a == nil || b == nil {
			t.Fatal("param experiment missing")
		}
		if a.Required || a.Default == nil || !b.Required || b.Default != nil {
			t.Errorf("param experiment: required %v default %v → required %v default %v, want optional with a default → required",
				a.Required, a.Default != nil, b.Required, b.Default != nil)
		}
	})
}

// TestBillingRollupMerge checks that the anchor and merge keys in billing-rollup.yaml mean what its comment says.
func TestBillingRollupMerge(t *testing.T) {
	w := loadRepo(t).Get("billing-rollup")
	compute := w.Tasks["meter-compute"]
	for _, id := range []string{"meter-storage", "meter-network"} {
		got := w.Tasks[id]
		if got == nil {
			t.Fatalf("task %s missing", id)
		}
		want := &workflow.Task{
			ID:      id,
			Package: compute.Package,
			Params:  map[string]string{"period": "{{ params.period }}", "resource": id[len("meter-"):]},
			Retries: 4,
			Timeout: 45 * time.Minute,
		}
		if d := cmp.Diff(want, got, ignorePos, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("task %s mismatch (-want +got):\n%s", id, d)
		}
	}
}

// taskFieldsChanged returns the names of the fields of workflow.Task, other than ID and Pos, that differ.
func taskFieldsChanged(a, b *workflow.Task) []string {
	var out []string
	if a.Package != b.Package {
		out = append(out, "Package")
	}
	if !cmp.Equal(a.Params, b.Params) {
		out = append(out, "Params")
	}
	if a.Retries != b.Retries {
		out = append(out, "Retries")
	}
	if a.Timeout != b.Timeout {
		out = append(out, "Timeout")
	}
	if !slices.Equal(a.DependsOn, b.DependsOn) {
		out = append(out, "DependsOn")
	}
	return out
}
