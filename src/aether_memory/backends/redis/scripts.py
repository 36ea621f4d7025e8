"""Lua scripts for writes that must be atomic. Every key a script touches is in KEYS and
shares the session's hash tag, so each script runs on one cluster shard."""

from __future__ import annotations

# Checkpoint members are zero-padded so that their order as strings is their numeric order.
CHECKPOINT_WIDTH = 12


def checkpoint_member(n: int) -> str:
    return f"{n:0{CHECKPOINT_WIDTH}d}"


# How long, and for how many writes, a key of applied write ids remembers one: a write
# retried (by redis-py, by a caller, or by an outbox replay after a crash) within this window
# is recognised and not applied again.
APPLIED_WINDOW_MS = 24 * 3600 * 1000
APPLIED_MAX = 2000

# Appended to a script whose KEYS[k] is an applied-ids zset; marks write id `w` applied at `now`
# and trims the set to the window and size above.
_MARK = f"""
local function mark(key, w, now)
  redis.call('ZADD', key, now, w)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - {APPLIED_WINDOW_MS})
  local extra = redis.call('ZCARD', key) - {APPLIED_MAX}
  if extra > 0 then redis.call('ZREMRANGEBYRANK', key, 0, extra - 1) end
  redis.call('PEXPIRE', key, {APPLIED_WINDOW_MS})
end
"""

# KEYS: meta, checkpoints (zset member -> created_at), checkpoint_data (hash member -> state)
# ARGV: state, now_ms, checkpoints ttl ms (0: none), keep (max checkpoints), meta ttl ms (0: none),
#       write id, n (0: the next number; else the number a fallback already gave this write)
# Returns the checkpoint's number; a write id seen before returns the number it got then (or,
# replayed with another n, moves there), and -n when checkpoint n already holds another write
# (nothing is changed).
# checkpoint_data also maps "w:<write id>" -> n and "o:<member>" -> write id, trimmed with it.
CHECKPOINT_SAVE = """
local seen = redis.call('HGET', KEYS[3], 'w:' .. ARGV[6])
local n = tonumber(ARGV[7])
if seen then
  if n == 0 or tonumber(seen) == n then return tonumber(seen) end
  -- Applied before under a number nobody was given (its reply was lost, and the fallback
  -- gave the caller n instead): move it to n.
  local lost = string.format('%012d', tonumber(seen))
  redis.call('ZREM', KEYS[2], lost)
  redis.call('HDEL', KEYS[3], lost, 'o:' .. lost, 'w:' .. ARGV[6])
end
local seq = tonumber(redis.call('HGET', KEYS[1], 'checkpoint_seq') or '0')
if n == 0 then n = seq + 1 end
local member = string.format('%012d', n)
if redis.call('HEXISTS', KEYS[3], member) == 1 then return -n end
if n > seq then redis.call('HSET', KEYS[1], 'checkpoint_seq', n) end
redis.call('ZADD', KEYS[2], ARGV[2], member)
redis.call('HSET', KEYS[3], member, ARGV[1], 'w:' .. ARGV[6], n, 'o:' .. member, ARGV[6])
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if extra > 0 then
  local old = redis.call('ZRANGE', KEYS[2], 0, extra - 1)
  for _, m in ipairs(old) do
    local w = redis.call('HGET', KEYS[3], 'o:' .. m)
    if w then redis.call('HDEL', KEYS[3], 'w:' .. w, 'o:' .. m) end
  end
  redis.call('ZREM', KEYS[2], unpack(old))
  redis.call('HDEL', KEYS[3], unpack(old))
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end
local meta_ttl = tonumber(ARGV[5])
if meta_ttl > 0 then redis.call('PEXPIRE', KEYS[1], meta_ttl) end
return n
"""

# KEYS: events (stream), applied (zset of write ids), meta, checkpoints, checkpoint_data
# ARGV: write id, now_ms, maxlen, events ttl, checkpoints ttl, meta ttl (0: none), then six
#       values per event: id, type, outcome, ts, latency ms ('' for none), data
# Appends the events unless the write id was applied already; returns 1 if it appended.
EVENTS_APPEND = (
    _MARK
    + """
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
for i = 7, #ARGV, 6 do
  if ARGV[i + 4] == '' then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'id', ARGV[i], 'type', ARGV[i + 1],
      'outcome', ARGV[i + 2], 'ts', ARGV[i + 3], 'data', ARGV[i + 5])
  else
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'id', ARGV[i], 'type', ARGV[i + 1],
      'outcome', ARGV[i + 2], 'ts', ARGV[i + 3], 'data', ARGV[i + 5], 'latency_ms', ARGV[i + 4])
  end
end
mark(KEYS[2], ARGV[1], tonumber(ARGV[2]))
local events_ttl, cp_ttl, meta_ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if events_ttl > 0 then redis.call('PEXPIRE', KEYS[1], events_ttl) end
if cp_ttl > 0 then
  redis.call('PEXPIRE', KEYS[4], cp_ttl)
  redis.call('PEXPIRE', KEYS[5], cp_ttl)
end
if meta_ttl > 0 then redis.call('PEXPIRE', KEYS[3], meta_ttl) end
return 1
"""
)

# KEYS: the skill hash, the namespace's applied write ids.
# ARGV: success (1/0), duration seconds, ttl ms (0: none), write id, now_ms.
# Returns 0 if there is no skill; a run already counted under this write id is not counted again.
SKILL_RUN = (
    _MARK
    + """
if redis.call('ZSCORE', KEYS[2], ARGV[4]) then return 1 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'runs', 1)
redis.call('HINCRBY', KEYS[1], 'successes', ARGV[1])
redis.call('HINCRBYFLOAT', KEYS[1], 'total_duration', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
mark(KEYS[2], ARGV[4], tonumber(ARGV[5]))
return 1
"""
)

# KEYS: the memory hash, the access counts, the last-access times, the applied write ids.
# ARGV: memory id, importance, now_ms, write id.  Importance only ever rises; counted once.
REINFORCE = (
    _MARK
    + """
if redis.call('ZSCORE', KEYS[4], ARGV[4]) then return 1 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
local current = tonumber(redis.call('HGET', KEYS[1], 'importance') or '0')
if tonumber(ARGV[2]) > current then redis.call('HSET', KEYS[1], 'importance', ARGV[2]) end
mark(KEYS[4], ARGV[4], tonumber(ARGV[3]))
return 1
"""
)

# KEYS: the content-hash index, the access counts, the last-access times, then one memory hash
# per id.  ARGV: the ids, in KEYS' order.  Deletes the memories and the dedup entries that
# point at them (read from the records, so a caller that never saw a record can delete it).
# Returns how many memories existed.
MEMORY_DELETE = """
local deleted = 0
for i = 4, #KEYS do
  local id = ARGV[i - 3]
  local h = redis.call('HGET', KEYS[i], 'hash')
  if h and redis.call('HGET', KEYS[1], h) == id then redis.call('HDEL', KEYS[1], h) end
  deleted = deleted + redis.call('DEL', KEYS[i])
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
end
return deleted
"""

# KEYS: meta, checkpoint_data.  Returns {member, state} of the latest checkpoint, or nil.
CHECKPOINT_LATEST = """
local seq = redis.call('HGET', KEYS[1], 'checkpoint_seq')
if not seq then return false end
local member = string.format('%012d', tonumber(seq))
local state = redis.call('HGET', KEYS[2], member)
if not state then return false end
return {member, state}
"""
