"""JSON over HTTP to OpenAI-compatible endpoints: one request, retried, with typed errors.

Shared by the embeddings client and the chat-completions client. Plain ``urllib.request``:
no SDK dependency, and nothing connects until a request is sent.

- 408, 429 and 5xx replies, time-outs and refused connections are retried with exponential
  backoff and jitter (honouring a numeric ``Retry-After``), then raise `BackendUnavailable`.
- 401/403/404 raise `ConfigurationError` (the key or URL is wrong: retrying will not help);
  400/413/422 raise `InvalidInput` with the server's message.

The API key is sent only in the ``Authorization`` header and never appears in an error.
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
from typing import Any

from aether_memory.core.errors import BackendUnavailable, ConfigurationError, InvalidInput

__all__ = ["DEFAULT_BACKOFF", "DEFAULT_MAX_RETRIES", "DEFAULT_TIMEOUT", "JsonEndpoint", "api_url"]

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 3
DEFAULT_BACKOFF = 0.5  # seconds before the first retry; doubles each time
MAX_BACKOFF = 20.0  # cap on any one wait, Retry-After included
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_INPUT_STATUSES = frozenset({400, 413, 422})


def api_url(base_url: str, path: str) -> tuple[str, str]:
    """The endpoint URL (`path` appended to the API root unless already there) and the host.

    Raises:
        ConfigurationError: `base_url` is not an http(s) URL.
    """
    parsed = urllib.parse.urlsplit(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigurationError(
            f"base_url must be an http(s) URL such as https://api.openai.com/v1, got {base_url!r}"
        )
    root = base_url.rstrip("/")
    return (root if root.endswith(path) else root + path), parsed.netloc


class JsonEndpoint:
    """POST JSON to one URL and return the decoded JSON reply, retrying what is transient.

    Args:
        url: The full endpoint URL (see `api_url`).
        what: What the endpoint serves, for error messages (``embeddings``, ``OpenAI chat``).
        model: The model name, named in a 404's message.
        api_key: Sent as ``Authorization: Bearer …``; None for servers that need none.
        timeout: Seconds per HTTP request.
        max_retries: Retries after a 408/429/5xx reply, a time-out or a refused connection.
        backoff: Seconds before the first retry (doubling, with jitter).

    Raises:
        InvalidInput: A numeric argument is out of range.
    """

    def __init__(
        self,
        url: str,
        what: str,
        model: str,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
    ) -> None:
        if not 0 < timeout <= 600:
            raise InvalidInput(f"timeout must be in (0, 600] seconds, got {timeout!r}")
        if not 0 <= max_retries <= 10:
            raise InvalidInput(f"max_retries must be from 0 to 10, got {max_retries!r}")
        if not 0 <= backoff <= MAX_BACKOFF:
            raise InvalidInput(f"backoff must be from 0 to {MAX_BACKOFF}, got {backoff!r}")
        self.url = url
        self.what = what
        self.model = model
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.backoff = backoff
        self._jitter = random.Random()  # never the application's global random stream
        self._api_key = api_key

    def __repr__(self) -> str:
        return f"JsonEndpoint(url={self.url!r}, model={self.model!r})"  # never the key

    def post(self, payload: dict[str, Any]) -> Any:
        """Send `payload`; the reply's JSON document.

        Raises:
            InvalidInput: The server refused the request (400/413/422).
            ConfigurationError: The key, URL or model is wrong (401/403/404).
            BackendUnavailable: The server stayed unreachable, overloaded or failing through
                every retry, or its reply was not JSON.
        """
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
                break
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
                    f"cannot reach the {self.what} endpoint {self.url} after "
                    f"{attempt + 1} attempts ({reason}); is the server running, and is "
                    f"timeout={self.timeout:g}s enough?"
                ) from exc
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise BackendUnavailable(
                f"{self.url} did not return an {self.what} response (not JSON: {exc}); is "
                f"base_url an OpenAI-compatible API root?"
            ) from exc

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * (2**attempt) * self._jitter.uniform(0.8, 1.2)
        if retry_after is not None:
            # An HTTP date instead of seconds is rare for these APIs: keep our own delay then.
            with contextlib.suppress(ValueError):
                delay = max(delay, float(retry_after))
        time.sleep(min(delay, MAX_BACKOFF))

    def _http_error(self, status: int, detail: str) -> Exception:
        where = f"{self.url} answered HTTP {status}"
        if status in (401, 403):
            return ConfigurationError(
                f"{where}: the API key was refused ({detail}); pass a valid api_key="
            )
        if status == 404:
            return ConfigurationError(
                f"{where} ({detail}): check that base_url ends with the API root (usually "
                f"/v1) and that the server serves the model {self.model!r}"
            )
        if status in _INPUT_STATUSES:
            return InvalidInput(f"{where}: the request was refused ({detail})")
        if status in _RETRY_STATUSES:
            return BackendUnavailable(
                f"{where} ({detail}) through {self.max_retries + 1} attempts; try again later"
            )
        return BackendUnavailable(f"{where} ({detail})")


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
