package client

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/coder/websocket"

	"github.com/actorhub/actorhub/events"
)

// sessionResult tells Run how a connection ended.
type sessionResult struct {
	connected bool          // it reached {"type":"connected"}
	reconnect bool          // the node asked to reconnect elsewhere after `after`
	after     time.Duration //
	err       error
}

// seqVerdict classifies an event's seq against the last one processed.
type seqVerdict int

const (
	seqNext seqVerdict = iota // last+1: deliver
	seqGap                    // beyond last+1: deliver, report the gap
	seqDup                    // == last: drop
	seqOld                    // < last: drop (out of order)
)

func checkSeq(last, seq int64) seqVerdict {
	switch {
	case seq == last+1:
		return seqNext
	case seq > last+1:
		return seqGap
	case seq == last:
		return seqDup
	default:
		return seqOld
	}
}

// session runs one connection to u: dial, handshake, resubscribe, then read on
// a goroutine of its own while this one writes, until the connection ends or
// ctx does. buf is the frame buffer, kept from one session to the next.
func (s *Subscriber) session(ctx context.Context, u string, buf *[]byte) sessionResult {
	var m serverMsg
	conn, rest, err := s.dial(ctx, u, buf, &m)
	if err != nil {
		return s.dialFailed(u, err)
	}
	defer conn.CloseNow()
	if r, stop := s.handleFrame(rest, &m, u); stop {
		r.connected = true
		return r
	}
	for _, f := range packFrames(s.goLive(), DefaultMaxFrameBytes) {
		if err := s.write(ctx, conn, f); err != nil {
			s.goOffline()
			s.status(StatusDisconnected, StatusInfo{URL: u, Err: err})
			return sessionResult{connected: true, err: err}
		}
	}
	done := make(chan sessionResult, 1)
	go func() { done <- s.readLoop(conn, u, buf, &m) }()
	stop := context.AfterFunc(ctx, func() { conn.CloseNow() })
	defer stop()
	var res sessionResult
	for waiting := true; waiting; {
		select {
		case res = <-done:
			waiting = false
		case <-s.wake:
			if err := s.flushOut(ctx, conn); err != nil {
				conn.CloseNow()
				res = <-done
				res.err = err
				waiting = false
			}
		}
	}
	s.goOffline()
	res.connected = true
	if !res.reconnect {
		s.status(StatusDisconnected, StatusInfo{URL: u, Err: res.err})
	}
	return res
}

// dial connects to u and reads the first frame, within DialTimeout; it
// returns the connection and what follows {"type":"connected"} in that frame.
func (s *Subscriber) dial(ctx context.Context, u string, buf *[]byte, m *serverMsg) (*websocket.Conn, []byte, error) {
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	hdr, err := authHeader(dctx, s.cfg.Token, s.cfg.TokenFunc)
	if err != nil {
		return nil, nil, fmt.Errorf("token: %w", err)
	}
	conn, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: s.cfg.HTTPClient, HTTPHeader: hdr})
	if err != nil {
		return nil, nil, err
	}
	conn.SetReadLimit(s.cfg.ReadLimit)
	frame, err := readFrame(dctx, conn, *buf)
	*buf = frame
	if err != nil {
		conn.CloseNow()
		return nil, nil, fmt.Errorf("wait for connected: %w", err)
	}
	rest, err := s.handshake(frame, m, u)
	if err != nil {
		conn.CloseNow()
		return nil, nil, err
	}
	return conn, rest, nil
}

func (s *Subscriber) dialFailed(u string, err error) sessionResult {
	s.dialFails.Add(1)
	s.status(StatusDisconnected, StatusInfo{URL: u, Err: err})
	return sessionResult{err: err}
}

// handshake checks that frame starts with {"type":"connected"} and returns the rest.
func (s *Subscriber) handshake(frame []byte, m *serverMsg, u string) (rest []byte, err error) {
	var line []byte
	for rest = frame; len(line) == 0 && len(rest) > 0; {
		line, rest, _ = bytes.Cut(rest, []byte{'\n'})
		line = bytes.TrimSpace(line)
	}
	if err := m.decode(line); err != nil || m.Type != events.TypeConnected {
		return nil, fmt.Errorf("first object is not {\"type\":\"connected\"}: %.200q", line)
	}
	s.connects.Add(1)
	s.log.Debug("client: connected", "url", u, "node", m.NodeID, "session", m.SessionID)
	s.status(StatusConnected, StatusInfo{URL: u, NodeID: m.NodeID, SessionID: m.SessionID})
	return rest, nil
}

// goLive marks the connection live and returns a subscribe for every job,
// from the last seq processed.
func (s *Subscriber) goLive() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	objs := make([][]byte, 0, len(s.subs))
	for id, sub := range s.subs {
		objs = append(objs, subscribeObj(id, sub.last.Load()))
	}
	s.live, s.out = true, nil
	return objs
}

func (s *Subscriber) goOffline() {
	s.mu.Lock()
	s.live, s.out = false, nil
	s.mu.Unlock()
}

// flushOut writes what Subscribe and Unsubscribe queued.
func (s *Subscriber) flushOut(ctx context.Context, conn *websocket.Conn) error {
	s.mu.Lock()
	out := s.out
	s.out = nil
	s.mu.Unlock()
	for _, f := range packFrames(out, DefaultMaxFrameBytes) {
		if err := s.write(ctx, conn, f); err != nil {
			return err
		}
	}
	return nil
}

func (s *Subscriber) write(ctx context.Context, conn *websocket.Conn, frame []byte) error {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	return conn.Write(wctx, websocket.MessageText, frame)
}

// readLoop reads frames until the connection fails or the node asks to reconnect.
func (s *Subscriber) readLoop(conn *websocket.Conn, u string, buf *[]byte, m *serverMsg) sessionResult {
	for {
		frame, err := readFrame(context.Background(), conn, *buf)
		*buf = frame
		if err != nil {
			return sessionResult{err: err}
		}
		if r, stop := s.handleFrame(frame, m, u); stop {
			return r
		}
	}
}

// handleFrame handles every object of a frame; it reports stop when the node
// asked to reconnect (the rest of the frame is ignored then).
func (s *Subscriber) handleFrame(frame []byte, m *serverMsg, u string) (res sessionResult, stop bool) {
	forEachLine(frame, func(line []byte) bool {
		if err := m.decode(line); err != nil {
			s.decodeErrs.Add(1)
			s.status(StatusError, StatusInfo{URL: u, Err: fmt.Errorf("decode %.200q: %w", line, err)})
			return true
		}
		switch m.Type {
		case events.TypeEvent:
			s.deliver(m, line)
		case events.TypeSubscribed:
			s.mu.Lock()
			if sub := s.subs[m.JobID]; sub != nil {
				sub.refusals = 0
			}
			s.mu.Unlock()
			s.status(StatusSubscribed, StatusInfo{URL: u, JobID: m.JobID, LastSeq: m.LastSequence, Message: m.Status})
		case events.TypeError:
			s.mu.Lock()
			s.errs[m.Code]++
			s.mu.Unlock()
			s.log.Debug("client: node error", "url", u, "job", m.JobID, "code", m.Code, "message", m.Message)
			s.status(StatusError, StatusInfo{URL: u, JobID: m.JobID, Code: m.Code, Message: m.Message})
			if m.JobID != "" && (m.Code == events.CodeUnavailable || m.Code == events.CodeTimeout) {
				s.resubscribeLater(m.JobID)
			}
		case events.TypeReconnect:
			res = sessionResult{reconnect: true, after: time.Duration(max(m.AfterMs, 0)) * time.Millisecond}
			s.log.Debug("client: node asks to reconnect", "url", u, "after", res.after, "reason", m.Message)
			s.status(StatusReconnect, StatusInfo{URL: u, After: res.after, Message: m.Message})
			stop = true
			return false
		}
		return true
	})
	return res, stop
}

// resubscribeLater subscribes to jobID again after a backoff: the node refused
// its subscribe for a while (its job could not be reached: a store restarting,
// a partition). Without it the subscription waited, silent, until the next
// reconnect.
func (s *Subscriber) resubscribeLater(jobID string) {
	s.mu.Lock()
	sub := s.subs[jobID]
	if sub == nil {
		s.mu.Unlock()
		return
	}
	sub.refusals++
	d := s.cfg.Backoff.Delay(sub.refusals)
	s.mu.Unlock()
	time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.subs[jobID] != sub || !s.live {
			return // unsubscribed (or subscribed anew), or offline: going live subscribes again
		}
		s.out = append(s.out, subscribeObj(jobID, sub.last.Load()))
		poke(s.wake)
	})
}

// deliver hands an event to the Handler unless it was processed already.
func (s *Subscriber) deliver(m *serverMsg, line []byte) {
	s.mu.Lock()
	sub := s.subs[m.JobID]
	s.mu.Unlock()
	if sub == nil {
		return // unsubscribed meanwhile, or never asked for
	}
	last := sub.last.Load()
	switch checkSeq(last, m.Seq) {
	case seqDup:
		s.dups.Add(1)
		return
	case seqOld:
		s.dups.Add(1)
		s.ooo.Add(1)
		return
	case seqGap:
		s.gaps.Add(1)
		s.missed.Add(m.Seq - last - 1)
		s.log.Warn("client: seq gap", "job", m.JobID, "last", last, "seq", m.Seq)
		s.status(StatusGap, StatusInfo{JobID: m.JobID, Seq: m.Seq, LastSeq: last})
	}
	if h := s.cfg.Handler; h != nil {
		h(events.Event{JobID: m.JobID, Seq: m.Seq, Name: m.Event, Data: m.Data, TS: m.TS, Raw: line})
	}
	sub.last.Store(m.Seq)
	s.events.Add(1)
}
