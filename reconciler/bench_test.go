package reconciler_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/maestro-conductor/maestro/attest"
	"github.com/maestro-conductor/maestro/digest"
	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/internal/gittest"
	"github.com/maestro-conductor/maestro/internal/wftest"
	"github.com/maestro-conductor/maestro/promote"
	"github.com/maestro-conductor/maestro/reconciler"
	"github.com/maestro-conductor/maestro/sshsig"
	"github.com/maestro-conductor/maestro/workflow"
)

// benchVersions are the versions every workflow of a benchmark repository is promoted at, each from its own commit.
var benchVersions = []string{"1.0.0", "1.1.0", "1.2.0"}

// benchWorkflows is N, the number of workflows in the benchmark repository: 1,000 (the target), or
// MAESTRO_BENCH_WORKFLOWS.
func benchWorkflows(tb testing.TB) int {
	if s := os.Getenv("MAESTRO_BENCH_WORKFLOWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			tb.Fatalf("MAESTRO_BENCH_WORKFLOWS=%q: want a positive number", s)
		}
		return n
	}
	return 1000
}

// benchRepo is a remote with N workflows × 3 promoted versions, made once per test binary run: building it is
// most of the benchmark's cost (3N real promotions), and every benchmark only reads it.
type benchRepo struct {
	f     *fixture
	n     int
	build time.Duration
}

var (
	benchOnce   sync.Once
	benchShared *benchRepo
)

// sharedBenchRepo builds the benchmark repository the first time it is asked for. Its directories live until the
// test binary exits (they are under a directory of their own, removed by TestMain's caller's temp cleanup: the
// OS temp dir).
func sharedBenchRepo(b *testing.B) *benchRepo {
	benchOnce.Do(func() {
		n := benchWorkflows(b)
		dir, err := os.MkdirTemp("", "maestro-reconciler-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchCleanup = append(benchCleanup, func() { os.RemoveAll(dir) })
		start := time.Now()
		f := buildBenchRepo(&dirTB{TB: b, dir: dir}, n)
		benchShared = &benchRepo{f: f, n: n, build: time.Since(start)}
		b.Logf("built the benchmark repository: %d workflows × %d versions = %d promotions in %v", n, len(benchVersions), n*len(benchVersions), benchShared.build)
	})
	if benchShared == nil {
		b.Fatal("the benchmark repository could not be built")
	}
	return benchShared
}

// benchCleanup runs when the test binary exits (see TestMain).
var benchCleanup []func()

// dirTB is a testing.TB whose TempDir and Cleanup outlive the benchmark that built the shared repository.
type dirTB struct {
	testing.TB
	dir string
	n   atomic.Int64
}

func (d *dirTB) TempDir() string {
	p := filepath.Join(d.dir, strconv.FormatInt(d.n.Add(1), 10))
	if err := os.MkdirAll(p, 0o755); err != nil {
		d.Fatal(err)
	}
	return p
}

func (d *dirTB) Cleanup(f func()) { benchCleanup = append(benchCleanup, f) }

// buildBenchRepo commits N workflows three times (each commit changes every workflow's graph) and promotes each
// workflow at each commit, then pushes branch, tags and notes to the remote once.
//
// It does not call promote.Promote 3N times: Promote parses every workflow of the repository on each call and
// lists the workflow's tags, so 3,000 promotions of a 1,000-workflow repository take about 20 minutes on 2 cores.
// promotions makes the same promotions from the same exported parts Promote uses (the record as the tag
// message, an SSH-signed tag, an in-toto statement signed into a Sigstore bundle in the embedded transparency log,
// the bundle as a git note in refs/notes/maestro), parsing each commit once and signing from 128 goroutines so
// that the log batches its appends. It skips the promoter's first-seen index, which the reconciler does not read
// (its index is the region store). Every tag it makes must pass promote.Verify: the benchmarks fail unless all
// 3N versions are applied.
func buildBenchRepo(tb testing.TB, n int) *fixture {
	f := newFixture(tb)
	name := func(i int) string { return fmt.Sprintf("wf-%04d", i) }
	ctx := context.Background()
	var jobs []promotion
	for v, version := range benchVersions {
		files := make(map[string]string, n)
		for i := range n {
			files[name(i)] = wftest.SmallYAML(name(i), v+1)
		}
		commit := plumbing.NewHash(f.commit(files))
		fsys, err := f.repo.FS(ctx, commit.String())
		if err != nil {
			tb.Fatal(err)
		}
		set, err := workflow.Load(fsys, workflow.DefaultDir, workflow.Limits{})
		if err != nil {
			tb.Fatal(err)
		}
		for i := range n {
			d, err := digest.Of(set.Get(name(i)))
			if err != nil {
				tb.Fatal(err)
			}
			jobs = append(jobs, promotion{workflow: name(i), version: version, commit: commit, digest: d})
		}
	}
	f.promotions(jobs)
	gittest.Run(tb, f.work, "push", "-q", "file://"+f.bare, "refs/tags/*:refs/tags/*", "refs/notes/*:refs/notes/*")
	return f
}

// promotion is one version to promote: what promote.Promote works out before it signs.
type promotion struct {
	workflow, version string
	commit            plumbing.Hash
	digest            digest.Digest
}

// promotions promotes each job as promote.Promote does (see buildBenchRepo), many at once.
func (f *fixture) promotions(jobs []promotion) {
	ctx := context.Background()
	identity, err := f.repo.IdentityOf(ctx, jobs[0].commit)
	if err != nil {
		f.tb.Fatal(err)
	}
	when := time.Now().UTC().Truncate(time.Second)
	tagger := object.Signature{Name: "release@example.com", Email: "release@example.com", When: when}
	type note struct {
		tag    plumbing.Hash
		bundle []byte
	}
	notes := make([]note, len(jobs))
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 128 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) || failed.Load() != nil {
					return
				}
				j := jobs[i]
				tagName := gitrepo.TagName(j.workflow, j.version)
				rec := promote.Record{Workflow: j.workflow, Version: j.version, Digest: j.digest, Commit: j.commit.String(), Frozen: true,
					Promoter: "release@example.com", KeyID: attest.KeyID(&f.key.PublicKey), Time: when, Repository: identity}
				msg, err := rec.Message()
				if err != nil {
					failed.Store(err)
					return
				}
				obj, err := f.repo.CreateSignedTag(ctx, tagName, j.commit, tagger, msg, func(p []byte) ([]byte, error) {
					return sshsig.Sign(f.key, p, promote.SignatureNamespace)
				})
				if err != nil {
					failed.Store(err)
					return
				}
				stmt, err := attest.NewStatement([]attest.Subject{{Name: tagName, Digest: map[string]string{"sha256": j.digest.Hex()}}},
					promote.PredicateType, promote.Predicate{Record: rec, Tag: tagName, TagObject: obj.String()})
				if err != nil {
					failed.Store(err)
					return
				}
				bundle, err := attest.SignBundle(ctx, f.key, stmt, f.log.Transparency())
				if err != nil {
					failed.Store(err)
					return
				}
				notes[i] = note{tag: obj, bundle: bundle}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		f.tb.Fatalf("promote: %v", err)
	}
	for _, n := range notes {
		if err := f.repo.AddNote(ctx, promote.NotesRef, n.tag, n.bundle, tagger); err != nil {
			f.tb.Fatal(err)
		}
	}
}

// BenchmarkColdStart reconciles the N × 3 promotions into an empty store from an empty mirror: clone, verify
// 3N tags, apply 3N versions. The target for N = 1,000 is under 30 s.
func BenchmarkColdStart(b *testing.B) {
	br := sharedBenchRepo(b)
	want := br.n * len(benchVersions)
	for b.Loop() {
		b.StopTimer()
		st := newStore(b)
		r := br.f.reconciler("bench", st, quiet)
		b.StartTimer()
		res, err := r.ReconcileOnce(context.Background())
		if err != nil || len(res.Applied) != want {
			b.Fatalf("cold start: applied %d of %d: %v", len(res.Applied), want, err)
		}
	}
	b.ReportMetric(float64(want), "versions")
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/coldstart")
}

// BenchmarkSteadyState reconciles a region that has everything already: fetch (nothing new), discover 3N tags,
// find each applied. The target for N = 1,000 is under 1 s.
func BenchmarkSteadyState(b *testing.B) {
	br := sharedBenchRepo(b)
	st := newStore(b)
	r := br.f.reconciler("bench", st, quiet)
	if res, err := r.ReconcileOnce(context.Background()); err != nil || len(res.Applied) != br.n*len(benchVersions) {
		b.Fatalf("cold start: %v", err)
	}
	for b.Loop() {
		res, err := r.ReconcileOnce(context.Background())
		if err != nil || len(res.Applied) != 0 || len(res.Unchanged) != br.n*len(benchVersions) {
			b.Fatalf("steady state: %d applied, %d unchanged: %v", len(res.Applied), len(res.Unchanged), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/reconcile")
}

func quiet(o *reconciler.Options) { o.Logger = discardLogger() }
