package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/events"
	"github.com/coder/websocket"
	"golang.org/x/time/rate"
)

// serveWS runs one WebSocket (client or worker) until it ends.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request, worker bool) {
	scope := ""
	if worker {
		scope = ScopeWorker // only workers emit
	}
	who, err := s.authorize(r, scope)
	if err != nil {
		writeError(w, err)
		return
	}
	if s.draining.Load() {
		w.Header().Set("Retry-After", "1")
		writeError(w, &events.CodedError{Code: events.CodeUnavailable, Err: errors.New("node is draining; connect to another node")})
		return
	}
	if why := s.standbyReason(); why != "" {
		w.Header().Set("Retry-After", "1")
		writeError(w, &events.CodedError{Code: events.CodeUnavailable, Err: fmt.Errorf("node is on standby (%s); connect to another node", why)})
		return
	}
	adm, err := s.admit(who, worker)
	if err != nil {
		w.Header().Set("Retry-After", "1")
		writeError(w, err)
		return
	}
	conn, err := websocket.Accept(smallBuffers{w}, r, &websocket.AcceptOptions{
		CompressionMode: websocket.CompressionDisabled, OriginPatterns: s.cfg.AllowedOrigins})
	if err != nil {
		adm.release()
		return // Accept answered the request already
	}
	conn.SetReadLimit(int64(s.cfg.HardFrameLimit))
	kind := "client"
	if worker {
		kind = "worker"
	}
	ctx, cancel := context.WithCancel(context.Background())
	sess := newSession(ctx.Done(), conn, &s.cfg, !worker, s.hub.Metrics().SlowConsumers.Inc)
	if code, why := s.track(sess); why != "" {
		adm.release()
		cancel()
		conn.Close(code, why)
		return
	}
	gauge := s.hub.Metrics().ConnsOpen.WithLabelValues(kind)
	gauge.Inc()
	var ac *actors.Conn
	if worker {
		ac = s.hub.OpenWorker(sess)
	} else {
		ac = s.hub.OpenClient(sess, s.newSessionID(), who.Access())
	}
	// The connection lives on its own goroutine and the handler returns: what
	// net/http keeps per request until then (its 4 KiB read and write buffers,
	// the request and its headers, a deep stack) is garbage from here on, about
	// 10 KiB of every idle connection's heap.
	life := s.watchToken(sess, who)
	go func() {
		defer s.untrack(sess)
		defer gauge.Dec()
		defer life.stop()
		defer adm.release()
		err := s.readLoop(ctx, conn, ac, worker, life, adm)
		ac.Close()
		switch {
		case errors.Is(err, actors.ErrBusy): // the worker resends what was not acked, elsewhere or later
			_ = conn.Close(actors.CloseTryAgainLater, "retry: requests to jobs got no answer in time")
		case errors.Is(err, errTooManyErrors):
			s.hub.Metrics().Errors.WithLabelValues("error_flood").Inc()
			_ = conn.Close(websocket.StatusPolicyViolation, errTooManyErrors.Error())
		}
		cancel()
		conn.CloseNow()
		sess.wait()
	}()
}

// readLoop reads frames until the connection fails; oversize frames (above
// FrameLimit, within HardFrameLimit) are skipped with an error and the
// connection stays open. It does not read while the connection's actor holds
// MaxInflight requests that wait for jobs (backpressure), and ends with
// actors.ErrBusy when they got no answer in time.
func (s *Server) readLoop(ctx context.Context, conn *websocket.Conn, ac *actors.Conn, worker bool, life *tokenLife, adm *admission) error {
	d := deliverer{conn: ac}
	lim := s.cfg.Limits
	// made at the connection's first refused request (its bucket is full
	// then, as it would be had it been made here): most connections never
	// earn one, and 10,000 idle ones kept 1.5 MB of limiters
	var errBudget *rate.Limiter
	frameErrs, flood := 0, false
	deliver := func(r *actors.Request) {
		if r.Err == nil && r.Msg.Type == events.TypeRefresh { // the connection's own business, not its actor's
			life.refresh(r.Msg)
			return
		}
		if r.Err == nil && !adm.allow() {
			r = &actors.Request{Msg: r.Msg, Err: &events.CodedError{Code: events.CodeRateLimited, Err: errRateLimited}}
		}
		if r.Err != nil {
			// a frame of bad lines gets a bounded answer, and a connection
			// that keeps earning errors is closed
			if frameErrs++; lim.ErrorsPerFrame > 0 && frameErrs > lim.ErrorsPerFrame {
				if frameErrs == lim.ErrorsPerFrame+1 {
					d.deliver(ctx, &actors.Request{Msg: &events.Inbound{}, Err: &events.CodedError{Code: events.CodeBadRequest,
						Err: fmt.Errorf("more than %d refused requests in one frame: the rest of it was dropped", lim.ErrorsPerFrame)}})
				}
				return
			}
			if lim.ErrorsPerSecond > 0 {
				if errBudget == nil {
					errBudget = rate.NewLimiter(rate.Limit(lim.ErrorsPerSecond), max(1, int(lim.ErrorsPerSecond)))
				}
				if !errBudget.Allow() {
					flood = true
					return
				}
			}
		}
		d.deliver(ctx, r)
	}
	refuse := func(code, msg string) {
		deliver(&actors.Request{Msg: &events.Inbound{}, Err: &events.CodedError{Code: code, Err: errors.New(msg)}})
	}
	for d.err == nil && !flood {
		frameErrs = 0
		// No ctx for the read: coder/websocket arms a context.AfterFunc for
		// every frame header and payload read under a context that can end
		// (7 allocations per worker frame, and one registration held by every
		// idle connection). Nothing ends ctx before this loop returns; the
		// server's shutdown and the pinger close the connection instead.
		typ, rd, err := conn.Reader(context.Background())
		if err != nil {
			return err
		}
		bp := readBufs.Get().(*[]byte)
		buf := (*bp)[:0]
		buf, err = readLimited(buf, rd, s.cfg.FrameLimit)
		switch {
		case errors.Is(err, errFrameTooLarge):
			putReadBuf(bp, buf)
			if _, err := io.Copy(io.Discard, rd); err != nil {
				return err
			}
			refuse(events.CodeFrameTooLarge, fmt.Sprintf("frame over %d bytes was dropped; split it", s.cfg.FrameLimit))
			continue
		case err != nil:
			putReadBuf(bp, buf)
			return err
		case typ != websocket.MessageText:
			putReadBuf(bp, buf)
			refuse(events.CodeBadFrame, "binary frames are not accepted; send text frames of JSON objects")
			continue
		}
		if worker {
			decodeWorkerFrame(buf, deliver)
		} else {
			events.DecodeFrame(buf, func(m *events.Inbound, err *events.CodedError) {
				deliver(&actors.Request{Msg: m, Err: err})
			})
		}
		putReadBuf(bp, buf) // decoding copied what it keeps
	}
	if flood {
		return errTooManyErrors
	}
	return d.err
}

var errTooManyErrors = errors.New("too many refused requests in a second; fix the client and connect again")

// deliverer hands a connection's requests to its actor; after the first
// failure (the connection ended while it waited for a credit, or its requests
// got no answer in time) it drops the rest and err says why.
type deliverer struct {
	conn *actors.Conn
	err  error
}

func (d *deliverer) deliver(ctx context.Context, r *actors.Request) {
	if d.err == nil {
		d.err = d.conn.Deliver(ctx, r)
	}
}

// readBufs holds frame buffers between reads, so an idle connection holds none.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func putReadBuf(bp *[]byte, buf []byte) {
	if cap(buf) <= 64<<10 {
		*bp = buf[:0]
		readBufs.Put(bp)
	}
}

// decodeWorkerFrame turns a frame of emits into requests: consecutive emits for
// one job travel together, so the job commits them as one batch and acks once.
func decodeWorkerFrame(frame []byte, deliver func(*actors.Request)) {
	var group *actors.Request
	flush := func() {
		if group != nil {
			deliver(group)
			group = nil
		}
	}
	events.DecodeFrame(frame, func(m *events.Inbound, cerr *events.CodedError) {
		if cerr == nil && m.Type == events.TypeEmit {
			item, err := emitItem(m.Offset, m.Event, m.Data)
			if err == nil {
				if group != nil && group.Msg.JobID != m.JobID {
					flush()
				}
				if group == nil {
					group = &actors.Request{Msg: m}
				}
				group.AddItem(item)
				return
			}
			cerr = err
		}
		flush()
		deliver(&actors.Request{Msg: m, Err: cerr})
	})
	flush()
}

// emitItem checks one emitted event and normalizes its data.
func emitItem(offset *int64, name string, data []byte) (actors.EmitItem, *events.CodedError) {
	if err := events.ValidateName(name); err != nil {
		return actors.EmitItem{}, &events.CodedError{Code: events.CodeBadEventName, Err: err}
	}
	norm, fold, err := events.CheckData(name, data)
	if err != nil {
		return actors.EmitItem{}, &events.CodedError{Code: events.CodeInvalidEvent, Err: err}
	}
	it := actors.EmitItem{Offset: actors.NoOffset, Name: name, Data: norm, Fold: fold}
	if offset != nil {
		if *offset < 0 {
			return actors.EmitItem{}, &events.CodedError{Code: events.CodeBadRequest, Err: errors.New("offset must be ≥ 0")}
		}
		it.Offset = *offset
	}
	return it, nil
}

var errFrameTooLarge = errors.New("frame too large")

// readLimited appends r to buf up to limit bytes; past that it returns
// errFrameTooLarge (the rest is left unread).
func readLimited(buf []byte, r io.Reader, limit int) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return buf, errFrameTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (s *Server) newSessionID() string {
	return s.cfg.NodeID + "-" + strconv.FormatUint(s.sessions.Add(1), 36)
}
