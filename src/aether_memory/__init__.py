"""aether-memory: persistent memory for AI agents, on Redis.

from aether_memory import Memory

with Memory.open("redis://localhost:6379/0") as mem:
    session = mem.agent("planner").session("s1")
    session.working.set("goal", "ship it")
"""

from aether_memory.backends.embedders import default_embedder, embedder_from_name
from aether_memory.client._async.memory import (
    AsyncAgent,
    AsyncAgentState,
    AsyncIdentity,
    AsyncMemory,
    AsyncSession,
    AsyncToolCache,
    AsyncWorkingMemory,
)
from aether_memory.client._async.run import AsyncAgentRun
from aether_memory.client._sync.memory import (
    Agent,
    AgentState,
    Identity,
    Memory,
    Session,
    ToolCache,
    WorkingMemory,
)
from aether_memory.client._sync.run import AgentRun
from aether_memory.client.records import Memorable
from aether_memory.core.config import Options, Settings, TTLs
from aether_memory.core.embeddings import CachedEmbedder, Embedder
from aether_memory.core.errors import (
    AetherError,
    BackendUnavailable,
    ClientClosed,
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    SerializationError,
    StorageFull,
    StoreDamaged,
    TooLarge,
)
from aether_memory.core.pages import Erasure, Page
from aether_memory.core.ranking import RankingWeights
from aether_memory.core.types import (
    Capabilities,
    CheckpointInfo,
    Episode,
    Event,
    Health,
    Hit,
    Introspection,
    MemoryRecord,
    Message,
    SessionInfo,
    Skill,
)

__version__ = "0.1.0"

__all__ = [
    "AetherError",
    "Agent",
    "AgentRun",
    "AgentState",
    "AsyncAgent",
    "AsyncAgentRun",
    "AsyncAgentState",
    "AsyncIdentity",
    "AsyncMemory",
    "AsyncSession",
    "AsyncToolCache",
    "AsyncWorkingMemory",
    "BackendUnavailable",
    "CachedEmbedder",
    "Capabilities",
    "CheckpointInfo",
    "ClientClosed",
    "ConfigurationError",
    "Conflict",
    "Embedder",
    "Episode",
    "Erasure",
    "Event",
    "Health",
    "Hit",
    "Identity",
    "Introspection",
    "InvalidInput",
    "Memorable",
    "Memory",
    "MemoryRecord",
    "Message",
    "NotFound",
    "Options",
    "Page",
    "RankingWeights",
    "SerializationError",
    "Session",
    "SessionInfo",
    "Settings",
    "Skill",
    "StorageFull",
    "StoreDamaged",
    "TTLs",
    "TooLarge",
    "ToolCache",
    "WorkingMemory",
    "__version__",
    "default_embedder",
    "embedder_from_name",
]
