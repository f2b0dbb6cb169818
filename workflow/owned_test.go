package workflow_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/maestro-conductor/maestro/internal/synth"
	"github.com/maestro-conductor/maestro/workflow"
)

// TestParseOwnedAndCopy checks the two ways of handing Parse a buffer: ParseOwned reads the same workflows as Parse,
// and what Parse returns does not change when the caller overwrites its buffer afterwards.
func TestParseOwnedAndCopy(t *testing.T) {
	inputs := map[string][]byte{
		"plain":       synth.Generate(synth.Options{Tasks: 200, Seed: 7}),
		"reformatted": synth.Generate(synth.Options{Tasks: 200, Seed: 7, Reformat: true}),
		// Not ASCII: the yaml.v3 path.
		"utf-8": []byte("apiVersion: maestro.dev/v1\nkind: Workflow\nmetadata: {name: cafe, labels: {owner: zoë}}\n" +
			"spec:\n  tasks:\n    a: {package: reg.example.com/x@sha256:" + string(make64('a')) + ", params: {greeting: héllo}}\n"),
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			want, err := workflow.Parse("w.yaml", data, workflow.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			owned := append([]byte(nil), data...)
			got, err := workflow.ParseOwned("w.yaml", owned, workflow.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("ParseOwned differs from Parse (-Parse +ParseOwned):\n%s", d)
			}
			// Parse copied: scribbling over the caller's buffer leaves its result alone.
			before := cmp.Diff(nil, want)
			for i := range data {
				data[i] = 'x'
			}
			if after := cmp.Diff(nil, want); after != before {
				t.Errorf("Parse's workflows changed when the caller overwrote its buffer")
			}
		})
	}
}

func make64(c byte) []byte {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return b
}
