// Package reconciler is the pull loop of one region: it fetches the workflow repository into a local bare mirror,
// discovers the promotion tags (<workflow>/v<semver>), verifies each new one with promote.Verify against the
// region's trust policy, and applies every verified version to the region store, one transaction per version. A
// tag that fails verification, moved on the remote, or contradicts a frozen version is refused: never applied,
// reported in the reconcile history, the sync status, the metrics and the log, while the region keeps serving what
// it had.
//
// A reconcile is an ordered list of small steps (fetch, discover, verify, apply, record). Run repeats it every
// Interval with jitter, at once when Trigger is called (a webhook), and with exponential backoff after fetch or
// store trouble; only the replica that holds the region's leader lock in the store reconciles.
package reconciler

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/promote"
	"github.com/maestro-conductor/maestro/runtime/store"
)

// Defaults for Options.
const (
	DefaultInterval   = 30 * time.Second
	DefaultJitter     = 0.1
	DefaultLeaderPoll = time.Second
)

// Log keys.
const (
	LogKeyRegion   = "region"
	LogKeyTag      = "tag"
	LogKeyWorkflow = "workflow"
	LogKeyCheck    = "check"
	LogKeyReason   = "reason"
	LogKeyError    = "error"
)

// Options configure a Reconciler.
type Options struct {
	// Region names the region; the leader lock is "reconciler/<Region>".
	Region string
	// Remote is the git remote: an https, ssh, git or file URL, or a path.
	Remote string
	// Auth authenticates to the remote; nil for none.
	Auth transport.AuthMethod
	// MirrorDir is this replica's local bare mirror of the remote: cloned on the first run, fetched incrementally
	// after. Each replica needs its own.
	MirrorDir string
	// Store is the region store the verified versions are applied to.
	Store store.Store
	// Policy is the trust policy: the promoters' keys and the transparency logs, from configuration. A nil
	// Policy.Index makes the Store the first-seen index of promotions.
	Policy promote.Policy
	// Interval is the time between reconciles; 0 means DefaultInterval.
	Interval time.Duration
	// Jitter spreads each interval by up to ± this fraction of it; 0 means DefaultJitter, negative means none.
	Jitter float64
	// Backoff spaces out retries after fetch or store trouble; the zero value is 750ms doubling up to 15m. Its
	// clock defaults to Now.
	Backoff Backoff
	// LeaderPoll is how often a replica that does not lead tries to take the lead; 0 means DefaultLeaderPoll.
	LeaderPoll time.Duration
	// Metrics may be nil.
	Metrics *Metrics
	// Logger receives diagnostics; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock for timestamps; nil means time.Now.
	Now func() time.Time
}

// Result says what one reconcile did with each promotion tag.
type Result struct {
	// Applied are the tags whose versions this reconcile applied to the store.
	Applied []string
	// Refused are the tags refused (see Refusals for why).
	Refused []string
	// Unchanged are the tags already applied with the same tag object.
	Unchanged []string
	// Refusals say why each refused tag was refused.
	Refusals []Refusal
	// Commit is the commit the mirror's HEAD names after the fetch, if any.
	Commit   string
	Duration time.Duration
}

// State is the reconciler's health, for readiness and status. It is this replica's view: a replica that does not
// lead does not reconcile, so its LastSuccess stays as it was when it last led (zero if never) and says nothing
// about the region's freshness, which the leader's State does.
type State struct {
	Region string
	// Leader reports whether this replica leads its region (Run only).
	Leader bool
	// LastAttempt is when the last reconcile started; LastSuccess when the last one that fetched the remote and
	// applied every verified version (refusals aside) started.
	LastAttempt, LastSuccess time.Time
	// LastError is the last reconcile's error: fetch or store trouble, or the tags it refused; "" when none.
	LastError string
	// LastFetchedCommit is the commit of the remote's default branch as last fetched.
	LastFetchedCommit string
	// Failures counts consecutive reconciles that failed with fetch or store trouble.
	Failures int
	// At is when this State was taken.
	At time.Time
}

// Stale reports whether the last successful reconcile is older than maxAge (or never happened): the region still
// serves what it applied, but may be behind the repository.
func (s State) Stale(maxAge time.Duration) bool {
	return s.LastSuccess.IsZero() || s.At.Sub(s.LastSuccess) > maxAge
}

// verifyCacheCommits is how many commits' parsed workflows a reconciler keeps while verifying tags.
const verifyCacheCommits = 64

// Reconciler syncs one region's store with the promotion tags of a git remote.
type Reconciler struct {
	opts     Options
	policy   promote.Policy
	log      *slog.Logger
	now      func() time.Time
	started  time.Time
	trigger  chan struct{}
	lockName string

	// passMu makes reconciles one at a time; it guards everything below it.
	passMu sync.Mutex
	mirror *gitrepo.Repo
	// applied caches the store's versions: tag name → tag object. The store never changes a version it holds, so
	// an entry never goes stale; a missing one is looked up.
	applied map[string]string
	// knownWorkflows are the workflows whose applied versions are in the applied cache.
	knownWorkflows map[string]bool
	// refusals remembers each tag refused and why, so that a refusal that persists is recorded and counted
	// once, and a tag refused for its content is not verified again until it or the notes change.
	refusals map[string]refusalMemo
	// lastErrorEvent is the last error recorded in the history, so that a lasting outage is recorded once.
	lastErrorEvent string
	backoff        Backoff

	mu    sync.Mutex
	state State
}

// refusalMemo is a refusal and what it was a verdict on.
type refusalMemo struct {
	key     string // tag object (local or remote) and notes commit
	refusal Refusal
}

// New checks the options and makes a Reconciler. Nothing is fetched until the first reconcile.
func New(opts Options) (*Reconciler, error) {
	switch {
	case opts.Region == "":
		return nil, errors.New("reconciler: a region name is required")
	case opts.Remote == "":
		return nil, errors.New("reconciler: a git remote is required")
	case opts.MirrorDir == "":
		return nil, errors.New("reconciler: a mirror directory is required")
	case opts.Store == nil:
		return nil, errors.New("reconciler: a store is required")
	case len(opts.Policy.Trusted) == 0:
		return nil, errors.New("reconciler: no trusted promoter keys: configure the promoters' public keys")
	case len(opts.Policy.Logs) == 0:
		return nil, errors.New("reconciler: no trusted transparency log: configure the log's key")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Jitter == 0 {
		opts.Jitter = DefaultJitter
	}
	opts.Jitter = min(max(opts.Jitter, 0), 1)
	if opts.LeaderPoll <= 0 {
		opts.LeaderPoll = DefaultLeaderPoll
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Backoff.Now == nil {
		opts.Backoff.Now = opts.Now
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	// A bare word is a remote name to go-git, and the mirror has no remotes: make a local path absolute.
	if !strings.Contains(opts.Remote, "://") {
		if st, err := os.Stat(opts.Remote); err == nil && st.IsDir() {
			if abs, err := filepath.Abs(opts.Remote); err == nil {
				opts.Remote = abs
			}
		}
	}
	policy := opts.Policy
	if policy.Index == nil {
		policy.Index = opts.Store
	}
	if policy.Cache == nil {
		// Tags of many workflows usually share commits: parse each commit's workflows once.
		policy.Cache = promote.NewCache(verifyCacheCommits)
	}
	r := &Reconciler{
		opts:           opts,
		policy:         policy,
		log:            logger.With(LogKeyRegion, opts.Region),
		now:            opts.Now,
		started:        opts.Now(),
		trigger:        make(chan struct{}, 1),
		lockName:       "reconciler/" + opts.Region,
		applied:        map[string]string{},
		knownWorkflows: map[string]bool{},
		refusals:       map[string]refusalMemo{},
		backoff:        opts.Backoff,
	}
	r.state.Region = opts.Region
	return r, nil
}

// Trigger asks Run for a reconcile now, e.g. on a webhook. It never blocks; triggers that arrive while one is
// pending are one trigger. A replica that does not lead ignores it (its leader reconciles on its own trigger or
// interval). A trigger is honoured during a backoff too: the remote that sent a webhook is reachable.
func (r *Reconciler) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// State returns the reconciler's current state.
func (r *Reconciler) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.state
	s.At = r.now()
	return s
}

func (r *Reconciler) setLeader(leader bool) {
	r.mu.Lock()
	changed := r.state.Leader != leader
	r.state.Leader = leader
	r.mu.Unlock()
	r.opts.Metrics.setLeader(r.opts.Region, leader)
	if changed && leader {
		r.log.Info("leading the region's reconciles")
	} else if changed {
		r.log.Info("no longer leading the region's reconciles")
	}
}

// Run reconciles until ctx is done, and then returns nil. Only the replica holding the region's leader lock in
// the store reconciles: the others try to take it every LeaderPoll, so one of them takes over within about that
// long after the leader stops or loses its store connection. The leader reconciles at once, then every Interval
// (± Jitter), at once after Trigger, and after Backoff following fetch or store trouble. A leader that loses the
// lock stops in the middle of a reconcile, before applying anything more.
func (r *Reconciler) Run(ctx context.Context) error {
	defer r.setLeader(false)
	var lastLeadErr string
	for {
		if ctx.Err() != nil {
			return nil
		}
		lost, release, ok, err := r.opts.Store.Lead(ctx, r.lockName)
		switch {
		case err != nil && ctx.Err() == nil:
			if msg := err.Error(); msg != lastLeadErr {
				r.log.Warn("cannot take the leader lock", LogKeyError, err)
				lastLeadErr = msg
			}
		case ok:
			lastLeadErr = ""
			r.lead(ctx, lost)
			release()
			r.setLeader(false)
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(r.opts.LeaderPoll):
		}
	}
}

// lead reconciles while this replica holds the lock: until ctx is done or lost closes.
func (r *Reconciler) lead(ctx context.Context, lost <-chan struct{}) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-lost:
			r.log.Warn("leader lock lost: stopping")
			cancel()
		case <-ctx.Done():
		}
	}()
	r.setLeader(true)
	// A trigger that arrived while following is served by the reconcile that starts now.
	select {
	case <-r.trigger:
	default:
	}
	for {
		_, err := r.reconcile(ctx, lost)
		if ctx.Err() != nil || errors.Is(err, errLostLead) {
			return
		}
		var wait time.Duration
		if Transient(err) {
			wait = r.backoff.Fail()
			r.log.Warn("reconcile failed; retrying after backoff", LogKeyError, err, "backoff", wait, "failures", r.backoff.Failures())
		} else {
			if err != nil && !isRefused(err) {
				r.log.Error("reconcile failed", LogKeyError, err)
			}
			r.backoff.Reset()
			wait = r.interval()
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-r.trigger:
			timer.Stop()
		case <-timer.C:
		}
	}
}

func isRefused(err error) bool {
	var re *RefusedError
	return errors.As(err, &re)
}

// interval is Interval spread by ±Jitter.
func (r *Reconciler) interval() time.Duration {
	d := float64(r.opts.Interval)
	if j := r.opts.Jitter; j > 0 {
		d *= 1 + j*(2*rand.Float64()-1)
	}
	return time.Duration(d)
}

// ReconcileOnce runs one reconcile, whether or not this replica leads (for tests and the CLI). Reconciles of one
// Reconciler run one at a time. The error is a *FetchError or *StoreError for trouble the next reconcile may not
// have (nothing was deleted; what could be applied was), a *RefusedError when everything worked but some tags
// were refused, or ctx's error.
func (r *Reconciler) ReconcileOnce(ctx context.Context) (Result, error) {
	return r.reconcile(ctx, nil)
}

// reconcile runs one reconcile; once lost is closed, it applies nothing more.
func (r *Reconciler) reconcile(ctx context.Context, lost <-chan struct{}) (Result, error) {
	r.passMu.Lock()
	defer r.passMu.Unlock()
	p := &pass{start: r.now(), lost: lost}
	err := r.run(ctx, p)
	p.result.Duration = r.now().Sub(p.start)
	r.finish(ctx, p, err)
	if err == nil && len(p.result.Refusals) > 0 {
		err = &RefusedError{Refusals: p.result.Refusals}
	}
	return p.result, err
}

// finish updates the state, the metrics and, on trouble, the history.
func (r *Reconciler) finish(ctx context.Context, p *pass, err error) {
	if errors.Is(err, errLostLead) || (err != nil && ctx.Err() != nil) {
		// Stopped, not failed: the next leader's reconcile tells how things are.
		return
	}
	result := "ok"
	switch {
	case err != nil:
		result = "error"
	case len(p.result.Refusals) > 0:
		result = "refused"
	}
	r.opts.Metrics.observePass(r.opts.Region, result, p.result.Duration)

	r.mu.Lock()
	r.state.LastAttempt = p.start
	if p.result.Commit != "" {
		r.state.LastFetchedCommit = p.result.Commit
	}
	switch {
	case err != nil:
		r.state.LastError = err.Error()
		if Transient(err) {
			r.state.Failures++
		}
	case len(p.result.Refusals) > 0:
		r.state.LastError = (&RefusedError{Refusals: p.result.Refusals}).Error()
	default:
		r.state.LastError = ""
	}
	if err == nil {
		r.state.LastSuccess = p.start
		r.state.Failures = 0
	}
	r.mu.Unlock()

	if err == nil {
		r.opts.Metrics.success(r.opts.Region, p.start, len(p.result.Refusals))
		r.lastErrorEvent = ""
		return
	}
	if !Transient(err) || ctx.Err() != nil {
		return
	}
	// A lasting outage is one history entry, not one per retry.
	if msg := err.Error(); msg != r.lastErrorEvent {
		e := store.Event{At: r.now(), Region: r.opts.Region, Action: store.ActionError, Reason: msg}
		if rerr := r.opts.Store.Record(ctx, e); rerr == nil {
			r.lastErrorEvent = msg
		}
	}
}

// pass is the working state of one reconcile.
type pass struct {
	start time.Time
	// lost closes when the leader lock is lost: nothing more may be applied.
	lost <-chan struct{}
	// moved maps each tag that moved on the remote to the remote's new tag object ("" when unknown).
	moved map[string]string
	// notes is the commit of the notes ref after the fetch (zero when absent).
	notes string
	tags  []gitrepo.PromotionTag
	// verified are the tags verified in this pass, ready to apply, in tag order.
	verified []verifiedTag
	// verdicts holds, per tag name, whether the tag counts as verified (applied before, or verified now).
	verdicts map[string]bool
	// newRefusals are the refusals not seen before, for the history.
	newRefusals []refusalMemo
	// applied are the versions applied in this pass, for the history.
	applied []store.Version
	// trouble is the first transient error verifying a tag; the other tags are applied all the same.
	trouble error
	result  Result
}

// step is one named part of a reconcile.
type step struct {
	name string
	run  func(context.Context, *pass) error
}

// run runs the steps in order, stopping at the first error; record runs whatever happened, so that what was
// applied before a failure is still in the history and the status.
func (r *Reconciler) run(ctx context.Context, p *pass) error {
	steps := []step{
		{"fetch", r.fetch},
		{"discover", r.discover},
		{"verify", r.verify},
		{"apply", r.apply},
	}
	var err error
	for _, s := range steps {
		if err = ctx.Err(); err != nil {
			break
		}
		if err = s.run(ctx, p); err != nil {
			break
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rerr := r.record(ctx, p, err == nil)
	if err != nil {
		return err
	}
	return rerr
}
