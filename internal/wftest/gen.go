// Package wftest makes workflows for tests: seeded random workflow models, a YAML emitter that writes one model in
// many equivalent styles, and the semantic edits a graph digest must notice. It is imported by tests only.
package wftest

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/maestro-conductor/maestro/workflow"
)

// NewRand returns the random source the package's functions take, seeded so a failure can be reproduced.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Random returns a valid, normalized workflow model: the value workflow.Parse returns for any rendering of it by
// Emit (positions and Defaults aside). It has a random DAG of 1-12 tasks, some of them identical twins, params of
// every type, retries, timeouts, labels and strings that need escaping.
func Random(r *rand.Rand) *workflow.Workflow {
	w := &workflow.Workflow{
		APIVersion: workflow.APIVersion,
		Name:       randName(r),
		Tenant:     workflow.DefaultTenant,
		Labels:     map[string]string{},
		Params:     map[string]*workflow.Param{},
		Tasks:      map[string]*workflow.Task{},
	}
	if r.IntN(2) == 0 {
		w.Tenant = randName(r)
	}
	// A third of the models keep to printable ASCII, the subset the parser reads without yaml.v3.
	rs := func(max int) string { return RandString(r, max) }
	if r.IntN(3) == 0 {
		rs = func(max int) string { return randASCII(r, max) }
	}
	for range r.IntN(4) {
		w.Labels[rs(8)] = rs(12)
	}
	for range r.IntN(5) {
		name := randParamName(r)
		if w.Params[name] == nil {
			w.Params[name] = randParam(r, name, rs)
		}
	}
	paramNames := w.ParamNames()

	n := 1 + r.IntN(12)
	order := make([]*workflow.Task, 0, n)
	for len(order) < n {
		id := randTaskID(r)
		if w.Tasks[id] != nil {
			continue
		}
		var t *workflow.Task
		if len(order) > 0 && r.IntN(8) == 0 {
			// An identical twin: same content and same dependencies, so the same node hash.
			twin := order[r.IntN(len(order))]
			t = cloneTask(twin)
			t.ID = id
		} else {
			t = randTask(r, id, order, paramNames, rs)
		}
		w.Tasks[id] = t
		order = append(order, t)
	}
	return w
}

// RandParam returns a random workflow param declaration named name.
func RandParam(r *rand.Rand, name string) *workflow.Param {
	return randParam(r, name, func(max int) string { return RandString(r, max) })
}

func randParam(r *rand.Rand, name string, rs func(int) string) *workflow.Param {
	p := &workflow.Param{Name: name, Type: paramTypes[r.IntN(len(paramTypes))]}
	switch r.IntN(3) {
	case 0:
		p.Required = true
	case 1:
		d := RandValue(r, p.Type)
		if p.Type == workflow.TypeString {
			d = rs(10)
		}
		p.Default = &d
	}
	return p
}

var paramTypes = []string{workflow.TypeString, workflow.TypeInteger, workflow.TypeNumber, workflow.TypeBoolean}

var numbers = []float64{0, 1, -1, 0.5, 1.5, -2.25, 3.14159, 100, 123456, 1234567, 1e21, 1e-7, 0.0001, 2.5e-5, 6.02214076e23}

// RandValue returns a random param value of type typ, in its canonical text.
func RandValue(r *rand.Rand, typ string) string {
	switch typ {
	case workflow.TypeInteger:
		return strconv.Itoa(r.IntN(2001) - 1000)
	case workflow.TypeNumber:
		return strconv.FormatFloat(numbers[r.IntN(len(numbers))], 'g', -1, 64)
	case workflow.TypeBoolean:
		return strconv.FormatBool(r.IntN(2) == 0)
	}
	return RandString(r, 10)
}

var repos = []string{
	"registry.example.com/etl/extract",
	"registry.example.com/etl/load",
	"ghcr.io/acme/transform",
	"localhost:5000/tools/notify",
	"r.io/a_b.c-d",
}

// RandPackage returns a random valid package ref: pinned by digest, by tag, or both.
func RandPackage(r *rand.Rand) workflow.PackageRef {
	repo := repos[r.IntN(len(repos))]
	switch r.IntN(4) {
	case 0:
		return workflow.PackageRef(repo + ":" + []string{"1.4", "latest", "v2.0.1-rc_1"}[r.IntN(3)])
	case 1:
		return workflow.PackageRef(repo + ":1.4@" + randDigest(r))
	}
	return workflow.PackageRef(repo + "@" + randDigest(r))
}

func randDigest(r *rand.Rand) string {
	const hexDigits = "0123456789abcdef"
	b := make([]byte, 64)
	// Few distinct digests, so tasks share packages and the emitter can alias them.
	base := r.IntN(4)
	for i := range b {
		b[i] = hexDigits[(base*7+i*i)%16]
	}
	return "sha256:" + string(b)
}

var timeouts = []int{30, 60, 90, 600, 3600, 5400, 86400}

func randTask(r *rand.Rand, id string, earlier []*workflow.Task, paramNames []string, rs func(int) string) *workflow.Task {
	t := &workflow.Task{ID: id, Package: RandPackage(r), Params: map[string]string{}}
	if len(earlier) > 0 && r.IntN(3) == 0 {
		// Share most params with an earlier task, so the emitter can use anchors and merge keys.
		for k, v := range earlier[r.IntN(len(earlier))].Params {
			t.Params[k] = v
		}
		t.Package = earlier[r.IntN(len(earlier))].Package
	}
	for range r.IntN(4) {
		v := rs(12)
		if len(paramNames) > 0 && r.IntN(3) == 0 {
			v += "{{ params." + paramNames[r.IntN(len(paramNames))] + " }}"
		}
		t.Params[rs(6)] = v
	}
	if r.IntN(5) < 3 {
		t.Retries = []int{0, 1, 2, 3, 5, 100}[r.IntN(6)]
	}
	if r.IntN(3) > 0 {
		t.Timeout = time.Duration(timeouts[r.IntN(len(timeouts))]) * time.Second
		if r.IntN(4) == 0 {
			t.Timeout = time.Duration(1+r.IntN(200000)) * time.Second
		}
	}
	deps := map[string]bool{}
	for range r.IntN(4) {
		if len(earlier) > 0 {
			deps[earlier[r.IntN(len(earlier))].ID] = true
		}
	}
	t.DependsOn = sortedSet(deps)
	return t
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

const (
	lower  = "abcdefghijklmnopqrstuvwxyz"
	digits = "0123456789"
)

func randWord(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func randName(r *rand.Rand) string {
	parts := make([]string, 1+r.IntN(3))
	for i := range parts {
		parts[i] = randWord(r, lower+digits, 1+r.IntN(6))
	}
	return strings.Join(parts, "-")
}

func randTaskID(r *rand.Rand) string {
	parts := make([]string, 1+r.IntN(2))
	for i := range parts {
		parts[i] = randWord(r, lower+digits, 1+r.IntN(6))
	}
	return strings.Join(parts, []string{"-", "_"}[r.IntN(2)])
}

func randParamName(r *rand.Rand) string {
	return randWord(r, lower+"ABCXYZ_", 1) + randWord(r, lower+digits+"_Q", r.IntN(8))
}

// runePools are what random strings are made of: mostly plain text, then everything that YAML or JSON must quote
// or escape, and characters whose UTF-8 and UTF-16 orders differ.
var runePools = [][]rune{
	[]rune(lower + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + digits + "_-./ "),
	[]rune(lower + digits),
	[]rune("\"'\\#:{}[],&*!|>%@`?=<~+-$"),
	{0x00, 0x01, 0x07, 0x08, '\t', '\n', 0x0b, 0x0c, '\r', 0x1b, 0x1f, 0x7f, 0x80, 0x85, 0x9f},
	{0xa0, 'é', 'ß', 'ä', 'Ω', '中', '日', 0x2028, 0x2029, 0xfeff, 0xe000, 0xfffd, 0xfffe, 0xffff},
	{0x1f600, 0x1d11e, 0x10000, 0x10ffff},
}

// RandString returns a random string of up to max runes, often plain, sometimes full of characters that need
// escaping or quoting.
func RandString(r *rand.Rand, max int) string {
	n := r.IntN(max + 1)
	var b strings.Builder
	plain := r.IntN(2) == 0
	for range n {
		pool := runePools[0]
		if !plain {
			pool = runePools[r.IntN(len(runePools))]
		}
		b.WriteRune(pool[r.IntN(len(pool))])
	}
	return b.String()
}

// randASCII returns a random string of up to max printable ASCII characters.
func randASCII(r *rand.Rand, max int) string {
	const printable = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"
	if r.IntN(2) == 0 {
		return randWord(r, lower+digits+"_-./ ", r.IntN(max+1))
	}
	return randWord(r, printable, r.IntN(max+1))
}

// Clone returns a deep copy of w.
func Clone(w *workflow.Workflow) *workflow.Workflow {
	c := *w
	c.Labels = make(map[string]string, len(w.Labels))
	for k, v := range w.Labels {
		c.Labels[k] = v
	}
	c.Params = make(map[string]*workflow.Param, len(w.Params))
	for k, p := range w.Params {
		cp := *p
		if p.Default != nil {
			d := *p.Default
			cp.Default = &d
		}
		c.Params[k] = &cp
	}
	if d := w.Defaults.Retries; d != nil {
		v := *d
		c.Defaults.Retries = &v
	}
	if d := w.Defaults.Timeout; d != nil {
		v := *d
		c.Defaults.Timeout = &v
	}
	c.Tasks = make(map[string]*workflow.Task, len(w.Tasks))
	for id, t := range w.Tasks {
		c.Tasks[id] = cloneTask(t)
	}
	return &c
}

func cloneTask(t *workflow.Task) *workflow.Task {
	c := *t
	c.Params = make(map[string]string, len(t.Params))
	for k, v := range t.Params {
		c.Params[k] = v
	}
	c.DependsOn = append([]string{}, t.DependsOn...)
	return &c
}

// String is a compact description of a model for test failure messages.
func String(w *workflow.Workflow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "workflow %q tenant %q labels %q\n", w.Name, w.Tenant, w.Labels)
	for _, n := range w.ParamNames() {
		p := w.Params[n]
		d := "<none>"
		if p.Default != nil {
			d = strconv.Quote(*p.Default)
		}
		fmt.Fprintf(&b, "  param %s %s required=%t default=%s\n", n, p.Type, p.Required, d)
	}
	for _, id := range w.TaskIDs() {
		t := w.Tasks[id]
		fmt.Fprintf(&b, "  task %s %s retries=%d timeout=%s deps=%q params=%q\n", id, t.Package, t.Retries, t.Timeout, t.DependsOn, t.Params)
	}
	return b.String()
}
