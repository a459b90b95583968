package actors

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// pool is the dispatcher of the hub's actors: a fixed set of goroutines runs
// the mailbox turns. protoactor's default starts a goroutine for every turn
// of every mailbox; at one event per job that is a goroutine (and, on a deep
// call, a stack growth) per message — ~5 % of a node's CPU in a profile of
// 2,000 one-event jobs. The pool's goroutines keep their grown stacks.
//
// A turn must not block: no actor of this package waits inside Receive
// (store I/O completes by callback or on the hub's own goroutines, sinks never
// block). protoactor's own actors (remote endpoints) keep its default
// dispatcher. Schedule never blocks: the queue holds each mailbox at most
// once, as a mailbox is scheduled only when it goes from idle to running.
//
// One worker at a time is being woken (waking), as Go's scheduler wakes one
// spinning thread at a time: a Schedule while a woken worker has not yet
// taken from the queue wakes no other, and the woken worker, when it takes a
// turn and leaves others queued, wakes the next. A worker woken for every
// Schedule mostly found the queue emptied by the worker already running
// (75 % of the pool's wakeups at one job per user on one P, docs/BENCHMARKS.md
// C19). Whenever turns are queued and a worker is idle, one is being woken, so
// a turn queued behind one that blocks still runs.
type pool struct {
	throughput int
	mu         sync.Mutex
	ready      sync.Cond
	queue      []func()
	head       int
	idle       int  // workers waiting on ready
	waking     bool // a worker was signalled and has not yet looked at the queue
	closed     bool
	wg         sync.WaitGroup
}

var _ actor.Dispatcher = (*pool)(nil)

// newPool starts n workers.
func newPool(n, throughput int) *pool {
	p := &pool{throughput: throughput}
	p.ready.L = &p.mu
	p.wg.Add(n)
	for range n {
		go p.work()
	}
	return p
}

// Schedule implements actor.Dispatcher. After stop it runs fn on a goroutine
// of its own, as protoactor's default does, so that nothing sent late is lost.
func (p *pool) Schedule(fn func()) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		go fn()
		return
	}
	p.queue = append(p.queue, fn)
	p.wakeLocked()
}

// wakeLocked signals an idle worker unless one is being woken already, and
// unlocks p.mu.
func (p *pool) wakeLocked() {
	wake := p.idle > 0 && !p.waking
	if wake {
		p.waking = true
	}
	p.mu.Unlock()
	if wake {
		p.ready.Signal()
	}
}

// Throughput implements actor.Dispatcher: messages per turn before a mailbox
// yields.
func (p *pool) Throughput() int { return p.throughput }

func (p *pool) work() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		for p.head == len(p.queue) && !p.closed {
			p.idle++
			p.ready.Wait()
			p.idle--
			p.waking = false // this is the worker Schedule woke (or stop's broadcast)
		}
		if p.head == len(p.queue) {
			p.mu.Unlock()
			return
		}
		fn := p.queue[p.head]
		p.queue[p.head] = nil
		p.head++
		switch {
		case p.head == len(p.queue): // drained: reuse the slice from its start
			p.queue, p.head = p.queue[:0], 0
		case p.head > 1024 && 2*p.head > len(p.queue): // never drained (a busy node): move the rest to the front
			n := copy(p.queue, p.queue[p.head:])
			clear(p.queue[n:])
			p.queue, p.head = p.queue[:n], 0
		}
		if p.head < len(p.queue) {
			p.wakeLocked() // turns are left: the next worker, should this turn be long
		} else {
			p.mu.Unlock()
		}
		fn()
	}
}

// stop lets the workers finish what is queued and waits for them.
func (p *pool) stop() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ready.Broadcast()
	p.wg.Wait()
}
