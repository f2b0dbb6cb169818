package digest_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/maestro-conductor/maestro/digest"
	"github.com/maestro-conductor/maestro/internal/wftest"
)

// FuzzDigestStable writes a random model in two random styles: both must parse to the model and have its digest.
// Seeds live in testdata/fuzz/FuzzDigestStable.
func FuzzDigestStable(f *testing.F) {
	f.Add(uint64(0), uint64(1), uint64(2))
	f.Fuzz(func(t *testing.T, seed, styleA, styleB uint64) {
		w := wftest.Random(wftest.NewRand(seed))
		want, err := digest.Of(w)
		if err != nil {
			t.Fatalf("Of(model): %v\n%s", err, wftest.String(w))
		}
		for _, s := range []uint64{styleA, styleB} {
			style := wftest.StyleOf(s)
			src := wftest.Emit(w, style)
			got := parseOne(t, src)
			if d := cmp.Diff(w, got, ignoreStyle); d != "" {
				t.Fatalf("style %v: parsed model mismatch (-want +got):\n%s\n%s", style, d, src)
			}
			if g, err := digest.Of(got); err != nil || g != want {
				t.Fatalf("style %v: digest %s (%v), want %s\n%s", style, g, err, want, src)
			}
		}
	})
}
