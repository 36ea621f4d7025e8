"""How values are turned into bytes and back: JSON (orjson), zstd above a threshold.

Layout: one header byte, then the payload.

    b"j" + JSON            small values
    b"z" + zstd(JSON)      values whose JSON is larger than the threshold (default 1 KiB)

The header letters keep small values readable in a Redis browser. Never pickle: decoding
stored bytes must not be able to run code.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import zstandard

from aether_memory.core.errors import InvalidInput, SerializationError, TooLarge

JSON = b"j"
ZSTD = b"z"
DEFAULT_COMPRESS_THRESHOLD = 1024
DEFAULT_MAX_VALUE_BYTES = 1024 * 1024
_MAX_DECOMPRESSED = 64 * 1024 * 1024  # refuse zstd bombs
# Refuse what JSON cannot carry back unchanged (datetimes, dataclasses, str/int subclasses)
# instead of letting orjson convert it silently.
_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


class Codec:
    """Encodes JSON-compatible values; refuses anything else with `InvalidInput`."""

    __slots__ = ("_compressor", "_decompressor", "compress_threshold", "max_value_bytes")

    def __init__(
        self,
        compress_threshold: int = DEFAULT_COMPRESS_THRESHOLD,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    ) -> None:
        self.compress_threshold = compress_threshold
        self.max_value_bytes = max_value_bytes
        # Made on first use: most values are small, and a namespace view makes a codec.
        self._compressor: zstandard.ZstdCompressor | None = None
        self._decompressor: zstandard.ZstdDecompressor | None = None

    def encode(self, value: Any) -> bytes:
        """Serialize `value` (JSON-compatible) into header + payload bytes."""
        data = dumps(value)
        if len(data) > self.max_value_bytes:
            raise TooLarge(
                f"value is {len(data)} bytes as JSON; the limit is {self.max_value_bytes} "
                "(raise max_value_bytes in the settings, or store a reference instead)"
            )
        if len(data) > self.compress_threshold:
            if self._compressor is None:
                self._compressor = zstandard.ZstdCompressor(level=3)
            return ZSTD + self._compressor.compress(data)
        return JSON + data

    def decode(self, raw: bytes) -> Any:
        """Inverse of `encode`; raises `SerializationError` on bytes it did not write."""
        header, payload = raw[:1], raw[1:]
        try:
            if header == JSON:
                return orjson.loads(payload)
            if header == ZSTD:
                # A frame may declare its size (then max_output_size is not consulted): check it.
                if zstandard.frame_content_size(payload) > _MAX_DECOMPRESSED:
                    raise SerializationError("stored value would decompress beyond 64 MiB")
                if self._decompressor is None:
                    self._decompressor = zstandard.ZstdDecompressor()
                return orjson.loads(
                    self._decompressor.decompress(payload, max_output_size=_MAX_DECOMPRESSED)
                )
        except (orjson.JSONDecodeError, zstandard.ZstdError) as exc:
            raise SerializationError(f"stored value is corrupt: {exc}") from exc
        raise SerializationError(
            f"stored value has unknown header {header!r}; it was not written by aether-memory"
        )


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """JSON bytes for a JSON-compatible value, or `InvalidInput` naming the offending type."""
    try:
        data = orjson.dumps(value, option=_OPTIONS | (orjson.OPT_SORT_KEYS if sort_keys else 0))
    except TypeError as exc:
        raise InvalidInput(
            f"value is not JSON-compatible ({exc}); use dict, list, str, int, float, bool, None"
        ) from exc
    # orjson writes NaN and infinities as null, which would not read back: refuse them. The
    # walk only runs when the output has a null in it, so the common case stays one pass.
    if b"null" in data and _has_non_finite(value):
        raise InvalidInput("value contains NaN or infinity, which JSON cannot represent")
    return data


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_non_finite(v) for v in value)
    return False
