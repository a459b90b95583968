package persistence

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// appendReq is one Append waiting for a group commit.
type appendReq struct {
	cancelled <-chan struct{} // the caller's ctx.Done(): skip the write if closed before it is sent
	keys      []string
	args      []any
	vals      []any
	err       error
	done      chan struct{} // receives once vals/err are set
	// callback, when set, gets the reply instead of done (AppendAsync)
	callback func(vals []any, err error)
}

var reqPool = sync.Pool{New: func() any { return &appendReq{done: make(chan struct{}, 1)} }}

// submit queues the append script for the next pipeline and waits for its
// reply. It blocks while the queue is full, until ctx ends.
func (r *Redis) submit(ctx context.Context, keys []string, args []any) ([]any, error) {
	req := reqPool.Get().(*appendReq)
	req.cancelled, req.keys, req.args = ctx.Done(), keys, args
	if err := r.enqueue(ctx, req, true); err != nil {
		*req = appendReq{done: req.done}
		reqPool.Put(req)
		return nil, err
	}
	select {
	case <-req.done:
		vals, err := req.vals, req.err
		*req = appendReq{done: req.done}
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
// Close closes the queue and it is empty.
func (r *Redis) writer() {
	defer r.wg.Done()
	batch := make([]*appendReq, 0, r.cfg.MaxBatch)
	cmds := make([]*redis.Cmd, 0, r.cfg.MaxBatch)
	for {
		req, ok := <-r.queue
		if !ok {
			return
		}
		batch = drain(r.queue, append(batch[:0], req), r.cfg.MaxBatch)
		cmds = r.flush(batch, cmds[:0])
	}
}

// flush sends one pipeline of append scripts and hands every caller its reply.
// Scripts that Redis does not know yet (NOSCRIPT) are sent again with EVAL.
// The pipeline runs without a ctx deadline: Config's timeouts bound it, and
// Close waits for it.
func (r *Redis) flush(batch []*appendReq, cmds []*redis.Cmd) []*redis.Cmd {
	ctx := context.Background()
	pipe := r.client.Pipeline()
	for _, req := range batch {
		select {
		case <-req.cancelled:
			cmds = append(cmds, nil)
			continue
		default:
		}
		cmds = append(cmds, appendScript.EvalSha(ctx, pipe, req.keys, req.args...))
	}
	if pipe.Len() > 0 {
		_, _ = pipe.Exec(ctx) // each command carries its own error
	}
	var again redis.Pipeliner
	for i, c := range cmds {
		if c != nil && (errors.Is(c.Err(), redis.ErrNoScript) || redis.HasErrorPrefix(c.Err(), "NOSCRIPT")) {
			if again == nil {
				again = r.client.Pipeline()
			}
			cmds[i] = appendScript.Eval(ctx, again, batch[i].keys, batch[i].args...)
		}
	}
	if again != nil {
		_, _ = again.Exec(ctx)
	}
	for i, req := range batch {
		if cmds[i] == nil {
			req.err = context.Canceled
		} else {
			req.vals, req.err = cmds[i].Slice()
		}
		if req.callback != nil {
			req.callback(req.vals, req.err)
			continue
		}
		req.done <- struct{}{}
	}
	return cmds
}
