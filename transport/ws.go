package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/rawio"
	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
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
	var got hijacked
	var sess *session // set before the connection is first read
	// which node this is: a worker matches it with the node an ack names
	// (WorkerAckFrame.Node)
	w.Header().Set(nodeHeader, s.cfg.NodeID)
	conn, err := websocket.Accept(smallBuffers{w, &got, !worker}, r, &websocket.AcceptOptions{
		CompressionMode: websocket.CompressionDisabled, OriginPatterns: s.cfg.AllowedOrigins,
		// a pong that coder/websocket reads (one between the fragments of
		// a message) answers the session's ping as well as one that the
		// reader takes off the wire (session.takePong)
		OnPongReceived: func(context.Context, []byte) { sess.ponged() }})
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
	sess = newSession(ctx.Done(), conn, &s.cfg, !worker, s.hub.Metrics().SlowConsumers.Inc)
	if got.tcp != nil && got.fw != nil {
		sess.tcp, sess.fw = got.tcp, got.fw
	}
	// a client: no goroutine waits for it (resume); a worker's frames come
	// one after another, and the one connection of a worker has no memory
	// to save
	polled := !worker && got.tcp != nil && rawio.Polls()
	sess.ownPings = polled && sess.tcp != nil // its reader takes the pongs (takePong)
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
	cr := &connReader{s: s, ctx: ctx, cancel: cancel, conn: conn, sess: sess, d: deliverer{conn: ac}, worker: worker,
		life: life, adm: adm, gauge: gauge}
	if polled {
		cr.br, cr.tcp, cr.carried = got.br, got.tcp, got.carried
		cr.wake = cr.resume
	}
	go cr.serve()
}

// connReader reads one connection's frames until it fails, on a goroutine of
// its own (readLoop), or for a client on a goroutine from each time it sends
// something (resume), and then ends the connection.
type connReader struct {
	s      *Server
	ctx    context.Context
	cancel context.CancelFunc
	conn   *websocket.Conn
	sess   *session
	d      deliverer
	worker bool
	life   *tokenLife
	adm    *admission
	gauge  prometheus.Gauge

	// br and tcp are the connection's read buffer (coder/websocket reads
	// through it) and socket, for a client (see resume); nil for the others
	// (a worker, a connection that is not TCP, and any where rawio cannot
	// wait for a socket). carried: the client's first bytes came behind its
	// upgrade request, and sit in front of br where neither br.Buffered nor
	// the socket shows them (net/http sends the 101 before the hijack, so a
	// client's first frame can race into its read buffer).
	br      *bufio.Reader
	tcp     *rawio.Conn
	carried bool
	wake    func() // resume, made once

	// errBudget is made at the connection's first refused request (its
	// bucket is full then, as it would be had it been made with the
	// connection): most connections never earn one, and 10,000 idle ones
	// kept 1.5 MB of limiters
	errBudget *rate.Limiter
	frameErrs int
	flood     bool
}

func (cr *connReader) serve() {
	switch {
	case cr.br == nil:
		cr.end(cr.readLoop())
	case cr.carried:
		// coder/websocket's first read moves the carried bytes into br
		// (whose size rebuffer made to hold them)
		cr.carried = false
		if err := cr.next(); err != nil {
			cr.end(err)
			return
		}
		cr.afterRead(cr.readSome(false))
	default:
		cr.afterRead(cr.readSome(false))
	}
}

// end closes the connection after its reading ended with err, and waits for
// its writer.
//
//go:noinline
func (cr *connReader) end(err error) {
	s, conn := cr.s, cr.conn
	cr.d.conn.Close()
	switch {
	case errors.Is(err, actors.ErrBusy): // the worker resends what was not acked, elsewhere or later
		_ = conn.Close(actors.CloseTryAgainLater, "retry: requests to jobs got no answer in time")
	case errors.Is(err, errTooManyErrors):
		s.hub.Metrics().Errors.WithLabelValues("error_flood").Inc()
		_ = conn.Close(websocket.StatusPolicyViolation, errTooManyErrors.Error())
	}
	cr.cancel()
	conn.CloseNow()
	cr.sess.wait()
	cr.adm.release()
	cr.life.stop()
	cr.gauge.Dec()
	s.untrack(cr.sess)
}

// readLoop reads frames until the connection fails; oversize frames (above
// FrameLimit, within HardFrameLimit) are skipped with an error and the
// connection stays open. It does not read while the connection's actor holds
// MaxInflight requests that wait for jobs (backpressure), and ends with
// actors.ErrBusy when they got no answer in time.
func (cr *connReader) readLoop() error {
	for cr.live() {
		if err := cr.next(); err != nil {
			return err
		}
	}
	return cr.stopped()
}

// live reports whether the connection reads on: none of its requests failed
// to reach its actor, and it did not flood the node with bad ones.
func (cr *connReader) live() bool { return cr.d.err == nil && !cr.flood }

// stopped is why the connection stopped reading, once live is false.
func (cr *connReader) stopped() error {
	if cr.flood {
		return errTooManyErrors
	}
	return cr.d.err
}

// resume reads what a client sent once its socket has something (or its
// connection closed), then hands the connection back to the poller.
//
// A client's reader is not a goroutine that waits. Between the frames a
// client sends (subscribes, the answers to pings) its socket waits in
// rawio's poller, which calls resume on a new goroutine when something
// comes; that goroutine reads it all, hands it on and ends. A goroutine
// parked for each idle connection held 2 to 4 KiB of stack, and the GC lets
// the heap grow by as much again for the stacks it scans (docs/BENCHMARKS.md
// C14, C15). The new goroutine costs about a microsecond per wake-up.
func (cr *connReader) resume() { cr.afterRead(cr.readSome(true)) }

// afterRead hands the connection to the poller (WhenReadable) after a read
// that left it live, and ends it otherwise.
func (cr *connReader) afterRead(err error) {
	if err == nil && cr.live() {
		if err = cr.tcp.WhenReadable(cr.wake); err == nil {
			return
		}
	}
	if err == nil {
		err = cr.stopped()
	}
	cr.end(err)
}

// readSome reads until it has read all that came (readable: the socket has
// something, which it reads first), and returns when the read buffer is
// empty or holds the start of a pong. It takes pongs (the answers to the
// server's pings, or a client's own heartbeats) off the wire itself, and
// reads messages of any other kind through coder/websocket. Given a pong,
// coder/websocket would read on into the next frame and wait there, in the
// middle of its frame reader, until the client next sent something, which an
// idle client does not.
func (cr *connReader) readSome(readable bool) error {
	for cr.live() {
		f, err := cr.sess.takePong(cr.br, readable)
		if err != nil {
			return err
		}
		readable = false
		switch f {
		case frontShort:
			return nil // the rest is to come
		case frontOther:
			if err := cr.next(); err != nil {
				return err
			}
		}
		if cr.sess.buffered(cr.br) == 0 {
			return nil
		}
	}
	return nil
}

// next reads one message and hands its requests to the connection's actor.
func (cr *connReader) next() error {
	cr.frameErrs = 0
	// No ctx for the read: coder/websocket arms a context.AfterFunc for
	// every frame header and payload read under a context that can end
	// (7 allocations per worker frame, and one registration held by every
	// idle connection). Nothing ends ctx before the loop returns; the
	// server's shutdown and the pinger close the connection instead.
	typ, rd, err := cr.conn.Reader(context.Background())
	if err != nil {
		return err
	}
	bp := readBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	buf, err = readLimited(buf, rd, cr.s.cfg.FrameLimit)
	switch {
	case errors.Is(err, errFrameTooLarge):
		putReadBuf(bp, buf)
		if _, err := io.Copy(io.Discard, rd); err != nil {
			return err
		}
		cr.refuse(events.CodeFrameTooLarge, fmt.Sprintf("frame over %d bytes was dropped; split it", cr.s.cfg.FrameLimit))
		return nil
	case err != nil:
		putReadBuf(bp, buf)
		return err
	case typ != websocket.MessageText:
		putReadBuf(bp, buf)
		cr.refuse(events.CodeBadFrame, "binary frames are not accepted; send text frames of JSON objects")
		return nil
	}
	if cr.worker {
		decodeWorkerFrame(buf, cr.deliver)
	} else {
		events.DecodeFrame(buf, func(m *events.Inbound, err *events.CodedError) {
			cr.deliver(&actors.Request{Msg: m, Err: err})
		})
	}
	putReadBuf(bp, buf) // decoding copied what it keeps
	return nil
}

// deliver hands one request to the connection's actor, or answers it here:
// a token refresh, a request over the connection's rate, and a frame or
// connection that keeps earning errors.
func (cr *connReader) deliver(r *actors.Request) {
	if r.Err == nil && r.Type() == events.TypeRefresh { // the connection's own business, not its actor's
		cr.life.refresh(r.Msg)
		return
	}
	if r.Err == nil && !cr.adm.allow() {
		r = &actors.Request{Msg: r.Head(), Err: &events.CodedError{Code: events.CodeRateLimited, Err: errRateLimited}}
	}
	if r.Err != nil {
		// a frame of bad lines gets a bounded answer, and a connection
		// that keeps earning errors is closed
		lim := cr.s.cfg.Limits
		if cr.frameErrs++; lim.ErrorsPerFrame > 0 && cr.frameErrs > lim.ErrorsPerFrame {
			if cr.frameErrs == lim.ErrorsPerFrame+1 {
				cr.d.deliver(cr.ctx, &actors.Request{Msg: &events.Inbound{}, Err: &events.CodedError{Code: events.CodeBadRequest,
					Err: fmt.Errorf("more than %d refused requests in one frame: the rest of it was dropped", lim.ErrorsPerFrame)}})
			}
			return
		}
		if lim.ErrorsPerSecond > 0 {
			if cr.errBudget == nil {
				cr.errBudget = rate.NewLimiter(rate.Limit(lim.ErrorsPerSecond), max(1, int(lim.ErrorsPerSecond)))
			}
			if !cr.errBudget.Allow() {
				cr.flood = true
				return
			}
		}
	}
	cr.d.deliver(cr.ctx, r)
}

func (cr *connReader) refuse(code, msg string) {
	cr.deliver(&actors.Request{Msg: &events.Inbound{}, Err: &events.CodedError{Code: code, Err: errors.New(msg)}})
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
	var m events.Inbound // each line's: an emit keeps a few of its fields, not it
	for {
		line, rest := events.NextLine(frame)
		if line == nil {
			break
		}
		frame = rest
		cerr := events.DecodeLine(line, &m)
		if cerr == nil && m.Type == events.TypeEmit {
			item, err := emitItem(m.Offset, m.Event, m.Data)
			if err == nil {
				if group != nil && group.JobID != m.JobID {
					flush()
				}
				if group == nil {
					group = actors.Emits(m.JobID, m.ID)
				}
				group.AddItem(item)
				continue
			}
			cerr = err
		}
		flush()
		kept := new(events.Inbound)
		*kept = m
		deliver(&actors.Request{Msg: kept, Err: cerr})
	}
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
