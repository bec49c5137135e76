"""The Lua script behind :class:`RedisQuotaStore`: every quota decision, atomic, on Redis time.

One script, one ``EVALSHA`` per operation (``acquire``, ``release``, ``restore``,
``epoch``, ``pause``, ``observe``, ``status``, ``forecast``). Redis runs a script
atomically, so checking every window and reserving a slot in all of them is all or
nothing, and the time it reads (``TIME``) is the server's, never a worker's.

Keys (all under ``planner:{<prefix>}:<role>:``, see :mod:`._keys`; all with TTLs):

- ``KEYS[1]`` pause: the cool-down's end (Redis time, seconds) while one runs;
- ``KEYS[2]`` seq: the counter that names slots;
- ``KEYS[3]`` epoch: which incarnation of the data this is (see *State loss*); it lives
  one longest period beyond the last entry of any other key;
- ``KEYS[4]`` waiting: set while some caller waits, so a release knows to publish;
- ``KEYS[3 + 2i]`` done(i): window ``i``'s sorted set of completed slots, scored by
  the time they free (completion + period, + grace when abandoned); phantoms adopted
  from the server's ``X-Rate-Limit-Remaining`` live here too;
- ``KEYS[4 + 2i]`` fly(i): window ``i``'s slots in flight, scored by their *lease*:
  reservation + lease + period. A worker that dies holding a slot frees it then.
- the last key, lane: when an interactive acquire was last seen (see *Lanes*).

All keys of one store share one hash tag, so a call never spans Redis Cluster slots.

Arguments: ``ARGV[1]`` the operation, ``ARGV[2]`` an injected time (``""`` in
production: tests use it to drive the script on a schedule, see
``tests/test_redis_quota_sim.py``), ``ARGV[3]`` the pub/sub channel, ``ARGV[4]`` the
number of windows ``n``, then ``n`` pairs ``(limit, hold)`` (hold = period + margin),
then the operation's own arguments. Entries expired at ``now`` are trimmed before each
count (``ZREMRANGEBYSCORE``), so every call is O(log n) plus what it removes.

Lanes: ``acquire`` and ``forecast`` end their arguments with a lane (``interactive`` or
``batch``), the lane memory (seconds) and one reserve per window. An interactive
acquire, admitted or not, stamps the lane key with now. A batch request is admitted only
while, in every window, ``used + 1 <= limit - reserve``, where the reserve applies while
the stamp is younger than the lane memory (0 otherwise): a batch job alone gets the whole
window, and while interactive traffic is about it leaves the last slots to it. A refused
batch acquire waits for the earlier of "enough slots free to clear the reserve" and "the
stamp ages out (and a slot is free then)".

State loss: the epoch key is created with the data. When it is missing (Redis restarted
without persistence, the database was flushed, or every key expired) the script writes a
new epoch, publishes ``lost``, and refuses callers whose epoch is older until they have put
back (``restore``) the slots they still know of. It also pauses admissions for
``recovery`` seconds, so those slots are back before new ones are given, unless nobody
can hold any: the caller holds none, and no other process's listener heard ``lost`` (a
brand-new prefix starts at once).
"""

from __future__ import annotations

from typing import Final

__all__ = ["QUOTA_LUA", "TOKEN_CAS_LUA", "TOKEN_CLEAR_LUA", "UNLOCK_LUA"]

QUOTA_LUA: Final = r"""
local op = ARGV[1]
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local channel = ARGV[3]
local n = tonumber(ARGV[4])
local limits, holds = {}, {}
for i = 1, n do
  limits[i] = tonumber(ARGV[3 + 2 * i])
  holds[i] = tonumber(ARGV[4 + 2 * i])
end
local a = 5 + 2 * n
local PAUSE, SEQ, EPOCH, WAITING = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

local LANE = KEYS[#KEYS]

local function fmt(x) return string.format('%.17g', x) end
local function done(i) return KEYS[3 + 2 * i] end
local function fly(i) return KEYS[4 + 2 * i] end

local longest = 0
for i = 1, n do longest = math.max(longest, holds[i]) end

-- Every key lives until its last entry frees; the epoch one longest period longer.
local function keep_until(key, t)
  local ms = math.ceil((t - now) * 1000) + 1000
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
  ms = ms + math.ceil(longest * 1000)
  if redis.call('PTTL', EPOCH) < ms then redis.call('PEXPIRE', EPOCH, ms) end
end

local function used(i)
  redis.call('ZREMRANGEBYSCORE', done(i), '-inf', fmt(now))
  redis.call('ZREMRANGEBYSCORE', fly(i), '-inf', fmt(now))
  return redis.call('ZCARD', done(i)) + redis.call('ZCARD', fly(i))
end

local function paused_until()
  return tonumber(redis.call('GET', PAUSE) or '-1') or -1
end

local function add_done(i, member, t)
  redis.call('ZADD', done(i), fmt(t), member)
  keep_until(done(i), t)
end

-- When window i admits one more after `ahead` others: {core, earliest, lease}.
-- core is inf when requests in flight decide; lease is when the next lease runs out.
local function ready(i, u, ahead)
  local k = u - limits[i] + 1 + ahead
  if k <= 0 then return now, now, now end
  local nd = redis.call('ZCARD', done(i))
  if k <= nd then
    local t = tonumber(redis.call('ZRANGE', done(i), k - 1, k - 1, 'WITHSCORES')[2])
    return t, t, t
  end
  local j = math.min(k - nd, redis.call('ZCARD', fly(i)))
  local lease = math.huge
  if j >= 1 then
    lease = tonumber(redis.call('ZRANGE', fly(i), j - 1, j - 1, 'WITHSCORES')[2])
  end
  return math.huge, now + holds[i], lease
end

-- {core, earliest, lease} when every window admits one more after `ahead` others while
-- leaving reserve[i] of window i free, and not before the pause ends.
local function when(counts, ahead, reserve)
  local p = math.max(now, paused_until())
  local core, earliest, lease = p, p, p
  for i = 1, n do
    local c, lo, le = ready(i, counts[i], ahead + reserve[i])
    core, earliest, lease = math.max(core, c), math.max(earliest, lo), math.max(lease, le)
  end
  return core, earliest, lease
end

-- The lane arguments, last in ARGV: lane, lane memory, then one reserve per window.
-- Returns the reserves that apply now and, when they do, the time they stop applying.
-- An interactive call stamps the lane key (when `stamp`), a batch one reads it.
local function lanes(stamp)
  local j = #ARGV - n - 1
  local lane, memory = ARGV[j], tonumber(ARGV[j + 1])
  local reserve, none = {}, {}
  for i = 1, n do reserve[i], none[i] = 0, 0 end
  if lane == 'interactive' then
    if stamp then
      redis.call('SET', LANE, fmt(now), 'PX', math.ceil(memory * 1000) + 60000)
    end
    return reserve, none, nil
  end
  local seen = tonumber(redis.call('GET', LANE) or '')
  if seen == nil or now >= seen + memory then return reserve, none, nil end
  for i = 1, n do reserve[i] = tonumber(ARGV[j + 1 + i]) end
  return reserve, none, seen + memory
end

-- when(), for a lane: the earlier of clearing the reserve and its ageing out.
local function lane_when(counts, ahead, reserve, none, ends)
  local core, earliest, lease = when(counts, ahead, reserve)
  if ends == nil then return core, earliest, lease end
  local c, lo, le = when(counts, ahead, none)
  return math.min(core, math.max(ends, c)), math.min(earliest, math.max(ends, lo)),
    math.min(lease, math.max(ends, le))
end

-- A missing epoch: a brand-new prefix, data that expired, or data lost (a restart without
-- persistence, a flush). Admissions pause for `recovery` only when some live process may
-- hold slots to put back: the caller says whether it does, and whether its own listener
-- is among those that hear the announcement.
local function epoch_check(mine, recovery, listening, holding)
  local e = redis.call('GET', EPOCH)
  if not e then
    e = fmt(now)
    redis.call('SET', EPOCH, e, 'PX', math.ceil(longest * 1000) + 1000)
    local heard = redis.call('PUBLISH', channel, 'lost')
    local until_ = now + recovery
    if (heard > listening or holding > 0) and paused_until() < until_ then
      redis.call('SET', PAUSE, fmt(until_), 'PX', math.ceil(recovery * 1000) + 1000)
    end
    if mine ~= '' then return e, true end
  elseif mine ~= '' and mine ~= e then
    return e, true
  end
  return e, false
end

if op == 'acquire' then
  local ahead, lease, mine = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ARGV[a + 2]
  local e, lost = epoch_check(
    mine, tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5]))
  if lost then return {'lost', e} end
  local reserve, none, ends = lanes(true)
  local counts, free = {}, now >= paused_until()
  for i = 1, n do
    counts[i] = used(i)
    if counts[i] + reserve[i] >= limits[i] then free = false end
  end
  if free then
    local id = e .. ':' .. tostring(redis.call('INCR', SEQ))
    for i = 1, n do
      local t = now + lease + holds[i]
      redis.call('ZADD', fly(i), fmt(t), id)
      keep_until(fly(i), t)
      keep_until(SEQ, t)
    end
    return {'ok', e, fmt(now), id}
  end
  local core, earliest, fallback = lane_when(counts, ahead, reserve, none, ends)
  redis.call('SET', WAITING, '1', 'PX', 60000)
  return {'wait', e, fmt(now), fmt(core - now), fmt(earliest - now), fmt(fallback - now)}
end

if op == 'epoch' then
  local e, lost = epoch_check(
    ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]))
  if lost then return {'lost', e} end
  return {'ok', e}
end

-- Adopt the server's X-Rate-Limit-* word (ARGV[j]: limit or '', remaining, reset or '').
local function adopt(j)
  local limit, remaining, reset = tonumber(ARGV[j]), tonumber(ARGV[j + 1]), tonumber(ARGV[j + 2])
  local chosen = {}
  for i = 1, n do
    if limit ~= nil and limits[i] == limit then table.insert(chosen, i) end
  end
  if #chosen == 0 and n == 1 then chosen = {1} end
  for _, i in ipairs(chosen) do
    local extra = (limits[i] - used(i)) - math.max(0, remaining)
    for k = 1, extra do
      local t = now + holds[i]
      if k == 1 and reset ~= nil then t = now + math.min(math.max(reset, 0), holds[i]) end
      add_done(i, 'p' .. tostring(redis.call('INCR', SEQ)), t)
      keep_until(SEQ, now + holds[i])
    end
  end
end

if op == 'release' then
  -- ARGV[a..a+2]: slot, outcome, grace; then, when headers came with it, what adopt() reads.
  local id, outcome, grace = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  for i = 1, n do
    redis.call('ZREM', fly(i), id)
    if outcome == 'complete' then add_done(i, id, now + holds[i])
    elseif outcome == 'abandon' then add_done(i, id, now + grace + holds[i]) end
  end
  if ARGV[a + 4] ~= nil then adopt(a + 3) end
  if redis.call('DEL', WAITING) == 1 then redis.call('PUBLISH', channel, 'freed') end
  return {'ok', fmt(now)}
end

if op == 'restore' then
  -- ARGV[a]: the epoch restored into; then per window: count, then (member, score) pairs
  -- for done, then count and pairs for fly.
  local j = a + 1
  for i = 1, n do
    for _, key in ipairs({done(i), fly(i)}) do
      local c = tonumber(ARGV[j]); j = j + 1
      for _ = 1, c do
        local member, t = ARGV[j], tonumber(ARGV[j + 1]); j = j + 2
        if t > now then
          redis.call('ZADD', key, 'GT', fmt(t), member)
          keep_until(key, t)
        end
      end
    end
  end
  return {'ok', fmt(now)}
end

if op == 'pause' then
  local until_ = now + tonumber(ARGV[a])
  if paused_until() < until_ then
    redis.call('SET', PAUSE, fmt(until_), 'PX', math.ceil((until_ - now) * 1000) + 1000)
  end
  return {'ok', fmt(now)}
end

if op == 'observe' then
  adopt(a)
  return {'ok', fmt(now)}
end

if op == 'forecast' then
  -- ARGV[a]: how many requests; then the lane arguments. Reads only (and trims).
  local reserve, none, ends = lanes(false)
  local counts = {}
  for i = 1, n do counts[i] = used(i) end
  local core = lane_when(counts, tonumber(ARGV[a]) - 1, reserve, none, ends)
  return {fmt(core - now)}
end

if op == 'status' then
  local p = paused_until()
  local out = {fmt(math.max(0, p - now))}
  for i = 1, n do
    local u = used(i)
    local c = ready(i, u, 0)
    table.insert(out, tostring(u))
    table.insert(out, fmt(math.max(0, c - now)))
  end
  return out
end

return redis.error_reply('unknown operation ' .. op)
"""
"""The quota script; see the module docstring for its keys and arguments."""

_GENERATION = r"""
-- The stored generation; a value that is not a plain decimal count reads as 0.
local function generation()
  local raw = redis.call('HGET', KEYS[1], 'gen')
  if raw and #raw <= 15 and string.match(raw, '^%d+$') then return tonumber(raw) end
  return 0
end
"""

TOKEN_CAS_LUA: Final = (
    _GENERATION
    + r"""
-- KEYS[1] the token hash {gen, data}; ARGV: expected generation, data, ttl in ms.
local gen = generation()
if gen ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], 'gen', gen + 1, 'data', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return gen + 1
"""
)
"""Compare-and-set of the token state: save only if nobody saved since ``expected``."""

TOKEN_CLEAR_LUA: Final = (
    _GENERATION
    + r"""
local gen = generation()
if gen ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], 'gen', gen + 1)
redis.call('HDEL', KEYS[1], 'data')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return gen + 1
"""
)
"""Forget the token state if the generation is still the expected one."""

UNLOCK_LUA: Final = r"""
-- KEYS[1] the lease; ARGV[1] our token; ARGV[2] 'release' or a new TTL in ms.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'release' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""
"""Release or extend the renewal lease, only while it is still ours."""
