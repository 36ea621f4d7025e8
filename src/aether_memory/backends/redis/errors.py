"""Translation of redis-py errors into the project's error tree, in one place."""

from __future__ import annotations

from types import TracebackType

from redis import exceptions as rx

from aether_memory.core.errors import (
    AetherError,
    BackendUnavailable,
    ConfigurationError,
    InvalidInput,
    StorageFull,
)


def translate(exc: rx.RedisError | rx.RedisClusterException) -> AetherError:
    """The `AetherError` a caller should see for a redis-py error."""
    if isinstance(exc, rx.RedisClusterException):
        # Raised by the cluster client itself: no node reachable, or a slot no primary
        # serves (mid-failover); anything else is a command no single node can run.
        if isinstance(exc, rx.SlotNotCoveredError) or "cannot be connected" in str(exc):
            return BackendUnavailable(f"the Redis Cluster cannot serve now: {exc}")
        return AetherError(f"Redis Cluster error: {exc}")
    if isinstance(exc, rx.AuthenticationError | rx.NoPermissionError):
        return ConfigurationError(f"Redis refused the credentials or ACL user: {exc}")
    if isinstance(exc, rx.ConnectionError | rx.TimeoutError | rx.BusyLoadingError):
        return BackendUnavailable(
            f"Redis is unreachable or did not answer in time: {exc}",
            maybe_applied=not _never_sent(exc),
        )
    if isinstance(exc, rx.ReadOnlyError | rx.TryAgainError | rx.ClusterDownError):
        return BackendUnavailable(f"Redis cannot take writes right now: {exc}", maybe_applied=False)
    # Full is not down: a fallback would serve an empty store and hide everything Redis
    # holds, so this error is not a `BackendUnavailable` (the fallback lets it through).
    if isinstance(exc, rx.OutOfMemoryError) or "OOM command not allowed" in str(exc):
        return StorageFull(
            f"Redis is at maxmemory and refuses writes ({exc}); nothing was written. Raise "
            "maxmemory (CONFIG SET maxmemory ...) or free space (forget old memories), then retry"
        )
    if str(exc).startswith("MISCONF"):
        return BackendUnavailable(
            f"Redis refuses writes because it cannot persist to disk ({exc}); check its "
            "data folder and free space",
            maybe_applied=False,
        )
    if isinstance(exc, rx.DataError):
        return InvalidInput(str(exc))
    return AetherError(f"Redis error: {exc}")


def _never_sent(exc: rx.RedisError) -> bool:
    """Did the command certainly not reach the server? redis-py says "connecting" when it
    could not open a connection; a loading server refuses every command it gets."""
    return isinstance(exc, rx.BusyLoadingError) or "connecting" in str(exc).lower()


class _Translating:
    """``with TRANSLATE:`` turns any redis-py error raised inside into an `AetherError`.

    A plain class rather than ``contextlib.contextmanager``: this wraps every command, and a
    generator-based manager costs several times more per use.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, rx.RedisError | rx.RedisClusterException):
            raise translate(exc) from exc


TRANSLATE = _Translating()
