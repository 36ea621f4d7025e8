"""Consolidation and summaries through the interfaces: `aether consolidate` and `aether form`
on the command line, and the REST routes (consolidate, summarize, close a session)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from aether_memory import Memory
from aether_memory.server.local import RedisProcess
from tests.conftest import server_named
from tests.integration.test_llm import ChatServer, chat, memories
from tests.interfaces.test_cli_manage import aether
from tests.interfaces.test_rest import KEY_ALL, start

__all__ = ["chat"]  # the fixture, imported for these tests


def with_model(*args: str, home: Path, env: dict[str, str]) -> str:
    """`aether ...` with a chat model configured in the environment; its stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "aether_memory.cli.main", *args], capture_output=True, text=True,
        env={**os.environ, "AETHER_HOME": str(home), "HF_HUB_OFFLINE": "1", **env}, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


TEA = [
    "The user likes green tea",
    "The user drinks green tea every morning",
    "The user prefers green tea without sugar",
]


def test_aether_consolidate_once_then_nothing_more(
    url: str, namespace: str, tmp_path: Path
) -> None:
    with Memory.open(url, namespace=namespace) as mem:  # the default model, as the CLI's
        ids = [mem.agent("a").remember(text).id for text in TEA]
    where = ["--url", url, "-n", namespace]
    dry = orjson.loads(aether("consolidate", *where, "--dry-run", "--json", home=tmp_path).stdout)
    assert (dry["clusters"], dry["created"]) == (1, [])
    line = aether("consolidate", *where, home=tmp_path).stdout
    assert "merged 3 into 1 consolidated memories" in line
    again = orjson.loads(aether("consolidate", *where, "--json", home=tmp_path).stdout)
    assert (again["clusters"], again["created"]) == (0, [])
    with Memory.open(url, namespace=namespace) as mem:
        (made,) = [r for r in mem.list_memories(kinds=["semantic"]).items]
        assert set(made.related) == set(ids) and "green tea" in made.content
    refused = aether("consolidate", *where, "--min-size", "1", home=tmp_path, check=False)
    assert refused.returncode != 0


def test_aether_form_needs_a_model_and_reads_turns_with_one(
    chat: ChatServer, url: str, namespace: str, tmp_path: Path
) -> None:
    with Memory.open(url, namespace=namespace) as mem:
        turns = (
            mem.agent("a")
            .session("s1")
            .add_messages([{"speaker": "user", "content": "I work at Acme as a nurse."}])
        )
    where = ["--url", url, "-n", namespace]
    refused = aether("form", *where, home=tmp_path, check=False)
    assert refused.returncode == 1 and "no offline extractor" in refused.stderr
    chat.script = [memories(("The user works at Acme as a nurse", "fact", [1]))]
    env = {"AETHER_LLM_URL": chat.url, "AETHER_LLM_MODEL": "scripted-model",
           "AETHER_EXTRACT_MEMORIES": "1"}  # fmt: skip
    done = json.loads(with_model("form", *where, "--json", home=tmp_path, env=env))
    assert (done["formed"], done["extracted"], done["pending"]) == (1, 1, 0)
    with Memory.open(url, namespace=namespace) as mem:
        (fact,) = mem.list_memories(kinds=["fact"]).items
        assert fact.content == "The user works at Acme as a nurse"
        assert fact.related == (turns[0].memory_id,)


@pytest.mark.timeout(300)
def test_rest_consolidate_summarize_and_close(
    servers: dict[str, RedisProcess], tmp_path: Path, namespace: str
) -> None:
    server = start(server_named(servers, "redis-modules").url, tmp_path)
    try:
        with httpx.Client(base_url=server.base, headers={"X-API-Key": KEY_ALL},
                          timeout=60) as http:  # fmt: skip
            agent = f"/v1/namespaces/{namespace}/agents/a"
            for text in TEA:
                assert http.post(f"{agent}/memories", json={"content": text}).status_code == 201
            done = http.post(f"/v1/namespaces/{namespace}/consolidate", json={}).json()
            assert (done["clusters"], done["consolidated"], len(done["created"])) == (1, 3, 1)
            again = http.post(f"/v1/namespaces/{namespace}/consolidate", json={}).json()
            assert again["created"] == []
            bad = http.post(f"/v1/namespaces/{namespace}/consolidate", json={"min_size": 1})
            assert bad.status_code == 400
            summary = http.post(f"{agent}/summarize", json={"topic": "green tea"}).json()
            assert "green tea" in summary["summary"] and summary["summarizer"] == "extractive"
            turns = {"messages": [{"speaker": "user", "content": "Let us plan a trip to Rome."}]}
            assert http.post(f"{agent}/sessions/s1/messages", json=turns).status_code < 300
            closed = http.post(f"{agent}/sessions/s1/close").json()
            assert "Rome" in closed["summary"]["content"]
            assert closed["summary"]["source"] == "session_summary"
            empty = http.post(f"{agent}/sessions/s2/close").json()
            assert empty == {"summary": None}
    finally:
        server.stop()
