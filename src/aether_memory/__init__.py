"""aether-memory: persistent memory for AI agents, on Redis.

from aether_memory import Memory

with Memory.open("redis://localhost:6379/0") as mem:
    session = mem.agent("planner").session("s1")
    session.working.set("goal", "ship it")
"""

from aether_memory.backends.embedders import default_embedder, embedder_from_name
from aether_memory.client._async.agent import AsyncAgent
from aether_memory.client._async.archive import AsyncArchiveScheduler
from aether_memory.client._async.cache import AsyncToolCache
from aether_memory.client._async.consolidation import AsyncConsolidationScheduler, Consolidation
from aether_memory.client._async.identity import AsyncAgentState, AsyncIdentity
from aether_memory.client._async.memory import AsyncMemory
from aether_memory.client._async.queue import AsyncClaimedTask, AsyncQueue
from aether_memory.client._async.run import AsyncAgentRun
from aether_memory.client._async.session import AsyncSession
from aether_memory.client._async.working import AsyncWorkingMemory
from aether_memory.client._sync.agent import Agent
from aether_memory.client._sync.archive import ArchiveScheduler
from aether_memory.client._sync.cache import ToolCache
from aether_memory.client._sync.consolidation import ConsolidationScheduler
from aether_memory.client._sync.identity import AgentState, Identity
from aether_memory.client._sync.memory import Memory
from aether_memory.client._sync.queue import ClaimedTask, Queue
from aether_memory.client._sync.run import AgentRun
from aether_memory.client._sync.session import Session
from aether_memory.client._sync.working import WorkingMemory
from aether_memory.client.records import Memorable
from aether_memory.core.agent_metrics import AgentMetrics, MetricBucket
from aether_memory.core.config import Options, Settings, TTLs
from aether_memory.core.embeddings import CachedEmbedder, Embedder
from aether_memory.core.errors import (
    AetherError,
    BackendUnavailable,
    ClientClosed,
    ConfigurationError,
    Conflict,
    FeedTruncated,
    InvalidInput,
    LeaseLost,
    NotFound,
    NotReplicated,
    SerializationError,
    StorageFull,
    StoreDamaged,
    TooLarge,
)
from aether_memory.core.extract import LLMExtractor
from aether_memory.core.feed import AgentStatus, InboxMessage, Notification
from aether_memory.core.pages import Erasure, Page
from aether_memory.core.queues import QueueStats, TaskInfo, WorkerStats
from aether_memory.core.ranking import RankingWeights
from aether_memory.core.summarize import ChatModel, ExtractiveSummarizer, LLMSummarizer, Summarizer
from aether_memory.core.types import (
    Capabilities,
    CheckpointInfo,
    Episode,
    Event,
    FormationStatus,
    Health,
    Hit,
    Introspection,
    MemoryRecord,
    Message,
    SessionInfo,
    Skill,
    TopicSummary,
)

__version__ = "0.1.0"

__all__ = [
    "AetherError",
    "Agent",
    "AgentMetrics",
    "AgentRun",
    "AgentState",
    "AgentStatus",
    "ArchiveScheduler",
    "AsyncAgent",
    "AsyncAgentRun",
    "AsyncAgentState",
    "AsyncArchiveScheduler",
    "AsyncClaimedTask",
    "AsyncConsolidationScheduler",
    "AsyncIdentity",
    "AsyncMemory",
    "AsyncQueue",
    "AsyncSession",
    "AsyncToolCache",
    "AsyncWorkingMemory",
    "BackendUnavailable",
    "CachedEmbedder",
    "Capabilities",
    "ChatModel",
    "CheckpointInfo",
    "ClaimedTask",
    "ClientClosed",
    "ConfigurationError",
    "Conflict",
    "Consolidation",
    "ConsolidationScheduler",
    "Embedder",
    "Episode",
    "Erasure",
    "Event",
    "ExtractiveSummarizer",
    "FeedTruncated",
    "FormationStatus",
    "Health",
    "Hit",
    "Identity",
    "InboxMessage",
    "Introspection",
    "InvalidInput",
    "LLMExtractor",
    "LLMSummarizer",
    "LeaseLost",
    "Memorable",
    "Memory",
    "MemoryRecord",
    "Message",
    "MetricBucket",
    "NotFound",
    "NotReplicated",
    "Notification",
    "Options",
    "Page",
    "Queue",
    "QueueStats",
    "RankingWeights",
    "SerializationError",
    "Session",
    "SessionInfo",
    "Settings",
    "Skill",
    "StorageFull",
    "StoreDamaged",
    "Summarizer",
    "TTLs",
    "TaskInfo",
    "TooLarge",
    "ToolCache",
    "TopicSummary",
    "WorkerStats",
    "WorkingMemory",
    "__version__",
    "default_embedder",
    "embedder_from_name",
]
