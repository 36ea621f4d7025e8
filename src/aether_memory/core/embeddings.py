"""The embedding port: what long-term memory needs from a text embedder, and a cache for it.

An `Embedder` turns texts into L2-normalised float32 rows, so cosine similarity is a dot
product. Implementations live in ``aether_memory.backends.embedders`` (local MiniLM and E5,
any OpenAI-compatible endpoint); this module stays pure:

- `Embedder` — the Protocol (``model``, ``dims``, ``embed``, ``embed_query``);
- `CachedEmbedder` — an in-process LRU in front of any embedder, so identical texts are
  computed once;
- `embed_async` — runs a (blocking) embedder off the event loop;
- `as_texts` / `l2_normalize` — the input check and the normalisation every embedder shares.

numpy is imported lazily (only when vectors are actually made), and no model runtime is ever
imported here, so ``import aether_memory`` stays light.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

from aether_memory.core.errors import InvalidInput

if TYPE_CHECKING:
    import numpy
    from numpy.typing import NDArray

    Vectors = NDArray[numpy.float32]

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "CacheInfo",
    "CachedEmbedder",
    "Embedder",
    "as_texts",
    "check_vectors",
    "embed_async",
    "l2_normalize",
]

DEFAULT_CACHE_SIZE = 10_000
"""Entries kept by `CachedEmbedder`: 10,000 x 384 float32 = 15 MiB."""

# Cache keys carry the text's digest, not the text: bounded size whatever the text length.
_DIGEST_BYTES = 16


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors for similarity search.

    Attributes:
        model: A stable id of the model *and its version* (weights, quantisation, pooling).
            Vectors made under different ids are not comparable; it keys caches and indexes.
        dims: The length of every vector.

    Implementations that subclass `Embedder` explicitly inherit `embed_query` (= `embed`);
    classes that only match it structurally must define both methods.
    """

    model: str
    dims: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embeds documents (the texts that are stored and later searched).

        Args:
            texts: The texts, in order. A bare ``str`` is refused (it would be a sequence of
                characters).

        Returns:
            A float32 array of shape ``(len(texts), dims)`` with L2-normalised rows, in the
            order of `texts`.

        Raises:
            InvalidInput: `texts` is a ``str`` or holds a non-string.
            ConfigurationError: The model cannot be loaded or reached as configured.
            BackendUnavailable: A remote embedder could not be reached in time.
        """
        ...

    def embed_query(self, texts: Sequence[str]) -> Vectors:
        """Embeds search queries; same contract as `embed`.

        Asymmetric models (E5: ``"query: "`` / ``"passage: "``) embed queries differently from
        documents; symmetric ones (MiniLM) do not, which is this default.
        """
        return self.embed(texts)


class CacheInfo(NamedTuple):
    """Counters of a `CachedEmbedder`, shaped like ``functools.lru_cache``'s."""

    hits: int
    misses: int
    maxsize: int
    currsize: int


class CachedEmbedder(Embedder):
    """An in-process LRU cache in front of any `Embedder`.

    Keys are ``(model, kind, blake2b(text))`` — ``kind`` tells queries from documents, since
    asymmetric models embed them differently. One call embeds only its misses, each distinct
    text once, in one batch; the result keeps the order of the input.

    Thread-safe: a lock guards the cache dict only, never the model call, so two threads that
    miss on the same text at the same moment may both compute it (same vector, no harm) rather
    than wait on each other behind a slow model.

    Args:
        inner: The embedder to cache.
        maxsize: How many vectors to keep (least recently used are dropped first).

    Raises:
        InvalidInput: `maxsize` is not a positive integer.
    """

    def __init__(self, inner: Embedder, maxsize: int = DEFAULT_CACHE_SIZE) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise InvalidInput(f"maxsize must be a positive integer, got {maxsize!r}")
        self.inner = inner
        self.model = inner.model
        self.dims = inner.dims
        self.maxsize = maxsize
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str, bytes], Vectors] = OrderedDict()
        self._hits = 0
        self._misses = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Like the inner `embed`, computing only the texts not seen before."""
        return self._embed(as_texts(texts), "doc")

    def embed_query(self, texts: Sequence[str]) -> Vectors:
        """Like the inner `embed_query`, computing only the texts not seen before."""
        return self._embed(as_texts(texts), "query")

    def cached(self, texts: Sequence[str], *, query: bool = False) -> Vectors | None:
        """The vectors if every text is cached, else None; never calls the model.

        Lets an async caller skip the hop to a worker thread when there is nothing to compute.
        """
        import numpy

        kind = "query" if query else "doc"
        with self._lock:
            rows = [self._entries.get((self.model, kind, _digest(t))) for t in texts]
            if not rows or any(row is None for row in rows):
                return None
            for t in texts:
                self._entries.move_to_end((self.model, kind, _digest(t)))
            self._hits += len(rows)
        result: Vectors = numpy.stack(rows)  # type: ignore[arg-type]
        return result

    def cache_info(self) -> CacheInfo:
        """Hit and miss counts since creation (or the last `cache_clear`)."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, self.maxsize, len(self._entries))

    def cache_clear(self) -> None:
        """Drops every cached vector and resets the counters."""
        with self._lock:
            self._entries.clear()
            self._hits = self._misses = 0

    def _embed(self, texts: list[str], kind: str) -> Vectors:
        import numpy

        keys = [(self.model, kind, _digest(text)) for text in texts]
        rows: list[Vectors | None] = []
        with self._lock:
            for key in keys:
                row = self._entries.get(key)
                if row is not None:
                    self._entries.move_to_end(key)
                rows.append(row)
        # Each distinct missing text once, in first-seen order.
        missing: dict[tuple[str, str, bytes], str] = {}
        for key, text, row in zip(keys, texts, rows, strict=True):
            if row is None:
                missing.setdefault(key, text)

        if missing:
            batch = list(missing.values())
            computed = self.inner.embed_query(batch) if kind == "query" else self.inner.embed(batch)
            check_vectors(computed, len(batch), self.dims, self.model)
            fresh: dict[tuple[str, str, bytes], Vectors] = {}
            for key, computed_row in zip(missing, computed, strict=True):
                owned = computed_row.copy()  # not a view into the inner embedder's array
                owned.flags.writeable = False
                fresh[key] = owned
            rows = [fresh[key] if row is None else row for key, row in zip(keys, rows, strict=True)]
            with self._lock:
                for key, vector in fresh.items():
                    self._entries[key] = vector
                    self._entries.move_to_end(key)
                while len(self._entries) > self.maxsize:
                    self._entries.popitem(last=False)

        with self._lock:
            self._hits += len(texts) - len(missing)
            self._misses += len(missing)
        if not texts:
            return numpy.empty((0, self.dims), dtype=numpy.float32)
        # stack copies, so callers may modify the result without touching the cache
        result: Vectors = numpy.stack([row for row in rows if row is not None])
        return result


async def embed_async(embedder: Embedder, texts: Sequence[str], *, query: bool = False) -> Vectors:
    """Runs `embedder` in a worker thread so the event loop keeps serving.

    Args:
        embedder: Any embedder; its (blocking) call runs via ``asyncio.to_thread``.
        texts: The texts to embed.
        query: Embed them as search queries (`Embedder.embed_query`) instead of documents.

    Returns:
        What the embedder returns.
    """
    items = as_texts(texts)
    call = embedder.embed_query if query else embedder.embed
    return await asyncio.to_thread(call, items)


def as_texts(texts: Sequence[str]) -> list[str]:
    """Checks an embedder's input and returns it as a list.

    Raises:
        InvalidInput: `texts` is a bare ``str``/``bytes`` or holds something other than ``str``.
    """
    if isinstance(texts, str | bytes):
        raise InvalidInput("embed() takes a sequence of texts, not a single str: wrap it in [...]")
    items = list(texts)
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise InvalidInput(f"texts[{index}] is {type(text).__name__}, not str")
    return items


def l2_normalize(matrix: Vectors) -> Vectors:
    """Returns float32 rows scaled to unit length (all-zero rows stay zero)."""
    import numpy

    rows = numpy.asarray(matrix, dtype=numpy.float32)
    norms = numpy.linalg.norm(rows, axis=1, keepdims=True)
    normalized: Vectors = (rows / numpy.clip(norms, 1e-12, None)).astype(numpy.float32)
    return normalized


def check_vectors(vectors: Vectors, n: int, dims: int, model: str) -> None:
    """Checks that an embedder kept its contract: ``n`` rows of ``dims`` values.

    A wrong shape is a bug in that embedder, not bad input from the caller, so this raises a
    plain ``ValueError`` naming the model rather than an error from the tree.
    """
    shape = getattr(vectors, "shape", None)
    if shape != (n, dims):
        raise ValueError(f"embedder {model!r} returned shape {shape}, expected {(n, dims)}")


def _digest(text: str) -> bytes:
    return hashlib.blake2b(
        text.encode("utf-8", "surrogatepass"), digest_size=_DIGEST_BYTES
    ).digest()
