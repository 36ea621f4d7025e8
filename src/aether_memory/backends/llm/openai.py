"""Chat completions from any OpenAI-compatible ``POST {base_url}/chat/completions`` endpoint.

OpenAI itself, and the servers that copy its API (vLLM, llama.cpp, Ollama, LM Studio,
LiteLLM…). Retries and errors as every HTTP client here (`backends.http`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aether_memory.backends.http import (
    DEFAULT_BACKOFF,
    DEFAULT_MAX_RETRIES,
    JsonEndpoint,
    api_url,
)
from aether_memory.core.errors import BackendUnavailable, ConfigurationError, InvalidInput

__all__ = ["DEFAULT_CHAT_TIMEOUT", "OpenAIChat"]

DEFAULT_CHAT_TIMEOUT = 60.0  # a completion takes longer than an embedding


class OpenAIChat:
    """A chat model on an OpenAI-compatible HTTP endpoint (a `core.summarize.ChatModel`).

    Args:
        base_url: The API root: ``https://api.openai.com/v1``, ``http://127.0.0.1:8000/v1``.
            ``/chat/completions`` is appended (unless already there).
        model: The model name the server expects.
        api_key: Sent as ``Authorization: Bearer …``; None for servers that need none.
        timeout: Seconds per HTTP request.
        temperature: Sampling temperature (0: as repeatable as the server allows).
        max_tokens: The longest reply, in tokens.
        max_retries: Retries after a 429/5xx reply, a time-out or a refused connection.
        backoff: Seconds before the first retry (doubling, with jitter).

    Raises:
        ConfigurationError: The URL is not http(s) or the model is not named.
        InvalidInput: A numeric argument is out of range.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = DEFAULT_CHAT_TIMEOUT,
        *,
        temperature: float = 0.0,
        max_tokens: int = 1024,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
    ) -> None:
        url, _ = api_url(base_url, "/chat/completions")
        if not model:
            raise ConfigurationError("model must name the server's chat model")
        if not 0 <= temperature <= 2:
            raise InvalidInput(f"temperature must be from 0 to 2, got {temperature!r}")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise InvalidInput(f"max_tokens must be a positive integer, got {max_tokens!r}")
        self._endpoint = JsonEndpoint(
            url, "OpenAI chat", model, api_key, timeout, max_retries, backoff
        )
        self.url = url
        self.model = model
        self.temperature = float(temperature)
        self.max_tokens = max_tokens

    def __repr__(self) -> str:
        return f"OpenAIChat(url={self.url!r}, model={self.model!r})"  # never the key

    def complete(self, messages: Sequence[Mapping[str, str]], json_reply: bool = False) -> str:
        """The assistant's reply to `messages`; with `json_reply`, ``response_format`` asks
        for a JSON object (servers that ignore it are still told so in the prompt).

        Raises:
            InvalidInput: The server refused the request (400/413/422).
            ConfigurationError: The key, URL or model is wrong (401/403/404).
            BackendUnavailable: The server stayed unreachable, or did not answer with a
                chat completion.
        """
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if json_reply:
            payload["response_format"] = {"type": "json_object"}
        reply = self._endpoint.post(payload)
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendUnavailable(
                f"{self.url} did not return a chat completion ({type(exc).__name__}: {exc})"
            ) from exc
        if not isinstance(content, str):
            raise BackendUnavailable(f"{self.url} returned a completion without text")
        return content
