package diff_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/maestro-conductor/maestro/diff"
	"github.com/maestro-conductor/maestro/internal/synth"
	"github.com/maestro-conductor/maestro/workflow"
)

// TestBetweenVersionsPrepared checks that digesting ahead (Prepare) changes nothing: whichever sides are prepared,
// BetweenVersions gives what Between gives, for changed, added, removed and unchanged workflows.
func TestBetweenVersionsPrepared(t *testing.T) {
	gen := func(name string, o synth.Options) *workflow.Workflow {
		ws, err := workflow.Parse(name+".yaml", synth.Generate(o), workflow.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		ws[0].Name = name
		return ws[0]
	}
	set := func(ws ...*workflow.Workflow) *workflow.Set {
		s, err := workflow.NewSet(ws)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	old := set(gen("changed", synth.Options{Tasks: 300, Seed: 3}), gen("same", synth.Options{Tasks: 40, Seed: 4}),
		gen("removed", synth.Options{Tasks: 20, Seed: 5}))
	new := set(gen("changed", synth.Options{Tasks: 300, Seed: 3, Changes: 7}), gen("same", synth.Options{Tasks: 40, Seed: 4, Reformat: true}),
		gen("added", synth.Options{Tasks: 20, Seed: 6}))
	want, err := diff.Between(old, new)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Workflows) != 4 || !want.Changed() {
		t.Fatalf("Between: %d workflows, changed %t; want 4, true", len(want.Workflows), want.Changed())
	}
	prepared := func(s *workflow.Set) *diff.Version {
		v, err := diff.Prepare(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		name string
		a, b *diff.Version
	}{
		{"both prepared", prepared(old), prepared(new)},
		{"old prepared", prepared(old), &diff.Version{Set: new}},
		{"new prepared", &diff.Version{Set: old}, prepared(new)},
		{"neither", &diff.Version{Set: old}, &diff.Version{Set: new}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := diff.BetweenVersions(c.a, c.b)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("BetweenVersions differs from Between (-want +got):\n%s", d)
			}
		})
	}
	// A prepared empty side is no workflows, like a nil set.
	got, err := diff.BetweenVersions(prepared(nil), prepared(new))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range got.Workflows {
		if w.Status != diff.Added {
			t.Errorf("%s: status %s against nothing; want added", w.Name, w.Status)
		}
	}
}
