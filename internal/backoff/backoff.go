package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is a full-jitter exponential backoff: retry n (from 0) sleeps a
// uniformly random duration in [0, min(Max, Min·2^n)]. Full jitter spreads the
// retries of many clients that lost the same node.
type Backoff struct {
	// Min is the bound of the first retry's delay. Default 100 ms.
	Min time.Duration
	// Max caps the bound of every delay. Default 5 s.
	Max time.Duration
}

// Default is what Bound and Delay use for a zero Min or Max.
var Default = Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}

// WithDefaults fills a zero or negative Min or Max from def and raises Max to
// Min when it is below it.
func (b Backoff) WithDefaults(def Backoff) Backoff {
	if b.Min <= 0 {
		b.Min = def.Min
	}
	if b.Max <= 0 {
		b.Max = def.Max
	}
	if b.Max < b.Min {
		b.Max = b.Min
	}
	return b
}

// Bound returns min(Max, Min·2^attempt), without overflowing for any attempt.
func (b Backoff) Bound(attempt int) time.Duration {
	b = b.WithDefaults(Default)
	if attempt < 0 {
		attempt = 0
	}
	d := b.Min
	for i := 0; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Delay returns a random delay in [0, Bound(attempt)].
func (b Backoff) Delay(attempt int) time.Duration {
	return jitter(b.Bound(attempt), rand.Int64N)
}

// jitter returns a value in [0, bound] drawn with randN (rand.Int64N's contract).
func jitter(bound time.Duration, randN func(int64) int64) time.Duration {
	if bound <= 0 {
		return 0
	}
	return time.Duration(randN(int64(bound) + 1))
}

// Sleep waits d; it reports false when ctx ended first (or had already ended).
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
