package integration_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/maestro-conductor/maestro/runtime/store"
)

// latencyPromotions is how many promotions each way of learning about them is measured over.
const latencyPromotions = 20

// benchOutEnv names a file the measured latencies are written to as JSON, for docs/benchmarks.md.
const benchOutEnv = "MAESTRO_BENCH_OUT"

// The targets. Tag pushed → applied in both regions with the webhook: p95 under 3 s. Polling has no target
// of its own; it may take an interval more.
const (
	webhookP95Bound = 3 * time.Second
	pollingSlack    = 3 * time.Second
)

// TestPublishToApplied measures publish → applied in two regions (us-east, us-west, `maestro serve` on
// PostgreSQL databases of their own): for each of 20 promotions, the time from the end of the promoter's push to
// both regions serving the new version through their API. First with the webhook — the regions pull once an hour,
// and a signed GitHub push event goes to both right after the push — then by polling alone, at the shortest
// interval `maestro serve` accepts (1s), each push at a random point of the regions' cycles. It logs p50, p95 and max, writes them to $MAESTRO_BENCH_OUT when set, and
// fails only beyond generous bounds: the webhook target (p95 < 3 s) and the interval + 3 s for polling.
func TestPublishToApplied(t *testing.T) {
	const wf = "nightly-etl"
	w := newWorld(t)
	w.commit(t, wf, 1)
	modes := []struct {
		name     string
		interval time.Duration
		webhook  bool
		bound    time.Duration
	}{
		{"webhook", time.Hour, true, webhookP95Bound},
		{"polling", time.Second, false, time.Second + pollingSlack},
	}
	// Databases belong to this test, not a subtest, so that they outlive the replicas (which end with the test).
	dsns := map[string]string{}
	for _, m := range modes {
		for _, region := range []string{"us-east", "us-west"} {
			dsns[m.name+"/"+region] = newDatabase(t)
		}
	}
	report := latencyReport{SchemaVersion: 1, Date: time.Now().UTC().Truncate(time.Second), Promotions: latencyPromotions,
		Environment: benchEnvironment(), Transport: "git daemon on loopback (git://)", Store: "PostgreSQL, a database per region"}

	for i, m := range modes {
		ok := t.Run(m.name, func(t *testing.T) {
			var regions []*replica
			for _, region := range []string{"us-east", "us-west"} {
				regions = append(regions, w.start(t, m.name+"-"+region, replicaSpec{region: region, dsn: dsns[m.name+"/"+region],
					dataDir: filepath.Join(w.dir, m.name, region), interval: m.interval}))
			}
			var both []time.Duration
			per := make([][]time.Duration, len(regions))
			for n := range latencyPromotions {
				w.commit(t, wf, 100*(i+1)+n)
				if !m.webhook {
					// Else every push would land at the same point of the regions' cycles, one promotion's
					// time after their last reconcile: a uniformly random point measures polling as it is.
					time.Sleep(rand.N(m.interval))
				}
				version := fmt.Sprintf("%d.%d.0", i+1, n)
				res := w.promote(t, wf, version)
				pushed := time.Now()
				took := make([]time.Duration, len(regions))
				errs := make([]error, len(regions))
				var wg sync.WaitGroup
				for j, r := range regions {
					wg.Go(func() {
						if m.webhook {
							if errs[j] = r.webhook(w.secret, "refs/tags/"+res.Tag, res.TagObject); errs[j] != nil {
								return
							}
						}
						took[j], errs[j] = untilServing(r, wf, version, pushed, m.bound+10*time.Second)
					})
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						t.Fatalf("%s: %v", version, err)
					}
				}
				for j := range regions {
					per[j] = append(per[j], took[j])
				}
				both = append(both, slices.Max(took))
			}
			for _, r := range regions {
				r.stop(t)
			}

			lat := summarize(both)
			t.Logf("%s: pushed → served in both regions over %d promotions (interval %v): p50 %v, p95 %v, max %v",
				m.name, len(both), m.interval, lat.P50, lat.P95, lat.Max)
			mr := modeReport{Interval: m.interval.String(), Webhook: m.webhook, RandomPhase: !m.webhook, Both: lat, Regions: map[string]latencies{}}
			for j, r := range regions {
				l := summarize(per[j])
				mr.Regions[r.region] = l
				t.Logf("%s: %s alone: p50 %v, p95 %v, max %v", m.name, r.region, l.P50, l.P95, l.Max)
			}
			report.Modes = append(report.Modes, mr)
			if lat.P95 > m.bound {
				t.Errorf("%s: p95 %v, want under %v", m.name, lat.P95, m.bound)
			}
			// Every promotion was applied once in each region, each from its own tag.
			for _, r := range regions {
				evs, err := openStore(t, r.dsn).History(t.Context(), store.HistoryFilter{Action: store.ActionApplied, Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				tags := map[string]int{}
				for _, e := range evs {
					tags[e.Tag]++
				}
				for n := range latencyPromotions {
					if tag := fmt.Sprintf("%s/v%d.%d.0", wf, i+1, n); tags[tag] != 1 {
						t.Errorf("%s: %s applied %d times, want once", r.name, tag, tags[tag])
					}
				}
			}
		})
		if !ok {
			return
		}
	}

	if out := os.Getenv(benchOutEnv); out != "" {
		js, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, append(js, '\n'), 0o644); err != nil {
			t.Fatalf("%s: %v", benchOutEnv, err)
		}
		t.Logf("wrote the latencies to %s", out)
	}
}

// untilServing polls r every 5ms until it serves name at version and returns the time since pushed.
func untilServing(r *replica, name, version string, pushed time.Time, timeout time.Duration) (time.Duration, error) {
	for {
		err := r.serving(name, version)
		if err == nil {
			return time.Since(pushed), nil
		}
		if time.Since(pushed) > timeout {
			return 0, fmt.Errorf("not within %v of the push: %w", timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// latencyReport is what $MAESTRO_BENCH_OUT receives.
type latencyReport struct {
	SchemaVersion int          `json:"schemaVersion"`
	Date          time.Time    `json:"date"`
	Environment   environment  `json:"environment"`
	Transport     string       `json:"transport"`
	Store         string       `json:"store"`
	Promotions    int          `json:"promotions"`
	Modes         []modeReport `json:"modes"`
}

type environment struct {
	CPUs int    `json:"cpus"`
	OS   string `json:"os"`
	Go   string `json:"go"`
}

func benchEnvironment() environment {
	return environment{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
}

// modeReport is one way of learning about a push: the webhook, or polling every Interval.
type modeReport struct {
	Interval string `json:"interval"`
	Webhook  bool   `json:"webhook"`
	// RandomPhase says each push waited a random part of the interval first, so that it met the regions'
	// polling cycles at a uniformly random point.
	RandomPhase bool `json:"randomPhase"`
	// Both is pushed → served by both regions; Regions each region's own.
	Both    latencies            `json:"both"`
	Regions map[string]latencies `json:"regions"`
}

type latencies struct {
	P50            time.Duration `json:"-"`
	P95            time.Duration `json:"-"`
	Max            time.Duration `json:"-"`
	P50Seconds     float64       `json:"p50Seconds"`
	P95Seconds     float64       `json:"p95Seconds"`
	MaxSeconds     float64       `json:"maxSeconds"`
	SamplesSeconds []float64     `json:"samplesSeconds"`
}

// summarize gives the nearest-rank p50 and p95 and the max of samples, in their order of measurement.
func summarize(samples []time.Duration) latencies {
	sorted := slices.Sorted(slices.Values(samples))
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(sorted))+0.999999) - 1
		return sorted[min(max(i, 0), len(sorted)-1)].Round(time.Millisecond)
	}
	l := latencies{P50: rank(0.50), P95: rank(0.95), Max: sorted[len(sorted)-1].Round(time.Millisecond)}
	l.P50Seconds, l.P95Seconds, l.MaxSeconds = l.P50.Seconds(), l.P95.Seconds(), l.Max.Seconds()
	for _, s := range samples {
		l.SamplesSeconds = append(l.SamplesSeconds, s.Round(time.Millisecond).Seconds())
	}
	return l
}
