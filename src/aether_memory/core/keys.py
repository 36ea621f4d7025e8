"""Every Redis key of aether-memory is built here, and only here.

Layout (braces are Redis Cluster hash tags)::

    aether:{ns}:agents                              set: agent ids seen in the namespace
    aether:{ns}:agent:{agent}:identity              hash: document name -> text
    aether:{ns}:agent:{agent}:state                 hash: status, current_task, active_tools, ...
    aether:{ns}:agent:{agent}:sessions              zset: session id -> last activity (ms)
    aether:{ns}:agent:{agent}:metrics:{res}:{start} hash: call statistics of one time bucket
    aether:{ns/agent/sid}:meta                      hash: agent, created_at, parent, rotated_to
    aether:{ns/agent/sid}:working                   hash: working memory (sliding TTL)
    aether:{ns/agent/sid}:scratch                   hash: scratchpad (short sliding TTL)
    aether:{ns/agent/sid}:events                    stream: steps, tool calls, messages
    aether:{ns/agent/sid}:checkpoints               zset: n -> created_at (ms)
    aether:{ns/agent/sid}:checkpoint_data           hash: n -> state
    aether:{ns/agent/sid}:tools                     string: the session's tool schema
    aether:{ns/agent/sid}:applied                   zset: write ids applied (retries dedup)
    aether:{ns}:cache:{tool}:{args_hash}            string: a cached tool result
    aether:{ns}:mem:{id}                            hash: a long-term memory (indexed)
    aether:{ns}:idx:v{n}                            the Query Engine index over mem:*
    aether:{ns}:hashes                              hash: content hash -> memory id (dedup)
    aether:{ns}:embedder                            string: the embedding model in use
    aether:{ns}:access_count, :last_accessed        hashes: memory id -> recall statistics
    aether:{ns}:skill:{name}                        hash: a skill and its run statistics
    aether:{ns}:memories                            zset (all scores 0): memory ids, for listing
    aether:{ns}:skills                              zset (all scores 0): skill names, for listing
    aether:{ns}:vectors                             vector set (plain Redis 8 only)
    aether:{ns}:applied                             zset: write ids applied (retries dedup)
    aether:{ns}:vecs, :vecs_gen                     hash: id -> vector; its write count (no
                                                    Query Engine and no vector sets)
    aether:{ns}:term:{term}                         zset: memory id -> BM25 weight (no Query
    aether:{ns}:terms                               Engine); hash: id -> the memory's terms
    aether:{ns}:term_counts                         hash: term -> memories written with it,
                                                    and "*" -> memories written (Query Engine)
    aether:{ns}:feed                                stream: the change feed (capped)
    aether:{ns}:presence                            hash: agent -> last heartbeat (JSON)
    aether:{ns}:inbox:{agent}                       stream: messages sent to an agent
    aether:{ns}:inbox_acks                          hash: agent -> last acknowledged message
    aether:{ns}:presence_due                        zset: online agent -> when its heartbeat
                                                    runs out (announced once as offline)
    aether:{ns}:feed:live                           the feed's sharded pub/sub channel (not a
                                                    key: every notification, as it is added)
    aether:{ns}:queue:{name}:ready, :delayed,       zsets of one task queue: ready by priority,
        :inflight, :dead                            delayed by due time, claimed by deadline
    aether:{ns}:queue:{name}:meta, :body, :dedupe,  hashes: id -> state, id -> task, dedupe key
        :stats; :wake                               -> id, counters; list: wakes blocked claims

Everything of one session shares the `{ns/agent/sid}` tag, so its multi-key writes can be
atomic on one cluster shard; namespace-wide data shares `{ns}`. Identity is one hash per agent (one
round trip for all of it, no key enumeration). Callers validate names with `check_name` first:
a name can never contain `:` or braces, so no key built here can reach another namespace.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "aether"


def namespace_tag(ns: str) -> str:
    """The hash tag shared by a namespace's shared data."""
    return f"{PREFIX}:{{{ns}}}"


def agents(ns: str) -> str:
    return f"{PREFIX}:{{{ns}}}:agents"


def identity(ns: str, agent: str) -> str:
    return f"{PREFIX}:{{{ns}}}:agent:{agent}:identity"


def state(ns: str, agent: str) -> str:
    return f"{PREFIX}:{{{ns}}}:agent:{agent}:state"


def sessions(ns: str, agent: str) -> str:
    return f"{PREFIX}:{{{ns}}}:agent:{agent}:sessions"


def cache(ns: str, tool: str, args_hash: str) -> str:
    return f"{PREFIX}:{{{ns}}}:cache:{tool}:{args_hash}"


def memory(ns: str, memory_id: str) -> str:
    return f"{PREFIX}:{{{ns}}}:mem:{memory_id}"


def memory_prefix(ns: str) -> str:
    """The prefix the long-term index covers."""
    return f"{PREFIX}:{{{ns}}}:mem:"


def memory_index(ns: str, version: int) -> str:
    return f"{PREFIX}:{{{ns}}}:idx:v{version}"


def skill(ns: str, name: str) -> str:
    return f"{PREFIX}:{{{ns}}}:skill:{name}"


def usage(ns: str) -> str:
    """The namespace's hot long-term memory, counted by every writer: a hash of ``count``
    and ``bytes`` (`core.lifecycle.row_size`), and ``owner`` of the budget pass running."""
    return f"{PREFIX}:{{{ns}}}:usage"


def access_counts(ns: str) -> str:
    """How often each memory was recalled or reinforced (kept outside the indexed records)."""
    return f"{PREFIX}:{{{ns}}}:access_count"


def last_accessed(ns: str) -> str:
    return f"{PREFIX}:{{{ns}}}:last_accessed"


def embedder(ns: str) -> str:
    """Which embedding model (and size) the namespace's memories were embedded with."""
    return f"{PREFIX}:{{{ns}}}:embedder"


def content_hashes(ns: str) -> str:
    return f"{PREFIX}:{{{ns}}}:hashes"


def vectors(ns: str) -> str:
    """The namespace's vector set (plain Redis 8, where the Query Engine is absent)."""
    return f"{PREFIX}:{{{ns}}}:vectors"


def applied(ns: str) -> str:
    """The write ids of namespace-wide counters already applied (skill runs, reinforcement)."""
    return f"{PREFIX}:{{{ns}}}:applied"


def memory_ids(ns: str) -> str:
    """Every memory id of the namespace, ordered as text (ids sort by creation time)."""
    return f"{PREFIX}:{{{ns}}}:memories"


def skill_names(ns: str) -> str:
    """Every skill name of the namespace, ordered as text."""
    return f"{PREFIX}:{{{ns}}}:skills"


def namespace_prefixes(ns: str) -> tuple[str, str]:
    """The two prefixes of a namespace's keys: its shared data and its sessions."""
    return f"{PREFIX}:{{{ns}}}:", f"{PREFIX}:{{{ns}/"


def namespace_of(key: str) -> str | None:
    """The namespace a key of this layout belongs to (None for a key of another layout)."""
    head = f"{PREFIX}:{{"
    if not key.startswith(head):
        return None
    end = key.find("}", len(head))
    if end < 0:
        return None
    return key[len(head) : end].split("/", 1)[0] or None


def vector_hash(ns: str) -> str:
    """Every vector of the namespace (a Redis with neither the Query Engine nor vector sets)."""
    return f"{PREFIX}:{{{ns}}}:vecs"


def vector_generation(ns: str) -> str:
    """Counts writes to `vector_hash`, so a client knows when its copy is stale."""
    return f"{PREFIX}:{{{ns}}}:vecs_gen"


def term(ns: str, stem: str) -> str:
    """The postings of one index term (a Redis without the Query Engine); `stem` is a run of
    word characters, so it holds no ``:`` or braces."""
    return f"{PREFIX}:{{{ns}}}:term:{stem}"


def term_counts(ns: str) -> str:
    """Index term -> how many memories were written with it ("*": how many were written),
    which tells a recall the cost of a full-text query before it is sent."""
    return f"{PREFIX}:{{{ns}}}:term_counts"


def memory_terms(ns: str) -> str:
    """Memory id -> its index terms, so a delete or an update can remove its postings."""
    return f"{PREFIX}:{{{ns}}}:terms"


def namespace_pattern(ns: str) -> str:
    """A SCAN pattern for every key of a namespace (admin commands only, never hot paths)."""
    return f"{PREFIX}:{{{ns}[}}/]*"


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """The keys of one task queue, all under the namespace's hash tag (one shard, so every
    queue script is atomic in a cluster too)."""

    ready: str
    delayed: str
    inflight: str
    dead: str
    meta: str
    body: str
    dedupe: str
    stats: str
    wake: str

    @classmethod
    def build(cls, ns: str, name: str) -> QueueKeys:
        base = f"{PREFIX}:{{{ns}}}:queue:{name}"
        return cls(*(f"{base}:{part}" for part in _QUEUE_PARTS))


_QUEUE_PARTS = ("ready", "delayed", "inflight", "dead", "meta", "body", "dedupe", "stats", "wake")


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """The address of one session and its keys, built once per session handle."""

    ns: str
    agent: str
    sid: str
    meta: str
    working: str
    scratch: str
    events: str
    checkpoints: str
    checkpoint_data: str
    tools: str
    applied: str  # write ids already applied, so that a retried write is applied once
    sessions: str  # the owning agent's activity index (tagged {ns}, not {ns/agent/sid})

    @classmethod
    def build(cls, ns: str, agent: str, sid: str) -> SessionKeys:
        tag = f"{PREFIX}:{{{ns}/{agent}/{sid}}}"
        return cls(
            ns=ns,
            agent=agent,
            sid=sid,
            meta=f"{tag}:meta",
            working=f"{tag}:working",
            scratch=f"{tag}:scratch",
            events=f"{tag}:events",
            checkpoints=f"{tag}:checkpoints",
            checkpoint_data=f"{tag}:checkpoint_data",
            tools=f"{tag}:tools",
            applied=f"{tag}:applied",
            sessions=sessions(ns, agent),
        )


def feed(ns: str) -> str:
    """The namespace's change feed: a capped stream of notifications."""
    return f"{PREFIX}:{{{ns}}}:feed"


def presence(ns: str) -> str:
    """Hash: agent id -> its last heartbeat (JSON: status, current_task, at, expires_at)."""
    return f"{PREFIX}:{{{ns}}}:presence"


def inbox(ns: str, agent: str) -> str:
    """An agent's inbox: a stream of messages sent to it."""
    return f"{PREFIX}:{{{ns}}}:inbox:{agent}"


def inbox_acks(ns: str) -> str:
    """Hash: agent id -> the position of the last message it acknowledged."""
    return f"{PREFIX}:{{{ns}}}:inbox_acks"


def presence_due(ns: str) -> str:
    """Zset: each agent that reads as online -> the ms its heartbeat runs out."""
    return f"{PREFIX}:{{{ns}}}:presence_due"


def feed_channel(ns: str) -> str:
    """The sharded pub/sub channel each notification of `ns` is published on (with the
    namespace's tag, so it lives on the shard of the feed)."""
    return f"{PREFIX}:{{{ns}}}:feed:live"


def agent_metrics(ns: str, agent: str, resolution_s: int, start_s: int) -> str:
    """Hash: one time bucket of an agent's call statistics (``{tool}|{figure}`` -> number)."""
    return f"{agent_metrics_prefix(ns, agent)}{resolution_s}:{start_s}"


def agent_metrics_prefix(ns: str, agent: str) -> str:
    """The start of every agent-metric bucket key of an agent."""
    return f"{PREFIX}:{{{ns}}}:agent:{agent}:metrics:"
