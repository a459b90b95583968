package client

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/backoff"
)

// wsConn is a lane's connection and the exit of its reader goroutine.
type wsConn struct {
	conn   *websocket.Conn
	url    string
	nodeID string     // the node's id (Actorhub-Node), "" if it did not say
	done   chan error // the reader's exit (cap 1)
	gotAck atomic.Bool
}

// nodeHeader is the upgrade response's header naming the node (its id).
const nodeHeader = "Actorhub-Node"

// tickEvery is how often a lane checks ack timeouts and retry times.
func (w *Worker) tickEvery() time.Duration {
	return min(max(w.cfg.AckTimeout/4, 10*time.Millisecond), 100*time.Millisecond)
}

// runWS is the lane goroutine on WebSocket: connect when there is something to
// send, write batches, and after any failure reconnect to the next node and
// write every unacked event again.
func (l *lane) runWS(ctx context.Context) {
	defer l.w.wg.Done()
	tick := time.NewTicker(l.w.tickEvery())
	defer tick.Stop()
	var c *wsConn
	defer func() {
		if c != nil {
			c.close(false)
		}
	}()
	attempt, first := 0, true
	for ctx.Err() == nil {
		if c == nil && l.hasPending() {
			if c = l.connectWS(ctx, first, &attempt); c == nil {
				return
			}
			first = false
		}
		if c != nil {
			if err := l.writeReady(ctx, c); err != nil {
				l.dropWS(c, false, err)
				c = nil
				continue
			}
		}
		var readerDone <-chan error
		if c != nil {
			readerDone = c.done
		}
		select {
		case <-ctx.Done():
		case <-l.wake:
		case <-tick.C:
			if c != nil && l.stuck(time.Now()) {
				l.dropWS(c, false, fmt.Errorf("no ack within %v", l.w.cfg.AckTimeout))
				c = nil
			}
		case err := <-readerDone:
			if c.gotAck.Load() {
				attempt = 0
			}
			l.dropWS(c, true, err)
			c = nil
		}
	}
}

// writeReady writes every unsent event that is ready, in frames.
func (l *lane) writeReady(ctx context.Context, c *wsConn) error {
	for {
		frame := l.collectFrame(time.Now())
		if frame == nil {
			return nil
		}
		wctx, cancel := context.WithTimeout(ctx, l.w.cfg.DialTimeout)
		err := c.conn.Write(wctx, websocket.MessageText, frame)
		cancel()
		if err != nil {
			return err
		}
	}
}

// connectWS dials the lane's node, or the next ones, with backoff (none before
// the lane's first dial). It returns nil when ctx ended.
func (l *lane) connectWS(ctx context.Context, first bool, attempt *int) *wsConn {
	w := l.w
	for {
		if !first && !backoff.Sleep(ctx, w.cfg.Backoff.Delay(*attempt)) {
			return nil
		}
		first = false
		*attempt++
		u := w.wsURLs[l.node%len(w.wsURLs)]
		dctx, cancel := context.WithTimeout(ctx, w.cfg.DialTimeout)
		hdr, err := authHeader(dctx, w.cfg.Token, w.cfg.TokenFunc)
		var conn *websocket.Conn
		var resp *http.Response
		if err == nil {
			conn, resp, err = websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: w.hc, HTTPHeader: hdr})
		}
		cancel()
		if err == nil {
			conn.SetReadLimit(1 << 20)
			c := &wsConn{conn: conn, url: u, nodeID: resp.Header.Get(nodeHeader), done: make(chan error, 1)}
			if c.nodeID != "" {
				l.nodeID.Store(&c.nodeID)
			}
			go func() { c.done <- l.readWS(c) }()
			w.log.Debug("client: worker connected", "url", u, "lane", l.idx)
			return c
		}
		if ctx.Err() != nil {
			return nil
		}
		w.countErr("dial")
		w.log.Warn("client: worker dial failed", "url", u, "lane", l.idx, "err", err)
		l.node++
	}
}

// dropWS closes c, waits for its reader (unless it already exited), makes
// every unacked event unsent and moves the lane to the next node.
func (l *lane) dropWS(c *wsConn, readerExited bool, err error) {
	l.nodeID.Store(nil)
	c.close(readerExited)
	if err != nil {
		l.w.countErr("transport")
		l.w.log.Warn("client: worker connection lost", "url", c.url, "lane", l.idx, "err", err)
	}
	l.mu.Lock()
	l.rewindAllLocked()
	l.mu.Unlock()
	l.node++
	l.w.reconnects.Add(1)
}

// close closes the connection and waits for its reader, unless it exited already.
func (c *wsConn) close(readerExited bool) {
	c.conn.CloseNow()
	if !readerExited {
		<-c.done
	}
}

// readWS reads acks, refusals and cancellations until the connection fails.
func (l *lane) readWS(c *wsConn) error {
	var (
		buf []byte
		m   serverMsg
		r   wsRead
	)
	for {
		var err error
		if buf, err = readFrame(context.Background(), c.conn, buf); err != nil {
			return err
		}
		now := time.Now()
		r.resend = false
		l.mu.Lock()
		forEachLine(buf, func(line []byte) bool {
			if m.decode(line) != nil {
				l.w.countErr("decode")
				l.w.log.Warn("client: worker got an object it cannot decode", "url", c.url, "object", string(line))
				return true
			}
			l.handleWS(c, &m, now, &r)
			return true
		})
		l.mu.Unlock()
		l.reportAcks(r.acks)
		l.reportCancels(r.cancels)
		for _, cc := range r.elsewhere {
			l.w.cancelElsewhere(cc.jobID, cc.reason)
		}
		for _, mv := range r.moves {
			l.w.follow(mv.j, l, mv.node)
		}
		clear(r.acks)
		clear(r.cancels)
		clear(r.elsewhere)
		clear(r.moves)
		r.acks, r.cancels, r.elsewhere, r.moves = r.acks[:0], r.cancels[:0], r.elsewhere[:0], r.moves[:0]
		if r.resend {
			poke(l.wake)
		}
	}
}

// wsRead is what the objects of one frame leave to do once the lane's mutex
// is released.
type wsRead struct {
	acks      []acked     // for OnAck
	cancels   []cancelled // for OnCancel
	elsewhere []cancelled // cancellations of jobs no longer in the lane (they moved)
	moves     []move      // jobs whose acks named another node as theirs (Worker.follow)
	resend    bool        // a job has events to send again
}

// move is a job to move to the lane of node.
type move struct {
	j    *job
	node string
}

// handleWS applies one object from the node (l.mu held).
func (l *lane) handleWS(c *wsConn, m *serverMsg, now time.Time, r *wsRead) {
	switch m.Type {
	case events.TypeAck:
		if j := l.byID[m.JobID]; j != nil && m.NextOffset >= 0 {
			c.gotAck.Store(true)
			j.log.seeEpoch(m.Epoch)
			r.acks = l.ackLocked(j, m.NextOffset, r.acks)
			if m.Node != "" && m.Node != c.nodeID && !j.gone {
				r.moves = append(r.moves, move{j, m.Node})
			}
		}
	case events.TypeError:
		j := l.byID[m.JobID]
		if j == nil {
			l.w.countErr(m.Code)
			l.w.log.Warn("client: worker connection error", "url", c.url, "code", m.Code, "message", m.Message)
			if m.Code == events.CodeFrameTooLarge && l.frameLimit > 4<<10 {
				l.frameLimit /= 2 // the events of that frame come back as a gap
			}
			return
		}
		r.acks = l.refusedLocked(j, m.Code, m.Message, m.NextOffset, m.Epoch, 0, now, r.acks)
		r.resend = r.resend || j.dirty
	case events.TypeCancelled:
		j := l.byID[m.JobID]
		switch {
		case j == nil:
			r.elsewhere = append(r.elsewhere, cancelled{m.JobID, m.Reason})
		case l.cancelledLocked(j, m.Reason) && l.w.cfg.OnCancel != nil:
			r.cancels = append(r.cancels, cancelled{j.id, m.Reason})
		}
	}
}
