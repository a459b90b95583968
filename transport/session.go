package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actorhub/actorhub/internal/rawio"
	"github.com/coder/websocket"
)

// session is one WebSocket's outbound side: a bounded queue of JSON objects
// written by a writer goroutine that exists only while there is something to
// write (an idle connection costs no goroutine), as many objects to a frame as
// fit. SendNow skips the queue and the goroutine when neither is in use. It
// implements actors.Sink.
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

	// gate is held by the reader while it looks at the read buffer outside
	// coder/websocket (connReader.readSome) and by closeWith, whose close
	// handshake reads that buffer under coder/websocket's own read lock.
	gate sync.Mutex

	pingMu  sync.Mutex
	pinging *pingCtx // the ping waiting for its pong, nil if none

	// The server's pings of a session whose reader takes pongs off the wire
	// (ownPings, set before the session is tracked) are frames of its own
	// writer, as its data frames are: sendPing writes one from the pinger's
	// goroutine when no writer runs, and sets pingDue, under mu, for the
	// writer to write before its next frame when one does. pingSent is when
	// the ping still unanswered was asked for (monoNow), 0 once a pong came;
	// the pinger drops a session whose ping is older than PingTimeout
	// (dropIfNoPong). A ping costs no goroutine, timer or context.
	ownPings bool
	pingDue  bool
	pingSent atomic.Int64

	// tcp and fw, when set, are the connection's socket and the frameWriter
	// coder/websocket writes through: the writer writes its data frames to
	// the socket itself (writeFrame), with the header in hdr.
	tcp *rawio.Conn
	fw  *frameWriter
	hdr [10]byte
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

// SendNow implements actors.Sink: when nothing is queued or being written,
// obj goes to the socket from the caller's goroutine, as much of it as the
// socket takes at once, and a writer goroutine starts only for the rest (or
// for what was queued meanwhile). A writer goroutine started per event per
// client, since a client's queue is empty again by its next event: without
// them a node where many clients watch one job uses about a fifth less CPU
// (docs/BENCHMARKS.md C17).
func (s *session) SendNow(obj []byte) bool {
	s.mu.Lock()
	if !s.roomLocked(1) {
		return false
	}
	if !s.idleLocked() {
		s.queue = append(s.queue, obj)
		s.startWriterLocked()
		s.mu.Unlock()
		return true
	}
	s.writeNowLocked(textHeader(&s.hdr, len(obj)), obj)
	return true
}

// idleLocked reports whether the caller may write to the socket itself: a
// TCP session with nothing queued, due or being written (caller holds mu).
func (s *session) idleLocked() bool {
	return s.tcp != nil && !s.writing && !s.ended && len(s.queue) == 0 && !s.pingDue && !s.over()
}

// writeNowLocked makes the caller the writer (idleLocked said it may) and
// writes the frame head+body, whose body is the object queued if the frame
// must wait, or nil for a ping. It unlocks mu.
func (s *session) writeNowLocked(head, body []byte) {
	s.writing = true // this goroutine is the writer until the frame is out
	s.writers.Add(1)
	s.mu.Unlock()
	done, err := s.tcp.TryWritevUnless(&s.fw.closeSent, head, body)
	switch {
	case errors.Is(err, rawio.ErrBusy):
		// coder/websocket's write (a pong, the close) holds the socket, and
		// may wait for it: a writer goroutine waits instead of the caller
		s.mu.Lock()
		if body == nil {
			s.pingDue = true
		} else {
			s.queue = slices.Insert(s.queue, 0, body) // first: what came meanwhile came after it
		}
		s.mu.Unlock()
		go s.write() // still the writer
	case err != nil:
		s.writeFailed()
		s.writers.Done()
	case !done: // the socket's buffer is full: a writer goroutine waits for the rest
		go s.finishThenWrite()
	default:
		s.mu.Lock()
		if len(s.queue) > 0 || s.closing || s.pingDue {
			s.mu.Unlock()
			go s.write() // still the writer
			return
		}
		s.writing = false
		s.mu.Unlock()
		s.writers.Done()
	}
}

// pingFrame is a server's ping with no payload (RFC 6455 5.5.2).
var pingFrame = []byte{0x80 | 0x9, 0}

// sendPing pings the client through the session's writer (ownPings): at
// once from the caller's goroutine when no writer runs, else by the writer
// before its next frame. now is monoNow's.
func (s *session) sendPing(now int64) {
	s.mu.Lock()
	if s.closing || s.ended || s.over() {
		s.mu.Unlock()
		return
	}
	s.pingSent.CompareAndSwap(0, now) // before the write: the pong can come before it returns
	if !s.idleLocked() {
		s.pingDue = true
		s.startWriterLocked()
		s.mu.Unlock()
		return
	}
	s.writeNowLocked(pingFrame, nil)
}

// ponged tells the session that its client answered: the ping that waits
// for a pong (sendPing) has it.
func (s *session) ponged() { s.pingSent.Store(0) }

// dropIfNoPong closes the connection when its ping has waited for a pong
// longer than wait (now is monoNow's).
func (s *session) dropIfNoPong(now int64, wait time.Duration) {
	if sent := s.pingSent.Load(); sent != 0 && now-sent >= int64(wait) {
		s.conn.CloseNow()
	}
}

// monoStart is where monoNow counts from.
var monoStart = time.Now()

// monoNow is the monotonic clock in ns since monoStart, never 0.
func monoNow() int64 { return int64(time.Since(monoStart)) | 1 }

// finishThenWrite finishes the frame SendNow began and goes on as write.
func (s *session) finishThenWrite() {
	s.writeSince.Store(time.Now().UnixNano())
	err := s.tcp.FinishWrite()
	s.writeSince.Store(0)
	if err != nil {
		s.writeFailed()
		s.writers.Done()
		return
	}
	s.write()
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
		if fp != nil {
			putFrame(fp)
		}
	}()
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue, s.spare = s.spare[:0], nil
		ping := s.pingDue
		s.pingDue = false
		closing, code, reason := s.closing, s.code, s.reason
		if len(batch) == 0 && !ping {
			s.writing = false
			s.spare = batch
			s.mu.Unlock()
			if closing {
				s.closeWith(code, reason)
			}
			return
		}
		s.mu.Unlock()
		if ping && s.writeTCP(pingFrame, nil) != nil {
			s.writeFailed()
			return
		}
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
				s.writeFailed()
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

// writeFailed ends the writing for good after a write failed: the
// connection is closed, and what is queued is dropped (its client resumes
// from its last seq). The caller was the writer.
func (s *session) writeFailed() {
	s.conn.CloseNow()
	s.mu.Lock()
	s.writing, s.closing, s.queue = false, true, nil
	s.mu.Unlock()
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
//
// On a TCP connection it writes the frame itself: its header and the object
// in one writev (rawio.Conn.WritevUnless), between coder/websocket's whole
// frames (frameWriter), and nothing once coder/websocket sent a close. That
// skips coder/websocket's message writer: two channel locks, a bufio.Writer
// written a byte at a time, and the frameWriter's scan of every byte's frame,
// about a sixth of a node's CPU where many clients watch one job (C16).
func (s *session) writeFrame(frame []byte) error {
	if s.tcp != nil {
		return s.writeTCP(textHeader(&s.hdr, len(frame)), frame)
	}
	s.writeSince.Store(time.Now().UnixNano())
	err := s.conn.Write(context.Background(), websocket.MessageText, frame)
	s.writeSince.Store(0)
	return err
}

// writeTCP is the writer's write of one frame, head then body, to the socket
// itself (a data frame, or a ping with no body: ownPings), timed for the
// pinger's check of stuck writes (dropIfStuck).
func (s *session) writeTCP(head, body []byte) error {
	s.writeSince.Store(time.Now().UnixNano())
	_, err := s.tcp.WritevUnless(&s.fw.closeSent, head, body)
	s.writeSince.Store(0)
	return err
}

// textHeader writes into h the header of a server's final text frame of n
// bytes (RFC 6455 5.2: unmasked, no extension bits) and returns it.
func textHeader(h *[10]byte, n int) []byte {
	h[0] = 0x80 | 0x1
	switch {
	case n <= 125:
		h[1] = byte(n)
		return h[:2]
	case n <= 0xFFFF:
		h[1] = 126
		binary.BigEndian.PutUint16(h[2:], uint16(n))
		return h[:4]
	default:
		h[1] = 127
		binary.BigEndian.PutUint64(h[2:], uint64(n))
		return h[:10]
	}
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
	s.gate.Lock()
	defer s.gate.Unlock()
	_ = s.conn.Close(code, reason)
}

// buffered returns how many bytes br holds, taking the gate.
func (s *session) buffered(br *bufio.Reader) int {
	s.gate.Lock()
	defer s.gate.Unlock()
	return br.Buffered()
}

// front is what takePong found at the front of the read buffer.
type front int

const (
	frontOther front = iota // a frame that is not a pong, or not a well-formed one: for coder/websocket
	frontPong               // a whole pong, which takePong took
	frontShort              // nothing, or the start of a pong: more is to come
)

// takePong takes a whole pong frame off the front of br, if that is what br
// starts with, and tells the ping that waits for it. With readable set (the
// caller knows the socket has something) it first reads what the socket has,
// once, which does not block.
func (s *session) takePong(br *bufio.Reader, readable bool) (front, error) {
	s.gate.Lock()
	defer s.gate.Unlock()
	if readable {
		if _, err := br.Peek(br.Buffered() + 1); err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return frontOther, err
		}
	}
	h, _ := br.Peek(min(2, br.Buffered()))
	// RFC 6455 5.2: FIN, no RSV bits, opcode 0xA; masked (a client's), at
	// most 125 bytes of payload (5.5)
	switch {
	case len(h) == 0:
		return frontShort, nil
	case h[0] != 0x80|0xA:
		return frontOther, nil
	case len(h) == 1:
		return frontShort, nil
	case h[1]&0x80 == 0 || h[1]&0x7F > 125:
		return frontOther, nil
	}
	n := 2 + 4 + int(h[1]&0x7F)
	switch {
	case n > br.Size(): // a pong the buffer cannot hold whole (not an answer to the server's pings)
		return frontOther, nil
	case br.Buffered() < n:
		return frontShort, nil
	}
	_, _ = br.Discard(n)
	s.ponged()
	s.pingMu.Lock()
	if s.pinging != nil {
		s.pinging.ponged()
	}
	s.pingMu.Unlock()
	return frontPong, nil
}

// startPing makes the context of a ping with timeout ctx, which a pong that
// the reader takes off the wire ends.
func (s *session) startPing(ctx context.Context) *pingCtx {
	pc := &pingCtx{Context: ctx, done: make(chan struct{})}
	pc.stop = context.AfterFunc(ctx, pc.end)
	s.pingMu.Lock()
	s.pinging = pc
	s.pingMu.Unlock()
	return pc
}

// endPing reports whether the reader took pc's pong off the wire.
func (s *session) endPing(pc *pingCtx) bool {
	s.pingMu.Lock()
	if s.pinging == pc {
		s.pinging = nil
	}
	s.pingMu.Unlock()
	pc.stop()
	return pc.pong.Load()
}

// pingCtx is the context of one server ping (conn.Ping). A pong that the
// reader takes off the wire itself, which coder/websocket then never sees,
// ends the ping's wait by closing Done. It does not end the contexts that
// Ping derives from it: those end with the ping's timeout only (AfterFunc,
// which context.WithTimeout and the like use for a parent of a type they do
// not know). coder/websocket closes the connection when the context of a
// write ends during the write, and the pong of a ping can arrive before the
// write of that ping has returned.
type pingCtx struct {
	context.Context // the ping's timeout
	done            chan struct{}
	once            sync.Once
	stop            func() bool
	pong            atomic.Bool
}

var errPonged = errors.New("pong received")

func (c *pingCtx) Done() <-chan struct{} { return c.done }

// Err is the timeout's error once it passed, errPonged before.
func (c *pingCtx) Err() error {
	select {
	case <-c.done:
	default:
		return nil
	}
	if err := c.Context.Err(); err != nil {
		return err
	}
	return errPonged
}

// AfterFunc makes the contexts derived from c follow the timeout only.
func (c *pingCtx) AfterFunc(f func()) func() bool { return context.AfterFunc(c.Context, f) }

func (c *pingCtx) ponged() {
	c.pong.Store(true)
	c.end()
}

func (c *pingCtx) end() { c.once.Do(func() { close(c.done) }) }

// wait waits for the writer, if one runs, after which none starts: under mu,
// so that every writers.Add happens before this Wait or not at all.
func (s *session) wait() {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.writers.Wait()
}
