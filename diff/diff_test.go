package diff_test

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/maestro-conductor/maestro/diff"
	"github.com/maestro-conductor/maestro/digest"
	"github.com/maestro-conductor/maestro/workflow"
)

// base is the old version most cases start from. Effective values: extract retries 3, timeout 10m; transform and
// load inherit retries 2, timeout 30m.
const base = `
apiVersion: maestro.dev/v1
kind: Workflow
metadata:
  name: etl
  tenant: acme
  labels: {team: data, tier: gold}
spec:
  params:
    date: {type: string, required: true}
    shard: {type: string, default: "0"}
    region: {type: string}
  defaults: {retries: 2, timeout: 30m}
  tasks:
    extract:
      package: reg.example.com/etl/extract@{A}
      params: {date: "{{ params.date }}", mode: full}
      retries: 3
      timeout: 10m
    transform:
      package: reg.example.com/etl/transform@{B}
      dependsOn: [extract]
    load:
      package: reg.example.com/etl/load@{C}
      dependsOn: [transform]
`

// edit returns base with each old string replaced by the new one that follows it; every old string must occur.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	s := base
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("edit: %q not in base", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

// checkSorted fails unless changes are ordered by path, then kind.
func checkSorted(t *testing.T, cs []diff.Change) {
	t.Helper()
	if !sort.SliceIsSorted(cs, func(i, j int) bool {
		if cs[i].Path != cs[j].Path {
			return cs[i].Path < cs[j].Path
		}
		return cs[i].Kind < cs[j].Kind
	}) {
		t.Errorf("changes are not sorted by path, then kind: %v", cs)
	}
}

func TestBetweenOneWorkflow(t *testing.T) {
	const (
		behavioral = diff.Behavioral
		breaking   = diff.Breaking
		metadata   = diff.Metadata
	)
	tests := []struct {
		name string
		// old is base when empty; new is the result of edit(old→new pairs) on base when newEdits is set.
		old      string
		newEdits []string
		new      string
		want     []diff.Change
		status   diff.Status
		breaking bool
	}{
		{
			name:     "tenant",
			newEdits: []string{"tenant: acme", "tenant: beta"},
			want:     []diff.Change{{Kind: diff.WorkflowTenant, Class: behavioral, Path: "metadata.tenant", Old: "acme", New: "beta"}},
			status:   diff.Modified,
		},
		{
			name: "task added",
			newEdits: []string{"    load:", `    audit:
      package: reg.example.com/etl/audit@{D}
      dependsOn: [extract]
    load:`},
			want: []diff.Change{
				{Kind: diff.TaskAdded, Class: behavioral, Path: "spec.tasks.audit", Task: "audit", New: pkg("audit", 'd')},
			},
			status: diff.Modified,
		},
		{
			name:     "task removed",
			newEdits: []string{"    load:\n      package: reg.example.com/etl/load@{C}\n      dependsOn: [transform]\n", ""},
			want: []diff.Change{
				{Kind: diff.TaskRemoved, Class: behavioral, Path: "spec.tasks.load", Task: "load", Old: pkg("load", 'c')},
			},
			status: diff.Modified,
		},
		{
			name: "task removed, its dependent rewired",
			newEdits: []string{
				"    transform:\n      package: reg.example.com/etl/transform@{B}\n      dependsOn: [extract]\n", "",
				"dependsOn: [transform]", "dependsOn: [extract]",
			},
			want: []diff.Change{
				{Kind: diff.EdgeAdded, Class: behavioral, Path: "spec.tasks.load.dependsOn", Task: "load", New: "extract"},
				{Kind: diff.EdgeRemoved, Class: behavioral, Path: "spec.tasks.load.dependsOn", Task: "load", Old: "transform"},
				{Kind: diff.TaskRemoved, Class: behavioral, Path: "spec.tasks.transform", Task: "transform", Old: pkg("transform", 'b')},
			},
			status: diff.Modified,
		},
		{
			name: "task renamed and given another package: removed and added",
			newEdits: []string{
				"    load:\n      package: reg.example.com/etl/load@{C}", "    publish:\n      package: reg.example.com/etl/load@{D}",
			},
			want: []diff.Change{
				{Kind: diff.TaskRemoved, Class: behavioral, Path: "spec.tasks.load", Task: "load", Old: pkg("load", 'c')},
				{Kind: diff.TaskAdded, Class: behavioral, Path: "spec.tasks.publish", Task: "publish", New: pkg("load", 'd')},
			},
			status: diff.Modified,
		},
		{
			name: "task renamed, dependents follow",
			newEdits: []string{
				"    extract:", "    fetch:",
				"dependsOn: [extract]", "dependsOn: [fetch]",
			},
			want: []diff.Change{
				{Kind: diff.TaskRenamed, Class: behavioral, Path: "spec.tasks.extract", Task: "fetch", Old: "extract", New: "fetch"},
			},
			status: diff.Modified,
		},
		{
			name: "task in the middle renamed, both neighbours follow",
			newEdits: []string{
				"    transform:", "    shape:",
				"dependsOn: [transform]", "dependsOn: [shape]",
			},
			want: []diff.Change{
				{Kind: diff.TaskRenamed, Class: behavioral, Path: "spec.tasks.transform", Task: "shape", Old: "transform", New: "shape"},
			},
			status: diff.Modified,
		},
		{
			name: "task renamed and its dependencies changed",
			newEdits: []string{
				"    load:\n      package: reg.example.com/etl/load@{C}\n      dependsOn: [transform]",
				"    publish:\n      package: reg.example.com/etl/load@{C}\n      dependsOn: [extract]",
			},
			want: []diff.Change{
				{Kind: diff.TaskRenamed, Class: behavioral, Path: "spec.tasks.load", Task: "publish", Old: "load", New: "publish"},
				{Kind: diff.EdgeAdded, Class: behavioral, Path: "spec.tasks.publish.dependsOn", Task: "publish", New: "extract"},
				{Kind: diff.EdgeRemoved, Class: behavioral, Path: "spec.tasks.publish.dependsOn", Task: "publish", Old: "transform"},
			},
			status: diff.Modified,
		},
		{
			name: "renamed task depended on gets a new dependency itself",
			newEdits: []string{
				"    transform:\n      package: reg.example.com/etl/transform@{B}\n      dependsOn: [extract]",
				"    shape:\n      package: reg.example.com/etl/transform@{B}\n      dependsOn: []",
				"dependsOn: [transform]", "dependsOn: [shape]",
			},
			want: []diff.Change{
				{Kind: diff.EdgeRemoved, Class: behavioral, Path: "spec.tasks.shape.dependsOn", Task: "shape", Old: "extract"},
				{Kind: diff.TaskRenamed, Class: behavioral, Path: "spec.tasks.transform", Task: "shape", Old: "transform", New: "shape"},
			},
			status: diff.Modified,
		},
		{
			name:     "task package",
			newEdits: []string{"etl/load@{C}", "etl/load@{D}"},
			want: []diff.Change{
				{Kind: diff.TaskPackage, Class: behavioral, Path: "spec.tasks.load.package", Task: "load", Old: pkg("load", 'c'), New: pkg("load", 'd')},
			},
			status: diff.Modified,
		},
		{
			name:     "task param added, removed and changed",
			newEdits: []string{`params: {date: "{{ params.date }}", mode: full}`, `params: {date: "{{ params.shard }}", limit: "10"}`},
			want: []diff.Change{
				{Kind: diff.TaskParam, Class: behavioral, Path: "spec.tasks.extract.params.date", Task: "extract", Old: "{{ params.date }}", New: "{{ params.shard }}"},
				{Kind: diff.TaskParam, Class: behavioral, Path: "spec.tasks.extract.params.limit", Task: "extract", New: "10"},
				{Kind: diff.TaskParam, Class: behavioral, Path: "spec.tasks.extract.params.mode", Task: "extract", Old: "full"},
			},
			status: diff.Modified,
		},
		{
			name:     "task param set to the empty string",
			newEdits: []string{"mode: full", `mode: ""`},
			want: []diff.Change{
				{Kind: diff.TaskParam, Class: behavioral, Path: "spec.tasks.extract.params.mode", Task: "extract", Old: "full", New: ""},
			},
			status: diff.Modified,
		},
		{
			name:     "task retries",
			newEdits: []string{"retries: 3", "retries: 0"},
			want: []diff.Change{
				{Kind: diff.TaskRetries, Class: behavioral, Path: "spec.tasks.extract.retries", Task: "extract", Old: 3, New: 0},
			},
			status: diff.Modified,
		},
		{
			name:     "task timeout",
			newEdits: []string{"timeout: 10m", "timeout: 1h30m"},
			want: []diff.Change{
				{Kind: diff.TaskTimeout, Class: behavioral, Path: "spec.tasks.extract.timeout", Task: "extract", Old: "10m", New: "1h30m"},
			},
			status: diff.Modified,
		},
		{
			name:     "default timeout reaches every task that inherits it",
			newEdits: []string{"defaults: {retries: 2, timeout: 30m}", "defaults: {retries: 2, timeout: 45s}"},
			want: []diff.Change{
				{Kind: diff.TaskTimeout, Class: behavioral, Path: "spec.tasks.load.timeout", Task: "load", Old: "30m", New: "45s"},
				{Kind: diff.TaskTimeout, Class: behavioral, Path: "spec.tasks.transform.timeout", Task: "transform", Old: "30m", New: "45s"},
			},
			status: diff.Modified,
		},
		{
			name:     "default timeout removed: inheriting tasks fall back to none",
			newEdits: []string{"defaults: {retries: 2, timeout: 30m}", "defaults: {retries: 2}"},
			want: []diff.Change{
				{Kind: diff.TaskTimeout, Class: behavioral, Path: "spec.tasks.load.timeout", Task: "load", Old: "30m", New: "none"},
				{Kind: diff.TaskTimeout, Class: behavioral, Path: "spec.tasks.transform.timeout", Task: "transform", Old: "30m", New: "none"},
			},
			status: diff.Modified,
		},
		{
			name: "timeout and retries moved between task and defaults, same effective values",
			old: `
apiVersion: maestro.dev/v1
kind: Workflow
metadata: {name: etl}
spec:
  tasks:
    a: {package: "reg.example.com/etl/a@{A}", timeout: 30m, retries: 2}
    b: {package: "reg.example.com/etl/b@{B}", timeout: 1800, retries: 2, dependsOn: [a]}
    c: {package: "reg.example.com/etl/c@{C}", timeout: 5m, dependsOn: [b]}
`,
			new: `
apiVersion: maestro.dev/v1
kind: Workflow
metadata: {name: etl}
spec:
  defaults: {timeout: 30m, retries: 2}
  tasks:
    a: {package: "reg.example.com/etl/a@{A}"}
    b: {package: "reg.example.com/etl/b@{B}", dependsOn: [a]}
    c: {package: "reg.example.com/etl/c@{C}", timeout: 300s, retries: 0, dependsOn: [b]}
`,
			want:   []diff.Change{},
			status: diff.Unchanged,
		},
		{
			name: "defaults compared in canonical form",
			old: `
apiVersion: maestro.dev/v1
kind: Workflow
metadata: {name: etl}
spec:
  params: {ratio: {type: number, default: 1.50}, on: {type: boolean, default: "True"}}
  tasks: {a: {package: "reg.example.com/etl/a@{A}"}}
`,
			new: `
apiVersion: maestro.dev/v1
kind: Workflow
metadata: {name: etl}
spec:
  params: {ratio: {type: number, default: 1.5}, on: {type: boolean, default: true}}
  tasks: {a: {package: "reg.example.com/etl/a@{A}"}}
`,
			want:   []diff.Change{},
			status: diff.Unchanged,
		},
		{
			name:     "edge added",
			newEdits: []string{"dependsOn: [transform]", "dependsOn: [transform, extract]"},
			want: []diff.Change{
				{Kind: diff.EdgeAdded, Class: behavioral, Path: "spec.tasks.load.dependsOn", Task: "load", New: "extract"},
			},
			status: diff.Modified,
		},
		{
			name:     "edge removed",
			newEdits: []string{"      dependsOn: [extract]\n", ""},
			want: []diff.Change{
				{Kind: diff.EdgeRemoved, Class: behavioral, Path: "spec.tasks.transform.dependsOn", Task: "transform", Old: "extract"},
			},
			status: diff.Modified,
		},
		{
			name:     "optional param added",
			newEdits: []string{"    region: {type: string}", "    region: {type: string}\n    dryRun: {type: boolean, default: false}"},
			want: []diff.Change{
				{Kind: diff.ParamAdded, Class: behavioral, Path: "spec.params.dryRun", New: "boolean"},
			},
			status: diff.Modified,
		},
		{
			name:     "required param added",
			newEdits: []string{"    region: {type: string}", "    region: {type: string}\n    owner: {type: string, required: true}"},
			want: []diff.Change{
				{Kind: diff.ParamAdded, Class: breaking, Path: "spec.params.owner", New: "string"},
			},
			status:   diff.Modified,
			breaking: true,
		},
		{
			name:     "param removed",
			newEdits: []string{"    region: {type: string}\n", ""},
			want: []diff.Change{
				{Kind: diff.ParamRemoved, Class: breaking, Path: "spec.params.region", Old: "string"},
			},
			status:   diff.Modified,
			breaking: true,
		},
		{
			name:     "param newly required",
			newEdits: []string{"region: {type: string}", "region: {type: string, required: true}"},
			want: []diff.Change{
				{Kind: diff.ParamRequired, Class: breaking, Path: "spec.params.region.required", Old: false, New: true},
			},
			status:   diff.Modified,
			breaking: true,
		},
		{
			name:     "param no longer required",
			newEdits: []string{"date: {type: string, required: true}", "date: {type: string}"},
			want: []diff.Change{
				{Kind: diff.ParamRequired, Class: behavioral, Path: "spec.params.date.required", Old: true, New: false},
			},
			status: diff.Modified,
		},
		{
			name:     "param type",
			newEdits: []string{`shard: {type: string, default: "0"}`, `shard: {type: integer, default: 0}`},
			want: []diff.Change{
				{Kind: diff.ParamType, Class: breaking, Path: "spec.params.shard.type", Old: "string", New: "integer"},
			},
			status:   diff.Modified,
			breaking: true,
		},
		{
			name:     "param default changed",
			newEdits: []string{`default: "0"`, `default: "7"`},
			want: []diff.Change{
				{Kind: diff.ParamDefault, Class: behavioral, Path: "spec.params.shard.default", Old: "0", New: "7"},
			},
			status: diff.Modified,
		},
		{
			name:     "param default added and removed",
			newEdits: []string{`shard: {type: string, default: "0"}`, `shard: {type: string}`, "region: {type: string}", "region: {type: string, default: us}"},
			want: []diff.Change{
				{Kind: diff.ParamDefault, Class: behavioral, Path: "spec.params.region.default", New: "us"},
				{Kind: diff.ParamDefault, Class: behavioral, Path: "spec.params.shard.default", Old: "0"},
			},
			status: diff.Modified,
		},
		{
			name:     "label added",
			newEdits: []string{"labels: {team: data, tier: gold}", "labels: {team: data, tier: gold, owner: ana}"},
			want:     []diff.Change{{Kind: diff.LabelAdded, Class: metadata, Path: "metadata.labels.owner", New: "ana"}},
			status:   diff.Relabeled,
		},
		{
			name:     "label removed",
			newEdits: []string{"labels: {team: data, tier: gold}", "labels: {team: data}"},
			want:     []diff.Change{{Kind: diff.LabelRemoved, Class: metadata, Path: "metadata.labels.tier", Old: "gold"}},
			status:   diff.Relabeled,
		},
		{
			name:     "label changed",
			newEdits: []string{"team: data", "team: platform"},
			want:     []diff.Change{{Kind: diff.LabelChanged, Class: metadata, Path: "metadata.labels.team", Old: "data", New: "platform"}},
			status:   diff.Relabeled,
		},
		{
			name: "many changes at once, sorted by path then kind",
			newEdits: []string{
				"tenant: acme", "tenant: beta",
				"team: data", "team: ml",
				"date: {type: string, required: true}", "date: {type: integer, required: true}",
				"region: {type: string}", "region: {type: string, required: true}",
				"retries: 3", "retries: 4",
				"timeout: 10m", "timeout: 20m",
				"etl/extract@{A}", "etl/extract@{E}",
				"mode: full", "mode: delta",
				"dependsOn: [transform]", "dependsOn: [extract, transform]",
			},
			want: []diff.Change{
				{Kind: diff.LabelChanged, Class: metadata, Path: "metadata.labels.team", Old: "data", New: "ml"},
				{Kind: diff.WorkflowTenant, Class: behavioral, Path: "metadata.tenant", Old: "acme", New: "beta"},
				{Kind: diff.ParamType, Class: breaking, Path: "spec.params.date.type", Old: "string", New: "integer"},
				{Kind: diff.ParamRequired, Class: breaking, Path: "spec.params.region.required", Old: false, New: true},
				{Kind: diff.TaskPackage, Class: behavioral, Path: "spec.tasks.extract.package", Task: "extract", Old: pkg("extract", 'a'), New: pkg("extract", 'e')},
				{Kind: diff.TaskParam, Class: behavioral, Path: "spec.tasks.extract.params.mode", Task: "extract", Old: "full", New: "delta"},
				{Kind: diff.TaskRetries, Class: behavioral, Path: "spec.tasks.extract.retries", Task: "extract", Old: 3, New: 4},
				{Kind: diff.TaskTimeout, Class: behavioral, Path: "spec.tasks.extract.timeout", Task: "extract", Old: "10m", New: "20m"},
				{Kind: diff.EdgeAdded, Class: behavioral, Path: "spec.tasks.load.dependsOn", Task: "load", New: "extract"},
			},
			status:   diff.Modified,
			breaking: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old, new := tc.old, tc.new
			if old == "" {
				old = base
			}
			if tc.newEdits != nil {
				new = edit(t, tc.newEdits...)
			}
			a, b := parseDocs(t, old), parseDocs(t, new)
			got, err := diff.Between(a, b)
			if err != nil {
				t.Fatalf("Between: %v", err)
			}
			if len(got.Workflows) != 1 {
				t.Fatalf("Between() returned %d workflows, want 1", len(got.Workflows))
			}
			w := got.Workflows[0]
			if d := cmp.Diff(tc.want, w.Changes); d != "" {
				t.Errorf("Between() changes mismatch (-want +got):\n%s", d)
			}
			checkSorted(t, w.Changes)
			if w.Name != "etl" || w.Status != tc.status {
				t.Errorf("workflow %q status %q, want etl %q", w.Name, w.Status, tc.status)
			}
			da, _ := digest.Of(a.Get("etl"))
			db, _ := digest.Of(b.Get("etl"))
			if w.OldDigest != da || w.NewDigest != db {
				t.Errorf("digests %s → %s, want %s → %s", w.OldDigest, w.NewDigest, da, db)
			}
			// Metadata and no-op changes leave the digest alone; everything else moves it.
			wantChanged := tc.status == diff.Modified
			if got.Changed() != wantChanged || w.DigestChanged() != wantChanged {
				t.Errorf("Changed() = %v, DigestChanged() = %v, want %v", got.Changed(), w.DigestChanged(), wantChanged)
			}
			if got.Has(diff.Breaking) != tc.breaking {
				t.Errorf("Has(Breaking) = %v, want %v", got.Has(diff.Breaking), tc.breaking)
			}
			wantCount := map[diff.Class]int{}
			for _, c := range tc.want {
				wantCount[c.Class]++
			}
			if d := cmp.Diff(wantCount, got.Count()); d != "" {
				t.Errorf("Count() mismatch (-want +got):\n%s", d)
			}
			for _, c := range diff.Classes {
				if got.Has(c) != (wantCount[c] > 0) {
					t.Errorf("Has(%s) = %v, want %v", c, got.Has(c), wantCount[c] > 0)
				}
			}
		})
	}
}

func TestBetweenWorkflowAddedRemoved(t *testing.T) {
	s := parseDocs(t, base)
	d, err := digest.Of(s.Get("etl"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		a, b     string
		want     diff.Workflow
		breaking bool
	}{
		{
			name: "added",
			b:    base,
			want: diff.Workflow{Name: "etl", Status: diff.Added, NewDigest: d, Changes: []diff.Change{
				{Kind: diff.WorkflowAdded, Class: diff.Behavioral, Path: "workflows.etl", New: string(d)},
			}},
		},
		{
			name: "removed",
			a:    base,
			want: diff.Workflow{Name: "etl", Status: diff.Removed, OldDigest: d, Changes: []diff.Change{
				{Kind: diff.WorkflowRemoved, Class: diff.Breaking, Path: "workflows.etl", Old: string(d)},
			}},
			breaking: true,
		},
	}
	ignoreModels := cmp.FilterPath(func(p cmp.Path) bool {
		f := p.Last().String()
		return f == ".Old" || f == ".New"
	}, cmp.Ignore())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := diff.Between(parseDocs(t, tc.a), parseDocs(t, tc.b))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Workflows) != 1 {
				t.Fatalf("got %d workflows, want 1", len(got.Workflows))
			}
			if d := cmp.Diff(tc.want, got.Workflows[0], ignoreModels); d != "" {
				t.Errorf("Between() mismatch (-want +got):\n%s", d)
			}
			if !got.Changed() {
				t.Error("Changed() = false, want true")
			}
			if got.Has(diff.Breaking) != tc.breaking {
				t.Errorf("Has(Breaking) = %v, want %v", got.Has(diff.Breaking), tc.breaking)
			}
		})
	}
	t.Run("nil sets", func(t *testing.T) {
		got, err := diff.Between(nil, s)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Workflows) != 1 || got.Workflows[0].Status != diff.Added {
			t.Errorf("Between(nil, s) = %+v, want one added workflow", got.Workflows)
		}
		got, err = diff.Between(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Workflows) != 0 || got.Changed() {
			t.Errorf("Between(nil, nil) = %+v, want nothing", got)
		}
	})
}

// TestBetweenSeveralWorkflows checks that workflows come back sorted by name, each with its own status.
func TestBetweenSeveralWorkflows(t *testing.T) {
	other := func(name, label string) string {
		return `
apiVersion: maestro.dev/v1
kind: Workflow
metadata: {name: ` + name + `, labels: {owner: ` + label + `}}
spec:
  tasks:
    only: {package: "reg.example.com/etl/only@{A}"}
`
	}
	a := parseDocs(t, base, other("zeta", "x"), other("alpha", "x"), other("gone", "x"))
	b := parseDocs(t, edit(t, "retries: 3", "retries: 1"), other("zeta", "x"), other("alpha", "y"), other("new", "x"))
	got, err := diff.Between(a, b)
	if err != nil {
		t.Fatal(err)
	}
	type nameStatus struct {
		Name   string
		Status diff.Status
	}
	var gotNS []nameStatus
	for _, w := range got.Workflows {
		gotNS = append(gotNS, nameStatus{w.Name, w.Status})
		checkSorted(t, w.Changes)
	}
	want := []nameStatus{
		{"alpha", diff.Relabeled},
		{"etl", diff.Modified},
		{"gone", diff.Removed},
		{"new", diff.Added},
		{"zeta", diff.Unchanged},
	}
	if d := cmp.Diff(want, gotNS); d != "" {
		t.Errorf("Between() workflows mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[diff.Class]int{diff.Breaking: 1, diff.Behavioral: 2, diff.Metadata: 1}, got.Count()); d != "" {
		t.Errorf("Count() mismatch (-want +got):\n%s", d)
	}
	if !got.Changed() || !got.Has(diff.Breaking) {
		t.Errorf("Changed() = %v, Has(Breaking) = %v, want true, true", got.Changed(), got.Has(diff.Breaking))
	}
	if got.Workflows[4].Changes == nil {
		t.Error("an unchanged workflow has nil Changes; JSON would say null instead of []")
	}
}

// TestBetweenReformatted checks that formatting never shows up as a change.
func TestBetweenReformatted(t *testing.T) {
	variants := map[string]string{
		"task and key order, block style": `
# the same workflow, written differently
kind: Workflow
spec:
  tasks:
    load:
      dependsOn:
        - transform
      package: reg.example.com/etl/load@{C}
    transform:
      dependsOn: [extract, extract]   # a set: duplicates do not count
      package: reg.example.com/etl/transform@{B}
    extract:
      timeout: 600                    # seconds
      retries: 3
      params:
        mode: full
        date: "{{ params.date }}"
      package: reg.example.com/etl/extract@{A}
  defaults:
    timeout: 30m
    retries: 2
  params:
    region:
      type: string
    shard:
      default: "0"
      type: string
    date:
      required: true
      type: string
metadata:
  labels:
    tier: gold
    team: data
  tenant: acme
  name: etl
apiVersion: maestro.dev/v1
`,
		"flow style and quoting": `{"apiVersion": "maestro.dev/v1", "kind": "Workflow",
 "metadata": {"name": "etl", "tenant": "acme", "labels": {"team": "data", "tier": "gold"}},
 "spec": {
  "params": {"date": {"type": "string", "required": true}, "shard": {"type": "string", "default": "0"},
             "region": {"type": 'string'}},
  "defaults": {"retries": 2, "timeout": "30m"},
  "tasks": {
   "extract": {"package": "reg.example.com/etl/extract@{A}", "params": {'date': '{{ params.date }}', "mode": "full"},
               "retries": 3, "timeout": "10m"},
   "transform": {"package": "reg.example.com/etl/transform@{B}", "dependsOn": ["extract"]},
   "load": {"package": 'reg.example.com/etl/load@{C}', "dependsOn": ["transform"]}}}}
`,
		"anchors and merge keys": `
apiVersion: maestro.dev/v1
kind: Workflow
metadata:
  name: etl
  tenant: acme
  labels: &labels {team: data, tier: gold}
spec:
  params:
    date: {type: &str string, required: true}
    shard: {type: *str, default: "0"}
    region: {type: *str}
  defaults: &defaults {retries: 2, timeout: 30m}
  tasks:
    extract:
      <<: *defaults
      package: reg.example.com/etl/extract@{A}
      params: {date: "{{ params.date }}", mode: full}
      retries: 3
      timeout: 10m
    transform:
      <<: *defaults
      package: reg.example.com/etl/transform@{B}
      dependsOn: &up [extract]
    load:
      package: reg.example.com/etl/load@{C}
      dependsOn: [transform]
`,
		"several documents in one file": `
apiVersion: v1
kind: ConfigMap
metadata: {name: not-a-workflow}
---
` + base,
	}
	a := parseDocs(t, base)
	for name, v := range variants {
		t.Run(name, func(t *testing.T) {
			got, err := diff.Between(a, parseDocs(t, v))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Workflows) != 1 {
				t.Fatalf("got %d workflows, want 1", len(got.Workflows))
			}
			w := got.Workflows[0]
			if d := cmp.Diff([]diff.Change{}, w.Changes); d != "" {
				t.Errorf("Between() found changes in a reformatted file (-want +got):\n%s", d)
			}
			if w.Status != diff.Unchanged || got.Changed() || w.OldDigest != w.NewDigest {
				t.Errorf("status %q, Changed() %v, digests %s %s; want unchanged and equal", w.Status, got.Changed(), w.OldDigest, w.NewDigest)
			}
		})
	}
}

func TestParseClass(t *testing.T) {
	for _, c := range diff.Classes {
		got, err := diff.ParseClass(string(c))
		if err != nil || got != c {
			t.Errorf("ParseClass(%q) = %q, %v", c, got, err)
		}
	}
	if _, err := diff.ParseClass("severe"); err == nil {
		t.Error("ParseClass(severe) succeeded, want an error")
	}
}

func TestFormatDuration(t *testing.T) {
	tests := map[string]string{"0s": "none", "45s": "45s", "90s": "1m30s", "10m": "10m", "1h": "1h", "1h30m": "1h30m", "1h0m5s": "1h0m5s", "26h": "26h"}
	for in, want := range tests {
		d, err := time.ParseDuration(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := diff.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestWorkflowsBuiltInCode: what the parser never produces is still compared field by field: a timeout that
// differs by less than a second (the digest counts whole seconds), and dependencies on missing tasks.
func TestWorkflowsBuiltInCode(t *testing.T) {
	build := func(ts ...*workflow.Task) *workflow.Workflow {
		w := &workflow.Workflow{Name: "code", Tenant: "acme", Tasks: map[string]*workflow.Task{}}
		for _, tk := range ts {
			w.Tasks[tk.ID] = tk
		}
		return w
	}
	old := build(
		&workflow.Task{ID: "a", Package: "r.io/a:1", Timeout: 1500 * time.Millisecond},
		&workflow.Task{ID: "b", Package: "r.io/b:1", DependsOn: []string{"a", "ghost"}},
		&workflow.Task{ID: "c", Package: "r.io/c:1", DependsOn: []string{"b"}},
		&workflow.Task{ID: "d", Package: "r.io/d:1", DependsOn: []string{"c"}},
	)
	new := build(
		&workflow.Task{ID: "a", Package: "r.io/a:1", Timeout: 1700 * time.Millisecond},
		&workflow.Task{ID: "b", Package: "r.io/b:1", DependsOn: []string{"a", "phantom"}},
		&workflow.Task{ID: "c2", Package: "r.io/c:1", DependsOn: []string{"b"}},
		&workflow.Task{ID: "d", Package: "r.io/d:1", DependsOn: []string{"c2"}},
	)
	got, err := diff.Workflows(old, new)
	if err != nil {
		t.Fatal(err)
	}
	want := []diff.Change{
		{Kind: diff.TaskTimeout, Class: diff.Behavioral, Path: "spec.tasks.a.timeout", Task: "a", Old: "1.5s", New: "1.7s"},
		{Kind: diff.EdgeAdded, Class: diff.Behavioral, Path: "spec.tasks.b.dependsOn", Task: "b", New: "phantom"},
		{Kind: diff.EdgeRemoved, Class: diff.Behavioral, Path: "spec.tasks.b.dependsOn", Task: "b", Old: "ghost"},
		{Kind: diff.TaskRenamed, Class: diff.Behavioral, Path: "spec.tasks.c", Task: "c2", Old: "c", New: "c2"},
	}
	if d := cmp.Diff(want, got.Changes); d != "" {
		t.Errorf("Workflows() mismatch (-want +got):\n%s", d)
	}
}
