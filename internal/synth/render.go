package synth

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
)

// bytesPerTask is about what one task takes in the plain rendering.
const bytesPerTask = 280

// renderPlain writes m in maestro's usual style: block mappings in generation order, double quotes only where
// needed, dependencies as a flow list. Each task is a self-contained block of lines, so an edit to one task leaves
// every other byte of the file as it was.
func renderPlain(m *model) []byte {
	var b bytes.Buffer
	b.Grow(1024 + len(m.tasks)*bytesPerTask)
	b.WriteString("# Synthetic workflow written by maestro's internal/synth; regenerate it rather than edit it.\n")
	b.WriteString("apiVersion: maestro.dev/v1\nkind: Workflow\nmetadata:\n")
	fmt.Fprintf(&b, "  name: %s\n  tenant: acme\n  labels:\n    team: platform\n    owner: bench\n    generator: synth\n", m.name)
	b.WriteString("spec:\n  params:\n    date: {type: string, required: true}\n    shard: {type: string, default: \"0\"}\n")
	fmt.Fprintf(&b, "  defaults: {retries: %d, timeout: %s}\n  tasks:\n", defaultRetries, defaultTimeout)
	for _, t := range m.tasks {
		fmt.Fprintf(&b, "    %s:\n      package: %s\n      params:\n", t.id, t.pkg)
		for _, p := range t.params {
			fmt.Fprintf(&b, "        %s: %s\n", p.key, plainOrQuoted(p.value))
		}
		if t.retries >= 0 {
			fmt.Fprintf(&b, "      retries: %d\n", t.retries)
		}
		if t.timeout != "" {
			fmt.Fprintf(&b, "      timeout: %s\n", t.timeout)
		}
		if len(t.deps) > 0 {
			b.WriteString("      dependsOn: [")
			for i, d := range t.deps {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(m.tasks[d].id)
			}
			b.WriteString("]\n")
		}
	}
	return b.Bytes()
}

// canonicalPlain matches the strings the plain rendering leaves unquoted: ones that read as strings in YAML.
var canonicalPlain = regexp.MustCompile(`^[a-z][a-z0-9._/-]*$`)

func plainOrQuoted(s string) string {
	if canonicalPlain.MatchString(s) && !reserved(s) {
		return s
	}
	return doubleQuoted(s)
}

// reserved reports whether a plain scalar would read as something other than text in YAML 1.1 or 1.2.
func reserved(s string) bool {
	switch strings.ToLower(s) {
	case "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n":
		return true
	}
	return false
}

func doubleQuoted(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

func singleQuoted(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// blockPlain and flowPlain match the strings that can be written without quotes in block and in flow context.
// The parser takes every task param as the scalar's text, so digits or true written plain still mean the same string.
var (
	blockPlain = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/=@:-]*$`)
	flowPlain  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/=-]*$`)
)

// reformatter writes the reformatted rendering.
type reformatter struct {
	b   bytes.Buffer
	rng *rand.Rand
	m   *model
	// pkgAnchors names the anchor set on the first occurrence of each package ref.
	pkgAnchors map[string]string
	// dateAnchored is set once a "{{ params.date }}" value carries the anchor &date.
	dateAnchored bool
}

const (
	ind       = "   " // the reformatted rendering indents by three spaces
	dateValue = "{{ params.date }}"
)

// renderReformatted writes m with the same meaning as renderPlain but a different form.
func renderReformatted(m *model, seed uint64) []byte {
	r := &reformatter{rng: rand.New(rand.NewPCG(seed, streamReformat)), m: m, pkgAnchors: map[string]string{}}
	r.b.Grow(2048 + len(m.tasks)*bytesPerTask*5/4)
	r.b.WriteString("# Reformatted synthetic workflow (maestro internal/synth).\n")
	r.b.WriteString("# The same workflow as the plain rendering: only order, layout, quoting, comments and aliases differ.\n")
	r.b.WriteString("---\nkind: Workflow\n")
	fmt.Fprintf(&r.b, "apiVersion: %s\n", r.scalar("maestro.dev/v1", false))
	r.b.WriteString("metadata:\n")
	labels := []string{"generator: " + r.scalar("synth", true), r.key("owner", true) + ": bench", "team: " + r.scalar("platform", true)}
	r.shuffle(labels)
	fmt.Fprintf(&r.b, "%slabels: {%s}\n", ind, strings.Join(labels, ", "))
	fmt.Fprintf(&r.b, "%stenant: %s   # the tenant the executions are billed to\n", ind, r.scalar("acme", false))
	fmt.Fprintf(&r.b, "%sname: %s\n", ind, r.scalar(m.name, false))
	r.b.WriteString("spec:\n")
	// The defaults carry an anchor: tasks merge them with "<<: *defaults", which changes nothing, since a task that
	// sets neither retries nor timeout gets the defaults anyway.
	fmt.Fprintf(&r.b, "%sdefaults: &defaults\n%s%stimeout: %d   # %s\n%s%sretries: %d\n",
		ind, ind, ind, seconds(defaultTimeout), defaultTimeout, ind, ind, defaultRetries)
	fmt.Fprintf(&r.b, "%sparams: {shard: {default: %s}, %s: {required: true, type: %s}}\n",
		ind, r.scalar("0", true), r.key("date", true), r.scalar("string", true))
	fmt.Fprintf(&r.b, "%stasks:\n", ind)
	for _, i := range r.rng.Perm(len(m.tasks)) {
		r.task(m.tasks[i])
	}
	return r.b.Bytes()
}

func (r *reformatter) shuffle(s []string) {
	r.rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
}

// scalar writes s plain, single-quoted or double-quoted, at random among the forms that keep its text.
func (r *reformatter) scalar(s string, flow bool) string {
	re := blockPlain
	if flow {
		re = flowPlain
	}
	n := 2
	if re.MatchString(s) && !reserved(s) {
		n = 3
	}
	switch r.rng.IntN(n) {
	case 0:
		return singleQuoted(s)
	case 1:
		return doubleQuoted(s)
	}
	return s
}

// key writes a mapping key, quoted one time in four.
func (r *reformatter) key(s string, flow bool) string {
	if r.rng.IntN(4) == 0 {
		return r.scalar(s, flow)
	}
	return s
}

func (r *reformatter) pkg(ref string, flow bool) string {
	if a, ok := r.pkgAnchors[ref]; ok {
		if r.rng.IntN(5) < 2 {
			return "*" + a
		}
		return r.scalar(ref, flow)
	}
	a := "pkg" + strconv.Itoa(len(r.pkgAnchors))
	r.pkgAnchors[ref] = a
	return "&" + a + " " + r.scalar(ref, flow)
}

func (r *reformatter) paramValue(v string, flow bool) string {
	if v != dateValue {
		return r.scalar(v, flow)
	}
	if !r.dateAnchored {
		r.dateAnchored = true
		return "&date " + r.scalar(v, flow)
	}
	if r.rng.IntN(2) == 0 {
		return "*date"
	}
	return r.scalar(v, flow)
}

func (r *reformatter) params(t *task, flow bool) []string {
	out := make([]string, len(t.params))
	for i, p := range t.params {
		out[i] = r.key(p.key, flow) + ": " + r.paramValue(p.value, flow)
	}
	r.shuffle(out)
	return out
}

// timeout writes a duration as whole seconds or in another unit, sometimes quoted.
func (r *reformatter) timeout(d string, flow bool) string {
	secs := seconds(d)
	switch r.rng.IntN(4) {
	case 0:
		return strconv.FormatInt(secs, 10)
	case 1:
		return r.scalar(strconv.FormatInt(secs, 10)+"s", flow)
	case 2:
		if secs%60 == 0 {
			return r.scalar(strconv.FormatInt(secs/60, 10)+"m", flow)
		}
	}
	return r.scalar(d, flow)
}

// deps returns the ids t depends on in random order, one of them twice half of the time.
func (r *reformatter) deps(t *task, flow bool) []string {
	out := make([]string, 0, len(t.deps)+1)
	for _, d := range t.deps {
		out = append(out, r.scalar(r.m.tasks[d].id, flow))
	}
	if len(out) > 0 && r.rng.IntN(2) == 0 {
		out = append(out, r.scalar(r.m.tasks[t.deps[r.rng.IntN(len(t.deps))]].id, flow))
	}
	r.shuffle(out)
	return out
}

func (r *reformatter) task(t *task) {
	b := &r.b
	if r.rng.IntN(10) == 0 {
		b.WriteString("\n")
	}
	if r.rng.IntN(12) == 0 {
		fmt.Fprintf(b, "%s%s# %s: %d params, %d dependencies\n", ind, ind, t.id, len(t.params), len(t.deps))
	}
	fields := []string{"package", "params"}
	if t.retries >= 0 {
		fields = append(fields, "retries")
	}
	if t.timeout != "" {
		fields = append(fields, "timeout")
	}
	if len(t.deps) > 0 || r.rng.IntN(8) == 0 {
		fields = append(fields, "dependsOn")
	}
	if r.rng.IntN(3) == 0 {
		fields = append(fields, "<<")
	}
	r.shuffle(fields)
	fmt.Fprintf(b, "%s%s%s:", ind, ind, r.key(t.id, false))

	if r.rng.IntN(20) == 0 { // the whole task as one flow mapping
		items := make([]string, 0, len(fields))
		for _, f := range fields {
			var v string
			switch f {
			case "package":
				v = r.pkg(t.pkg, true)
			case "params":
				v = "{" + strings.Join(r.params(t, true), ", ") + "}"
			case "retries":
				v = strconv.Itoa(t.retries)
			case "timeout":
				v = r.timeout(t.timeout, true)
			case "dependsOn":
				v = "[" + strings.Join(r.deps(t, true), ", ") + "]"
			case "<<":
				v = "*defaults"
			}
			items = append(items, f+": "+v)
		}
		fmt.Fprintf(b, " {%s}\n", strings.Join(items, ", "))
		return
	}

	b.WriteString("\n")
	pre := ind + ind + ind
	for _, f := range fields {
		switch f {
		case "package":
			fmt.Fprintf(b, "%spackage: %s", pre, r.pkg(t.pkg, false))
			if r.rng.IntN(10) == 0 {
				b.WriteString("   # pinned by digest")
			}
			b.WriteString("\n")
		case "params":
			flow := r.rng.IntN(2) == 0
			ps := r.params(t, flow)
			if flow {
				fmt.Fprintf(b, "%sparams: {%s}\n", pre, strings.Join(ps, ", "))
			} else {
				fmt.Fprintf(b, "%sparams:\n", pre)
				for _, p := range ps {
					fmt.Fprintf(b, "%s%s%s\n", pre, ind, p)
				}
			}
		case "retries":
			fmt.Fprintf(b, "%sretries: %d\n", pre, t.retries)
		case "timeout":
			fmt.Fprintf(b, "%s%s: %s\n", pre, r.key("timeout", false), r.timeout(t.timeout, false))
		case "dependsOn":
			r.dependsOn(t, pre)
		case "<<":
			fmt.Fprintf(b, "%s<<: *defaults\n", pre)
		}
	}
}

func (r *reformatter) dependsOn(t *task, pre string) {
	b := &r.b
	if len(t.deps) == 0 {
		if r.rng.IntN(2) == 0 {
			fmt.Fprintf(b, "%sdependsOn: []\n", pre)
		} else {
			fmt.Fprintf(b, "%sdependsOn: ~   # a root task\n", pre)
		}
		return
	}
	switch r.rng.IntN(3) {
	case 0:
		fmt.Fprintf(b, "%sdependsOn: [%s]\n", pre, strings.Join(r.deps(t, true), ", "))
	case 1: // a block list indented under its key
		fmt.Fprintf(b, "%sdependsOn:\n", pre)
		for _, d := range r.deps(t, false) {
			fmt.Fprintf(b, "%s%s- %s\n", pre, ind, d)
		}
	default: // a block list at the key's own indentation, as YAML allows
		fmt.Fprintf(b, "%sdependsOn:\n", pre)
		for _, d := range r.deps(t, false) {
			fmt.Fprintf(b, "%s- %s\n", pre, d)
		}
	}
}
