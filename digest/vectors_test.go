package digest_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maestro-conductor/maestro/digest"
	"github.com/maestro-conductor/maestro/workflow"
)

// update rewrites golden files and the generated part of docs/digest.md instead of comparing against them.
var update = os.Getenv("MAESTRO_UPDATE") != ""

// vector is one test vector: a workflow file and everything the digest is built from.
type vector struct {
	name string // file name without extension
	path string
	src  []byte
	w    *workflow.Workflow
	g    *digest.Graph
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	paths, err := filepath.Glob("testdata/vectors/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no test vectors: %v", err)
	}
	var out []vector
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ws, err := workflow.Parse(p, src, workflow.Limits{})
		if err != nil {
			t.Fatalf("Parse(%s): %v", p, err)
		}
		if len(ws) != 1 {
			t.Fatalf("%s: %d workflows, want 1", p, len(ws))
		}
		g, err := digest.Compute(ws[0])
		if err != nil {
			t.Fatalf("Compute(%s): %v", p, err)
		}
		out = append(out, vector{name: strings.TrimSuffix(filepath.Base(p), ".yaml"), path: p, src: src, w: ws[0], g: g})
	}
	return out
}

// golden renders a vector's expected output: line-oriented, so that another implementation can read it with a few
// lines of code. Tasks come in topological order (ties by id), so every dependency's hash is listed before its use.
func (v vector) golden() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Expected canonical form and digest of %s.yaml. Generated: MAESTRO_UPDATE=1 go test ./digest/ rewrites it.\n", v.name)
	b.WriteString("# Each task: its id, its node object as canonical JSON, the node hash, and the content hash (the node\n")
	b.WriteString("# object without dependsOn). Then the root object as canonical JSON, and the workflow digest.\n")
	for _, id := range v.w.TopoOrder() {
		fmt.Fprintf(&b, "task %s\n", id)
		fmt.Fprintf(&b, "node %s\n", digest.CanonicalTask(v.w.Tasks[id], v.g))
		fmt.Fprintf(&b, "hash %s\n", v.g.Nodes[id])
		fmt.Fprintf(&b, "content %s\n", v.g.Contents[id])
	}
	fmt.Fprintf(&b, "root %s\n", digest.Canonical(v.w, v.g))
	fmt.Fprintf(&b, "digest %s\n", v.g.Digest)
	return b.String()
}

func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			path := strings.TrimSuffix(v.path, ".yaml") + ".golden"
			got := v.golden()
			if update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run MAESTRO_UPDATE=1 go test ./digest/ to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s does not match the computed canonical form; if the change is intended (it changes every stored digest: write an ADR), run MAESTRO_UPDATE=1 go test ./digest/\n--- want\n%s\n--- got\n%s", path, want, got)
			}
		})
	}
}

// TestVectorGoldensSelfConsistent checks each golden file the way another implementation would: every hash line is
// the SHA-256 of the JSON line before it, and the root lists the node hashes.
func TestVectorGoldensSelfConsistent(t *testing.T) {
	paths, _ := filepath.Glob("testdata/vectors/*.golden")
	if len(paths) == 0 {
		t.Fatal("no golden files")
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var lastNode, lastRoot string
		nodes := map[string]string{}
		var task string
		for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			key, val, _ := strings.Cut(line, " ")
			switch key {
			case "task":
				task = val
			case "node":
				lastNode = val
			case "hash":
				if want := sha256Hex([]byte(lastNode)); val != want {
					t.Errorf("%s: task %s: hash %s, but the node JSON hashes to %s", p, task, val, want)
				}
				nodes[task] = val
			case "root":
				lastRoot = val
				for id, h := range nodes {
					if !strings.Contains(val, fmt.Sprintf("%q:{\"dependsOn\":", id)) || !strings.Contains(val, fmt.Sprintf("\"node\":%q}", h)) {
						t.Errorf("%s: root does not map %s to node %s", p, id, h)
					}
				}
			case "digest":
				if want := sha256Hex([]byte(lastRoot)); val != want {
					t.Errorf("%s: digest %s, but the root JSON hashes to %s", p, val, want)
				}
			}
		}
	}
}

func TestVectorProperties(t *testing.T) {
	vs := map[string]vector{}
	for _, v := range loadVectors(t) {
		vs[v.name] = v
	}
	if len(vs) < 5 {
		t.Fatalf("%d vectors, want at least 5", len(vs))
	}

	twins := vs["06-twins"]
	if a, b := twins.g.Nodes["notify-a"], twins.g.Nodes["notify-b"]; a != b {
		t.Errorf("twins: notify-a %s and notify-b %s have the same content and dependencies but different node hashes", a, b)
	}
	h := twins.g.Nodes["notify-a"]
	if node := string(digest.CanonicalTask(twins.w.Tasks["done"], twins.g)); !strings.Contains(node, fmt.Sprintf(`"dependsOn":[%q,%q]`, h, h)) {
		t.Errorf("twins: done's node lists its two dependencies' equal hashes once each: %s", node)
	}

	before, after := vs["07-rename-before"], vs["08-rename-after"]
	for from, to := range map[string]string{"fetch": "fetch", "transform": "normalize", "store": "store"} {
		if before.g.Nodes[from] != after.g.Nodes[to] {
			t.Errorf("rename: node hash of %s changed from %s to %s", to, before.g.Nodes[from], after.g.Nodes[to])
		}
	}
	if before.g.Digest == after.g.Digest {
		t.Errorf("rename: digest %s did not change", before.g.Digest)
	}

	defaults := vs["03-defaults"].w
	for id, want := range map[string][2]int{"a": {2, 1800}, "b": {0, 5400}, "c": {2, 90}, "d": {2, 1800}} {
		if got := [2]int{defaults.Tasks[id].Retries, int(defaults.Tasks[id].Timeout.Seconds())}; got != want {
			t.Errorf("defaults: task %s has retries and timeout %v, want %v", id, got, want)
		}
	}

	params := vs["04-params"].w
	for name, want := range map[string]string{"shard": "0", "region": "us-east", "count": "7", "ratio": "1.5", "big": "1e+06", "tiny": "0", "dry_run": "true"} {
		if p := params.Params[name]; p.Default == nil || *p.Default != want {
			t.Errorf("params: default of %s is %v, want %q", name, p.Default, want)
		}
	}

	uni := vs["05-unicode"]
	node := string(digest.CanonicalTask(uni.w.Tasks["escape"], uni.g))
	if i, j := strings.Index(node, "\U0001F600\":"), strings.Index(node, "\ue000\":"); i < 0 || j < 0 || i > j {
		t.Errorf("unicode: key U+1F600 must come before U+E000 (UTF-16 order): %s", node)
	}
	for _, frag := range []string{`"say \"hi\""`, `"C:\\temp\\new"`, `"bell\u0007 tab\t newline\n unit\u001f"`, `"</script> & a/b"`} {
		if !strings.Contains(node, frag) {
			t.Errorf("unicode: node JSON lacks %s: %s", frag, node)
		}
	}
}

const (
	docPath    = "../docs/digest.md"
	beginMark  = "<!-- BEGIN GENERATED VECTORS"
	endMark    = "<!-- END GENERATED VECTORS -->"
	fence      = "```"
	beginLineF = beginMark + ": TestDocVectors in digest/vectors_test.go writes this part from digest/testdata/vectors; run MAESTRO_UPDATE=1 go test ./digest/ -->\n"
)

// docVectors renders the test vector section of docs/digest.md.
func docVectors(vs []vector) string {
	var b strings.Builder
	b.WriteString(beginLineF)
	for _, v := range vs {
		fmt.Fprintf(&b, "\n### %s\n\nInput, `digest/testdata/vectors/%s.yaml`:\n\n%syaml\n%s%s\n\n", v.name, v.name, fence, v.src, fence)
		for _, id := range v.w.TopoOrder() {
			fmt.Fprintf(&b, "Task `%s`: node hash `%s`, content hash `%s`\n\n%sjson\n%s\n%s\n\n",
				id, v.g.Nodes[id], v.g.Contents[id], fence, digest.CanonicalTask(v.w.Tasks[id], v.g), fence)
		}
		fmt.Fprintf(&b, "Root object:\n\n%sjson\n%s\n%s\n\nDigest: `%s`\n", fence, digest.Canonical(v.w, v.g), fence, v.g.Digest)
	}
	b.WriteString("\n" + endMark)
	return b.String()
}

// TestDocVectors keeps the test vectors printed in docs/digest.md equal to what the code computes, so that no
// vector in the specification is typed by hand.
func TestDocVectors(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(doc, []byte(beginMark))
	j := bytes.Index(doc, []byte(endMark))
	if i < 0 || j < i {
		t.Fatalf("%s has no %q ... %q section", docPath, beginMark, endMark)
	}
	want := docVectors(loadVectors(t))
	got := string(doc[i : j+len(endMark)])
	if got == want {
		return
	}
	if update {
		out := append(append(append([]byte{}, doc[:i]...), want...), doc[j+len(endMark):]...)
		if err := os.WriteFile(docPath, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the test vectors in %s are out of date; run MAESTRO_UPDATE=1 go test ./digest/", docPath)
}
