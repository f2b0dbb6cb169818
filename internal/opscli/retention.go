package opscli

import (
	"context"
	"log/slog"
	"time"

	"github.com/maestro-conductor/maestro/reconciler"
	"github.com/maestro-conductor/maestro/runtime/store"
)

// Defaults of historyPruner.
const (
	// defaultPruneDelay leaves a new leader's first reconcile the store to itself before the first prune, which
	// may delete a lot after a long time without one.
	defaultPruneDelay = time.Minute
	defaultPruneEvery = time.Hour
)

// Log keys of the history pruner.
const (
	logKeyDeleted   = "deleted"
	logKeyBefore    = "before"
	logKeyRetention = "retention"
)

// historyPruner enforces the retention of the reconcile history (config history.retention): while this replica
// leads the region, it deletes the entries older than Retention, once Delay after taking the lead and then every
// Every. Replicas that follow do not prune, so a region prunes once an hour however many replicas it runs.
type historyPruner struct {
	Store store.Store
	// Retention is how long an entry is kept; 0 (or less) keeps every entry, and Run returns at once.
	Retention time.Duration
	// Leading reports whether this replica leads the region: the reconciler's State().Leader.
	Leading func() bool
	// Delay is the time from taking the lead to the first prune; 0 means defaultPruneDelay, negative none.
	Delay time.Duration
	// Every is the time between prunes while leading; 0 means defaultPruneEvery.
	Every time.Duration
	// Poll is how often Leading is asked; 0 means reconciler.DefaultLeaderPoll. A replica that has just lost the
	// lead may prune once more within Poll, which is harmless: pruning is idempotent.
	Poll time.Duration
	// Now is the clock the retention is counted back from; nil means time.Now.
	Now func() time.Time
	// Logger receives what was pruned and prune failures; nil means slog.Default().
	Logger *slog.Logger
}

// Run prunes while this replica leads, until ctx is done; then it returns nil. A failed prune is logged and tried
// again an Every later: the history keeps growing meanwhile, but the region keeps serving.
func (p *historyPruner) Run(ctx context.Context) error {
	log := p.Logger
	if log == nil {
		log = slog.Default()
	}
	if p.Retention <= 0 {
		log.Info("keeping the reconcile history forever", logKeyRetention, "0")
		return nil
	}
	delay, every, poll := p.Delay, p.Every, p.Poll
	if delay == 0 {
		delay = defaultPruneDelay
	}
	if every <= 0 {
		every = defaultPruneEvery
	}
	if poll <= 0 {
		poll = reconciler.DefaultLeaderPoll
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	var next time.Time // when to prune next; zero while not leading
	for {
		if !p.Leading() {
			next = time.Time{}
		} else {
			if next.IsZero() {
				next = time.Now().Add(max(delay, 0))
			}
			if !time.Now().Before(next) {
				p.prune(ctx, log)
				next = time.Now().Add(every)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// prune deletes the entries older than the retention once, and logs how many.
func (p *historyPruner) prune(ctx context.Context, log *slog.Logger) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	before := now().Add(-p.Retention)
	n, err := p.Store.PruneHistory(ctx, before)
	switch {
	case err != nil && ctx.Err() != nil:
		// Shutting down: the next leader prunes.
	case err != nil:
		log.Error("cannot prune the reconcile history; trying again later", reconciler.LogKeyError, err,
			logKeyRetention, p.Retention.String())
	default:
		log.Info("pruned the reconcile history", logKeyDeleted, n, logKeyBefore, before.UTC().Format(time.RFC3339),
			logKeyRetention, p.Retention.String())
	}
}
