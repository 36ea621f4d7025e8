"""Lua scripts for writes that must be atomic. Every key a script touches is in KEYS and
shares the session's hash tag, so each script runs on one cluster shard."""

from __future__ import annotations

# Checkpoint members are zero-padded so that their order as strings is their numeric order.
CHECKPOINT_WIDTH = 12


def checkpoint_member(n: int) -> str:
    return f"{n:0{CHECKPOINT_WIDTH}d}"


# KEYS: meta, checkpoints (zset member -> created_at), checkpoint_data (hash member -> state)
# ARGV: state, now_ms, checkpoints ttl ms (0: none), keep (max checkpoints), meta ttl ms (0: none)
# Returns the new checkpoint's number.
CHECKPOINT_SAVE = """
local n = redis.call('HINCRBY', KEYS[1], 'checkpoint_seq', 1)
local member = string.format('%012d', n)
redis.call('ZADD', KEYS[2], ARGV[2], member)
redis.call('HSET', KEYS[3], member, ARGV[1])
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if extra > 0 then
  local old = redis.call('ZRANGE', KEYS[2], 0, extra - 1)
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

# KEYS: meta, checkpoint_data.  Returns {member, state} of the latest checkpoint, or nil.
CHECKPOINT_LATEST = """
local seq = redis.call('HGET', KEYS[1], 'checkpoint_seq')
if not seq then return false end
local member = string.format('%012d', tonumber(seq))
local state = redis.call('HGET', KEYS[2], member)
if not state then return false end
return {member, state}
"""
