package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/maestro-conductor/maestro/runtime/store"
)

func hexOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// mdt is a zone other than UTC, to check times come back in UTC.
var mdt = time.FixedZone("MDT", -6*60*60)

// version is a version as the reconciler would apply it, every field set; AppliedAt is left to the store.
func version(name, v string) store.Version {
	return store.Version{
		Name:       name,
		Version:    v,
		Digest:     "sha256:" + hexOf("digest", name, v),
		Commit:     hexOf("commit", name, v)[:40],
		Tag:        name + "/v" + v,
		TagObject:  hexOf("tag", name, v)[:40],
		Frozen:     true,
		Tenant:     "acme",
		Definition: []byte(`{"name":"` + name + `","tasks":{"extract":{"package":"registry.example.com/etl/extract@sha256:` + hexOf("pkg") + `"}}}`),
		Signer:     "SHA256:" + hexOf("key")[:43],
		Promoter:   "release-bot@example.com",
		LogIndex:   int64(len(name) * 1000),
		PromotedAt: time.Date(2025, 10, 27, 10, 0, 0, 123456789, mdt),
	}
}

// stored is v as a store returns it: times in UTC, to the microsecond.
func stored(v store.Version) store.Version {
	v.PromotedAt = v.PromotedAt.UTC().Truncate(time.Microsecond)
	v.AppliedAt = v.AppliedAt.UTC().Truncate(time.Microsecond)
	if v.Definition == nil {
		v.Definition = []byte{}
	}
	return v
}

var ignoreApplied = cmpopts.IgnoreFields(store.Version{}, "AppliedAt")

func testApply(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	s := fresh(t, newDB)
	v1 := version("nightly-etl", "1.0.0")
	otherDigest := v1
	otherDigest.Digest = "sha256:" + hexOf("other")
	otherTag := v1
	otherTag.TagObject = hexOf("re-signed")[:40]
	later := v1
	later.AppliedAt = time.Now().Add(time.Hour)
	sameDigestNewVersion := version("nightly-etl", "1.0.1")
	sameDigestNewVersion.Digest = v1.Digest
	otherWorkflowSameDigest := version("hourly-etl", "1.0.0")
	otherWorkflowSameDigest.Digest = v1.Digest
	noName := v1
	noName.Name = ""
	noDigest := v1
	noDigest.Digest = ""
	badVersion := func(s string) store.Version { v := version("nightly-etl", s); return v }

	tests := []struct {
		name     string
		v        store.Version
		applied  bool
		conflict bool
		invalid  bool // an error that is not ErrConflict
	}{
		{name: "first", v: v1, applied: true},
		{name: "same version again", v: v1},
		{name: "same version again, later", v: later},
		{name: "same version, another digest", v: otherDigest, conflict: true},
		{name: "same version, another tag object", v: otherTag, conflict: true},
		{name: "same digest, another version", v: sameDigestNewVersion, conflict: true},
		{name: "same digest in another workflow", v: otherWorkflowSameDigest, applied: true},
		{name: "next version", v: version("nightly-etl", "1.1.0"), applied: true},
		{name: "next version again", v: version("nightly-etl", "1.1.0")},
		{name: "pre-release", v: version("nightly-etl", "2.0.0-rc.1"), applied: true},
		{name: "build metadata", v: version("nightly-etl", "2.0.0+exp.sha.5114f85"), applied: true},
		{name: "no name", v: noName, invalid: true},
		{name: "no digest", v: noDigest, invalid: true},
		{name: "leading v", v: badVersion("v3.0.0"), invalid: true},
		{name: "two numbers", v: badVersion("3.0"), invalid: true},
		{name: "not semver", v: badVersion("latest"), invalid: true},
		{name: "empty version", v: badVersion(""), invalid: true},
	}
	for _, tt := range tests {
		applied, err := s.Apply(ctx, tt.v)
		switch {
		case tt.conflict:
			if !isConflict(err) || applied {
				t.Errorf("%s: Apply() = %v, %s; want false, ErrConflict", tt.name, applied, errString(err))
			}
		case tt.invalid:
			if err == nil || isConflict(err) || applied {
				t.Errorf("%s: Apply() = %v, %s; want false and an error that is not ErrConflict", tt.name, applied, errString(err))
			}
		default:
			if err != nil || applied != tt.applied {
				t.Errorf("%s: Apply() = %v, %s; want %v, <nil>", tt.name, applied, errString(err), tt.applied)
			}
		}
	}

	// Nothing that was refused changed what was stored.
	got, err := s.Version(ctx, "nightly-etl", "1.0.0")
	if err != nil {
		t.Fatalf("Version(): %v", err)
	}
	if d := cmp.Diff(stored(v1), got, ignoreApplied); d != "" {
		t.Errorf("Version() after conflicts mismatch (-want +got):\n%s", d)
	}
	if got.AppliedAt.After(time.Now()) {
		t.Errorf("AppliedAt = %v: the idempotent re-apply replaced it", got.AppliedAt)
	}
	vs, err := s.Versions(ctx, "nightly-etl")
	if err != nil {
		t.Fatalf("Versions(): %v", err)
	}
	var names []string
	for _, v := range vs {
		names = append(names, v.Version)
	}
	want := []string{"1.0.0", "1.1.0", "2.0.0-rc.1", "2.0.0+exp.sha.5114f85"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("Versions() mismatch (-want +got):\n%s", d)
	}
}

func testApplyFields(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	s := fresh(t, newDB)
	before := time.Now().Add(-time.Second)

	v := version("nightly-etl", "1.2.3-rc.1+build.7")
	v.Definition = []byte("{\n  \"kept\": \"byte for byte\", \"z\": 1, \"a\": [3,2,1]\n}\n")
	v.Frozen = false
	v.LogIndex = 1<<53 + 1
	if _, err := s.Apply(ctx, v); err != nil {
		t.Fatal(err)
	}
	got, err := s.Version(ctx, v.Name, v.Version)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(stored(v), got, ignoreApplied); d != "" {
		t.Errorf("Version() mismatch (-want +got):\n%s", d)
	}
	if got.AppliedAt.Before(before) || got.AppliedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("AppliedAt = %v, want about now", got.AppliedAt)
	}
	for _, tm := range []time.Time{got.PromotedAt, got.AppliedAt} {
		if tm.Location() != time.UTC || tm.Nanosecond()%1000 != 0 {
			t.Errorf("time %v: want UTC, whole microseconds", tm)
		}
	}

	// AppliedAt given is kept (to the microsecond); a nil definition and a zero promotion time come back empty.
	w := version("bare", "0.1.0")
	w.AppliedAt = time.Date(2025, 11, 1, 8, 30, 0, 999999999, mdt)
	w.Definition = nil
	w.PromotedAt = time.Time{}
	w.Commit, w.Tag, w.TagObject, w.Tenant, w.Signer, w.Promoter, w.LogIndex = "", "", "", "", "", "", 0
	if _, err := s.Apply(ctx, w); err != nil {
		t.Fatal(err)
	}
	got, err = s.Version(ctx, "bare", "0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(stored(w), got); d != "" {
		t.Errorf("Version() of a bare version mismatch (-want +got):\n%s", d)
	}
	if !got.PromotedAt.IsZero() {
		t.Errorf("PromotedAt = %v, want zero", got.PromotedAt)
	}
	if got.Definition == nil {
		t.Error("Definition = nil, want empty")
	}
}

// testApplyConcurrent: replicas applying the same version at once end with one row, one applied=true, no error.
func testApplyConcurrent(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	o := newDB(t)
	stores := []store.Store{open(t, o), open(t, o)}
	const n = 8
	for round, v := range []store.Version{version("nightly-etl", "1.0.0"), version("nightly-etl", "1.1.0"), version("hourly", "3.0.0")} {
		var wg sync.WaitGroup
		start := make(chan struct{})
		applied := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				<-start
				applied[i], errs[i] = stores[i%len(stores)].Apply(ctx, v)
			})
		}
		close(start)
		wg.Wait()
		count := 0
		for i := range n {
			if errs[i] != nil {
				t.Errorf("round %d: Apply() #%d: %v", round, i, errs[i])
			}
			if applied[i] {
				count++
			}
		}
		if count != 1 {
			t.Errorf("round %d: %d of %d concurrent Apply() calls returned applied=true, want 1", round, count, n)
		}
	}
	vs, err := stores[0].Versions(ctx, "nightly-etl")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 {
		t.Errorf("Versions() = %d versions, want 2", len(vs))
	}
}

// testApplyConcurrentConflicts: of replicas applying one version with different digests at once, one wins and the
// others get ErrConflict.
func testApplyConcurrentConflicts(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	o := newDB(t)
	stores := []store.Store{open(t, o), open(t, o)}
	const n = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	applied := make([]bool, n)
	errs := make([]error, n)
	digests := make([]string, n)
	for i := range n {
		v := version("nightly-etl", "1.0.0")
		v.Digest = fmt.Sprintf("sha256:%s", hexOf("digest", fmt.Sprint(i)))
		digests[i] = v.Digest
		wg.Go(func() {
			<-start
			applied[i], errs[i] = stores[i%len(stores)].Apply(ctx, v)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i := range n {
		switch {
		case applied[i] && errs[i] == nil:
			if winner >= 0 {
				t.Errorf("Apply() #%d and #%d both applied", winner, i)
			}
			winner = i
		case !applied[i] && isConflict(errs[i]):
		default:
			t.Errorf("Apply() #%d = %v, %s; want true, <nil> or false, ErrConflict", i, applied[i], errString(errs[i]))
		}
	}
	if winner < 0 {
		t.Fatal("no concurrent Apply() won")
	}
	got, err := stores[1].Version(ctx, "nightly-etl", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != digests[winner] {
		t.Errorf("stored digest %s, want the winner's %s", got.Digest, digests[winner])
	}
}

func testVersionsOrder(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	s := fresh(t, newDB)
	// Ascending by semver precedence (semver.org §11); versions equal but for build metadata, by text.
	want := []string{
		"0.9.0",
		"1.0.0-alpha",
		"1.0.0-alpha.1",
		"1.0.0-alpha.beta",
		"1.0.0-beta",
		"1.0.0-beta.2",
		"1.0.0-beta.11",
		"1.0.0-rc.1",
		"1.0.0",
		"1.0.0+build.1",
		"1.2.0",
		"1.9.0",
		"1.10.0",
		"2.0.0",
		"10.0.0",
	}
	shuffled := append([]string(nil), want...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, v := range shuffled {
		if _, err := s.Apply(ctx, version("flow", v)); err != nil {
			t.Fatalf("Apply(%s): %v", v, err)
		}
	}
	vs, err := s.Versions(ctx, "flow")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, v.Version)
		if d := cmp.Diff(stored(version("flow", v.Version)), v, ignoreApplied); d != "" {
			t.Errorf("Versions() entry %s mismatch (-want +got):\n%s", v.Version, d)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Versions() order mismatch (-want +got):\n%s", d)
	}
}

func testWorkflows(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	s := fresh(t, newDB)
	got, err := s.Workflows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || len(got) != 0 {
		t.Errorf("Workflows() of an empty store = %#v, want an empty, non-nil list", got)
	}

	t0 := time.Date(2025, 10, 27, 9, 0, 0, 0, time.UTC)
	apply := func(name, v string, at time.Time) store.Version {
		t.Helper()
		x := version(name, v)
		x.AppliedAt = at
		if _, err := s.Apply(ctx, x); err != nil {
			t.Fatalf("Apply(%s@%s): %v", name, v, err)
		}
		return x
	}
	// 1.10.0 was applied before 1.9.0, and is still the latest; "updated" is the last apply of any version.
	b110 := apply("b-flow", "1.10.0", t0)
	apply("b-flow", "1.9.0", t0.Add(time.Hour))
	apply("b-flow", "1.2.0", t0.Add(30*time.Minute))
	a2rc := apply("a-flow", "2.0.0-rc.1", t0.Add(2*time.Hour))
	apply("a-flow", "1.0.0", t0.Add(3*time.Hour))
	c := apply("c-flow", "0.1.0", t0.Add(4*time.Hour+123456789))

	got, err = s.Workflows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Summary{
		{Name: "a-flow", Latest: "2.0.0-rc.1", Digest: a2rc.Digest, Versions: 2, Updated: t0.Add(3 * time.Hour)},
		{Name: "b-flow", Latest: "1.10.0", Digest: b110.Digest, Versions: 3, Updated: t0.Add(time.Hour)},
		{Name: "c-flow", Latest: "0.1.0", Digest: c.Digest, Versions: 1, Updated: t0.Add(4*time.Hour + 123456000)},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Workflows() mismatch (-want +got):\n%s", d)
	}
}

func testNotFound(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	s := fresh(t, newDB)
	if _, err := s.Apply(ctx, version("known", "1.0.0")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"Versions of an unknown workflow", func() error { _, err := s.Versions(ctx, "unknown"); return err }},
		{"Version of an unknown workflow", func() error { _, err := s.Version(ctx, "unknown", "1.0.0"); return err }},
		{"Version never applied", func() error { _, err := s.Version(ctx, "known", "1.0.1"); return err }},
		{"Version with a leading v", func() error { _, err := s.Version(ctx, "known", "v1.0.0"); return err }},
		{"SetExportJobStatus of an unknown job", func() error {
			return s.SetExportJobStatus(ctx, "0190c5a3-7b2e-7000-8000-000000000000", "running")
		}},
		{"SetExportJobStatus of an id that is no UUID", func() error { return s.SetExportJobStatus(ctx, "job-1", "running") }},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: error %s, want ErrNotFound", tt.name, errString(err))
		}
	}
	if rec, ok, err := s.Lookup(ctx, "unknown"); rec != nil || ok || err != nil {
		t.Errorf("Lookup(unknown) = %q, %v, %v; want nil, false, <nil>", rec, ok, err)
	}
}

// BenchmarkApply measures a cold start: 1,000 workflows × 3 versions applied one after another into an empty store,
// as the reconciler's first run over a repository of that size does (the target is the whole reconcile in 30 s).
// Its sub-benchmark ReapplyUnchanged applies the same 3,000 versions again, as a reconcile that finds nothing new
// would if it re-applied everything.
func BenchmarkApply(b *testing.B, newDB NewDB) {
	const workflows, perWorkflow = 1000, 3
	var vs []store.Version
	for w := range workflows {
		for v := range perWorkflow {
			x := version(fmt.Sprintf("workflow-%04d", w), fmt.Sprintf("1.%d.0", v))
			x.Definition = definition(w, v)
			vs = append(vs, x)
		}
	}
	budget := 30 * time.Second
	applyAll := func(b *testing.B, s store.Store, wantApplied bool) {
		ctx := context.Background()
		for _, v := range vs {
			applied, err := s.Apply(ctx, v)
			if err != nil || applied != wantApplied {
				b.Fatalf("Apply(%s@%s) = %v, %v", v.Name, v.Version, applied, err)
			}
		}
	}
	report := func(b *testing.B) {
		per := b.Elapsed() / time.Duration(b.N)
		b.ReportMetric(float64(len(vs))/per.Seconds(), "versions/s")
		b.ReportMetric(per.Seconds()/budget.Seconds(), "of-30s-budget")
	}
	b.Run("ColdStart", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			s := open(b, newDB(b))
			b.StartTimer()
			applyAll(b, s, true)
			b.StopTimer()
			s.Close()
			b.StartTimer()
		}
		report(b)
	})
	b.Run("ReapplyUnchanged", func(b *testing.B) {
		s := open(b, newDB(b))
		applyAll(b, s, true)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			applyAll(b, s, false)
		}
		report(b)
	})
}

// definition is a normalized workflow of a realistic size (about 2 KB of JSON).
func definition(w, v int) []byte {
	var b []byte
	b = fmt.Appendf(b, `{"apiVersion":"maestro.dev/v1","name":"workflow-%04d","tenant":"acme","params":{"date":{"type":"string","required":true}},"tasks":{`, w)
	for i := range 8 {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `"task-%d":{"package":"registry.example.com/etl/t%d@sha256:%s","params":{"date":"{{ params.date }}","v":"%d"},"retries":2,"timeout":1800,"dependsOn":["task-%d"]}`,
			i, i, hexOf("pkg", fmt.Sprint(w, i)), v, max(i-1, 0))
	}
	return append(b, "}}"...)
}
