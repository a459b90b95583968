package transport

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// session is one WebSocket's outbound side: a bounded queue of JSON objects
// written by a writer goroutine that exists only while there is something to
// write (an idle connection costs no goroutine but its reader), as many objects
// to a frame as fit. It implements actors.Sink.
type session struct {
	conn       *websocket.Conn
	done       <-chan struct{} // closed when the connection's read loop ends
	maxQueue   int
	frameLimit int
	onSlow     func()
	client     bool // a client (/ws) rather than a worker: gets reconnect on drain
	slot       int  // the pinger's slot, set by Server.track

	mu      sync.Mutex
	queue   [][]byte
	spare   [][]byte
	writing bool // a writer goroutine runs
	ended   bool // wait was called: no writer starts any more
	closing bool // write what is queued, then close
	code    websocket.StatusCode
	reason  string
	writers sync.WaitGroup

	// writeSince is when the frame being written began (unix ns), 0 between
	// frames: the server's pinger closes a connection whose write has been
	// stuck longer than WriteTimeout (one sweep instead of a timer per frame).
	writeSince atomic.Int64
	// stuck is set when the pinger dropped the connection for a stuck write.
	stuck atomic.Bool
}

func newSession(done <-chan struct{}, conn *websocket.Conn, cfg *Config, client bool, onSlow func()) *session {
	return &session{conn: conn, done: done, maxQueue: cfg.OutboundQueue, frameLimit: cfg.FrameLimit,
		onSlow: onSlow, client: client}
}

// Send implements actors.Sink.
func (s *session) Send(obj []byte) bool {
	s.mu.Lock()
	if !s.roomLocked(1) {
		return false
	}
	s.queue = append(s.queue, obj)
	s.startWriterLocked()
	s.mu.Unlock()
	return true
}

// SendAll implements actors.Sink.
func (s *session) SendAll(objs [][]byte) bool {
	s.mu.Lock()
	if !s.roomLocked(len(objs)) {
		return false
	}
	s.queue = append(s.queue, objs...)
	s.startWriterLocked()
	s.mu.Unlock()
	return true
}

// roomLocked reports whether n more objects fit; when they do not, it closes
// the connection as a slow consumer and unlocks s.mu (as it does when the
// session is closing already).
func (s *session) roomLocked(n int) bool {
	if s.closing {
		s.mu.Unlock()
		return false
	}
	if len(s.queue)+n > s.maxQueue {
		s.queue = nil // a client that cannot keep up resumes later from its last seq
		s.closing, s.code = true, websocket.StatusPolicyViolation
		s.reason = "slow consumer: outbound queue full; reconnect and resubscribe from your last seq"
		s.startWriterLocked()
		s.mu.Unlock()
		if s.onSlow != nil {
			s.onSlow()
		}
		return false
	}
	return true
}

// Backlog implements actors.Sink.
func (s *session) Backlog() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Close implements actors.Sink: what is queued is written first.
func (s *session) Close(code int, reason string) {
	s.mu.Lock()
	if !s.closing {
		s.closing, s.code, s.reason = true, websocket.StatusCode(code), reason
	}
	s.startWriterLocked()
	s.mu.Unlock()
}

// startWriterLocked starts the writer unless it runs (caller holds mu).
func (s *session) startWriterLocked() {
	if s.writing || s.ended || s.over() {
		return
	}
	s.writing = true
	s.writers.Add(1)
	go s.write()
}

// over reports whether the connection's read loop has ended.
func (s *session) over() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// write writes queued objects until the queue is empty, then exits (closing the
// connection first if Close or an overflow asked for it).
func (s *session) write() {
	defer s.writers.Done()
	var fp *[]byte // a pooled frame buffer, taken when objects are joined
	defer func() {
		if fp != nil && cap(*fp) <= 64<<10 {
			framePool.Put(fp)
		}
	}()
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue, s.spare = s.spare[:0], nil
		closing, code, reason := s.closing, s.code, s.reason
		if len(batch) == 0 {
			s.writing = false
			s.spare = batch
			s.mu.Unlock()
			if closing {
				s.closeWith(code, reason)
			}
			return
		}
		s.mu.Unlock()
		for rest := batch; len(rest) > 0; {
			// an object that goes alone is its frame as it is: no copy (one
			// event per burst is the common case at one job per user)
			out, n := rest[0], 1
			if len(rest) > 1 && len(rest[0])+1+len(rest[1]) <= s.frameLimit {
				if fp == nil {
					fp = framePool.Get().(*[]byte)
				}
				*fp, n = s.pack((*fp)[:0], rest)
				out = *fp
			}
			if err := s.writeFrame(out); err != nil {
				s.conn.CloseNow()
				s.mu.Lock()
				s.writing, s.closing, s.queue = false, true, nil
				s.mu.Unlock()
				return
			}
			rest = rest[n:]
		}
		clear(batch)
		s.mu.Lock()
		if s.spare == nil && cap(batch) <= 4*s.maxQueue {
			s.spare = batch[:0]
		}
		s.mu.Unlock()
	}
}

// pack joins objects with '\n' into one frame of at most frameLimit bytes (at
// least one object) and says how many it took.
func (s *session) pack(frame []byte, objs [][]byte) ([]byte, int) {
	n := 0
	for n < len(objs) {
		if n > 0 && len(frame)+1+len(objs[n]) > s.frameLimit {
			break
		}
		if n > 0 {
			frame = append(frame, '\n')
		}
		frame = append(frame, objs[n]...)
		n++
	}
	return frame, n
}

// writeFrame writes one frame. Its context has no deadline: coder/websocket
// arms a context.AfterFunc per write for a context that can end, which cost
// ~9 % of a node's CPU at 20k frames/s; dropIfStuck bounds the write instead.
// A write blocks only while the peer's TCP window is full; closing the
// connection (the handler's end, the pinger) unblocks it.
func (s *session) writeFrame(frame []byte) error {
	s.writeSince.Store(time.Now().UnixNano())
	err := s.conn.Write(context.Background(), websocket.MessageText, frame)
	s.writeSince.Store(0)
	return err
}

// dropIfStuck closes the connection when a frame has been in writing since
// before now-wait: a peer that takes nothing is a slow consumer too, counted
// once (like the 1008 of a full queue), though it gets no close frame.
func (s *session) dropIfStuck(now time.Time, wait time.Duration) {
	since := s.writeSince.Load()
	if since == 0 || now.UnixNano()-since <= int64(wait) || !s.stuck.CompareAndSwap(false, true) {
		return
	}
	s.conn.CloseNow()
	if s.onSlow != nil {
		s.onSlow()
	}
}

func (s *session) closeWith(code websocket.StatusCode, reason string) {
	if len(reason) > 120 {
		reason = reason[:120]
	}
	_ = s.conn.Close(code, reason)
}

// wait waits for the writer, if one runs, after which none starts: under mu,
// so that every writers.Add happens before this Wait or not at all.
func (s *session) wait() {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.writers.Wait()
}
