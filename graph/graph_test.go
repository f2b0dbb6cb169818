package graph_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/maestro-conductor/maestro/diff"
	"github.com/maestro-conductor/maestro/graph"
	"github.com/maestro-conductor/maestro/workflow"
)

func pkg(name string, x byte) string {
	return "reg.example.com/etl/" + name + "@sha256:" + strings.Repeat(string(x), 64)
}

// parse parses one workflow; {A}..{E} in the YAML stand for package digests.
func parse(t *testing.T, src string) *workflow.Workflow {
	t.Helper()
	src = strings.NewReplacer(
		"{A}", "sha256:"+strings.Repeat("a", 64), "{B}", "sha256:"+strings.Repeat("b", 64),
		"{C}", "sha256:"+strings.Repeat("c", 64), "{D}", "sha256:"+strings.Repeat("d", 64),
	).Replace(src)
	ws, err := workflow.Parse("test.yaml", []byte(src), workflow.Limits{})
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, src)
	}
	if len(ws) != 1 {
		t.Fatalf("parse: %d workflows", len(ws))
	}
	return ws[0]
}

func between(t *testing.T, a, b *workflow.Workflow) diff.Workflow {
	t.Helper()
	d, err := diff.Workflows(a, b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// golden compares got with testdata/name, rewriting the file when MAESTRO_UPDATE is set.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("MAESTRO_UPDATE") != "" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with MAESTRO_UPDATE=1 to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, d)
	}
}

const base = `apiVersion: maestro.dev/v1
kind: Workflow
metadata: {name: etl}
spec:
  tasks:
    extract: {package: "reg.example.com/etl/extract@{A}"}
    clean: {package: "reg.example.com/etl/clean@{A}", dependsOn: [extract]}
    load: {package: "reg.example.com/etl/load@{A}", dependsOn: [clean]}
    audit: {package: "reg.example.com/etl/audit@{A}", dependsOn: [extract]}
    publish: {package: "reg.example.com/etl/publish@{A}", dependsOn: [load]}
    notify: {package: "reg.example.com/etl/notify@{A}", dependsOn: [publish]}
    archive: {package: "reg.example.com/etl/archive@{A}", dependsOn: [notify]}
`

// head: load's package changes, audit is removed, report is added after load, publish is renamed to release and
// loses nothing, notify gains a dependency on clean.
const head = `apiVersion: maestro.dev/v1
kind: Workflow
metadata: {name: etl}
spec:
  tasks:
    extract: {package: "reg.example.com/etl/extract@{A}"}
    clean: {package: "reg.example.com/etl/clean@{A}", dependsOn: [extract]}
    load: {package: "reg.example.com/etl/load@{B}", dependsOn: [clean]}
    report: {package: "reg.example.com/etl/report@{C}", dependsOn: [load]}
    release: {package: "reg.example.com/etl/publish@{A}", dependsOn: [load]}
    notify: {package: "reg.example.com/etl/notify@{A}", dependsOn: [release, clean]}
    archive: {package: "reg.example.com/etl/archive@{A}", dependsOn: [notify]}
`

func TestAffected(t *testing.T) {
	d := between(t, parse(t, base), parse(t, head))
	g := graph.Affected(d)
	wantNodes := []graph.Node{
		{ID: "archive", State: graph.Unchanged},
		{ID: "audit", State: graph.Removed},
		{ID: "clean", State: graph.Unchanged},
		{ID: "extract", State: graph.Unchanged},
		{ID: "load", State: graph.Changed},
		{ID: "notify", State: graph.Changed},
		{ID: "release", OldID: "publish", State: graph.Renamed},
		{ID: "report", State: graph.Added},
	}
	if diff := cmp.Diff(wantNodes, g.Nodes); diff != "" {
		t.Errorf("Affected().Nodes mismatch (-want +got):\n%s", diff)
	}
	wantEdges := []graph.Edge{
		{From: "clean", To: "load", State: graph.Unchanged},
		{From: "clean", To: "notify", State: graph.Added},
		{From: "extract", To: "audit", State: graph.Removed},
		{From: "extract", To: "clean", State: graph.Unchanged},
		{From: "load", To: "release", State: graph.Unchanged},
		{From: "load", To: "report", State: graph.Added},
		{From: "notify", To: "archive", State: graph.Unchanged},
		{From: "release", To: "notify", State: graph.Unchanged},
	}
	if diff := cmp.Diff(wantEdges, g.Edges); diff != "" {
		t.Errorf("Affected().Edges mismatch (-want +got):\n%s", diff)
	}
	if g.Tasks != 7 || g.Hidden != 0 {
		t.Errorf("Tasks, Hidden = %d, %d; want 7, 0", g.Tasks, g.Hidden)
	}
	golden(t, "affected.mmd", g.Mermaid())
	golden(t, "affected.dot", g.DOT())
}

func TestAffectedContextOnly(t *testing.T) {
	// A long chain where one task in the middle changes: only it and its two neighbours are drawn.
	var a, b strings.Builder
	for i, w := range []*strings.Builder{&a, &b} {
		w.WriteString("apiVersion: maestro.dev/v1\nkind: Workflow\nmetadata: {name: chain}\nspec:\n  tasks:\n")
		for j := 0; j < 10; j++ {
			p := "{A}"
			if i == 1 && j == 5 {
				p = "{B}"
			}
			fmt.Fprintf(w, "    t%d: {package: \"reg.example.com/x/t@%s\"", j, p)
			if j > 0 {
				fmt.Fprintf(w, ", dependsOn: [t%d]", j-1)
			}
			w.WriteString("}\n")
		}
	}
	g := graph.Affected(between(t, parse(t, a.String()), parse(t, b.String())))
	var got []string
	for _, n := range g.Nodes {
		got = append(got, n.ID+":"+string(n.State))
	}
	if d := cmp.Diff([]string{"t4:unchanged", "t5:changed", "t6:unchanged"}, got); d != "" {
		t.Errorf("nodes mismatch (-want +got):\n%s", d)
	}
	if g.Hidden != 7 || len(g.Edges) != 2 {
		t.Errorf("Hidden = %d, edges = %d; want 7, 2", g.Hidden, len(g.Edges))
	}
	if m := g.Mermaid(); !strings.Contains(m, "%% 7 more tasks not shown") {
		t.Errorf("Mermaid() does not say how many tasks are hidden:\n%s", m)
	}
}

func TestWholeWorkflowAddedRemoved(t *testing.T) {
	w := parse(t, base)
	for _, tc := range []struct {
		name  string
		a, b  *workflow.Workflow
		state graph.State
	}{
		{"added", nil, w, graph.Added},
		{"removed", w, nil, graph.Removed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := graph.Affected(between(t, tc.a, tc.b))
			if len(g.Nodes) != 7 || len(g.Edges) != 6 {
				t.Fatalf("got %d nodes, %d edges; want 7, 6", len(g.Nodes), len(g.Edges))
			}
			for _, n := range g.Nodes {
				if n.State != tc.state {
					t.Errorf("node %s is %s, want %s", n.ID, n.State, tc.state)
				}
			}
			for _, e := range g.Edges {
				if e.State != tc.state {
					t.Errorf("edge %s->%s is %s, want %s", e.From, e.To, e.State, tc.state)
				}
			}
		})
	}
}

func TestFull(t *testing.T) {
	g := graph.Full(parse(t, base))
	golden(t, "full.mmd", g.Mermaid())
	golden(t, "full.dot", g.DOT())
	if strings.Contains(g.Mermaid(), "Legend") {
		t.Error("a full graph with nothing but unchanged tasks has no legend")
	}
}

func TestOverlay(t *testing.T) {
	g := graph.Overlay(between(t, parse(t, base), parse(t, head)))
	if len(g.Nodes) != 8 || g.Hidden != 0 {
		t.Errorf("Overlay: %d nodes, %d hidden; want 8 (7 tasks and the removed one), 0", len(g.Nodes), g.Hidden)
	}
}

// TestEscaping draws ids that Mermaid and DOT would misread unescaped. Parsed workflows only allow [a-z0-9_-];
// the renderers must not rely on that.
func TestEscaping(t *testing.T) {
	ids := []string{"end", "o", "x-1", "a_b", "a-b", `q"uote`, "<b>&#", "back\\slash", "new\nline", "subgraph"}
	w := &workflow.Workflow{Name: `we"ird`, Tasks: map[string]*workflow.Task{}}
	for i, id := range ids {
		t := &workflow.Task{ID: id, Package: workflow.PackageRef(pkg("p", 'a'))}
		if i > 0 {
			t.DependsOn = []string{ids[i-1]}
		}
		w.Tasks[id] = t
	}
	g := graph.Full(w)
	m := g.Mermaid()
	golden(t, "escaping.mmd", m)
	golden(t, "escaping.dot", g.DOT())

	// Every node id is unique and made of letters, digits and underscores only.
	seen := map[string]bool{}
	for _, line := range strings.Split(m, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "t_") || strings.Contains(line, "-->") {
			continue
		}
		id, _, ok := strings.Cut(line, "[")
		if !ok {
			t.Fatalf("node line without label: %q", line)
		}
		for _, c := range id {
			if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				t.Errorf("node id %q has %q", id, c)
			}
		}
		if seen[id] {
			t.Errorf("node id %q used twice", id)
		}
		seen[id] = true
	}
	if len(seen) != len(ids) {
		t.Errorf("%d distinct node ids, want %d", len(seen), len(ids))
	}
	for _, bad := range []string{`q"uote`, "<b>", "\nline"} {
		if strings.Contains(m, bad) {
			t.Errorf("Mermaid output contains unescaped %q", bad)
		}
	}
}

func TestMermaidIDsInjective(t *testing.T) {
	// "_" is doubled and other bytes become "_" and hex, so these must all differ.
	ids := []string{"a_b", "a-b", "a__b", "a_2db", "a_", "a-", "a__", "a_5f"}
	w := &workflow.Workflow{Name: "x", Tasks: map[string]*workflow.Task{}}
	for _, id := range ids {
		w.Tasks[id] = &workflow.Task{ID: id}
	}
	m := graph.Full(w).Mermaid()
	seen := map[string]string{}
	for _, line := range strings.Split(m, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "t_") {
			continue
		}
		id, label, _ := strings.Cut(line, "[")
		if other, ok := seen[id]; ok {
			t.Errorf("node id %s stands for %s and %s", id, other, label)
		}
		seen[id] = label
	}
	if len(seen) != len(ids) {
		t.Errorf("%d node ids, want %d:\n%s", len(seen), len(ids), m)
	}
}

func TestMarkdown(t *testing.T) {
	small := between(t, parse(t, base), parse(t, head))
	tests := []struct {
		name string
		d    diff.Workflow
		opts graph.MarkdownOptions
		want []string
		not  []string
	}{
		{
			name: "picture",
			d:    small,
			want: []string{"```mermaid\nflowchart LR\n", "classDef added", ":::removed", ":::renamed", "publish → release", "subgraph legend", "```\n"},
			not:  []string{"too many"},
		},
		{
			name: "limit",
			d:    small,
			opts: graph.MarkdownOptions{MaxTasks: 5, Hint: "Run `maestro graph -w etl`."},
			want: []string{"**Graph:** 7 tasks, too many to draw here (the limit is 5). Affected: 1 added, 1 removed, 2 changed, 1 renamed: `report` (added), `audit` (removed), `load` (changed), `notify` (changed), `publish → release` (renamed).\n", "Run `maestro graph -w etl`."},
			not:  []string{"```mermaid"},
		},
		{
			name: "no task changes",
			d:    between(t, parse(t, base), parse(t, strings.Replace(base, "metadata: {name: etl}", "metadata: {name: etl, labels: {a: b}}", 1))),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := graph.Markdown(tc.d, tc.opts)
			if len(tc.want) == 0 && got != "" {
				t.Errorf("Markdown() = %q, want empty", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("Markdown() lacks %q:\n%s", w, got)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("Markdown() has %q:\n%s", n, got)
				}
			}
		})
	}
}

// TestMarkdownLarge: a workflow of more than 200 tasks gets the compact summary, not a picture, by default; one of
// exactly 200 is drawn.
func TestMarkdownLarge(t *testing.T) {
	build := func(n int, changed byte) *workflow.Workflow {
		w := &workflow.Workflow{Name: "big", Tasks: map[string]*workflow.Task{}}
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("t%03d", i)
			p := pkg(id, 'a')
			if i < 30 {
				p = pkg(id, changed)
			}
			w.Tasks[id] = &workflow.Task{ID: id, Package: workflow.PackageRef(p)}
		}
		return w
	}
	for _, tc := range []struct {
		tasks   int
		summary bool
	}{{200, false}, {201, true}, {5000, true}} {
		t.Run(fmt.Sprint(tc.tasks), func(t *testing.T) {
			got := graph.Markdown(between(t, build(tc.tasks, 'a'), build(tc.tasks, 'b')), graph.MarkdownOptions{})
			if gotSummary := strings.HasPrefix(got, "**Graph:**"); gotSummary != tc.summary {
				t.Fatalf("summary = %v, want %v:\n%.300s", gotSummary, tc.summary, got)
			}
			if tc.summary {
				want := fmt.Sprintf("**Graph:** %d tasks, too many to draw here (the limit is 200). Affected: 0 added, 0 removed, 30 changed, 0 renamed: ", tc.tasks)
				if !strings.HasPrefix(got, want) || !strings.Contains(got, " and 10 more.") {
					t.Errorf("summary = %q", got)
				}
				if len(got) > 1000 {
					t.Errorf("summary is %d bytes; it should be compact", len(got))
				}
			}
		})
	}
}
