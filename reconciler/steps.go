package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/promote"
	"github.com/maestro-conductor/maestro/runtime/store"
	"github.com/maestro-conductor/maestro/workflow"
)

// movedRefPrefix is where the fetch step keeps the remote's copy of a tag that moved there, beside the mirror's
// own, so that the refusal can name it. Refs under it are not tags: discovery never sees them.
const movedRefPrefix = "refs/maestro/moved/"

// errLostLead stops a reconcile whose replica lost the leader lock.
var errLostLead = errors.New("leader lock lost")

// fetchRefSpecs fetch the branches (forced: a rewritten branch is no reason to stop), and the tags and notes as
// promotion verification needs them: a tag the mirror has is never replaced, so a tag that moved on the remote
// stays as it was here and is refused.
func fetchRefSpecs() []string {
	return append([]string{"+refs/heads/*:refs/heads/*"}, gitrepo.PromotionRefSpecs()...)
}

// fetch brings the mirror up to date with the remote, cloning it on the first run, and notes the tags that moved.
func (r *Reconciler) fetch(ctx context.Context, p *pass) error {
	p.moved = map[string]string{}
	if r.mirror == nil {
		m, cloned, err := r.openMirror(ctx)
		if err != nil {
			return err
		}
		r.mirror = m
		if cloned {
			return r.afterFetch(p)
		}
	}
	err := r.mirror.Fetch(ctx, r.opts.Remote, fetchRefSpecs(), r.opts.Auth)
	var rej *gitrepo.RejectedError
	switch {
	case err == nil:
	case errors.As(err, &rej):
		for _, ref := range rej.Refs {
			if name := plumbing.ReferenceName(ref.Ref); name.IsTag() {
				p.moved[name.Short()] = ""
				continue
			}
			// Notes only ever grow, and branches are fetched forced: keep the old one, the tags are what count.
			r.log.Warn("ref not updated from the remote", "ref", ref.Ref, LogKeyReason, ref.Reason)
		}
		r.fetchMoved(ctx, p)
	default:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &FetchError{Remote: r.opts.Remote, Err: err}
	}
	return r.afterFetch(p)
}

// openMirror opens the mirror, or clones the remote into MirrorDir when there is none yet.
func (r *Reconciler) openMirror(ctx context.Context) (m *gitrepo.Repo, cloned bool, err error) {
	dir := r.opts.MirrorDir
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		if _, err := gitrepo.Clone(ctx, dir, r.opts.Remote, fetchRefSpecs(), r.opts.Auth); err != nil {
			if ctx.Err() != nil {
				return nil, false, ctx.Err()
			}
			return nil, false, &FetchError{Remote: r.opts.Remote, Err: err}
		}
		r.log.Info("cloned the remote into the mirror", "mirror", dir)
		cloned = true
	}
	// The mirror is this replica's alone: opened for exclusive access, it reads objects several times faster.
	m, err = gitrepo.OpenMirror(dir)
	if err != nil {
		return nil, false, &FetchError{Remote: r.opts.Remote, Err: fmt.Errorf("open the mirror of %s: %w", r.opts.Remote, err)}
	}
	return m, cloned, nil
}

// fetchMoved fetches the remote's copies of moved tags beside the mirror's, to name them in the refusal. It is
// best effort: a refusal without the remote's tag object is still a refusal.
func (r *Reconciler) fetchMoved(ctx context.Context, p *pass) {
	specs := make([]string, 0, len(p.moved))
	for name := range p.moved {
		specs = append(specs, "+refs/tags/"+name+":"+movedRefPrefix+name)
	}
	slices.Sort(specs)
	if err := r.mirror.Fetch(ctx, r.opts.Remote, specs, r.opts.Auth); err != nil {
		r.log.Debug("cannot fetch the moved tags", LogKeyError, err)
	}
	for name := range p.moved {
		if ref, err := r.mirror.Git().Reference(plumbing.ReferenceName(movedRefPrefix+name), false); err == nil {
			p.moved[name] = ref.Hash().String()
		}
	}
}

// afterFetch notes the fetched commit and the notes ref.
func (r *Reconciler) afterFetch(p *pass) error {
	if h, err := r.mirror.Resolve("HEAD"); err == nil {
		p.result.Commit = h.String()
	}
	if ref, err := r.mirror.Git().Reference(plumbing.ReferenceName(promote.NotesRef), true); err == nil {
		p.notes = ref.Hash().String()
	}
	return nil
}

// discover lists the promotion tags in the mirror.
func (r *Reconciler) discover(ctx context.Context, p *pass) error {
	tags, err := r.mirror.PromotionTags(ctx, "")
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &FetchError{Remote: r.opts.Remote, Err: fmt.Errorf("list the mirror's tags: %w", err)}
	}
	p.tags = tags
	return nil
}

// verifiedTag is a tag that passed verification, with the version to apply.
type verifiedTag struct {
	tag     gitrepo.PromotionTag
	version store.Version
	// publishedAt is the promotion's time, for publish → apply latency.
	record promote.Record
}

// outcome is what verifying one tag gave.
type outcome struct {
	verified *verifiedTag
	refusal  *Refusal
	err      error
}

// verify runs promote.Verify on every tag not yet applied with the same tag object, in parallel. Refused tags
// are never applied; trouble with one tag (the first-seen index unreachable) fails the reconcile after the others
// were applied.
func (r *Reconciler) verify(ctx context.Context, p *pass) error {
	p.verdicts = make(map[string]bool, len(p.tags))
	if err := r.loadApplied(ctx, p.tags); err != nil {
		return err
	}
	var queue []gitrepo.PromotionTag
	for _, t := range p.tags {
		obj := t.Hash.String()
		if remote, ok := p.moved[t.Name]; ok {
			r.refuse(p, t, r.movedRefusal(t, remote), "moved "+remote)
			continue
		}
		if r.applied[t.Name] == obj {
			p.result.Unchanged = append(p.result.Unchanged, t.Name)
			p.verdicts[t.Name] = true
			delete(r.refusals, t.Name)
			continue
		}
		// A refusal stands while neither the tag nor the notes changed: trust and the first-seen index only
		// ever add to what refuses a tag.
		if m, ok := r.refusals[t.Name]; ok && m.key == obj+" "+p.notes {
			r.refuse(p, t, m.refusal, m.key)
			continue
		}
		queue = append(queue, t)
	}
	if len(queue) == 0 {
		return nil
	}

	outs := make([]outcome, len(queue))
	models := newModelCache(4)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(queue)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(queue) || ctx.Err() != nil {
					return
				}
				outs[i] = r.verifyOne(ctx, queue[i], models)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	var troubles []error
	for i, o := range outs {
		t := queue[i]
		switch {
		case o.refusal != nil:
			r.refuse(p, t, *o.refusal, t.Hash.String()+" "+p.notes)
		case o.err != nil:
			troubles = append(troubles, o.err)
		default:
			p.verified = append(p.verified, *o.verified)
			p.verdicts[t.Name] = true
			delete(r.refusals, t.Name)
		}
	}
	if len(troubles) > 0 {
		p.trouble = troubles[0]
	}
	return nil
}

// verifyOne verifies one tag and, when it passes, makes the version to apply from the workflow at its commit.
func (r *Reconciler) verifyOne(ctx context.Context, t gitrepo.PromotionTag, models *modelCache) outcome {
	v, err := promote.Verify(ctx, r.mirror, t.Name, r.policy)
	var verr *promote.VerificationError
	switch {
	case errors.As(err, &verr):
		return outcome{refusal: &Refusal{Tag: t.Name, Workflow: t.Workflow, Version: t.Version, TagObject: t.Hash.String(),
			Check: verr.Check, Reason: verr.Reason}}
	case err != nil && strings.HasPrefix(err.Error(), "first-seen index"):
		return outcome{err: &StoreError{Op: "first-seen index for " + t.Name, Err: err}}
	case err != nil:
		return outcome{err: &FetchError{Remote: r.opts.Remote, Err: fmt.Errorf("verify %s in the mirror: %w", t.Name, err)}}
	}
	set, err := models.get(ctx, r.mirror, v.Record.Commit, r.policy.Dir, r.policy.Limits)
	var w *workflow.Workflow
	if err == nil {
		if w = set.Get(t.Workflow); w == nil {
			err = fmt.Errorf("no workflow %q", t.Workflow)
		}
	}
	var def []byte
	if err == nil {
		def, err = json.Marshal(w)
	}
	if err != nil {
		// Verify read the same workflow a moment ago: the mirror is in trouble.
		return outcome{err: &FetchError{Remote: r.opts.Remote, Err: fmt.Errorf("read %s at %s in the mirror: %w", t.Workflow, v.Record.Commit, err)}}
	}
	rec := v.Record
	return outcome{verified: &verifiedTag{tag: t, record: rec, version: store.Version{
		Name:       rec.Workflow,
		Version:    rec.Version,
		Digest:     string(rec.Digest),
		Commit:     rec.Commit,
		Tag:        t.Name,
		TagObject:  v.TagObject,
		Frozen:     rec.Frozen,
		Tenant:     w.Tenant,
		Definition: def,
		Signer:     rec.KeyID,
		Promoter:   rec.Promoter,
		LogIndex:   v.LogIndex,
		PromotedAt: rec.Time,
	}}}
}

// loadApplied fills the applied cache for the workflows of tags it does not know yet.
func (r *Reconciler) loadApplied(ctx context.Context, tags []gitrepo.PromotionTag) error {
	var names []string
	for _, t := range tags {
		if _, ok := r.applied[t.Name]; !ok && !slices.Contains(names, t.Workflow) {
			names = append(names, t.Workflow)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sums, err := r.opts.Store.Workflows(ctx)
	if err != nil {
		return storeErr(ctx, "list workflows", err)
	}
	for _, s := range sums {
		if !slices.Contains(names, s.Name) {
			continue
		}
		vs, err := r.opts.Store.Versions(ctx, s.Name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return storeErr(ctx, "list versions of "+s.Name, err)
		}
		for _, v := range vs {
			r.applied[v.Tag] = v.TagObject
		}
	}
	return nil
}

// movedRefusal is the refusal of a tag that moved on the remote.
func (r *Reconciler) movedRefusal(t gitrepo.PromotionTag, remote string) Refusal {
	local := t.Hash.String()
	now := "another tag object"
	if remote != "" {
		now = "tag object " + short(remote)
	}
	kept := "keeps it as it was"
	if r.applied[t.Name] == local {
		kept = "keeps serving the version it applied"
	}
	return Refusal{Tag: t.Name, Workflow: t.Workflow, Version: t.Version, TagObject: remote, Check: promote.CheckFreeze,
		Reason: fmt.Sprintf("the tag moved on the remote: it was tag object %s, the remote now has %s; a promotion tag never moves, "+
			"so the region %s (restore the tag on the remote, or promote a new version)", short(local), now, kept)}
}

// refuse notes a refusal in the pass; key is what it was a verdict on, to tell a new refusal from a lasting one.
func (r *Reconciler) refuse(p *pass, t gitrepo.PromotionTag, ref Refusal, key string) {
	p.verdicts[t.Name] = false
	p.result.Refused = append(p.result.Refused, t.Name)
	p.result.Refusals = append(p.result.Refusals, ref)
	if m, ok := r.refusals[t.Name]; ok && m.key == key {
		return
	}
	p.newRefusals = append(p.newRefusals, refusalMemo{key: key, refusal: ref})
	r.opts.Metrics.refusedTag(r.opts.Region)
	r.log.Warn("promotion tag refused", LogKeyTag, ref.Tag, LogKeyWorkflow, ref.Workflow, LogKeyCheck, ref.Check, LogKeyReason, ref.Reason)
}

// apply stores each verified version, one transaction each, oldest first within a workflow. A version the store
// holds with another digest or tag object is refused: a frozen version never changes.
func (r *Reconciler) apply(ctx context.Context, p *pass) error {
	for _, vt := range p.verified {
		// Leadership lost: stop before the next write. (Run also cancels ctx, a moment later.)
		select {
		case <-p.lost:
			return errLostLead
		default:
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		v := vt.version
		v.AppliedAt = r.now()
		ok, err := r.opts.Store.Apply(ctx, v)
		switch {
		case errors.Is(err, store.ErrConflict):
			r.refuse(p, vt.tag, Refusal{Tag: v.Tag, Workflow: v.Name, Version: vt.tag.Version, TagObject: v.TagObject, Check: promote.CheckFreeze,
				Reason: fmt.Sprintf("the region store holds %s v%s with another digest or tag object: a frozen version never changes, the store keeps its first (%v)", v.Name, v.Version, err)},
				v.TagObject+" "+p.notes)
			continue
		case err != nil:
			return storeErr(ctx, "apply "+v.Tag, err)
		}
		r.applied[v.Tag] = v.TagObject
		if !ok {
			p.result.Unchanged = append(p.result.Unchanged, v.Tag)
			continue
		}
		p.result.Applied = append(p.result.Applied, v.Tag)
		p.applied = append(p.applied, v)
		latency := v.AppliedAt.Sub(vt.record.Time)
		// Promotions made before this process started measure downtime or a cold start, not the pipeline.
		r.opts.Metrics.appliedVersion(r.opts.Region, latency, !vt.record.Time.Before(r.started.Truncate(1e9)))
		r.log.Info("applied", LogKeyTag, v.Tag, LogKeyWorkflow, v.Name, "digest", v.Digest, "commit", short(v.Commit))
	}
	if p.trouble != nil {
		return p.trouble
	}
	return nil
}

// record appends what the reconcile applied and refused to the history and, when the reconcile got through,
// brings each workflow's sync status up to date. A status is written only when it changed, so its LastAttempt
// is when the reconciler last changed it; the region's freshness is State().
func (r *Reconciler) record(ctx context.Context, p *pass, complete bool) error {
	var errs []error
	for _, v := range p.applied {
		e := store.Event{At: v.AppliedAt, Region: r.opts.Region, Workflow: v.Name, Tag: v.Tag, Action: store.ActionApplied,
			Commit: v.Commit, Reason: "verified " + v.Digest}
		if err := r.opts.Store.Record(ctx, e); err != nil {
			errs = append(errs, storeErr(ctx, "record "+v.Tag+" applied", err))
		}
	}
	for _, m := range p.newRefusals {
		ref := m.refusal
		e := store.Event{At: r.now(), Region: r.opts.Region, Workflow: ref.Workflow, Tag: ref.Tag, Action: store.ActionRefused,
			Check: ref.Check, Reason: ref.Reason}
		if err := r.opts.Store.Record(ctx, e); err != nil {
			errs = append(errs, storeErr(ctx, "record "+ref.Tag+" refused", err))
			continue
		}
		// Remembered only once in the history, so that a failed write is tried again.
		r.refusals[ref.Tag] = m
	}
	if len(errs) > 0 {
		return errs[0]
	}
	if !complete {
		return nil
	}
	return r.recordStatus(ctx, p)
}

// recordStatus writes the sync status of every workflow whose status changed.
func (r *Reconciler) recordStatus(ctx context.Context, p *pass) error {
	sums, err := r.opts.Store.Workflows(ctx)
	if err != nil {
		return storeErr(ctx, "list workflows", err)
	}
	current, err := r.opts.Store.Statuses(ctx)
	if err != nil {
		return storeErr(ctx, "list sync statuses", err)
	}
	want := map[string]*store.SyncStatus{}
	var names []string
	status := func(name string) *store.SyncStatus {
		s, ok := want[name]
		if !ok {
			s = &store.SyncStatus{Workflow: name}
			want[name] = s
			names = append(names, name)
		}
		return s
	}
	for _, t := range p.tags { // ascending by version within a workflow: the last verified is the desired one
		s := status(t.Workflow)
		if p.verdicts[t.Name] {
			s.DesiredVersion = strings.TrimPrefix(t.Version, "v")
		}
	}
	for _, ref := range p.result.Refusals {
		s := status(ref.Workflow)
		if s.LastError != "" {
			s.LastError += "; "
		}
		s.LastError += ref.String()
	}
	for _, sum := range sums {
		status(sum.Name).AppliedVersion = sum.Latest
	}
	old := make(map[string]store.SyncStatus, len(current))
	for _, s := range current {
		old[s.Workflow] = s
	}
	slices.Sort(names)
	for _, name := range names {
		s := want[name]
		s.Synced = s.DesiredVersion != "" && s.DesiredVersion == s.AppliedVersion && s.LastError == ""
		prev, had := old[name]
		if had && prev.DesiredVersion == s.DesiredVersion && prev.AppliedVersion == s.AppliedVersion &&
			prev.Synced == s.Synced && prev.LastError == s.LastError {
			continue
		}
		s.LastAttempt = p.start
		s.LastSuccess = prev.LastSuccess
		if s.Synced {
			s.LastSuccess = p.start
		}
		if err := r.opts.Store.SetStatus(ctx, *s); err != nil {
			return storeErr(ctx, "set the status of "+name, err)
		}
	}
	return nil
}

// storeErr wraps store trouble, or returns ctx's error when that is what it was.
func storeErr(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &StoreError{Op: op, Err: err}
}

// modelCache keeps the workflows of the last few commits verified, so that versions promoted from one commit
// are parsed once.
type modelCache struct {
	mu    sync.Mutex
	max   int
	sets  map[string]*modelEntry
	order []string
}

type modelEntry struct {
	once sync.Once
	set  *workflow.Set
	err  error
}

func newModelCache(n int) *modelCache { return &modelCache{max: n, sets: map[string]*modelEntry{}} }

func (c *modelCache) get(ctx context.Context, repo *gitrepo.Repo, commit, dir string, lim workflow.Limits) (*workflow.Set, error) {
	c.mu.Lock()
	e, ok := c.sets[commit]
	if !ok {
		e = &modelEntry{}
		c.sets[commit] = e
		c.order = append(c.order, commit)
		if len(c.order) > c.max {
			delete(c.sets, c.order[0])
			c.order = c.order[1:]
		}
	}
	c.mu.Unlock()
	e.once.Do(func() {
		if dir == "" {
			dir = workflow.DefaultDir
		}
		fsys, err := repo.FS(ctx, commit)
		if err != nil {
			e.err = err
			return
		}
		e.set, e.err = workflow.Load(fsys, dir, lim)
	})
	return e.set, e.err
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
