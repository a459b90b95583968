package client

import (
	"testing"
	"time"
)

func TestBackoffBound(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	b := Backoff{Min: 100 * ms, Max: 5 * time.Second}
	for _, tc := range []struct {
		b       Backoff
		attempt int
		want    time.Duration
	}{
		{b, -1, 100 * ms},
		{b, 0, 100 * ms},
		{b, 1, 200 * ms},
		{b, 5, 3200 * ms},
		{b, 6, 5 * time.Second},
		{b, 63, 5 * time.Second},
		{b, 1 << 30, 5 * time.Second}, // no overflow, no long loop
		{Backoff{}, 0, DefaultBackoff.Min},
		{Backoff{}, 100, DefaultBackoff.Max},
		{Backoff{Min: time.Second, Max: ms}, 3, time.Second}, // Max below Min: Min wins
	} {
		if got := tc.b.Bound(tc.attempt); got != tc.want {
			t.Errorf("%+v.Bound(%d) = %v, want %v", tc.b, tc.attempt, got, tc.want)
		}
	}
}

func TestJitterFull(t *testing.T) {
	t.Parallel()
	bound := 300 * time.Millisecond
	lowest := func(n int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }
	if got := jitter(bound, lowest); got != 0 {
		t.Errorf("lowest draw = %v, want 0", got)
	}
	if got := jitter(bound, highest); got != bound {
		t.Errorf("highest draw = %v, want %v (the bound is included)", got, bound)
	}
	if got := jitter(0, highest); got != 0 {
		t.Errorf("zero bound = %v, want 0", got)
	}
	b := Backoff{Min: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	for attempt := 0; attempt < 6; attempt++ {
		seen := map[time.Duration]bool{}
		for i := 0; i < 200; i++ {
			d := b.Delay(attempt)
			if d < 0 || d > b.Bound(attempt) {
				t.Fatalf("Delay(%d) = %v, outside [0, %v]", attempt, d, b.Bound(attempt))
			}
			seen[d] = true
		}
		if len(seen) < 50 {
			t.Errorf("Delay(%d): only %d distinct values in 200 draws; not jittered", attempt, len(seen))
		}
	}
}
