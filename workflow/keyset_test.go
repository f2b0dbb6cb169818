package workflow

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestKeySet holds keySet, scanning or hashing, to a map, through growth past the size it was made for, with keys
// copied or (past keySetTextMax) not.
func TestKeySet(t *testing.T) {
	for _, max := range []int{keySetTextMax, 200} {
		t.Run(fmt.Sprint("text max ", max), func(t *testing.T) {
			defer func(old int) { keySetTextMax = old }(keySetTextMax)
			keySetTextMax = max
			testKeySet(t)
		})
	}
}

func testKeySet(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 16, 17, 100, 3000} {
		seen := newKeySet(n)
		want := map[string]int{}
		var pairs []keyValue
		for range 4*n + 50 {
			key := fmt.Sprint(rng.IntN(3*n + 40))
			w, ok := want[key]
			if !ok {
				w = -1
			}
			if got := seen.get(pairs, key); got != w {
				t.Fatalf("n=%d: get(%q) = %d, want %d", n, key, got, w)
			}
			if got := seen.getOrAdd(pairs, key); got != w {
				t.Fatalf("n=%d: getOrAdd(%q) = %d, want %d", n, key, got, w)
			}
			if w < 0 {
				want[key] = len(pairs)
				pairs = append(pairs, keyValue{key: key})
			}
		}
	}
}
