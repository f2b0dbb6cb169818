package workflow

import (
	"math/bits"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// fastParse builds the same yaml.Node tree yaml.v3 would for the plain subset of YAML that almost every workflow
// file is written in: one document of block mappings and sequences, single-line flow collections, plain and quoted
// single-line scalars and comments, in ASCII. It is several times faster than yaml.v3 because it does not
// tokenize character by character. Anything outside that subset — anchors, aliases, tags, block scalars,
// multi-line scalars or flow collections, several documents, tabs, non-ASCII text, invalid YAML — makes it give
// up (ok false), and the caller parses the file with yaml.v3, which also reports every error. A differential fuzz
// test holds the two to the same trees.
func fastParse(src string) (t *ytree, ok bool) {
	if !plainASCII(src) {
		return nil, false
	}
	return fastParseASCII(src)
}

// fastParseASCII is fastParse for text that plainASCII accepts.
func fastParseASCII(src string) (t *ytree, ok bool) {
	if len(src) > maxFastSize {
		return nil, false
	}
	// Most lines hold two nodes, a key and its value, some lines a few more: room for two and a half a line saves
	// growing the slices for most files.
	t = newTree(src, (strings.Count(src, "\n")+1)*5/2+8)
	p := &fastParser{src: src, t: t}
	defer func() {
		// The subset parser signals "not for me" by panicking with errUnsupported; anything else is a bug.
		if r := recover(); r != nil {
			if r != errUnsupported {
				panic(r)
			}
			t.release()
			t, ok = nil, false
		}
	}()
	p.advance()
	if first := p.cur(); first == nil || first.indent != 0 {
		t.release()
		return nil, false
	}
	t.root = p.block(0)
	if p.cur() != nil {
		t.release()
		return nil, false
	}
	return t, true
}

// treeBuffers keeps the slices of nodes and children of trees already read, for the next fast parse to fill. They
// hold no pointers, so the garbage collector scans them neither while they are kept nor while they are in use,
// and reading one big file after another (as maestro diff does) allocates them once.
var treeBuffers sync.Pool // of *treeBuffer

type treeBuffer struct {
	nodes []ynode
	kids  []int32
}

// newTree returns an empty tree of the text src, with room for size nodes.
func newTree(src string, size int) *ytree {
	t := &ytree{src: src}
	if b, _ := treeBuffers.Get().(*treeBuffer); b != nil && cap(b.nodes) >= size && cap(b.kids) >= size {
		t.nodes, t.kids = b.nodes[:0], b.kids[:0]
	} else {
		t.nodes, t.kids = make([]ynode, 0, size), make([]int32, 0, size)
	}
	return t
}

// release gives the tree's slices to the next parse. Nothing may use the tree or its nodes after: the walker
// keeps only values, which are parts of src and vals, never nodes.
func (t *ytree) release() {
	treeBuffers.Put(&treeBuffer{nodes: t.nodes[:0], kids: t.kids[:0]})
	*t = ytree{}
}

// maxFastSize is the largest input the fast path reads: its nodes hold offsets into the input in 32 bits.
const maxFastSize = 1<<31 - 1

// plainASCII reports whether s is printable ASCII, spaces and newlines only. It reads 32 bytes at a time, as
// four words.
func plainASCII[T string | []byte](s T) bool {
	// The constants come from a variable so that they stay in registers.
	one, nl, c7f, c60 := asciiConsts[0], asciiConsts[1], asciiConsts[2], asciiConsts[3]
	for len(s) >= 32 {
		w := s[:32]
		s = s[32:]
		x0 := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		x1 := uint64(w[8]) | uint64(w[9])<<8 | uint64(w[10])<<16 | uint64(w[11])<<24 |
			uint64(w[12])<<32 | uint64(w[13])<<40 | uint64(w[14])<<48 | uint64(w[15])<<56
		x2 := uint64(w[16]) | uint64(w[17])<<8 | uint64(w[18])<<16 | uint64(w[19])<<24 |
			uint64(w[20])<<32 | uint64(w[21])<<40 | uint64(w[22])<<48 | uint64(w[23])<<56
		x3 := uint64(w[24]) | uint64(w[25])<<8 | uint64(w[26])<<16 | uint64(w[27])<<24 |
			uint64(w[28])<<32 | uint64(w[29])<<40 | uint64(w[30])<<48 | uint64(w[31])<<56
		// A byte is bad where the result has its high bit. Not ASCII: the high bit itself. The rest is exact only
		// where no byte has it, which that covers, and then adding to a byte never carries into the next. DEL:
		// 0x7f+1 sets the high bit. Control characters but '\n': z, x^'\n'..., turns newlines into zeros and keeps
		// other control characters, and only them, between 1 and 0x1f, where z+0x7f has the high bit and z+0x60
		// has not.
		z0, z1, z2, z3 := x0^nl, x1^nl, x2^nl, x3^nl
		bad := x0 | x1 | x2 | x3 | (x0 + one) | (x1 + one) | (x2 + one) | (x3 + one) |
			(z0+c7f)&^(z0+c60) | (z1+c7f)&^(z1+c60) | (z2+c7f)&^(z2+c60) | (z3+c7f)&^(z3+c60)
		if bad&0x8080808080808080 != 0 {
			return false
		}
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || (c < 0x20 && c != '\n') || c == 0x7f {
			return false
		}
	}
	return true
}

// asciiConsts are plainASCII's constants: each byte 1, '\n', 0x7f, 0x60.
var asciiConsts = [4]uint64{0x0101010101010101, 0x0a0a0a0a0a0a0a0a, 0x7f7f7f7f7f7f7f7f, 0x6060606060606060}

// ynode is the part of a YAML node the workflow walker reads: yaml.Node without styles, anchors and comments. It
// holds no pointers — its value, children and alias are numbers that its ytree resolves — so that the garbage
// collector never reads through the some 360,000 nodes of a 20,000-task workflow, and it is 28 bytes to
// yaml.Node's 136.
type ynode struct {
	Line   int32
	Column int32
	// The value is t.vals[voff] when ext is true, else t.src[voff:voff+vlen].
	voff, vlen uint32
	// The children are the nodes t.kids[first:first+n]. An alias has none, and first is the node it stands for
	// (-1 for none).
	first, n int32
	kind     uint8 // a yaml.Kind
	Tag      ytag
	ext      bool
}

func (n *ynode) Kind() yaml.Kind { return yaml.Kind(n.kind) }

// ytree is a node tree, its nodes in one slice and referring to each other by their index in it.
type ytree struct {
	src   string   // the text most values are part of
	vals  []string // the values that are not
	nodes []ynode
	kids  []int32
	root  int32
}

func (t *ytree) node(i int32) *ynode { return &t.nodes[i] }

// Value returns the node's value.
func (t *ytree) value(n *ynode) string {
	if n.ext {
		return t.vals[n.voff]
	}
	return t.src[n.voff : n.voff+n.vlen]
}

// content returns the indexes of the node's children.
func (t *ytree) content(n *ynode) []int32 {
	if n.n == 0 {
		return nil
	}
	return t.kids[n.first : n.first+n.n]
}

// aliasOf returns the node an alias stands for, or nil.
func (t *ytree) aliasOf(n *ynode) *ynode {
	if n.kind != uint8(yaml.AliasNode) || n.first < 0 {
		return nil
	}
	return &t.nodes[n.first]
}

// ytag is a node's tag: one of those the fast path gives nodes, or tagOther for any other (which only yaml.v3 reads,
// and which the walker treats like any tag it does not look for).
type ytag uint8

const (
	tagNone ytag = iota // an alias has no tag
	tagStr
	tagInt
	tagFloat
	tagBool
	tagNull
	tagTimestamp
	tagBinary
	tagMerge
	tagMap
	tagSeq
	tagOther
)

var tagNames = [...]string{tagNone: "", tagStr: "!!str", tagInt: "!!int", tagFloat: "!!float", tagBool: "!!bool",
	tagNull: "!!null", tagTimestamp: "!!timestamp", tagBinary: "!!binary", tagMerge: "!!merge", tagMap: "!!map",
	tagSeq: "!!seq", tagOther: "!?"}

func (t ytag) String() string { return tagNames[t] }

func tagOf(s string) ytag {
	for t, name := range tagNames[:tagOther] {
		if name == s {
			return ytag(t)
		}
	}
	return tagOther
}

// fromYAML converts a yaml.v3 node tree.
func fromYAML(n *yaml.Node) *ytree {
	t := &ytree{}
	t.root = t.add(n, map[*yaml.Node]int32{})
	return t
}

// add converts a yaml.v3 node and its children; seen maps anchored nodes already converted, so that an alias
// leads to the node itself.
func (t *ytree) add(n *yaml.Node, seen map[*yaml.Node]int32) int32 {
	if i, ok := seen[n]; ok {
		return i
	}
	i := int32(len(t.nodes))
	t.nodes = append(t.nodes, ynode{kind: uint8(n.Kind), Line: int32(n.Line), Column: int32(n.Column), Tag: tagOf(n.Tag),
		ext: true, voff: uint32(len(t.vals)), first: -1})
	t.vals = append(t.vals, n.Value)
	if n.Anchor != "" {
		seen[n] = i
	}
	if n.Alias != nil {
		a := t.add(n.Alias, seen)
		t.nodes[i].first = a
	}
	if len(n.Content) > 0 {
		kids := make([]int32, len(n.Content))
		for j, c := range n.Content {
			kids[j] = t.add(c, seen)
		}
		t.nodes[i].first, t.nodes[i].n = int32(len(t.kids)), int32(len(kids))
		t.kids = append(t.kids, kids...)
	}
	return i
}

type unsupported struct{}

var errUnsupported = &unsupported{}

func bail() { panic(errUnsupported) }

type fastLine struct {
	start  int // offset of the line's first byte
	off    int // offset of the first content byte still to read
	end    int // offset of the line's end (its '\n' or the end of input)
	indent int // column of off, from 0
	num    int // line number, from 1
}

type fastParser struct {
	src string
	// line is the line being read, when ok; lines are read one at a time, and blank and comment-only lines are
	// skipped. next is the offset of the line after it, num the number of the last line looked at, and seen
	// whether any line had content.
	line fastLine
	ok   bool
	next int
	num  int
	seen bool
	// t is the tree being built.
	t *ytree
	// stack holds the children of the collections being read; each takes its own when it ends.
	stack []int32
	// anchors are the nodes named so far ("&name"), for aliases ("*name") to point at.
	anchors map[string]int32
}

func (p *fastParser) collect(n int32, base int) {
	if k := len(p.stack) - base; k > 0 {
		t := p.t
		t.nodes[n].first, t.nodes[n].n = int32(len(t.kids)), int32(k)
		t.kids = append(t.kids, p.stack[base:]...)
	}
	p.stack = p.stack[:base]
}

// advance moves to the next line with content. A document marker after content ("---"), a document end ("...")
// or a directive ("%") are not for the fast path.
func (p *fastParser) advance() {
	src := p.src
	for start := p.next; start < len(src); {
		p.num++
		end := strings.IndexByte(src[start:], '\n')
		if end < 0 {
			end = len(src)
		} else {
			end += start
		}
		off := start
		for end-off >= 8 && src[off:off+8] == "        " {
			off += 8
		}
		for off < end && src[off] == ' ' {
			off++
		}
		if off < end && src[off] != '#' {
			line := src[start:end]
			marker := false
			if c := line[0]; c == '-' || c == '.' || c == '%' { // else the usual case: no marker
				if line == "---" || strings.HasPrefix(line, "--- ") {
					if p.seen {
						bail() // a second document
					}
					if rest := strings.TrimSpace(line[3:]); rest != "" && rest[0] != '#' {
						bail()
					}
					marker = true
				} else if strings.HasPrefix(line, "...") || c == '%' {
					bail()
				}
			}
			if !marker {
				p.line = fastLine{start: start, off: off, end: end, indent: off - start, num: p.num}
				p.ok, p.seen, p.next = true, true, end+1
				return
			}
		}
		start = end + 1
	}
	p.ok, p.next = false, len(src)
}

// node adds a node whose value is src[off:end].
func (p *fastParser) node(kind yaml.Kind, tag ytag, off, end, line, col int) int32 {
	t := p.t
	t.nodes = append(t.nodes, ynode{kind: uint8(kind), Tag: tag, voff: uint32(off), vlen: uint32(end - off),
		Line: int32(line), Column: int32(col)})
	return int32(len(t.nodes) - 1)
}

// extNode adds a scalar whose value is not part of the input.
func (p *fastParser) extNode(tag ytag, value string, line, col int) int32 {
	t := p.t
	t.nodes = append(t.nodes, ynode{kind: uint8(yaml.ScalarNode), Tag: tag, ext: true, voff: uint32(len(t.vals)),
		Line: int32(line), Column: int32(col)})
	t.vals = append(t.vals, value)
	return int32(len(t.nodes) - 1)
}

func (p *fastParser) cur() *fastLine {
	if !p.ok {
		return nil
	}
	return &p.line
}

// isSeqEntry reports whether the line's content starts a block sequence entry.
func (p *fastParser) isSeqEntry(l *fastLine) bool {
	return l.off < l.end && p.src[l.off] == '-' && (l.off+1 == l.end || p.src[l.off+1] == ' ')
}

// block parses the block node starting at the current line, whose content is at column indent.
func (p *fastParser) block(indent int) int32 {
	l := p.cur()
	if l == nil || l.indent != indent {
		bail()
	}
	if p.isSeqEntry(l) {
		return p.sequence(indent)
	}
	return p.mapping(indent)
}

func (p *fastParser) mapping(indent int) int32 {
	l := p.cur()
	m := p.node(yaml.MappingNode, tagMap, 0, 0, l.num, l.indent+1)
	base := len(p.stack)
	for {
		l = p.cur()
		if l == nil || l.indent < indent {
			p.collect(m, base)
			return m
		}
		if l.indent > indent || p.isSeqEntry(l) {
			bail()
		}
		key := p.key(l)
		v := p.value(l, indent, true)
		p.stack = append(p.stack, key, v)
	}
}

// key reads a mapping key and the ':' after it, leaving l.off after the ':'.
func (p *fastParser) key(l *fastLine) int32 {
	src := p.src
	col := l.off - l.start + 1
	var k int32
	switch c := src[l.off]; c {
	case '"', '\'':
		var end int
		k, end = p.quoted(l, l.off)
		l.off = end
	default:
		if !plainStart(src, l.off, l.end) {
			bail()
		}
		// Find the ':' that ends the key, giving up on a comment before it.
		j := l.off
		for {
			if j = colonOrHash(src, j, l.end); j == l.end {
				bail() // not a key: a bare scalar where a mapping entry should be
			}
			if src[j] == ':' {
				if j+1 == l.end || src[j+1] == ' ' {
					break
				}
			} else if src[j-1] == ' ' { // '#' (never at l.off: plainStart)
				bail()
			}
			j++
		}
		end := trimSpaces(src, l.off, j)
		k = p.node(yaml.ScalarNode, plainTag(src[l.off:end]), l.off, end, l.num, col)
		l.off = j
	}
	if l.off >= l.end || src[l.off] != ':' {
		bail()
	}
	if l.off-(col-1+l.start) > maxSimpleKey {
		bail() // YAML caps implicit keys at 1024 characters; yaml.v3 reports the error
	}
	l.off++
	if l.off < l.end && src[l.off] != ' ' {
		bail()
	}
	return k
}

// value reads what follows "key:" or "- ": the rest of the line, or a block on the lines below.
func (p *fastParser) value(l *fastLine, indent int, inMapping bool) int32 {
	src := p.src
	off := l.off
	for off < l.end && src[off] == ' ' {
		off++
	}
	// An anchor ("&name") names the value that follows it; the node then starts where the anchor does.
	anchor, anchorLine, anchorCol := "", l.num, 0
	if off < l.end && src[off] == '&' {
		anchorCol = off - l.start + 1
		anchor, off = p.anchorName(l, off+1)
		for off < l.end && src[off] == ' ' {
			off++
		}
	}
	if off == l.end || src[off] == '#' {
		// The value is a block on the following lines.
		p.advance()
		next := p.cur()
		if next == nil || next.indent < indent || (next.indent == indent && !(inMapping && p.isSeqEntry(next))) {
			bail() // an empty value: a null whose position yaml.v3 derives otherwise
		}
		if next.indent == indent {
			return p.named(p.sequence(indent), anchor, anchorLine, anchorCol) // "key:" followed by "- item" at the key's own indent
		}
		return p.named(p.block(next.indent), anchor, anchorLine, anchorCol)
	}
	col := off - l.start + 1
	var n int32
	var end int
	switch c := src[off]; c {
	case '{', '[':
		n, end = p.flow(l, off)
	case '"', '\'':
		n, end = p.quoted(l, off)
	case '*':
		if anchor != "" {
			bail() // an anchor on an alias is an error for yaml.v3 to report
		}
		n, end = p.alias(l, off)
	default:
		if !plainStart(src, off, l.end) {
			bail()
		}
		// The scalar ends at a comment (" #"), or the line's end; a ':' that ends a key before that ("a: b: c")
		// is an error for yaml.v3 to report.
		end = l.end
		for j := off; ; j++ {
			if j = colonOrHash(src, j, l.end); j == l.end {
				break
			}
			if src[j] == ':' {
				if j+1 == l.end || src[j+1] == ' ' {
					bail()
				}
			} else if j > off && src[j-1] == ' ' {
				end = j - 1
				break
			}
		}
		v := trimSpaces(src, off, end)
		n = p.node(yaml.ScalarNode, plainTag(src[off:v]), off, v, l.num, col)
	}
	p.endOfLine(l, end)
	p.advance()
	if next := p.cur(); next != nil && next.indent > indent {
		// A more indented line after a complete value continues a multi-line scalar (or is an error).
		bail()
	}
	return p.named(n, anchor, anchorLine, anchorCol)
}

// named gives node n the anchor that came before it, if any: the node then starts where the anchor does.
func (p *fastParser) named(n int32, anchor string, line, col int) int32 {
	if anchor != "" {
		p.t.nodes[n].Line, p.t.nodes[n].Column = int32(line), int32(col)
		p.setAnchor(anchor, n)
	}
	return n
}

// trimSpaces returns end moved back over the spaces before it, but not before off.
func trimSpaces(src string, off, end int) int {
	for end > off && src[end-1] == ' ' {
		end--
	}
	return end
}

// maxSimpleKey is the longest implicit key the fast path takes, a little under YAML's 1,024-character cap.
const maxSimpleKey = 1000

// anchorName reads an anchor or alias name starting at off: letters, digits, '-' and '_', as yaml.v3 scans them,
// ended by a space, the end of the line or a flow indicator.
func (p *fastParser) anchorName(l *fastLine, off int) (string, int) {
	src := p.src
	end := off
	for end < l.end {
		c := src[end]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			break
		}
		end++
	}
	if end == off || (end < l.end && src[end] != ' ' && src[end] != ',' && src[end] != ']' && src[end] != '}') {
		bail()
	}
	return src[off:end], end
}

func (p *fastParser) setAnchor(name string, n int32) {
	if p.anchors == nil {
		p.anchors = map[string]int32{}
	}
	p.anchors[name] = n
}

// alias reads "*name" at off; the anchor must have been defined before, or yaml.v3 reports the error.
func (p *fastParser) alias(l *fastLine, off int) (int32, int) {
	name, end := p.anchorName(l, off+1)
	target, ok := p.anchors[name]
	if !ok {
		bail()
	}
	n := p.node(yaml.AliasNode, tagNone, off+1, end, l.num, off-l.start+1)
	p.t.nodes[n].first = target
	return n, end
}

// endOfLine checks that only spaces and a comment follow offset end on the line.
func (p *fastParser) endOfLine(l *fastLine, end int) {
	src := p.src
	for end < l.end && src[end] == ' ' {
		end++
	}
	if end < l.end && src[end] != '#' {
		bail()
	}
	if end < l.end && src[end-1] != ' ' {
		bail()
	}
}

func (p *fastParser) sequence(indent int) int32 {
	l := p.cur()
	s := p.node(yaml.SequenceNode, tagSeq, 0, 0, l.num, l.indent+1)
	base := len(p.stack)
	for {
		l = p.cur()
		if l == nil || l.indent != indent || !p.isSeqEntry(l) {
			if l != nil && l.indent > indent {
				bail()
			}
			p.collect(s, base)
			return s
		}
		// Move past "- " and look at the entry.
		l.off++
		for l.off < l.end && p.src[l.off] == ' ' {
			l.off++
		}
		if l.off < l.end && p.src[l.off] != '#' && isCompactMapping(p.src, l.off, l.end) {
			// "- key: value": a mapping that starts on the entry's line, at the key's column.
			l.indent = l.off - l.start
			item := p.mapping(l.indent)
			p.stack = append(p.stack, item)
			continue
		}
		if l.off < l.end && p.src[l.off] == '-' && (l.off+1 == l.end || p.src[l.off+1] == ' ') {
			bail() // a nested sequence on the same line
		}
		item := p.value(l, indent+1, false)
		p.stack = append(p.stack, item)
	}
}

// isCompactMapping reports whether the text from off starts a "key: value" entry.
func isCompactMapping(src string, off, end int) bool {
	switch src[off] {
	case '&', '*':
		return false // an anchor or alias: the value path reads it (and gives up on an anchored mapping)
	case '"', '\'', '{', '[':
		if src[off] == '"' || src[off] == '\'' {
			// A quoted key followed by ':'.
			q := src[off]
			for j := off + 1; j < end; j++ {
				if src[j] == q {
					return j+1 < end && src[j+1] == ':' && (j+2 == end || src[j+2] == ' ')
				}
			}
		}
		return false
	}
	for j := off; ; j++ {
		if j = colonOrHash(src, j, end); j == end {
			return false
		}
		if src[j] == ':' {
			if j+1 == end || src[j+1] == ' ' {
				return true
			}
		} else if j > off && src[j-1] == ' ' {
			return false
		}
	}
}

// plainStart reports whether a plain scalar may start at off (in block context).
func plainStart(src string, off, end int) bool {
	switch src[off] {
	case '-', '?', ':':
		return off+1 < end && src[off+1] != ' '
	case ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
		return false
	}
	return true
}

// quoted reads a single-line quoted scalar starting at off and returns it with the offset after its closing quote.
func (p *fastParser) quoted(l *fastLine, off int) (int32, int) {
	src := p.src
	q := src[off]
	col := off - l.start + 1
	// Most quoted scalars have no escapes: their value runs to the next quote, which is not doubled ('') or, in
	// double quotes, comes before any backslash.
	if k := strings.IndexByte(src[off+1:l.end], q); k >= 0 {
		j := off + 1 + k
		if q == '\'' && (j+1 == l.end || src[j+1] != '\'') || q == '"' && strings.IndexByte(src[off+1:j], '\\') < 0 {
			return p.node(yaml.ScalarNode, tagStr, off+1, j, l.num, col), j + 1
		}
	}
	var b strings.Builder
	plain := true // no escapes: the value is a substring of the input
	j := off + 1
	for ; j < l.end; j++ {
		c := src[j]
		if q == '\'' && c == '\'' {
			if j+1 < l.end && src[j+1] == '\'' {
				if plain {
					b.WriteString(src[off+1 : j])
					plain = false
				}
				b.WriteByte('\'')
				j++
				continue
			}
			break
		}
		if q == '"' && c == '"' {
			break
		}
		if q == '"' && c == '\\' {
			if plain {
				b.WriteString(src[off+1 : j])
				plain = false
			}
			if j+1 >= l.end {
				bail()
			}
			j++
			switch src[j] {
			case '"', '\\': // not '/': yaml.v3 has no \/ escape
				b.WriteByte(src[j])
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				bail()
			}
			continue
		}
		if !plain {
			b.WriteByte(c)
		}
	}
	if j >= l.end {
		bail() // the scalar goes on to the next line
	}
	if !plain {
		return p.extNode(tagStr, b.String(), l.num, col), j + 1
	}
	return p.node(yaml.ScalarNode, tagStr, off+1, j, l.num, col), j + 1
}

// flow reads a flow mapping or sequence that ends on the same line.
func (p *fastParser) flow(l *fastLine, off int) (int32, int) {
	src := p.src
	open := src[off]
	closer := byte(']')
	var n int32
	if open == '{' {
		closer = '}'
		n = p.node(yaml.MappingNode, tagMap, 0, 0, l.num, off-l.start+1)
	} else {
		n = p.node(yaml.SequenceNode, tagSeq, 0, 0, l.num, off-l.start+1)
	}
	base := len(p.stack)
	j := skipSpaces(src, off+1, l.end)
	if j < l.end && src[j] == closer {
		return n, j + 1
	}
	for {
		var item int32
		item, j = p.flowItem(l, j, false)
		if open == '{' {
			j = skipSpaces(src, j, l.end)
			if j >= l.end || src[j] != ':' {
				bail() // a key without a value
			}
			if j-(int(p.t.nodes[item].Column)-1+l.start) > maxSimpleKey {
				bail()
			}
			j = skipSpaces(src, j+1, l.end)
			var v int32
			v, j = p.flowItem(l, j, true)
			p.stack = append(p.stack, item, v)
		} else {
			p.stack = append(p.stack, item)
		}
		j = skipSpaces(src, j, l.end)
		if j >= l.end {
			bail() // the collection goes on to the next line
		}
		switch src[j] {
		case ',':
			j = skipSpaces(src, j+1, l.end)
			if j < l.end && src[j] == closer {
				bail() // a trailing comma: legal, rare, left to yaml.v3
			}
		case closer:
			p.collect(n, base)
			return n, j + 1
		default:
			bail()
		}
	}
}

func skipSpaces(src string, j, end int) int {
	for j < end && src[j] == ' ' {
		j++
	}
	return j
}

// flowItem reads one scalar or nested collection inside a flow collection.
func (p *fastParser) flowItem(l *fastLine, j int, isValue bool) (int32, int) {
	src := p.src
	if j >= l.end {
		bail()
	}
	switch c := src[j]; c {
	case '&':
		col := j - l.start + 1
		name, k := p.anchorName(l, j+1)
		k = skipSpaces(src, k, l.end)
		if k < l.end && src[k] == '*' {
			bail()
		}
		n, end := p.flowItem(l, k, isValue)
		p.t.nodes[n].Line, p.t.nodes[n].Column = int32(l.num), int32(col)
		p.setAnchor(name, n)
		return n, end
	case '*':
		return p.alias(l, j)
	case '{', '[':
		return p.flow(l, j)
	case '"', '\'':
		return p.quoted(l, j)
	case ',', ']', '}', '#', '!', '|', '>', '%', '@', '`', '?', ':', '-':
		if c == '-' && j+1 < l.end && src[j+1] != ' ' && src[j+1] != ',' && src[j+1] != ']' && src[j+1] != '}' {
			break
		}
		bail()
	}
	start := j
	for ; j < l.end; j++ {
		c := src[j]
		if !flowStop[c] {
			continue
		}
		if c == ',' || c == ']' || c == '}' || c == '[' || c == '{' {
			break
		}
		if c == '?' {
			bail() // yaml.v3 ends a plain scalar at '?' in a flow collection, then finds no ',' or closer
		}
		if c == ':' && (j+1 == l.end || src[j+1] == ' ' || src[j+1] == ',' || src[j+1] == ']' || src[j+1] == '}') {
			if isValue {
				bail()
			}
			break
		}
		if c == '#' && src[j-1] == ' ' {
			bail()
		}
	}
	v := trimSpaces(src, start, j)
	if v == start {
		bail()
	}
	return p.node(yaml.ScalarNode, plainTag(src[start:v]), start, v, l.num, start-l.start+1), j
}

// colonOrHash returns the offset of the first ':' or '#' in src[i:end], or end. It reads eight bytes at a time: the
// scalars it looks through are mostly short, where IndexByte's setup costs more than it saves.
func colonOrHash(src string, i, end int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= end; i += 8 {
		w := src[i : i+8]
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		// The bytes equal to ':' or '#' become zeros; the lowest flagged byte is the first zero (a borrow only flags
		// bytes above a zero one).
		a, b := x^(ones*':'), x^(ones*'#')
		if z := ((a-ones)&^a | (b-ones)&^b) & highs; z != 0 {
			return i + bits.TrailingZeros64(z)/8
		}
	}
	for ; i < end; i++ {
		if c := src[i]; c == ':' || c == '#' {
			return i
		}
	}
	return end
}

// flowStop marks the characters a plain scalar in a flow collection stops to look at.
var flowStop = func() (t [256]bool) {
	for _, c := range ",]}[{?:#" {
		t[c] = true
	}
	return t
}()

// plainTag resolves the tag of a plain scalar by YAML 1.2's core schema as yaml.v3 applies it (with its YAML 1.1
// leftovers: 0777 octals, underscores in numbers, timestamps).
func plainTag(v string) ytag {
	// Most plain scalars start with a letter that no special value starts with.
	if len(v) > 0 {
		if c := v[0] | 0x20; c >= 'a' && c <= 'z' && c != 't' && c != 'f' && c != 'n' {
			return tagStr
		}
	}
	switch v {
	case "true", "True", "TRUE", "false", "False", "FALSE":
		return tagBool
	case "", "~", "null", "Null", "NULL":
		return tagNull
	case "<<":
		return tagMerge
	case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF":
		return tagFloat
	}
	c := v[0]
	switch {
	case c == '.':
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return tagFloat
		}
		return tagStr
	case c >= '0' && c <= '9', c == '+', c == '-':
	default:
		return tagStr
	}
	// Most scalars that start like a number are whole numbers or durations ("30m"): settle those at once.
	if t, ok := plainNumberTag(v); ok {
		return t
	}
	if isTimestamp(v) {
		return tagTimestamp
	}
	plain := strings.ReplaceAll(v, "_", "")
	if _, err := strconv.ParseInt(plain, 0, 64); err == nil {
		return tagInt
	}
	if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
		return tagInt
	}
	if yamlFloatRE.MatchString(plain) {
		if _, err := strconv.ParseFloat(plain, 64); err == nil {
			return tagFloat
		}
	}
	for _, prefix := range []string{"0b", "-0b", "0o", "-0o"} {
		if strings.HasPrefix(plain, prefix) {
			bail() // binary and octal spellings: rare, left to yaml.v3
		}
	}
	return tagStr
}

// plainNumberTag settles the tag of a plain scalar that starts with a digit or a sign in two common cases: a
// decimal whole number without a leading zero, short enough to fit an int64, is !!int; text with a character that
// no number or timestamp has (and that no spelling plainTag gives up on starts like) is !!str.
func plainNumberTag(v string) (ytag, bool) {
	digits := true
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= '0' && c <= '9' {
			continue
		}
		digits = false
		if !numberChar[c] {
			if v[0] == '0' || strings.HasPrefix(v, "-0") || strings.IndexByte(v, '_') >= 0 {
				return 0, false // maybe "0b…" or "0o…" once underscores are gone: plainTag gives up on those
			}
			return tagStr, true
		}
	}
	if digits && len(v) <= 18 && (v[0] != '0' || len(v) == 1) {
		return tagInt, true
	}
	return 0, false
}

// numberChar marks the characters that integers (any base, with underscores), floats and timestamps may have. A
// timestamp's fractional seconds may follow a ',' as well as a '.' (time.Parse, which yaml.v3 uses, takes both).
var numberChar = func() (m [256]bool) {
	for _, c := range "0123456789abcdefABCDEFxXoO_+-.,:tTZ " {
		m[c] = true
	}
	return m
}()

var yamlFloatRE = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// timestampLayouts are the timestamp forms YAML's timestamp type allows that yaml.v3 recognises.
var timestampLayouts = []string{"2006-1-2T15:4:5.999999999Z07:00", "2006-1-2t15:4:5.999999999Z07:00", "2006-1-2 15:4:5.999999999", "2006-1-2"}

func isTimestamp(v string) bool {
	if len(v) < 5 || v[4] != '-' || strings.Trim(v[:4], "0123456789") != "" {
		return false
	}
	for _, layout := range timestampLayouts {
		if _, err := time.Parse(layout, v); err == nil {
			return true
		}
	}
	return false
}
