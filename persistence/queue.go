package persistence

import (
	"context"
	"fmt"
	"sync"

	"github.com/actorhub/actorhub/events"
)

// The group-commit queues of both stores: callers hand appends to a writer
// goroutine through a bounded channel, and the writer takes whatever queued
// while its last commit ran.

// sendQueued hands v to the writer's queue ch; closed is called with mu held
// shared, so it must not lock mu itself. mu is held shared while
// sending, so that Close, which closes ch under mu held exclusively, never
// races a send; closing, closed by Close before it takes mu, wakes a sender
// that waits. With wait it waits while ch is full (until ctx ends); without,
// a full queue refuses at once with events.ErrStoreUnavailable.
func sendQueued[T any](ctx context.Context, mu *sync.RWMutex, closed func() bool, closing <-chan struct{},
	ch chan<- T, v T, wait bool) error {
	mu.RLock()
	defer mu.RUnlock()
	if closed() {
		return ErrClosed
	}
	if !wait {
		select {
		case ch <- v:
			return nil
		default:
			return fmt.Errorf("%w: %d appends wait for a writer", events.ErrStoreUnavailable, cap(ch))
		}
	}
	select {
	case ch <- v:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-closing:
		return ErrClosed
	}
}

// drain appends to batch what waits in ch, without waiting, up to limit items
// in all: a group commit takes whatever queued while the last one ran.
func drain[T any](ch <-chan T, batch []T, limit int) []T {
	for len(batch) < limit {
		select {
		case v, ok := <-ch:
			if !ok {
				return batch
			}
			batch = append(batch, v)
		default:
			return batch
		}
	}
	return batch
}
