// Package diff computes the semantic difference between two versions of workflows and renders it for people
// (text), programs (JSON) and pull requests (markdown).
//
// A difference is a list of changes, each with a kind, a path into the workflow, old and new values and a class:
// breaking when the workflow's interface changed, behavioral when the graph does something else, metadata when
// only labels changed and the graph digest did not.
package diff

import (
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/maestro-conductor/maestro/digest"
	"github.com/maestro-conductor/maestro/workflow"
)

// Class says how much a change matters.
type Class string

// Classes, from most to least serious.
const (
	Breaking   Class = "breaking"
	Behavioral Class = "behavioral"
	Metadata   Class = "metadata"
)

// Classes lists every class, most serious first.
var Classes = []Class{Breaking, Behavioral, Metadata}

// ParseClass accepts a class name.
func ParseClass(s string) (Class, error) {
	for _, c := range Classes {
		if string(c) == s {
			return c, nil
		}
	}
	return "", fmt.Errorf("unknown change class %q; use breaking, behavioral or metadata", s)
}

// Kind names what changed.
type Kind string

// Change kinds. docs/diff-json.md describes each.
const (
	WorkflowAdded   Kind = "workflow.added"
	WorkflowRemoved Kind = "workflow.removed"
	WorkflowTenant  Kind = "workflow.tenant"
	TaskAdded       Kind = "task.added"
	TaskRemoved     Kind = "task.removed"
	TaskRenamed     Kind = "task.renamed"
	TaskPackage     Kind = "task.package"
	TaskParam       Kind = "task.param"
	TaskRetries     Kind = "task.retries"
	TaskTimeout     Kind = "task.timeout"
	EdgeAdded       Kind = "edge.added"
	EdgeRemoved     Kind = "edge.removed"
	ParamAdded      Kind = "param.added"
	ParamRemoved    Kind = "param.removed"
	ParamRequired   Kind = "param.required"
	ParamType       Kind = "param.type"
	ParamDefault    Kind = "param.default"
	LabelAdded      Kind = "label.added"
	LabelRemoved    Kind = "label.removed"
	LabelChanged    Kind = "label.changed"
)

// Change is one semantic difference.
type Change struct {
	Kind  Kind   `json:"kind"`
	Class Class  `json:"class"`
	Path  string `json:"path"`
	// Task is the id, in the new version, of the task the change belongs to (the old id for a removed task).
	Task string `json:"task,omitempty"`
	// Old and New are strings, numbers or booleans; absent when there is no old or new value.
	Old any `json:"old,omitempty"`
	New any `json:"new,omitempty"`
}

// Status sums up what happened to one workflow.
type Status string

// Workflow statuses.
const (
	Added     Status = "added"
	Removed   Status = "removed"
	Modified  Status = "modified"  // the graph digest changed
	Relabeled Status = "metadata"  // only metadata changed; same digest
	Unchanged Status = "unchanged" // nothing changed
)

// Workflow is the difference of one workflow between two versions.
type Workflow struct {
	Name      string        `json:"name"`
	Status    Status        `json:"status"`
	OldDigest digest.Digest `json:"oldDigest,omitempty"`
	NewDigest digest.Digest `json:"newDigest,omitempty"`
	Changes   []Change      `json:"changes"`
	// Old and New are the two versions compared (nil when absent), for renderers that draw the graph.
	Old *workflow.Workflow `json:"-"`
	New *workflow.Workflow `json:"-"`
}

// Result is the difference between two sets of workflows, sorted by workflow name.
type Result struct {
	Workflows []Workflow `json:"workflows"`
}

// Changed reports whether any graph digest differs.
func (r Result) Changed() bool {
	for _, w := range r.Workflows {
		if w.DigestChanged() {
			return true
		}
	}
	return false
}

// DigestChanged reports whether the workflow's graph digest differs between the versions.
func (w Workflow) DigestChanged() bool { return w.OldDigest != w.NewDigest }

// Has reports whether any change of class c was found.
func (r Result) Has(c Class) bool { return r.Count()[c] > 0 }

// Count returns the number of changes of each class.
func (r Result) Count() map[Class]int {
	n := map[Class]int{}
	for _, w := range r.Workflows {
		for c, k := range w.Count() {
			n[c] += k
		}
	}
	return n
}

// Count returns the number of the workflow's changes of each class.
func (w Workflow) Count() map[Class]int {
	n := map[Class]int{}
	for _, c := range w.Changes {
		n[c.Class]++
	}
	return n
}

// Between compares two sets of workflows. Either may be nil, meaning no workflows.
func Between(a, b *workflow.Set) (Result, error) {
	return BetweenVersions(&Version{Set: a}, &Version{Set: b})
}

// Version is one side of a diff: a set of workflows and, once Prepare has run, their digest tables.
type Version struct {
	Set    *workflow.Set
	tables map[string]*digest.Table
}

// Prepare computes the digest tables of every workflow in s, so that a caller can digest one version while it is
// still reading the other; BetweenVersions then only compares.
func Prepare(s *workflow.Set) (*Version, error) {
	v := &Version{Set: s}
	if s == nil {
		return v, nil
	}
	v.tables = make(map[string]*digest.Table, len(s.Workflows))
	for _, name := range s.Names() { // in order, so that the same error comes first every time
		w := s.Workflows[name]
		if w == nil {
			continue
		}
		t, err := digest.TableOf(w)
		if err != nil {
			return nil, err
		}
		v.tables[name] = t
	}
	return v, nil
}

// table returns the prepared table of the set's workflow under name, or nil.
func (v *Version) table(name string) *digest.Table {
	if v == nil {
		return nil
	}
	return v.tables[name]
}

// BetweenVersions is Between for versions that may have been prepared; tables missing are computed here.
func BetweenVersions(va, vb *Version) (Result, error) {
	var a, b *workflow.Set
	if va != nil {
		a = va.Set
	}
	if vb != nil {
		b = vb.Set
	}
	names := map[string]bool{}
	if a != nil {
		for n := range a.Workflows {
			names[n] = true
		}
	}
	if b != nil {
		for n := range b.Workflows {
			names[n] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	res := Result{Workflows: make([]Workflow, 0, len(sorted))}
	for _, n := range sorted {
		var wa, wb *workflow.Workflow
		if a != nil {
			wa = a.Workflows[n]
		}
		if b != nil {
			wb = b.Workflows[n]
		}
		wd, err := workflows(wa, wb, va.table(n), vb.table(n))
		if err != nil {
			return Result{}, err
		}
		res.Workflows = append(res.Workflows, wd)
	}
	return res, nil
}

// Workflows compares two versions of one workflow; either may be nil (added or removed).
func Workflows(a, b *workflow.Workflow) (Workflow, error) {
	return workflows(a, b, nil, nil)
}

// workflows is Workflows with the versions' digest tables when they are already known.
func workflows(a, b *workflow.Workflow, ga, gb *digest.Table) (Workflow, error) {
	ga, gb, err := tables(a, b, ga, gb)
	if err != nil {
		return Workflow{}, err
	}
	d := Workflow{Old: a, New: b, Changes: []Change{}}
	if a != nil {
		d.Name, d.OldDigest = a.Name, ga.Digest
	}
	if b != nil {
		d.Name, d.NewDigest = b.Name, gb.Digest
	}
	switch {
	case a == nil && b == nil:
		return d, fmt.Errorf("diff of two absent workflows")
	case a == nil:
		d.Status = Added
		d.Changes = append(d.Changes, Change{Kind: WorkflowAdded, Class: Behavioral, Path: "workflows." + b.Name, New: string(gb.Digest)})
		return d, nil
	case b == nil:
		d.Status = Removed
		d.Changes = append(d.Changes, Change{Kind: WorkflowRemoved, Class: Breaking, Path: "workflows." + a.Name, Old: string(ga.Digest)})
		return d, nil
	}
	// Never nil: an unchanged workflow's changes are [] in JSON, not null.
	c := &collector{changes: []Change{}}
	if a.Tenant != b.Tenant {
		c.add(Change{Kind: WorkflowTenant, Class: Behavioral, Path: "metadata.tenant", Old: a.Tenant, New: b.Tenant})
	}
	diffLabels(c, a.Labels, b.Labels)
	diffParams(c, a, b)
	diffTasks(c, ga, gb)
	sortChanges(c.changes)
	d.Changes = c.changes
	switch {
	case d.DigestChanged():
		d.Status = Modified
	case len(d.Changes) > 0:
		d.Status = Relabeled
	default:
		d.Status = Unchanged
	}
	return d, nil
}

// parallelTasks is the size from which the two versions' digests are computed side by side.
const parallelTasks = 2000

// tables computes the digests of both versions (either may be nil), side by side when they are large.
// Tables already known (ta, tb not nil) are kept.
func tables(a, b *workflow.Workflow, ta, tb *digest.Table) (*digest.Table, *digest.Table, error) {
	compute := func(w *workflow.Workflow, t *digest.Table) (*digest.Table, error) {
		if w == nil || t != nil {
			return t, nil
		}
		return digest.TableOf(w)
	}
	if a == nil || b == nil || ta != nil || tb != nil || len(a.Tasks)+len(b.Tasks) < parallelTasks {
		var err error
		if ta, err = compute(a, ta); err != nil {
			return nil, nil, err
		}
		tb, err = compute(b, tb)
		return ta, tb, err
	}
	var err, errB error
	done := make(chan struct{})
	go func() {
		defer close(done)
		tb, errB = compute(b, nil)
	}()
	ta, err = compute(a, nil)
	<-done
	if err == nil {
		err = errB
	}
	return ta, tb, err
}

type collector struct{ changes []Change }

func (c *collector) add(ch Change) { c.changes = append(c.changes, ch) }

func diffLabels(c *collector, a, b map[string]string) {
	for k, v := range a {
		nv, ok := b[k]
		switch {
		case !ok:
			c.add(Change{Kind: LabelRemoved, Class: Metadata, Path: "metadata.labels." + k, Old: v})
		case nv != v:
			c.add(Change{Kind: LabelChanged, Class: Metadata, Path: "metadata.labels." + k, Old: v, New: nv})
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			c.add(Change{Kind: LabelAdded, Class: Metadata, Path: "metadata.labels." + k, New: v})
		}
	}
}

func diffParams(c *collector, a, b *workflow.Workflow) {
	for name, pa := range a.Params {
		path := "spec.params." + name
		pb, ok := b.Params[name]
		if !ok {
			c.add(Change{Kind: ParamRemoved, Class: Breaking, Path: path, Old: pa.Type})
			continue
		}
		if pa.Type != pb.Type {
			c.add(Change{Kind: ParamType, Class: Breaking, Path: path + ".type", Old: pa.Type, New: pb.Type})
		}
		if pa.Required != pb.Required {
			class := Behavioral
			if pb.Required {
				class = Breaking // callers that left it out now fail
			}
			c.add(Change{Kind: ParamRequired, Class: class, Path: path + ".required", Old: pa.Required, New: pb.Required})
		}
		if !equalPtr(pa.Default, pb.Default) {
			c.add(Change{Kind: ParamDefault, Class: Behavioral, Path: path + ".default", Old: deref(pa.Default), New: deref(pb.Default)})
		}
	}
	for name, pb := range b.Params {
		if _, ok := a.Params[name]; ok {
			continue
		}
		class := Behavioral
		if pb.Required {
			class = Breaking
		}
		c.add(Change{Kind: ParamAdded, Class: class, Path: "spec.params." + name, New: pb.Type})
	}
}

func equalPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// diffTasks compares the tasks of two versions, given by their tables.
func diffTasks(c *collector, ta, tb *digest.Table) {
	// The ids of both tables are sorted: one pass pairs the tasks that kept their id and finds, in id order, those
	// removed and added.
	kept := make([]pair, 0, min(len(ta.IDs), len(tb.IDs)))
	var removed, added []int32
	for i, j := 0, 0; i < len(ta.IDs) || j < len(tb.IDs); {
		switch {
		case j == len(tb.IDs) || i < len(ta.IDs) && ta.IDs[i] < tb.IDs[j]:
			removed = append(removed, int32(i))
			i++
		case i == len(ta.IDs) || tb.IDs[j] < ta.IDs[i]:
			added = append(added, int32(j))
			j++
		default:
			kept = append(kept, pair{int32(i), int32(j)})
			i++
			j++
		}
	}
	// A task that left under one id and arrived under another with the same node hash (content and dependencies)
	// was renamed; failing that, the same content with other dependencies is a rename plus edge changes.
	var renames []pair
	removed, added = pairRenames(removed, added, func(i int32) digest.Sum { return ta.Nodes[i] },
		func(j int32) digest.Sum { return tb.Nodes[j] }, &renames)
	removed, added = pairRenames(removed, added, func(i int32) digest.Sum { return ta.Content(int(i)) },
		func(j int32) digest.Sum { return tb.Content(int(j)) }, &renames)

	for _, i := range removed {
		id := ta.IDs[i]
		c.add(Change{Kind: TaskRemoved, Class: Behavioral, Path: "spec.tasks." + id, Task: id, Old: string(ta.Tasks[i].Package)})
	}
	for _, j := range added {
		id := tb.IDs[j]
		c.add(Change{Kind: TaskAdded, Class: Behavioral, Path: "spec.tasks." + id, Task: id, New: string(tb.Tasks[j].Package)})
	}
	// toB numbers each old task as the new version does; -1 for a removed one.
	toB := make([]int32, len(ta.IDs))
	for i := range toB {
		toB[i] = -1
	}
	for _, p := range kept {
		toB[p.a] = p.b
	}
	renamed := make(map[string]string, len(renames)) // old id -> new id
	for _, p := range renames {
		toB[p.a] = p.b
		renamed[ta.IDs[p.a]] = tb.IDs[p.b]
		c.add(Change{Kind: TaskRenamed, Class: Behavioral, Path: "spec.tasks." + ta.IDs[p.a], Task: tb.IDs[p.b], Old: ta.IDs[p.a], New: tb.IDs[p.b]})
	}
	newID := func(old string) string {
		if n, ok := renamed[old]; ok {
			return n
		}
		return old
	}
	for _, p := range append(kept, renames...) {
		if !unchanged(ta, tb, p, toB) {
			diffTask(c, ta.Tasks[p.a], tb.Tasks[p.b], newID)
		}
	}
}

// pair numbers one task in the old and the new version.
type pair struct{ a, b int32 }

// unchanged reports, without building anything, whether diffTask finds nothing to report for a pair of tasks:
// most tasks of a large workflow are unchanged. It may report false for an unchanged task, never true for a changed
// one.
func unchanged(ta, tb *digest.Table, p pair, toB []int32) bool {
	x, y := ta.Tasks[p.a], tb.Tasks[p.b]
	if x.Timeout != y.Timeout { // the content hash holds it in whole seconds only
		return false
	}
	// The same dependencies: each old one is, in the new version, the new one in its place; none is dangling.
	da, db := ta.Deps(int(p.a)), tb.Deps(int(p.b))
	if len(da) != len(db) || len(da) != len(x.DependsOn) || len(db) != len(y.DependsOn) {
		return false
	}
	for k, d := range da {
		if toB[d] != db[k] {
			return false
		}
	}
	// The same content: equal node hashes have equal node objects, which hold the package, params and retries.
	return ta.Nodes[p.a] == tb.Nodes[p.b] ||
		x.Package == y.Package && x.Retries == y.Retries && maps.Equal(x.Params, y.Params)
}

// pairRenames matches removed and added tasks whose hashes are equal, in id order, recording each pair.
func pairRenames(removed, added []int32, ha, hb func(int32) digest.Sum, renames *[]pair) (restRemoved, restAdded []int32) {
	if len(removed) == 0 || len(added) == 0 {
		return removed, added
	}
	byHash := make(map[digest.Sum][]int32, len(added))
	for _, j := range added {
		h := hb(j)
		byHash[h] = append(byHash[h], j)
	}
	taken := make(map[int32]bool)
	for _, i := range removed {
		h := ha(i)
		cands := byHash[h]
		if len(cands) == 0 {
			restRemoved = append(restRemoved, i)
			continue
		}
		*renames = append(*renames, pair{i, cands[0]})
		taken[cands[0]] = true
		byHash[h] = cands[1:]
	}
	for _, j := range added {
		if !taken[j] {
			restAdded = append(restAdded, j)
		}
	}
	return restRemoved, restAdded
}

func diffTask(c *collector, ta, tb *workflow.Task, newID func(string) string) {
	id := tb.ID
	path := "spec.tasks." + id
	if ta.Package != tb.Package {
		c.add(Change{Kind: TaskPackage, Class: Behavioral, Path: path + ".package", Task: id, Old: string(ta.Package), New: string(tb.Package)})
	}
	for k, v := range ta.Params {
		nv, ok := tb.Params[k]
		switch {
		case !ok:
			c.add(Change{Kind: TaskParam, Class: Behavioral, Path: path + ".params." + k, Task: id, Old: v})
		case nv != v:
			c.add(Change{Kind: TaskParam, Class: Behavioral, Path: path + ".params." + k, Task: id, Old: v, New: nv})
		}
	}
	for k, v := range tb.Params {
		if _, ok := ta.Params[k]; !ok {
			c.add(Change{Kind: TaskParam, Class: Behavioral, Path: path + ".params." + k, Task: id, New: v})
		}
	}
	if ta.Retries != tb.Retries {
		c.add(Change{Kind: TaskRetries, Class: Behavioral, Path: path + ".retries", Task: id, Old: ta.Retries, New: tb.Retries})
	}
	if ta.Timeout != tb.Timeout {
		c.add(Change{Kind: TaskTimeout, Class: Behavioral, Path: path + ".timeout", Task: id, Old: FormatDuration(ta.Timeout), New: FormatDuration(tb.Timeout)})
	}
	oldDeps := make(map[string]bool, len(ta.DependsOn))
	for _, d := range ta.DependsOn {
		oldDeps[newID(d)] = true
	}
	newDeps := make(map[string]bool, len(tb.DependsOn))
	for _, d := range tb.DependsOn {
		newDeps[d] = true
		if !oldDeps[d] {
			c.add(Change{Kind: EdgeAdded, Class: Behavioral, Path: path + ".dependsOn", Task: id, New: d})
		}
	}
	for _, d := range ta.DependsOn {
		if !newDeps[newID(d)] {
			c.add(Change{Kind: EdgeRemoved, Class: Behavioral, Path: path + ".dependsOn", Task: id, Old: newID(d)})
		}
	}
}

// FormatDuration writes a duration as hours, minutes and seconds ("1h30m", "45s"); zero is "none".
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	s := d.String() // e.g. "1h30m0s"
	s, _ = strings.CutSuffix(s, "m0s")
	if !strings.HasSuffix(s, "s") {
		s += "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

func sortChanges(cs []Change) {
	sort.Slice(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return valueString(a.Old)+"\x00"+valueString(a.New) < valueString(b.Old)+"\x00"+valueString(b.New)
	})
}

// valueString renders a change value for people and for sorting.
func valueString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}
