package client

import (
	"fmt"
	"time"
)

// pendingEvent is an emitted event that is not acked yet.
type pendingEvent struct {
	offset   int64
	line     []byte    // what goes on the wire: an emit object (ws) or an events[] entry (http)
	queuedAt time.Time // when Emit queued it (OnAck's sentAt)
	sentAt   time.Time // when it was last written (ack timeout)
}

// jobLog is the offset bookkeeping of one job on one Worker: which offsets are
// assigned, written and acked. Invariants: acked ≤ sent ≤ next, and pend holds
// the offsets acked … next-1 in order. It is not safe for concurrent use.
type jobLog struct {
	next    int64          // the next offset Emit assigns
	acked   int64          // every offset below it is durable
	sent    int64          // offsets below it were written on the current connection (or are in flight)
	pend    []pendingEvent // offsets acked … next-1
	gapFrom int64          // the nextOffset of the last offset_gap that rewound sent; -1 none
	stale   int            // refusals below acked since the last ack that moved acked
	late    int            // refusals from older epochs since the last ack that moved acked
	epoch   uint64         // the newest incarnation of the job that answered (0: none said)
}

// seeEpoch records the epoch of the incarnation that answered (0: not said).
func (l *jobLog) seeEpoch(epoch uint64) { l.epoch = max(l.epoch, epoch) }

// isLate reports whether a refusal from epoch is taken for a late answer: it
// comes from an older incarnation than one that answered before, and fewer
// than maxLateAnswers such came since the last ack that moved acked.
func (l *jobLog) isLate(epoch uint64) bool {
	return epoch != 0 && epoch < l.epoch && l.late < maxLateAnswers
}

func newJobLog() jobLog { return jobLog{gapFrom: -1} }

// add queues the event of the next offset and returns that offset.
func (l *jobLog) add(line []byte, now time.Time) int64 {
	off := l.next
	l.pend = append(l.pend, pendingEvent{offset: off, line: line, queuedAt: now})
	l.next++
	return off
}

// ack records that every offset below next is durable, calls fn (if not nil)
// for each pending event that this releases, and returns how many it released.
// A next beyond what this log assigned means another writer emitted those
// offsets: the log skips past them, so that new events get offsets the job
// does not have yet.
func (l *jobLog) ack(next int64, fn func(p *pendingEvent)) int {
	if next <= l.acked {
		return 0
	}
	k := 0
	for k < len(l.pend) && l.pend[k].offset < next {
		if fn != nil {
			fn(&l.pend[k])
		}
		l.pend[k] = pendingEvent{}
		k++
	}
	l.pend = l.pend[k:]
	if len(l.pend) == 0 {
		l.pend = nil // let the backing array go
	}
	l.acked = next
	l.next = max(l.next, next)
	l.sent = max(l.sent, next)
	l.stale, l.late = 0, 0
	return k
}

// maxStaleGaps is how many refusals below acked in a row are taken for late
// answers before the gap counts as real. Late answers come in bursts: every
// emit of a job still on its way when the job's path changed (its node learned
// that the job lives elsewhere and sent the next emits straight there, or a
// resend overtook them) may be refused after an ack that took the shorter way
// arrived, up to a window of emits in a row (a three-node rolling restart saw
// bursts of 9). A node that really lost acked events refuses every resend
// alike and acks nothing new, so a generous bound still ends such a stream
// after a round or two of resends.
const maxStaleGaps = 256

// maxLateAnswers bounds the refusals from older epochs taken for late answers
// with no ack moving in between (a node answers at most MaxInflight emits of
// a connection at a time): past it they count as stale again, so that a job
// made anew under the same id, whose epochs start over, still ends the stream.
const maxLateAnswers = 1024

// gap handles an offset_gap refusal: the node expects next. It acks what is
// below next and rewinds sent to next, unless an earlier refusal with the same
// next did already (several emits of one batch are refused alike).
//
// A refusal whose next is below what was acked is usually late: it answered an
// emit that overtook a resend, and an ack that went another way (another
// connection, another node) arrived first. It is ignored, and what is unacked
// is sent again (offsets make that safe). Only when such refusals keep coming
// (maxStaleGaps in a row, no ack moving in between) is ok false: the node has
// lost events this log no longer holds, and the gap cannot be filled.
//
// A refusal from an older incarnation of the job than one that answered
// before (its epoch is lower) is late for sure: the job moved while it was on
// its way. What is unacked goes again, and it does not count as stale.
func (l *jobLog) gap(next int64, epoch uint64) (resend, ok bool) {
	if l.isLate(epoch) {
		l.late++
		l.sent = l.acked
		return len(l.pend) > 0, true
	}
	l.seeEpoch(epoch)
	if next < l.acked {
		l.stale++
		if l.stale >= maxStaleGaps {
			return false, false
		}
		l.sent = l.acked
		return len(l.pend) > 0, true
	}
	l.ack(next, nil)
	if next == l.gapFrom {
		return false, true
	}
	l.gapFrom = next
	l.sent = l.acked
	return len(l.pend) > 0, true
}

// rewind makes every unacked event unsent again (a new connection, a retry)
// and returns how many had been sent.
func (l *jobLog) rewind() int {
	n := int(l.sent - l.acked)
	l.sent = l.acked
	l.gapFrom = -1
	return n
}

// unsent returns the events not written yet, in offset order.
func (l *jobLog) unsent() []pendingEvent { return l.pend[l.sent-l.acked:] }

// markSent records that the first n unsent events were written at now.
func (l *jobLog) markSent(n int, now time.Time) {
	u := l.unsent()
	for i := 0; i < n; i++ {
		u[i].sentAt = now
	}
	l.sent += int64(n)
}

// oldestInflight returns when the oldest written, unacked event was written.
func (l *jobLog) oldestInflight() (time.Time, bool) {
	if l.sent == l.acked {
		return time.Time{}, false
	}
	return l.pend[0].sentAt, true
}

// resume makes the log continue at next, which another process reached.
func (l *jobLog) resume(next int64) error {
	if next < 0 {
		return fmt.Errorf("resume at offset %d: offsets are ≥ 0", next)
	}
	if len(l.pend) > 0 {
		return fmt.Errorf("resume at offset %d: %d emitted events are not acked yet", next, len(l.pend))
	}
	l.next, l.acked, l.sent = next, next, next
	return nil
}
