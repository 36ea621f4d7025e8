"""The one error tree of aether-memory.

Every error the library raises on purpose derives from `AetherError`::

    AetherError                  code            retryable
    ├── InvalidInput             invalid_input   no    bad argument; nothing was written
    │   └── TooLarge             too_large       no    a value over the configured size limit
    ├── NotFound                 not_found       no    the thing asked for does not exist
    ├── Conflict                 conflict        no    the write clashes with what is stored
    │   └── LeaseLost            lease_lost      no    a task's lease ended before its ack
    ├── SerializationError       serialization   no    stored bytes could not be decoded
    ├── ConfigurationError       configuration   no    settings are missing or contradictory
    ├── ClientClosed             closed          no    the Memory was used after close()
    ├── StorageFull              storage_full    no    Redis is at maxmemory and refuses writes
    ├── StoreDamaged             damaged         no    a SQLite file is corrupt, deleted or replaced
    ├── BackendUnavailable       unavailable     yes   the store could not be reached in time
    ├── FeedTruncated            feed_truncated  no    a feed position older than the feed keeps
    └── NotReplicated            not_replicated  yes   applied on the primary, no replica has it yet

Driver errors are translated into this tree in one place per backend (``raise … from exc``),
so callers, the REST server and the MCP server only ever look at ``code``.
"""

from __future__ import annotations


class AetherError(Exception):
    """Base of every error raised by aether-memory."""

    code: str = "error"
    retryable: bool = False


class InvalidInput(AetherError, ValueError):
    """An argument was rejected before anything was written."""

    code = "invalid_input"


class TooLarge(InvalidInput):
    """A value is bigger than the configured limit."""

    code = "too_large"


class NotFound(AetherError, LookupError):
    """The requested item does not exist (or has expired)."""

    code = "not_found"


class Conflict(AetherError):
    """The write clashes with the stored state."""

    code = "conflict"


class SerializationError(AetherError):
    """Stored bytes are not in a format this version can decode."""

    code = "serialization"


class ConfigurationError(AetherError):
    """Settings are missing, malformed or contradictory."""

    code = "configuration"


class ClientClosed(AetherError, RuntimeError):
    """The memory client was used after it was closed."""

    code = "closed"


class StorageFull(AetherError):
    """Redis reached ``maxmemory`` under ``noeviction`` and refuses writes.

    Not an outage: the server answers and its data is intact, so there is no switch to a
    fallback (whose empty store would hide everything the agent had). Nothing was written;
    raise ``maxmemory`` or free space, then retry.
    """

    code = "storage_full"


class StoreDamaged(AetherError):
    """A SQLite file is unreadable, or was deleted or replaced while it was open.

    The message names the file and what to do. Nothing was written by the call that raised.
    """

    code = "damaged"


class BackendUnavailable(AetherError):
    """The store could not be reached within the configured timeouts.

    Attributes:
        maybe_applied: False when the request never reached the server (the connection was
            refused or could not be made), so a write was certainly not applied; True when it
            may have been sent (the reply timed out or the connection dropped), so the server
            may apply it, once. Writes carry their own ids, so retrying either way never
            applies one twice.
    """

    code = "unavailable"
    retryable = True

    def __init__(self, message: str = "", *, maybe_applied: bool = True) -> None:
        super().__init__(message)
        self.maybe_applied = maybe_applied


class FeedTruncated(AetherError):
    """The change feed no longer holds the position a subscriber resumed from: notifications
    after it may have been dropped (a feed keeps a capped history). `oldest` is where the
    feed now starts; resume from there after re-reading what matters in full."""

    code = "feed_truncated"

    def __init__(self, message: str, oldest: str) -> None:
        super().__init__(message)
        self.oldest = oldest


class LeaseLost(Conflict):
    """A claimed task's lease is no longer this worker's: its visibility timeout passed and it
    went back to the queue (or to another worker), or it was acknowledged already.

    Nothing was changed: the task is not acknowledged (or failed, or extended) twice.
    """

    code = "lease_lost"


class NotReplicated(AetherError):
    """With ``durability="replicated"``: the write was applied on the primary, but no replica
    acknowledged it within the configured time (``WAIT``). It is possibly unreplicated: if
    that primary failed now, its replica could be promoted without it and the write would be
    lost. Retrying is safe (writes carry their own ids) and waits again; so is reading it
    back, which the primary serves.

    Attributes:
        replicas: How many replicas acknowledged it (fewer than asked).
    """

    code = "not_replicated"
    retryable = True

    def __init__(self, message: str, *, replicas: int = 0) -> None:
        super().__init__(message)
        self.replicas = replicas
