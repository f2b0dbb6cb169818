package workflow_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/maestro-conductor/maestro/digest"
	"github.com/maestro-conductor/maestro/workflow"
)

// maxReported is how many problems one file may report: the parser's cap of 50, plus the alias error that stops it.
const maxReported = 51

// FuzzParse feeds Parse any bytes. It must not panic; a failure must be a *workflow.Error or a workflow.ErrorList of
// them, each naming the file, no more than maxReported; a success must be a normalized, valid workflow with a
// digest. Seeds, hostile ones included (alias bombs, deep nesting, invalid UTF-8, duplicate keys, cycles), live in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte("apiVersion: maestro.dev/v1\nkind: Workflow\nmetadata: {name: a}\nspec: {tasks: {t: {package: r:1}}}\n"))
	// A small alias budget keeps the fuzzer fast; the expansion check works the same at any size.
	lim := workflow.Limits{MaxFileSize: 1 << 20, MaxAliasNodes: 20_000}
	f.Fuzz(func(t *testing.T, data []byte) {
		ws, err := workflow.Parse("fuzz.yaml", data, lim)
		if err != nil {
			if ws != nil {
				t.Fatalf("Parse returned workflows and an error: %v", err)
			}
			checkError(t, err)
		}
		for _, w := range ws {
			checkWorkflow(t, w)
		}
		checkSlowPath(t, data, ws, err, lim)
	})
}

// checkSlowPath parses data again followed by a comment line that is not ASCII, which keeps the parser off its
// fast path for plain files: both readings must agree. (The comment goes last: in front, it would change how
// yaml.v3 reads a tab at the very start of the input.)
func checkSlowPath(t *testing.T, data []byte, ws []*workflow.Workflow, err error, lim workflow.Limits) {
	t.Helper()
	if int64(len(data))+6 > lim.MaxFileSize {
		return
	}
	slow, slowErr := workflow.Parse("fuzz.yaml", append(append([]byte{}, data...), "\n# é\n"...), lim)
	if (err == nil) != (slowErr == nil) {
		t.Fatalf("Parse and Parse behind a comment disagree:\n%v\n%v", err, slowErr)
	}
	if len(ws) != len(slow) {
		t.Fatalf("Parse found %d workflows, behind a comment %d", len(ws), len(slow))
	}
	for i := range ws {
		a, _ := digest.Of(ws[i])
		b, _ := digest.Of(slow[i])
		if a != b {
			t.Fatalf("workflow %s: digest %s, behind a comment %s", ws[i].Name, a, b)
		}
	}
}

func checkError(t *testing.T, err error) {
	t.Helper()
	var list []*workflow.Error
	switch e := err.(type) {
	case *workflow.Error:
		list = []*workflow.Error{e}
	case workflow.ErrorList:
		if len(e) < 2 {
			t.Fatalf("an ErrorList of %d errors: %v", len(e), err)
		}
		list = e
	default:
		t.Fatalf("error of type %T, want *workflow.Error or workflow.ErrorList: %v", err, err)
	}
	if len(list) > maxReported {
		t.Fatalf("%d errors reported, want at most %d", len(list), maxReported)
	}
	for _, e := range list {
		if e == nil {
			t.Fatal("nil *Error in ErrorList")
		}
		if e.Pos.File != "fuzz.yaml" {
			t.Fatalf("error without the file name: %v", e)
		}
		if e.Msg == "" {
			t.Fatalf("error without a message: %#v", e)
		}
		if !errors.Is(e, workflow.ErrInvalid) && !errors.Is(e, workflow.ErrSyntax) && !errors.Is(e, workflow.ErrAliasExpansion) &&
			!errors.Is(e, workflow.ErrNotUTF8) && !errors.Is(e, workflow.ErrTooLarge) {
			t.Fatalf("error of no known kind: %v", e)
		}
	}
}

func checkWorkflow(t *testing.T, w *workflow.Workflow) {
	t.Helper()
	if !workflow.ValidName(w.Name) || !workflow.ValidName(w.Tenant) {
		t.Fatalf("invalid name %q or tenant %q accepted", w.Name, w.Tenant)
	}
	if w.APIVersion != workflow.APIVersion {
		t.Fatalf("apiVersion %q accepted", w.APIVersion)
	}
	if len(w.Tasks) == 0 {
		t.Fatal("a workflow without tasks accepted")
	}
	for id, task := range w.Tasks {
		if task.ID != id {
			t.Fatalf("task %q stored under %q", task.ID, id)
		}
		if err := task.Package.Validate(); err != nil {
			t.Fatalf("task %s: invalid package accepted: %v", id, err)
		}
		if task.Retries < 0 || task.Retries > 100 {
			t.Fatalf("task %s: retries %d", id, task.Retries)
		}
		if task.Timeout < 0 || task.Timeout%time.Second != 0 {
			t.Fatalf("task %s: timeout %v", id, task.Timeout)
		}
		if !slices.IsSorted(task.DependsOn) || len(slices.Compact(slices.Clone(task.DependsOn))) != len(task.DependsOn) {
			t.Fatalf("task %s: dependsOn %q not a sorted set", id, task.DependsOn)
		}
		for _, d := range task.DependsOn {
			if w.Tasks[d] == nil {
				t.Fatalf("task %s: dangling dependency %q accepted", id, d)
			}
		}
	}
	for name, p := range w.Params {
		if p.Name != name || p.Required && p.Default != nil {
			t.Fatalf("param %s: %+v", name, p)
		}
	}
	if len(w.TopoOrder()) != len(w.Tasks) {
		t.Fatalf("a cycle accepted")
	}
	d1, err := digest.Of(w)
	if err != nil {
		t.Fatalf("digest of a parsed workflow: %v", err)
	}
	if d2, _ := digest.Of(w); d1 != d2 {
		t.Fatalf("digest not deterministic: %s, %s", d1, d2)
	}
}
