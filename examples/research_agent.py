"""A small agent loop with persistent memory, runnable offline.

    python examples/research_agent.py            # uses AETHER_URL, or the server of `aether up`

The "model" here is a few lines of rules so that the example runs anywhere; the memory around
it is the real thing. Run it twice: the second run remembers the facts of the first, serves
the repeated search from the tool cache, and finds the first run's episode.
"""

from __future__ import annotations

import time

from aether_memory import Memory

CORPUS = {
    "redis streams ordering": "Entries are ordered by ID; XADD appends, XRANGE reads in order.",
    "redis streams trimming": "XADD with MAXLEN ~ N trims approximately, which is much cheaper.",
    "redis aof fsync": "appendfsync everysec loses at most one second of writes on power loss.",
}


def web_search(query: str) -> str:
    """The agent's tool: slow, like a real one."""
    time.sleep(0.3)
    return CORPUS.get(query, "no results")


def main() -> None:
    with Memory.open(namespace="examples") as mem:
        agent = mem.agent("researcher")
        agent.identity.put("persona", "A research agent that cites what it found.")
        earlier = agent.search_episodes("Redis streams", limit=1)
        if earlier:
            print(f"I did this before: {earlier[0].task_prompt!r} -> {earlier[0].outcome}")

        task = "Explain how Redis streams keep events durable and ordered"
        with agent.run(task=task, cacheable={"web_search"}) as run:
            print(run.context("Redis streams durability", budget_tokens=300))
            findings = []
            for query in ("redis streams ordering", "redis streams trimming", "redis aof fsync"):
                started = time.perf_counter()
                result = run.tool("web_search", web_search, query=query)
                took = (time.perf_counter() - started) * 1000
                print(f"web_search({query!r}) -> {result}  [{took:.0f} ms]")
                record = run.fact(result, kind="fact", tags=["redis"])
                print(f"  remembered ({record.status})")
                findings.append(result)
                run.checkpoint({"done": len(findings)})
            run.step("answer", " ".join(findings), reasoning="three sources agree")
            run.outcome = "explained ordering (IDs), trimming (MAXLEN ~) and durability (AOF)"
        assert run.episode is not None
        print(f"saved episode {run.episode.id} with {len(run.episode.steps)} steps")
        for hit in agent.recall("how much data can be lost on power failure?", k=1):
            print(f"recall: {hit.record.content} (score {hit.score:.2f})")


if __name__ == "__main__":
    main()
