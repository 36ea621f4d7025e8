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
# ARGV: write id, now_ms, maxlen, events ttl, checkpoints ttl, meta ttl (0: none), then seven
#       values per event: id, type, outcome, ts, latency ms ('' for none), data, trace id
#       ('' for none)
# Appends the events unless the write id was applied already; returns 1 if it appended.
EVENTS_APPEND = (
    _MARK
    + """
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
for i = 7, #ARGV, 7 do
  local fields = {'id', ARGV[i], 'type', ARGV[i + 1], 'outcome', ARGV[i + 2], 'ts', ARGV[i + 3],
    'data', ARGV[i + 5]}
  if ARGV[i + 4] ~= '' then
    fields[#fields + 1] = 'latency_ms'
    fields[#fields + 1] = ARGV[i + 4]
  end
  if ARGV[i + 6] ~= '' then
    fields[#fields + 1] = 'trace_id'
    fields[#fields + 1] = ARGV[i + 6]
  end
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
end
mark(KEYS[2], ARGV[1], tonumber(ARGV[2]))
local events_ttl, cp_ttl, meta_ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if events_ttl > 0 then redis.call('PEXPIRE', KEYS[1], events_ttl) end
if cp_ttl > 0 then
  redis.call('PEXPIRE', KEYS[4], cp_ttl)
  redis.call('PEXPIRE', KEYS[4], cp_ttl)
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

# The Query Engine's term counts (core.keys.term_counts): `count(key, listed, by)` adds
# `by` to the count of each term in `listed` (a memory's `tc` field: term ids, comma-separated)
# and to '*'; a count that reaches 0 is removed, so nothing of an erased memory stays behind.
_TERM_COUNTS = """
local function count(key, listed, by)
  if not listed or listed == '' then return end
  for t in string.gmatch(listed, '[^,]+') do
    if redis.call('HINCRBY', key, t, by) <= 0 then redis.call('HDEL', key, t) end
  end
  if redis.call('HINCRBY', key, '*', by) <= 0 then redis.call('HDEL', key, '*') end
end
"""

# KEYS: the term counts, a memory.  ARGV[1]: the terms the memory is about to be written with
# (its `tc` field).  The old terms leave the counts, the new ones join them.
RECOUNT_TERMS = (
    _TERM_COUNTS
    + """
count(KEYS[1], redis.call('HGET', KEYS[2], 'tc'), -1)
count(KEYS[1], ARGV[1], 1)
"""
)

# KEYS: the content-hash index, the access counts, the last-access times, the term counts,
# then one memory hash per id.  ARGV: the ids, in KEYS' order.  Deletes the memories, the
# dedup entries that point at them and their terms' counts (read from the records, so a
# caller that never saw a record can delete it).
# Returns how many memories existed.
MEMORY_DELETE = (
    _TERM_COUNTS
    + """
local deleted = 0
for i = 5, #KEYS do
  local id = ARGV[i - 4]
  count(KEYS[4], redis.call('HGET', KEYS[i], 'tc'), -1)
  local h = redis.call('HGET', KEYS[i], 'hash')
  if h and redis.call('HGET', KEYS[1], h) == id then redis.call('HDEL', KEYS[1], h) end
  deleted = deleted + redis.call('DEL', KEYS[i])
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
end
return deleted
"""
)

# KEYS: meta, checkpoint_data.  Returns {member, state} of the latest checkpoint, or nil.
CHECKPOINT_LATEST = """
local seq = redis.call('HGET', KEYS[1], 'checkpoint_seq')
if not seq then return false end
local member = string.format('%012d', tonumber(seq))
local state = redis.call('HGET', KEYS[2], member)
if not state then return false end
return {member, state}
"""


# -- the change feed, presence and messages ------------------------------------------------------
# A notification is appended to the namespace's feed stream by the write itself (one of the
# scripts below, inside the write's MULTI or as the write), so a write that is not applied
# appends nothing. Every key here shares the namespace's tag.
#
# `notify(f, cap, note)` appends the notification `note` (a JSON object: agent, kind, id, op,
# at, and body and to for messages and broadcasts) to the feed KEYS[f] as an entry of one field,
# ``n``, and publishes ``<previous position> <position> <note>`` on the feed's sharded channel
# KEYS[f + 1]: the position of the entry before it (read from the stream itself, so an entry
# appended any other way is never hidden) lets a subscriber see that it missed one (it then
# reads the stream, which stays the record). The publish is a `pcall`: a server that cannot
# publish still applies the write, and subscribers find the entry in the stream.
_NOTIFY = """
local function notify(f, cap, note)
  local last = redis.call('XREVRANGE', KEYS[f], '+', '-', 'COUNT', 1)
  local id = redis.call('XADD', KEYS[f], 'MAXLEN', '~', cap, '*', 'n', note)
  local prev = last[1] and last[1][1] or ''
  redis.pcall('SPUBLISH', KEYS[f + 1], prev .. ' ' .. id .. ' ' .. note)
  return id
end
"""

# KEYS: the namespace's feed, its channel.
# ARGV: feed cap, the notification (JSON, encoded by the client).
# Returns the notification's position.
NOTE = _NOTIFY + "\nreturn notify(1, ARGV[1], ARGV[2])\n"

# KEYS: the record (a memory or skill hash), the namespace's feed, its channel.
# ARGV: feed cap, kind ('' : from the record's kind: episode or memory), id, op, at ms,
#       agent ('' : the record's agent).
# Appends a notification if the record exists (run before a delete, after a skill run).
NOTE_RECORD = (
    _NOTIFY
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local agent = ARGV[6]
if agent == '' then agent = redis.call('HGET', KEYS[1], 'agent') or '' end
local kind = ARGV[2]
if kind == '' then
  kind = 'memory'
  if redis.call('HGET', KEYS[1], 'kind') == 'episodic' then kind = 'episode' end
end
notify(2, ARGV[1], cjson.encode({agent = agent, kind = kind, id = ARGV[3], op = ARGV[4],
  at = ARGV[5]}))
return 1
"""
)

# Presence scripts share KEYS: the presence hash, the feed, its channel, the presence_due zset
# (agent -> when its heartbeat runs out, for the agents that read as online).
# `sweep(now, cap)` announces, once, each agent whose heartbeat ran out by `now`: a presence
# notification `offline` at the moment it ran out, and the agent leaves presence_due. Nothing
# runs in the background: every heartbeat, every agents_status() and each subscriber's periodic
# look at the stream sweep (at most 256 agents a call; the rest on the next).
_SWEEP = (
    _NOTIFY
    + """
local function sweep(now, cap)
  local due = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'WITHSCORES', 'LIMIT', 0, 256)
  for i = 1, #due, 2 do
    local agent = due[i]
    redis.call('ZREM', KEYS[4], agent)
    local raw = redis.call('HGET', KEYS[1], agent)
    if raw and cjson.decode(raw)['status'] ~= 'offline' then
      notify(2, cap, cjson.encode({agent = agent, kind = 'presence', id = agent,
        op = 'offline', at = due[i + 1]}))
    end
  end
  return #due / 2
end
"""
)

# ARGV: now ms, feed cap.  Returns how many agents ran out.
PRESENCE_SWEEP = _SWEEP + "\nreturn sweep(ARGV[1], ARGV[2])\n"

# ARGV: agent, heartbeat (JSON with status and expires_at), status, now ms, feed cap.
# Sweeps, stores the heartbeat, then appends a presence notification when the status the agent
# reads as (offline once its last heartbeat ran out) changes. Returns 1 if it did.
PRESENCE = (
    _SWEEP
    + """
sweep(ARGV[4], ARGV[5])
local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] == 'offline' then
  redis.call('ZREM', KEYS[4], ARGV[1])
else
  redis.call('ZADD', KEYS[4], string.format('%d', cjson.decode(ARGV[2])['expires_at']), ARGV[1])
end
local was = 'offline'
if old then
  local beat = cjson.decode(old)
  if tonumber(beat['expires_at']) > tonumber(ARGV[4]) then was = beat['status'] end
end
if was == ARGV[3] then return 0 end
notify(2, ARGV[5], cjson.encode({agent = ARGV[1], kind = 'presence', id = ARGV[1],
  op = ARGV[3], at = ARGV[4]}))
return 1
"""
)

# KEYS: the recipient's inbox, the namespace's feed, its channel.
# ARGV: sender, recipient, body (JSON), now ms, inbox cap, feed cap.
# Returns the message's id (its inbox position), which the notification carries.
SEND = (
    _NOTIFY
    + """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', 'sender', ARGV[1],
  'body', ARGV[3], 'at', ARGV[4])
notify(2, ARGV[6], cjson.encode({agent = ARGV[1], kind = 'message', id = id, op = 'sent',
  at = ARGV[4], to = ARGV[2], body = ARGV[3]}))
return id
"""
)

# KEYS: the agent's inbox, the namespace's acknowledgements.
# ARGV: agent, ack ('' : none; else the id of the last message handled), limit.
# Moves the agent's acknowledgement forward to `ack` (never back) and drops the messages up to
# it, then returns up to `limit` messages after the acknowledgement, oldest first.
INBOX_READ = """
local function less(a, b)
  local ah, at = string.match(a, '^(%d+)-(%d+)$')
  local bh, bt = string.match(b, '^(%d+)-(%d+)$')
  ah, at, bh, bt = tonumber(ah), tonumber(at), tonumber(bh), tonumber(bt)
  return ah < bh or (ah == bh and at < bt)
end
local acked = redis.call('HGET', KEYS[2], ARGV[1]) or '0-0'
if ARGV[2] ~= '' and less(acked, ARGV[2]) then
  acked = ARGV[2]
  redis.call('HSET', KEYS[2], ARGV[1], acked)
  redis.call('XTRIM', KEYS[1], 'MINID', acked)
  redis.call('XDEL', KEYS[1], acked)
end
return redis.call('XRANGE', KEYS[1], '(' .. acked, '+', 'COUNT', ARGV[3])
"""

# KEYS: the namespace's applied write ids, then the agent's metric bucket hashes
# ARGV: write id, now_ms, then per bucket hash: ttl ms, field count n, and n triples
#       (field, '+' to add or '^' to keep the larger, value)
# Updates the buckets unless the write id was applied already; returns 1 if it updated.
METRICS_ADD = (
    _MARK
    + """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local a = 3
for k = 2, #KEYS do
  local ttl, n = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  for _ = 1, n do
    local field, value = ARGV[a], ARGV[a + 2]
    if ARGV[a + 1] == '^' then
      local old = redis.call('HGET', KEYS[k], field)
      if not old or tonumber(value) > tonumber(old) then
        redis.call('HSET', KEYS[k], field, value)
      end
    else
      redis.call('HINCRBYFLOAT', KEYS[k], field, value)
    end
    a = a + 3
  end
  redis.call('PEXPIRE', KEYS[k], ttl)
end
mark(KEYS[1], ARGV[1], tonumber(ARGV[2]))
return 1
"""
)

# KEYS: the namespace's feed.  ARGV: an agent id ('' : none), then skill names.
# Erasure: drops every notification by, to or about the agent (its state, identity, presence)
# and every one about the named skills. An admin walk of the capped feed, never a hot path.
FEED_SCRUB = """
local agent = ARGV[1]
local skills = {}
for i = 2, #ARGV do skills[ARGV[i]] = true end
local dropped = 0
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local f = {}
  if entry[2][1] == 'n' then
    local ok, note = pcall(cjson.decode, entry[2][2])
    if ok and type(note) == 'table' then f = note end
  else  -- an entry of field, value pairs (written before notifications were one field)
    for i = 1, #entry[2], 2 do f[entry[2][i]] = entry[2][i + 1] end
  end
  local about = f['kind'] == 'identity' or f['kind'] == 'state' or f['kind'] == 'presence'
  local skill = f['kind'] == 'skill' or f['kind'] == 'skill_run'
  if (agent ~= '' and (f['agent'] == agent or f['to'] == agent or (about and f['id'] == agent)))
      or (skill and skills[f['id']]) then
    dropped = dropped + redis.call('XDEL', KEYS[1], entry[1])
  end
end
return dropped
"""


# KEYS: the namespace's usage hash (core.keys.usage)   ARGV: owner, ttl ms, now ms
# Claims the namespace's budget pass for `owner` until now + ttl, or renews its own claim;
# returns 1 if `owner` holds it, 0 if another owner's claim has not run out.
PASS_CLAIM = """
local owner = redis.call('HGET', KEYS[1], 'owner')
local untl = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if owner and owner ~= ARGV[1] and untl > tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'until', tonumber(ARGV[3]) + tonumber(ARGV[2]))
return 1
"""

# KEYS: the namespace's usage hash   ARGV: owner
# Releases `owner`'s claim on the budget pass (another owner's stays).
PASS_RELEASE = """
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'owner', 'until')
end
return 0
"""
