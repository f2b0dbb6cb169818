package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"math/bits"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"gopkg.in/yaml.v3"
)

// Limits bound the work and memory one file may cost. The zero value means DefaultLimits.
type Limits struct {
	// MaxFileSize is the largest file accepted, in bytes.
	MaxFileSize int64
	// MaxAliasNodes is how many YAML nodes aliases may expand to in one file, in all.
	MaxAliasNodes int
}

// DefaultLimits are generous for real workflows (a 20,000-task workflow is about 5 MB) and stop hostile files.
var DefaultLimits = Limits{MaxFileSize: 32 << 20, MaxAliasNodes: 1_000_000}

func (l Limits) orDefaults() Limits {
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultLimits.MaxFileSize
	}
	if l.MaxAliasNodes <= 0 {
		l.MaxAliasNodes = DefaultLimits.MaxAliasNodes
	}
	return l
}

var (
	yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// maxRetries bounds retries; more is a typo, not a policy.
const maxRetries = 100

// Parse reads every workflow document in one YAML file. Documents of another kind are skipped. The file name is
// used in error positions only. Errors are an ErrorList (or a single *Error) naming file, line and column.
func Parse(file string, data []byte, lim Limits) ([]*Workflow, error) {
	return parse(file, data, lim, false)
}

// ParseOwned is Parse for a buffer the caller gives up: the workflows' strings may share its memory, so data must
// never be changed afterwards. It saves a copy of the file, which for a large workflow is a noticeable part of
// reading it; Load and the command line read files this way.
func ParseOwned(file string, data []byte, lim Limits) ([]*Workflow, error) {
	return parse(file, data, lim, true)
}

func parse(file string, data []byte, lim Limits, owned bool) ([]*Workflow, error) {
	lim = lim.orDefaults()
	if int64(len(data)) > lim.MaxFileSize {
		return nil, &Error{Pos: Position{File: file}, Kind: ErrTooLarge,
			Msg: fmt.Sprintf("file is %d bytes, over the limit of %d bytes; split it into several files or raise the limit (--max-file-size)", len(data), lim.MaxFileSize)}
	}
	// Plain ASCII, as most workflow files are, is valid UTF-8, and the fast path reads it.
	ascii := plainASCII(data)
	if !ascii && !utf8.Valid(data) {
		return nil, &Error{Pos: firstInvalidUTF8(file, data), Kind: ErrNotUTF8,
			Msg: "file is not valid UTF-8; save it as UTF-8"}
	}
	p := &parser{file: file, lim: lim}
	var out []*Workflow
	if t, ok := fastParseIf(ascii, data, owned); ok {
		if w := p.document(t); w != nil && !p.fatal {
			out = append(out, w)
		}
		p.t = nil
		t.release()
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, p.syntaxError(err)
			}
			if len(doc.Content) == 0 {
				continue
			}
			w := p.document(fromYAML(doc.Content[0]))
			if p.fatal {
				break
			}
			if w != nil {
				out = append(out, w)
			}
		}
	}
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool {
			a, b := p.errs[i].Pos, p.errs[j].Pos
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Column < b.Column
		})
		if len(p.errs) == 1 {
			return nil, p.errs[0]
		}
		return nil, p.errs
	}
	return out, nil
}

// fastParseIf reads data on the fast path if it is plain ASCII. The tree's values are parts of a copy of data, so
// that the workflows do not change if the caller reuses data, unless the caller has given data up (owned).
func fastParseIf(ascii bool, data []byte, owned bool) (*ytree, bool) {
	if !ascii {
		return nil, false
	}
	if owned {
		return fastParseASCII(unsafe.String(unsafe.SliceData(data), len(data)))
	}
	return fastParseASCII(string(data))
}

func firstInvalidUTF8(file string, data []byte) Position {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return Position{File: file, Line: line, Column: col}
}

type parser struct {
	t        *ytree // the document being read
	file     string
	lim      Limits
	errs     ErrorList
	fatal    bool // stop: the rest of the file is not worth reading
	expanded int  // nodes reached through aliases so far
	sizes    map[*ynode]int
	// templated are the tasks with a param value that refers to an undeclared workflow param, reported once every
	// task is read.
	templated []*Task
	// edges remembers where each dependsOn entry was written, for errors found once every task is known.
	edges []edgeAt

	// kvs and merged are stacks that mapping builds its pairs on, so that reading a mapping allocates nothing: a
	// caller takes the length before it calls mapping and cuts the stack back to it once done with the pairs.
	kvs    []keyValue
	merged []keyValue
	// tasks is where the current document's tasks are allocated, one slice for all of them; taskAt[i] is the task
	// stored for the i-th pair of spec.tasks (nil where the task was dropped), and taskKeys finds a pair by task id.
	tasks    []Task
	taskAt   []*Task
	taskKeys *keySet
	taskKVs  []keyValue
	// strs is where dependsOn lists are allocated, many to one slice.
	strs []string
	// validRefs remembers package refs found valid, since most workflows use each package many times: a ref is
	// kept in the slot its last characters choose (most refs end in a digest, whose characters vary most).
	validRefs *[256]PackageRef
	// refs remembers whether task param values refer to undeclared workflow params, likewise, since most values
	// with references are one of a few; it is cleared for each document, which declares its own params.
	refs [64]struct {
		v          string
		undeclared bool
	}
}

// validatePackage is ref.Validate, remembering the refs found valid.
func (p *parser) validatePackage(ref PackageRef) error {
	if p.validRefs == nil {
		p.validRefs = new([256]PackageRef)
	}
	// Each ref has two slots, which keeps two refs that share one from pushing each other out.
	i := refSlot(string(ref), len(p.validRefs))
	if ref != "" && (p.validRefs[i] == ref || p.validRefs[i^1] == ref) {
		return nil
	}
	if err := ref.Validate(); err != nil {
		return err
	}
	if p.validRefs[i] != "" {
		i ^= 1
	}
	p.validRefs[i] = ref
	return nil
}

// refSlot chooses a slot among n (a power of two) for s by its length and last eight characters.
func refSlot(s string, n int) int {
	h := uint64(len(s))
	if len(s) >= 8 {
		t := s[len(s)-8:]
		h ^= uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
			uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
	} else {
		for i := 0; i < len(s); i++ {
			h = h<<8 | uint64(s[i])
		}
	}
	return int((h * 0x9e3779b97f4a7c15) >> 32 & uint64(n-1))
}

// undeclaredRef reports whether a task param value refers to a workflow param that spec.params does not declare.
func (p *parser) undeclaredRef(w *Workflow, v string) bool {
	slot := &p.refs[refSlot(v, len(p.refs))]
	if slot.v == v && v != "" {
		return slot.undeclared
	}
	slot.v, slot.undeclared = v, undeclaredRef(w, v)
	return slot.undeclared
}

func (p *parser) syntaxError(err error) error {
	msg := err.Error()
	pos := Position{File: p.file}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		pos.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
		// yaml.v3 counts lines from 0 for parser (not scanner) errors; its parser's messages are these.
		for _, prefix := range yamlParserProblems {
			if strings.HasPrefix(msg, prefix) {
				pos.Line++
				break
			}
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return &Error{Pos: pos, Kind: ErrSyntax, Msg: "YAML syntax: " + msg}
}

var yamlParserProblems = []string{
	"did not find expected ',' or", "did not find expected '-' indicator", "did not find expected <",
	"did not find expected key", "did not find expected node content", "found duplicate %",
	"found incompatible YAML document", "found undefined tag handle",
}

func (p *parser) pos(n *ynode) Position {
	return Position{File: p.file, Line: int(n.Line), Column: int(n.Column)}
}

func (p *parser) errorf(n *ynode, f field, format string, args ...any) {
	if len(p.errs) >= maxErrors {
		p.fatal = true
		return
	}
	p.add(&Error{Pos: p.pos(n), Field: f.String(), Msg: fmt.Sprintf(format, args...)})
}

// field is the dotted path of a field, for messages: key inside parent, or key alone when there is no parent. It
// is joined into a string only when a message needs it: a big workflow has hundreds of thousands of fields and
// reports few, if any, problems. Parents live on the stack of the functions that read them.
type field struct {
	parent *field
	key    string
}

func fieldOf(path string) field { return field{key: path} }

// join returns the path of the field key inside f.
func (f *field) join(key string) field { return field{parent: f, key: key} }

// String joins the path with dots, leaving out the parent where it is empty. It copies the keys rather than
// returning one of them, so that the compiler sees that no field outlives the call and keeps fields and their
// parents on the stack.
func (f *field) String() string {
	var b strings.Builder
	f.write(&b)
	return b.String()
}

func (f *field) write(b *strings.Builder) {
	if f.parent != nil {
		f.parent.write(b)
		if b.Len() > 0 {
			b.WriteByte('.')
		}
	}
	b.WriteString(f.key)
}

// add records a problem; past maxErrors the rest of the file is not worth reading.
func (p *parser) add(e *Error) {
	if len(p.errs) >= maxErrors {
		p.fatal = true
		return
	}
	p.errs = append(p.errs, e)
}

// size is the number of nodes n stands for once every alias in it is expanded, saturating past the limit.
func (p *parser) size(n *ynode) int {
	if p.sizes == nil {
		p.sizes = make(map[*ynode]int)
	}
	if s, ok := p.sizes[n]; ok {
		return s
	}
	p.sizes[n] = p.lim.MaxAliasNodes + 1 // guards against a node that contains itself
	s := 1
	if a := p.t.aliasOf(n); n.Kind() == yaml.AliasNode && a != nil {
		s = p.size(a)
	} else {
		for _, c := range p.t.content(n) {
			s += p.size(p.t.node(c))
			if s > p.lim.MaxAliasNodes {
				s = p.lim.MaxAliasNodes + 1
				break
			}
		}
	}
	p.sizes[n] = s
	return s
}

// resolve follows aliases, charging what they expand to against the limit.
func (p *parser) resolve(n *ynode) *ynode {
	if n == nil || n.kind != uint8(yaml.AliasNode) {
		return n // most nodes are not aliases: this much is inlined
	}
	return p.resolveAlias(n)
}

func (p *parser) resolveAlias(n *ynode) *ynode {
	for n != nil && n.Kind() == yaml.AliasNode {
		if p.fatal {
			return nil
		}
		p.expanded += p.size(p.t.aliasOf(n))
		if p.expanded > p.lim.MaxAliasNodes {
			p.errs = append(p.errs, &Error{Pos: p.pos(n), Kind: ErrAliasExpansion,
				Msg: fmt.Sprintf("YAML aliases expand to more than %d nodes (a \"billion laughs\" file?); write the values out or raise the limit (--max-alias-nodes)", p.lim.MaxAliasNodes)})
			p.fatal = true
			return nil
		}
		n = p.t.aliasOf(n)
	}
	return n
}

type keyValue struct {
	key   string
	kn    *ynode
	value *ynode
}

func kindName(n *ynode) string {
	switch n.Kind() {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == tagNull {
			return "null"
		}
		return "a scalar"
	}
	return "an unknown node"
}

// keySet finds keys already seen in a mapping, as their index among its pairs: by scanning the pairs so far when
// the mapping is small (most are), through an open-addressing hash table when it is large (the tasks of a big
// workflow), which finds a key, or the place to add it, in one probe. The table keeps a copy of its keys next to
// each other, so that checking a key found by its hash reads that copy rather than some far part of the file, and
// its slices come from a pool, since a big file needs them anew for each parse.
type keySet struct {
	slots []keySlot // a power of two of them, at most two thirds used
	used  int
	// When copied, key i is text[at[i]:at[i+1]]; else (past keySetTextMax bytes of keys) it is read from the pairs.
	text   []byte
	at     []uint32
	copied bool
}

// keySlot is a key's index among the pairs plus one (0 for an empty slot) and the top half of its hash.
type keySlot struct {
	hash  uint32
	index int32
}

const keySetScanMax = 16

// keySetTextMax is how many bytes of keys a keySet copies (a variable for tests).
var keySetTextMax = math.MaxInt32

// keySeed seeds the hash of keys; a random seed keeps a file from choosing keys that collide.
var keySeed = maphash.MakeSeed()

// keySetBuffers keeps the slices of released key sets; they hold no pointers.
var keySetBuffers sync.Pool // of *keySet

// newKeySet returns a set for a mapping of n pairs: nil, which scans the pairs, for a small one.
func newKeySet(n int) *keySet {
	if n <= keySetScanMax {
		return nil
	}
	size := 1 << bits.Len(uint(3*n/2))
	s, _ := keySetBuffers.Get().(*keySet)
	if s == nil || cap(s.slots) < size {
		return &keySet{slots: make([]keySlot, size), text: make([]byte, 0, 16*n), at: append(make([]uint32, 0, n+1), 0),
			copied: true}
	}
	s.slots = s.slots[:size]
	clear(s.slots)
	s.used, s.text, s.at, s.copied = 0, s.text[:0], append(s.at[:0], 0), true
	return s
}

// release gives the set's slices to the next large mapping; the set must not be used after.
func (s *keySet) release() {
	if s != nil && s.slots != nil {
		keySetBuffers.Put(s)
	}
}

// find returns the index of key among pairs, or -1 and the slot where it would go with its hash.
func (s *keySet) find(pairs []keyValue, key string) (i int, slot int, hash uint32) {
	if s == nil {
		for i := range pairs {
			if pairs[i].key == key {
				return i, 0, 0
			}
		}
		return -1, 0, 0
	}
	h := maphash.String(keySeed, key)
	hash = uint32(h >> 32)
	mask := uint64(len(s.slots) - 1)
	for j := h & mask; ; j = (j + 1) & mask {
		sl := s.slots[j]
		if sl.index == 0 {
			return -1, int(j), hash
		}
		if sl.hash != hash {
			continue
		}
		k := int(sl.index - 1)
		if s.copied && string(s.text[s.at[k]:s.at[k+1]]) == key || !s.copied && pairs[k].key == key {
			return k, int(j), hash
		}
	}
}

// get returns the index of key among pairs, or -1.
func (s *keySet) get(pairs []keyValue, key string) int {
	i, _, _ := s.find(pairs, key)
	return i
}

// getOrAdd returns the index of key among pairs, or -1 after noting that key is the pair that comes next.
func (s *keySet) getOrAdd(pairs []keyValue, key string) int {
	i, slot, hash := s.find(pairs, key)
	if i >= 0 || s == nil {
		return i
	}
	s.slots[slot] = keySlot{hash: hash, index: int32(len(pairs)) + 1}
	if s.copied && len(s.text)+len(key) > keySetTextMax {
		s.copied, s.text, s.at = false, nil, nil
	}
	if s.copied {
		s.text = append(s.text, key...)
		s.at = append(s.at, uint32(len(s.text)))
	}
	if s.used++; 3*s.used > 2*len(s.slots) {
		s.grow(pairs, key)
	}
	return -1
}

// grow doubles the table, which merged keys can fill past the mapping's own; next is the key of the pair after
// pairs.
func (s *keySet) grow(pairs []keyValue, next string) {
	old := s.slots
	s.slots = make([]keySlot, 2*len(old))
	mask := uint64(len(s.slots) - 1)
	for _, sl := range old {
		if sl.index == 0 {
			continue
		}
		var h uint64
		switch k := int(sl.index - 1); {
		case s.copied:
			h = maphash.Bytes(keySeed, s.text[s.at[k]:s.at[k+1]])
		case k < len(pairs):
			h = maphash.String(keySeed, pairs[k].key)
		default:
			h = maphash.String(keySeed, next)
		}
		j := h & mask
		for s.slots[j].index != 0 {
			j = (j + 1) & mask
		}
		s.slots[j] = sl
	}
}

// mapping returns the key/value pairs of a mapping node with merge keys ("<<") applied, reporting duplicate keys.
// The pairs are on p.kvs: the caller may cut p.kvs back to its length before the call once done with them.
func (p *parser) mapping(n *ynode, f field) ([]keyValue, bool) {
	kvs, _, ok := p.mappingKeys(n, f, false)
	return kvs, ok
}

// mappingKeys is mapping that can also return the set of keys, when keep is true; the caller releases it.
func (p *parser) mappingKeys(n *ynode, f field, keep bool) ([]keyValue, *keySet, bool) {
	n = p.resolve(n)
	if n == nil {
		return nil, nil, false
	}
	if n.Kind() != yaml.MappingNode {
		if n.Kind() == yaml.ScalarNode && n.Tag == tagNull {
			return nil, nil, true
		}
		p.errorf(n, f, "expected a mapping, found %s", kindName(n))
		return nil, nil, false
	}
	base, mergedBase := len(p.kvs), len(p.merged)
	content := p.t.content(n)
	if cap(p.kvs)-len(p.kvs) < len(content)/2 {
		// Room for this mapping and for the small ones read while its pairs are in use (those of a task, when
		// this is spec.tasks), so that the stack does not grow, copying it all, right after.
		p.kvs = slices.Grow(p.kvs, len(content)/2+256)
	}
	seen := newKeySet(len(content) / 2)
	for i := 0; i+1 < len(content); i += 2 {
		kn, vn := p.t.node(content[i]), p.t.node(content[i+1])
		if kn.Kind() == yaml.ScalarNode && kn.Tag == tagMerge {
			// The merge source's own pairs go on the stack above this mapping's; they are copied to p.merged and
			// taken off again.
			top := len(p.kvs)
			src := p.mergeSource(vn, f)
			p.merged = append(p.merged, src...)
			p.kvs = p.kvs[:top]
			continue
		}
		kr := p.resolve(kn)
		if kr == nil {
			p.kvs, p.merged = p.kvs[:base], p.merged[:mergedBase]
			seen.release()
			return nil, nil, false
		}
		if kr.Kind() != yaml.ScalarNode {
			p.errorf(kn, f, "a key must be a plain value, found %s", kindName(kr))
			continue
		}
		key := p.t.value(kr)
		first := -1
		if seen == nil {
			for k := base; k < len(p.kvs); k++ {
				if p.kvs[k].key == key {
					first = k - base
					break
				}
			}
		} else {
			first = seen.getOrAdd(p.kvs[base:], key)
		}
		if first >= 0 {
			p.errorf(kn, f.join(key), "duplicate key %q (first defined at line %d); keep one", key, p.kvs[base+first].kn.Line)
			continue
		}
		p.kvs = append(p.kvs, keyValue{key: key, kn: kn, value: vn})
	}
	for i := mergedBase; i < len(p.merged); i++ {
		kv := p.merged[i]
		if seen.getOrAdd(p.kvs[base:], kv.key) >= 0 {
			continue // explicit keys override merged ones
		}
		p.kvs = append(p.kvs, kv)
	}
	p.merged = p.merged[:mergedBase]
	out := p.kvs[base:len(p.kvs):len(p.kvs)]
	if !keep {
		seen.release()
		seen = nil
	}
	return out, seen, true
}

func (p *parser) mergeSource(vn *ynode, f field) []keyValue {
	v := p.resolve(vn)
	if v == nil {
		return nil
	}
	switch v.Kind() {
	case yaml.MappingNode:
		kvs, _ := p.mapping(v, f)
		return kvs
	case yaml.SequenceNode:
		var out []keyValue
		seen := map[string]bool{}
		for _, item := range p.t.content(v) {
			kvs, _ := p.mapping(p.t.node(item), f)
			for _, kv := range kvs {
				if !seen[kv.key] { // earlier sources win
					seen[kv.key] = true
					out = append(out, kv)
				}
			}
		}
		return out
	}
	p.errorf(vn, f, "a merge key (<<) needs a mapping or a list of mappings, found %s", kindName(v))
	return nil
}

func (p *parser) unknown(kv keyValue, f field, allowed string) {
	p.errorf(kv.kn, f.join(kv.key), "unknown field %q; allowed here: %s", kv.key, allowed)
}

// scalar returns a non-null scalar's text.
func (p *parser) scalar(n *ynode, f field) (string, *ynode, bool) {
	if n != nil && n.kind == uint8(yaml.ScalarNode) && n.Tag != tagNull {
		return p.t.value(n), n, true // the usual case, inlined
	}
	return p.scalarSlow(n, f)
}

func (p *parser) scalarSlow(n *ynode, f field) (string, *ynode, bool) {
	r := p.resolve(n)
	if r == nil {
		return "", n, false
	}
	if r.Kind() != yaml.ScalarNode || r.Tag == tagNull {
		p.errorf(n, f, "expected a value, found %s", kindName(r))
		return "", n, false
	}
	return p.t.value(r), r, true
}

func (p *parser) str(n *ynode, f field) (string, bool) {
	s, _, ok := p.scalar(n, f)
	return s, ok
}

func (p *parser) integer(n *ynode, f field) (int, bool) {
	s, r, ok := p.scalar(n, f)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if r.Tag != tagInt || err != nil {
		p.errorf(n, f, "expected a whole number, found %q", s)
		return 0, false
	}
	return int(v), true
}

func (p *parser) boolean(n *ynode, f field) (bool, bool) {
	s, r, ok := p.scalar(n, f)
	if !ok {
		return false, false
	}
	if r.Tag != tagBool {
		p.errorf(n, f, "expected true or false, found %q", s)
		return false, false
	}
	return s == "true" || s == "True" || s == "TRUE", true
}

// duration accepts a Go duration of hours, minutes and seconds ("1h30m", "90s") or a whole number of seconds.
func (p *parser) duration(n *ynode, f field) (time.Duration, bool) {
	s, r, ok := p.scalar(n, f)
	if !ok {
		return 0, false
	}
	var d time.Duration
	if r.Tag == tagInt {
		secs, err := strconv.ParseInt(s, 10, 64)
		// Bound both sides: a large negative number of seconds would otherwise wrap around to a positive duration.
		if err != nil || secs > math.MaxInt64/int64(time.Second) || secs < -math.MaxInt64/int64(time.Second) {
			p.errorf(n, f, "duration %q is out of range", s)
			return 0, false
		}
		d = time.Duration(secs) * time.Second
	} else {
		// time.ParseDuration reads both the micro sign (U+00B5) and the Greek mu (U+03BC) as microseconds.
		if strings.ContainsAny(s, "nuµμ") || strings.Contains(s, "ms") {
			p.errorf(n, f, "duration %q: use hours, minutes and seconds (h, m, s), e.g. 90s or 1h30m", s)
			return 0, false
		}
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			p.errorf(n, f, "invalid duration %q: write it like 90s, 10m or 1h30m", s)
			return 0, false
		}
	}
	if d <= 0 || d%time.Second != 0 {
		p.errorf(n, f, "duration %q must be a positive whole number of seconds", s)
		return 0, false
	}
	return d, true
}

// document decodes one YAML document; it returns nil for a document that is not a workflow.
func (p *parser) document(t *ytree) *Workflow {
	p.t = t
	root := t.node(t.root)
	kvs, ok := p.mapping(root, field{})
	if !ok || kvs == nil {
		return nil
	}
	var kind string
	for _, kv := range kvs {
		if kv.key == "kind" {
			kind, _ = p.str(kv.value, fieldOf("kind"))
		}
	}
	if kind != Kind {
		return nil
	}
	w := &Workflow{Tenant: DefaultTenant, Pos: p.pos(root), Labels: map[string]string{},
		Params: map[string]*Param{}, Tasks: map[string]*Task{}}
	var meta, spec *keyValue
	for i := range kvs {
		kv := kvs[i]
		switch kv.key {
		case "apiVersion":
			if v, ok := p.str(kv.value, fieldOf("apiVersion")); ok {
				if v != APIVersion {
					p.errorf(kv.value, fieldOf("apiVersion"), "unsupported apiVersion %q; this maestro reads %s", v, APIVersion)
				}
				w.APIVersion = v
			}
		case "kind":
		case "metadata":
			meta = &kvs[i]
		case "spec":
			spec = &kvs[i]
		default:
			p.unknown(kv, field{}, "apiVersion, kind, metadata, spec")
		}
	}
	if w.APIVersion == "" {
		p.errorf(root, fieldOf("apiVersion"), "missing apiVersion; add apiVersion: %s", APIVersion)
	}
	if meta == nil {
		p.errorf(root, fieldOf("metadata"), "missing metadata; add metadata.name")
	} else {
		p.metadata(w, meta.value)
	}
	if spec == nil {
		p.errorf(root, fieldOf("spec"), "missing spec; add spec.tasks")
		return w
	}
	p.spec(w, spec.value)
	if !p.fatal {
		p.checkGraph(w)
	}
	return w
}

func (p *parser) metadata(w *Workflow, n *ynode) {
	mf := fieldOf("metadata")
	kvs, _ := p.mapping(n, mf)
	var named bool
	for _, kv := range kvs {
		f := mf.join(kv.key)
		switch kv.key {
		case "name":
			if v, ok := p.str(kv.value, f); ok {
				named = true
				if !validName(v) {
					p.errorf(kv.value, f, "invalid name %q: use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit", v)
				}
				w.Name = v
			}
		case "tenant":
			if v, ok := p.str(kv.value, f); ok {
				if !validName(v) {
					p.errorf(kv.value, f, "invalid tenant %q: use 1-63 lowercase letters, digits and '-'", v)
				}
				w.Tenant = v
			}
		case "labels":
			lkvs, _ := p.mapping(kv.value, f)
			for _, l := range lkvs {
				if v, ok := p.str(l.value, f.join(l.key)); ok {
					w.Labels[l.key] = v
				}
			}
		default:
			p.unknown(kv, mf, "name, tenant, labels")
		}
	}
	if !named {
		p.errorf(n, fieldOf("metadata.name"), "missing metadata.name; every workflow needs a unique name")
	}
}

func (p *parser) spec(w *Workflow, n *ynode) {
	clear(p.refs[:])
	p.tasks, p.taskAt, p.taskKeys, p.taskKVs = nil, nil, nil, nil
	sf := fieldOf("spec")
	kvs, _ := p.mapping(n, sf)
	var tasks *ynode
	for _, kv := range kvs {
		f := sf.join(kv.key)
		switch kv.key {
		case "params":
			mark := len(p.kvs)
			pkvs, _ := p.mapping(kv.value, f)
			for _, pk := range pkvs {
				p.param(w, pk)
			}
			p.kvs = p.kvs[:mark]
		case "defaults":
			p.defaults(w, kv.value)
		case "tasks":
			tasks = kv.value
		default:
			p.unknown(kv, sf, "params, defaults, tasks")
		}
	}
	if tasks == nil {
		p.errorf(n, fieldOf("spec.tasks"), "missing spec.tasks; a workflow needs at least one task")
		return
	}
	tkvs, keys, _ := p.mappingKeys(tasks, fieldOf("spec.tasks"), true)
	if len(tkvs) == 0 && !p.fatal {
		p.errorf(tasks, fieldOf("spec.tasks"), "no tasks; a workflow needs at least one task")
	}
	// Every task is allocated at once, and the task map sized to hold them all.
	p.tasks = make([]Task, len(tkvs))
	p.taskAt = make([]*Task, len(tkvs))
	p.taskKeys, p.taskKVs = keys, tkvs
	defer func() {
		// dependsOn has looked up every task it names once the tasks are read.
		p.taskKeys.release()
		p.taskKeys = nil
	}()
	if len(w.Tasks) == 0 {
		w.Tasks = make(map[string]*Task, len(tkvs))
	}
	if cap(p.edges) < 2*len(tkvs) {
		p.edges = make([]edgeAt, 0, 2*len(tkvs)) // most tasks have a few dependencies
	}
	for i, tk := range tkvs {
		if p.fatal {
			return
		}
		p.task(w, tk, i)
	}
	for _, t := range p.taskAt {
		if t == nil {
			continue
		}
		if t.Retries < 0 {
			t.Retries = 0
			if w.Defaults.Retries != nil {
				t.Retries = *w.Defaults.Retries
			}
		}
		if t.Timeout < 0 {
			t.Timeout = 0
			if w.Defaults.Timeout != nil {
				t.Timeout = *w.Defaults.Timeout
			}
		}
	}
}

func (p *parser) defaults(w *Workflow, n *ynode) {
	df := fieldOf("spec.defaults")
	kvs, _ := p.mapping(n, df)
	for _, kv := range kvs {
		f := df.join(kv.key)
		switch kv.key {
		case "retries":
			if v, ok := p.retries(kv.value, f); ok {
				w.Defaults.Retries = &v
			}
		case "timeout":
			if d, ok := p.duration(kv.value, f); ok {
				w.Defaults.Timeout = &d
			}
		default:
			p.unknown(kv, df, "retries, timeout")
		}
	}
}

func (p *parser) retries(n *ynode, f field) (int, bool) {
	v, ok := p.integer(n, f)
	if ok && (v < 0 || v > maxRetries) {
		p.errorf(n, f, "retries must be between 0 and %d, found %d", maxRetries, v)
		return 0, false
	}
	return v, ok
}

func (p *parser) param(w *Workflow, kv keyValue) {
	psf := fieldOf("spec.params")
	pf := psf.join(kv.key)
	if !validParamName(kv.key) {
		p.errorf(kv.kn, pf, "invalid param name %q: use letters, digits and '_', not starting with a digit", kv.key)
	}
	prm := &Param{Name: kv.key, Type: TypeString, Pos: p.pos(kv.kn)}
	mark := len(p.kvs)
	kvs, _ := p.mapping(kv.value, pf)
	var def *ynode
	for _, f := range kvs {
		ff := pf.join(f.key)
		switch f.key {
		case "type":
			if v, ok := p.str(f.value, ff); ok {
				switch v {
				case TypeString, TypeInteger, TypeNumber, TypeBoolean:
					prm.Type = v
				default:
					p.errorf(f.value, ff, "unknown type %q; use string, integer, number or boolean", v)
				}
			}
		case "required":
			prm.Required, _ = p.boolean(f.value, ff)
		case "default":
			def = f.value
		default:
			p.unknown(f, pf, "type, required, default")
		}
	}
	p.kvs = p.kvs[:mark]
	if def != nil {
		ff := pf.join("default")
		if v, r, ok := p.scalar(def, ff); ok {
			if c, err := canonicalValue(prm.Type, v, r.Tag.String()); err != nil {
				p.errorf(def, ff, "%v", err)
			} else {
				prm.Default = &c
			}
		}
		if prm.Required {
			p.errorf(def, ff, "a required param cannot have a default; remove required: true or the default")
		}
	}
	w.Params[kv.key] = prm
}

// canonicalValue returns the canonical text of a param value of the given type.
func canonicalValue(typ, v, tag string) (string, error) {
	switch typ {
	case TypeInteger:
		i, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", fmt.Errorf("default %q is not an integer", v)
		}
		return strconv.FormatInt(i, 10), nil
	case TypeNumber:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return "", fmt.Errorf("default %q is not a finite number", v)
		}
		if f == 0 {
			f = 0 // -0 is the same number as 0 and must have the same text
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	case TypeBoolean:
		switch strings.ToLower(v) {
		case "true":
			return "true", nil
		case "false":
			return "false", nil
		}
		return "", fmt.Errorf("default %q is not true or false", v)
	}
	return v, nil
}

// task reads the i-th pair of spec.tasks.
func (p *parser) task(w *Workflow, kv keyValue, i int) {
	tsf := fieldOf("spec.tasks")
	tf := tsf.join(kv.key)
	if !validTaskID(kv.key) {
		p.errorf(kv.kn, tf, "invalid task id %q: use 1-63 lowercase letters, digits, '-' and '_', starting and ending with a letter or digit", kv.key)
	}
	t := &p.tasks[i] // zero: only the fields set here are written, since writing a task is writing cold memory
	t.ID, t.Pos, t.Retries, t.Timeout = kv.key, p.pos(kv.kn), -1, -1
	mark := len(p.kvs)
	kvs, ok := p.mapping(kv.value, tf)
	if !ok {
		return
	}
	var hasPackage bool
	for _, f := range kvs {
		ff := tf.join(f.key)
		switch f.key {
		case "package":
			if v, ok := p.str(f.value, ff); ok {
				hasPackage = true
				t.Package = PackageRef(v)
				if err := p.validatePackage(t.Package); err != nil {
					p.errorf(f.value, ff, "%v", err)
				}
			}
		case "params":
			pmark := len(p.kvs)
			pkvs, _ := p.mapping(f.value, ff)
			t.Params = make(map[string]string, len(pkvs))
			for _, pk := range pkvs {
				if v, ok := p.str(pk.value, ff.join(pk.key)); ok {
					t.Params[pk.key] = v
					if strings.Contains(v, "{{") && p.undeclaredRef(w, v) && (len(p.templated) == 0 || p.templated[len(p.templated)-1] != t) {
						p.templated = append(p.templated, t)
					}
				}
			}
			p.kvs = p.kvs[:pmark]
		case "retries":
			if v, ok := p.retries(f.value, ff); ok {
				t.Retries = v
			}
		case "timeout":
			if d, ok := p.duration(f.value, ff); ok {
				t.Timeout = d
			}
		case "dependsOn":
			t.DependsOn = p.dependsOn(i, f.value, ff)
		default:
			p.unknown(f, tf, "package, params, retries, timeout, dependsOn")
		}
	}
	if t.Params == nil {
		t.Params = map[string]string{}
	}
	p.kvs = p.kvs[:mark]
	if !hasPackage {
		p.errorf(kv.kn, tf.join("package"), "task %q has no package; add package: <registry>/<name>@sha256:<digest>", kv.key)
	}
	w.Tasks[kv.key] = t
	p.taskAt[i] = t
}

// dependsOnScanMax is the longest dependsOn list whose duplicates are found by scanning it rather than with a map.
const dependsOnScanMax = 16

func (p *parser) dependsOn(i int, n *ynode, f field) []string {
	r := p.resolve(n)
	if r == nil {
		return nil
	}
	if r.Kind() == yaml.ScalarNode && r.Tag == tagNull {
		return nil
	}
	if r.Kind() != yaml.SequenceNode {
		p.errorf(n, f, "expected a list of task ids, found %s", kindName(r))
		return nil
	}
	// The list is built at the end of p.strs, which has room for all of it, and handed out with its capacity cut
	// to its length, so that appending to one task's list cannot write into the next one's.
	items := p.t.content(r)
	if p.strs == nil || cap(p.strs)-len(p.strs) < len(items) {
		p.strs = make([]string, 0, max(len(items), 1024))
	}
	start := len(p.strs)
	var seen map[string]bool
	if len(items) > dependsOnScanMax {
		seen = make(map[string]bool, len(items))
	}
	for _, k := range items {
		item := p.t.node(k)
		v, ok := p.str(item, f)
		if !ok {
			continue
		}
		if seen != nil {
			if seen[v] {
				continue
			}
			seen[v] = true
		} else if slices.Contains(p.strs[start:], v) {
			continue
		}
		p.strs = append(p.strs, v)
		// The task it names is looked up now, while its text is fresh in the cache; whether that task is one
		// (and not a pair whose task was dropped) is known once all are read.
		to := int32(p.taskKeys.get(p.taskKVs, v))
		p.edges = append(p.edges, edgeAt{from: int32(i), to: to, dep: v, node: item})
	}
	deps := p.strs[start:len(p.strs):len(p.strs)]
	slices.Sort(deps)
	return deps
}

// edgeAt is one dependsOn entry and where it was written; from is the task's number, its index among the pairs of
// spec.tasks, and to the index of the pair whose key is dep, or -1.
type edgeAt struct {
	dep      string
	node     *ynode
	from, to int32
}
