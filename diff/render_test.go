package diff_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/maestro-conductor/maestro/diff"
	"github.com/maestro-conductor/maestro/workflow"
)

// small returns a one- or two-task workflow, for the workflows of a fixture that are not the point.
func small(name, labels, pkgDigest string) string {
	return `
apiVersion: maestro.dev/v1
kind: Workflow
metadata: {name: ` + name + `, labels: {` + labels + `}}
spec:
  tasks:
    run: {package: "reg.example.com/etl/` + name + `@` + pkgDigest + `"}
    report: {package: "reg.example.com/etl/report@{E}", dependsOn: [run]}
`
}

// fixtureFiles returns the old and new files of the renderer fixture: one workflow of each status.
func fixtureFiles(t *testing.T) (old, new []string) {
	etl := edit(t,
		"team: data", "team: ml",
		"region: {type: string}", "region: {type: string, required: true}",
		`shard: {type: string, default: "0"}`, `shard: {type: string, default: "1"}`,
		"etl/load@{C}", "etl/load@{D}",
		"    transform:", "    shape:",
		"dependsOn: [transform]", "dependsOn: [shape, extract]",
		"mode: full", "mode: delta",
		"timeout: 10m", "timeout: 15m",
	)
	old = []string{base, small("docs-site", "team: docs", "{A}"), small("legacy", "", "{B}"), small("stable", "", "{C}")}
	new = []string{etl, small("docs-site", "team: writers", "{A}"), small("billing", "", "{D}"), small("stable", "", "{C}")}
	return old, new
}

func fixture(t *testing.T) diff.Result {
	t.Helper()
	old, new := fixtureFiles(t)
	r, err := diff.Between(parseDocs(t, old...), parseDocs(t, new...))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRenderGolden(t *testing.T) {
	r := fixture(t)
	render := map[string]func() ([]byte, error){
		"report.txt.golden": func() ([]byte, error) {
			var b bytes.Buffer
			err := diff.WriteText(&b, r, diff.TextOptions{})
			return b.Bytes(), err
		},
		"report-unchanged.txt.golden": func() ([]byte, error) {
			var b bytes.Buffer
			err := diff.WriteText(&b, r, diff.TextOptions{ShowUnchanged: true})
			return b.Bytes(), err
		},
		"report-color.txt.golden": func() ([]byte, error) {
			var b bytes.Buffer
			err := diff.WriteText(&b, r, diff.TextOptions{Color: true})
			return b.Bytes(), err
		},
		"report.json.golden": func() ([]byte, error) {
			var b bytes.Buffer
			err := diff.WriteJSON(&b, r)
			return b.Bytes(), err
		},
		"report.md.golden": func() ([]byte, error) {
			return []byte(diff.Markdown(r, diff.MarkdownOptions{})), nil
		},
	}
	for name, f := range render {
		t.Run(name, func(t *testing.T) {
			got, err := f()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name, got)
		})
	}
}

func TestWriteTextColor(t *testing.T) {
	r := fixture(t)
	var plain, color bytes.Buffer
	if err := diff.WriteText(&plain, r, diff.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := diff.WriteText(&color, r, diff.TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(plain.Bytes(), []byte("\x1b")) {
		t.Error("text without colour contains an escape sequence")
	}
	for _, code := range []string{"\x1b[1m", "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[36m", "\x1b[0m"} {
		if !bytes.Contains(color.Bytes(), []byte(code)) {
			t.Errorf("coloured text lacks %q", code)
		}
	}
	stripped := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAll(color.Bytes(), nil)
	if d := cmp.Diff(plain.String(), string(stripped)); d != "" {
		t.Errorf("coloured text without its colours differs from plain text (-plain +stripped):\n%s", d)
	}
}

func TestWriteTextNoChanges(t *testing.T) {
	s := parseDocs(t, base)
	r, err := diff.Between(s, s)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := diff.WriteText(&b, r, diff.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "no workflow changes (1 compared)\n"; got != want {
		t.Errorf("WriteText() = %q, want %q", got, want)
	}
}

// TestWriteTextHostileValues checks that values cannot forge lines or send escape sequences to a terminal.
func TestWriteTextHostileValues(t *testing.T) {
	a := parseDocs(t, base)
	b := parseDocs(t, edit(t, "mode: full", `mode: "x\n  breaking  param.removed   spec.params.fake\e[2J"`))
	r, err := diff.Between(a, b)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := diff.WriteText(&out, r, diff.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out.Bytes(), []byte("\x1b")) {
		t.Errorf("text output passes an escape sequence through:\n%q", out.String())
	}
	if n := strings.Count(out.String(), "\n"); n != 3 { // workflow line, one change, summary
		t.Errorf("text output has %d lines, want 3:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), `full → "x\n  breaking  param.removed   spec.params.fake\x1b[2J"`) {
		t.Errorf("hostile value not quoted:\n%s", out.String())
	}
}

// jsonKeys are the keys docs/diff-json.md documents, per object.
var jsonKeys = map[string][]string{
	"report":   {"schemaVersion", "changed", "breaking", "summary", "statuses", "workflows"},
	"workflow": {"name", "status", "oldDigest", "newDigest", "changes"},
	"change":   {"kind", "class", "path", "task", "old", "new"},
}

func TestWriteJSON(t *testing.T) {
	r := fixture(t)
	var first bytes.Buffer
	if err := diff.WriteJSON(&first, r); err != nil {
		t.Fatal(err)
	}
	t.Run("valid, with the documented keys", func(t *testing.T) {
		var rep map[string]any
		if err := json.Unmarshal(first.Bytes(), &rep); err != nil {
			t.Fatalf("invalid JSON: %v\n%s", err, first.String())
		}
		checkKeys(t, "report", rep)
		if rep["schemaVersion"] != float64(1) {
			t.Errorf("schemaVersion = %v, want 1", rep["schemaVersion"])
		}
		if d := cmp.Diff(map[string]any{"breaking": 2.0, "behavioral": 7.0, "metadata": 2.0}, rep["summary"]); d != "" {
			t.Errorf("summary mismatch (-want +got):\n%s", d)
		}
		if d := cmp.Diff(map[string]any{"added": 1.0, "removed": 1.0, "modified": 1.0, "metadata": 1.0, "unchanged": 1.0}, rep["statuses"]); d != "" {
			t.Errorf("statuses mismatch (-want +got):\n%s", d)
		}
		var names []string
		for _, w := range rep["workflows"].([]any) {
			wm := w.(map[string]any)
			checkKeys(t, "workflow", wm)
			names = append(names, wm["name"].(string))
			changes, ok := wm["changes"].([]any)
			if !ok {
				t.Errorf("workflow %s: changes is %T, want an array", wm["name"], wm["changes"])
			}
			var keys []string
			for _, c := range changes {
				cm := c.(map[string]any)
				checkKeys(t, "change", cm)
				keys = append(keys, cm["path"].(string)+"\x00"+cm["kind"].(string))
			}
			if !sort.StringsAreSorted(keys) {
				t.Errorf("workflow %s: changes not sorted by path, then kind", wm["name"])
			}
		}
		if !sort.StringsAreSorted(names) || len(names) != 5 {
			t.Errorf("workflows %v, want 5 sorted by name", names)
		}
	})
	t.Run("stable", func(t *testing.T) {
		var again bytes.Buffer
		if err := diff.WriteJSON(&again, r); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first.Bytes(), again.Bytes()) {
			t.Error("rendering the same result twice gave different bytes")
		}
		// The same workflows, parsed from files in other orders and with tasks written in other orders: map
		// iteration differs from build to build, the bytes must not.
		old, new := fixtureFiles(t)
		if reorderTasks(base) == base || reorderTasks(old[1]) == old[1] {
			t.Fatal("reorderTasks changed nothing")
		}
		for i := range 8 {
			o, n := slices.Clone(old), slices.Clone(new)
			if i%2 == 1 {
				for j := range o {
					o[j] = reorderTasks(o[j])
				}
				for j := range n {
					n[j] = reorderTasks(reorderTasks(n[j]))
				}
				slices.Reverse(o)
			}
			rotate(o, i)
			rotate(n, i+3)
			r2, err := diff.Between(parseDocs(t, o...), parseDocs(t, n...))
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := diff.WriteJSON(&b, r2); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first.Bytes(), b.Bytes()) {
				t.Fatalf("build %d: JSON differs from the first rendering:\n%s", i, cmp.Diff(first.String(), b.String()))
			}
		}
	})
	t.Run("empty", func(t *testing.T) {
		var b bytes.Buffer
		if err := diff.WriteJSON(&b, diff.Result{}); err != nil {
			t.Fatal(err)
		}
		want := `{
  "schemaVersion": 1,
  "changed": false,
  "breaking": false,
  "summary": {
    "behavioral": 0,
    "breaking": 0,
    "metadata": 0
  },
  "statuses": {},
  "workflows": []
}
`
		if d := cmp.Diff(want, b.String()); d != "" {
			t.Errorf("WriteJSON(empty) mismatch (-want +got):\n%s", d)
		}
	})
}

func rotate(s []string, n int) {
	n %= len(s)
	slices.Reverse(s[:n])
	slices.Reverse(s[n:])
	slices.Reverse(s)
}

// reorderTasks moves the first task of a block-style workflow to the end of spec.tasks.
func reorderTasks(doc string) string {
	head, tasks, ok := strings.Cut(doc, "  tasks:\n")
	if !ok {
		return doc
	}
	lines := strings.SplitAfter(tasks, "\n")
	end := 1
	for end < len(lines) && strings.HasPrefix(lines[end], "      ") {
		end++
	}
	return head + "  tasks:\n" + strings.Join(lines[end:], "") + strings.Join(lines[:end], "")
}

// requiredKeys are the keys always present; the others of jsonKeys are left out when empty.
var requiredKeys = map[string][]string{
	"report":   jsonKeys["report"],
	"workflow": {"name", "status", "changes"},
	"change":   {"kind", "class", "path"},
}

func checkKeys(t *testing.T, what string, m map[string]any) {
	t.Helper()
	for k := range m {
		if !slices.Contains(jsonKeys[what], k) {
			t.Errorf("%s has undocumented key %q", what, k)
		}
	}
	for _, k := range requiredKeys[what] {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks key %q", what, k)
		}
	}
}

// TestDocsDescribeEveryKind keeps docs/diff-json.md in step with the change kinds and JSON keys.
func TestDocsDescribeEveryKind(t *testing.T) {
	doc, err := os.ReadFile("../docs/diff-json.md")
	if err != nil {
		t.Fatal(err)
	}
	kinds := []diff.Kind{diff.WorkflowAdded, diff.WorkflowRemoved, diff.WorkflowTenant, diff.TaskAdded, diff.TaskRemoved,
		diff.TaskRenamed, diff.TaskPackage, diff.TaskParam, diff.TaskRetries, diff.TaskTimeout, diff.EdgeAdded,
		diff.EdgeRemoved, diff.ParamAdded, diff.ParamRemoved, diff.ParamRequired, diff.ParamType, diff.ParamDefault,
		diff.LabelAdded, diff.LabelRemoved, diff.LabelChanged}
	for _, k := range kinds {
		if !bytes.Contains(doc, []byte("| `"+string(k)+"` |")) {
			t.Errorf("docs/diff-json.md has no table row for kind %s", k)
		}
	}
	for what, keys := range jsonKeys {
		for _, k := range keys {
			if !bytes.Contains(doc, []byte("| `"+k+"` |")) {
				t.Errorf("docs/diff-json.md has no table row for %s key %s", what, k)
			}
		}
	}
}

// manyWorkflows returns a result with n modified workflows; workflow i has 2+3i tasks, each with a new package.
func manyWorkflows(t *testing.T, n int) diff.Result {
	t.Helper()
	gen := func(name string, tasks int, digest byte) string {
		var b strings.Builder
		fmt.Fprintf(&b, "apiVersion: maestro.dev/v1\nkind: Workflow\nmetadata: {name: %s}\nspec:\n  tasks:\n", name)
		for j := range tasks {
			fmt.Fprintf(&b, "    step-%03d: {package: \"registry.example.com/some/long/path/to/package-%03d@sha256:%s\"", j, j, strings.Repeat(string(digest), 64))
			if j > 0 {
				fmt.Fprintf(&b, ", dependsOn: [step-%03d]", j-1)
			}
			b.WriteString("}\n")
		}
		return b.String()
	}
	var old, new []*workflow.Workflow
	for i := range n {
		name := fmt.Sprintf("wf-%02d", i)
		for _, v := range []struct {
			into   *[]*workflow.Workflow
			digest byte
		}{{&old, '1'}, {&new, '2'}} {
			ws, err := workflow.Parse(name+".yaml", []byte(gen(name, 2+3*i, v.digest)), workflow.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			*v.into = append(*v.into, ws...)
		}
	}
	a, err := workflow.NewSet(old)
	if err != nil {
		t.Fatal(err)
	}
	b, err := workflow.NewSet(new)
	if err != nil {
		t.Fatal(err)
	}
	r, err := diff.Between(a, b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var noteRE = regexp.MustCompile(`\n> \[!NOTE\]\n> (\d+) of (\d+) changed workflows are not shown here to stay within (\d+) characters\. `)

func TestMarkdownTruncation(t *testing.T) {
	const workflows = 14
	r := manyWorkflows(t, workflows)
	full := diff.Markdown(r, diff.MarkdownOptions{MaxBytes: 1 << 30})
	if len(full) <= diff.MaxCommentBytes {
		t.Fatalf("fixture too small: the full report is %d bytes, want more than %d", len(full), diff.MaxCommentBytes)
	}
	if n := strings.Count(full, "<details>"); n != workflows {
		t.Fatalf("full report has %d <details> blocks, want %d", n, workflows)
	}
	tests := []struct {
		name  string
		opts  diff.MarkdownOptions
		limit int
		note  string
	}{
		{"4000", diff.MarkdownOptions{MaxBytes: 4000}, 4000, "Run `maestro diff --output markdown` for the full report.\n"},
		{"default", diff.MarkdownOptions{}, diff.MaxCommentBytes, "Run `maestro diff --output markdown` for the full report.\n"},
		{"custom note", diff.MarkdownOptions{MaxBytes: 20000, TruncatedNote: "See the [workflow run](https://ci.example.com/run/1)."},
			20000, "See the [workflow run](https://ci.example.com/run/1).\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := diff.Markdown(r, tc.opts)
			if len(got) > tc.limit {
				t.Errorf("output is %d bytes, over the limit of %d", len(got), tc.limit)
			}
			if !strings.HasSuffix(got, tc.note) {
				t.Errorf("output does not end with the note %q:\n...%s", tc.note, got[max(0, len(got)-300):])
			}
			opened, closed := strings.Count(got, "<details>"), strings.Count(got, "</details>")
			if opened != closed {
				t.Errorf("%d <details> opened, %d closed", opened, closed)
			}
			if opened == 0 {
				t.Errorf("no <details> block fits in %d bytes; the fixture should let some through", tc.limit)
			}
			// The summary sentence, then the table, then the blocks.
			if !strings.HasPrefix(got, "### maestro diff\n\nNo breaking changes. 14 of 14 workflows changed") {
				t.Errorf("output does not start with the title and summary:\n%.200s", got)
			}
			table := strings.Index(got, "\n| Workflow | Status |")
			if table < 0 || table > strings.Index(got, "<details>") {
				t.Errorf("summary table missing or not before the first <details> block")
			}
			if rows := strings.Count(got, "\n| `wf-"); rows != workflows {
				t.Errorf("summary table has %d rows, want one per changed workflow (%d)", rows, workflows)
			}
			m := noteRE.FindStringSubmatchIndex(got)
			if m == nil {
				t.Fatalf("no truncation note in:\n...%s", got[max(0, len(got)-400):])
			}
			body := got[:m[0]]
			if !strings.HasSuffix(body, "</details>\n") {
				t.Errorf("the cut is not at a </details> boundary:\n...%s", body[max(0, len(body)-200):])
			}
			if !strings.HasPrefix(full, body) {
				t.Error("the truncated report is not a prefix of the full one: a block was changed or skipped")
			}
			left, _ := strconv.Atoi(got[m[2]:m[3]])
			total, _ := strconv.Atoi(got[m[4]:m[5]])
			limit, _ := strconv.Atoi(got[m[6]:m[7]])
			if left != workflows-opened || total != workflows || limit != tc.limit {
				t.Errorf("note says %d of %d left out within %d; want %d of %d within %d", left, total, limit, workflows-opened, workflows, tc.limit)
			}
			// Nothing more could have fitted: the next block would have broken the limit.
			next := full[len(body):]
			if end := strings.Index(next, "</details>\n"); end >= 0 && len(body)+end+len("</details>\n")+len(got)-len(body) <= tc.limit {
				t.Errorf("the next block (%d bytes) would have fitted", end+len("</details>\n"))
			}
		})
	}
	t.Run("fits", func(t *testing.T) {
		got := diff.Markdown(r, diff.MarkdownOptions{MaxBytes: len(full) + 1000})
		if got != full {
			t.Error("a report under the limit was changed")
		}
		if strings.Contains(got, "[!NOTE]") {
			t.Error("a report under the limit has a truncation note")
		}
	})
}

func TestMarkdownOptions(t *testing.T) {
	r := fixture(t)
	got := diff.Markdown(r, diff.MarkdownOptions{
		Header: "<!-- maestro-diff -->\n## Workflow changes",
		Extra: func(w diff.Workflow) string {
			if w.Name != "etl" {
				return ""
			}
			return "```mermaid\ngraph TD\n```"
		},
	})
	if !strings.HasPrefix(got, "<!-- maestro-diff -->\n## Workflow changes\n\n**2 breaking change(s).**") {
		t.Errorf("custom header not first:\n%.200s", got)
	}
	if n := strings.Count(got, "```mermaid"); n != 1 {
		t.Errorf("Extra output appears %d times, want once (etl only)", n)
	}
	if i, j := strings.Index(got, "```mermaid"), strings.Index(got, "<b>etl</b>"); i < j || j < 0 {
		t.Error("Extra output is not inside etl's <details> block")
	}

	s := parseDocs(t, base)
	same, err := diff.Between(s, s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := diff.Markdown(same, diff.MarkdownOptions{}), "### maestro diff\n\nNo workflow changes (1 compared).\n\n"; got != want {
		t.Errorf("Markdown(no changes) = %q, want %q", got, want)
	}
}

// TestMarkdownEscaping checks that values from the compared files cannot break the tables or inject HTML.
func TestMarkdownEscaping(t *testing.T) {
	hostile := `
apiVersion: maestro.dev/v1
kind: Workflow
metadata:
  name: esc
  labels:
    "a|b": "x|y"
    cmd: "` + "`rm -rf /`" + `"
    html: "<script>alert(1)</script>"
    "<img src=x onerror=alert(1)>": "</details><details open>"
    multi: "line one\n| fake | row |\r\nline three"
spec:
  tasks:
    run:
      package: reg.example.com/etl/run@{A}
      params: {"q|x": "a | b", sql: "` + "select `x`" + ` from t\n-- <b>bold</b>"}
`
	plain := `
apiVersion: maestro.dev/v1
kind: Workflow
metadata: {name: esc}
spec:
  tasks:
    run: {package: "reg.example.com/etl/run@{A}"}
`
	r, err := diff.Between(parseDocs(t, plain), parseDocs(t, hostile))
	if err != nil {
		t.Fatal(err)
	}
	changes := r.Workflows[0].Changes
	if len(changes) != 7 {
		t.Fatalf("got %d changes, want 7: %v", len(changes), changes)
	}
	got := diff.Markdown(r, diff.MarkdownOptions{})
	for _, raw := range []string{"<script", "<img", "<b>bold", "<details open>", "`rm", "`x`"} {
		if strings.Contains(got, raw) {
			t.Errorf("raw %q passed into the markdown", raw)
		}
	}
	if strings.Count(got, "<details>") != 1 || strings.Count(got, "</details>") != 1 {
		t.Errorf("a value opened or closed a <details> block:\n%s", got)
	}
	var rows []string
	for line := range strings.SplitSeq(got, "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| Class") && !strings.HasPrefix(line, "| Workflow") && !strings.HasPrefix(line, "| `esc`") {
			rows = append(rows, line)
		}
		if strings.HasPrefix(line, "|") && !strings.HasPrefix(line, "|---") {
			if n := strings.Count(line, "|"); n != 6 && n != 8 {
				t.Errorf("table row has %d pipes, want 6 (or 8 in the summary table): %q", n, line)
			}
		}
	}
	if len(rows) != len(changes) {
		t.Errorf("changes table has %d rows, want one per change (%d):\n%s", len(rows), len(changes), strings.Join(rows, "\n"))
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "x&#124;y", "&#96;rm -rf /&#96;", "line one↵&#124; fake &#124; row &#124;↵line three"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks the escaped form %q", want)
		}
	}
}

// docBlock returns the bounds of the fenced block that follows "<!-- example: name -->" in doc.
func docBlock(t *testing.T, doc, name string) (start, end int) {
	t.Helper()
	marker := "<!-- example: " + name + " -->\n"
	i := strings.Index(doc, marker)
	if i < 0 {
		t.Fatalf("docs/diff-json.md has no %q marker", marker)
	}
	i += len(marker)
	open := strings.Index(doc[i:], "\n")
	if !strings.HasPrefix(doc[i:], "```") || open < 0 {
		t.Fatalf("no fenced block after %q", marker)
	}
	start = i + open + 1
	closing := strings.Index(doc[start:], "```\n")
	if closing < 0 {
		t.Fatalf("unclosed block after %q", marker)
	}
	return start, start + closing
}

// TestDocsExample checks that the example in docs/diff-json.md is what the renderer writes for its two files.
func TestDocsExample(t *testing.T) {
	const path = "../docs/diff-json.md"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	parse := func(name string) *workflow.Set {
		s, e := docBlock(t, doc, name)
		return parseDocs(t, doc[s:e])
	}
	r, err := diff.Between(parse("old.yaml"), parse("new.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := diff.WriteJSON(&got, r); err != nil {
		t.Fatal(err)
	}
	s, e := docBlock(t, doc, "report.json")
	if os.Getenv("MAESTRO_UPDATE") != "" {
		if err := os.WriteFile(path, []byte(doc[:s]+got.String()+doc[e:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if d := cmp.Diff(doc[s:e], got.String()); d != "" {
		t.Errorf("the JSON example in %s is not the renderer's output (-doc +got); run MAESTRO_UPDATE=1 go test ./diff/:\n%s", path, d)
	}
}

func TestWriteTextEmptyValue(t *testing.T) {
	r, err := diff.Between(parseDocs(t, base), parseDocs(t, edit(t, "mode: full", `mode: ""`)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := diff.WriteText(&out, r, diff.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := "spec.tasks.extract.params.mode  full → \"\"\n"; !strings.Contains(out.String(), want) {
		t.Errorf("WriteText() lacks %q:\n%s", want, out.String())
	}
}
