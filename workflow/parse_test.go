package workflow_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/maestro-conductor/maestro/workflow"
)

// pkg is a valid, pinned package ref.
const pkg = "registry.example.com/etl/extract@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// lines joins lines into a file, so that a test can see the line each error is on.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// head is the first three lines of most test files.
var head = []string{"apiVersion: maestro.dev/v1", "kind: Workflow", "metadata: {name: wf}"}

func withHead(ls ...string) string { return lines(append(append([]string{}, head...), ls...)...) }

func parse(t *testing.T, src string) ([]*workflow.Workflow, error) {
	t.Helper()
	return workflow.Parse("wf.yaml", []byte(src), workflow.Limits{})
}

func errorsOf(err error) []*workflow.Error {
	var list workflow.ErrorList
	if errors.As(err, &list) {
		return list
	}
	var one *workflow.Error
	if errors.As(err, &one) {
		return []*workflow.Error{one}
	}
	return nil
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		// pos is the file:line:column of an error whose message contains msg.
		pos, msg string
		kind     error // nil means ErrInvalid
	}{
		// Unknown fields, at each level.
		{"unknown top-level field", lines("apiVersion: maestro.dev/v1", "kind: Workflow", "metadata: {name: wf}", "extra: 1",
			"spec: {tasks: {t: {package: "+pkg+"}}}"),
			"wf.yaml:4:1", `extra: unknown field "extra"; allowed here: apiVersion, kind, metadata, spec`, nil},
		{"unknown metadata field", lines("apiVersion: maestro.dev/v1", "kind: Workflow", "metadata: {name: wf, owner: me}",
			"spec: {tasks: {t: {package: "+pkg+"}}}"),
			"wf.yaml:3:22", `metadata.owner: unknown field "owner"; allowed here: name, tenant, labels`, nil},
		{"unknown spec field", withHead("spec:", "  task: {}", "  tasks: {t: {package: "+pkg+"}}"),
			"wf.yaml:5:3", `spec.task: unknown field "task"; allowed here: params, defaults, tasks`, nil},
		{"unknown defaults field", withHead("spec:", "  defaults: {retries: 1, backoff: 2s}", "  tasks: {t: {package: "+pkg+"}}"),
			"wf.yaml:5:26", `spec.defaults.backoff: unknown field "backoff"; allowed here: retries, timeout`, nil},
		{"unknown param field", withHead("spec:", "  params:", "    p: {type: string, enum: [a]}", "  tasks: {t: {package: "+pkg+"}}"),
			"wf.yaml:6:23", `spec.params.p.enum: unknown field "enum"; allowed here: type, required, default`, nil},
		{"unknown task field", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, "      image: busybox"),
			"wf.yaml:8:7", `spec.tasks.t.image: unknown field "image"; allowed here: package, params, retries, timeout, dependsOn`, nil},

		// Duplicates.
		{"duplicate key", lines("apiVersion: maestro.dev/v1", "kind: Workflow", "metadata:", "  name: wf", "  name: other",
			"spec: {tasks: {t: {package: "+pkg+"}}}"),
			"wf.yaml:5:3", `metadata.name: duplicate key "name" (first defined at line 4); keep one`, nil},
		{"duplicate task id", withHead("spec:", "  tasks:", "    a: {package: "+pkg+"}", "    b: {package: "+pkg+"}", "    a: {package: "+pkg+"}"),
			"wf.yaml:8:5", `spec.tasks.a: duplicate key "a" (first defined at line 6)`, nil},

		// Names.
		{"bad name", lines("apiVersion: maestro.dev/v1", "kind: Workflow", "metadata: {name: Nightly_ETL}", "spec: {tasks: {t: {package: "+pkg+"}}}"),
			"wf.yaml:3:18", `metadata.name: invalid name "Nightly_ETL": use 1-63 lowercase letters, digits and '-'`, nil},
		{"name too long", lines("apiVersion: maestro.dev/v1", "kind: Workflow", "metadata: {name: "+strings.Repeat("a", 64)+"}", "spec: {tasks: {t: {package: "+pkg+"}}}"),
			"wf.yaml:3:18", `invalid name "aaaa`, nil},
		{"bad tenant", lines("apiVersion: maestro.dev/v1", "kind: Workflow", "metadata: {name: wf, tenant: -acme}", "spec: {tasks: {t: {package: "+pkg+"}}}"),
			"wf.yaml:3:30", `metadata.tenant: invalid tenant "-acme"`, nil},
		{"bad task id", withHead("spec:", "  tasks:", "    Extract: {package: "+pkg+"}"),
			"wf.yaml:6:5", `spec.tasks.Extract: invalid task id "Extract": use 1-63 lowercase letters, digits, '-' and '_'`, nil},
		{"task id ending in underscore", withHead("spec:", "  tasks:", "    load_: {package: "+pkg+"}"),
			"wf.yaml:6:5", `invalid task id "load_"`, nil},
		{"bad param name", withHead("spec:", "  params:", "    1date: {}", "  tasks: {t: {package: "+pkg+"}}"),
			"wf.yaml:6:5", `spec.params.1date: invalid param name "1date": use letters, digits and '_', not starting with a digit`, nil},

		// Durations.
		{"milliseconds", withHead("spec:", "  defaults: {timeout: 100ms}", "  tasks: {t: {package: "+pkg+"}}"),
			"wf.yaml:5:23", `spec.defaults.timeout: duration "100ms": use hours, minutes and seconds (h, m, s)`, nil},
		{"microseconds, Greek mu", withHead("spec:", "  tasks: {t: {package: "+pkg+", timeout: 1000000μs}}"),
			"wf.yaml:5:", `duration "1000000μs": use hours, minutes and seconds`, nil},
		{"nanoseconds", withHead("spec:", "  tasks: {t: {package: "+pkg+", timeout: 1000000000ns}}"),
			"wf.yaml:5:", `duration "1000000000ns": use hours, minutes and seconds`, nil},
		{"zero", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, "      timeout: 0"),
			"wf.yaml:8:16", `spec.tasks.t.timeout: duration "0" must be a positive whole number of seconds`, nil},
		{"zero seconds", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, "      timeout: 0s"),
			"wf.yaml:8:16", `duration "0s" must be a positive whole number of seconds`, nil},
		{"negative", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, "      timeout: -5s"),
			"wf.yaml:8:16", `duration "-5s" must be a positive whole number of seconds`, nil},
		{"negative seconds", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, "      timeout: -5"),
			"wf.yaml:8:16", `duration "-5" must be a positive whole number of seconds`, nil},
		{"negative seconds that would wrap around", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, "      timeout: -36028797018963967"),
			"wf.yaml:8:16", `duration "-36028797018963967" is out of range`, nil},
		{"too many seconds", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, "      timeout: 99999999999"),
			"wf.yaml:8:16", `duration "99999999999" is out of range`, nil},
		{"fractional seconds", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, "      timeout: 1.5s"),
			"wf.yaml:8:16", `duration "1.5s" must be a positive whole number of seconds`, nil},
		{"fractional number", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, "      timeout: 1.5"),
			"wf.yaml:8:16", `invalid duration "1.5": write it like 90s, 10m or 1h30m`, nil},
		{"garbage duration", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, "      timeout: later"),
			"wf.yaml:8:16", `spec.tasks.t.timeout: invalid duration "later": write it like 90s, 10m or 1h30m`, nil},
		{"days", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, "      timeout: 1d"),
			"wf.yaml:8:16", `invalid duration "1d"`, nil},
		{"duration list", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, "      timeout: [1s]"),
			"wf.yaml:8:16", `spec.tasks.t.timeout: expected a value, found a list`, nil},

		// Retries.
		{"retries too many", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, "      retries: 101"),
			"wf.yaml:8:16", `spec.tasks.t.retries: retries must be between 0 and 100, found 101`, nil},
		{"retries negative", withHead("spec:", "  defaults:", "    retries: -1", "  tasks: {t: {package: "+pkg+"}}"),
			"wf.yaml:6:14", `spec.defaults.retries: retries must be between 0 and 100, found -1`, nil},
		{"retries fractional", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, "      retries: 1.5"),
			"wf.yaml:8:16", `spec.tasks.t.retries: expected a whole number, found "1.5"`, nil},
		{"retries quoted", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, `      retries: "3"`),
			"wf.yaml:8:16", `expected a whole number, found "3"`, nil},
		{"retries huge", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, "      retries: 99999999999999999999"),
			"wf.yaml:8:16", `expected a whole number, found "99999999999999999999"`, nil},

		// The graph.
		{"dangling dependsOn", withHead("spec:", "  tasks:", "    extract: {package: "+pkg+"}", "    load:", "      package: "+pkg, "      dependsOn: [extrct]"),
			"wf.yaml:9:19", `spec.tasks.load.dependsOn: task "load" depends on "extrct", which is not a task of workflow "wf"; did you mean "extract"?`, nil},
		{"dangling dependsOn without suggestion", withHead("spec:", "  tasks:", "    extract: {package: "+pkg+"}", "    load:", "      package: "+pkg, "      dependsOn:", "        - extract", "        - transform"),
			"wf.yaml:11:11", `task "load" depends on "transform", which is not a task of workflow "wf"` + "\x00", nil},
		{"self dependency", withHead("spec:", "  tasks:", "    a: {package: "+pkg+", dependsOn: [a]}"),
			"wf.yaml:6:5", `spec.tasks.a.dependsOn: dependency cycle: a → a (each task depends on the next); remove one of these dependencies`, nil},
		{"three-cycle", withHead("spec:", "  tasks:", "    b: {package: "+pkg+", dependsOn: [a]}", "    c: {package: "+pkg+", dependsOn: [b]}", "    a: {package: "+pkg+", dependsOn: [c]}", "    d: {package: "+pkg+", dependsOn: [c]}"),
			"wf.yaml:8:5", `spec.tasks.a.dependsOn: dependency cycle: a → c → b → a`, nil},
		{"dependsOn not a list", withHead("spec:", "  tasks:", "    a: {package: "+pkg+"}", "    b: {package: "+pkg+", dependsOn: a}"),
			"wf.yaml:7:", `spec.tasks.b.dependsOn: expected a list of task ids, found a scalar`, nil},

		// Package refs: a tag alone is valid (refused only at promotion); a malformed ref is not.
		{"package without tag or digest", withHead("spec:", "  tasks:", "    t: {package: registry.example.com/etl/x}"),
			"wf.yaml:6:18", `spec.tasks.t.package: package ref "registry.example.com/etl/x" names neither a tag nor a digest; pin it as registry.example.com/etl/x@sha256:<digest>`, nil},
		{"package short digest", withHead("spec:", "  tasks:", "    t: {package: r.io/x@sha256:abc}"),
			"wf.yaml:6:18", `package ref "r.io/x@sha256:abc": digest must be sha256: followed by 64 lowercase hex digits`, nil},
		{"package uppercase", withHead("spec:", "  tasks:", "    t: {package: r.io/X:1.0}"),
			"wf.yaml:6:18", `package ref "r.io/X:1.0": repository "r.io/X" must be lowercase`, nil},
		{"package bad tag", withHead("spec:", "  tasks:", "    t: {package: \"r.io/x:-1\"}"),
			"wf.yaml:6:18", `tag "-1" must be 1-128 of [A-Za-z0-9_.-]`, nil},
		{"package missing", withHead("spec:", "  tasks:", "    t: {retries: 1}"),
			"wf.yaml:6:5", `spec.tasks.t.package: task "t" has no package; add package: <registry>/<name>@sha256:<digest>`, nil},

		// Params.
		{"required param with default", withHead("spec:", "  params:", "    date: {required: true, default: today}", "  tasks: {t: {package: "+pkg+"}}"),
			"wf.yaml:6:37", `spec.params.date.default: a required param cannot have a default; remove required: true or the default`, nil},
		{"integer default not an integer", withHead("spec:", "  params:", "    n: {type: integer, default: 1.5}", "  tasks: {t: {package: "+pkg+"}}"),
			"wf.yaml:6:33", `spec.params.n.default: default "1.5" is not an integer`, nil},
		{"number default not a number", withHead("spec:", "  params:", "    n: {type: number, default: many}", "  tasks: {t: {package: "+pkg+"}}"),
			"wf.yaml:6:32", `default "many" is not a finite number`, nil},
		{"number default infinite", withHead("spec:", "  params:", "    n: {type: number, default: .inf}", "  tasks: {t: {package: "+pkg+"}}"),
			"wf.yaml:6:32", `default ".inf" is not a finite number`, nil},
		{"boolean default yes", withHead("spec:", "  params:", "    b: {type: boolean, default: yes}", "  tasks: {t: {package: "+pkg+"}}"),
			"wf.yaml:6:33", `default "yes" is not true or false`, nil},
		{"unknown type", withHead("spec:", "  params:", "    l: {type: list}", "  tasks: {t: {package: "+pkg+"}}"),
			"wf.yaml:6:15", `spec.params.l.type: unknown type "list"; use string, integer, number or boolean`, nil},
		{"required not a boolean", withHead("spec:", "  params:", "    l: {required: yes}", "  tasks: {t: {package: "+pkg+"}}"),
			"wf.yaml:6:19", `spec.params.l.required: expected true or false, found "yes"`, nil},
		{"undeclared param reference", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, `      params: {day: "{{ params.date }}"}`),
			"wf.yaml:6:5", `spec.tasks.t.params.day: refers to params.date, which spec.params does not declare; declare it or fix the name`, nil},
		{"task param not a string", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, "      params: {day: [1]}"),
			"wf.yaml:8:21", `spec.tasks.t.params.day: expected a value, found a list`, nil},

		// Missing parts.
		{"missing apiVersion", lines("kind: Workflow", "metadata: {name: wf}", "spec: {tasks: {t: {package: "+pkg+"}}}"),
			"wf.yaml:1:1", `apiVersion: missing apiVersion; add apiVersion: maestro.dev/v1`, nil},
		{"wrong apiVersion", lines("apiVersion: maestro.dev/v2", "kind: Workflow", "metadata: {name: wf}", "spec: {tasks: {t: {package: "+pkg+"}}}"),
			"wf.yaml:1:13", `apiVersion: unsupported apiVersion "maestro.dev/v2"; this maestro reads maestro.dev/v1`, nil},
		{"missing metadata", lines("apiVersion: maestro.dev/v1", "kind: Workflow", "spec: {tasks: {t: {package: "+pkg+"}}}"),
			"wf.yaml:1:1", `metadata: missing metadata; add metadata.name`, nil},
		{"missing name", lines("apiVersion: maestro.dev/v1", "kind: Workflow", "metadata:", "  tenant: acme", "spec: {tasks: {t: {package: "+pkg+"}}}"),
			"wf.yaml:4:3", `metadata.name: missing metadata.name; every workflow needs a unique name`, nil},
		{"missing spec", lines(head...),
			"wf.yaml:1:1", `spec: missing spec; add spec.tasks`, nil},
		{"missing tasks", withHead("spec:", "  params: {}"),
			"wf.yaml:5:3", `spec.tasks: missing spec.tasks; a workflow needs at least one task`, nil},
		{"empty tasks", withHead("spec:", "  tasks: {}"),
			"wf.yaml:5:10", `spec.tasks: no tasks; a workflow needs at least one task`, nil},
		{"tasks a list", withHead("spec:", "  tasks:", "    - a"),
			"wf.yaml:6:5", `spec.tasks: expected a mapping, found a list`, nil},
		{"key not a scalar", withHead("spec:", "  tasks:", "    [a]: {package: "+pkg+"}"),
			"wf.yaml:6:5", `spec.tasks: a key must be a plain value, found a list`, nil},

		// Merge keys.
		{"merge key of a scalar", withHead("spec:", "  tasks:", "    t: {<<: x, package: "+pkg+"}"),
			"wf.yaml:6:13", `a merge key (<<) needs a mapping or a list of mappings, found a scalar`, nil},

		// YAML syntax and hostile files.
		{"syntax error", withHead("spec:", "  tasks:", "    t: {package: "+pkg, "  x: 1"),
			"wf.yaml:", `YAML syntax: did not find expected ',' or '}'`, workflow.ErrSyntax},
		{"escaped slash, ASCII file", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, `      params: {p: "a\/b"}`),
			"wf.yaml:8", `YAML syntax: found unknown escape character`, workflow.ErrSyntax},
		{"escaped slash, non-ASCII file", withHead("spec:", "  tasks:", "    t:", "      package: "+pkg, `      params: {p: "a\/b"} # é`),
			"wf.yaml:8", `YAML syntax: found unknown escape character`, workflow.ErrSyntax},
		{"tab indentation", withHead("spec:", "\ttasks: {}"),
			"wf.yaml:5", `YAML syntax: found character that cannot start any token`, workflow.ErrSyntax},
		{"invalid UTF-8", lines("apiVersion: maestro.dev/v1", "kind: Workflow", "metadata: {name: caf\xe9}"),
			"wf.yaml:3:21", `file is not valid UTF-8; save it as UTF-8`, workflow.ErrNotUTF8},
		{"invalid UTF-8 after multi-byte text", lines("# café 中文", "x: \xff"),
			"wf.yaml:2:4", `not valid UTF-8`, workflow.ErrNotUTF8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, err := parse(t, tc.src)
			if err == nil {
				t.Fatalf("Parse succeeded with %d workflows, want an error at %s containing %q\n%s", len(ws), tc.pos, tc.msg, tc.src)
			}
			if ws != nil {
				t.Errorf("Parse returned workflows along with an error")
			}
			kind := tc.kind
			if kind == nil {
				kind = workflow.ErrInvalid
			}
			// A message ending in NUL must match the end of the error message.
			msg, atEnd := strings.CutSuffix(tc.msg, "\x00")
			var found bool
			for _, e := range errorsOf(err) {
				s := e.Error()
				if strings.HasPrefix(s, tc.pos) && strings.Contains(s, msg) && (!atEnd || strings.HasSuffix(s, msg)) {
					found = true
					if !errors.Is(e, kind) {
						t.Errorf("error %q is not %v", s, kind)
					}
				}
			}
			if !found {
				t.Errorf("no error at %s containing %q; got:\n%v", tc.pos, msg, err)
			}
			if !errors.Is(err, kind) {
				t.Errorf("errors.Is(err, %v) = false", kind)
			}
		})
	}
}

func TestParseNormalizes(t *testing.T) {
	src := withHead(
		"spec:",
		"  params:",
		"    date: {type: string, required: true}",
		"    shard: {default: 7}",
		"    n: {type: integer, default: +007}",
		"    ratio: {type: number, default: 1.50}",
		"    zero: {type: number, default: -0.0}",
		"    on: {type: boolean, default: TRUE}",
		"  defaults: {retries: 2, timeout: 30m}",
		"  tasks:",
		"    a:",
		"      package: r.io/a:1.0",
		"      params: {d: '{{ params.date }}', n: 5}",
		"    b:",
		"      package: "+pkg,
		"      retries: 0",
		"      timeout: 1h30m",
		"      dependsOn: [c, a, c]",
		"    c:",
		"      package: "+pkg,
		"      timeout: 90",
		"      dependsOn: []",
	)
	ws, err := parse(t, src)
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	two, thirty := 2, 30*time.Minute
	want := &workflow.Workflow{
		APIVersion: workflow.APIVersion,
		Name:       "wf",
		Tenant:     "default",
		Labels:     map[string]string{},
		Params: map[string]*workflow.Param{
			"date":  {Name: "date", Type: "string", Required: true},
			"shard": {Name: "shard", Type: "string", Default: str("7")},
			"n":     {Name: "n", Type: "integer", Default: str("7")},
			"ratio": {Name: "ratio", Type: "number", Default: str("1.5")},
			"zero":  {Name: "zero", Type: "number", Default: str("0")},
			"on":    {Name: "on", Type: "boolean", Default: str("true")},
		},
		Defaults: workflow.Defaults{Retries: &two, Timeout: &thirty},
		Tasks: map[string]*workflow.Task{
			"a": {ID: "a", Package: "r.io/a:1.0", Params: map[string]string{"d": "{{ params.date }}", "n": "5"}, Retries: 2, Timeout: 30 * time.Minute},
			"b": {ID: "b", Package: pkg, Params: map[string]string{}, Retries: 0, Timeout: 90 * time.Minute, DependsOn: []string{"a", "c"}},
			"c": {ID: "c", Package: pkg, Params: map[string]string{}, Retries: 2, Timeout: 90 * time.Second, DependsOn: []string{}},
		},
	}
	opts := cmp.Options{
		cmpopts.IgnoreFields(workflow.Workflow{}, "Pos"),
		cmpopts.IgnoreFields(workflow.Param{}, "Pos"),
		cmpopts.IgnoreFields(workflow.Task{}, "Pos"),
		cmpopts.EquateEmpty(),
	}
	if d := cmp.Diff([]*workflow.Workflow{want}, ws, opts); d != "" {
		t.Errorf("Parse() mismatch (-want +got):\n%s", d)
	}
	if got := ws[0].Tasks["b"].Pos; got != (workflow.Position{File: "wf.yaml", Line: 17, Column: 5}) {
		t.Errorf("task b at %v, want wf.yaml:17:5", got)
	}
	if got := ws[0].Params["n"].Pos; got != (workflow.Position{File: "wf.yaml", Line: 8, Column: 5}) {
		t.Errorf("param n at %v, want wf.yaml:8:5", got)
	}
	if ws[0].Tasks["a"].Package.Pinned() || !ws[0].Tasks["b"].Package.Pinned() {
		t.Errorf("Pinned: a tag alone must be unpinned, a digest pinned")
	}
}

func TestParseSkipsOtherKinds(t *testing.T) {
	ws, err := parse(t, lines("apiVersion: v1", "kind: ConfigMap", "metadata: {name: Not_A_Workflow}", "data: {x: y}"))
	if err != nil || len(ws) != 0 {
		t.Fatalf("Parse(ConfigMap) = %d workflows, %v; want none and no error", len(ws), err)
	}
	ws, err = parse(t, "")
	if err != nil || len(ws) != 0 {
		t.Fatalf("Parse(empty) = %d workflows, %v; want none and no error", len(ws), err)
	}
}

func TestParseMultiDocument(t *testing.T) {
	src := lines(
		"apiVersion: maestro.dev/v1",
		"kind: Workflow",
		"metadata: {name: one}",
		"spec: {tasks: {a: {package: "+pkg+"}}}",
		"---",
		"apiVersion: v1",
		"kind: ConfigMap",
		"metadata: {name: skipped}",
		"---",
		"# the second workflow",
		"apiVersion: maestro.dev/v1",
		"kind: Workflow",
		"metadata: {name: two, tenant: acme}",
		"spec: {tasks: {b: {package: "+pkg+"}}}",
		"...",
	)
	ws, err := parse(t, src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		got = append(got, w.Name+"@"+w.Pos.String())
	}
	if want := []string{"one@wf.yaml:1:1", "two@wf.yaml:11:1"}; !cmp.Equal(got, want) {
		t.Errorf("workflows %q, want %q", got, want)
	}

	// An error in the second document names its own line; the first document's workflow is not returned.
	bad := strings.Replace(src, "{b: {package: "+pkg+"}}", "{b: {package: "+pkg+", retries: x}}", 1)
	_, err = parse(t, bad)
	if err == nil || !strings.HasPrefix(err.Error(), "wf.yaml:14:") {
		t.Errorf("Parse = %v, want an error on line 14", err)
	}

	// Each document declares its own params: a reference the first declares is undeclared in the second.
	refs := lines(
		"apiVersion: maestro.dev/v1",
		"kind: Workflow",
		"metadata: {name: one}",
		"spec: {params: {day: {}}, tasks: {a: {package: "+pkg+", params: {d: '{{ params.day }}'}}}}",
		"---",
		"apiVersion: maestro.dev/v1",
		"kind: Workflow",
		"metadata: {name: two}",
		"spec: {tasks: {b: {package: "+pkg+", params: {d: '{{ params.day }}'}}}}",
	)
	_, err = parse(t, refs)
	if err == nil || !strings.Contains(err.Error(), "wf.yaml:9:") || !strings.Contains(err.Error(), "refers to params.day") {
		t.Errorf("Parse = %v, want an undeclared params.day on line 9", err)
	}
}

func TestParseMergeKeys(t *testing.T) {
	src := withHead(
		"spec:",
		"  tasks:",
		"    base: &base",
		"      package: "+pkg,
		"      retries: 2",
		"      params: &p {a: '1', b: '2'}",
		"    over:",
		"      <<: *base",
		"      retries: 5           # explicit keys override merged ones",
		"      params: {<<: *p, b: '3', c: '4'}",
		"    many:",
		"      <<: [{retries: 7, timeout: 9s}, *base]   # earlier sources win",
		"      dependsOn: [base]",
	)
	ws, err := parse(t, src)
	if err != nil {
		t.Fatal(err)
	}
	tasks := ws[0].Tasks
	if got := tasks["over"]; got.Retries != 5 || got.Package != pkg || !cmp.Equal(got.Params, map[string]string{"a": "1", "b": "3", "c": "4"}) {
		t.Errorf("over = %+v", got)
	}
	if got := tasks["many"]; got.Retries != 7 || got.Timeout != 9*time.Second || got.Package != pkg || !cmp.Equal(got.Params, map[string]string{"a": "1", "b": "2"}) {
		t.Errorf("many = %+v", got)
	}

	// A key written twice is an error even when a merge also provides it.
	_, err = parse(t, withHead("spec:", "  tasks:", "    t: {<<: {retries: 1}, package: "+pkg+", retries: 2, retries: 3}"))
	if err == nil || !strings.Contains(err.Error(), `duplicate key "retries"`) {
		t.Errorf("duplicate explicit key next to a merge: %v", err)
	}
}

// billionLaughs is nine levels of nine aliases: 9^9 (387 million) nodes once expanded.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString("apiVersion: maestro.dev/v1\nkind: Workflow\nmetadata: {name: lol}\nx:\n")
	b.WriteString("  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 9; i++ {
		prev := "*l" + string(rune('0'+i-1))
		b.WriteString("  l" + string(rune('0'+i)) + ": &l" + string(rune('0'+i)) + " [" + strings.Repeat(prev+", ", 8) + prev + "]\n")
	}
	b.WriteString("spec: {tasks: {t: {package: " + pkg + ", params: *l8}}}\n")
	return b.String()
}

func TestParseAliasBomb(t *testing.T) {
	_, err := parse(t, billionLaughs())
	if !errors.Is(err, workflow.ErrAliasExpansion) {
		t.Fatalf("Parse(billion laughs) = %v, want ErrAliasExpansion", err)
	}
	for _, e := range errorsOf(err) {
		if errors.Is(e, workflow.ErrAliasExpansion) && (!strings.Contains(e.Msg, `"billion laughs"`) || e.Pos.File != "wf.yaml" || e.Pos.Line != 14) {
			t.Errorf("error %q should name the file, the line of the alias and the problem", e)
		}
	}
	// The check costs memory in proportion to the file, not to the expansion.
	allocs := testing.AllocsPerRun(3, func() { _, _ = workflow.Parse("wf.yaml", []byte(billionLaughs()), workflow.Limits{}) })
	if allocs > 5000 {
		t.Errorf("Parse(billion laughs) made %.0f allocations, want a few hundred", allocs)
	}

	// An anchor that contains itself is a bomb too.
	_, err = parse(t, lines("apiVersion: maestro.dev/v1", "kind: Workflow", "metadata: {name: a}", "spec: &s {tasks: {t: {package: r:1, params: *s}}}"))
	if err == nil {
		t.Fatal("Parse(self-referencing anchor) succeeded")
	}

	// Aliases under the limit are fine.
	ws, err := workflow.Parse("wf.yaml", []byte(billionLaughs()), workflow.Limits{MaxAliasNodes: 1})
	if !errors.Is(err, workflow.ErrAliasExpansion) || ws != nil {
		t.Errorf("a limit of 1 alias node: %v", err)
	}
}

func TestParseTooLarge(t *testing.T) {
	// Invalid UTF-8 and invalid YAML: an ErrTooLarge rather than either proves the file was not read.
	data := []byte(strings.Repeat("\xff: [", 60))
	_, err := workflow.Parse("big.yaml", data, workflow.Limits{MaxFileSize: 100})
	if !errors.Is(err, workflow.ErrTooLarge) {
		t.Fatalf("Parse(240 bytes, limit 100) = %v, want ErrTooLarge", err)
	}
	if want := "big.yaml: file is 240 bytes, over the limit of 100 bytes"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
	if _, err := workflow.Parse("ok.yaml", []byte(withHead("spec: {tasks: {t: {package: "+pkg+"}}}")), workflow.Limits{MaxFileSize: 200}); err != nil {
		t.Errorf("a file under the limit: %v", err)
	}
}

func TestParseDeepNesting(t *testing.T) {
	for name, src := range map[string]string{
		"flow":    "kind: Workflow\nspec: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n",
		"block":   "kind: Workflow\nspec:\n" + strings.Repeat("- ", 20000) + "x\n",
		"mapping": "kind: Workflow\nspec: " + strings.Repeat("{a: ", 20000) + "x" + strings.Repeat("}", 20000) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parse(t, src)
			if err == nil {
				t.Fatal("Parse of 20,000 levels of nesting succeeded")
			}
			if !errors.Is(err, workflow.ErrSyntax) && !errors.Is(err, workflow.ErrInvalid) {
				t.Errorf("error %v is neither a syntax error nor an invalid workflow", err)
			}
		})
	}
}

func TestParseErrorOrderAndCap(t *testing.T) {
	// Problems come in line order; a file with very many is cut off rather than reported in full.
	var ls []string
	ls = append(ls, head...)
	ls = append(ls, "spec:", "  tasks:")
	for i := range 200 {
		ls = append(ls, "    t"+strings.Repeat("x", i%5)+string(rune('a'+i%26))+string(rune('a'+i/26))+": {package: "+pkg+", retries: -1}")
	}
	_, err := parse(t, lines(ls...))
	errs := errorsOf(err)
	if len(errs) == 0 || len(errs) > 51 {
		t.Fatalf("%d errors for 200 bad tasks, want between 1 and 51", len(errs))
	}
	for i := 1; i < len(errs); i++ {
		if errs[i].Pos.Line < errs[i-1].Pos.Line {
			t.Fatalf("errors out of line order: %v before %v", errs[i-1].Pos, errs[i].Pos)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	e := &workflow.Error{Pos: workflow.Position{File: "a.yaml", Line: 3, Column: 7}, Field: "spec.tasks", Msg: "no tasks"}
	if got, want := e.Error(), "a.yaml:3:7: spec.tasks: no tasks"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (workflow.Position{}).String(), "<input>"; got != want {
		t.Errorf("Position{}.String() = %q, want %q", got, want)
	}
	if got, want := (workflow.Position{File: "f", Line: 2}).String(), "f:2"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	list := workflow.ErrorList{e, {Pos: workflow.Position{File: "b.yaml"}, Msg: "x", Kind: workflow.ErrTooLarge}}
	if !errors.Is(list, workflow.ErrTooLarge) || !errors.Is(list, workflow.ErrInvalid) {
		t.Errorf("errors.Is does not see into an ErrorList")
	}
	if got := list.Error(); !strings.HasPrefix(got, "2 problems:\n  a.yaml:3:7: spec.tasks: no tasks\n  b.yaml: x") {
		t.Errorf("ErrorList.Error() = %q", got)
	}
}
