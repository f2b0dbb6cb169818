package workflow

import (
	"sort"
	"strings"
)

// checkGraph reports dangling dependencies, cycles and task params that name undeclared workflow params. It works
// on the tasks by number, their index among the pairs of spec.tasks.
func (p *parser) checkGraph(w *Workflow) {
	var ids []string // sorted task ids, made only when a message needs them
	sortedIDs := func() []string {
		if ids == nil {
			ids = w.TaskIDs()
		}
		return ids
	}
	budget := suggestBudget
	n := len(p.taskAt)
	// to[k] is the number of the task the k-th edge leads to, -1 for a dangling one; indeg counts each task's
	// dependencies, and dependents lists each task's dependents (those of task i at offsets[i]:offsets[i+1]).
	to := make([]int32, len(p.edges))
	indeg := make([]int32, n)
	offsets := make([]int32, n+1)
	for k, e := range p.edges {
		if p.fatal {
			return
		}
		d := e.to
		if d >= 0 && p.taskAt[d] == nil {
			d = -1
		}
		to[k] = d
		if d < 0 {
			if t := &p.tasks[e.from]; w.Tasks[t.ID] == t {
				p.add(&Error{Pos: p.pos(e.node), Field: "spec.tasks." + t.ID + ".dependsOn",
					Msg: "task " + quote(t.ID) + " depends on " + quote(e.dep) + ", which is not a task of workflow " + quote(w.Name) + suggest(e.dep, sortedIDs(), &budget)})
			}
			continue
		}
		indeg[e.from]++
		offsets[d+1]++
	}
	edges := p.edges
	p.edges = p.edges[:0]
	templated := p.templated
	p.templated = p.templated[:0]
	for _, id := range sortedTaskIDs(templated) {
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
	for i := range n {
		offsets[i+1] += offsets[i]
	}
	dependents := make([]int32, offsets[n])
	fill := make([]int32, n)
	copy(fill, offsets[:n])
	for k, e := range edges {
		if d := to[k]; d >= 0 {
			dependents[fill[d]] = e.from
			fill[d]++
		}
	}
	// Kahn's algorithm: what is left with dependencies once no task comes free is on or behind a cycle.
	queue := fill[:0]
	for i := range n {
		if indeg[i] == 0 {
			queue = append(queue, int32(i))
		}
	}
	for head := 0; head < len(queue); head++ {
		t := queue[head]
		for _, d := range dependents[offsets[t]:offsets[t+1]] {
			if indeg[d]--; indeg[d] == 0 {
				queue = append(queue, d)
			}
		}
	}
	if cycle := p.findCycle(edges, to, indeg); cycle != nil {
		p.add(&Error{Pos: w.Tasks[cycle[0]].Pos, Field: "spec.tasks." + cycle[0] + ".dependsOn",
			Msg: "dependency cycle: " + strings.Join(cycle, " → ") + " (each task depends on the next); remove one of these dependencies"})
	}
}

// findCycle returns one dependency cycle as a path that starts and ends at the same task, or nil, given the edges
// and what Kahn's algorithm left of each task's dependencies: every task left with some has one left that is also
// left with some. It starts from the smallest such id and follows the smallest such dependency until a task
// repeats, which is the path the tasks' sorted dependsOn lists lead along.
func (p *parser) findCycle(edges []edgeAt, to []int32, indeg []int32) []string {
	id := func(i int32) string { return p.taskKVs[i].key }
	start := int32(-1)
	for i := range indeg {
		if indeg[i] > 0 && (start < 0 || id(int32(i)) < id(start)) {
			start = int32(i)
		}
	}
	if start < 0 {
		return nil
	}
	// The edges of a task are next to each other, in the order its tasks were read.
	first := make([]int32, len(indeg)+1)
	for k := len(edges) - 1; k >= 0; k-- {
		first[edges[k].from] = int32(k)
	}
	at := map[int32]int{}
	var path []string
	for t := start; ; {
		if i, ok := at[t]; ok {
			return rotateCycle(append(path[i:], id(t)))
		}
		at[t] = len(path)
		path = append(path, id(t))
		next := int32(-1)
		for k := int(first[t]); k < len(edges) && edges[k].from == t; k++ {
			if d := to[k]; d >= 0 && indeg[d] > 0 && (next < 0 || id(d) < id(next)) {
				next = d
			}
		}
		if next < 0 {
			next = t // cannot happen (see above); a path that repeats at once ends the walk
		}
		t = next
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
		name, rest, ok := nextParamRef(v)
		if !ok {
			return refs
		}
		refs = append(refs, name)
		v = rest
	}
}

// nextParamRef finds the first "{{ params.NAME }}" in v and returns NAME and the text after it.
func nextParamRef(v string) (name, rest string, ok bool) {
	for {
		i := strings.Index(v, "{{")
		if i < 0 {
			return "", "", false
		}
		v = v[i+2:]
		j := strings.Index(v, "}}")
		if j < 0 {
			return "", "", false
		}
		expr := strings.TrimSpace(v[:j])
		v = v[j+2:]
		if name, ok := strings.CutPrefix(expr, "params."); ok && validParamName(name) {
			return name, v, true
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

// sortedTaskIDs returns the sorted ids of the tasks.
func sortedTaskIDs(tasks []*Task) []string {
	var out []string
	for _, t := range tasks {
		out = append(out, t.ID)
	}
	sort.Strings(out)
	return out
}

// undeclaredRef reports whether a task param value refers to a workflow param that is not declared.
func undeclaredRef(w *Workflow, v string) bool {
	for {
		ref, rest, ok := nextParamRef(v)
		if !ok {
			return false
		}
		if _, ok := w.Params[ref]; !ok {
			return true
		}
		v = rest
	}
}

// Index numbers a workflow's tasks in id order, for graph algorithms that run on every parse, digest and diff
// and so must stay linear and light on a 20,000-task workflow.
type Index struct {
	// IDs are the task ids, sorted; a task's number is its position here.
	IDs []string
	// Tasks are the tasks, in the same order.
	Tasks []*Task
	// Deps are each task's dependencies by number, in id order; dangling ones are left out.
	Deps [][]int32
}

// NewIndex numbers the workflow's tasks.
func NewIndex(w *Workflow) *Index { return newGraphIndex(w) }

// Topo returns the task numbers in an order where every task follows its dependencies. Tasks on or behind a
// cycle are left out, so a shorter result means the graph is not a DAG.
func (g *Index) Topo() []int32 {
	order, _ := g.kahn()
	return order
}

type graphIndex = Index

func newGraphIndex(w *Workflow) *graphIndex { return newIndex(w, true) }

// newIndex numbers the tasks in id order when sorted is true, else in whatever order is cheapest.
func newIndex(w *Workflow, sorted bool) *graphIndex {
	g := &graphIndex{IDs: make([]string, 0, len(w.Tasks)), Tasks: make([]*Task, 0, len(w.Tasks))}
	for id, t := range w.Tasks {
		g.IDs = append(g.IDs, id)
		g.Tasks = append(g.Tasks, t)
	}
	if sorted {
		sort.Sort(byID{g})
	}
	num := make(map[string]int32, len(g.IDs))
	for i, id := range g.IDs {
		num[id] = int32(i)
	}
	g.Deps = make([][]int32, len(g.IDs))
	flat := make([]int32, 0, len(g.IDs)*2)
	for i, t := range g.Tasks {
		start := len(flat)
		for _, d := range t.DependsOn {
			if k, ok := num[d]; ok {
				flat = append(flat, k)
			}
		}
		g.Deps[i] = flat[start:len(flat):len(flat)]
	}
	return g
}

// byID sorts an index's ids and tasks together.
type byID struct{ g *graphIndex }

func (s byID) Len() int           { return len(s.g.IDs) }
func (s byID) Less(i, j int) bool { return s.g.IDs[i] < s.g.IDs[j] }
func (s byID) Swap(i, j int) {
	s.g.IDs[i], s.g.IDs[j] = s.g.IDs[j], s.g.IDs[i]
	s.g.Tasks[i], s.g.Tasks[j] = s.g.Tasks[j], s.g.Tasks[i]
}

// kahn returns the task numbers in an order where every task follows its dependencies, and for each task the
// number of its dependencies that never came free: those tasks are on or behind a cycle.
func (g *graphIndex) kahn() (order []int32, indeg []int32) {
	n := len(g.IDs)
	indeg = make([]int32, n)
	count := make([]int32, n+1) // dependents of each task, as offsets into one flat slice
	for i, deps := range g.Deps {
		indeg[i] = int32(len(deps))
		for _, d := range deps {
			count[d+1]++
		}
	}
	for i := 1; i <= n; i++ {
		count[i] += count[i-1]
	}
	dependents := make([]int32, count[n])
	fill := append([]int32(nil), count[:n]...)
	for i, deps := range g.Deps {
		for _, d := range deps {
			dependents[fill[d]] = int32(i)
			fill[d]++
		}
	}
	order = make([]int32, 0, n)
	for i := range n {
		if indeg[i] == 0 {
			order = append(order, int32(i))
		}
	}
	for head := 0; head < len(order); head++ {
		t := order[head]
		for _, d := range dependents[count[t]:count[t+1]] {
			if indeg[d]--; indeg[d] == 0 {
				order = append(order, d)
			}
		}
	}
	return order, indeg
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
