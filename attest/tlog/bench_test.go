package tlog_test

import (
	"crypto/ecdsa"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rekortilespb "github.com/sigstore/rekor-tiles/v2/pkg/generated/protobuf"

	"github.com/maestro-conductor/maestro/attest/tlog"
)

// BenchmarkEmbeddedAppend measures appends to the embedded log, each waiting
// for its checkpoint as Add does, from one goroutine (the baseline) and from
// 8 at once. It reports appends/s; the concurrent case is bounded by the
// checkpoint interval (100ms) times the entries one checkpoint covers.
func BenchmarkEmbeddedAppend(b *testing.B) {
	for _, workers := range []int{1, 8} {
		name := "sequential"
		if workers > 1 {
			name = "concurrent-8"
		}
		b.Run(name, func(b *testing.B) {
			ctx := b.Context()
			e, err := tlog.OpenEmbedded(ctx, filepath.Join(b.TempDir(), "log"), tlog.EmbeddedOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			keys := make([]*ecdsa.PrivateKey, workers)
			for i := range keys {
				keys[i] = newECDSAKey(b)
			}
			reqs := make([]*rekortilespb.HashedRekordRequestV002, b.N)
			for i := range reqs {
				reqs[i] = hashedRekord(b, keys[i%workers])
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						if _, err := e.Add(ctx, reqs[i]); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
		})
	}
}
