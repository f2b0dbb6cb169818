package workflow_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/maestro-conductor/maestro/workflow"
)

func wfFile(name string, extra ...string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte(lines(append([]string{
		"apiVersion: maestro.dev/v1",
		"kind: Workflow",
		"metadata: {name: " + name + "}",
		"spec: {tasks: {t: {package: " + pkg + "}}}",
	}, extra...)...))}
}

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"workflows/a.yaml":               wfFile("alpha"),
		"workflows/team/b.yml":           wfFile("beta"),
		"workflows/team/deep/c.yaml":     wfFile("gamma", "---", "apiVersion: v1", "kind: ConfigMap", "metadata: {name: x}"),
		"workflows/README.md":            {Data: []byte("not: [yaml")},
		"workflows/.git/config.yaml":     {Data: []byte("hidden: [directories are skipped")},
		"workflows/team/.cache/x.yaml":   {Data: []byte("\xff\xfe")},
		"workflows/empty.yaml":           {Data: []byte("# nothing here\n")},
		"workflows/other-kind.yaml":      {Data: []byte("kind: Pipeline\nname: Not_Checked\n")},
		"elsewhere/d.yaml":               wfFile("delta"),
		"workflows-not-this-one/e.yaml":  wfFile("epsilon"),
		"workflows/team/deep/f.yaml.bak": {Data: []byte("{")},
	}
	set, err := workflow.Load(fsys, "workflows", workflow.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"alpha", "beta", "gamma"}, set.Names()); d != "" {
		t.Errorf("Names() mismatch (-want +got):\n%s", d)
	}
	if got := set.Get("beta").Pos; got != (workflow.Position{File: "workflows/team/b.yml", Line: 1, Column: 1}) {
		t.Errorf("beta at %v", got)
	}
	if set.Get("delta") != nil {
		t.Error("a workflow outside the directory was loaded")
	}

	// A custom directory, given in any spelling.
	set, err = workflow.Load(fsys, "./elsewhere/", workflow.Limits{})
	if err != nil || !cmp.Equal(set.Names(), []string{"delta"}) {
		t.Errorf("Load(elsewhere) = %v, %v", set, err)
	}
}

func TestLoadMissingDirectory(t *testing.T) {
	set, err := workflow.Load(fstest.MapFS{"x.yaml": wfFile("x")}, "workflows", workflow.Limits{})
	if err != nil || len(set.Names()) != 0 {
		t.Errorf("Load(missing dir) = %v, %v; want an empty set", set, err)
	}
}

func TestLoadDuplicateNames(t *testing.T) {
	fsys := fstest.MapFS{
		"workflows/a.yaml":     wfFile("etl"),
		"workflows/sub/b.yaml": wfFile("other", "---", "apiVersion: maestro.dev/v1", "kind: Workflow", "metadata: {name: etl}", "spec: {tasks: {t: {package: "+pkg+"}}}"),
	}
	_, err := workflow.Load(fsys, "workflows", workflow.Limits{})
	if !errors.Is(err, workflow.ErrDuplicate) {
		t.Fatalf("Load = %v, want ErrDuplicate", err)
	}
	want := `workflows/sub/b.yaml:6:1: metadata.name: workflow "etl" is already defined at workflows/a.yaml:1:1; workflow names must be unique in a repository`
	if got := err.Error(); got != want {
		t.Errorf("error\n got %s\nwant %s", got, want)
	}
}

func TestLoadCollectsErrorsFromEveryFile(t *testing.T) {
	fsys := fstest.MapFS{
		"workflows/a.yaml":  wfFile("a", "extra: 1"),
		"workflows/b.yaml":  {Data: []byte("kind: Workflow\nspec: [\n")},
		"workflows/c.yaml":  {Data: []byte("name: caf\xe9\n")},
		"workflows/d.yaml":  {Data: []byte(strings.Repeat("#", 300))},
		"workflows/ok.yaml": wfFile("ok"),
	}
	_, err := workflow.Load(fsys, "workflows", workflow.Limits{MaxFileSize: 250})
	var list workflow.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Load = %v, want an ErrorList", err)
	}
	var files []string
	for _, e := range list {
		files = append(files, e.Pos.File)
	}
	if d := cmp.Diff([]string{"workflows/a.yaml", "workflows/b.yaml", "workflows/c.yaml", "workflows/d.yaml"}, files); d != "" {
		t.Errorf("files with errors (-want +got):\n%s\n%v", d, err)
	}
	for _, kind := range []error{workflow.ErrInvalid, workflow.ErrSyntax, workflow.ErrNotUTF8, workflow.ErrTooLarge} {
		if !errors.Is(err, kind) {
			t.Errorf("errors.Is(err, %v) = false: %v", kind, err)
		}
	}
}

func TestLoadSymlinks(t *testing.T) {
	fsys := fstest.MapFS{
		"workflows/real.yaml":   wfFile("real"),
		"workflows/link.yaml":   {Data: []byte("real.yaml"), Mode: fs.ModeSymlink},
		"shared/common.yaml":    wfFile("common"),
		"workflows/common.yaml": {Data: []byte("../shared/common.yaml"), Mode: fs.ModeSymlink},
	}
	// A link to a file that is itself a workflow in the directory loads it twice: a duplicate name.
	_, err := workflow.Load(fsys, "workflows", workflow.Limits{})
	if !errors.Is(err, workflow.ErrDuplicate) {
		t.Errorf("Load with a link to a sibling = %v, want ErrDuplicate", err)
	}

	delete(fsys, "workflows/link.yaml")
	set, err := workflow.Load(fsys, "workflows", workflow.Limits{})
	if err != nil || !cmp.Equal(set.Names(), []string{"common", "real"}) {
		t.Errorf("Load with a link inside the repository = %v, %v", set, err)
	}

	for target, name := range map[string]string{"../../outside.yaml": "up", "/etc/passwd.yaml": "absolute"} {
		fsys := fstest.MapFS{"workflows/x.yaml": {Data: []byte(target), Mode: fs.ModeSymlink}}
		_, err := workflow.Load(fsys, "workflows", workflow.Limits{})
		if !errors.Is(err, workflow.ErrOutsideRoot) {
			t.Errorf("%s: Load with a link to %s = %v, want ErrOutsideRoot", name, target, err)
		}
	}
}
