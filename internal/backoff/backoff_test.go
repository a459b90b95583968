package backoff

import (
	"context"
	"testing"
	"time"
)

func TestBound(t *testing.T) {
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
		{Backoff{}, 0, Default.Min},
		{Backoff{}, 100, Default.Max},
		{Backoff{Min: time.Second, Max: ms}, 3, time.Second}, // Max below Min: Min wins
	} {
		if got := tc.b.Bound(tc.attempt); got != tc.want {
			t.Errorf("%+v.Bound(%d) = %v, want %v", tc.b, tc.attempt, got, tc.want)
		}
	}
}

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	def := Backoff{Min: time.Second, Max: time.Minute}
	for _, tc := range []struct {
		in, want Backoff
	}{
		{Backoff{}, def},
		{Backoff{Min: -1, Max: -1}, def},
		{Backoff{Min: 2 * time.Second}, Backoff{Min: 2 * time.Second, Max: time.Minute}},
		{Backoff{Max: 10 * time.Second}, Backoff{Min: time.Second, Max: 10 * time.Second}},
		{Backoff{Min: 2 * time.Minute}, Backoff{Min: 2 * time.Minute, Max: 2 * time.Minute}}, // Max raised to Min
	} {
		if got := tc.in.WithDefaults(def); got != tc.want {
			t.Errorf("%+v.WithDefaults(%+v) = %+v, want %+v", tc.in, def, got, tc.want)
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

func TestSleep(t *testing.T) {
	t.Parallel()
	if !Sleep(context.Background(), time.Millisecond) {
		t.Error("Sleep(live ctx, 1ms) = false, want true")
	}
	if !Sleep(context.Background(), 0) {
		t.Error("Sleep(live ctx, 0) = false, want true")
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ended, 0) {
		t.Error("Sleep(ended ctx, 0) = true, want false")
	}
	start := time.Now()
	if Sleep(ended, time.Hour) {
		t.Error("Sleep(ended ctx, 1h) = true, want false")
	}
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("Sleep(ended ctx, 1h) waited %v; it must return when ctx ends", waited)
	}
}
