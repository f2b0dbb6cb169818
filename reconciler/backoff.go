package reconciler

import "time"

// Backoff defaults, as Flux's: the first retry after 750ms, doubling up to 15 minutes.
const (
	DefaultBackoffInitial = 750 * time.Millisecond
	DefaultBackoffMax     = 15 * time.Minute
	DefaultBackoffFactor  = 2.0
)

// Backoff spaces out retries after failed reconciles: Initial after the first failure, Factor times longer after
// each further one, never more than Max, and back to nothing after a success. The zero value uses the defaults.
// A Backoff is used by one goroutine at a time.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	Factor  float64
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	failures int
	until    time.Time
}

func (b *Backoff) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Fail records a failed attempt and returns how long to wait before the next one.
func (b *Backoff) Fail() time.Duration {
	initial, maxDelay, factor := b.Initial, b.Max, b.Factor
	if initial <= 0 {
		initial = DefaultBackoffInitial
	}
	if maxDelay <= 0 {
		maxDelay = DefaultBackoffMax
	}
	if factor < 1 {
		factor = DefaultBackoffFactor
	}
	d := float64(initial)
	for i := 0; i < b.failures && d < float64(maxDelay); i++ {
		d *= factor
	}
	delay := time.Duration(min(d, float64(maxDelay)))
	b.failures++
	b.until = b.now().Add(delay)
	return delay
}

// Reset forgets the failures: the next attempt is due now, and the next failure waits Initial again.
func (b *Backoff) Reset() {
	b.failures = 0
	b.until = time.Time{}
}

// Failures returns the number of failures since the last Reset.
func (b *Backoff) Failures() int { return b.failures }

// Remaining returns how long until the next attempt is due: zero when not backing off or when the delay passed.
func (b *Backoff) Remaining() time.Duration {
	if b.until.IsZero() {
		return 0
	}
	return max(b.until.Sub(b.now()), 0)
}
