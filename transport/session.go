package transport

import (
	"context"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// session is one WebSocket's outbound side: a bounded queue of JSON objects,
// written by one goroutine, as many objects to a frame as fit. It implements
// actors.Sink.
type session struct {
	conn       *websocket.Conn
	maxQueue   int
	frameLimit int
	writeWait  time.Duration

	mu      sync.Mutex
	queue   [][]byte
	closing bool // write what is queued, then close
	code    websocket.StatusCode
	reason  string
	wake    chan struct{}
	onSlow  func()
}

func newSession(conn *websocket.Conn, cfg *Config, onSlow func()) *session {
	return &session{conn: conn, maxQueue: cfg.OutboundQueue, frameLimit: cfg.FrameLimit,
		writeWait: cfg.WriteTimeout, wake: make(chan struct{}, 1), onSlow: onSlow}
}

// Send implements actors.Sink.
func (s *session) Send(objs ...[]byte) bool {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return false
	}
	if len(s.queue)+len(objs) > s.maxQueue {
		s.queue = nil // a client that cannot keep up resumes later from its last seq
		s.closing, s.code = true, websocket.StatusPolicyViolation
		s.reason = "slow consumer: outbound queue full; reconnect and resubscribe from your last seq"
		s.mu.Unlock()
		if s.onSlow != nil {
			s.onSlow()
		}
		s.poke()
		return false
	}
	s.queue = append(s.queue, objs...)
	s.mu.Unlock()
	s.poke()
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
	s.mu.Unlock()
	s.poke()
}

func (s *session) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// writeLoop writes queued objects until the session closes or ctx ends.
func (s *session) writeLoop(ctx context.Context) {
	var spare [][]byte
	var frame []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		s.mu.Lock()
		batch := s.queue
		s.queue = spare[:0]
		closing, code, reason := s.closing, s.code, s.reason
		s.mu.Unlock()
		for len(batch) > 0 {
			n := 0
			frame, n = s.pack(frame[:0], batch)
			if err := s.write(ctx, frame); err != nil {
				s.conn.CloseNow()
				return
			}
			for i := 0; i < n; i++ {
				batch[i] = nil
			}
			batch = batch[n:]
		}
		spare = batch[:0]
		if closing {
			s.closeWith(code, reason)
			return
		}
		if cap(frame) > 4*s.frameLimit {
			frame = nil
		}
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

func (s *session) write(ctx context.Context, frame []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.writeWait)
	defer cancel()
	return s.conn.Write(ctx, websocket.MessageText, frame)
}

func (s *session) closeWith(code websocket.StatusCode, reason string) {
	if len(reason) > 120 {
		reason = reason[:120]
	}
	_ = s.conn.Close(code, reason)
}

// pingLoop pings every interval; a peer that does not answer within timeout is
// dropped.
func pingLoop(ctx context.Context, conn *websocket.Conn, interval, timeout time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, timeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					conn.CloseNow()
				}
				return
			}
		}
	}
}
