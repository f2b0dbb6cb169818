package workflow

import (
	"sort"
	"strings"
)

// checkGraph reports dangling dependencies, cycles and task params that name undeclared workflow params.
func (p *parser) checkGraph(w *Workflow) {
	ids := w.TaskIDs()
	budget := suggestBudget
	for _, e := range p.edges {
		if p.fatal {
			return
		}
		if _, ok := w.Tasks[e.dep]; !ok && w.Tasks[e.task.ID] == e.task {
			p.add(&Error{Pos: p.pos(e.node), Field: "spec.tasks." + e.task.ID + ".dependsOn",
				Msg: "task " + quote(e.task.ID) + " depends on " + quote(e.dep) + ", which is not a task of workflow " + quote(w.Name) + suggest(e.dep, ids, &budget)})
		}
	}
	p.edges = p.edges[:0]
	for _, id := range ids {
		t := w.Tasks[id]
		for _, name := range sortedKeys(t.Params) {
			for _, ref := range paramRefs(t.Params[name]) {
				if _, ok := w.Params[ref]; !ok {
					p.add(&Error{Pos: t.Pos, Field: "spec.tasks." + id + ".params." + name,
						Msg: "refers to params." + ref + ", which spec.params does not declare; declare it or fix the name"})
				}
			}
		}
	}
	if p.fatal {
		return
	}
	if cycle := findCycle(w); cycle != nil {
		p.add(&Error{Pos: w.Tasks[cycle[0]].Pos, Field: "spec.tasks." + cycle[0] + ".dependsOn",
			Msg: "dependency cycle: " + strings.Join(cycle, " → ") + " (each task depends on the next); remove one of these dependencies"})
	}
}

// suggestBudget bounds the edit-distance work spent on "did you mean" hints in one workflow, counted in table
// cells, so that a hostile file with many long, similar task ids cannot make validation slow. Real workflows stay
// far below it.
const suggestBudget = 1 << 22

func quote(s string) string { return `"` + s + `"` }

func suggest(name string, ids []string, budget *int) string {
	best, bestD := "", 3
	for _, id := range ids {
		if d := len(name) - len(id); d >= bestD || -d >= bestD {
			continue
		}
		if *budget -= len(name) * len(id); *budget < 0 {
			return ""
		}
		if d := editDistance(name, id, bestD); d < bestD {
			best, bestD = id, d
		}
	}
	if best == "" {
		return ""
	}
	return "; did you mean " + quote(best) + "?"
}

// editDistance is the Levenshtein distance of a and b, or max when it is at least max.
func editDistance(a, b string, max int) int {
	if d := len(a) - len(b); d >= max || -d >= max {
		return max
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], max)
}

// paramRefs returns the workflow params a task param value refers to with "{{ params.NAME }}".
func paramRefs(v string) []string {
	var refs []string
	for {
		i := strings.Index(v, "{{")
		if i < 0 {
			return refs
		}
		v = v[i+2:]
		j := strings.Index(v, "}}")
		if j < 0 {
			return refs
		}
		expr := strings.TrimSpace(v[:j])
		v = v[j+2:]
		if name, ok := strings.CutPrefix(expr, "params."); ok && paramNameRE.MatchString(name) {
			refs = append(refs, name)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// findCycle returns one dependency cycle as a path that starts and ends at the same task, or nil.
// It ignores dangling edges, which are reported on their own.
func findCycle(w *Workflow) []string {
	// Kahn's algorithm removes every task not on or behind a cycle; whatever remains holds one.
	indeg := make(map[string]int, len(w.Tasks))
	dependents := make(map[string][]string, len(w.Tasks))
	for id, t := range w.Tasks {
		for _, dep := range t.DependsOn {
			if _, ok := w.Tasks[dep]; ok {
				indeg[id]++
				dependents[dep] = append(dependents[dep], id)
			}
		}
	}
	queue := make([]string, 0, len(w.Tasks))
	for id := range w.Tasks {
		if indeg[id] == 0 {
			queue = append(queue, id)
		}
	}
	removed := 0
	for len(queue) > 0 {
		id := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		removed++
		for _, d := range dependents[id] {
			if indeg[d]--; indeg[d] == 0 {
				queue = append(queue, d)
			}
		}
	}
	if removed == len(w.Tasks) {
		return nil
	}
	// Every remaining task has a remaining dependency; follow them from the smallest id until one repeats.
	var start string
	for _, id := range w.TaskIDs() {
		if indeg[id] > 0 {
			start = id
			break
		}
	}
	index := map[string]int{}
	var path []string
	for id := start; ; {
		if i, ok := index[id]; ok {
			cycle := append(path[i:], id)
			return rotateCycle(cycle)
		}
		index[id] = len(path)
		path = append(path, id)
		for _, dep := range w.Tasks[id].DependsOn {
			if indeg[dep] > 0 {
				id = dep
				break
			}
		}
	}
}

// rotateCycle starts a closed path at its smallest task id, so the report does not depend on map order.
func rotateCycle(c []string) []string {
	open := c[:len(c)-1]
	m := 0
	for i, id := range open {
		if id < open[m] {
			m = i
		}
	}
	out := append(append([]string{}, open[m:]...), open[:m]...)
	return append(out, out[0])
}
