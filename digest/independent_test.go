package digest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/maestro-conductor/maestro/digest"
	"github.com/maestro-conductor/maestro/workflow"
)

// This file checks the package against a second implementation written only from docs/digest.md, with
// encoding/json for strings and crypto/sha256, sharing no code with the package's own JCS encoder.

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// refString encodes s as RFC 8785 does. encoding/json differs from it in two ways, both undone here: it escapes
// U+2028 and U+2029 (JCS writes them as they are), and, unless told not to, '<', '>' and '&'.
func refString(s string) string {
	var out strings.Builder
	out.WriteByte('"')
	start := 0
	for i, r := range s {
		if r == 0x2028 || r == 0x2029 {
			out.WriteString(jsonInner(s[start:i]))
			out.WriteRune(r)
			start = i + len(string(r))
		}
	}
	out.WriteString(jsonInner(s[start:]))
	out.WriteByte('"')
	return out.String()
}

// jsonInner is encoding/json's encoding of s without the surrounding quotes.
func jsonInner(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// refObject writes a JSON object whose members are already encoded, sorted by the UTF-16 code units of the names.
func refObject(members map[string]string) string {
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := utf16.Encode([]rune(keys[i])), utf16.Encode([]rune(keys[j]))
		for k := 0; k < len(a) && k < len(b); k++ {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return len(a) < len(b)
	})
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(refString(k) + ":" + members[k])
	}
	b.WriteByte('}')
	return b.String()
}

// refCanonical computes, from the specification alone, every task's node JSON and the root JSON of w.
func refCanonical(w *workflow.Workflow) (nodes map[string]string, root string) {
	nodes = map[string]string{}
	hashes := map[string]string{}
	var visit func(id string) string
	visit = func(id string) string {
		if h, ok := hashes[id]; ok {
			return h
		}
		t := w.Tasks[id]
		var deps []string
		for _, d := range t.DependsOn {
			deps = append(deps, refString(visit(d)))
		}
		sort.Strings(deps) // hashes are ASCII: byte order is UTF-16 order
		params := map[string]string{}
		for k, v := range t.Params {
			params[k] = refString(v)
		}
		node := refObject(map[string]string{
			"package":        refString(string(t.Package)),
			"params":         refObject(params),
			"retries":        strconv.Itoa(t.Retries),
			"timeoutSeconds": strconv.FormatInt(int64(t.Timeout.Seconds()), 10),
			"dependsOn":      "[" + strings.Join(deps, ",") + "]",
		})
		nodes[id] = node
		hashes[id] = sha256Hex([]byte(node))
		return hashes[id]
	}
	tasks := map[string]string{}
	for id, task := range w.Tasks {
		var depIDs []string
		for _, d := range task.DependsOn {
			depIDs = append(depIDs, refString(d))
		}
		sort.Strings(depIDs)
		tasks[id] = refObject(map[string]string{
			"dependsOn": "[" + strings.Join(depIDs, ",") + "]",
			"node":      refString(visit(id)),
		})
	}
	params := map[string]string{}
	for name, p := range w.Params {
		m := map[string]string{"type": refString(p.Type), "required": strconv.FormatBool(p.Required)}
		if p.Default != nil {
			m["default"] = refString(*p.Default)
		}
		params[name] = refObject(m)
	}
	root = refObject(map[string]string{
		"apiVersion": refString("maestro.dev/v1"),
		"kind":       refString("Workflow"),
		"name":       refString(w.Name),
		"tenant":     refString(w.Tenant),
		"params":     refObject(params),
		"tasks":      refObject(tasks),
	})
	return nodes, root
}

// checkAgainstReference fails t if the package's canonical form of w differs from the reference implementation's.
func checkAgainstReference(t *testing.T, w *workflow.Workflow, g *digest.Graph) {
	t.Helper()
	nodes, root := refCanonical(w)
	for id, want := range nodes {
		if got := string(digest.CanonicalTask(w.Tasks[id], g)); got != want {
			t.Fatalf("task %s: node JSON\n got %s\nwant %s", id, got, want)
		}
		if got, want := string(g.Nodes[id]), sha256Hex([]byte(want)); got != want {
			t.Fatalf("task %s: node hash %s, want %s", id, got, want)
		}
	}
	if got := string(digest.Canonical(w, g)); got != root {
		t.Fatalf("root JSON\n got %s\nwant %s", got, root)
	}
	if got, want := string(g.Digest), sha256Hex([]byte(root)); got != want {
		t.Fatalf("digest %s, want %s", got, want)
	}
}

func TestReferenceImplementationVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) { checkAgainstReference(t, v.w, v.g) })
	}
}

// TestIndependentDiamond recomputes the digest of the diamond vector from values read off its YAML by a person, with
// encoding/json's map encoding (sorted keys: the same as UTF-16 order for these ASCII names) and crypto/sha256. It
// shares nothing with the package but the YAML file.
func TestIndependentDiamond(t *testing.T) {
	canon := func(v any) []byte {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	}
	hash := func(v any) string { return sha256Hex(canon(v)) }
	const (
		extractPkg = "registry.example.com/etl/extract@sha256:f1cf2fd5c86895128d559088259a132d4d4689a4d6ae4e0339100393438ec986"
		cleanPkg   = "registry.example.com/etl/clean@sha256:3b066804f6d1d077173cfe4d06002e6a61e6f21c2b2e648417962115f1afcd8e"
		loadPkg    = "registry.example.com/etl/load@sha256:0cf67fc72b3c86c7a454f6d86b43ed245a8e491d0e5288d4da8c7ff43a7bcdb0"
	)
	extract := hash(map[string]any{"package": extractPkg, "params": map[string]string{"date": "{{ params.date }}"},
		"retries": 3, "timeoutSeconds": 600, "dependsOn": []string{}})
	clean := hash(map[string]any{"package": cleanPkg, "params": map[string]string{"mode": "strict"},
		"retries": 0, "timeoutSeconds": 0, "dependsOn": []string{extract}})
	enrich := hash(map[string]any{"package": cleanPkg, "params": map[string]string{"mode": "enrich"},
		"retries": 0, "timeoutSeconds": 0, "dependsOn": []string{extract}})
	loadDeps := []string{clean, enrich}
	sort.Strings(loadDeps)
	load := hash(map[string]any{"package": loadPkg, "params": map[string]string{},
		"retries": 0, "timeoutSeconds": 0, "dependsOn": loadDeps})
	want := hash(map[string]any{
		"apiVersion": "maestro.dev/v1",
		"kind":       "Workflow",
		"name":       "nightly-etl",
		"tenant":     "acme",
		"params":     map[string]any{"date": map[string]any{"type": "string", "required": true}},
		"tasks": map[string]any{
			"extract": map[string]any{"dependsOn": []string{}, "node": extract},
			"clean":   map[string]any{"dependsOn": []string{"extract"}, "node": clean},
			"enrich":  map[string]any{"dependsOn": []string{"extract"}, "node": enrich},
			"load":    map[string]any{"dependsOn": []string{"clean", "enrich"}, "node": load},
		},
	})

	src, err := os.ReadFile("testdata/vectors/02-diamond.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := workflow.Parse("02-diamond.yaml", src, workflow.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := digest.Of(ws[0])
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("digest.Of(02-diamond) = %s, independent computation gives %s", got, want)
	}
}

func TestRefString(t *testing.T) {
	// The reference encoder is itself checked, so that agreement with it means something.
	for in, want := range map[string]string{
		"a\u2028b\u2029": "\"a\u2028b\u2029\"",
		`\u2028`:         `"\\u2028"`,
		"<&>":            `"<&>"`,
		"\x01\x7f\b":     `"\u0001` + "\x7f" + `\b"`,
	} {
		if got := refString(in); got != want {
			t.Errorf("refString(%q) = %s, want %s", in, got, want)
		}
	}
}
