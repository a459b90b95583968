package client

import (
	"testing"
	"time"
)

// The backoff itself is tested in internal/backoff; this pins what the SDK
// promises its callers: the defaults, and that a zero Config gets them.
func TestBackoffDefaults(t *testing.T) {
	t.Parallel()
	want := Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	if DefaultBackoff != want {
		t.Errorf("DefaultBackoff = %+v, want %+v", DefaultBackoff, want)
	}
	if got := (Backoff{}).Bound(0); got != want.Min {
		t.Errorf("Backoff{}.Bound(0) = %v, want %v", got, want.Min)
	}
	if got := NewSubscriber(SubscriberConfig{}).cfg.Backoff; got != want {
		t.Errorf("NewSubscriber(zero config) backoff = %+v, want %+v", got, want)
	}
}

// TestNextURL: after URL i the Subscriber dials another one, each of the
// others about as often (the clients of a node that went away spread).
func TestNextURL(t *testing.T) {
	if got := nextURL(0, 1); got != 0 {
		t.Fatalf("one URL: next of 0 is %d", got)
	}
	if got := nextURL(1, 2); got != 0 {
		t.Fatalf("two URLs: next of 1 is %d", got)
	}
	count := make([]int, 4)
	for range 4000 {
		j := nextURL(2, 4)
		if j == 2 || j < 0 || j >= 4 {
			t.Fatalf("four URLs: next of 2 is %d", j)
		}
		count[j]++
	}
	for j, c := range count {
		if j != 2 && (c < 1000 || c > 1700) { // each about 1333
			t.Fatalf("four URLs: the others chosen %v times; want each about a third", count)
		}
	}
}
