package chaos

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actorhub/actorhub/events"
)

// Invariant names, as reports and violations give them (DESIGN.md).
const (
	Inv1Seq      = "1 seq contiguous, no duplicate"
	Inv2Acked    = "2 acked events durable and delivered"
	Inv3Durable  = "3 nothing delivered before durable"
	Inv4OneOwner = "4 one writer at a time"
	Inv5Journal  = "5 journal equals emission, terminal last"
	Inv6NoCrash  = "6 no node crashes on its own"
)

// record is what the harness saw: what was emitted, what each client got,
// and the violations found so far. Safe for concurrent use.
type record struct {
	start     time.Time
	mu        sync.Mutex
	emitted   map[string]*strings.Builder
	clients   map[string]map[string]*seen // client → job → seen
	retired   map[string]bool             // jobs verified and dropped (dropJob)
	viol      map[string][]string         // examples, at most maxExamples per invariant
	violN     map[string]int              // how many violate counted, examples or not
	delivered []atomic.Int64              // per second since start
}

type seen struct {
	last     int64
	text     strings.Builder
	terminal bool
	lastAt   time.Time
	// the longest time between two events (or from the window's start to
	// the first) since the window of gapWindow began
	windowFrom time.Time
	windowGap  time.Duration
}

// newRecord prepares the record of a run's first jobs: slots[i].job, followed
// by slots[i].followers.
func newRecord(slots []*slot, clients, seconds int) *record {
	r := &record{start: time.Now(), emitted: map[string]*strings.Builder{}, clients: map[string]map[string]*seen{},
		retired: map[string]bool{}, viol: map[string][]string{}, violN: map[string]int{}, delivered: make([]atomic.Int64, seconds)}
	for c := range clients {
		r.clients[clientName(c)] = map[string]*seen{}
	}
	for _, s := range slots {
		names := make([]string, len(s.followers))
		for i, k := range s.followers {
			names[i] = clientName(k)
		}
		r.addJob(s.job, names)
	}
	return r
}

// addJob starts the record of a job that clients follow.
func (r *record) addJob(job string, clients []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.emitted[job] = &strings.Builder{}
	for _, c := range clients {
		r.clients[c][job] = &seen{}
	}
}

// dropJob forgets a verified job; events of it that still arrive are ignored.
func (r *record) dropJob(job string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.emitted, job)
	for _, jobs := range r.clients {
		delete(jobs, job)
	}
	r.retired[job] = true
}

// jobs returns the jobs in the record.
func (r *record) jobs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.emitted))
}

// terminalSeen reports whether every client that follows job saw its terminal
// event.
func (r *record) terminalSeen(job string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, jobs := range r.clients {
		if s := jobs[job]; s != nil && !s.terminal {
			return false
		}
	}
	return true
}

func clientName(c int) string { return fmt.Sprintf("client%d", c+1) }

// followedSlots returns the slots client k follows: every slot when follow is
// 0 (or not fewer than the slots), else follow of them, the clients spread
// evenly over the slots.
func followedSlots(k, slots, follow int) []int {
	out := make([]int, 0, min(slots, max(follow, 0)))
	if follow <= 0 || follow >= slots {
		follow = slots
		k = 0
	}
	for i := range follow {
		out = append(out, (k*follow+i)%slots)
	}
	return out
}

func (r *record) violate(inv, format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.violateLocked(inv, fmt.Sprintf(format, a...))
}

// violateLocked counts a violation and keeps its text while there are fewer
// than maxExamples (a soak of a broken build stays bounded); r.mu is held.
func (r *record) violateLocked(inv, text string) {
	if r.violN[inv]++; len(r.viol[inv]) < maxExamples {
		r.viol[inv] = append(r.viol[inv], text)
	}
}

// maxExamples bounds the examples kept of each invariant's violations.
const maxExamples = 1000

// handler checks and records what one client receives.
func (r *record) handler(client string) func(events.Event) {
	return func(ev events.Event) {
		now := time.Now()
		if sec := int(now.Sub(r.start) / time.Second); sec >= 0 && sec < len(r.delivered) {
			r.delivered[sec].Add(1)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		s := r.clients[client][ev.JobID]
		if s == nil && r.retired[ev.JobID] {
			return // on its way when its client unsubscribed, after its terminal event
		}
		if s == nil {
			r.violateLocked(Inv1Seq, fmt.Sprintf("%s got an event of job %s it did not subscribe to", client, ev.JobID))
			return
		}
		if ev.Seq != s.last+1 {
			r.violateLocked(Inv1Seq, fmt.Sprintf("%s, job %s: seq %d after %d", client, ev.JobID, ev.Seq, s.last))
		}
		if s.terminal {
			r.violateLocked(Inv5Journal, fmt.Sprintf("%s, job %s: seq %d (%s) after the terminal event", client, ev.JobID, ev.Seq, ev.Name))
		}
		if !s.windowFrom.IsZero() {
			s.windowGap = max(s.windowGap, now.Sub(later(s.lastAt, s.windowFrom)))
		}
		s.last, s.lastAt = ev.Seq, now
		if ev.Name == events.Chunk {
			var d events.ChunkData
			if json.Unmarshal(ev.Data, &d) == nil {
				s.text.WriteString(d.Chunk)
			}
		}
		if events.Terminal(ev.Name) {
			s.terminal = true
		}
	}
}

// emittedText records a chunk handed to the worker.
func (r *record) emit(job, chunk string) {
	r.mu.Lock()
	r.emitted[job].WriteString(chunk)
	r.mu.Unlock()
}

// resumedSince reports whether every client received an event of every job
// after t (streams moved again after a fault).
func (r *record) resumedSince(t time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, jobs := range r.clients {
		for _, s := range jobs {
			if !s.terminal && !s.lastAt.After(t) {
				return false
			}
		}
	}
	return true
}

// gapWindow starts a window at t: from now on each stream records the longest
// time it went without an event.
func (r *record) gapWindow(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, jobs := range r.clients {
		for _, s := range jobs {
			s.windowFrom, s.windowGap = t, 0
		}
	}
}

// windowGaps ends the window and returns, per stream that is not over, the
// longest time it went without an event since the window began (up to now).
func (r *record) windowGaps(now time.Time) []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var gaps []time.Duration
	for _, jobs := range r.clients {
		for _, s := range jobs {
			if !s.terminal && !s.windowFrom.IsZero() {
				gaps = append(gaps, max(s.windowGap, now.Sub(later(s.lastAt, s.windowFrom))))
			}
			s.windowFrom = time.Time{}
		}
	}
	return gaps
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// allTerminal reports whether every client saw every job's terminal event.
func (r *record) allTerminal() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, jobs := range r.clients {
		for _, s := range jobs {
			if !s.terminal {
				return false
			}
		}
	}
	return true
}
