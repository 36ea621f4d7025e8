"""`aether demo`: an agent works, stops, and a second process picks up where it left off.

The first part runs in this process: it loads the agent's identity, records steps and tool
calls (with a cached tool), keeps working memory and saves a checkpoint. The second part runs
in a new Python process that knows only the URL and the session id, and prints what it finds.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from aether_memory.client._sync.memory import Memory
from aether_memory.client._sync.session import Session
from aether_memory.client.common import default_sqlite_url, redacted

NAMESPACE = "demo"
AGENT = "researcher"
IDENTITY_DIR = Path(__file__).parent / "demo_identity"


def fallback() -> str:
    """The demo keeps working if Redis goes away: writes land in this file meanwhile and are
    replayed onto Redis when it is back."""
    return default_sqlite_url("demo-fallback.db")


console = Console()

# The tool the agent calls: a stand-in for a web search, slow enough to make caching visible.
FINDINGS = {
    "hnsw recall ef_runtime": "HNSW with EF_RUNTIME=100 finds 99% of the exact top 10",
    "flat index latency 100k": "FLAT (exact) search takes ~6.6 ms at 100k vectors",
    "vector sets memory": "Vector sets hold 100k 384-d vectors in ~113 MiB (int8)",
}


def run(url: str | None, data_dir: Path | None) -> None:
    url = url or _local_server(data_dir)
    with Memory.open(url, namespace=NAMESPACE, fallback=fallback()) as mem:
        caps = mem.capabilities
        modules = ", ".join(sorted(caps.modules)) or "none"
        if mem.health().degraded:
            console.print(f"Redis at {redacted(url)} is unreachable: working on {fallback()}\n")
        else:
            console.print(
                f"[bold]Redis {caps.server_version}[/bold] at {redacted(url)} — modules: "
                f"{modules}; AOF: {'on' if caps.aof else 'off'} ({caps.fsync or '?'}); "
                f"fallback if it goes down: {fallback()}\n"
            )
        session = _first_process(mem)
    console.rule("[bold]a new process, knowing only the URL and the session id")
    subprocess.run(
        [sys.executable, "-m", "aether_memory.cli.demo", url, session],
        check=True,
    )


def _local_server(data_dir: Path | None) -> str:
    from aether_memory.server import local

    info, started = local.up(data_dir)
    how = "started" if started else "reusing"
    console.print(f"{how} the local Redis (data in {info.data_dir}; stop it with `aether down`)")
    return info.url


def _first_process(mem: Memory) -> str:
    agent = mem.agent(AGENT)
    earlier = agent.sessions()
    loaded = agent.identity.load_dir(IDENTITY_DIR)
    console.print(
        f"Agent [bold]{AGENT}[/bold]: loaded {loaded} identity documents; "
        f"{len(earlier)} earlier session(s) remembered."
    )
    agent.state.set(status="working", current_task="choose a vector index", active_tools=["web"])
    session = agent.session()
    schema = session.tool_schema(lambda: [{"name": "web_search", "parameters": {"q": "string"}}])
    console.print(f"Session [bold]{session.id}[/bold]; tool schema cached: {schema[0]['name']}")

    @mem.cached("web_search", ttl=3600)
    def web_search(q: str) -> str:
        time.sleep(0.2)  # the "network"
        return FINDINGS.get(q, "no result")

    table = Table("step", "tool call", "result", "ms", "cache")
    for i, query in enumerate([*FINDINGS, "hnsw recall ef_runtime"], start=1):
        cached, _ = mem.cache.lookup("web_search", {"q": query})
        _search(session, web_search, query, i, table, cached)
    console.print(table)

    stored = agent.remember_many(
        [
            {"content": finding, "kind": "fact", "source": "web_search", "session": session.id}
            for finding in FINDINGS.values()
        ]
    )
    new = sum(r.status == "created" for r in stored)
    console.print(f"Long-term memory: {new} new facts, {len(stored) - new} already known.")
    session.working.update(
        {"question": "which vector index for 100k memories?", "leaning": "HNSW, EF_RUNTIME=100"}
    )
    n = session.checkpoint({"done": list(FINDINGS), "next": "write the recommendation"})
    console.print(f"Saved checkpoint #{n}; this process now exits.\n")
    return session.id


def _search(session: Session, tool: Any, query: str, step: int, table: Table, cached: bool) -> None:
    start = time.perf_counter()
    result = tool(query)
    ms = (time.perf_counter() - start) * 1000
    session.record(
        "tool_call", {"tool": "web_search", "q": query, "result": result}, latency_ms=round(ms, 2)
    )
    session.add_step(f"search: {query}", result, reasoning="gather evidence")
    table.add_row(str(step), f"web_search({query!r})", result, f"{ms:.1f}", "hit" if cached else "")


def resume(url: str, session_id: str) -> None:
    """The second process: reads everything back and continues the task."""
    with Memory.open(url, namespace=NAMESPACE, fallback=fallback()) as mem:
        agent = mem.agent(AGENT)
        session = agent.session(session_id)
        identity = agent.identity.all()
        state = agent.state.get()
        checkpoint = session.restore()
        working = session.working.all()
        steps = session.events(limit=10, types=["step"])
        console.print(f"identity: {', '.join(identity)} — “{identity['persona'].splitlines()[1]}”")
        console.print(f"state: {state['status']}, task “{state['current_task']}”")
        console.print(f"working memory: {working}")
        console.print(f"checkpoint: next → {checkpoint['next']!r}; done: {len(checkpoint['done'])}")
        console.print(f"last {len(steps)} steps:")
        for event in steps:
            console.print(f"  • {event.data['action']} → {event.data['observation']}")
        question = "how much RAM do 100k vectors need?"
        console.print(f"\nrecall({question!r}):")
        for hit in agent.recall(question, k=2):
            parts = f"vector {hit.vector:.2f}, text {hit.text:.2f}, recency {hit.recency:.2f}"
            console.print(f"  {hit.score:.2f}  {hit.record.content}  [dim]({parts})[/dim]")
        session.add_step("write recommendation", "HNSW with EF_RUNTIME=100", reasoning="resumed")
        episode = session.save_episode(
            "Choose a vector index for 100k memories", "Recommend HNSW, EF_RUNTIME=100", True
        )
        agent.state.set(status="idle", current_task=None)
        console.print(f"saved episode {episode.id} ({len(episode.steps)} steps)")
        console.print(
            f"\n[green]Resumed from checkpoint and finished.[/green] The session now holds "
            f"{len(session.events(limit=1000))} events; run `aether demo` again and the agent "
            "will remember this session too."
        )


if __name__ == "__main__":
    resume(sys.argv[1], sys.argv[2])
