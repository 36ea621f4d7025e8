"""Counting what a namespace holds from its key names (pure): the figures an erasure reports."""

from __future__ import annotations

from collections.abc import Iterable

from aether_memory.core import keys


def count_keys(names: Iterable[str], ns: str) -> dict[str, int]:
    """Memories, skills, sessions, agents and cached results among a namespace's keys, and
    how many keys there are in all (indexes and dedup state are keys too)."""
    shared, session_prefix = keys.namespace_prefixes(ns)
    total = memories = skills = cached = 0
    sessions: set[str] = set()
    agents: set[str] = set()
    for name in names:
        total += 1
        if name.startswith(session_prefix):
            sessions.add(name[len(session_prefix) : name.find("}", len(session_prefix))])
            continue
        rest = name[len(shared) :]
        if rest.startswith("mem:"):
            memories += 1
        elif rest.startswith("skill:"):
            skills += 1
        elif rest.startswith("cache:"):
            cached += 1
        elif rest.startswith("agent:"):
            agents.add(rest.split(":", 2)[1])
    return {
        "keys": total,
        "memories": memories,
        "skills": skills,
        "sessions": len(sessions),
        "agents": len(agents),
        "cached_results": cached,
    }
