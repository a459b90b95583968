package persistence

import (
	"strings"

	"github.com/redis/go-redis/v9"
)

// The Lua scripts of the Redis store. Every script touches only the keys of
// one job, which share a hash slot ({job:<id>}), so they run on Redis Cluster
// too. KEYS are always: 1 state (hash: epoch, owner, sseq, snap), 2 log (list
// of journal entries, index = seq-1), 3 out (string).
//
// The layout (format 2) keeps what each event must write small: an append
// journals its events and nothing else, and only every snapshotEvery events
// (and at the terminal event) does it also store the snapshot and the output
// that grew since the last one. So:
//   - the log's length is the job's last seq;
//   - snap is the state (JSON, without the output) at seq sseq, and out the
//     output up to sseq;
//   - the entries after sseq (the tail) are folded onto snap by whoever reads
//     the state (parseState), chunk texts onto out;
//   - a journal entry is the event's wire object, except that the last entry
//     of each append starts with "+<nextOffset> ": the worker offset after that
//     append, the one thing of the state no event carries.
//
// Format 1 stored seq (the last seq) instead of sseq and wrote the snapshot at
// every append. Reads take seq for sseq when sseq is absent (a format-1 job
// has no tail), and a takeover (Create of an existing job, Acquire) renames
// it, so that a node still on format 1 finds no seq and refuses the job
// (ErrCorrupt, or a seq refusal) instead of appending at a wrong index.
//
// Replies are arrays whose first element is a code: 1 written, 2 already
// written (a retried append), 0 read, -1 no such job, -2 fenced by epoch,
// -3 journal not at the expected seq, -4 a snapshot-only append that could
// not be stored (see appendScript).
const (
	codeWritten  = 1
	codeRetried  = 2
	codeRead     = 0
	codeNotFound = -1
	codeEpoch    = -2
	codeSeq      = -3
	codeNoSnap   = -4
)

// luaReadState replies {code, epoch, sseq, snap, out, tail...}; the Lua
// locals code and epoch are set.
const luaReadState = `
local v = redis.call('HMGET', KEYS[1], 'sseq', 'seq', 'snap')
local sseq = v[1] or v[2] or '0'
local r = redis.call('LRANGE', KEYS[2], tonumber(sseq) or 0, -1)
table.insert(r, 1, code)
table.insert(r, 2, tostring(epoch))
table.insert(r, 3, sseq)
table.insert(r, 4, v[3] or '')
table.insert(r, 5, redis.call('GET', KEYS[3]) or '')
return r
`

// luaTakeOver bumps the epoch of an existing job, makes the Lua local owner
// its owner, moves a format-1 seq to sseq and replies as luaReadState.
const luaTakeOver = `
local code, epoch = 0, redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'owner', owner)
local old = redis.call('HGET', KEYS[1], 'seq')
if old then
  redis.call('HSET', KEYS[1], 'sseq', old)
  redis.call('HDEL', KEYS[1], 'seq')
end
` + luaReadState

// createScript: ARGV = snap, first event, owner.
var createScript = redis.NewScript(`
local owner = ARGV[3]
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2], KEYS[3])
  redis.call('HSET', KEYS[1], 'epoch', 1, 'owner', owner, 'sseq', 1, 'snap', ARGV[1])
  redis.call('RPUSH', KEYS[2], ARGV[2])
  return {1, '1', '1', ARGV[1], ''}
end
` + luaTakeOver)

// acquireScript: ARGV = owner.
var acquireScript = redis.NewScript(`
local owner = ARGV[1]
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
` + luaTakeOver)

// snapshotScript reads the state as luaReadState replies it, at one instant.
var snapshotScript = redis.NewScript(`
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then return {-1} end
local code = 0
` + luaReadState)

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

// epochCheck and seqCheck are the append's fencing: a job's events are
// written only by the owner of its current epoch, right after the last one.
// The check of the seq comes after the push (RPUSH replies the length, so
// the common case costs no LLEN): a push at the wrong place is taken back
// before the script replies, and a script runs alone, so nobody sees it.
const (
	epochCheck = `  if e ~= ARGV[a] then return {-2, e, tostring(redis.call('LLEN', log))} end`
	seqCheck   = `  if len ~= last - k then
    if k > 0 then
      if len > 0 then redis.call('LTRIM', log, 0, len - 1) else redis.call('DEL', log) end
      if len >= last and redis.call('LINDEX', log, last - 1) == ARGV[a+2+k] then
        return {2}
      end
    end
    return {-3, e, tostring(len)}
  end`
)

// withoutFencing returns src without the fencing when skipFencing (the
// chaosnofence build, deliberately broken for the chaos test that must
// catch it); src otherwise.
func withoutFencing(src string) string {
	if !skipFencing {
		return src
	}
	return strings.Replace(strings.Replace(src, epochCheck, "", 1), seqCheck, "", 1)
}

// appendScript appends to one or more jobs in one call (a group commit
// carries the appends of many jobs; on Redis Cluster all of one call's jobs
// share a hash slot). KEYS are the keys of each job in turn: its state and
// log, and its out only when ARGV has something after its entries (a plain
// append, the common case, never touches out: one key less to parse and look
// up per job). ARGV holds,
// for each job in turn, n (the number of its arguments that follow), then
// epoch, last seq, k (the number of events) and the k journal entries, then
// either nothing, or the retention in ms ('0': not terminal), or four: snap,
// output delta (the output after the stored snapshot's seq), retention and
// '1' when the snapshot is stored only if the journal holds nothing after
// the stored one (the writer does not know the output in between). The reply
// holds one array per job, in order.
//
// A job's append writes only when the job is at that epoch and its journal
// ends just before its first event. An append that was already written (its
// last entry is in the journal at last seq: a retry after a lost reply)
// succeeds without writing again. One job's refusal does not touch the
// others.
var appendScript = redis.NewScript(appendSrc)

// appendSrc is appendScript's source, for EVAL when Redis lost the script
// (without the fencing in the chaosnofence build).
var appendSrc = withoutFencing(appendChecked)

// appendChecked is the append script. A job's reply is the integer 1 when it
// was written (the common case, which costs the reply no array), else an
// array whose first element is its code.
const appendChecked = `
local function append(st, log, out, a, z)
  local e = redis.call('HGET', st, 'epoch')
  if not e then return {-1} end
` + epochCheck + `
  local last, k = tonumber(ARGV[a+1]), tonumber(ARGV[a+2])
  local len = 0
  if k == 0 then len = redis.call('LLEN', log) end
  for i = a + 3, a + 2 + k, 1000 do -- unpack's bound on values
    len = redis.call('RPUSH', log, unpack(ARGV, i, math.min(i + 999, a + 2 + k)))
  end
  len = len - k -- the journal's length before this append
` + seqCheck + `
  local x = a + 3 + k -- the first of the 0, 1 (retention) or 4 arguments after the entries
  local snap = z - x == 3
  if snap and ARGV[z] == '1' and tonumber(redis.call('HGET', st, 'sseq')) ~= last - k then
    if k == 0 then return {-4} end
    snap = false
  end
  local ttl = '0'
  if snap then
    redis.call('HSET', st, 'sseq', ARGV[a+1], 'snap', ARGV[x])
    if ARGV[x+1] ~= '' then redis.call('APPEND', out, ARGV[x+1]) end
    ttl = ARGV[x+2]
  elseif x == z then
    ttl = ARGV[z]
  end
  if ttl ~= '0' then
    redis.call('PEXPIRE', st, ttl)
    redis.call('PEXPIRE', log, ttl)
    redis.call('PEXPIRE', out, ttl)
  end
  return 1
end
local res, a, k = {}, 1, 1
while k <= #KEYS do
  local n = tonumber(ARGV[a])
  local z = a + n
  if z == a + 3 + tonumber(ARGV[a+3]) then -- a plain append: two keys (state, log)
    res[#res + 1] = append(KEYS[k], KEYS[k+1], nil, a + 1, z)
    k = k + 2
  else
    res[#res + 1] = append(KEYS[k], KEYS[k+1], KEYS[k+2], a + 1, z)
    k = k + 3
  end
  a = z + 1
end
return res
`
