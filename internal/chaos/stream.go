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

	clientpkg "github.com/actorhub/actorhub/client"
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
	links     map[string]*link            // client → its connection, for the violations' diagnosis
	endLags   []int64                     // ms from an ended job's last ack until its last follower had it
	retired   map[string]bool             // jobs verified and dropped (dropJob)
	viol      map[string][]string         // examples, at most maxExamples per invariant
	violN     map[string]int              // how many violate counted, examples or not
	delivered []atomic.Int64              // per second since start
}

// link is what a client's OnStatus said last about its connection.
type link struct {
	node string    // the node it is connected to ("" while it is not)
	at   time.Time // since when
	err  string    // why it is not, if it said
}

type seen struct {
	// the last "subscribed" of the job: when, and the job's last seq then
	subscribedAt time.Time
	subLastSeq   int64
	// the last error a node sent about the job, and when
	errAt    time.Time
	errCode  string
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
		links: map[string]*link{}, retired: map[string]bool{}, viol: map[string][]string{}, violN: map[string]int{}, delivered: make([]atomic.Int64, seconds)}
	for c := range clients {
		r.clients[clientName(c)] = map[string]*seen{}
		r.links[clientName(c)] = &link{}
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

// onStatus records what a client's Subscriber says about its connection and
// subscriptions (SubscriberConfig.OnStatus).
func (r *record) onStatus(client string) func(kind string, info clientpkg.StatusInfo) {
	return func(kind string, info clientpkg.StatusInfo) {
		now := time.Now()
		r.mu.Lock()
		defer r.mu.Unlock()
		l := r.links[client]
		switch kind {
		case clientpkg.StatusConnected:
			l.node, l.at, l.err = info.NodeID, now, ""
		case clientpkg.StatusDisconnected, clientpkg.StatusReconnect:
			if l.node != "" || l.err == "" {
				l.at = now
			}
			l.node = ""
			if l.err = kind; info.Err != nil {
				l.err = info.Err.Error()
			} else if info.Message != "" {
				l.err += ": " + info.Message
			}
		case clientpkg.StatusSubscribed:
			if s := r.clients[client][info.JobID]; s != nil {
				s.subscribedAt, s.subLastSeq = now, info.LastSeq
			}
		case clientpkg.StatusError:
			if s := r.clients[client][info.JobID]; s != nil && info.JobID != "" {
				s.errAt, s.errCode = now, info.Code
			}
		}
	}
}

// endLag records how long after a job's end was acked its last follower
// received it.
func (r *record) endLag(d time.Duration) {
	r.mu.Lock()
	r.endLags = append(r.endLags, d.Milliseconds())
	r.mu.Unlock()
}

// describeFollowers describes, for each client that follows job and has not
// seen its end, where it stands.
func (r *record) describeFollowers(job string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for name, jobs := range r.clients {
		if s := jobs[job]; s != nil && !s.terminal {
			out = append(out, name+" "+r.describeLocked(name, job))
		}
	}
	return strings.Join(out, "; ")
}

// describeLocked tells, for a violation's text, where client stood with job:
// its connection, the job's last subscription and its last event. r.mu is held.
func (r *record) describeLocked(client, job string) string {
	at := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return fmt.Sprintf("at %.1f s", t.Sub(r.start).Seconds())
	}
	var b strings.Builder
	if l := r.links[client]; l != nil {
		if l.node != "" {
			fmt.Fprintf(&b, "connected to %s since %.1f s", l.node, l.at.Sub(r.start).Seconds())
		} else {
			fmt.Fprintf(&b, "not connected since %s (%s)", at(l.at), l.err)
		}
	}
	if s := r.clients[client][job]; s != nil {
		fmt.Fprintf(&b, "; subscribed %s (the job's last seq then %d); its last event seq %d %s", at(s.subscribedAt), s.subLastSeq, s.last, at(s.lastAt))
		if s.errCode != "" {
			fmt.Fprintf(&b, "; its last error %q %s", s.errCode, at(s.errAt))
		}
	}
	return b.String()
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
