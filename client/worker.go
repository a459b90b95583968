package client

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actorhub/actorhub/events"
)

// Transports of a Worker.
const (
	TransportWS   = "ws"   // GET /ws/worker, emits pipelined, several per frame
	TransportHTTP = "http" // POST /api/jobs/{id}/events, one batch per job at a time
)

// WorkerConfig configures a Worker. Zero fields take the defaults given.
type WorkerConfig struct {
	// BaseURLs are the nodes, http://host:port. A lane starts on node
	// lane mod len, and moves to the next one after a failure.
	BaseURLs []string
	// Transport is TransportWS (default) or TransportHTTP.
	Transport string
	// Conns is the number of lanes: WebSocket connections (ws) or concurrent
	// senders (http). A job starts on the lane its id hashes to. On ws, an
	// ack that names the node holding the job (a node other than the lane's:
	// its emits cross to that node and back) moves the job to a lane
	// connected to that node, if there is one, once none of its events is
	// in flight; its next events go straight there (on http, the answer
	// names the node, and the job's next batches go to it). Default: one per
	// node of BaseURLs (ws), 4 (http).
	Conns int
	// AckTimeout: on ws, an event written and not acked for this long makes
	// the lane drop its connection and resend on the next node; on http, it
	// bounds one request. Default 10 s.
	AckTimeout time.Duration
	// DialTimeout bounds a WebSocket handshake and every write. Default 5 s.
	DialTimeout time.Duration
	// Backoff paces retries and reconnects. Default DefaultBackoff.
	Backoff Backoff
	// MaxPending bounds, per job, the events emitted and not acked yet. Emit
	// blocks while the job has that many (until an ack makes room, ctx ends
	// or the Worker closes). Default 4096.
	MaxPending int
	// MaxFrameBytes bounds a frame (ws) or a request body (http) of batched
	// events; one event must fit in it. Default DefaultMaxFrameBytes.
	MaxFrameBytes int
	// Token, when set, is sent as Authorization: Bearer (a token with scope
	// worker, on a node with --auth jwt).
	Token string
	// TokenFunc, when set, gives the token of every connection and request
	// instead (short-lived tokens: see TokenFunc).
	TokenFunc TokenFunc
	// HTTPClient sends the HTTP requests and dials the WebSockets. Default: a
	// client of the Worker's own, closed by Close.
	HTTPClient *http.Client
	// OnAck, optional, is called once per acked event, in offset order per
	// job, with the time Emit queued it, from the goroutine that read the ack
	// (keep it short). It may run just after Flush or EmitSync of that event
	// returned.
	OnAck func(jobID string, offset int64, sentAt time.Time)
	// OnCancel, optional, is called once per job when a node says that a job
	// this Worker emitted to was cancelled (TransportWS only: a node pushes
	// {"type":"cancelled"} to the connections that emitted to the job). The
	// job's unacked events are dropped: Emit, Flush and EmitSync for it return
	// an *EmitError with code job_finished at once. It runs on the reader
	// goroutine of the connection that got the push (keep it short).
	OnCancel func(jobID, reason string)
	// Logger receives logs about connections and refusals. Nil: silent.
	Logger *slog.Logger
}

// WorkerStats counts what a Worker did since it was made.
type WorkerStats struct {
	Emitted    int64            // events queued by Emit
	Acked      int64            // of those, acked as durable
	Pending    int64            // queued and not acked now (abandoned ones excluded)
	Resent     int64            // events written again after a failure or a gap
	Reconnects int64            // WebSocket connections dropped after a failure (remade when events wait)
	Moved      int64            // jobs moved to the node an answer named as theirs (ws: to its lane; http: their batches)
	Errors     map[string]int64 // refusals and failures by code (node codes; "transport", "http_5xx", "dial")
}

// Job is a job as POST /api/jobs answered it.
type Job struct {
	events.JobState
	// Created is true for 201 (made by this call), false for 200 (it existed;
	// JobState then holds its state, NextOffset included: see ResumeJob).
	Created bool
}

// Worker creates jobs and emits their events; see the package doc.
type Worker struct {
	cfg    WorkerConfig
	cfgErr error
	log    *slog.Logger
	hc     *http.Client
	ownHC  *http.Transport
	bases  []string // http://host:port, no trailing slash
	wsURLs []string
	lanes  []*lane
	// baseNode holds the node id each base answered with (Actorhub-Node), nil
	// until it did
	baseNode []atomic.Pointer[string]
	// route holds the lane of each job that moved off the lane its id
	// hashes to (follow), and of each such job a lane forgot lately (so that
	// an Emit to it is refused there). A leaf lock, taken under lane mutexes.
	routeMu sync.RWMutex
	route   map[string]int
	cancel  context.CancelFunc
	closing chan struct{}
	once    sync.Once
	wg      sync.WaitGroup

	errMu sync.Mutex // a leaf: taken under lane mutexes
	errs  map[string]int64

	emitted, acked, resent, reconnects, moved atomic.Int64
	creates                                   atomic.Int64 // creates of jobs without an id, to spread them over the nodes
}

// job is one job's state on this Worker; its lane's mutex guards every field
// but id and lane.
type job struct {
	id string
	// lane is the lane the job is in; it changes only with both lanes
	// locked (follow), so the lane it names once locked is the job's
	// (lockLane)
	lane    atomic.Pointer[lane]
	log     jobLog
	err     *EmitError
	dirty   bool      // in lane.dirty
	retryAt time.Time // not before this (a transient refusal)
	retries int
	changed chan struct{} // closed when acked or err change, if waited on
	waited  bool
	// cancelled: a node said the job was cancelled (OnCancel was due)
	cancelled bool
	// ended: its terminal event is queued; once that is acked the lane
	// forgets the job (a worker that streams job after job holds only the
	// jobs still going)
	ended bool
	gone  bool // forgotten: no longer in its lane
	at    int  // its index in lane.jobs
	// via (HTTP): 1 + the index in Worker.bases of the node that holds the
	// job, which an answer named; its batches go there instead of to the
	// lane's node. 0: the lane's.
	via int
}

// NewWorker returns a Worker; its lanes start at once and connect when they
// have something to send. A config error comes back from every method.
func NewWorker(cfg WorkerConfig) *Worker {
	cfg = workerDefaults(cfg)
	w := &Worker{cfg: cfg, log: cfg.Logger, closing: make(chan struct{}), errs: map[string]int64{}, route: map[string]int{}}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.hc = cfg.HTTPClient
	if w.hc == nil {
		w.ownHC = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second,
			DisableCompression: true, Proxy: http.ProxyFromEnvironment}
		w.hc = &http.Client{Transport: w.ownHC}
	}
	if w.cfgErr = w.parseURLs(); w.cfgErr != nil {
		return w
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	for i := 0; i < cfg.Conns; i++ {
		l := &lane{w: w, idx: i, node: i, wake: make(chan struct{}, 1), frameLimit: cfg.MaxFrameBytes,
			byID: map[string]*job{}}
		w.lanes = append(w.lanes, l)
		w.wg.Add(1)
		if cfg.Transport == TransportWS {
			go l.runWS(ctx)
		} else {
			go l.runHTTP(ctx)
		}
	}
	return w
}

func workerDefaults(cfg WorkerConfig) WorkerConfig {
	if cfg.Transport == "" {
		cfg.Transport = TransportWS
	}
	if cfg.Conns <= 0 {
		cfg.Conns = max(1, len(cfg.BaseURLs)) // a lane on each node, for jobs to follow their node
		if cfg.Transport == TransportHTTP {
			cfg.Conns = 4
		}
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 10 * time.Second
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	cfg.Backoff = cfg.Backoff.WithDefaults(DefaultBackoff)
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 4096
	}
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = DefaultMaxFrameBytes
	}
	return cfg
}

func (w *Worker) parseURLs() error {
	if w.cfg.Transport != TransportWS && w.cfg.Transport != TransportHTTP {
		return fmt.Errorf("client: WorkerConfig.Transport %q: use %q or %q", w.cfg.Transport, TransportWS, TransportHTTP)
	}
	if len(w.cfg.BaseURLs) == 0 {
		return fmt.Errorf("client: WorkerConfig.BaseURLs is empty; give at least one http://host:port")
	}
	for _, b := range w.cfg.BaseURLs {
		ws, err := dialURL(b, "/ws/worker", "", "")
		if err != nil {
			return err
		}
		if !strings.HasPrefix(b, "http://") && !strings.HasPrefix(b, "https://") {
			return fmt.Errorf("client: WorkerConfig.BaseURLs %q: use http://host:port", b)
		}
		w.bases = append(w.bases, strings.TrimRight(b, "/"))
		w.wsURLs = append(w.wsURLs, ws)
	}
	w.baseNode = make([]atomic.Pointer[string], len(w.bases))
	return nil
}

// learnNode records that base i answered as node id.
func (w *Worker) learnNode(i int, id string) {
	if p := w.baseNode[i].Load(); p == nil || *p != id {
		w.baseNode[i].Store(&id)
	}
}

// triedNode records that base i did not answer, unless it said which node it
// is before: unheard skips it until it does.
func (w *Worker) triedNode(i int) {
	none := ""
	w.baseNode[i].CompareAndSwap(nil, &none)
}

// unheard returns the index of a base that has not said which node it is,
// -1 if none. A base that did not answer is not one (triedNode).
func (w *Worker) unheard() int {
	for i := range w.baseNode {
		if w.baseNode[i].Load() == nil {
			return i
		}
	}
	return -1
}

// baseOf returns the index of a base that answered as node id, -1 if none.
func (w *Worker) baseOf(id string) int {
	for i := range w.baseNode {
		if p := w.baseNode[i].Load(); p != nil && *p == id {
			return i
		}
	}
	return -1
}

// laneOf returns the index of the lane that carries jobID's events: the one
// it moved to (follow), else the one its id hashes to.
func (w *Worker) laneOf(jobID string) int {
	w.routeMu.RLock()
	i, ok := w.route[jobID]
	w.routeMu.RUnlock()
	if ok {
		return i
	}
	return w.hashLane(jobID)
}

// hashLane returns the index of the lane jobID's id hashes to.
func (w *Worker) hashLane(jobID string) int {
	h := fnv.New32a()
	h.Write([]byte(jobID))
	return int(h.Sum32() % uint32(len(w.lanes)))
}

// lockLaneOf locks and returns the lane that carries jobID. A job moves only
// with both lanes locked, so the lane laneOf names once it is locked is the
// job's.
func (w *Worker) lockLaneOf(jobID string) *lane {
	for {
		l := w.lanes[w.laneOf(jobID)]
		l.mu.Lock()
		if w.lanes[w.laneOf(jobID)] == l {
			return l
		}
		l.mu.Unlock()
	}
}

// lockLane locks and returns the lane j is in.
func (j *job) lockLane() *lane {
	for {
		l := j.lane.Load()
		l.mu.Lock()
		if j.lane.Load() == l {
			return l
		}
		l.mu.Unlock()
	}
}

// job returns jobID's state, making it on first use.
func (w *Worker) job(jobID string) *job {
	j := w.lockedJob(jobID)
	j.lane.Load().mu.Unlock()
	return j
}

// lockedJob is job, and returns with the job's lane mutex held.
func (w *Worker) lockedJob(jobID string) *job {
	l := w.lockLaneOf(jobID)
	j := l.byID[jobID]
	if j == nil {
		j = &job{id: jobID, log: newJobLog(), at: len(l.jobs)}
		j.lane.Store(l)
		l.jobs = append(l.jobs, j)
		l.byID[jobID] = j
	}
	return j
}

// known returns jobID's state, nil if this Worker has none (never emitted, or
// forgotten once its terminal event was acked).
func (w *Worker) known(jobID string) *job {
	l := w.lockLaneOf(jobID)
	defer l.mu.Unlock()
	return l.byID[jobID]
}

// follow moves job j from lane from to a lane connected to node, which an
// ack on from named as the job's (from's node passes the job's emits on to
// it, and its answers back), when the Worker has such a lane and nothing of
// j is in flight or waiting to be sent; its next events then go straight to
// node. Otherwise j stays, and the next ack that names node tries again.
func (w *Worker) follow(j *job, from *lane, node string) {
	var to *lane
	for _, l := range w.lanes {
		if l != from && l.connectedTo(node) {
			to = l
			break
		}
	}
	if to == nil {
		return
	}
	first, second := from, to
	if second.idx < first.idx {
		first, second = second, first
	}
	first.mu.Lock()
	second.mu.Lock()
	defer first.mu.Unlock()
	defer second.mu.Unlock()
	if j.lane.Load() != from || j.gone || j.err != nil || j.dirty || len(j.log.pend) > 0 || !to.connectedTo(node) {
		return
	}
	from.unlinkLocked(j)
	j.at = len(to.jobs)
	to.jobs = append(to.jobs, j)
	to.byID[j.id] = j
	j.lane.Store(to)
	w.routeMu.Lock()
	if to.idx == w.hashLane(j.id) {
		delete(w.route, j.id)
	} else {
		w.route[j.id] = to.idx
	}
	w.routeMu.Unlock()
	w.moved.Add(1)
	w.log.Debug("client: job follows its node", "job", j.id, "node", node, "lane", to.idx)
}

// unroute forgets that jobID moved to lane l (l forgot it for good).
func (w *Worker) unroute(jobID string, l *lane) {
	w.routeMu.Lock()
	if i, ok := w.route[jobID]; ok && i == l.idx {
		delete(w.route, jobID)
	}
	w.routeMu.Unlock()
}

// cancelElsewhere applies a node's word that jobID was cancelled, which came
// on a lane the job is not in (it moved since it emitted there).
func (w *Worker) cancelElsewhere(jobID, reason string) {
	l := w.lockLaneOf(jobID)
	j := l.byID[jobID]
	report := j != nil && l.cancelledLocked(j, reason) && w.cfg.OnCancel != nil
	l.mu.Unlock()
	if report {
		w.cfg.OnCancel(jobID, reason)
	}
}

func (w *Worker) countErr(code string) {
	w.errMu.Lock()
	w.errs[code]++
	w.errMu.Unlock()
}

func (w *Worker) isClosed() bool {
	select {
	case <-w.closing:
		return true
	default:
		return false
	}
}

// Emit queues event with data (marshalled with encoding/json; json.RawMessage
// and []byte are taken as JSON as they are; data is not retained after Emit
// returns) as jobID's next offset, and returns that offset once the event is
// queued, not acked. It blocks while the
// job has MaxPending unacked events. It refuses, without using an offset, an
// invalid event name or payload (*EmitError with CodeBadEventName,
// CodeInvalidEvent or CodeTooLarge); it returns the job's *EmitError once the
// node refused one of its events for good, and ErrClosed after Close.
func (w *Worker) Emit(ctx context.Context, jobID, event string, data any) (int64, error) {
	off, _, err := w.emit(ctx, jobID, event, data)
	return off, err
}

// emit is Emit; it also returns the job's state (nil when refused before it).
func (w *Worker) emit(ctx context.Context, jobID, event string, data any) (int64, *job, error) {
	if w.cfgErr != nil {
		return -1, nil, w.cfgErr
	}
	raw, eerr := encodeEmit(jobID, event, data)
	if eerr != nil {
		return -1, nil, eerr
	}
	j := w.lockedJob(jobID)
	l := j.lane.Load()
	if j.log.next == 0 && l.isFinishedLocked(jobID) {
		l.dropLocked(j)
		l.mu.Unlock()
		return -1, nil, finishedError(jobID)
	}
	for len(j.log.pend) >= w.cfg.MaxPending && j.err == nil {
		ch := j.wait()
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return -1, nil, ctx.Err()
		case <-w.closing:
			return -1, nil, ErrClosed
		}
		l = j.lockLane()
		if j.gone { // its terminal event was acked meanwhile
			l.mu.Unlock()
			return -1, nil, finishedError(jobID)
		}
	}
	if j.err != nil {
		l.mu.Unlock()
		return -1, nil, j.err
	}
	if w.isClosed() {
		l.mu.Unlock()
		return -1, nil, ErrClosed
	}
	line := w.encodeLine(jobID, j.log.next, event, raw)
	if len(line)+len(httpBodyHead)+len(httpBodyTail) > w.cfg.MaxFrameBytes {
		l.mu.Unlock()
		return -1, nil, &EmitError{JobID: jobID, Code: events.CodeTooLarge, NextOffset: -1,
			Message: fmt.Sprintf("the event takes %d bytes on the wire; MaxFrameBytes is %d", len(line), w.cfg.MaxFrameBytes)}
	}
	off := j.log.add(line, time.Now())
	j.ended = j.ended || events.Terminal(event)
	l.markDirty(j)
	l.mu.Unlock()
	w.emitted.Add(1)
	poke(l.wake)
	return off, j, nil
}

// encodeEmit checks an event before it gets an offset and returns its payload, compact.
func encodeEmit(jobID, event string, data any) (json.RawMessage, *EmitError) {
	bad := func(code string, err error) *EmitError {
		return &EmitError{JobID: jobID, Code: code, Message: err.Error(), NextOffset: -1}
	}
	if err := events.ValidateJobID(jobID); err != nil {
		return nil, bad(events.CodeBadRequest, err)
	}
	if err := events.ValidateName(event); err != nil {
		return nil, bad(events.CodeBadEventName, err)
	}
	if event == events.Created {
		return nil, bad(events.CodeInvalidEvent, fmt.Errorf("%s is the hub's own event; a worker cannot emit it", event))
	}
	var raw []byte
	switch d := data.(type) {
	case json.RawMessage:
		raw = d
	case []byte:
		raw = d
	default:
		b, err := json.Marshal(data)
		if err != nil {
			return nil, bad(events.CodeInvalidEvent, fmt.Errorf("marshal data of %s: %w", event, err))
		}
		raw = b
	}
	norm, err := events.NormalizeData(event, raw)
	if err != nil {
		return nil, bad(events.CodeInvalidEvent, err)
	}
	return norm, nil
}

const (
	httpBodyHead = `{"events":[`
	httpBodyTail = `]}`
)

// encodeLine returns the wire object of one event: an emit (ws) or an entry of
// a POST's events (http).
func (w *Worker) encodeLine(jobID string, off int64, event string, data json.RawMessage) []byte {
	b := make([]byte, 0, 64+len(jobID)+len(event)+len(data))
	if w.cfg.Transport == TransportWS {
		b = append(b, `{"type":"emit","jobId":`...)
		b = events.AppendString(b, jobID)
		b = append(b, `,"offset":`...)
	} else {
		b = append(b, `{"offset":`...)
	}
	b = strconv.AppendInt(b, off, 10)
	b = append(b, `,"event":`...)
	b = events.AppendString(b, event)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	return append(b, '}')
}

// wait returns a channel closed at the job's next change (lane.mu held).
func (j *job) wait() <-chan struct{} {
	if j.changed == nil {
		j.changed = make(chan struct{})
	}
	j.waited = true
	return j.changed
}

// notify wakes the job's waiters (lane.mu held).
func (j *job) notify() {
	if j.waited {
		close(j.changed)
		j.changed, j.waited = nil, false
	}
}

// EmitSync is Emit, then a wait until the node acked that event.
func (w *Worker) EmitSync(ctx context.Context, jobID, event string, data any) (int64, error) {
	off, j, err := w.emit(ctx, jobID, event, data)
	if err != nil {
		return off, err
	}
	return off, w.waitAcked(ctx, j, off+1)
}

// Flush waits until every event of jobID queued before the call is acked. It
// returns the job's *EmitError if the node refused them for good, ctx.Err(), or
// ErrClosed.
func (w *Worker) Flush(ctx context.Context, jobID string) error {
	if w.cfgErr != nil {
		return w.cfgErr
	}
	j := w.known(jobID)
	if j == nil {
		return nil // nothing queued, or its terminal event acked and the job forgotten
	}
	l := j.lockLane()
	target := j.log.next
	l.mu.Unlock()
	return w.waitAcked(ctx, j, target)
}

func (w *Worker) waitAcked(ctx context.Context, j *job, target int64) error {
	l := j.lockLane()
	for {
		if j.log.acked >= target {
			l.mu.Unlock()
			return nil
		}
		if j.err != nil {
			l.mu.Unlock()
			return j.err
		}
		ch := j.wait()
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-w.closing:
			return ErrClosed
		}
		l = j.lockLane()
	}
}

// ResumeJob makes this Worker number jobID's events from nextOffset on, to
// continue a job that another process emitted into (its state's NextOffset).
// It fails while events of the job are pending here.
func (w *Worker) ResumeJob(jobID string, nextOffset int64) error {
	if w.cfgErr != nil {
		return w.cfgErr
	}
	j := w.lockedJob(jobID)
	defer j.lane.Load().mu.Unlock()
	if err := j.log.resume(nextOffset); err != nil {
		return fmt.Errorf("client: job %s: %w", jobID, err)
	}
	return nil
}

// Stats returns the counters so far.
func (w *Worker) Stats() WorkerStats {
	st := WorkerStats{Emitted: w.emitted.Load(), Acked: w.acked.Load(), Resent: w.resent.Load(),
		Reconnects: w.reconnects.Load(), Moved: w.moved.Load()}
	for _, l := range w.lanes {
		l.mu.Lock()
		for _, j := range l.jobs {
			st.Pending += int64(len(j.log.pend))
		}
		l.mu.Unlock()
	}
	w.errMu.Lock()
	st.Errors = make(map[string]int64, len(w.errs))
	for k, v := range w.errs {
		st.Errors[k] = v
	}
	w.errMu.Unlock()
	return st
}

// Close stops every lane, abandons unacked events (Flush first to keep them),
// and returns once every goroutine of the Worker has exited. It is idempotent.
func (w *Worker) Close() error {
	w.once.Do(func() {
		close(w.closing)
		if w.cancel != nil {
			w.cancel()
		}
		w.wg.Wait()
		if w.ownHC != nil {
			w.ownHC.CloseIdleConnections()
		}
	})
	return nil
}
