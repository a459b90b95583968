// Package group owns goroutines and timers for a component that must stop all
// of them: Go and After refuse new work once Stop has begun, Stop cancels the
// timers that have not fired and returns once every goroutine and every timer
// callback in progress has returned.
//
// It imports the standard library only. A Group is safe for concurrent use.
package group

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Group owns goroutines and timers. The zero value is not usable; call New.
type Group struct {
	mu      sync.Mutex
	closed  bool
	running int                      // goroutines and timer callbacks in progress
	idle    chan struct{}            // closed when closed and running reaches 0
	timers  map[*time.Timer]struct{} // armed, not fired
}

// New returns an open group.
func New() *Group {
	return &Group{idle: make(chan struct{}), timers: map[*time.Timer]struct{}{}}
}

// Go runs fn on a new goroutine that Stop waits for. It reports false, and
// does not run fn, once Stop has begun.
func (g *Group) Go(fn func()) bool {
	if !g.enter() {
		return false
	}
	go func() {
		defer g.leave()
		fn()
	}()
	return true
}

// After runs fn on its own goroutine after d, unless Stop comes first. It
// reports false, and arms nothing, once Stop has begun.
func (g *Group) After(d time.Duration, fn func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	var t *time.Timer
	// the callback takes mu before it reads t: t is set by then
	t = time.AfterFunc(d, func() {
		g.mu.Lock()
		if _, armed := g.timers[t]; !armed || g.closed {
			g.mu.Unlock()
			return
		}
		delete(g.timers, t)
		g.running++
		g.mu.Unlock()
		defer g.leave()
		fn()
	})
	g.timers[t] = struct{}{}
	return true
}

// Pending returns how many goroutines and armed timers the group holds.
func (g *Group) Pending() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.running + len(g.timers)
}

// Stop refuses new work, cancels every armed timer and waits until every
// goroutine and callback in progress has returned, or ctx ends (then it
// returns an error naming how many are left). It is idempotent.
func (g *Group) Stop(ctx context.Context) error {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		for t := range g.timers {
			t.Stop()
		}
		clear(g.timers)
		if g.running == 0 {
			close(g.idle)
		}
	}
	g.mu.Unlock()
	select {
	case <-g.idle:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		n := g.running
		g.mu.Unlock()
		return fmt.Errorf("group: %d goroutines still running: %w", n, ctx.Err())
	}
}

func (g *Group) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.running++
	return true
}

func (g *Group) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.running--
	if g.closed && g.running == 0 {
		close(g.idle)
	}
}
