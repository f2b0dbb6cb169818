// Package graph draws workflow graphs as Mermaid flowcharts and Graphviz DOT: a whole workflow, or the part of it
// that a semantic diff touched (the changed tasks and their direct neighbours), with added, removed, changed and
// renamed tasks styled distinctly and a legend.
//
// A Graph is a plain value built from the workflow model (Full) or from a diff (Affected, Overlay); rendering it
// (Mermaid, DOT, Markdown) is deterministic, so the output can be compared byte for byte.
package graph

import (
	"sort"

	"github.com/maestro-conductor/maestro/diff"
	"github.com/maestro-conductor/maestro/workflow"
)

// State says what a diff did to a task or a dependency.
type State string

// States of nodes and edges. Unchanged nodes in a diff picture are context: neighbours of changed tasks.
const (
	Unchanged State = "unchanged"
	Added     State = "added"
	Removed   State = "removed"
	Changed   State = "changed"
	Renamed   State = "renamed"
)

// States lists every state in legend order.
var States = []State{Added, Removed, Changed, Renamed, Unchanged}

// Node is one task in a picture.
type Node struct {
	// ID is the task's id: the new id for a task that was renamed, the old one for a task that was removed.
	ID string
	// OldID is the id before a rename; empty otherwise.
	OldID string
	State State
}

// Label is the text drawn in the node: the id, or "old → new" for a renamed task.
func (n Node) Label() string {
	if n.OldID != "" && n.OldID != n.ID {
		return n.OldID + " → " + n.ID
	}
	return n.ID
}

// Edge is a dependency: From runs before To (To dependsOn From).
type Edge struct {
	From, To string
	// State is Added or Removed for a dependency the diff added or removed, else Unchanged.
	State State
}

// Graph is a picture of all or part of one workflow.
type Graph struct {
	// Workflow is the workflow's name.
	Workflow string
	// Nodes are sorted by ID, Edges by From then To.
	Nodes []Node
	Edges []Edge
	// Tasks is the number of tasks in the workflow: for a diff, of the larger of the two versions.
	Tasks int
	// Hidden is the number of tasks the picture leaves out.
	Hidden int
}

// Count returns the number of nodes in each state.
func (g Graph) Count() map[State]int {
	n := map[State]int{}
	for _, nd := range g.Nodes {
		n[nd.State]++
	}
	return n
}

// Full is the whole workflow, every task and dependency unchanged.
func Full(w *workflow.Workflow) Graph {
	g := Graph{Workflow: w.Name, Tasks: len(w.Tasks)}
	for _, id := range w.TaskIDs() {
		g.Nodes = append(g.Nodes, Node{ID: id, State: Unchanged})
		for _, dep := range w.Tasks[id].DependsOn {
			g.Edges = append(g.Edges, Edge{From: dep, To: id, State: Unchanged})
		}
	}
	sortEdges(g.Edges)
	return g
}

// Affected is the part of a workflow's diff worth looking at: every task that was added, removed, renamed or
// changed (its package, params, retries, timeout or dependencies), plus the tasks directly before or after one of
// them in either version, as context. A workflow whose tasks did not change (only params or labels did) gives a
// graph without nodes.
func Affected(d diff.Workflow) Graph { return overlay(d, false) }

// Overlay is the union of both versions of a workflow with the diff's states, every task included.
func Overlay(d diff.Workflow) Graph { return overlay(d, true) }

func overlay(d diff.Workflow, all bool) Graph {
	a, b := d.Old, d.New
	g := Graph{Workflow: d.Name}
	if a == nil && b == nil {
		return g
	}
	renamed := map[string]string{} // old id -> new id
	oldIDs := map[string]string{}  // new id -> old id
	for _, c := range d.Changes {
		if c.Kind == diff.TaskRenamed {
			o, _ := c.Old.(string)
			n, _ := c.New.(string)
			if o != "" && n != "" {
				renamed[o], oldIDs[n] = n, o
			}
		}
	}
	mapOld := func(id string) string {
		if n, ok := renamed[id]; ok {
			return n
		}
		return id
	}

	// Every task of either version, in the new version's ids.
	state := map[string]State{}
	if a != nil {
		g.Tasks = len(a.Tasks)
		for id := range a.Tasks {
			state[mapOld(id)] = Unchanged
		}
	}
	if b != nil {
		g.Tasks = max(g.Tasks, len(b.Tasks))
		for id := range b.Tasks {
			state[id] = Unchanged
		}
	}
	switch {
	case a == nil:
		for id := range state {
			state[id] = Added
		}
	case b == nil:
		for id := range state {
			state[id] = Removed
		}
	default:
		for _, c := range d.Changes {
			if c.Task == "" {
				continue
			}
			switch c.Kind {
			case diff.TaskAdded:
				state[c.Task] = Added
			case diff.TaskRemoved:
				state[c.Task] = Removed
			case diff.TaskRenamed:
				state[c.Task] = Renamed
			default:
				if state[c.Task] == Unchanged {
					state[c.Task] = Changed
				}
			}
		}
	}

	type key struct{ from, to string }
	edges := map[key]State{}
	if b != nil {
		for id, t := range b.Tasks {
			for _, dep := range t.DependsOn {
				edges[key{dep, id}] = Added
			}
		}
	}
	if a != nil {
		for id, t := range a.Tasks {
			for _, dep := range t.DependsOn {
				k := key{mapOld(dep), mapOld(id)}
				if _, ok := edges[k]; ok {
					edges[k] = Unchanged
				} else {
					edges[k] = Removed
				}
			}
		}
	}
	if a == nil || b == nil {
		for k := range edges {
			edges[k] = state[k.to] // every edge of an added (removed) workflow is added (removed)
		}
	}

	show := map[string]bool{}
	for id, s := range state {
		if all || s != Unchanged {
			show[id] = true
		}
	}
	if !all {
		for k := range edges {
			if state[k.from] != Unchanged || state[k.to] != Unchanged || edges[k] != Unchanged {
				show[k.from], show[k.to] = true, true
			}
		}
	}
	for id := range show {
		n := Node{ID: id, State: state[id]}
		if n.State == Renamed {
			n.OldID = oldIDs[id]
		}
		g.Nodes = append(g.Nodes, n)
	}
	sort.Slice(g.Nodes, func(i, j int) bool { return g.Nodes[i].ID < g.Nodes[j].ID })
	for k, s := range edges {
		if show[k.from] && show[k.to] {
			g.Edges = append(g.Edges, Edge{From: k.from, To: k.to, State: s})
		}
	}
	sortEdges(g.Edges)
	g.Hidden = len(state) - len(show)
	return g
}

func sortEdges(es []Edge) {
	sort.Slice(es, func(i, j int) bool {
		if es[i].From != es[j].From {
			return es[i].From < es[j].From
		}
		return es[i].To < es[j].To
	})
}
