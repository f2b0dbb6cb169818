package workflow

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// sameTree compares the parts of two node trees that the workflow walker reads.
func sameTree(t *ytree, a *ynode, b *yaml.Node, path string) error {
	if a == nil || b == nil {
		if (a == nil) != (b == nil) {
			return fmt.Errorf("%s: one tree is nil", path)
		}
		return nil
	}
	if a.Kind() != b.Kind || a.Tag.String() != b.Tag || t.value(a) != b.Value || int(a.Line) != b.Line || int(a.Column) != b.Column {
		return fmt.Errorf("%s: fast {kind %v tag %s value %q at %d:%d} != yaml.v3 {kind %v tag %s value %q at %d:%d}",
			path, a.Kind(), a.Tag, t.value(a), a.Line, a.Column, b.Kind, b.Tag, b.Value, b.Line, b.Column)
	}
	if ta := t.aliasOf(a); (ta == nil) != (b.Alias == nil) {
		return fmt.Errorf("%s: alias %v, yaml.v3 has %v", path, ta != nil, b.Alias != nil)
	} else if ta != nil && (int(ta.Line) != b.Alias.Line || int(ta.Column) != b.Alias.Column) {
		return fmt.Errorf("%s: alias of the node at %d:%d, yaml.v3 of the one at %d:%d", path, ta.Line, ta.Column, b.Alias.Line, b.Alias.Column)
	}
	content := t.content(a)
	if len(content) != len(b.Content) {
		return fmt.Errorf("%s: %d children, yaml.v3 has %d", path, len(content), len(b.Content))
	}
	for i, c := range content {
		if err := sameTree(t, t.node(c), b.Content[i], fmt.Sprintf("%s/%d", path, i)); err != nil {
			return err
		}
	}
	return nil
}

// checkFastParse fails when the fast parser accepts src but builds a tree other than yaml.v3's. It reports whether
// the fast parser took the input.
func checkFastParse(t *testing.T, name, src string) bool {
	t.Helper()
	fast, ok := fastParse(src)
	if !ok {
		return false
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: fast parser accepted input yaml.v3 rejects (%v):\n%s", name, err, src)
	}
	var more yaml.Node
	if err := dec.Decode(&more); err == nil {
		t.Fatalf("%s: fast parser accepted a stream of several documents", name)
	}
	if len(doc.Content) != 1 {
		t.Fatalf("%s: yaml.v3 found %d root nodes", name, len(doc.Content))
	}
	if err := sameTree(fast, fast.node(fast.root), doc.Content[0], ""); err != nil {
		t.Fatalf("%s: %v\n--- input ---\n%s", name, err, src)
	}
	return true
}

func TestFastParseMatchesYAMLv3(t *testing.T) {
	accepted := []string{
		"a: b\n",
		"a: b\nc:\n  d: e\n  f: [g, h]\n",
		"a:\n- x\n- y: z\n  w: 1\n",
		"a:\n  - 'q''s'\n  - \"d\\\"q\\n\"\n",
		"# c\n---\nk: {x: 1, y: [], z: {}, w: [a, {b: c}]}  # trailing\n",
		"k: v # comment\n\n\n   # indented comment\nm: n\n",
		"a: true\nb: null\nc: ~\nd: 0\ne: 12\nf: False\ng: <<\nh: .inf\n",
		"url: registry.example.com/a/b@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
		"p: {date: \"{{ params.date }}\", x: 'y'}\n",
		"a:\n  b:\n    c:\n      - d\n      - e\n  f: g\n",
		"- a\n- b\n",
		"a: 0b101\n",
		"a: &x b\nc: *x\n",
		"a: &x val\nb: *x\nc: &m\n  k: v\nd:\n  <<: *m\n  z: 1\ne: [&y q, *y]\nf: {g: *x, h: &w {i: j}}\n",
		"t:\n  - &t1 {package: 'r/a:1', retries: 2}\n  - *t1\n  - {<<: *t1, retries: 3}\n",
		"t: 20m\nu: 1h30m\nv: 1.5\nw: 0x1F\nx: 2024-01-01\ny: 2025-W14\nz: 1_000\nq: 0777\nr: -3\ns: +.5\nt2: 1e3\nt3: 08\n",
		"a: .5\nb: .x\nc: 1.2.3\nd: 99999999999999999999\n",
		"a: b:c\nd: e#f\n",
	}
	for _, src := range accepted {
		if !checkFastParse(t, "accepted", src) {
			t.Errorf("fast parser gave up on input in its subset:\n%s", src)
		}
	}
	rejected := []string{
		"a: |\n  text\n", "a: *nope\n", "d: &s\n- 1\n- *s\n", "a: &x *y\n", "- &a k: v\n", "a: [*x]\n", "a: b\n---\nc: d\n", "a: !!str b\n", "a:\tb\n",
		"a: -\n", "a: b\n  c\n", "a: [b,\n  c]\n", "a: 'b\n  c'\n",
		"a: b: c\n", "a:\n", "? a\n: b\n", "a: café\n", "a: b\r\n", "a: [b,]\n", "{a: b}\n", "a: \"\\x41\"\n",
		"  a: b\n", "a: b\n c: d\n", "0: {0: 0?}\n", "a: [b?c]\n",
	}
	for _, src := range rejected {
		if _, ok := fastParse(src); ok {
			t.Errorf("fast parser took input outside its subset:\n%q", src)
		}
	}
}

func TestFastParseOnRepositoryYAML(t *testing.T) {
	var files []string
	for _, pattern := range []string{"../examples/repo/workflows/*.yaml", "../examples/edits/workflows/*.yaml", "testdata/*.yaml", "../digest/testdata/vectors/*.yaml"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no YAML files found to check")
	}
	took := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if checkFastParse(t, f, string(data)) {
			took++
		}
	}
	t.Logf("fast parser took %d of %d files", took, len(files))
	if took == 0 {
		t.Error("fast parser took none of the repository's YAML files")
	}
}

func FuzzFastParse(f *testing.F) {
	f.Add([]byte("a: b\nc:\n  - d\n  - e: f\n"))
	f.Add([]byte("k: {x: 1, y: [a, 'b'], z: \"c\"}\n"))
	f.Add([]byte("spec:\n  tasks:\n    a:\n      package: r/a:1\n      dependsOn: [b]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !bytes.Contains(data, []byte(":")) && !bytes.Contains(data, []byte("-")) {
			return
		}
		checkFastParse(t, "fuzz", string(data))
	})
}

// TestFastParseScalarTags holds plain scalars that start like numbers, where plainTag settles many at once, to
// yaml.v3's tags, one scalar per file so that one the fast path gives up on does not hide the others.
func TestFastParseScalarTags(t *testing.T) {
	for _, v := range []string{
		"0", "7", "-3", "+4", "00", "08", "0777", "123456789012345678", "1234567890123456789", "99999999999999999999",
		"30m", "1h30m", "90s", "5m", "2h", "0m", "-5m", "+5m", "1_000", "1_0m", "0x1F", "0x1g", "0b101", "0b2", "0o17",
		"0o8", "-0o8", "-0b1", "0_b1", "1e3", "1E3", "1.5", "1.", "-.5", "1.2.3", "1-2", "2024-01-01", "2024-1-1",
		"2024-01-01T00:00:00Z", "2024-01-01t00:00:00Z", "2024-01-01 00:00:00", "2024-01-01T00:00:00+01:00",
		"2025-W14", "12:30", "1:2:3", "0.5.x", "1 2", "1 a", "-", "+", "-a", "+a", "1a", "1f", "1z", "0z", "-0z",
		"1d", "12 monkeys", "3rd", "4th", "1st", "0xZ", "0X1F", "0O17", "0B1",
		// Fractional seconds after a comma: time.Parse, and so yaml.v3, reads these as timestamps.
		"2001-12-14 21:59:43,10", "2001-12-14T21:59:43,5Z", "2001-12-14t21:59:43,5+01:00", "1,5", "2001-12-14,5",
	} {
		src := "a: " + v + "\n"
		checkFastParse(t, v, src)
		checkFastParse(t, v, "k: ["+v+"]\n")
	}
}

func TestPlainASCII(t *testing.T) {
	slow := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c >= 0x80 || (c < 0x20 && c != '\n') || c == 0x7f {
				return false
			}
		}
		return true
	}
	base := []byte("abcdefghijklmnopq\nrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 ~!@#$%^&*()_+-=:;'<>?,./\n")
	for pos := range base {
		for c := 0; c < 256; c++ {
			b := append([]byte{}, base...)
			b[pos] = byte(c)
			if got, want := plainASCII(string(b)), slow(string(b)); got != want {
				t.Fatalf("plainASCII(%q) = %v, want %v", b, got, want)
			}
		}
	}
	// Several unusual bytes in one word, where a borrow from one byte could hide or fake another.
	rng := rand.New(rand.NewPCG(1, 2))
	odd := []byte{0, 1, '\t', '\n', '\r', 0x1f, ' ', '!', 0x7e, 0x7f, 0x80, 0x81, 0xfe, 0xff}
	for range 100000 {
		b := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123")
		for range 1 + rng.IntN(4) {
			b[rng.IntN(len(b))] = odd[rng.IntN(len(odd))]
		}
		if got, want := plainASCII(string(b)), slow(string(b)); got != want {
			t.Fatalf("plainASCII(%q) = %v, want %v", b, got, want)
		}
	}
}
