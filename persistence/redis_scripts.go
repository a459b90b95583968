package persistence

import "github.com/redis/go-redis/v9"

// The Lua scripts of the Redis store. Every script touches only the keys of
// one job, which share a hash slot ({job:<id>}), so they run on Redis Cluster
// too. KEYS are always: 1 state (hash: epoch, owner, seq, snap), 2 log (list of
// raw events, index = seq-1), 3 out (string).
//
// Replies are arrays whose first element is a code: 1 written, 2 already
// written (a retried append), 0 read, -1 no such job, -2 fenced by epoch,
// -3 journal not at the expected seq.
const (
	codeWritten  = 1
	codeRetried  = 2
	codeRead     = 0
	codeNotFound = -1
	codeEpoch    = -2
	codeSeq      = -3
)

// luaTakeOver bumps the epoch of an existing job, makes the Lua local owner
// its owner and replies {0, epoch, seq, snap, out}.
const luaTakeOver = `
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'owner', owner)
local v = redis.call('HMGET', KEYS[1], 'seq', 'snap')
return {0, tostring(epoch), v[1], v[2], redis.call('GET', KEYS[3]) or ''}
`

// createScript: ARGV = snap, first event, owner.
var createScript = redis.NewScript(`
local owner = ARGV[3]
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2], KEYS[3])
  redis.call('HSET', KEYS[1], 'epoch', 1, 'owner', owner, 'seq', 1, 'snap', ARGV[1])
  redis.call('RPUSH', KEYS[2], ARGV[2])
  return {1, '1', '1', ARGV[1], ''}
end
` + luaTakeOver)

// acquireScript: ARGV = owner.
var acquireScript = redis.NewScript(`
local owner = ARGV[1]
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
` + luaTakeOver)

// snapshotScript reads {0, epoch, seq, snap, out} at one instant.
var snapshotScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'epoch', 'seq', 'snap')
if not v[1] then return {-1} end
return {0, v[1], v[2], v[3], redis.call('GET', KEYS[3]) or ''}
`)

// eventsScript: ARGV = first index, last index. Replies {0, raw...}.
var eventsScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local r = redis.call('LRANGE', KEYS[2], ARGV[1], ARGV[2])
table.insert(r, 1, 0)
return r
`)

// releaseScript: ARGV = epoch.
var releaseScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'epoch') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'owner', '')
  return {1}
end
return {0}
`)

// appendScript: ARGV = epoch, first seq, last seq, snap, output delta,
// retention ms ('0': not terminal), raw events... It writes only when the job
// is at that epoch and its journal ends just before first seq. An append that
// was already written (its last event is in the journal at last seq: a retry
// after a lost reply) succeeds without writing again.
var appendScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'epoch', 'seq')
if not cur[1] then return {-1} end
if cur[1] ~= ARGV[1] then return {-2, cur[1], cur[2] or ''} end
local seq = tonumber(cur[2]) or -1
local first, last = tonumber(ARGV[2]), tonumber(ARGV[3])
if seq ~= first - 1 then
  if #ARGV > 6 and seq >= last and redis.call('LINDEX', KEYS[2], last - 1) == ARGV[#ARGV] then
    return {2}
  end
  return {-3, cur[1], cur[2] or ''}
end
for i = 7, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
if ARGV[5] ~= '' then redis.call('APPEND', KEYS[3], ARGV[5]) end
redis.call('HSET', KEYS[1], 'seq', ARGV[3], 'snap', ARGV[4])
if ARGV[6] ~= '0' then
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
end
return {1}
`)
