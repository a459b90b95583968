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
