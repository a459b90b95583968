package persistence

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/actorhub/actorhub/events"
)

// appendReq is one Append waiting for a group commit.
type appendReq struct {
	cancelled <-chan struct{} // the caller's ctx.Done(): skip the write if closed before it is sent
	keys      []any           // the job's keys (strings), boxed once per job and epoch (appendKeys)
	args      []any
	// a plain append of a job whose every append at this epoch went through
	// this store: the RPUSHX that may carry it instead of the script
	// (redis_scripts.go), the job's epoch (args is nil until the script must
	// carry it: scriptArgs), and the length the RPUSHX must reply
	fast    []any
	epoch   uint64
	want    int64
	viaFast bool       // group sent it as fast
	fastCmd *redis.Cmd // the RPUSHX's reply
	vals    []any
	err     error
	done    chan struct{} // receives once vals/err are set
	// AppendAsync's request: onDone gets the outcome instead of done, on the
	// writer goroutine, and the request goes back to reqPool
	onDone func(error)
	st     events.JobState
	evs    []events.Event
	plan   appendPlan
	// buffers an AppendAsync request keeps from one use to the next (an
	// append's arguments live until its pipeline and its fallbacks are
	// done, and the request is reused only after that): the last journal
	// entry (offsetEntry) and the RPUSHX of one event (fast)
	entry   []byte
	fastBuf [3]any
}

// maxKeptEntry bounds the entry buffer a pooled request keeps.
const maxKeptEntry = 4 << 10

// reset clears req for reqPool, keeping its channel and its buffers.
func (req *appendReq) reset() {
	entry := req.entry[:0]
	if cap(entry) > maxKeptEntry {
		entry = nil
	}
	*req = appendReq{done: req.done, entry: entry}
}

// finishAsync hands an AppendAsync request's outcome to its caller and puts
// the request back in the pool.
func (r *Redis) finishAsync(req *appendReq, err error) {
	onDone := req.onDone
	req.reset()
	reqPool.Put(req)
	onDone(err)
}

var reqPool = sync.Pool{New: func() any { return &appendReq{done: make(chan struct{}, 1)} }}

// submit queues the append for the next pipeline and waits for its
// reply. It blocks while the queue is full, until ctx ends.
func (r *Redis) submit(ctx context.Context, keys, args, fast []any, epoch uint64, want int64) ([]any, error) {
	req := reqPool.Get().(*appendReq)
	req.cancelled, req.keys, req.args, req.fast, req.epoch, req.want = ctx.Done(), keys, args, fast, epoch, want
	if err := r.enqueue(ctx, req, true); err != nil {
		req.reset()
		reqPool.Put(req)
		return nil, err
	}
	select {
	case <-req.done:
		vals, err := req.vals, req.err
		req.reset()
		reqPool.Put(req)
		return vals, err
	case <-ctx.Done(): // the writer still owns req; it is not reused
		return nil, fmt.Errorf("waiting for the write (it may still happen): %w", ctx.Err())
	}
}

// enqueue hands req to the writers (sendQueued; closed is read under r.mu,
// which sendQueued holds).
func (r *Redis) enqueue(ctx context.Context, req *appendReq, wait bool) error {
	return sendQueued(ctx, &r.mu, func() bool { return r.closed }, r.closing, r.queue, req, wait)
}

// writer sends what is queued, up to MaxBatch appends per pipeline, until
// Close closes the queue and it is empty. One writer at a time gathers a
// batch (r.gather); the others may meanwhile wait for their pipeline's reply.
func (r *Redis) writer() {
	defer r.wg.Done()
	batch := make([]*appendReq, 0, r.cfg.MaxBatch)
	var calls []scriptCall
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		r.gather.Lock()
		batch = r.gatherBatch(batch[:0], timer)
		r.gather.Unlock()
		if len(batch) == 0 {
			return // closed and empty
		}
		calls = r.flush(batch, calls)
	}
}

// gatherBatch waits for the next append and takes what else is queued. While
// appends arrive faster than one per CommitDelay, it also waits up to
// CommitDelay for more (the group commit's linger): one pipeline and one
// script call then carry several appends, which costs Redis and this node
// far less than one round trip each (measured in docs/BENCHMARKS.md). When
// appends are rare it sends at once. The caller holds r.gather.
func (r *Redis) gatherBatch(batch []*appendReq, timer *time.Timer) []*appendReq {
	req, ok := <-r.queue
	if !ok {
		return batch
	}
	start := time.Now()
	batch = drain(r.queue, append(batch, req), r.cfg.MaxBatch)
	if d := r.cfg.CommitDelay; d > 0 && len(batch) < r.cfg.MaxBatch && math.Float64frombits(r.rate.Load())*d.Seconds() >= 1 {
		timer.Reset(d)
	linger:
		for len(batch) < r.cfg.MaxBatch {
			select {
			case req, ok := <-r.queue:
				if !ok {
					break linger
				}
				batch = append(batch, req)
			case <-timer.C:
				break linger
			}
		}
		timer.Stop()
	}
	// the arrival rate: this batch over the time since the last one began
	if gap := start.Sub(r.lastGather).Seconds(); !r.lastGather.IsZero() && gap > 0 {
		rate := 0.75*math.Float64frombits(r.rate.Load()) + 0.25*float64(len(batch))/max(gap, r.cfg.CommitDelay.Seconds())
		r.rate.Store(math.Float64bits(rate))
	}
	r.lastGather = start
	return batch
}

// flush sends the batch as one pipeline and hands every caller its job's
// reply. A plain append that continues what this store wrote of its job (the
// common case) is one RPUSHX on the journal of its epoch; the others go in
// append scripts, each carrying the appends of up to maxJobsPerCall jobs (of
// one hash slot on Redis Cluster). Scripts that Redis does not know yet
// (NOSCRIPT) are sent again with EVAL, and so is, in the script, an RPUSHX that
// found no journal (its writer was fenced, or the job is gone: the script
// tells which). An RPUSHX that replied another length than its last seq put
// its events at the wrong seqs (see luaCutMisplaced): it is taken back and
// refused. The pipeline runs without a ctx deadline: Config's timeouts bound
// it, and Close waits for it.
func (r *Redis) flush(batch []*appendReq, calls []scriptCall) []scriptCall {
	ctx := context.Background()
	calls = r.group(batch, calls[:0], true)
	scripts := len(calls)
	pipe := r.client.Pipeline()
	sent := scripts > 0
	for _, req := range batch {
		if req.viaFast {
			// not retried by go-redis: a resent RPUSHX would push twice
			req.fastCmd = redis.NewCmd(ctx, req.fast...)
			_ = pipe.Process(ctx, noRetryCmd{req.fastCmd})
			sent = true
		}
	}
	for i := range calls {
		calls[i].cmd = calls[i].run(ctx, pipe, "evalsha", appendScript.Hash())
	}
	wait := r.waitCmd(ctx, pipe)
	if sent {
		_, _ = pipe.Exec(ctx) // each command carries its own error
	}
	var again redis.Pipeliner // what must follow the pipeline's replies, made when first needed
	pipeAgain := func() redis.Pipeliner {
		if again == nil {
			again = r.client.Pipeline()
		}
		return again
	}
	for i := range calls {
		if err := calls[i].cmd.Err(); errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT") {
			calls[i].cmd = calls[i].run(ctx, pipeAgain(), "eval", appendSrc)
		}
	}
	var fenced []*appendReq
	for _, req := range batch {
		if !req.viaFast {
			continue
		}
		n, err := req.fastCmd.Int64()
		k := int64(len(req.fast) - 2)
		req.vals, req.err = nil, err
		switch {
		case err != nil:
		case n == req.want:
			req.vals = replyWritten
		case n == 0:
			req.viaFast = false
			fenced = append(fenced, req)
		default:
			takeBackScript.Eval(ctx, pipeAgain(), []string{req.fast[1].(string)}, n, k)
			req.vals = []any{int64(codeSeq), "", strconv.FormatInt(n-k, 10)}
		}
	}
	if len(fenced) > 0 {
		calls = r.group(fenced, calls, false)
		for i := scripts; i < len(calls); i++ {
			calls[i].cmd = calls[i].run(ctx, pipeAgain(), "eval", appendSrc)
		}
	}
	var waitAgain *redis.Cmd
	if again != nil {
		waitAgain = r.waitCmd(ctx, again)
		_, _ = again.Exec(ctx)
	}
	notReplicated := errors.Join(r.waited(wait), r.waited(waitAgain))
	for _, req := range batch {
		if req.viaFast && req.err == nil && notReplicated != nil {
			req.vals, req.err = nil, notReplicated
		}
	}
	for i := range calls {
		vals, err := calls[i].cmd.Slice()
		if err == nil && notReplicated != nil {
			err = notReplicated // written, not yet safe: not acked (a resend is deduplicated)
		}
		if err == nil && len(vals) != len(calls[i].reqs) {
			err = fmt.Errorf("%w: %d replies to an append of %d jobs", ErrCorrupt, len(vals), len(calls[i].reqs))
		}
		for k, req := range calls[i].reqs {
			req.vals, req.err = nil, err
			if err == nil {
				switch v := vals[k].(type) {
				case []any:
					req.vals = v
				case int64:
					if req.vals = replyWritten; v != codeWritten {
						req.err = fmt.Errorf("%w: append reply %d", ErrCorrupt, v)
					}
				default:
					req.err = fmt.Errorf("%w: append reply of type %T", ErrCorrupt, vals[k])
				}
			}
		}
	}
	for _, req := range batch {
		if req.onDone != nil {
			r.finishAsync(req, r.appendResult(&req.st, req.evs, req.plan, req.vals, req.err))
			continue
		}
		req.done <- struct{}{}
	}
	for i := range calls {
		clear(calls[i].line)
		calls[i] = scriptCall{keys: calls[i].keys[:0], args: calls[i].args[:0], reqs: calls[i].reqs[:0], line: calls[i].line[:0]}
	}
	return calls
}

// noRetryCmd is a command that go-redis must not send again after a failure
// that leaves it unknown whether Redis ran it: a pipeline holding one is not
// retried.
type noRetryCmd struct{ *redis.Cmd }

func (noRetryCmd) NoRetry() bool { return true }

// waitCmd queues WAIT (or WAITAOF) behind a group commit's scripts, on the
// same connection: it returns once the replicas have everything before it.
func (r *Redis) waitCmd(ctx context.Context, pipe redis.Pipeliner) *redis.Cmd {
	if r.cfg.WaitReplicas <= 0 && !r.cfg.WaitAOF {
		return nil
	}
	ms := r.cfg.WaitTimeout.Milliseconds()
	if r.cfg.WaitAOF {
		return pipe.Do(ctx, "WAITAOF", 1, r.cfg.WaitReplicas, ms)
	}
	return pipe.Do(ctx, "WAIT", r.cfg.WaitReplicas, ms)
}

// waited checks a WAIT or WAITAOF reply: nil when the commit is on as many
// replicas (and AOFs) as asked.
func (r *Redis) waited(cmd *redis.Cmd) error {
	if cmd == nil {
		return nil
	}
	v, err := cmd.Result()
	if err != nil {
		return fmt.Errorf("wait for replicas: %w", err)
	}
	local, replicas := int64(1), int64(0)
	switch v := v.(type) {
	case int64: // WAIT
		replicas = v
	case []any: // WAITAOF: [local fsynced, replicas fsynced]
		if len(v) == 2 {
			local, _ = v[0].(int64)
			replicas, _ = v[1].(int64)
		}
	}
	if local < 1 || replicas < int64(r.cfg.WaitReplicas) {
		return fmt.Errorf("written, but on %d of %d replicas (local AOF %d) within %s: not acknowledged", replicas, r.cfg.WaitReplicas, local, r.cfg.WaitTimeout)
	}
	return nil
}

// maxJobsPerCall bounds the jobs of one script call, so that one call does
// not hold Redis (single-threaded) for long.
const maxJobsPerCall = 64

// replyWritten is the reply of every job an append wrote (the script's 1),
// shared: readers of a reply do not change it.
var replyWritten = []any{int64(codeWritten)}

// scriptCall is one append script of a group commit and the appends it carries.
type scriptCall struct {
	keys []any
	args []any
	reqs []*appendReq
	line []any // the command: verb, script, key count, keys, arguments
	cmd  *redis.Cmd
}

// run queues the call on pipe as verb ("evalsha" with the script's hash, or
// "eval" with its source). The command is built here rather than by
// go-redis's EvalSha, which would copy the keys and arguments into a new
// slice and box every key again; Do keeps line, which stays untouched until
// the reply was read. Redis Cluster routes it by its first key (go-redis
// reads the EVAL layout).
func (c *scriptCall) run(ctx context.Context, pipe redis.Pipeliner, verb, script string) *redis.Cmd {
	c.line = append(append(append(c.line[:0], verb, script, int64(len(c.keys))), c.keys...), c.args...)
	return pipe.Do(ctx, c.line...)
}

// group marks the batch's appends (those whose caller still waits) that go
// as an RPUSHX, when fast, and puts the others into script calls: on a
// single server in order, up to maxJobsPerCall per call; on Redis Cluster per
// hash slot, since one call may only touch keys of one slot. A job's appends
// keep their order: the calls run in order, after the RPUSHXs (flush), and
// an append of a job that has one in a script before it goes in a script too.
func (r *Redis) group(batch []*appendReq, calls []scriptCall, fast bool) []scriptCall {
	_, cluster := r.client.(*redis.ClusterClient)
	open := map[int]int{} // slot → index of its call that still has room
	var scripted map[any]bool
	for _, req := range batch {
		req.viaFast = false
		select {
		case <-req.cancelled:
			req.err = context.Canceled // its caller gave up before the send
			continue
		default:
		}
		if fast && req.fast != nil && !scripted[req.keys[0]] {
			req.viaFast = true
			continue
		}
		if fast {
			if scripted == nil {
				scripted = map[any]bool{}
			}
			scripted[req.keys[0]] = true
		}
		if req.args == nil {
			req.args = scriptArgs(req.epoch, req.want, req.fast)
		}
		slot := -1
		if cluster {
			slot = keySlot(req.keys[0].(string))
		}
		i, ok := open[slot]
		if !ok || len(calls[i].reqs) == maxJobsPerCall {
			i = len(calls)
			if i < cap(calls) {
				calls = calls[:i+1] // reuses the slices flush emptied
			} else {
				calls = append(calls, scriptCall{})
			}
			open[slot] = i
		}
		c := &calls[i]
		c.keys = append(c.keys, req.keys...)
		c.args = append(c.args, len(req.args))
		c.args = append(c.args, req.args...)
		c.reqs = append(c.reqs, req)
	}
	return calls
}
