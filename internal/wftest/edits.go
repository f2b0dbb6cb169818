package wftest

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/maestro-conductor/maestro/workflow"
)

// Edit is one kind of change to a workflow model.
type Edit struct {
	// Name says what the edit changes, e.g. "task.package".
	Name string
	// Semantic reports whether the edit changes the meaning of the workflow, and so must change its graph digest.
	Semantic bool
	// Apply changes w in place, keeping it valid, and reports false when w has nothing this edit can change.
	Apply func(r *rand.Rand, w *workflow.Workflow) bool
}

// Edits are all the kinds of edit the graph digest is tested against.
var Edits = []Edit{
	{"task.package", true, editPackage},
	{"task.param.value", true, editTaskParamValue},
	{"task.param.added", true, addTaskParam},
	{"task.param.removed", true, removeTaskParam},
	{"task.retries", true, editRetries},
	{"task.timeout", true, editTimeout},
	{"task.added", true, addTask},
	{"task.removed", true, removeTask},
	{"task.renamed", true, renameTask},
	{"edge.added", true, addEdge},
	{"edge.removed", true, removeEdge},
	{"param.added", true, addParam},
	{"param.removed", true, removeParam},
	{"param.type", true, editParamType},
	{"param.required", true, editParamRequired},
	{"param.default", true, editParamDefault},
	{"workflow.tenant", true, editTenant},
	{"workflow.name", true, editName},
	{"labels", false, editLabels},
}

func pickTask(r *rand.Rand, w *workflow.Workflow, ok func(*workflow.Task) bool) *workflow.Task {
	var c []*workflow.Task
	for _, id := range w.TaskIDs() {
		if t := w.Tasks[id]; ok == nil || ok(t) {
			c = append(c, t)
		}
	}
	if len(c) == 0 {
		return nil
	}
	return c[r.IntN(len(c))]
}

func pickKey[V any](r *rand.Rand, m map[string]V) string {
	keys := sortedKeys(m)
	return keys[r.IntN(len(keys))]
}

func editPackage(r *rand.Rand, w *workflow.Workflow) bool {
	t := pickTask(r, w, nil)
	for {
		if p := RandPackage(r); p != t.Package {
			t.Package = p
			return true
		}
	}
}

func editTaskParamValue(r *rand.Rand, w *workflow.Workflow) bool {
	t := pickTask(r, w, func(t *workflow.Task) bool { return len(t.Params) > 0 })
	if t == nil {
		return false
	}
	k := pickKey(r, t.Params)
	t.Params[k] += []string{"x", " ", "\"", "é", "\U0001F600"}[r.IntN(5)]
	return true
}

func addTaskParam(r *rand.Rand, w *workflow.Workflow) bool {
	t := pickTask(r, w, nil)
	for {
		k := RandString(r, 6)
		if _, ok := t.Params[k]; !ok {
			t.Params[k] = RandString(r, 8)
			return true
		}
	}
}

func removeTaskParam(r *rand.Rand, w *workflow.Workflow) bool {
	t := pickTask(r, w, func(t *workflow.Task) bool { return len(t.Params) > 0 })
	if t == nil {
		return false
	}
	delete(t.Params, pickKey(r, t.Params))
	return true
}

func editRetries(r *rand.Rand, w *workflow.Workflow) bool {
	t := pickTask(r, w, nil)
	t.Retries = (t.Retries + 1 + r.IntN(100)) % 101
	return true
}

func editTimeout(r *rand.Rand, w *workflow.Workflow) bool {
	t := pickTask(r, w, nil)
	switch {
	case t.Timeout > 0 && r.IntN(3) == 0:
		t.Timeout = 0
	default:
		t.Timeout += time.Duration(1+r.IntN(3600)) * time.Second
	}
	return true
}

func addTask(r *rand.Rand, w *workflow.Workflow) bool {
	for {
		id := randTaskID(r)
		if w.Tasks[id] == nil {
			w.Tasks[id] = randTask(r, id, nil, nil, func(max int) string { return RandString(r, max) })
			return true
		}
	}
}

func removeTask(r *rand.Rand, w *workflow.Workflow) bool {
	if len(w.Tasks) < 2 {
		return false
	}
	t := pickTask(r, w, nil)
	delete(w.Tasks, t.ID)
	for _, o := range w.Tasks {
		o.DependsOn = slices.DeleteFunc(o.DependsOn, func(d string) bool { return d == t.ID })
	}
	return true
}

func renameTask(r *rand.Rand, w *workflow.Workflow) bool {
	t := pickTask(r, w, nil)
	for {
		id := randTaskID(r)
		if w.Tasks[id] != nil {
			continue
		}
		RenameTask(w, t.ID, id)
		return true
	}
}

// RenameTask renames task from to to, and every dependency on it.
func RenameTask(w *workflow.Workflow, from, to string) {
	t := w.Tasks[from]
	delete(w.Tasks, from)
	t.ID = to
	w.Tasks[to] = t
	for _, o := range w.Tasks {
		for i, d := range o.DependsOn {
			if d == from {
				o.DependsOn[i] = to
			}
		}
		slices.Sort(o.DependsOn)
	}
}

func addEdge(r *rand.Rand, w *workflow.Workflow) bool {
	// A task may depend on any task that comes earlier in a topological order without making a cycle.
	order := w.TopoOrder()
	type pair struct{ from, to string }
	var c []pair
	for i, id := range order {
		for _, dep := range order[:i] {
			if !slices.Contains(w.Tasks[id].DependsOn, dep) {
				c = append(c, pair{id, dep})
			}
		}
	}
	if len(c) == 0 {
		return false
	}
	p := c[r.IntN(len(c))]
	t := w.Tasks[p.from]
	t.DependsOn = append(t.DependsOn, p.to)
	slices.Sort(t.DependsOn)
	return true
}

func removeEdge(r *rand.Rand, w *workflow.Workflow) bool {
	t := pickTask(r, w, func(t *workflow.Task) bool { return len(t.DependsOn) > 0 })
	if t == nil {
		return false
	}
	i := r.IntN(len(t.DependsOn))
	t.DependsOn = slices.Delete(t.DependsOn, i, i+1)
	return true
}

func addParam(r *rand.Rand, w *workflow.Workflow) bool {
	for {
		name := randParamName(r)
		if w.Params[name] == nil {
			w.Params[name] = RandParam(r, name)
			return true
		}
	}
}

// referenced reports whether a task param refers to workflow param name.
func referenced(w *workflow.Workflow, name string) bool {
	for _, t := range w.Tasks {
		for _, v := range t.Params {
			if containsRef(v, name) {
				return true
			}
		}
	}
	return false
}

func containsRef(v, name string) bool {
	ref := "{{ params." + name + " }}"
	for i := 0; i+len(ref) <= len(v); i++ {
		if v[i:i+len(ref)] == ref {
			return true
		}
	}
	return false
}

func removeParam(r *rand.Rand, w *workflow.Workflow) bool {
	var c []string
	for _, n := range w.ParamNames() {
		if !referenced(w, n) {
			c = append(c, n)
		}
	}
	if len(c) == 0 {
		return false
	}
	delete(w.Params, c[r.IntN(len(c))])
	return true
}

func editParamType(r *rand.Rand, w *workflow.Workflow) bool {
	if len(w.Params) == 0 {
		return false
	}
	p := w.Params[pickKey(r, w.Params)]
	for {
		typ := paramTypes[r.IntN(len(paramTypes))]
		if typ == p.Type {
			continue
		}
		p.Type = typ
		if p.Default != nil {
			d := RandValue(r, typ)
			p.Default = &d
		}
		return true
	}
}

func editParamRequired(r *rand.Rand, w *workflow.Workflow) bool {
	var c []string
	for _, n := range w.ParamNames() {
		if w.Params[n].Default == nil {
			c = append(c, n)
		}
	}
	if len(c) == 0 {
		return false
	}
	p := w.Params[c[r.IntN(len(c))]]
	p.Required = !p.Required
	return true
}

func editParamDefault(r *rand.Rand, w *workflow.Workflow) bool {
	var c []string
	for _, n := range w.ParamNames() {
		if !w.Params[n].Required {
			c = append(c, n)
		}
	}
	if len(c) == 0 {
		return false
	}
	p := w.Params[c[r.IntN(len(c))]]
	if p.Default != nil && r.IntN(3) == 0 {
		p.Default = nil
		return true
	}
	for {
		d := RandValue(r, p.Type)
		if p.Default == nil || d != *p.Default {
			p.Default = &d
			return true
		}
	}
}

func editTenant(r *rand.Rand, w *workflow.Workflow) bool {
	for {
		t := randName(r)
		if r.IntN(3) == 0 {
			t = workflow.DefaultTenant
		}
		if t != w.Tenant {
			w.Tenant = t
			return true
		}
	}
}

func editName(r *rand.Rand, w *workflow.Workflow) bool {
	for {
		if n := randName(r); n != w.Name {
			w.Name = n
			return true
		}
	}
}

func editLabels(r *rand.Rand, w *workflow.Workflow) bool {
	if len(w.Labels) > 0 && r.IntN(2) == 0 {
		delete(w.Labels, pickKey(r, w.Labels))
	}
	w.Labels[RandString(r, 6)] = RandString(r, 6)
	return true
}
