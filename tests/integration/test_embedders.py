"""The real embedders: local MiniLM and E5 models from their packages, with the network cut,
and the OpenAI-compatible client against a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import numpy
import pytest
from numpy.typing import NDArray

from aether_memory.backends.embedders.e5 import E5SmallEmbedder
from aether_memory.backends.embedders.minilm import MiniLMEmbedder
from aether_memory.backends.embedders.openai import OpenAIEmbedder
from aether_memory.core.embeddings import CachedEmbedder, Embedder, embed_async
from aether_memory.core.errors import BackendUnavailable, ConfigurationError, InvalidInput
from tests.http_stub import serving

MEMORIES = [
    "the user is allergic to peanuts",
    "deploy failed",
    "The user prefers dark mode in the editor",
    "Paris is the capital of France",
    "The CI pipeline failed because of a missing dependency",
]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hub clients told to stay offline, and any non-loopback connection refused outright."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    real_connect = socket.socket.connect

    def loopback_only(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = str(address[0])
            try:
                allowed = ipaddress.ip_address(host).is_loopback
            except ValueError:
                allowed = host == "localhost"
            if not allowed:
                raise AssertionError(f"network access during an offline test: {address!r}")
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)


def cosine_ranking(embedder: Embedder, query: str) -> list[str]:
    docs = embedder.embed(MEMORIES)
    scores = docs @ embedder.embed_query([query])[0]
    return [MEMORIES[i] for i in numpy.argsort(-scores)]


def assert_unit_rows(vectors: NDArray[numpy.float32], n: int, dims: int) -> None:
    assert vectors.shape == (n, dims)
    assert vectors.dtype == numpy.float32
    numpy.testing.assert_allclose(numpy.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


# -- MiniLM ------------------------------------------------------------------------------


def test_minilm_loads_offline_and_embeds(offline: None) -> None:
    embedder = MiniLMEmbedder(threads=1)  # a configuration no other test loaded: a fresh load
    vectors = embedder.embed(MEMORIES)
    assert_unit_rows(vectors, len(MEMORIES), 384)
    assert embedder.embed([]).shape == (0, 384)


def test_minilm_semantic_sanity(offline: None) -> None:
    embedder = MiniLMEmbedder()
    peanuts, deploy = embedder.embed(["the user is allergic to peanuts", "deploy failed"])
    query = embedder.embed_query(["what food can't the user eat?"])[0]
    assert peanuts @ query > deploy @ query + 0.2
    assert cosine_ranking(embedder, "what is the user allergic to?")[0] == MEMORIES[0]
    assert cosine_ranking(embedder, "which city is France's capital?")[0] == MEMORIES[3]
    assert set(cosine_ranking(embedder, "why did the build break?")[:2]) == {
        MEMORIES[1],
        MEMORIES[4],
    }


def test_minilm_batching_and_order_do_not_change_vectors(offline: None) -> None:
    embedder = MiniLMEmbedder(batch_size=2)
    texts = [*MEMORIES, "a much longer memory " * 20, ""]
    together = embedder.embed(texts)
    alone = numpy.stack([embedder.embed([t])[0] for t in texts])
    numpy.testing.assert_allclose(together, alone, atol=1e-5)
    numpy.testing.assert_allclose(embedder.embed(texts[::-1]), together[::-1], atol=1e-5)


def test_minilm_truncates_at_256_tokens(offline: None) -> None:
    embedder = MiniLMEmbedder()
    long_text = "memory " * 300  # 300 word tokens: past the limit
    a, b = embedder.embed([long_text, long_text + "and a different ending entirely"])
    numpy.testing.assert_array_equal(a, b)
    short = MiniLMEmbedder(max_tokens=16)
    c, d = short.embed(["memory " * 20, "memory " * 20 + "unlike"])
    numpy.testing.assert_array_equal(c, d)


def test_minilm_refuses_a_file_that_is_not_the_pinned_model(offline: None, tmp_path: Path) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not a model")
    with pytest.raises(ConfigurationError, match="not the pinned"):
        MiniLMEmbedder(model_path=fake).embed(["x"])
    with pytest.raises(ConfigurationError, match="cannot read"):
        MiniLMEmbedder(model_path=tmp_path / "missing.onnx").load()
    bad_tokenizer = tmp_path / "tokenizer.json"
    bad_tokenizer.write_text("{}")
    with pytest.raises(ConfigurationError, match="tokenizer"):
        MiniLMEmbedder(tokenizer_path=bad_tokenizer, threads=3).load()


def test_minilm_cached_and_async(offline: None) -> None:
    import asyncio

    cached = CachedEmbedder(MiniLMEmbedder())
    first = asyncio.run(embed_async(cached, MEMORIES))
    second = cached.embed(MEMORIES[::-1])
    numpy.testing.assert_array_equal(second, first[::-1])
    assert cached.cache_info().hits == len(MEMORIES)


def test_minilm_int8_copy_is_derived_once_into_the_cache(
    offline: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    with caplog.at_level(logging.DEBUG):
        fast = MiniLMEmbedder(cache_dir=cache).embed(MEMORIES)
    # the quantizer's advice on the root logger is not passed on to the application's logs
    assert not [r for r in caplog.records if "quantization" in r.pathname], caplog.records
    (copy,) = cache.iterdir()  # the copy and nothing else: no partial file left behind
    assert copy.name.startswith("minilm-8199be6f699a-dq8pc2-ort") and copy.suffix == ".onnx"
    assert copy.stat().st_mode & 0o044  # readable by the machine's other users too
    written = copy.stat().st_mtime_ns
    # another process (a fresh load here: other threads) reuses the copy as it is
    again = MiniLMEmbedder(cache_dir=cache, threads=3).embed(MEMORIES)
    assert copy.stat().st_mtime_ns == written
    numpy.testing.assert_allclose(again, fast, atol=1e-5)
    # close to the float32 vectors, but not the same: a model id of its own
    exact = MiniLMEmbedder(compute="float32").embed(MEMORIES)
    assert (numpy.sum(fast * exact, axis=1) > 0.98).all()
    assert not numpy.allclose(fast, exact, atol=1e-3)
    assert MiniLMEmbedder().model != MiniLMEmbedder(compute="float32").model


def test_minilm_int8_works_when_the_cache_cannot_be_written(offline: None, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    before = set(Path(tempfile.gettempdir()).glob("aether-minilm-*"))
    embedder = MiniLMEmbedder(cache_dir=blocker / "cache")
    assert_unit_rows(embedder.embed(MEMORIES), len(MEMORIES), 384)
    assert blocker.read_text() == "not a folder"
    # derived into a temporary folder, removed once the session holds the weights
    assert set(Path(tempfile.gettempdir()).glob("aether-minilm-*")) <= before


# -- E5 ----------------------------------------------------------------------------------


def test_e5_loads_offline_and_embeds(offline: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    embedder = E5SmallEmbedder()
    docs = embedder.embed(MEMORIES)
    assert "OMP_WAIT_POLICY" not in os.environ  # set only while the engine loaded
    queries = embedder.embed_query(MEMORIES)
    assert_unit_rows(docs, len(MEMORIES), 384)
    assert_unit_rows(queries, len(MEMORIES), 384)
    # "passage: " and "query: " prefixes: same text, different vectors
    assert not numpy.allclose(docs, queries)
    assert embedder.embed([]).shape == (0, 384)


def test_e5_semantic_sanity(offline: None) -> None:
    embedder = E5SmallEmbedder(batch_size=2)
    assert cosine_ranking(embedder, "what is the user allergic to?")[0] == MEMORIES[0]
    assert cosine_ranking(embedder, "does the user have any food allergies?")[0] == MEMORIES[0]
    # Not asserted: for "what food can't the user eat?" this 4-bit e5-small ranks "deploy
    # failed" (0.806) just above the peanut allergy (0.801); MiniLM gets it right by 0.45.
    assert cosine_ranking(embedder, "which city is France's capital?")[0] == MEMORIES[3]
    assert set(cosine_ranking(embedder, "why did the build break?")[:2]) == {
        MEMORIES[1],
        MEMORIES[4],
    }
    # multilingual: a German memory answers an English question
    german, deploy = embedder.embed(["Der Nutzer ist allergisch gegen Erdnüsse", "deploy failed"])
    query = embedder.embed_query(["what is the user allergic to?"])[0]
    assert german @ query > deploy @ query


# -- OpenAI-compatible, against a real local server --------------------------------------


@dataclass
class FakeAPI:
    """What the fake server was sent, and the replies it should give before the normal ones."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def fake_vector(text: str, dims: int) -> list[float]:
    """Deterministic, deliberately not normalised (so the client's normalisation shows)."""
    digest = hashlib.blake2b(text.encode(), digest_size=dims).digest()
    return [float(b) + 1.0 for b in digest]


@pytest.fixture
def api() -> Iterator[FakeAPI]:
    state = FakeAPI(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
                )
                scripted = state.script.pop(0) if state.script else None
            if state.delay:
                time.sleep(state.delay)
            if scripted is not None:
                status, headers, payload = scripted
            else:
                dims = body.get("dimensions", 8)
                data = [
                    {"object": "embedding", "index": i, "embedding": fake_vector(t, dims)}
                    for i, t in enumerate(body["input"])
                ]
                data.reverse()  # clients must order by "index", not by position
                status, headers = 200, {"Content-Type": "application/json"}
                payload = json.dumps({"object": "list", "data": data}).encode()
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out first, as the time-out test intends

    with serving(Handler) as url:
        state.url = url
        yield state


def error(status: int, message: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"error": {"message": message, "type": "test"}}).encode()
    return status, {"Content-Type": "application/json", **headers}, body


def client(api: FakeAPI, **kwargs: Any) -> OpenAIEmbedder:
    options: dict[str, Any] = {"dims": 8, "backoff": 0.01, "timeout": 5.0, **kwargs}
    return OpenAIEmbedder(api.url, "fake-embed", **options)


def normalised(texts: list[str], dims: int = 8) -> NDArray[numpy.float32]:
    rows = numpy.array([fake_vector(t, dims) for t in texts], dtype=numpy.float32)
    unit: NDArray[numpy.float32] = rows / numpy.linalg.norm(rows, axis=1, keepdims=True)
    return unit


def test_openai_batches_orders_and_normalises(offline: None, api: FakeAPI) -> None:
    texts = [f"memory number {i}" for i in range(150)]
    out = client(api, api_key="sk-test").embed(texts)
    assert_unit_rows(out, 150, 8)
    numpy.testing.assert_allclose(out, normalised(texts), rtol=1e-6)
    assert [len(r["body"]["input"]) for r in api.requests] == [64, 64, 22]
    first = api.requests[0]
    assert first["path"] == "/v1/embeddings"
    assert first["auth"] == "Bearer sk-test"
    assert first["body"]["model"] == "fake-embed"
    assert first["body"]["encoding_format"] == "float"
    assert "dimensions" not in first["body"]


def test_openai_sends_no_key_when_none_is_given(offline: None, api: FakeAPI) -> None:
    client(api).embed(["x"])
    assert api.requests[0]["auth"] is None


def test_openai_asks_v3_models_for_shortened_vectors(offline: None, api: FakeAPI) -> None:
    embedder = OpenAIEmbedder(api.url, "text-embedding-3-small", dims=16, backoff=0.01)
    assert embedder.embed(["x"]).shape == (1, 16)
    assert api.requests[0]["body"]["dimensions"] == 16


def test_openai_retries_rate_limits_and_server_errors(offline: None, api: FakeAPI) -> None:
    api.script = [error(429, "slow down", **{"Retry-After": "0"}), error(503, "busy")]
    out = client(api).embed(["a", "b"])
    numpy.testing.assert_allclose(out, normalised(["a", "b"]), rtol=1e-6)
    assert len(api.requests) == 3


def test_openai_gives_up_after_the_retries(offline: None, api: FakeAPI) -> None:
    api.script = [error(503, "overloaded")] * 3
    with pytest.raises(BackendUnavailable, match="overloaded") as caught:
        client(api, max_retries=2).embed(["a"])
    assert caught.value.retryable
    assert len(api.requests) == 3


def test_openai_bad_key_is_a_configuration_error(offline: None, api: FakeAPI) -> None:
    api.script = [error(401, "Incorrect API key provided")]
    with pytest.raises(ConfigurationError, match="API key was refused") as caught:
        client(api, api_key="sk-secret-value").embed(["a"])
    assert "sk-secret-value" not in str(caught.value)
    assert len(api.requests) == 1  # not retried


def test_openai_wrong_url_is_a_configuration_error(offline: None, api: FakeAPI) -> None:
    api.script = [error(404, "no such route")]
    with pytest.raises(ConfigurationError, match="/v1"):
        client(api).embed(["a"])


def test_openai_refused_input_is_invalid_input(offline: None, api: FakeAPI) -> None:
    api.script = [error(400, "This model's maximum context length is 8192 tokens")]
    with pytest.raises(InvalidInput, match="maximum context length"):
        client(api).embed(["a"])
    assert len(api.requests) == 1


def test_openai_wrong_dims_says_which(offline: None, api: FakeAPI) -> None:
    with pytest.raises(ConfigurationError, match="pass dims=8"):
        client(api, dims=4).embed(["a"])


def test_openai_garbage_reply_is_unavailable(offline: None, api: FakeAPI) -> None:
    api.script = [(200, {"Content-Type": "text/html"}, b"<html>login</html>")]
    with pytest.raises(BackendUnavailable, match="not return an embeddings response"):
        client(api, max_retries=0).embed(["a"])


def test_openai_timeout_and_refused_connection(offline: None, api: FakeAPI) -> None:
    api.delay = 0.5
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="cannot reach"):
        client(api, timeout=0.1, max_retries=1).embed(["a"])
    assert time.monotonic() - started < 3
    api.delay = 0.0

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = OpenAIEmbedder(f"http://127.0.0.1:{port}/v1", "m", dims=8, backoff=0.01)
    with pytest.raises(BackendUnavailable, match="is the server running"):
        closed.embed(["a"])


def test_openai_behind_the_cache(offline: None, api: FakeAPI) -> None:
    cached = CachedEmbedder(client(api))
    cached.embed(["a", "b"])
    cached.embed(["b", "a", "c"])
    assert [r["body"]["input"] for r in api.requests] == [["a", "b"], ["c"]]
