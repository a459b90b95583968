package actors

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// sharedTurn lets another goroutine of this node run some of an actor's
// turns: a job, in its own turn, hands its feed the events it made durable
// (JobFeed.tryEvents), and a worker connection's reader hands the connection
// its requests (WorkerConnActor.tryRequest). That saves each a mailbox post,
// a turn, and the wait for that turn behind the others queued
// (docs/BENCHMARKS.md C20). mu is held for every turn, whichever goroutine
// runs it, so the actor's state stays its turn's. What cannot run so (the
// actor is in a turn of its own, or has stopped) is posted as a message
// instead, counted in the backlog until the actor takes it; while one waits,
// nothing else is run directly, which would overtake it.
type sharedTurn struct {
	mu      sync.Mutex
	backlog atomic.Int32 // messages posted and not taken yet
	dead    bool         // the actor stopped: messages go to its mailbox (and dead letters)
}

// posted is a message sent through sharedTurn.post.
type posted struct{ msg any }

// begin starts the actor's own turn for msg, which it returns unwrapped;
// end ends it.
func (s *sharedTurn) begin(msg any) any {
	s.mu.Lock()
	if p, ok := msg.(*posted); ok {
		s.backlog.Add(-1)
		return p.msg
	}
	return msg
}

func (s *sharedTurn) end() { s.mu.Unlock() }

// enter starts a turn on the caller's goroutine, and reports whether it
// did; the caller then calls end.
func (s *sharedTurn) enter() bool {
	if s.backlog.Load() != 0 || !s.mu.TryLock() {
		return false
	}
	if s.dead || s.backlog.Load() != 0 {
		s.mu.Unlock()
		return false
	}
	return true
}

// post sends msg to the actor's mailbox, for a turn of its own.
func (s *sharedTurn) post(ctx actor.SenderContext, pid *actor.PID, msg any) {
	s.backlog.Add(1)
	ctx.Send(pid, &posted{msg})
}
