package persistence

import (
	"strings"

	"github.com/redis/go-redis/v9"
)

// The Lua scripts of the Redis store. Every script touches only the keys of
// one job, which share a hash slot ({job:<id>}), so they run on Redis Cluster
// too. KEYS are always: 1 state (hash: epoch, owner, jn, base, snap), 2 the
// journal's base name {job:<id>}:log, 3 out (string); the append script gets
// the journal itself instead of its base name.
//
// The layout (format 3) keeps what each event must write small: an append
// journals its events and nothing else, and only every snapshotEvery events
// (and at the terminal event) does it also store the snapshot and the output
// that grew since the last one. So:
//   - the journal is the list {job:<id>}:log:<jn>, jn being the epoch whose
//     takeover named it (see below); its length is the job's last seq;
//   - snap is the state (JSON, without the output) at seq base, and out the
//     output up to base;
//   - the entries after base (the tail) are folded onto snap by whoever reads
//     the state (parseState), chunk texts onto out;
//   - a journal entry is the event's wire object, except that the last entry
//     of each append starts with "+<nextOffset> ": the worker offset after that
//     append, the one thing of the state no event carries.
//
// The journal's name carries its epoch so that the common append, events
// that store no snapshot, needs no script: it is one RPUSHX on the journal of
// the writer's epoch (see Redis.flush). A takeover bumps the epoch and renames
// the journal to the new epoch's name, so a stale owner's RPUSHX finds no key
// and writes nothing; RPUSHX replies the new length, which tells whether the
// events landed at their seqs. The state keeps jn apart from epoch because a
// node still on format 2 may bump the epoch without renaming anything.
//
// Earlier formats: format 2 named the journal {job:<id>}:log and the
// snapshot's seq sseq; format 1 stored seq (the last seq) instead of sseq and
// wrote the snapshot at every append (so a format-1 job has no tail). Reads
// take the journal's base name when jn is absent, and sseq, then seq, when
// base is absent; a takeover (Create of an existing job, Acquire) converts the
// job, so that a node still on an earlier format finds neither sseq nor seq
// and refuses it (ErrCorrupt) instead of appending at a wrong index.
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

// luaJournal sets the Lua local log to the journal of the job, from h, the
// reply of HMGET state epoch jn.
const luaJournal = `
local log = KEYS[2]
if h[2] then log = KEYS[2] .. ':' .. h[2] end
`

// luaReadState replies {code, epoch, base, snap, out, tail...}; the Lua
// locals code, epoch and log are set.
const luaReadState = `
local v = redis.call('HMGET', KEYS[1], 'base', 'sseq', 'seq', 'snap')
local base = v[1] or v[2] or v[3] or '0'
local r = redis.call('LRANGE', log, tonumber(base) or 0, -1)
table.insert(r, 1, code)
table.insert(r, 2, tostring(epoch))
table.insert(r, 3, base)
table.insert(r, 4, v[4] or '')
table.insert(r, 5, redis.call('GET', KEYS[3]) or '')
return r
`

// luaTakeOver bumps the epoch of an existing job, makes the Lua local owner
// its owner, renames its journal to the new epoch's name (converting a job of
// an earlier format), cuts off a tail whose seqs do not match their places
// (luaCutMisplaced; not in the chaosnofence build, whose chaos test must find
// such a tail) and replies as luaReadState.
var luaTakeOver = `
local code, epoch = 0, redis.call('HINCRBY', KEYS[1], 'epoch', 1)
local f = redis.call('HMGET', KEYS[1], 'jn', 'base', 'sseq', 'seq')
local from, log = KEYS[2], KEYS[2] .. ':' .. epoch
if f[1] then from = KEYS[2] .. ':' .. f[1] end
if redis.call('EXISTS', from) == 1 then redis.call('RENAME', from, log) end
local base = f[2] or f[3] or f[4] or '0'
redis.call('HSET', KEYS[1], 'owner', owner, 'jn', epoch, 'base', base)
if not f[2] then redis.call('HDEL', KEYS[1], 'sseq', 'seq') end
` + withoutFencing(luaCutMisplaced) + luaReadState

// luaCutMisplaced pops, from the end of the journal log down to the stored
// snapshot's seq base, the entries whose seq is not their place in it. An
// append whose RPUSHX found the journal shorter or longer than its writer
// knew (a store that lost writes, or a command that ran twice) put its events
// at the wrong seqs; its writer takes them back at once (takeBackScript), and
// this repairs the journal if a takeover came first. An entry whose seq
// cannot be read stops it: the reader refuses it as corrupt, nothing is lost.
// The seq is the first ',"seq":' of the entry: events.Event's encoding
// writes it right after the job id, a JSON string, which cannot hold it
// unescaped.
const luaCutMisplaced = `
local len, b = redis.call('LLEN', log), tonumber(base) or 0
while len > b do
  local e = redis.call('LINDEX', log, -1)
  local i = string.find(e, ',"seq":', 1, true)
  local s = i and tonumber(string.match(e, '^%d+', i + 7))
  if s == nil or s == len then break end
  redis.call('RPOP', log)
  len = len - 1
end
`

// createScript: ARGV = snap, first event, owner.
var createScript = redis.NewScript(`
local owner = ARGV[3]
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2], KEYS[2] .. ':1', KEYS[3])
  redis.call('HSET', KEYS[1], 'epoch', 1, 'owner', owner, 'jn', 1, 'base', 1, 'snap', ARGV[1])
  redis.call('RPUSH', KEYS[2] .. ':1', ARGV[2])
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
local h = redis.call('HMGET', KEYS[1], 'epoch', 'jn')
if not h[1] then return {-1} end
local code, epoch = 0, h[1]
` + luaJournal + luaReadState)

// eventsScript: ARGV = first index, last index (-1: the last entry).
// Replies {0, raw...}.
var eventsScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'epoch', 'jn')
if not h[1] then return {-1} end
` + luaJournal + `
local r = redis.call('LRANGE', log, ARGV[1], ARGV[2])
table.insert(r, 1, 0)
return r
`)

// takeBackScript: KEYS = a journal, ARGV = its length as an RPUSHX of k
// entries replied it, and k. When the RPUSHX did not land at the seqs its
// writer expected, the writer takes its entries back (they are the last k:
// nobody else writes to its epoch's journal), unless the journal changed
// since (a takeover renamed it; luaCutMisplaced repairs it then). Replies 1
// when it took them back.
var takeBackScript = redis.NewScript(`
local n, k = tonumber(ARGV[1]), tonumber(ARGV[2])
if redis.call('LLEN', KEYS[1]) ~= n then return 0 end
if n > k then redis.call('LTRIM', KEYS[1], 0, n - k - 1) else redis.call('DEL', KEYS[1]) end
return 1
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
// catch it): without the append's checks, and nothing of a takeover's
// repair; src otherwise.
func withoutFencing(src string) string {
	if !skipFencing {
		return src
	}
	if src == luaCutMisplaced {
		return ""
	}
	return strings.Replace(strings.Replace(src, epochCheck, "", 1), seqCheck, "", 1)
}

// appendScript appends to one or more jobs in one call (a group commit
// carries the appends of many jobs; on Redis Cluster all of one call's jobs
// share a hash slot). KEYS are the keys of each job in turn: its state and
// the journal of the writer's epoch, and its out only when ARGV has something
// after its entries (a plain append never touches out: one key less to parse
// and look up per job). ARGV holds, for each job in turn, n (the number of its
// arguments that follow), then epoch, last seq, k (the number of events) and
// the k journal entries, then either nothing, or the retention in ms ('0':
// not terminal), or four: snap, output delta (the output after the stored
// snapshot's seq), retention and '1' when the snapshot is stored only if the
// journal holds nothing after the stored one (the writer does not know the
// output in between). The reply holds one array per job, in order.
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
  if snap and ARGV[z] == '1' and tonumber(redis.call('HGET', st, 'base')) ~= last - k then
    if k == 0 then return {-4} end
    snap = false
  end
  local ttl = '0'
  if snap then
    redis.call('HSET', st, 'base', ARGV[a+1], 'snap', ARGV[x])
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
