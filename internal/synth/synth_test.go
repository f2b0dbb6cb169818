package synth_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/maestro-conductor/maestro/internal/synth"
	"github.com/maestro-conductor/maestro/workflow"
)

// sameModel compares parsed workflows by meaning: positions differ between renderings, and an empty dependsOn list
// parses to an empty slice where a missing one parses to nil.
var sameModel = cmp.Options{
	cmpopts.IgnoreFields(workflow.Workflow{}, "Pos"),
	cmpopts.IgnoreFields(workflow.Task{}, "Pos"),
	cmpopts.IgnoreFields(workflow.Param{}, "Pos"),
	cmpopts.EquateEmpty(),
}

func parse(t testing.TB, opts synth.Options) *workflow.Workflow {
	t.Helper()
	ws, err := workflow.Parse(fmt.Sprintf("synth-%+v.yaml", opts), synth.Generate(opts), workflow.Limits{})
	if err != nil {
		t.Fatalf("Parse(Generate(%+v)): %v", opts, err)
	}
	if len(ws) != 1 {
		t.Fatalf("Parse(Generate(%+v)): %d workflows, want 1", opts, len(ws))
	}
	return ws[0]
}

func TestGenerateIsDeterministic(t *testing.T) {
	for _, opts := range []synth.Options{
		{Tasks: 1, Seed: 1},
		{Tasks: 300, Seed: 7},
		{Tasks: 300, Seed: 7, Changes: 12},
		{Tasks: 300, Seed: 7, Reformat: true},
		{Tasks: 300, Seed: 7, Changes: 12, Reformat: true},
	} {
		a, b := synth.Generate(opts), synth.Generate(opts)
		if !bytes.Equal(a, b) {
			t.Errorf("Generate(%+v) gave different bytes on two calls", opts)
		}
		if d := cmp.Diff(synth.Planted(opts), synth.Planted(opts)); d != "" {
			t.Errorf("Planted(%+v) differs between calls:\n%s", opts, d)
		}
	}
	a := synth.Generate(synth.Options{Tasks: 50, Seed: 1})
	b := synth.Generate(synth.Options{Tasks: 50, Seed: 2})
	if bytes.Equal(a, b) {
		t.Error("seeds 1 and 2 gave the same workflow")
	}
}

func TestGenerateParses(t *testing.T) {
	for _, n := range []int{1, 10, 1000} {
		for _, opts := range []synth.Options{
			{Tasks: n, Seed: 1},
			{Tasks: n, Seed: 2, Changes: 5},
			{Tasks: n, Seed: 3, Reformat: true},
			{Tasks: n, Seed: 4, Changes: 5, Reformat: true},
		} {
			t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
				w := parse(t, opts)
				if len(w.Tasks) != n {
					t.Errorf("%d tasks, want %d", len(w.Tasks), n)
				}
				if w.Name != synth.Name(opts) {
					t.Errorf("name %q, want %q", w.Name, synth.Name(opts))
				}
				if p := w.Params["date"]; p == nil || !p.Required {
					t.Errorf("param date missing or not required: %+v", p)
				}
				if p := w.Params["shard"]; p == nil || p.Default == nil || *p.Default != "0" {
					t.Errorf("param shard missing or its default is not \"0\": %+v", p)
				}
				for id, task := range w.Tasks {
					if !task.Package.Pinned() {
						t.Errorf("task %s: package %s is not pinned", id, task.Package)
					}
					if len(task.Params) < 1 || len(task.Params) > 4 {
						t.Errorf("task %s: %d params, want 1 to 4", id, len(task.Params))
					}
					if len(task.DependsOn) > 4 { // three, plus one a change may add
						t.Errorf("task %s: %d dependencies", id, len(task.DependsOn))
					}
				}
			})
		}
	}
}

// TestGenerateIsRealistic checks the mix of a large workflow, so that benchmarks on it mean something.
func TestGenerateIsRealistic(t *testing.T) {
	w := parse(t, synth.Options{Tasks: 2000, Seed: 1})
	var roots, retries, timeouts, templated, edges int
	pkgs := map[string]bool{}
	for _, task := range w.Tasks {
		edges += len(task.DependsOn)
		if len(task.DependsOn) == 0 {
			roots++
		}
		if task.Retries != 1 {
			retries++
		}
		if task.Timeout != 30*time.Minute {
			timeouts++
		}
		for _, v := range task.Params {
			if strings.Contains(v, "{{ params.") {
				templated++
				break
			}
		}
		pkgs[task.Package.Repository()] = true
	}
	for _, c := range []struct {
		what     string
		got, min int
	}{
		{"root tasks", roots, 100},
		{"tasks with their own retries", retries, 300},
		{"tasks with their own timeout", timeouts, 300},
		{"tasks with a templated param", templated, 400},
		{"edges", edges, 2800},
		{"distinct packages", len(pkgs), 45},
	} {
		if c.got < c.min {
			t.Errorf("%s: %d, want at least %d", c.what, c.got, c.min)
		}
	}
}

func TestReformatKeepsMeaning(t *testing.T) {
	for _, opts := range []synth.Options{
		{Tasks: 1, Seed: 1},
		{Tasks: 10, Seed: 2},
		{Tasks: 1000, Seed: 3},
		{Tasks: 1000, Seed: 4, Changes: 20},
	} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			re := opts
			re.Reformat = true
			if bytes.Equal(synth.Generate(opts), synth.Generate(re)) {
				t.Fatal("the reformatted rendering is the same text")
			}
			if d := cmp.Diff(parse(t, opts), parse(t, re), sameModel); d != "" {
				t.Errorf("reformatted workflow means something else (-plain +reformatted):\n%s", d)
			}
		})
	}

	// A large reformatted file uses every trick it claims to.
	text := string(synth.Generate(synth.Options{Tasks: 1000, Seed: 3, Reformat: true}))
	for _, want := range []string{"<<: *defaults", "&date ", "*date", "&pkg", "*pkg", "'", `"`, "   # ", "dependsOn: []", "\n         - ", ": {"} {
		if !strings.Contains(text, want) {
			t.Errorf("reformatted text has no %q", want)
		}
	}
}

func TestChanges(t *testing.T) {
	for _, k := range []int{1, 2, 5, 13, 40} {
		t.Run(fmt.Sprintf("changes=%d", k), func(t *testing.T) {
			base := synth.Options{Tasks: 1000, Seed: 11}
			changed := base
			changed.Changes = k
			planted := synth.Planted(changed)
			if len(planted) != k {
				t.Fatalf("Planted: %d changes, want %d", len(planted), k)
			}
			if got := synth.Planted(base); len(got) != 0 {
				t.Errorf("Planted without Changes: %v", got)
			}

			a, b := parse(t, base), parse(t, changed)
			var differ []string
			for _, id := range a.TaskIDs() {
				if !cmp.Equal(a.Tasks[id], b.Tasks[id], sameModel) {
					differ = append(differ, id)
				}
			}
			var plantedIn []string
			for i, c := range planted {
				plantedIn = append(plantedIn, c.Task)
				if want := synth.ChangeKinds[i%len(synth.ChangeKinds)]; c.Kind != want {
					t.Errorf("change %d is %s, want %s", i, c.Kind, want)
				}
				checkChange(t, c, a.Tasks[c.Task], b.Tasks[c.Task])
			}
			slices.Sort(plantedIn)
			if d := cmp.Diff(plantedIn, differ); d != "" {
				t.Errorf("tasks that differ are not the planted ones (-planted +differ):\n%s", d)
			}
			// Nothing outside the tasks moves.
			a.Tasks, b.Tasks = nil, nil
			if d := cmp.Diff(a, b, sameModel); d != "" {
				t.Errorf("workflow outside its tasks changed:\n%s", d)
			}

			// The text differs only inside the planted tasks.
			ta, tb := taskBlocks(t, synth.Generate(base)), taskBlocks(t, synth.Generate(changed))
			for id, block := range ta {
				if slices.Contains(plantedIn, id) == (block == tb[id]) {
					t.Errorf("task %s: text changed %v, planted %v", id, block != tb[id], slices.Contains(plantedIn, id))
				}
			}
			if ta[""] != tb[""] {
				t.Errorf("text before the tasks changed")
			}
		})
	}
}

// checkChange checks that a planted change says what changed between the two versions of its task.
func checkChange(t *testing.T, c synth.Change, before, after *workflow.Task) {
	t.Helper()
	var old, new string
	switch c.Kind {
	case synth.KindPackage:
		old, new = string(before.Package), string(after.Package)
	case synth.KindParam:
		key := strings.TrimPrefix(c.Field, "params.")
		old, new = before.Params[key], after.Params[key]
	case synth.KindEdgeAdded:
		added := slices.DeleteFunc(slices.Clone(after.DependsOn), func(d string) bool { return slices.Contains(before.DependsOn, d) })
		old, new = "", strings.Join(added, ",")
	case synth.KindRetries:
		old, new = fmt.Sprint(before.Retries), fmt.Sprint(after.Retries)
	case synth.KindTimeout:
		old, new = before.Timeout.String(), after.Timeout.String()
		if d, err := time.ParseDuration(c.Old); err == nil {
			c.Old = d.String()
		}
		if d, err := time.ParseDuration(c.New); err == nil {
			c.New = d.String()
		}
	default:
		t.Errorf("unknown change kind %q", c.Kind)
	}
	if old != c.Old || new != c.New || old == new {
		t.Errorf("%s: model went %q -> %q", c, old, new)
	}
}

// taskBlocks splits the plain rendering into the text of each task, by id, and the text before the first ("").
func taskBlocks(t *testing.T, doc []byte) map[string]string {
	t.Helper()
	blocks := map[string]string{}
	cur := ""
	for line := range strings.SplitAfterSeq(string(doc), "\n") {
		if id, ok := strings.CutPrefix(line, "    "); ok && !strings.HasPrefix(id, " ") {
			cur = strings.TrimSuffix(id, ":\n")
		}
		blocks[cur] += line
	}
	if len(blocks) < 2 {
		t.Fatalf("no task blocks found in:\n%s", doc)
	}
	return blocks
}

func TestChangesAreCapped(t *testing.T) {
	for _, opts := range []synth.Options{
		{Tasks: 1, Seed: 1, Changes: 3},
		{Tasks: 3, Seed: 1, Changes: 10},
		{Tasks: 8, Seed: 5, Changes: 8},
	} {
		planted := synth.Planted(opts)
		if len(planted) != opts.Tasks {
			t.Errorf("Planted(%+v): %d changes, want %d", opts, len(planted), opts.Tasks)
		}
		for i, c := range planted {
			// A change whose kind no task left can take (an edge from the first task) becomes a package change.
			if want := synth.ChangeKinds[i%len(synth.ChangeKinds)]; c.Kind != want && c.Kind != synth.KindPackage {
				t.Errorf("Planted(%+v): change %d is %s, want %s or %s", opts, i, c.Kind, want, synth.KindPackage)
			}
		}
		parse(t, opts)
	}
}
