// Package digest computes a workflow's canonical form and its Merkle graph digest.
//
// Every task has a node hash that covers its own content and the node hashes of the tasks it depends on, so equal
// subgraphs have equal hashes wherever they appear, and a task renamed without other change keeps its node hash.
// The workflow digest covers the workflow's identity, its params and the map from task id to node hash. The exact
// construction is specified, with test vectors, in docs/digest.md.
package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/maestro-conductor/maestro/workflow"
)

// Digest is "sha256:" followed by 64 lowercase hex digits.
type Digest string

// Algorithm is the only digest algorithm maestro uses.
const Algorithm = "sha256"

// ErrMalformed is returned by Parse for text that is not a digest.
var ErrMalformed = errors.New("malformed digest")

// Parse checks that s is a digest and returns it.
func Parse(s string) (Digest, error) {
	h, ok := strings.CutPrefix(s, Algorithm+":")
	if !ok || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return "", fmt.Errorf("%w: %q is not sha256: followed by 64 lowercase hex digits", ErrMalformed, s)
	}
	return Digest(s), nil
}

// Hex returns the digest without its algorithm prefix.
func (d Digest) Hex() string { return strings.TrimPrefix(string(d), Algorithm+":") }

// Short returns the first 12 hex digits, for people.
func (d Digest) Short() string {
	h := d.Hex()
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func (d Digest) String() string { return string(d) }

func sum(b []byte) Digest {
	s := sha256.Sum256(b)
	var out [len(Algorithm) + 1 + 2*sha256.Size]byte
	n := copy(out[:], Algorithm+":")
	hex.Encode(out[n:], s[:])
	return Digest(out[:])
}

// Graph is a workflow's digest together with the hashes it is built from.
type Graph struct {
	// Digest identifies the whole workflow graph.
	Digest Digest
	// Nodes maps each task id to its node hash (content and dependencies' node hashes).
	Nodes map[string]Digest
	// Contents maps each task id to the hash of its own content alone, without its dependencies.
	Contents map[string]Digest
}

// Of returns the graph digest of a parsed workflow.
func Of(w *workflow.Workflow) (Digest, error) {
	g, err := Compute(w)
	if err != nil {
		return "", err
	}
	return g.Digest, nil
}

// Compute returns the workflow's digest with its node and content hashes.
func Compute(w *workflow.Workflow) (*Graph, error) {
	if w == nil {
		return nil, errors.New("digest of a nil workflow")
	}
	idx := workflow.NewIndex(w)
	order := idx.Topo()
	if len(order) != len(w.Tasks) {
		return nil, fmt.Errorf("workflow %s: tasks form a cycle or depend on missing tasks; run maestro validate", w.Name)
	}
	nodes := make([]Digest, len(order))
	g := &Graph{Nodes: make(map[string]Digest, len(order)), Contents: make(map[string]Digest, len(order))}
	var content, node []byte
	var keys, deps []string
	for _, k := range order {
		id, t := idx.IDs[k], idx.Tasks[k]
		content = appendTaskContent(content[:0], t, &keys)
		g.Contents[id] = sum(content)
		deps = deps[:0]
		for _, d := range idx.Deps[k] {
			deps = append(deps, string(nodes[d]))
		}
		node = appendNode(node[:0], content, deps)
		nodes[k] = sum(node)
		g.Nodes[id] = nodes[k]
	}
	ascii := true
	for _, id := range idx.IDs {
		ascii = ascii && isASCII(id)
	}
	if ascii {
		g.Digest = sum(canonical(w, idx.IDs, idx.Tasks, nodes))
	} else {
		g.Digest = sum(Canonical(w, g)) // sorts by UTF-16 code units
	}
	return g, nil
}

// appendTaskContent appends the canonical JSON of a task's own content: its node object without "dependsOn".
// Members are written in their canonical order directly; keys is scratch space for sorting param names.
func appendTaskContent(b []byte, t *workflow.Task, keys *[]string) []byte {
	b = append(b, `{"package":`...)
	b = appendString(b, string(t.Package))
	b = append(b, `,"params":{`...)
	ks := (*keys)[:0]
	for k := range t.Params {
		ks = append(ks, k)
	}
	sortKeys(ks)
	for i, k := range ks {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, t.Params[k])
	}
	*keys = ks
	b = append(b, `},"retries":`...)
	b = strconv.AppendInt(b, int64(t.Retries), 10)
	b = append(b, `,"timeoutSeconds":`...)
	b = strconv.AppendInt(b, int64(t.Timeout/time.Second), 10)
	return append(b, '}')
}

// appendNode appends a task's node object: "dependsOn" (the sorted node hashes of its dependencies) sorts before
// every content member, so it goes first, then the content's members.
func appendNode(b, content []byte, deps []string) []byte {
	sortStrings(deps)
	b = append(b, `{"dependsOn":`...)
	b = appendJCS(b, deps)
	b = append(b, ',')
	return append(b, content[1:]...)
}

// sortKeys sorts object member names in RFC 8785 order.
func sortKeys(ks []string) {
	for _, k := range ks {
		if !isASCII(k) {
			sort.Slice(ks, func(i, j int) bool { return lessUTF16(ks[i], ks[j]) })
			return
		}
	}
	sort.Strings(ks)
}

// Canonical returns the canonical JSON of the workflow's root object, whose SHA-256 is the workflow digest. g must
// be the workflow's Graph, or nil to compute it.
func Canonical(w *workflow.Workflow, g *Graph) []byte {
	if g == nil {
		var err error
		if g, err = Compute(w); err != nil {
			return nil
		}
	}
	ids := make([]string, 0, len(g.Nodes))
	for id := range g.Nodes {
		ids = append(ids, id)
	}
	sortKeys(ids)
	nodes := make([]Digest, len(ids))
	ts := make([]*workflow.Task, len(ids))
	for i, id := range ids {
		nodes[i], ts[i] = g.Nodes[id], w.Tasks[id]
	}
	return canonical(w, ids, ts, nodes)
}

// canonical writes the root object; ids are the task ids in canonical order and nodes their node hashes.
func canonical(w *workflow.Workflow, ids []string, ts []*workflow.Task, nodes []Digest) []byte {
	// Each task is {"dependsOn": [ids], "node": hash}: the node hash carries the task's content and upstream
	// subgraph; the ids pin which task each edge points at, which hashes alone cannot tell apart when two tasks
	// are identical twins. Task ids are ASCII (the parser allows [a-z0-9_-]) and DependsOn is sorted, so both are
	// already in the UTF-16 order RFC 8785 asks for, and 20,000 tasks are written without the general encoder.
	tasks := make(rawJSON, 0, len(ids)*96)
	tasks = append(tasks, '{')
	for i, id := range ids {
		if i > 0 {
			tasks = append(tasks, ',')
		}
		tasks = appendString(tasks, id)
		tasks = append(tasks, `:{"dependsOn":`...)
		tasks = appendJCS(tasks, ts[i].DependsOn)
		tasks = append(tasks, `,"node":`...)
		tasks = appendString(tasks, string(nodes[i]))
		tasks = append(tasks, '}')
	}
	tasks = append(tasks, '}')
	params := make(object, 0, len(w.Params))
	for name, p := range w.Params {
		po := make(object, 0, 3)
		po.set("type", p.Type)
		po.set("required", p.Required)
		if p.Default != nil {
			po.set("default", *p.Default)
		}
		params = append(params, member{name, po})
	}
	root := make(object, 0, 6)
	root.set("apiVersion", workflow.APIVersion)
	root.set("kind", workflow.Kind)
	root.set("name", w.Name)
	root.set("tenant", w.Tenant)
	root.set("params", params)
	root.set("tasks", tasks)
	return appendJCS(nil, root)
}

// CanonicalTask returns the canonical JSON of one task's node object, whose SHA-256 is its node hash.
func CanonicalTask(t *workflow.Task, g *Graph) []byte {
	deps := make([]string, 0, len(t.DependsOn))
	for _, d := range t.DependsOn {
		deps = append(deps, string(g.Nodes[d]))
	}
	var keys []string
	return appendNode(nil, appendTaskContent(nil, t, &keys), deps)
}

func sortStrings(s []string) {
	// Node hashes are ASCII, so byte order is the UTF-16 order RFC 8785 asks for.
	sort.Strings(s)
}
