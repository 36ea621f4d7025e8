"""Model files are pinned by their SHA-256: another file would give vectors that do not match
the model id stored with a namespace's memories."""

from __future__ import annotations

import hashlib
from pathlib import Path

from aether_memory.core.errors import ConfigurationError


def check_pinned(path: Path, sha256: str, what: str, model_id: str, install: str) -> None:
    """Raise `ConfigurationError` unless `path` is readable and has the pinned digest."""
    try:
        with path.open("rb") as file:
            digest = hashlib.file_digest(file, "sha256").hexdigest()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the {what} {path}: {exc}") from exc
    if digest != sha256:
        raise ConfigurationError(
            f"{path} is not the pinned {what} (sha256 {digest[:12]}…, expected {sha256[:12]}…): "
            f"its vectors would not match the id {model_id}. {install}"
        )
