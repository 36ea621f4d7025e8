"""The chat-model side, against a local HTTP server speaking the OpenAI chat-completions
protocol with scripted replies (started by the test): the LLM summariser, the client's errors,
and memory formation from recorded turns (facts stored, linked to their turns, a changed one
superseded, the lag in health)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from aether_memory import BackendUnavailable, ConfigurationError, Memory
from aether_memory.backends.llm import OpenAIChat
from aether_memory.core.extract import LLMExtractor
from aether_memory.core.summarize import LLMSummarizer
from tests.http_stub import serving
from tests.word_embedder import CloseEmbedder, WordHashEmbedder


@dataclass
class ChatServer:
    """Replies are popped from `script`: a text (the completion) or ``(status, body)``."""

    url: str = ""
    script: list[Any] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    state = ChatServer()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.requests.append({"path": self.path, "body": body,
                                       "auth": self.headers.get("Authorization")})  # fmt: skip
                scripted = state.script.pop(0) if state.script else '{"memories": []}'
            if isinstance(scripted, tuple):
                status, payload = scripted
            else:
                status = 200
                payload = json.dumps({
                    "id": "chatcmpl-test", "object": "chat.completion", "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": scripted}}],
                }).encode()  # fmt: skip
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    with serving(Handler) as url:
        state.url = url
        yield state


def model(chat: ChatServer, **options: Any) -> OpenAIChat:
    return OpenAIChat(chat.url, "scripted-model", api_key="sk-test", backoff=0.01, **options)


def memories(*items: tuple[str, str, list[int]]) -> str:
    return json.dumps({"memories": [{"content": c, "kind": k, "turns": t} for c, k, t in items]})


def test_the_llm_summariser_sends_the_texts_and_returns_the_reply(chat: ChatServer) -> None:
    chat.script = ["The user flew to Lisbon and met Ana."]
    summarizer = LLMSummarizer(model(chat))
    assert summarizer.name == "llm:scripted-model"
    text = summarizer.summarize(["The user flew to Lisbon.", "The user met Ana."], 2)
    assert text == "The user flew to Lisbon and met Ana."
    sent = chat.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer sk-test"
    assert sent["body"]["model"] == "scripted-model"
    system, user = sent["body"]["messages"]
    assert system["role"] == "system" and "2 sentences" in system["content"]
    assert user["content"] == "[1] The user flew to Lisbon.\n[2] The user met Ana."
    chat.script = ["   "]
    with pytest.raises(BackendUnavailable, match="empty summary"):
        summarizer.summarize(["x"], 1)


def test_the_chat_client_maps_errors_like_every_http_client(chat: ChatServer) -> None:
    chat.script = [(401, b'{"error": {"message": "bad key"}}')]
    with pytest.raises(ConfigurationError, match="API key was refused") as caught:
        model(chat).complete([{"role": "user", "content": "hi"}])
    assert "sk-test" not in str(caught.value)
    chat.script = [(503, b"busy"), "fine"]
    assert model(chat).complete([{"role": "user", "content": "hi"}]) == "fine"  # retried
    chat.script = [(200, b'{"choices": []}')]
    with pytest.raises(BackendUnavailable, match="did not return a chat completion"):
        model(chat).complete([{"role": "user", "content": "hi"}])
    chat.script = [(200, b"<html>")]
    with pytest.raises(BackendUnavailable, match="not JSON"):
        model(chat, max_retries=0).complete([{"role": "user", "content": "hi"}])
    with pytest.raises(ConfigurationError):
        OpenAIChat("ftp://x", "m")


def test_the_consolidation_summary_can_come_from_the_model(
    chat: ChatServer, url: str, namespace: str
) -> None:
    chat.script = ["The user drinks green tea, without sugar, every morning."]
    with Memory.open(url, namespace=namespace, embedder=WordHashEmbedder(),
                     summarizer=LLMSummarizer(model(chat))) as mem:  # fmt: skip
        agent = mem.agent("a")
        for text in ("The user likes green tea", "The user drinks green tea every morning",
                     "The user prefers green tea without sugar"):  # fmt: skip
            agent.remember(text)
        report = mem.consolidate(threshold=0.5)
        record = agent.memory_record(report.created[0])
        assert record.content == "The user drinks green tea, without sugar, every morning."
        assert record.metadata["summarizer"] == "llm:scripted-model"


def test_formation_stores_facts_links_turns_and_supersedes_a_changed_one(
    chat: ChatServer, url: str, namespace: str
) -> None:
    extractor = LLMExtractor(model(chat))
    with Memory.open(url, namespace=namespace, embedder=CloseEmbedder(),
                     extractor=extractor) as mem:  # fmt: skip
        session = mem.agent("a").session("s1")
        chat.script = [memories(("The user lives in Lisbon", "fact", [1]),
                                ("The user likes jazz", "preference", [2]))]  # fmt: skip
        first = session.add_messages([
            {"speaker": "user", "content": "Hi! I live in Lisbon."},
            {"speaker": "user", "content": "Put on some jazz, I love it."},
        ])  # fmt: skip
        assert mem.formation is not None
        status = mem.formation.drain()
        assert (status.pending, status.formed, status.extracted) == (0, 2, 2)
        sent = chat.requests[0]["body"]
        assert sent["response_format"] == {"type": "json_object"}
        assert "[1] user: Hi! I live in Lisbon." in sent["messages"][1]["content"]
        facts = {r.content: r for r in mem.list_memories(kinds=["fact", "preference"]).items}
        assert set(facts) == {"The user lives in Lisbon", "The user likes jazz"}
        lisbon = facts["The user lives in Lisbon"]
        assert lisbon.related == (first[0].memory_id,)
        assert lisbon.source == "extraction" and lisbon.session == "s1"
        assert facts["The user likes jazz"].kind == "preference"
        assert facts["The user likes jazz"].related == (first[1].memory_id,)
        turn = mem.agent("a").memory_record(first[0].memory_id)
        assert turn.metadata["formed"] is True and turn.metadata["speaker"] == "user"

        chat.script = [memories(("The user lives in Porto", "fact", [1]))]
        moved = session.add_messages([{"speaker": "user", "content": "I moved to Porto."}])
        mem.formation.drain()
        porto = [r for r in mem.list_memories(kinds=["fact"]).items
                 if r.content == "The user lives in Porto"]  # fmt: skip
        assert len(porto) == 1
        assert porto[0].supersedes == lisbon.id and porto[0].related == (moved[0].memory_id,)
        assert mem.agent("a").memory_record(lisbon.id).superseded_by == porto[0].id
        assert [h.record.content for h in mem.agent("a").recall("where does the user live",
                kinds=["fact"], k=1)] == ["The user lives in Porto"]  # fmt: skip

        chat.script = [memories(("The user likes jazz", "preference", [1]))]
        session.add_messages([{"speaker": "user", "content": "Jazz again please"}])
        mem.formation.drain()
        jazz = [r for r in mem.list_memories(kinds=["preference"]).items]
        assert len(jazz) == 1  # said again: reinforced, not copied


def test_formation_runs_in_the_background_and_health_reports_its_lag(
    chat: ChatServer, url: str, namespace: str
) -> None:
    with Memory.open(url, namespace=namespace, embedder=CloseEmbedder(),
                     extractor=LLMExtractor(model(chat))) as mem:  # fmt: skip
        assert mem.health().formation is not None
        chat.script = [memories(("The user's dog is called Rex", "fact", [1]))]
        turns = (
            mem.agent("a")
            .session("s1")
            .add_messages([{"speaker": "user", "content": "My dog Rex is barking."}])
        )
        # remember/add_messages did not wait: the turn is recallable at once
        assert mem.agent("a").recall("dog barking", k=1)[0].record.id == turns[0].memory_id
        deadline = time.monotonic() + 30
        while mem.health().formation.formed < 1 and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.05)
        status = mem.health().formation
        assert status is not None and (status.pending, status.formed) == (0, 1)
        assert status.extractor == "llm:scripted-model" and status.running
        assert [r.content for r in mem.list_memories(kinds=["fact"]).items] == [
            "The user's dog is called Rex"
        ]


def test_an_unreadable_reply_skips_the_turns_and_says_so(
    chat: ChatServer, url: str, namespace: str
) -> None:
    with Memory.open(url, namespace=namespace, embedder=CloseEmbedder(),
                     extractor=LLMExtractor(model(chat))) as mem:  # fmt: skip
        chat.script = ["Sure! Here are the facts: the user likes tea."]
        mem.agent("a").session("s1").add_messages([{"speaker": "user", "content": "Tea!"}])
        assert mem.formation is not None
        status = mem.formation.drain()
        assert (status.pending, status.failed) == (0, 1)
        assert status.last_error is not None and "not JSON" in status.last_error
        assert mem.list_memories(kinds=["fact"]).items == ()


def test_turns_left_by_a_stopped_process_are_read_by_the_next(
    chat: ChatServer, url: str, namespace: str
) -> None:
    with Memory.open(url, namespace=namespace, embedder=CloseEmbedder()) as plain:
        turns = (
            plain.agent("a")
            .session("s1")
            .add_messages([{"speaker": "user", "content": "My sister Eva lives in Oslo."}])
        )  # recorded with no extractor: nothing read
    chat.script = [memories(("The user's sister Eva lives in Oslo", "fact", [1]))]
    with Memory.open(url, namespace=namespace, embedder=CloseEmbedder(),
                     extractor=LLMExtractor(model(chat))) as mem:  # fmt: skip
        assert mem.formation is not None
        assert mem.formation.drain().formed == 1
        (fact,) = mem.list_memories(kinds=["fact"]).items
        assert fact.related == (turns[0].memory_id,)
