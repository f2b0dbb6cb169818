package diff_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maestro-conductor/maestro/workflow"
)

// Package digests for the test workflows. YAML in the tests writes {A}..{E} where a digest belongs.
var pkgDigests = strings.NewReplacer(
	"{A}", "sha256:"+strings.Repeat("a", 64),
	"{B}", "sha256:"+strings.Repeat("b", 64),
	"{C}", "sha256:"+strings.Repeat("c", 64),
	"{D}", "sha256:"+strings.Repeat("d", 64),
	"{E}", "sha256:"+strings.Repeat("e", 64),
)

// pkg returns the ref "reg.example.com/etl/<name>@sha256:<x repeated>", as the YAML placeholders expand.
func pkg(name string, x byte) string {
	return "reg.example.com/etl/" + name + "@sha256:" + strings.Repeat(string(x), 64)
}

// parseDocs parses YAML files (placeholders expanded) into a set; an empty string adds no file.
func parseDocs(t testing.TB, files ...string) *workflow.Set {
	t.Helper()
	var all []*workflow.Workflow
	for i, f := range files {
		if f == "" {
			continue
		}
		ws, err := workflow.Parse("file"+string(rune('0'+i))+".yaml", []byte(pkgDigests.Replace(f)), workflow.Limits{})
		if err != nil {
			t.Fatalf("parse test YAML: %v\n%s", err, f)
		}
		all = append(all, ws...)
	}
	s, err := workflow.NewSet(all)
	if err != nil {
		t.Fatalf("NewSet: %v", err)
	}
	return s
}

// golden compares got with testdata/name, rewriting the file when MAESTRO_UPDATE is set.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("MAESTRO_UPDATE") != "" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run MAESTRO_UPDATE=1 go test ./diff/ to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the output (run MAESTRO_UPDATE=1 go test ./diff/ if the change is intended)\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}
