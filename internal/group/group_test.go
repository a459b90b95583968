package group

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestStopCancelsTimersAndWaits(t *testing.T) {
	t.Parallel()
	g := New()
	var fired atomic.Int32
	g.After(time.Hour, func() { fired.Add(1) })
	release := make(chan struct{})
	var done atomic.Bool
	g.Go(func() { <-release; done.Store(true) })
	stopped := make(chan error, 1)
	go func() { stopped <- g.Stop(context.Background()) }()
	// Stop must wait for the goroutine
	select {
	case <-stopped:
		t.Fatal("Stop returned while a goroutine ran")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if !done.Load() {
		t.Fatal("Stop returned before the goroutine ended")
	}
	if fired.Load() != 0 {
		t.Fatal("a cancelled timer fired")
	}
	if g.Go(func() {}) || g.After(0, func() {}) {
		t.Fatal("work accepted after Stop")
	}
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal("second Stop:", err)
	}
}

func TestAfterFires(t *testing.T) {
	t.Parallel()
	g := New()
	ch := make(chan struct{})
	g.After(time.Millisecond, func() { close(ch) })
	<-ch
	for g.Pending() != 0 {
		time.Sleep(time.Millisecond)
	}
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStopBoundedByContext(t *testing.T) {
	t.Parallel()
	g := New()
	release := make(chan struct{})
	defer close(release)
	g.Go(func() { <-release })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Stop(ctx); err == nil {
		t.Fatal("Stop with an ended ctx and a running goroutine returned nil")
	}
}
