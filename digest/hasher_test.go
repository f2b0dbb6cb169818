package digest

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestSortByID checks the radix sort of task ids against slices.Sort, on ids that share long prefixes, are
// prefixes of each other, hold zero bytes (which the radix keys pad with) or go beyond ASCII.
func TestSortByID(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	parts := []string{"", "a", "b", "\x00", "\xff", "é", "transform-dbt-", "0", "9", "load-warehouse-0001", "-"}
	for n := range 300 {
		seen := map[string]bool{}
		h := &hasher{}
		for range n {
			var b strings.Builder
			for range r.IntN(6) {
				b.WriteString(parts[r.IntN(len(parts))])
			}
			if id := b.String(); !seen[id] {
				seen[id] = true
				h.ids = append(h.ids, id)
			}
		}
		h.sortByID()
		got := make([]string, len(h.byID))
		for k, i := range h.byID {
			got[k] = h.ids[i]
		}
		want := slices.Sorted(slices.Values(h.ids))
		if !slices.Equal(got, want) {
			t.Fatalf("sortByID(%q) = %q, want %q", h.ids, got, want)
		}
	}
}

func TestByLine(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 200 {
		for _, span := range []int32{1, 5, int32(n) + 1, 1 << 30} { // the last is sorted without counting
			lines := make([]int32, n)
			for i := range lines {
				lines[i] = r.Int32N(span)
			}
			order := byLine(lines)
			seen := make([]bool, n)
			for _, i := range order {
				seen[i] = true
			}
			if len(order) != n || slices.Contains(seen, false) {
				t.Fatalf("byLine(%v) = %v: not a permutation", lines, order)
			}
			for k := 1; k < n; k++ {
				if lines[order[k-1]] > lines[order[k]] {
					t.Fatalf("byLine(%v) = %v: not in line order", lines, order)
				}
			}
		}
	}
}

func TestIDTable(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := range 100 {
		var ids []string
		seen := map[string]bool{}
		for len(ids) < n {
			if id := strconv.Itoa(r.IntN(3 * n)); !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		tab := newIDTable(ids)
		for i, id := range ids {
			if got := tab.find(ids, id); got != int32(i) {
				t.Fatalf("find(%q) = %d, want %d", id, got, i)
			}
		}
		for _, id := range []string{"", "x", strconv.Itoa(3 * n), "-1"} {
			if got := tab.find(ids, id); got != -1 {
				t.Fatalf("find(%q) = %d among %q, want -1", id, got, ids)
			}
		}
	}
}
