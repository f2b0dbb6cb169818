// Package workflow holds maestro's workflow model: strict parsing of workflow YAML, validation and normalization.
//
// A parsed Workflow is already normalized: task defaults are applied, durations are whole seconds, dependency sets
// are sorted and free of duplicates. Everything that depends on the meaning of a workflow (the graph digest, the
// semantic diff) works from this model, never from the YAML text.
package workflow

import (
	"sort"
	"time"
)

// APIVersion is the only apiVersion this release understands.
const APIVersion = "maestro.dev/v1"

// Kind is the value of the kind field that marks a YAML document as a workflow.
const Kind = "Workflow"

// DefaultTenant is the tenant of a workflow whose metadata names none.
const DefaultTenant = "default"

// Param types.
const (
	TypeString  = "string"
	TypeInteger = "integer"
	TypeNumber  = "number"
	TypeBoolean = "boolean"
)

// Position is a place in a source file. Line and Column start at 1; zero means unknown.
type Position struct {
	File   string
	Line   int
	Column int
}

// Workflow is one normalized workflow definition.
type Workflow struct {
	APIVersion string
	Name       string
	Tenant     string
	// Labels are metadata only: they never change the graph digest.
	Labels map[string]string
	Params map[string]*Param
	// Defaults as written; their effect is already applied to every task.
	Defaults Defaults
	Tasks    map[string]*Task
	// Pos is where the workflow's document starts.
	Pos Position
}

// Param is a workflow input.
type Param struct {
	Name     string
	Type     string // one of the Type constants
	Required bool
	// Default is the default value in its canonical text form for Type, or nil when there is none.
	Default *string
	Pos     Position
}

// Defaults are the values a task takes when it sets none itself.
type Defaults struct {
	Retries *int
	Timeout *time.Duration
}

// Task is one node of the workflow graph.
type Task struct {
	ID      string
	Package PackageRef
	// Params are the task's inputs; every value is a string.
	Params map[string]string
	// Retries and Timeout are effective values: the task's own, else the workflow default, else zero.
	// A zero Timeout means the runtime's limit applies.
	Retries int
	Timeout time.Duration
	// DependsOn is sorted and has no duplicates.
	DependsOn []string
	Pos       Position
}

// TaskIDs returns the workflow's task ids in sorted order.
func (w *Workflow) TaskIDs() []string {
	ids := make([]string, 0, len(w.Tasks))
	for id := range w.Tasks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// ParamNames returns the workflow's param names in sorted order.
func (w *Workflow) ParamNames() []string {
	names := make([]string, 0, len(w.Params))
	for n := range w.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Dependents returns, for every task id, the sorted ids of the tasks that depend on it.
func (w *Workflow) Dependents() map[string][]string {
	out := make(map[string][]string, len(w.Tasks))
	for _, id := range w.TaskIDs() {
		for _, dep := range w.Tasks[id].DependsOn {
			out[dep] = append(out[dep], id)
		}
	}
	return out
}

// TopoOrder returns the task ids so that every task comes after all of its dependencies; the order is the same
// for the same workflow. The workflow must be valid (acyclic, no dangling edges), as every parsed Workflow is;
// otherwise tasks on or behind a cycle are left out.
func (w *Workflow) TopoOrder() []string {
	g := newGraphIndex(w)
	order, _ := g.kahn()
	ids := make([]string, len(order))
	for i, t := range order {
		ids[i] = g.IDs[t]
	}
	return ids
}
