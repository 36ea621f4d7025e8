"""The usage examples of the users' documents, run as written: their text is copied here
verbatim from document 004 ("Redis Memory Adapter") and document 000 (the AetherOS kernel
memory). Their imports resolve to `aether_memory.compat`, and their configuration comes from
the environment variables the documents name."""

from __future__ import annotations

import ast
import asyncio
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aether_memory import Memory
from aether_memory.compat import adapter, aetheros

# -- document 004 ------------------------------------------------------------------------------
CONFIGURATION = r"""from redis_memory_adapter import create_memory_adapter

# Using Redis
memory = await create_memory_adapter(
    backend="redis",
    agent_id="agent_001",
    redis_host="localhost",
    redis_port=6379,
    enable_pubsub=True
)

# Using SQLite (fallback)
memory = await create_memory_adapter(
    backend="sqlite",
    agent_id="agent_001"
)

# Using environment variable
memory = await create_memory_adapter(agent_id="agent_001")
"""

BASIC_OPERATIONS = r"""import asyncio
from redis_memory_adapter import create_memory_adapter

async def main():
    # Create adapter
    memory = await create_memory_adapter(
        backend="redis",
        agent_id="agent_001",
        session_id="task_session_001"
    )

    try:
        # Add working memory steps
        await memory.add_step(
            action="search_web",
            observation="Found 10 results",
            reasoning="User requested information",
            success=True
        )

        await memory.add_step(
            action="extract_data",
            observation="Extracted key facts",
            reasoning="Consolidating information",
            success=True
        )

        # Save as episode
        episode = await memory.save_episode(
            task_prompt="Research topic X",
            outcome="Successfully gathered information",
            success=True,
            duration_seconds=5.2,
            tags=["research", "web_search"],
            importance=0.8
        )

        print(f"Saved episode: {episode.memory_id}")

        # Search memories
        results = await memory.search_episodes("research", limit=5)
        print(f"Found {len(results)} matching episodes")

        # Save a skill
        skill = await memory.save_skill(
            skill_name="web_research",
            description="Search web and extract information",
            action_sequence=[
                {"action": "search_web", "params": {"query": "{{query}}"}},
                {"action": "extract_data", "params": {"format": "structured"}}
            ],
            tags=["research"]
        )

        # Record skill execution
        await memory.record_skill_execution(
            skill_name="web_research",
            success=True,
            duration=5.2
        )

        # Get enriched context for LLM
        context = await memory.get_enriched_context(
            query="how to do research",
            detailed_steps=5,
            limit_per_type=2
        )

        print("\nEnriched context:")
        print(context)

    finally:
        # Cleanup
        await memory.close()

if __name__ == "__main__":
    asyncio.run(main())
"""

SESSION_MANAGEMENT = r"""# Create memory with specific session
memory = await create_memory_adapter(
    backend="redis",
    agent_id="agent_001",
    session_id="session_001"
)

# Rotate to new session (maintains continuity)
new_session_id = await memory.rotate_session()

# Get session history
history = await memory.get_session_history()
print(f"Session chain: {history}")
"""

UNIFIED_SEARCH = r"""# Search all memory types at once
results = await memory.search_all(
    query="web scraping",
    limit_per_type=3
)

# Results contain:
# - results["episodic"]: Past experiences
# - results["semantic"]: Generalized knowledge
# - results["skills"]: Relevant skills

for episode in results["episodic"]:
    print(f"Episode: {episode.task_prompt}")

for semantic in results["semantic"]:
    print(f"Knowledge: {semantic.pattern}")

for skill in results["skills"]:
    print(f"Skill: {skill.skill_name} (success rate: {skill.success_rate:.1%})")
"""

CHECK_CONNECTION = r"""if memory.redis_manager.available:
    print("Redis is connected")
else:
    print("Using SQLite fallback")
"""

# -- document 000 ------------------------------------------------------------------------------
BOOTSTRAP = r"""from kernel.memory.redis_memory import RedisMemory
import glob

memory = RedisMemory()

identity_files = glob.glob("identity/*.md")

for file in identity_files:
    with open(file) as f:
        memory.store_identity(
            file.split("/")[-1],
            f.read()
        )
"""

TOOL_SCHEMA_ONCE = r"""memory = RedisMemory()

schema = memory.get_tool_schema(session_id)

if not schema:
    schema = build_tool_schema()
    memory.store_tool_schema(session_id, schema)
"""

EPISODES = r"""memory.append_episode(session_id, {
    "tool": tool_name,
    "input": input,
    "output": output
})
"""

# The "Testing" section's custom-configuration check (the script its ``python -c`` runs).
CUSTOM_CONFIGURATION_CHECK = r"""
import asyncio
from redis_memory_adapter import create_memory_adapter

async def test():
    memory = await create_memory_adapter(
        backend='redis',
        agent_id='test_agent'
    )

    await memory.add_step('test', 'observation', success=True)
    print('Test passed!')
    await memory.close()

asyncio.run(test())
"""

SNIPPETS = {
    "004": [CONFIGURATION, BASIC_OPERATIONS, SESSION_MANAGEMENT, UNIFIED_SEARCH,
            CHECK_CONNECTION, CUSTOM_CONFIGURATION_CHECK],
    "000": [BOOTSTRAP, TOOL_SCHEMA_ONCE, EPISODES],
}  # fmt: skip


def _seeds() -> Path | None:
    """The folder of the users' documents, where this checkout sits beside it."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "seeds").is_dir():
            return parent / "shared" / "seeds"
    return None


def run(source: str, scope: dict[str, Any]) -> None:
    """Run a document's snippet as written (a script: no ``await`` at its top level)."""
    exec(compile(source, "<document>", "exec"), scope)


async def arun(source: str, scope: dict[str, Any]) -> None:
    """Run a document's snippet as written, its top-level ``await`` included."""
    code = compile(source, "<document>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, scope)
    if asyncio.iscoroutine(result):
        await result


@pytest.fixture
def documents_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """The module names the documents import, pointing at the compat layer."""
    kernel, kernel_memory = types.ModuleType("kernel"), types.ModuleType("kernel.memory")
    monkeypatch.setitem(sys.modules, "redis_memory_adapter", adapter)
    monkeypatch.setitem(sys.modules, "kernel", kernel)
    monkeypatch.setitem(sys.modules, "kernel.memory", kernel_memory)
    monkeypatch.setitem(sys.modules, "kernel.memory.redis_memory", aetheros)


@pytest.fixture
def environment(
    documents_modules: None, redis_url: str, namespace: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:  # fmt: skip
    """The variables the documents set (REDIS_HOST/REDIS_PORT, REDIS_URL), aimed at the
    test server, with a private namespace and data folder."""
    host_port = redis_url.removeprefix("redis://").split("/")[0]
    host, port = host_port.rsplit(":", 1)
    monkeypatch.setenv("REDIS_HOST", host)
    monkeypatch.setenv("REDIS_PORT", port)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("AETHER_NAMESPACE", namespace)
    monkeypatch.setenv("AETHER_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    yield redis_url


def test_adapter_basic_operations(environment: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(BASIC_OPERATIONS, {"__name__": "__main__"})
    out = capsys.readouterr().out
    assert out.startswith("Saved episode: ")
    assert "Found 1 matching episodes" in out
    assert "Enriched context:" in out and "web_research" in out
    with Memory.open(environment) as mem:
        assert mem.agent("agent_001").skill("web_research").success_rate == 1.0
        steps = mem.agent("agent_001").session("task_session_001").events(types=("step",))
        assert [e.data["action"] for e in steps] == ["search_web", "extract_data"]


async def test_adapter_configuration_session_search_and_connection(
    environment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    scope: dict[str, Any] = {}
    opened: list[adapter.MemoryAdapter] = []
    try:
        # Three adapters: redis on localhost:6379 as written (nothing listens there, so it
        # serves from its SQLite fallback), sqlite, and the environment's choice (the server).
        await arun(CONFIGURATION, scope)
        opened.append(scope["memory"])
        assert scope["memory"].redis_manager.available
        await arun(SESSION_MANAGEMENT, scope)
        opened.append(scope["memory"])
        assert scope["history"] == ["session_001", scope["new_session_id"]]
        await scope["memory"].save_skill("web_scraping", "scrape pages from the web", ["fetch"])
        await scope["memory"].record_skill_execution("web_scraping", True, 1.0)
        await arun(UNIFIED_SEARCH, scope)
        await arun(CHECK_CONNECTION, scope)
        out = capsys.readouterr().out
        assert "Skill: web_scraping (success rate: 100.0%)" in out
        assert "Redis is connected" in out
    finally:
        for name, value in scope.items():
            if isinstance(value, adapter.MemoryAdapter) and name != "memory":
                opened.append(value)
        for one in {id(a): a for a in opened}.values():
            await one.close()


async def test_adapter_falls_back_to_sqlite_when_redis_is_down(
    environment: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listens on the port: the adapter still works, on its SQLite fallback."""
    monkeypatch.setenv("REDIS_PORT", "1")
    scope: dict[str, Any] = {}
    run("from redis_memory_adapter import create_memory_adapter", scope)  # as the documents do
    await arun(SESSION_MANAGEMENT, scope)
    try:
        await arun(CHECK_CONNECTION, scope)
        assert "Using SQLite fallback" in capsys.readouterr().out
        await scope["memory"].add_step("test", "observation", success=True)
    finally:
        await scope["memory"].close()


async def test_adapter_refuses_an_unknown_backend(documents_modules: None) -> None:
    with pytest.raises(adapter.ConfigurationError, match="redis or sqlite"):
        await adapter.create_memory_adapter(backend="mongodb", agent_id="a")


def test_kernel_memory(environment: str, tmp_path: Path) -> None:
    identity = tmp_path / "identity"
    identity.mkdir()
    for name in ("aether_core", "mission", "percy"):
        (identity / f"{name}.md").write_text(f"# {name}\n", encoding="utf-8")
    built: list[int] = []

    def build_tool_schema() -> dict[str, Any]:
        built.append(1)
        return {"tools": [{"name": "search"}]}

    scope: dict[str, Any] = {"session_id": "boot-1", "build_tool_schema": build_tool_schema}
    run(BOOTSTRAP, scope)
    run(TOOL_SCHEMA_ONCE, scope)
    run(TOOL_SCHEMA_ONCE, scope)  # a second boot reads the cached schema
    assert built == [1] and scope["schema"] == {"tools": [{"name": "search"}]}
    for n in range(3):
        scope.update(tool_name="search", input={"q": n}, output=f"result {n}")
        run(EPISODES, scope)
    memory = scope["memory"]
    assert memory.get_identity("mission.md") == "# mission\n"
    assert memory.get_episodes("boot-1", limit=2) == [
        {"tool": "search", "input": {"q": 1}, "output": "result 1"},
        {"tool": "search", "input": {"q": 2}, "output": "result 2"},
    ]
    assert memory.load_checkpoint("boot-1") is None
    memory.store_checkpoint("boot-1", {"step": 1})
    memory.store_checkpoint("boot-1", {"step": 2})
    assert memory.load_checkpoint("boot-1") == {"step": 2}
    assert memory.get_tool_schema("another-session") is None
    memory.close()


def test_the_snippets_are_the_documents_text() -> None:
    """Every snippet run here is in its document, character for character."""
    seeds = _seeds()
    if seeds is None:
        pytest.skip("the users' documents (shared/seeds) are not beside this checkout")
    for number, snippets in SNIPPETS.items():
        (document,) = seeds.glob(f"{number}_*.txt")
        text = document.read_text(encoding="utf-8")
        for snippet in snippets:
            assert snippet.strip() in text, (document.name, snippet[:60])


def test_adapter_custom_configuration_check(
    environment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(CUSTOM_CONFIGURATION_CHECK, {"__name__": "__main__"})
    assert capsys.readouterr().out == "Test passed!\n"
    with Memory.open(environment) as mem:
        (session,) = mem.agent("test_agent").sessions()
        steps = mem.agent("test_agent").session(session.id).events(types=("step",))
        assert [(e.data["action"], e.data["observation"]) for e in steps] == [
            ("test", "observation")
        ]
