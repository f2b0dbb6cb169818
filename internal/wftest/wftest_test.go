package wftest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/maestro-conductor/maestro/workflow"
)

// ignoreStyle leaves out what depends on how a workflow is written rather than what it means.
var ignoreStyle = cmp.Options{
	cmpopts.IgnoreFields(workflow.Workflow{}, "Pos", "Defaults"),
	cmpopts.IgnoreFields(workflow.Param{}, "Pos"),
	cmpopts.IgnoreFields(workflow.Task{}, "Pos"),
	cmpopts.EquateEmpty(),
}

// TestEmitRoundTrip checks the emitter itself: every rendering of a random model parses back to that model.
func TestEmitRoundTrip(t *testing.T) {
	for seed := range uint64(200) {
		w := Random(NewRand(seed))
		for i := range uint64(4) {
			style := StyleOf(seed*4 + i)
			src := Emit(w, style)
			got, err := workflow.Parse("emitted.yaml", src, workflow.Limits{})
			if err != nil {
				t.Fatalf("seed %d, style %v: Parse: %v\n%s\nmodel:\n%s", seed, style, err, src, String(w))
			}
			if len(got) != 1 {
				t.Fatalf("seed %d, style %v: Parse returned %d workflows, want 1\n%s", seed, style, len(got), src)
			}
			if d := cmp.Diff(w, got[0], ignoreStyle); d != "" {
				t.Fatalf("seed %d, style %v: parsed model mismatch (-want +got):\n%s\n%s", seed, style, d, src)
			}
		}
	}
}

// TestStylesVary guards against an emitter that quietly stopped using some of its styles.
func TestStylesVary(t *testing.T) {
	seen := map[string]bool{}
	for seed := range uint64(64) {
		w := Random(NewRand(seed))
		src := string(Emit(w, StyleOf(seed)))
		for _, feature := range []string{"<<:", "*", "&", "# ", "'", `"`, `\u`, `\x`, "\r\n", "{", "- ", "---", "defaults"} {
			if contains(src, feature) {
				seen[feature] = true
			}
		}
	}
	for _, f := range []string{"<<:", "&", "# ", "'", `"`, `\u`, `\x`, "\r\n", "{", "- ", "---", "defaults"} {
		if !seen[f] {
			t.Errorf("no rendering of 64 seeds contains %q", f)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestEditsKeepModelsValid(t *testing.T) {
	for seed := range uint64(100) {
		r := NewRand(seed)
		w := Random(r)
		fresh := Random(NewRand(seed))
		for _, e := range Edits {
			c := Clone(w)
			if !e.Apply(r, c) {
				continue
			}
			src := Emit(c, StyleOf(seed))
			if _, err := workflow.Parse("edited.yaml", src, workflow.Limits{}); err != nil {
				t.Fatalf("seed %d, edit %s: Parse: %v\n%s", seed, e.Name, err, src)
			}
			if d := cmp.Diff(fresh, w, ignoreStyle); d != "" {
				t.Fatalf("seed %d, edit %s changed the original model (-before +after):\n%s", seed, e.Name, d)
			}
		}
	}
}
