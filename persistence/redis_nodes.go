package persistence

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/actorhub/actorhub/events"
)

// nodesKey is the sorted set of the nodes that use the store, each scored by
// the Redis server's time (ms) of its last heartbeat: the witness a node asks
// whether the members it cannot reach are gone or only cut off from it.
const nodesKey = "ah:nodes"

// heartbeatScript: ARGV = node, fresh ms, forget ms. It scores the node with
// the server's clock (so that the nodes' clocks need not agree), drops the
// entries older than forget and returns the nodes heard from within fresh.
var heartbeatScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
return redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[2]), '+inf')
`)

// forgetNodes is how long a node that stopped heartbeating stays in the set.
const forgetNodes = time.Hour

// Heartbeat records that node is up now and returns the nodes (node among
// them) whose last heartbeat is at most fresh old, by the Redis server's
// clock. It implements cluster.Witness.
func (r *Redis) Heartbeat(ctx context.Context, node string, fresh time.Duration) ([]string, error) {
	if r.isClosed() {
		return nil, ErrClosed
	}
	v, err := heartbeatScript.Run(ctx, r.client, []string{nodesKey}, node, fresh.Milliseconds(), forgetNodes.Milliseconds()).StringSlice()
	if err != nil {
		return nil, r.fail("heartbeat", err)
	}
	return v, nil
}

// Leave removes node's heartbeat: a node that stops is not waited for.
func (r *Redis) Leave(ctx context.Context, node string) error {
	if r.isClosed() {
		return ErrClosed
	}
	if err := r.client.ZRem(ctx, nodesKey, node).Err(); err != nil {
		return r.fail(fmt.Sprintf("remove the heartbeat of %s", node), err)
	}
	return nil
}

// Journal returns every entry of a job's journal as it is stored, each event
// with the seq it carries, without checking that the seqs follow each other
// (Events refuses such a journal as corrupt): for audits, such as the chaos
// harness's check that no two writers ever appended to one job.
func (r *Redis) Journal(ctx context.Context, jobID string) ([]events.Event, error) {
	if r.isClosed() {
		return nil, ErrClosed
	}
	action := "read the journal of job " + jobID
	vals, err := r.run(ctx, eventsScript, jobKeys(jobID), 0, -1)
	if err != nil {
		return nil, r.fail(action, err)
	}
	if replyCode(vals) == codeNotFound {
		return nil, nil // no job, no entry
	}
	out := make([]events.Event, 0, len(vals))
	for i, v := range vals[1:] {
		s, _ := v.(string)
		raw, _, _, err := splitEntry([]byte(s))
		if err == nil {
			var ev events.Event
			if ev, err = events.DecodeEvent(raw); err == nil {
				out = append(out, ev)
				continue
			}
		}
		return out, fmt.Errorf("%w: journal of job %s, entry %d: %v", ErrCorrupt, jobID, i+1, err)
	}
	return out, nil
}
