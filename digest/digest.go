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
	"hash"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
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

// digestLen is the length of a Digest.
const digestLen = len(Algorithm) + 1 + 2*sha256.Size

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

// Sum is a SHA-256 hash, such as a task's node or content hash, before it is written as a Digest.
type Sum [sha256.Size]byte

// Digest writes the hash as a digest.
func (s Sum) Digest() Digest {
	var out [digestLen]byte
	s.put(out[:])
	return Digest(out[:])
}

// put writes the hash as a digest to the first digestLen bytes of b.
func (s *Sum) put(b []byte) {
	copy(b, Algorithm+":")
	hex.Encode(b[len(Algorithm)+1:digestLen], s[:])
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

// Table is a workflow's digest with the node hash of every task, the tasks numbered in id order: what a Graph holds,
// but for the content hashes (Content computes them on demand), without a map or a string per task, for callers
// that walk every task, such as the diff.
type Table struct {
	// Digest identifies the whole workflow graph.
	Digest Digest
	// IDs are the task ids in byte order; a task's number is its index here.
	IDs []string
	// Tasks are the tasks in the same order.
	Tasks []*workflow.Task
	// Nodes are the tasks' node hashes in the same order.
	Nodes []Sum
	// deps[depStart[i]:depStart[i+1]] are task i's dependencies by number, in the order of its DependsOn.
	depStart, deps []int32
}

// Deps returns task i's dependencies by number, in the order of its DependsOn; dangling ones are left out.
func (t *Table) Deps(i int) []int32 { return t.deps[t.depStart[i]:t.depStart[i+1]:t.depStart[i+1]] }

// Content returns the hash of task i's own content, without its dependencies: Graph.Contents[Table.IDs[i]]. It is
// computed on each call, since most callers need few of them.
func (t *Table) Content(i int) Sum {
	var kv []param
	return sha256.Sum256(appendTaskContent(nil, t.Tasks[i], &kv))
}

// Of returns the graph digest of a parsed workflow.
func Of(w *workflow.Workflow) (Digest, error) {
	h, err := newHasher(w, false)
	if err != nil {
		return "", err
	}
	return h.digest, nil
}

// Compute returns the workflow's digest with its node and content hashes.
func Compute(w *workflow.Workflow) (*Graph, error) {
	h, err := newHasher(w, true)
	if err != nil {
		return nil, err
	}
	n := len(h.ids)
	// Every digest is a slice of one of two strings, so that 20,000 tasks cost two allocations rather than 40,000.
	contents := make([]byte, n*digestLen)
	for i := range h.contents {
		h.contents[i].put(contents[i*digestLen:])
	}
	nodeText, contentText := string(h.hex), string(contents)
	g := &Graph{Digest: h.digest, Nodes: make(map[string]Digest, n), Contents: make(map[string]Digest, n)}
	for i, id := range h.ids {
		g.Nodes[id] = Digest(nodeText[i*digestLen : (i+1)*digestLen])
		g.Contents[id] = Digest(contentText[i*digestLen : (i+1)*digestLen])
	}
	return g, nil
}

// TableOf returns the workflow's digest with its node hashes, numbered in id order.
func TableOf(w *workflow.Workflow) (*Table, error) {
	h, err := newHasher(w, false)
	if err != nil {
		return nil, err
	}
	n := len(h.ids)
	t := &Table{Digest: h.digest, IDs: make([]string, n), Tasks: make([]*workflow.Task, n), Nodes: make([]Sum, n),
		depStart: make([]int32, n+1), deps: make([]int32, 0, len(h.deps))}
	rank := make([]int32, n) // a task's number in the table, by its number in the hasher
	for k, i := range h.byID {
		t.IDs[k], t.Tasks[k], t.Nodes[k] = h.ids[i], h.tasks[i], h.nodes[i]
		rank[i] = int32(k)
	}
	for k, i := range h.byID {
		for _, d := range h.deps[h.depStart[i]:h.depStart[i+1]] {
			t.deps = append(t.deps, rank[d])
		}
		t.depStart[k+1] = int32(len(t.deps))
	}
	return t, nil
}

// hasher computes a workflow's hashes. It numbers the tasks in the order they were written, which is usually the
// order in which the parser allocated them, so that it reads memory mostly forwards: at 20,000 tasks, writing the
// tasks' content in id order instead takes half as long again. Results never depend on the numbering.
type hasher struct {
	ids   []string
	tasks []*workflow.Task
	byID  []int32 // task numbers in the byte order of their ids
	// deps[depStart[i]:depStart[i+1]] are task i's dependencies by number; dangling ones are left out.
	depStart, deps []int32
	nodes          []Sum
	contents       []Sum   // only when asked for
	hex            []byte  // node hash i as a Digest is hex[i*digestLen:(i+1)*digestLen]
	digest         Digest  // of the root object
	node           []byte  // scratch: one task's node object, with its content object in the same bytes
	kv             []param // scratch: one task's params
	sorted         []int32 // scratch: one task's dependencies in node hash order
}

type param struct{ k, v string }

// newHasher computes the workflow digest and every node hash, and every content hash if contents is set.
func newHasher(w *workflow.Workflow, contents bool) (*hasher, error) {
	if w == nil {
		return nil, errors.New("digest of a nil workflow")
	}
	h := &hasher{}
	h.number(w)
	n := len(h.ids)
	h.nodes = make([]Sum, n)
	h.hex = make([]byte, n*digestLen)
	if contents {
		h.contents = make([]Sum, n)
	}
	if !h.hashNodes() {
		return nil, fmt.Errorf("workflow %s: tasks form a cycle or depend on missing tasks; run maestro validate", w.Name)
	}
	h.sortByID()
	h.digest = h.root(w)
	return h, nil
}

// number numbers the tasks in the order of their lines in the file and resolves every dependency to a task number.
func (h *hasher) number(w *workflow.Workflow) {
	n := len(w.Tasks)
	ids := make([]string, 0, n)
	tasks := make([]*workflow.Task, 0, n)
	lines := make([]int32, 0, n)
	for id, t := range w.Tasks {
		ids = append(ids, id)
		tasks = append(tasks, t)
		lines = append(lines, int32(min(max(t.Pos.Line, 0), math.MaxInt32)))
	}
	h.ids = make([]string, n)
	h.tasks = make([]*workflow.Task, n)
	ndeps := 0
	for i, j := range byLine(lines) {
		h.ids[i], h.tasks[i] = ids[j], tasks[j]
		ndeps += len(tasks[j].DependsOn)
	}
	num := newIDTable(h.ids)
	h.depStart = make([]int32, n+1)
	h.deps = make([]int32, 0, ndeps)
	for i, t := range h.tasks {
		for _, d := range t.DependsOn {
			if k := num.find(h.ids, d); k >= 0 {
				h.deps = append(h.deps, k)
			}
		}
		h.depStart[i+1] = int32(len(h.deps))
	}
}

// idTable finds a task's number by its id: an open-addressing hash table of numbers, which unlike a map holds no
// pointers for the garbage collector to follow and costs no allocation per task.
type idTable struct {
	// slots hold the top 32 bits of an id's hash and its number plus one (zero for an empty slot); a power of two
	// of them, at most half used.
	slots []uint64
	mask  uint64
}

// idSeed seeds the hash of ids; a random seed keeps a file from choosing ids that collide.
var idSeed = maphash.MakeSeed()

// newIDTable returns the table of ids, which are distinct, each numbered by its position.
func newIDTable(ids []string) idTable {
	t := idTable{slots: make([]uint64, 1<<bits.Len(uint(2*len(ids))))}
	t.mask = uint64(len(t.slots) - 1)
	for i, id := range ids {
		h := maphash.String(idSeed, id)
		j := h & t.mask
		for t.slots[j] != 0 {
			j = (j + 1) & t.mask
		}
		t.slots[j] = h&^0xffffffff | uint64(i+1)
	}
	return t
}

// find returns the number of the task with the given id, or -1.
func (t idTable) find(ids []string, id string) int32 {
	h := maphash.String(idSeed, id)
	for j := h & t.mask; ; j = (j + 1) & t.mask {
		s := t.slots[j]
		if s == 0 {
			return -1
		}
		if s&^0xffffffff == h&^0xffffffff && ids[uint32(s)-1] == id {
			return int32(uint32(s) - 1)
		}
	}
}

// byLine returns the positions of lines in the order of their values: a counting sort, since a file has not many
// more lines than tasks, else an ordinary one.
func byLine(lines []int32) []int32 {
	order := make([]int32, len(lines))
	last := int32(0)
	for _, l := range lines {
		last = max(last, l)
	}
	if int(last) > 8*len(lines)+1024 {
		keys := make([]uint64, len(lines))
		for i, l := range lines {
			keys[i] = uint64(l)<<32 | uint64(i)
		}
		slices.Sort(keys)
		for i, k := range keys {
			order[i] = int32(uint32(k))
		}
		return order
	}
	start := make([]int32, last+2) // start[l+1] counts, then start[l] is where line l goes
	for _, l := range lines {
		start[l+1]++
	}
	for l := 1; l < len(start); l++ {
		start[l] += start[l-1]
	}
	for i, l := range lines {
		order[start[l]] = int32(i)
		start[l]++
	}
	return order
}

// sortByID sets byID, the task numbers in the byte order of their ids.
func (h *hasher) sortByID() {
	es := make([]idKey, len(h.ids))
	for i, id := range h.ids {
		es[i] = idKey{prefix(id), prefix(id[min(8, len(id)):]), int32(i)}
	}
	es = sortIDKeys(es)
	// Ids that share their first 16 bytes are ordered by the rest.
	for i := 0; i < len(es); {
		j := i + 1
		for j < len(es) && es[j].hi == es[i].hi && es[j].lo == es[i].lo {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(es[i:j], func(a, b idKey) int { return strings.Compare(h.ids[a.i], h.ids[b.i]) })
		}
		i = j
	}
	h.byID = make([]int32, len(es))
	for k, e := range es {
		h.byID[k] = e.i
	}
}

// idKey is a task id's first 16 bytes, as two big-endian numbers, and the task's number.
type idKey struct {
	hi, lo uint64
	i      int32
}

// sortIDKeys sorts keys by hi, then lo: a radix sort, a byte at a time from the last, which reads each id once
// instead of comparing ids at scattered places in memory some 15 times each. It returns the sorted slice, which may
// be a new one.
func sortIDKeys(keys []idKey) []idKey {
	if len(keys) < 2 {
		return keys
	}
	var count [16][256]int32
	for _, k := range keys {
		for d := range 8 {
			count[d][byte(k.lo>>(8*d))]++
			count[8+d][byte(k.hi>>(8*d))]++
		}
	}
	tmp := make([]idKey, len(keys))
	for d := range 16 {
		c := &count[d]
		if int(c[byte(digitOf(keys[0], d))]) == len(keys) {
			continue // every key has the same byte here
		}
		var at int32
		for b := range c {
			at, c[b] = at+c[b], at
		}
		for _, k := range keys {
			b := byte(digitOf(k, d))
			tmp[c[b]] = k
			c[b]++
		}
		keys, tmp = tmp, keys
	}
	return keys
}

// digitOf returns byte d of a key, counting from the least significant byte of lo.
func digitOf(k idKey, d int) uint64 {
	if d < 8 {
		return k.lo >> (8 * d)
	}
	return k.hi >> (8 * (d - 8))
}

// prefix returns the first eight bytes of s as a big-endian number, padded with zeroes, so that numbers order as
// the strings they start.
func prefix(s string) uint64 {
	var x uint64
	for i := range 8 {
		x <<= 8
		if i < len(s) {
			x |= uint64(s[i])
		}
	}
	return x
}

// hashNodes computes every node hash, each after those of its dependencies, in a depth-first walk. It returns false
// if the dependencies form a cycle.
func (h *hasher) hashNodes() bool {
	const (
		unseen = iota
		open   // on the walk's path: its dependencies are being hashed
		done
	)
	n := len(h.ids)
	state := make([]uint8, n)
	next := make([]int32, n) // per open task, the position in deps of the next dependency to visit
	var stack []int32
	for root := range int32(n) {
		if state[root] != unseen {
			continue
		}
		state[root], next[root] = open, h.depStart[root]
		stack = append(stack[:0], root)
		for len(stack) > 0 {
			t := stack[len(stack)-1]
			if k := next[t]; k < h.depStart[t+1] {
				next[t]++
				switch d := h.deps[k]; state[d] {
				case open:
					return false
				case unseen:
					state[d], next[d] = open, h.depStart[d]
					stack = append(stack, d)
				}
				continue
			}
			h.hashNode(t)
			state[t] = done
			stack = stack[:len(stack)-1]
		}
	}
	return true
}

// hashNode computes task t's content and node hash, its dependencies' node hashes being known.
func (h *hasher) hashNode(t int32) {
	deps := h.deps[h.depStart[t]:h.depStart[t+1]]
	// The node object is {"dependsOn":[...], followed by the content's members: the content is written where it
	// starts with the '{' that the node has as ',' in its place, so that one buffer holds both.
	quoted := len(deps)*(digestLen+2) + max(len(deps)-1, 0) // the hashes, quoted and separated by commas
	at := len(`{"dependsOn":[`) + quoted + len(`]`)
	b := appendTaskContent(append(h.node[:0], make([]byte, at)...), h.tasks[t], &h.kv)
	if h.contents != nil {
		h.contents[t] = sha256.Sum256(b[at:])
	}
	// "dependsOn" holds the dependencies' node hashes sorted as strings; hex preserves the order of the bytes.
	ds := append(h.sorted[:0], deps...)
	slices.SortFunc(ds, func(a, b int32) int { return compareSums(&h.nodes[a], &h.nodes[b]) })
	h.sorted = ds
	p := append(b[:0], `{"dependsOn":[`...)
	for i, d := range ds {
		if i > 0 {
			p = append(p, ',')
		}
		p = append(p, '"')
		p = append(p, h.hexOf(d)...)
		p = append(p, '"')
	}
	p = append(p, "],"...)
	if len(p) != at+1 {
		panic("digest: node prefix miscounted") // unreachable
	}
	h.node = b
	h.nodes[t] = sha256.Sum256(b)
	h.nodes[t].put(h.hex[int(t)*digestLen:])
}

func compareSums(a, b *Sum) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// hexOf returns task i's node hash as a Digest's bytes.
func (h *hasher) hexOf(i int32) []byte { return h.hex[int(i)*digestLen : (int(i)+1)*digestLen] }

// root returns the digest of the root object.
func (h *hasher) root(w *workflow.Workflow) Digest {
	order := h.byID
	for _, id := range h.ids {
		if !isASCII(id) {
			// RFC 8785 orders names by UTF-16 code units, which differs from byte order only beyond ASCII.
			order = slices.Clone(h.byID)
			slices.SortStableFunc(order, func(a, b int32) int {
				if lessUTF16(h.ids[a], h.ids[b]) {
					return -1
				}
				if lessUTF16(h.ids[b], h.ids[a]) {
					return 1
				}
				return 0
			})
			break
		}
	}
	s := sink{h: sha256.New(), b: h.node[:0]}
	writeRoot(&s, w, h.ids, h.tasks, order, func(b []byte, i int32) []byte { return append(b, h.hexOf(i)...) })
	var out Sum
	s.h.Sum(out[:0])
	return out.Digest()
}

// sink collects canonical JSON, passing it on to a hash in chunks if it has one.
type sink struct {
	b []byte
	h hash.Hash
}

// flush hands the bytes collected so far to the hash, once they are many.
func (s *sink) flush(final bool) {
	if s.h != nil && (final || len(s.b) >= 32<<10) {
		s.h.Write(s.b)
		s.b = s.b[:0]
	}
}

// writeRoot writes the root object: ids are the task ids, ts the tasks, and appendNode appends task i's node hash
// as a Digest, without quotes; order, if not nil, is the canonical order of the tasks, else it is the order of ids.
func writeRoot(s *sink, w *workflow.Workflow, ids []string, ts []*workflow.Task, order []int32, appendNode func([]byte, int32) []byte) {
	// Members in canonical order: apiVersion, kind, name, params, tasks, tenant.
	b := append(s.b, `{"apiVersion":`...)
	b = appendString(b, workflow.APIVersion)
	b = append(b, `,"kind":`...)
	b = appendString(b, workflow.Kind)
	b = append(b, `,"name":`...)
	b = appendString(b, w.Name)
	b = append(b, `,"params":`...)
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
	b = appendJCS(b, params)
	// Each task is {"dependsOn": [ids], "node": hash}: the node hash carries the task's content and upstream
	// subgraph; the ids pin which task each edge points at, which hashes alone cannot tell apart when two tasks
	// are identical twins. DependsOn is sorted, and task ids are ASCII in every workflow the parser accepts (it
	// allows [a-z0-9_-]), so DependsOn is already in the UTF-16 order RFC 8785 asks for.
	b = append(b, `,"tasks":{`...)
	for k := range ids {
		i := int32(k)
		if order != nil {
			i = order[k]
		}
		if k > 0 {
			b = append(b, ',')
		}
		b = appendString(b, ids[i])
		b = append(b, `:{"dependsOn":`...)
		b = appendJCS(b, ts[i].DependsOn)
		b = append(b, `,"node":"`...)
		b = appendNode(b, i)
		b = append(b, `"}`...)
		s.b = b
		s.flush(false)
		b = s.b
	}
	b = append(b, `},"tenant":`...)
	b = appendString(b, w.Tenant)
	s.b = append(b, '}')
	s.flush(true)
}

// appendTaskContent appends the canonical JSON of a task's own content: its node object without "dependsOn".
// Members are written in their canonical order directly; kv is scratch space for sorting params.
func appendTaskContent(b []byte, t *workflow.Task, kv *[]param) []byte {
	b = append(b, `{"package":`...)
	b = appendString(b, string(t.Package))
	b = append(b, `,"params":{`...)
	ps := (*kv)[:0]
	for k, v := range t.Params {
		ps = append(ps, param{k, v})
	}
	sortParams(ps)
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, p.k)
		b = append(b, ':')
		b = appendString(b, p.v)
	}
	*kv = ps
	b = append(b, `},"retries":`...)
	b = strconv.AppendInt(b, int64(t.Retries), 10)
	b = append(b, `,"timeoutSeconds":`...)
	b = strconv.AppendInt(b, int64(t.Timeout/time.Second), 10)
	return append(b, '}')
}

// sortParams sorts params by name in RFC 8785 order.
func sortParams(ps []param) {
	for _, p := range ps {
		if !isASCII(p.k) {
			sort.Slice(ps, func(i, j int) bool { return lessUTF16(ps[i].k, ps[j].k) })
			return
		}
	}
	if len(ps) > 12 {
		slices.SortFunc(ps, func(a, b param) int { return strings.Compare(a.k, b.k) })
		return
	}
	// Tasks have few params: an insertion sort, without the calls of a general one.
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].k < ps[j-1].k; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
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
	ts := make([]*workflow.Task, len(ids))
	for i, id := range ids {
		ts[i] = w.Tasks[id]
	}
	var s sink
	writeRoot(&s, w, ids, ts, nil, func(b []byte, i int32) []byte { return append(b, g.Nodes[ids[i]]...) })
	return s.b
}

// CanonicalTask returns the canonical JSON of one task's node object, whose SHA-256 is its node hash.
func CanonicalTask(t *workflow.Task, g *Graph) []byte {
	deps := make([]string, 0, len(t.DependsOn))
	for _, d := range t.DependsOn {
		deps = append(deps, string(g.Nodes[d]))
	}
	// Node hashes are ASCII, so byte order is the UTF-16 order RFC 8785 asks for.
	sort.Strings(deps)
	var kv []param
	content := appendTaskContent(nil, t, &kv)
	// "dependsOn" sorts before every content member, so it goes first, then the content's members.
	b := append([]byte(`{"dependsOn":`), appendJCS(nil, deps)...)
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
