package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/maestro-conductor/maestro/internal/synth"
)

// maestroReport is the part of `maestro diff --output json` (docs/diff-json.md) the checks read.
type maestroReport struct {
	SchemaVersion int  `json:"schemaVersion"`
	Changed       bool `json:"changed"`
	Workflows     []struct {
		Name    string `json:"name"`
		Status  string `json:"status"`
		Changes []struct {
			Kind string `json:"kind"`
			Path string `json:"path"`
			Task string `json:"task"`
		} `json:"changes"`
	} `json:"workflows"`
}

// checkMaestro checks one maestro run on a pair: on the changed pair it must exit 1 and report exactly the planted
// changes (same count, and each planted change's kind on its task); on the reformatted pair it must exit 0 and
// report nothing. It returns the number of changes reported and, when the answer was wrong, an error saying how.
func checkMaestro(pair string, exit int, stdout []byte, planted []synth.Change) (int, error) {
	var rep maestroReport
	if err := json.Unmarshal(stdout, &rep); err != nil {
		return 0, fmt.Errorf("exit %d, output is not a JSON report: %v", exit, err)
	}
	if rep.SchemaVersion != 1 {
		return 0, fmt.Errorf("schemaVersion %d, want 1", rep.SchemaVersion)
	}
	type kindTask struct{ kind, task string }
	var got []kindTask
	for _, w := range rep.Workflows {
		for _, c := range w.Changes {
			got = append(got, kindTask{c.Kind, c.Task})
		}
	}
	switch pair {
	case pairReformatted:
		if exit != 0 || rep.Changed || len(got) != 0 {
			return len(got), fmt.Errorf("exit %d, changed=%t, %d changes; want exit 0 and no changes", exit, rep.Changed, len(got))
		}
		return 0, nil
	case pairChanged:
		if exit != 1 || !rep.Changed {
			return len(got), fmt.Errorf("exit %d, changed=%t; want exit 1 and changed=true", exit, rep.Changed)
		}
		var missing []string
		rest := slices.Clone(got)
		for _, p := range planted {
			i := slices.Index(rest, kindTask{p.Kind, p.Task})
			if i < 0 {
				missing = append(missing, p.Kind+" "+p.Task)
				continue
			}
			rest = slices.Delete(rest, i, i+1)
		}
		if len(missing) > 0 || len(rest) > 0 {
			var extra []string
			for _, kt := range rest {
				extra = append(extra, kt.kind+" "+kt.task)
			}
			return len(got), fmt.Errorf("%d changes, want the %d planted; missing [%s], unexpected [%s]",
				len(got), len(planted), strings.Join(missing, ", "), strings.Join(limit(extra, 5), ", "))
		}
		return len(got), nil
	}
	return len(got), fmt.Errorf("unknown pair %q", pair)
}

// limit keeps a message short when a diff went badly wrong.
func limit(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(slices.Clone(s[:n]), fmt.Sprintf("and %d more", len(s)-n))
}
