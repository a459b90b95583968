package client

import "github.com/actorhub/actorhub/internal/backoff"

// Backoff is a full-jitter exponential backoff: retry n (from 0) sleeps a
// uniformly random duration in [0, min(Max, Min·2^n)]. Full jitter spreads the
// reconnects of many clients that lost the same node. Min defaults to 100 ms,
// Max to 5 s.
type Backoff = backoff.Backoff

// DefaultBackoff is the backoff used when a Config leaves it zero.
var DefaultBackoff = backoff.Default
