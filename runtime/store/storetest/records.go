package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/maestro-conductor/maestro/runtime/store"
)

func testStatuses(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	s := fresh(t, newDB)
	got, err := s.Statuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || len(got) != 0 {
		t.Errorf("Statuses() of an empty store = %#v, want an empty, non-nil list", got)
	}
	at := time.Date(2025, 10, 28, 15, 0, 0, 987654321, mdt)
	b := store.SyncStatus{Workflow: "b-flow", DesiredVersion: "1.2.0", AppliedVersion: "1.1.0", Synced: false,
		LastError: "verify b-flow/v1.2.0: signature: no allowed signer", LastAttempt: at, LastSuccess: at.Add(-time.Hour)}
	a := store.SyncStatus{Workflow: "a-flow", DesiredVersion: "2.0.0", AppliedVersion: "2.0.0", Synced: true,
		LastAttempt: at, LastSuccess: at}
	for _, st := range []store.SyncStatus{b, a} {
		if err := s.SetStatus(ctx, st); err != nil {
			t.Fatalf("SetStatus(%s): %v", st.Workflow, err)
		}
	}
	utc := func(st store.SyncStatus) store.SyncStatus {
		st.LastAttempt = st.LastAttempt.UTC().Truncate(time.Microsecond)
		if !st.LastSuccess.IsZero() {
			st.LastSuccess = st.LastSuccess.UTC().Truncate(time.Microsecond)
		}
		return st
	}
	got, err = s.Statuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]store.SyncStatus{utc(a), utc(b)}, got); d != "" {
		t.Errorf("Statuses() mismatch (-want +got):\n%s", d)
	}
	for _, st := range got {
		if st.LastAttempt.Location() != time.UTC {
			t.Errorf("LastAttempt %v, want UTC", st.LastAttempt)
		}
	}

	// SetStatus replaces every field, clearing those left empty.
	b2 := store.SyncStatus{Workflow: "b-flow", DesiredVersion: "1.3.0", AppliedVersion: "1.1.0", LastAttempt: at.Add(time.Minute)}
	if err := s.SetStatus(ctx, b2); err != nil {
		t.Fatal(err)
	}
	got, err = s.Statuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]store.SyncStatus{utc(a), utc(b2)}, got); d != "" {
		t.Errorf("Statuses() after replace mismatch (-want +got):\n%s", d)
	}
	if !got[1].LastSuccess.IsZero() {
		t.Errorf("LastSuccess = %v after replacing with zero, want zero", got[1].LastSuccess)
	}
	if err := s.SetStatus(ctx, store.SyncStatus{}); err == nil {
		t.Error("SetStatus() without a workflow: no error")
	}
}

func testHistory(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	s := fresh(t, newDB)
	t0 := time.Date(2025, 10, 29, 12, 0, 0, 0, time.UTC)
	ev := func(id string, min int, workflow, action string) store.Event {
		return store.Event{ID: id, At: t0.Add(time.Duration(min) * time.Minute).In(mdt), Region: "us-east",
			Workflow: workflow, Tag: workflow + "/v1.0.0", Action: action, Commit: hexOf(id)[:40]}
	}
	refused := ev("e3", 2, "b", store.ActionRefused)
	refused.Check, refused.Reason = "signature", "tag b/v1.0.0 is signed by a key not in allowed signers"
	events := []store.Event{
		ev("e1", 0, "a", store.ActionApplied),
		ev("e2", 1, "b", store.ActionApplied),
		refused,
		ev("e4", 3, "a", store.ActionApplied),
		{ID: "e5", At: t0.Add(4 * time.Minute), Region: "us-east", Action: store.ActionError, Reason: "fetch: connection refused"},
		ev("e6", 4, "a", store.ActionRefused), // the same time as e5: the greater ID is newer
	}
	for _, e := range events {
		if err := s.Record(ctx, e); err != nil {
			t.Fatalf("Record(%s): %v", e.ID, err)
		}
	}
	ids := func(es []store.Event) []string {
		out := []string{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    store.HistoryFilter
		want []string
	}{
		{"everything, newest first", store.HistoryFilter{}, []string{"e6", "e5", "e4", "e3", "e2", "e1"}},
		{"one workflow", store.HistoryFilter{Workflow: "a"}, []string{"e6", "e4", "e1"}},
		{"one action", store.HistoryFilter{Action: store.ActionRefused}, []string{"e6", "e3"}},
		{"since, inclusive", store.HistoryFilter{Since: t0.Add(2 * time.Minute).In(mdt)}, []string{"e6", "e5", "e4", "e3"}},
		{"limit", store.HistoryFilter{Limit: 2}, []string{"e6", "e5"}},
		{"all filters", store.HistoryFilter{Workflow: "a", Action: store.ActionApplied, Since: t0.Add(time.Second), Limit: 5}, []string{"e4"}},
		{"no match", store.HistoryFilter{Workflow: "zzz"}, []string{}},
	}
	for _, tt := range tests {
		got, err := s.History(ctx, tt.f)
		if err != nil {
			t.Fatalf("%s: History(): %v", tt.name, err)
		}
		if got == nil {
			t.Errorf("%s: History() = nil, want a non-nil list", tt.name)
		}
		if d := cmp.Diff(tt.want, ids(got)); d != "" {
			t.Errorf("%s: History() mismatch (-want +got):\n%s", tt.name, d)
		}
	}
	got, err := s.History(ctx, store.HistoryFilter{Action: store.ActionRefused, Workflow: "b"})
	if err != nil {
		t.Fatal(err)
	}
	want := refused
	want.At = want.At.UTC()
	if d := cmp.Diff([]store.Event{want}, got); d != "" {
		t.Errorf("History() of a refusal mismatch (-want +got):\n%s", d)
	}
	if len(got) == 1 && got[0].At.Location() != time.UTC {
		t.Errorf("At = %v, want UTC", got[0].At)
	}
}

func testHistoryRecord(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	s := fresh(t, newDB)
	before := time.Now().Add(-time.Second)
	// An event without ID or time gets both; its ID is a time-ordered UUID.
	if err := s.Record(ctx, store.Event{Region: "us-west", Workflow: "a", Action: store.ActionApplied}); err != nil {
		t.Fatal(err)
	}
	got, err := s.History(ctx, store.HistoryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("History() = %d events, want 1", len(got))
	}
	if u, err := uuid.Parse(got[0].ID); err != nil || u.Version() != 7 {
		t.Errorf("filled-in ID %q: want a UUIDv7 (%v)", got[0].ID, err)
	}
	if got[0].At.Before(before) || got[0].At.After(time.Now().Add(time.Second)) {
		t.Errorf("filled-in At = %v, want about now", got[0].At)
	}
	// Recording the same ID again (a retry) keeps one entry.
	e := store.Event{ID: "retry-1", At: time.Now(), Action: store.ActionError, Reason: "first"}
	for range 2 {
		if err := s.Record(ctx, e); err != nil {
			t.Fatalf("Record(%s): %v", e.ID, err)
		}
	}
	if got, err := s.History(ctx, store.HistoryFilter{Action: store.ActionError}); err != nil || len(got) != 1 {
		t.Errorf("History() after recording one ID twice = %d events, %v; want 1", len(got), err)
	}
	if err := s.Record(ctx, store.Event{Region: "us-west"}); err == nil {
		t.Error("Record() without an action: no error")
	}

	// Without a limit, History returns the newest 100.
	t0 := time.Now().Add(-time.Hour)
	for i := range 120 {
		if err := s.Record(ctx, store.Event{At: t0.Add(time.Duration(i) * time.Second), Workflow: "many", Action: store.ActionApplied, Reason: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	many, err := s.History(ctx, store.HistoryFilter{Workflow: "many"})
	if err != nil {
		t.Fatal(err)
	}
	if len(many) != 100 || many[0].Reason != "119" || many[99].Reason != "20" {
		t.Errorf("History() without a limit: %d events from %q to %q; want 100, from 119 to 20", len(many), first(many).Reason, last(many).Reason)
	}
}

func testPruneHistory(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	s := fresh(t, newDB)
	cut := time.Date(2025, 10, 29, 12, 0, 0, 0, time.UTC)
	events := []store.Event{
		{ID: "old", At: cut.Add(-40 * 24 * time.Hour), Workflow: "a", Action: store.ActionApplied},
		{ID: "just-before", At: cut.Add(-time.Microsecond).In(mdt), Workflow: "b", Action: store.ActionRefused},
		{ID: "at", At: cut, Workflow: "a", Action: store.ActionError},
		{ID: "after", At: cut.Add(time.Microsecond), Workflow: "b", Action: store.ActionApplied},
		{ID: "new", At: cut.Add(24 * time.Hour).In(mdt), Workflow: "a", Action: store.ActionApplied},
	}
	for _, e := range events {
		if err := s.Record(ctx, e); err != nil {
			t.Fatalf("Record(%s): %v", e.ID, err)
		}
	}
	if n, err := s.PruneHistory(ctx, time.Time{}); err != nil || n != 0 {
		t.Errorf("PruneHistory(zero time) = %d, %v; want 0, nil", n, err)
	}
	// The cut in another zone is the same instant.
	n, err := s.PruneHistory(ctx, cut.In(mdt))
	if err != nil {
		t.Fatalf("PruneHistory(): %v", err)
	}
	if n != 2 {
		t.Errorf("PruneHistory() = %d, want 2 (the entries before the cut)", n)
	}
	if n, err := s.PruneHistory(ctx, cut); err != nil || n != 0 {
		t.Errorf("PruneHistory() again = %d, %v; want 0, nil", n, err)
	}
	got, err := s.History(ctx, store.HistoryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, e := range got {
		ids = append(ids, e.ID)
	}
	if d := cmp.Diff([]string{"new", "after", "at"}, ids); d != "" {
		t.Errorf("History() after PruneHistory() mismatch (-want +got):\n%s", d)
	}
}

func first(es []store.Event) store.Event {
	if len(es) == 0 {
		return store.Event{}
	}
	return es[0]
}

func last(es []store.Event) store.Event {
	if len(es) == 0 {
		return store.Event{}
	}
	return es[len(es)-1]
}

func testClaim(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	s := fresh(t, newDB)
	key := "github.com/acme/flows|nightly-etl|1.2.0"
	rec1 := []byte(`{"logIndex":7,"digest":"sha256:aa"}`)
	rec2 := []byte(`{"logIndex":9,"digest":"sha256:bb"}`)
	steps := []struct {
		name        string
		record      []byte
		wantFirst   []byte
		wantCreated bool
	}{
		{"first claim", rec1, rec1, true},
		{"second claim, another record", rec2, rec1, false},
		{"second claim, same record", rec1, rec1, false},
	}
	for _, st := range steps {
		first, created, err := s.Claim(ctx, key, st.record)
		if err != nil || created != st.wantCreated || !bytes.Equal(first, st.wantFirst) {
			t.Errorf("%s: Claim() = %q, %v, %v; want %q, %v, <nil>", st.name, first, created, err, st.wantFirst, st.wantCreated)
		}
	}
	if rec, ok, err := s.Lookup(ctx, key); err != nil || !ok || !bytes.Equal(rec, rec1) {
		t.Errorf("Lookup() = %q, %v, %v; want %q, true, <nil>", rec, ok, err, rec1)
	}
	// An empty record is a record.
	if first, created, err := s.Claim(ctx, "empty", nil); err != nil || !created || len(first) != 0 {
		t.Errorf("Claim(empty, nil) = %q, %v, %v; want \"\", true, <nil>", first, created, err)
	}
	if rec, ok, err := s.Lookup(ctx, "empty"); err != nil || !ok || len(rec) != 0 {
		t.Errorf("Lookup(empty) = %q, %v, %v; want \"\", true, <nil>", rec, ok, err)
	}
	if _, _, err := s.Claim(ctx, "", rec1); err == nil {
		t.Error("Claim() with an empty key: no error")
	}
	// Promotion keys separate their parts with NUL (promote.Record.Key); a key with a backslash and a 0 where
	// another has NUL is another key.
	keys := []string{"git:f7c75fbf146c\x00nightly-etl@1.0.0", `git:f7c75fbf146c\0nightly-etl@1.0.0`, `git:f7c75fbf146c\\0nightly-etl@1.0.0`}
	for i, k := range keys {
		rec := []byte(fmt.Sprintf("record %d", i))
		if first, created, err := s.Claim(ctx, k, rec); err != nil || !created || !bytes.Equal(first, rec) {
			t.Errorf("Claim(%q) = %q, %v, %v; want %q, true, <nil>", k, first, created, err, rec)
		}
	}
	for i, k := range keys {
		if rec, ok, err := s.Lookup(ctx, k); err != nil || !ok || string(rec) != fmt.Sprintf("record %d", i) {
			t.Errorf("Lookup(%q) = %q, %v, %v; want \"record %d\", true, <nil>", k, rec, ok, err, i)
		}
	}
}

// testClaimConcurrent: of concurrent claims from several Stores, exactly one is created and all see it.
func testClaimConcurrent(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	o := newDB(t)
	stores := []store.Store{open(t, o), open(t, o)}
	const n = 16
	for _, key := range []string{"race-1", "race-2"} {
		var wg sync.WaitGroup
		start := make(chan struct{})
		firsts := make([][]byte, n)
		created := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				<-start
				firsts[i], created[i], errs[i] = stores[i%2].Claim(ctx, key, []byte(fmt.Sprintf("claim %d", i)))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("%s: Claim() #%d: %v", key, i, errs[i])
			}
			if created[i] {
				if winner >= 0 {
					t.Errorf("%s: claims #%d and #%d were both created", key, winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("%s: no claim was created", key)
		}
		want := fmt.Sprintf("claim %d", winner)
		for i := range n {
			if string(firsts[i]) != want {
				t.Errorf("%s: Claim() #%d returned %q, want the winner's %q", key, i, firsts[i], want)
			}
		}
		if rec, ok, err := stores[1].Lookup(ctx, key); err != nil || !ok || string(rec) != want {
			t.Errorf("%s: Lookup() = %q, %v, %v; want %q", key, rec, ok, err, want)
		}
	}
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func waitClosed(c <-chan struct{}, d time.Duration) bool {
	select {
	case <-c:
		return true
	case <-time.After(d):
		return false
	}
}

func testLead(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	o := newDB(t)
	s1, s2 := open(t, o), open(t, o)

	lost1, release1, ok, err := s1.Lead(ctx, "us-east")
	if err != nil || !ok {
		t.Fatalf("s1.Lead(us-east) = %v, %v; want true, <nil>", ok, err)
	}
	defer release1()
	if _, _, ok, err := s1.Lead(ctx, "us-east"); err != nil || ok {
		t.Errorf("s1.Lead(us-east) again = %v, %v; want false, <nil>", ok, err)
	}
	if _, _, ok, err := s2.Lead(ctx, "us-east"); err != nil || ok {
		t.Errorf("s2.Lead(us-east) while s1 leads = %v, %v; want false, <nil>", ok, err)
	}
	lostW, releaseW, ok, err := s2.Lead(ctx, "us-west")
	if err != nil || !ok {
		t.Fatalf("s2.Lead(us-west) = %v, %v; want true, <nil>", ok, err)
	}
	defer releaseW()
	// Held leadership is not lost by itself (longer than a PostgreSQL leader check).
	time.Sleep(1500 * time.Millisecond)
	if closed(lost1) || closed(lostW) {
		t.Fatal("lost closed while the leadership is held")
	}

	release1()
	if !closed(lost1) {
		t.Error("lost still open after release returned")
	}
	release1() // twice is harmless
	lost2, release2, ok, err := s2.Lead(ctx, "us-east")
	if err != nil || !ok {
		t.Fatalf("s2.Lead(us-east) after s1 released = %v, %v; want true, <nil>", ok, err)
	}
	defer release2()
	if _, _, ok, err := s1.Lead(ctx, "us-east"); err != nil || ok {
		t.Errorf("s1.Lead(us-east) while s2 leads = %v, %v; want false, <nil>", ok, err)
	}
	if closed(lost2) || closed(lostW) {
		t.Error("a lost channel closed while held")
	}
	if _, _, _, err := s1.Lead(ctx, ""); err == nil {
		t.Error("Lead() with an empty name: no error")
	}
	// Names that are no file names are names all the same.
	_, releaseOdd, ok, err := s1.Lead(ctx, "region/../us east:1")
	if err != nil || !ok {
		t.Errorf("s1.Lead(odd name) = %v, %v; want true, <nil>", ok, err)
	} else {
		releaseOdd()
	}
}

// testLeadClose: closing a Store gives up its leaderships, closing their lost channels.
func testLeadClose(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	o := newDB(t)
	s1, s2 := open(t, o), open(t, o)
	lost, release, ok, err := s1.Lead(ctx, "us-east")
	if err != nil || !ok {
		t.Fatalf("s1.Lead() = %v, %v", ok, err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if !waitClosed(lost, 5*time.Second) {
		t.Fatal("lost still open after Close")
	}
	release() // after Close, harmless
	_, release2, ok, err := s2.Lead(ctx, "us-east")
	if err != nil || !ok {
		t.Fatalf("s2.Lead() after s1 closed = %v, %v; want true, <nil>", ok, err)
	}
	release2()
}

func testExportJobs(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	s := fresh(t, newDB)
	jobs, err := s.ExportJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if jobs == nil || len(jobs) != 0 {
		t.Errorf("ExportJobs() of an empty store = %#v, want an empty, non-nil list", jobs)
	}
	h := time.Date(2025, 10, 30, 14, 0, 0, 0, mdt)
	before := time.Now().Add(-time.Second)
	var made []store.ExportJob
	for _, i := range []int{2, 0, 1} {
		j, err := s.CreateExportJob(ctx, h.Add(time.Duration(i)*time.Hour), h.Add(time.Duration(i+1)*time.Hour))
		if err != nil {
			t.Fatalf("CreateExportJob(%d): %v", i, err)
		}
		if u, err := uuid.Parse(j.ID); err != nil || u.Version() != 7 {
			t.Errorf("job ID %q: want a UUIDv7 (%v)", j.ID, err)
		}
		if j.Status != "pending" || j.CreatedAt.Before(before) || j.CreatedAt.After(time.Now().Add(time.Second)) {
			t.Errorf("new job %+v: want pending, created about now", j)
		}
		if !j.WindowStart.Equal(h.Add(time.Duration(i)*time.Hour)) || j.WindowStart.Location() != time.UTC {
			t.Errorf("new job window start %v, want %v in UTC", j.WindowStart, h.Add(time.Duration(i)*time.Hour))
		}
		made = append(made, j)
	}
	want := []store.ExportJob{made[1], made[2], made[0]}
	jobs, err = s.ExportJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, jobs); d != "" {
		t.Errorf("ExportJobs() mismatch (-want +got):\n%s", d)
	}

	for _, st := range []string{"running", "failed", "pending", "running", "succeeded"} {
		if err := s.SetExportJobStatus(ctx, made[1].ID, st); err != nil {
			t.Errorf("SetExportJobStatus(%s): %v", st, err)
		}
	}
	if err := s.SetExportJobStatus(ctx, made[1].ID, "done"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetExportJobStatus(done) = %s, want an error that is not ErrNotFound", errString(err))
	}
	jobs, err = s.ExportJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want[0].Status = "succeeded"
	if d := cmp.Diff(want, jobs); d != "" {
		t.Errorf("ExportJobs() after status changes mismatch (-want +got):\n%s", d)
	}

	for _, w := range []struct {
		name       string
		start, end time.Time
	}{
		{"end before start", h, h.Add(-time.Hour)},
		{"empty window", h, h},
		{"no start", time.Time{}, h},
	} {
		if _, err := s.CreateExportJob(ctx, w.start, w.end); err == nil {
			t.Errorf("CreateExportJob(%s): no error", w.name)
		}
	}
}

func testReopen(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	o := newDB(t)
	s, err := o(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v := version("kept", "1.0.0")
	st := store.SyncStatus{Workflow: "kept", DesiredVersion: "1.0.0", AppliedVersion: "1.0.0", Synced: true,
		LastAttempt: time.Date(2025, 10, 31, 1, 2, 3, 4000, time.UTC)}
	e := store.Event{ID: "kept-event", At: time.Date(2025, 10, 31, 1, 2, 3, 0, time.UTC), Action: store.ActionApplied}
	if _, err := s.Apply(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStatus(ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(ctx, e); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Claim(ctx, "kept-key", []byte("kept-record")); err != nil {
		t.Fatal(err)
	}
	job, err := s.CreateExportJob(ctx, e.At, e.At.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close(): %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close() again: %v", err)
	}

	// Re-open: the migrations find themselves applied, and everything is there.
	for round := range 2 {
		s := open(t, o)
		got, err := s.Version(ctx, "kept", "1.0.0")
		if err != nil {
			t.Fatalf("round %d: Version(): %v", round, err)
		}
		if d := cmp.Diff(stored(v), got, ignoreApplied); d != "" {
			t.Errorf("round %d: Version() mismatch (-want +got):\n%s", round, d)
		}
		if applied, err := s.Apply(ctx, v); err != nil || applied {
			t.Errorf("round %d: Apply() of a stored version = %v, %v; want false, <nil>", round, applied, err)
		}
		if sts, err := s.Statuses(ctx); err != nil || len(sts) != 1 || !cmp.Equal(sts[0], st) {
			t.Errorf("round %d: Statuses() = %+v, %v; want [%+v]", round, sts, err, st)
		}
		if es, err := s.History(ctx, store.HistoryFilter{}); err != nil || len(es) != 1 || es[0].ID != e.ID {
			t.Errorf("round %d: History() = %+v, %v; want [%s]", round, es, err, e.ID)
		}
		if rec, ok, err := s.Lookup(ctx, "kept-key"); err != nil || !ok || string(rec) != "kept-record" {
			t.Errorf("round %d: Lookup() = %q, %v, %v", round, rec, ok, err)
		}
		if jobs, err := s.ExportJobs(ctx); err != nil || len(jobs) != 1 || !cmp.Equal(jobs[0], job) {
			t.Errorf("round %d: ExportJobs() = %+v, %v; want [%+v]", round, jobs, err, job)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// testOpenConcurrently: several processes opening a new database at once all migrate it safely.
func testOpenConcurrently(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	o := newDB(t)
	const n = 4
	stores := make([]store.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = o(ctx)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Open #%d: %v", i, errs[i])
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	for i, s := range stores {
		v := version("flow", fmt.Sprintf("1.%d.0", i))
		if _, err := s.Apply(ctx, v); err != nil {
			t.Errorf("store #%d: Apply(): %v", i, err)
		}
	}
	if vs, err := stores[0].Versions(ctx, "flow"); err != nil || len(vs) != n {
		t.Errorf("Versions() = %d versions, %v; want %d", len(vs), err, n)
	}
}

func testClosed(t *testing.T, newDB NewDB) {
	ctx := t.Context()
	s, err := newDB(t)(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping(): %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping() after Close: no error")
	}
	if _, err := s.Apply(ctx, version("a", "1.0.0")); err == nil {
		t.Error("Apply() after Close: no error")
	}
	if _, _, ok, err := s.Lead(ctx, "us-east"); err == nil || ok {
		t.Errorf("Lead() after Close = %v, %v; want false and an error", ok, err)
	}
}

func testCanceled(t *testing.T, newDB NewDB) {
	s := fresh(t, newDB)
	ctx := t.Context()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if applied, err := s.Apply(cctx, version("a", "1.0.0")); err == nil || applied {
		t.Errorf("Apply() with a canceled context = %v, %v; want false and an error", applied, err)
	}
	if _, err := s.Workflows(cctx); err == nil {
		t.Error("Workflows() with a canceled context: no error")
	}
	if _, _, ok, err := s.Lead(cctx, "us-east"); err == nil || ok {
		t.Errorf("Lead() with a canceled context = %v, %v; want false and an error", ok, err)
	}
	// The store still works.
	if _, err := s.Apply(ctx, version("a", "1.0.0")); err != nil {
		t.Errorf("Apply() after a canceled call: %v", err)
	}
}
