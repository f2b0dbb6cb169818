package action

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/maestro-conductor/maestro/internal/cli"
)

type actionFile struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Author      string `yaml:"author"`
	Branding    struct {
		Icon  string `yaml:"icon"`
		Color string `yaml:"color"`
	} `yaml:"branding"`
	Inputs map[string]struct {
		Description string  `yaml:"description"`
		Required    bool    `yaml:"required"`
		Default     *string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
		Value       string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string `yaml:"using"`
		Steps []step `yaml:"steps"`
	} `yaml:"runs"`
}

type step struct {
	Name  string            `yaml:"name"`
	ID    string            `yaml:"id"`
	Shell string            `yaml:"shell"`
	Run   string            `yaml:"run"`
	Uses  string            `yaml:"uses"`
	If    string            `yaml:"if"`
	Env   map[string]string `yaml:"env"`
	With  map[string]string `yaml:"with"`
}

var (
	exprRE       = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)
	inputRefRE   = regexp.MustCompile(`\binputs\.([A-Za-z0-9_-]+)`)
	stepOutRE    = regexp.MustCompile(`\bsteps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)`)
	outputValRE  = regexp.MustCompile(`^\$\{\{\s*steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)\s*\}\}$`)
	scriptRefRE  = regexp.MustCompile(`"?\$GITHUB_ACTION_PATH"?/([A-Za-z0-9_.-]+)`)
	flagRE       = regexp.MustCompile(`(?:^|\s)(--[a-z][a-z0-9-]*)`)
	ciCommandRE  = regexp.MustCompile(`\bci github-comment\b`)
	writesOutput = func(name string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^.*\b` + regexp.QuoteMeta(name) + `=.*>>\s*"?\$\{?GITHUB_OUTPUT\}?"?`)
	}
)

func load(t *testing.T) (actionFile, []byte) {
	t.Helper()
	raw, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a actionFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true) // a misspelt key (sheel:, output:) is an error, not a silently ignored field
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return a, raw
}

// script is a run step's text together with the scripts it runs from the action's directory.
func script(t *testing.T, s step) string {
	t.Helper()
	text := s.Run
	for _, m := range scriptRefRE.FindAllStringSubmatch(s.Run, -1) {
		b, err := os.ReadFile(m[1])
		if err != nil {
			t.Errorf("step %q runs $GITHUB_ACTION_PATH/%s: %v", s.ID, m[1], err)
			continue
		}
		text += "\n" + string(b)
	}
	return text
}

// sets reports whether the step's script writes the step output name to $GITHUB_OUTPUT: literally, or by running
// `maestro ci github-comment`, which writes cli.GitHubCommentOutputs (the ci_*.txtar scripts check it does).
func sets(text, name string) bool {
	if writesOutput(name).MatchString(text) {
		return true
	}
	return ciCommandRE.MatchString(text) && slices.Contains(cli.GitHubCommentOutputs(), name)
}

func TestActionStructure(t *testing.T) {
	a, raw := load(t)
	if a.Name == "" || a.Description == "" {
		t.Error("action.yml needs a name and a description")
	}
	if a.Runs.Using != "composite" {
		t.Errorf("runs.using = %q, want composite", a.Runs.Using)
	}

	// The inputs the issue asks for, with fail-on defaulting to breaking; every input described.
	var names []string
	for n, in := range a.Inputs {
		names = append(names, n)
		if in.Description == "" {
			t.Errorf("input %s has no description", n)
		}
	}
	sort.Strings(names)
	if want := []string{"comment", "fail-on", "github-token", "version", "workflows-path"}; !slices.Equal(names, want) {
		t.Errorf("inputs = %v, want %v", names, want)
	}
	if d := a.Inputs["fail-on"].Default; d == nil || *d != "breaking" {
		t.Errorf("fail-on default = %v, want breaking", d)
	}

	// Every ${{ inputs.X }} anywhere is declared, and every declared input is used.
	used := map[string]bool{}
	for _, m := range exprRE.FindAllStringSubmatch(string(raw), -1) {
		for _, in := range inputRefRE.FindAllStringSubmatch(m[1], -1) {
			used[in[1]] = true
			if _, ok := a.Inputs[in[1]]; !ok {
				t.Errorf("${{ %s }} uses undeclared input %q", m[1], in[1])
			}
		}
	}
	for n := range a.Inputs {
		if !used[n] {
			t.Errorf("input %q is declared but never used", n)
		}
	}

	// Steps: shell on every run step, ids unique, no expression spliced into a script, step outputs used by later
	// steps set by an earlier one.
	byID := map[string]int{}
	texts := make([]string, len(a.Runs.Steps))
	for i, s := range a.Runs.Steps {
		if s.Run == "" && s.Uses == "" {
			t.Errorf("step %d (%s) neither runs nor uses anything", i, s.Name)
		}
		if s.Run != "" {
			if s.Shell == "" {
				t.Errorf("step %d (%s) runs a script without shell:", i, s.Name)
			}
			if strings.Contains(s.Run, "${{") {
				t.Errorf("step %d (%s) splices an expression into its script; pass it through env:", i, s.Name)
			}
			texts[i] = script(t, s)
		}
		if s.ID != "" {
			if _, dup := byID[s.ID]; dup {
				t.Errorf("step id %q used twice", s.ID)
			}
			byID[s.ID] = i
		}
		for k, v := range s.Env {
			for _, m := range stepOutRE.FindAllStringSubmatch(v, -1) {
				j, ok := byID[m[1]]
				switch {
				case !ok:
					t.Errorf("step %d env %s uses steps.%s, which is not an earlier step", i, k, m[1])
				case !sets(texts[j], m[2]):
					t.Errorf("step %d env %s uses output %q that step %q never writes to $GITHUB_OUTPUT", i, k, m[2], m[1])
				}
			}
		}
	}

	// Every declared output's value is exactly a step output that its step sets.
	for _, want := range []string{"changed", "breaking", "report"} {
		if _, ok := a.Outputs[want]; !ok {
			t.Errorf("output %q is missing", want)
		}
	}
	for n, o := range a.Outputs {
		m := outputValRE.FindStringSubmatch(strings.TrimSpace(o.Value))
		if m == nil {
			t.Errorf("output %s: value %q is not ${{ steps.ID.outputs.NAME }}", n, o.Value)
			continue
		}
		j, ok := byID[m[1]]
		if !ok {
			t.Errorf("output %s: no step with id %q", n, m[1])
			continue
		}
		if !sets(texts[j], m[2]) {
			t.Errorf("output %s: step %q never writes %q to $GITHUB_OUTPUT", n, m[1], m[2])
		}
		if o.Description == "" {
			t.Errorf("output %s has no description", n)
		}
	}
}

// TestActionFlags: every flag the action passes to maestro exists, so a renamed flag breaks this test and not a
// user's pull request.
func TestActionFlags(t *testing.T) {
	a, _ := load(t)
	found := false
	for _, s := range a.Runs.Steps {
		if !ciCommandRE.MatchString(s.Run) {
			continue
		}
		found = true
		var out, errb bytes.Buffer
		if code := cli.Main(context.Background(), []string{"ci", "github-comment", "--help"}, &out, &errb, nil); code != 0 {
			t.Fatalf("maestro ci github-comment --help: exit %d: %s", code, errb.String())
		}
		for _, m := range flagRE.FindAllStringSubmatch(s.Run, -1) {
			if !strings.Contains(out.String(), "  "+m[1]+" ") && !strings.Contains(out.String(), ", "+m[1]+" ") {
				t.Errorf("step %q passes %s, which maestro ci github-comment does not have", s.ID, m[1])
			}
		}
	}
	if !found {
		t.Error("no step runs maestro ci github-comment")
	}
}

// TestExampleWorkflow checks the copy-pasteable example: it uses this action with declared inputs only, reads only
// declared outputs, and grants the permission commenting needs.
func TestExampleWorkflow(t *testing.T) {
	a, _ := load(t)
	raw, err := os.ReadFile(filepath.Join("..", "examples", ".github", "workflows", "maestro-diff.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		On          map[string]any    `yaml:"on"`
		Permissions map[string]string `yaml:"permissions"`
		Jobs        map[string]struct {
			Permissions map[string]string `yaml:"permissions"`
			Steps       []step            `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatalf("maestro-diff.yml: %v", err)
	}
	if _, ok := wf.On["pull_request"]; !ok {
		t.Error("the example does not run on pull_request")
	}
	ids := map[string]bool{}
	uses := 0
	for name, job := range wf.Jobs {
		perms := job.Permissions
		if perms == nil {
			perms = wf.Permissions
		}
		if perms["pull-requests"] != "write" {
			t.Errorf("job %s lacks permissions: pull-requests: write", name)
		}
		for _, s := range job.Steps {
			if !strings.HasPrefix(s.Uses, "maestro-conductor/maestro/action@") {
				continue
			}
			uses++
			ids[s.ID] = true
			for k := range s.With {
				if _, ok := a.Inputs[k]; !ok {
					t.Errorf("the example passes undeclared input %q", k)
				}
			}
		}
	}
	if uses == 0 {
		t.Fatal("the example never uses maestro-conductor/maestro/action")
	}
	for _, m := range stepOutRE.FindAllStringSubmatch(string(raw), -1) {
		if !ids[m[1]] {
			continue
		}
		if _, ok := a.Outputs[m[2]]; !ok {
			t.Errorf("the example reads undeclared output %q", m[2])
		}
	}
}

// TestInstallScript runs install.sh: a version that is not one is refused before anything is fetched, and
// "source" builds this checkout and reports its path as the step output.
func TestInstallScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is needed to test install.sh: %v", err)
	}
	abs, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	run := func(version string) (string, string, error) {
		tmp := t.TempDir()
		outFile := filepath.Join(tmp, "github-output")
		cmd := exec.Command(bash, filepath.Join(abs, "install.sh"))
		cmd.Env = append(os.Environ(), "MAESTRO_VERSION="+version, "RUNNER_TEMP="+tmp, "GITHUB_OUTPUT="+outFile,
			"GITHUB_ACTION_PATH="+abs, "GITHUB_SERVER_URL=http://127.0.0.1:9", "GITHUB_API_URL=http://127.0.0.1:9")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		runErr := cmd.Run()
		outputs, _ := os.ReadFile(outFile)
		return string(outputs), stderr.String(), runErr
	}
	for _, bad := range []string{"$(touch pwned)", "main; rm -rf /", "v1.2", "../x"} {
		if out, stderr, err := run(bad); err == nil || out != "" || !strings.Contains(stderr, "use latest, source or a release tag") {
			t.Errorf("install.sh accepted version %q: err=%v outputs=%q stderr=%s", bad, err, out, stderr)
		}
	}
	if testing.Short() {
		return // the rest builds maestro
	}
	out, stderr, err := run("source")
	if err != nil {
		t.Fatalf("install.sh with version source: %v\n%s", err, stderr)
	}
	path, ok := strings.CutPrefix(strings.TrimSpace(out), "path=")
	if !ok {
		t.Fatalf("install.sh outputs = %q, want path=...", out)
	}
	v, err := exec.Command(path, "version").Output()
	if err != nil || !strings.HasPrefix(string(v), "maestro ") {
		t.Errorf("%s version = %q, %v", path, v, err)
	}
}
