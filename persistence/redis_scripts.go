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

// appendScript appends to one or more jobs in one call (a group commit
// carries the appends of many jobs; on Redis Cluster all of one call's jobs
// share a hash slot). KEYS are the three keys of each job in turn; ARGV holds,
// for each job in turn, n (the number of its arguments that follow), then
// epoch, first seq, last seq, snap, output delta, retention ms ('0': not
// terminal) and its raw events. The reply holds one array per job, in order.
//
// A job's append writes only when the job is at that epoch and its journal
// ends just before first seq. An append that was already written (its last
// event is in the journal at last seq: a retry after a lost reply) succeeds
// without writing again. One job's refusal does not touch the others.
var appendScript = redis.NewScript(`
local function append(st, log, out, a, z)
  local cur = redis.call('HMGET', st, 'epoch', 'seq')
  if not cur[1] then return {-1} end
  if cur[1] ~= ARGV[a] then return {-2, cur[1], cur[2] or ''} end
  local seq = tonumber(cur[2]) or -1
  local first, last = tonumber(ARGV[a+1]), tonumber(ARGV[a+2])
  if seq ~= first - 1 then
    if z > a + 5 and seq >= last and redis.call('LINDEX', log, last - 1) == ARGV[z] then
      return {2}
    end
    return {-3, cur[1], cur[2] or ''}
  end
  for i = a + 6, z do redis.call('RPUSH', log, ARGV[i]) end
  if ARGV[a+4] ~= '' then redis.call('APPEND', out, ARGV[a+4]) end
  redis.call('HSET', st, 'seq', ARGV[a+2], 'snap', ARGV[a+3])
  if ARGV[a+5] ~= '0' then
    redis.call('PEXPIRE', st, ARGV[a+5])
    redis.call('PEXPIRE', log, ARGV[a+5])
    redis.call('PEXPIRE', out, ARGV[a+5])
  end
  return {1}
end
local res, a = {}, 1
for k = 1, #KEYS, 3 do
  local n = tonumber(ARGV[a])
  res[#res + 1] = append(KEYS[k], KEYS[k+1], KEYS[k+2], a + 1, a + n)
  a = a + n + 1
end
return res
`)
