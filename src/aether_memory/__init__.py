"""aether-memory: persistent memory for AI agents, on Redis.

from aether_memory import Memory

with Memory.open("redis://localhost:6379/0") as mem:
    session = mem.agent("planner").session("s1")
    session.working.set("goal", "ship it")
"""

from aether_memory.client._async.memory import (
    AsyncAgent,
    AsyncAgentState,
    AsyncIdentity,
    AsyncMemory,
    AsyncSession,
    AsyncToolCache,
    AsyncWorkingMemory,
)
from aether_memory.client._sync.memory import (
    Agent,
    AgentState,
    Identity,
    Memory,
    Session,
    ToolCache,
    WorkingMemory,
)
from aether_memory.core.config import Options, Settings, TTLs
from aether_memory.core.errors import (
    AetherError,
    BackendUnavailable,
    ClientClosed,
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    SerializationError,
    TooLarge,
)
from aether_memory.core.types import Capabilities, CheckpointInfo, Event, SessionInfo

__version__ = "0.1.0"

__all__ = [
    "AetherError",
    "Agent",
    "AgentState",
    "AsyncAgent",
    "AsyncAgentState",
    "AsyncIdentity",
    "AsyncMemory",
    "AsyncSession",
    "AsyncToolCache",
    "AsyncWorkingMemory",
    "BackendUnavailable",
    "Capabilities",
    "CheckpointInfo",
    "ClientClosed",
    "ConfigurationError",
    "Conflict",
    "Event",
    "Identity",
    "InvalidInput",
    "Memory",
    "NotFound",
    "Options",
    "SerializationError",
    "Session",
    "SessionInfo",
    "Settings",
    "TTLs",
    "TooLarge",
    "ToolCache",
    "WorkingMemory",
    "__version__",
]
