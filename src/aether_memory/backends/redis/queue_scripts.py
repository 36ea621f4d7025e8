"""Lua scripts of the task queues. Each queue's keys (`core.keys.QueueKeys`) share the
namespace's hash tag, so every script runs on one cluster shard; each is one round trip.

A task's state is one JSON object in the queue's ``meta`` hash (``cjson``, built into every
Redis since 2.6): ``p`` priority, ``a`` deliveries so far, ``c`` created (ms), ``u`` due (ms),
``d`` dedupe key, ``w`` worker, ``t`` lease token, ``e`` last error. The ``ready`` zset scores
``(100 - priority) * 1e13 + due``: highest priority first, then oldest due, then id (ties
in a zset sort by member, and ids sort by creation) — exact in a double up to 2**53.
"""

from __future__ import annotations

# Shared by the scripts: a task id's ready score, and "this token holds the lease on id".
_COMMON = """
local function ready_score(m) return (100 - m.p) * 1e13 + m.u end
local function leased(kin, kmeta, id, token)
  local raw = redis.call('HGET', kmeta, id)
  if not raw or not redis.call('ZSCORE', kin, id) then return nil end
  local m = cjson.decode(raw)
  if m.t ~= token then return nil end
  return m
end
"""

# KEYS: ready, delayed, meta, body, dedupe, wake
# ARGV: id, body, priority, delay ms, dedupe key ('' none), now ms
# Returns the id of the task the queue holds: `id`, or the task that already has the dedupe
# key (or this id: a put replayed after it landed adds nothing).
PUT = (
    _COMMON
    + """
if ARGV[5] ~= '' then
  local held = redis.call('HGET', KEYS[5], ARGV[5])
  if held then return held end
end
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return ARGV[1] end
local now, delay = tonumber(ARGV[6]), tonumber(ARGV[4])
local m = {p = tonumber(ARGV[3]), a = 0, c = now, u = now + delay, d = ARGV[5], w = '', t = '',
  e = ''}
redis.call('HSET', KEYS[3], ARGV[1], cjson.encode(m))
redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[5], ARGV[5], ARGV[1]) end
if delay > 0 then
  redis.call('ZADD', KEYS[2], m.u, ARGV[1])
else
  redis.call('ZADD', KEYS[1], ready_score(m), ARGV[1])
  -- One token per ready task wakes one blocked claim; bounded, as nobody may be waiting.
  redis.call('RPUSH', KEYS[6], '1')
  redis.call('LTRIM', KEYS[6], -64, -1)
end
return ARGV[1]
"""
)

# KEYS: ready, delayed, inflight, meta, body, dead, stats
# ARGV: now ms, visibility ms, worker, token, max attempts
# First moves due delayed tasks to ready, and tasks whose lease lapsed back to ready (or, at
# max attempts, to dead); then leases the first ready task to `worker` under `token`.
# Returns {id, body, attempts, priority, created, deadline}, or {'', next} when none is ready,
# `next` the ms at which a delayed task falls due or a lease lapses (-1: never).
CLAIM = (
    _COMMON
    + """
local now, max = tonumber(ARGV[1]), tonumber(ARGV[5])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 256)) do
  local m = cjson.decode(redis.call('HGET', KEYS[4], id))
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZADD', KEYS[1], ready_score(m), id)
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 256)) do
  local m = cjson.decode(redis.call('HGET', KEYS[4], id))
  redis.call('ZREM', KEYS[3], id)
  redis.call('HINCRBY', KEYS[7], 'expired', 1)
  m.e = 'not acknowledged within the visibility timeout (worker ' .. m.w .. ')'
  m.t = ''
  if m.a >= max then
    m.u = now
    redis.call('ZADD', KEYS[6], now, id)
  else
    redis.call('ZADD', KEYS[1], ready_score(m), id)
  end
  redis.call('HSET', KEYS[4], id, cjson.encode(m))
end
local first = redis.call('ZPOPMIN', KEYS[1])
if #first == 0 then
  local nd = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  local nl = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  local next = -1
  if #nd > 0 then next = tonumber(nd[2]) end
  if #nl > 0 and (next < 0 or tonumber(nl[2]) < next) then next = tonumber(nl[2]) end
  return {'', tostring(next)}
end
local id = first[1]
local m = cjson.decode(redis.call('HGET', KEYS[4], id))
m.a = m.a + 1
m.w = ARGV[3]
m.t = ARGV[4]
local deadline = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[4], id, cjson.encode(m))
redis.call('ZADD', KEYS[3], deadline, id)
return {id, redis.call('HGET', KEYS[5], id), tostring(m.a), tostring(m.p), tostring(m.c),
  tostring(deadline)}
"""
)

# KEYS: inflight, meta, body, dedupe, stats
# ARGV: id, token
# Completes the task if `token` still holds its lease. Returns 1, or 0 (the lease is lost).
ACK = (
    _COMMON
    + """
local m = leased(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
if not m then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if m.d ~= '' and redis.call('HGET', KEYS[4], m.d) == ARGV[1] then
  redis.call('HDEL', KEYS[4], m.d)
end
redis.call('HINCRBY', KEYS[5], 'acked', 1)
redis.call('HINCRBY', KEYS[5], 'acked:' .. m.w, 1)
return 1
"""
)

# KEYS: inflight, meta, delayed, dead, stats
# ARGV: id, token, error, now ms, max attempts, backoff ms, backoff cap ms
# Returns 0 (the lease is lost), 1 (retried after the backoff) or 2 (dead-lettered).
FAIL = (
    _COMMON
    + """
local m = leased(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
if not m then return 0 end
local now = tonumber(ARGV[4])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[5], 'failed', 1)
redis.call('HINCRBY', KEYS[5], 'failed:' .. m.w, 1)
m.e = ARGV[3]
m.t = ''
local out = 1
if m.a >= tonumber(ARGV[5]) then
  m.u = now
  redis.call('ZADD', KEYS[4], now, ARGV[1])
  out = 2
else
  local wait = math.min(tonumber(ARGV[7]), tonumber(ARGV[6]) * 2 ^ (m.a - 1))
  m.u = now + wait
  redis.call('ZADD', KEYS[3], m.u, ARGV[1])
end
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(m))
return out
"""
)

# KEYS: inflight, meta
# ARGV: id, token, new deadline ms
# Returns 1 if the lease was extended, 0 if it is lost.
EXTEND = (
    _COMMON
    + """
if not leased(KEYS[1], KEYS[2], ARGV[1], ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
return 1
"""
)

# KEYS: ready, delayed, inflight, dead, meta, stats
# ARGV: now ms
# Returns {pending, delayed, in flight, dead, {counter, value, ...}, {worker, held, ...}};
# delayed tasks already due count as pending.
STATS = """
local now = tonumber(ARGV[1])
local due = redis.call('ZCOUNT', KEYS[2], '-inf', now)
local held, out = {}, {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local raw = redis.call('HGET', KEYS[5], id)
  if raw then
    local w = cjson.decode(raw).w
    held[w] = (held[w] or 0) + 1
  end
end
for w, n in pairs(held) do
  out[#out + 1] = w
  out[#out + 1] = n
end
return {redis.call('ZCARD', KEYS[1]) + due, redis.call('ZCARD', KEYS[2]) - due,
  redis.call('ZCARD', KEYS[3]), redis.call('ZCARD', KEYS[4]), redis.call('HGETALL', KEYS[6]), out}
"""

# KEYS: the state's zset (ready, delayed, inflight or dead), meta, body
# ARGV: limit
# Returns {id, score, meta, body, ...} for the first `limit` tasks of that zset.
PEEK = """
local out = {}
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
for i = 1, #ids, 2 do
  local id = ids[i]
  out[#out + 1] = id
  out[#out + 1] = ids[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], id) or ''
  out[#out + 1] = redis.call('HGET', KEYS[3], id) or ''
end
return out
"""

# KEYS: dead, ready, meta, wake
# ARGV: now ms, limit, then the ids to retry (none: the oldest `limit` dead tasks)
# Moves dead tasks back to ready with their delivery count reset; returns how many.
RETRY_DEAD = (
    _COMMON
    + """
local now = tonumber(ARGV[1])
local ids = {}
if #ARGV > 2 then
  for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
else
  ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
end
local moved = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', KEYS[1], id) == 1 then
    local m = cjson.decode(redis.call('HGET', KEYS[3], id))
    m.a = 0
    m.u = now
    redis.call('HSET', KEYS[3], id, cjson.encode(m))
    redis.call('ZADD', KEYS[2], ready_score(m), id)
    redis.call('RPUSH', KEYS[4], '1')
    moved = moved + 1
  end
end
redis.call('LTRIM', KEYS[4], -64, -1)
return moved
"""
)
