"""Route dependencies: the namespace's memory client (after the key check) and the agent
and session handles named by the path.

Path names follow the library's rule (`aether_memory.core.ids.check_name`); the pattern is
repeated here for the OpenAPI schema, and the library still validates every name itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Request

from aether_memory.client._async.agent import AsyncAgent
from aether_memory.client._async.memory import AsyncMemory
from aether_memory.client._async.session import AsyncSession
from aether_memory.core.ids import NAME_RULE
from aether_memory.rest.auth import Caller, check_namespace
from aether_memory.rest.pool import MemoryPool

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$"
"""`check_name`'s rule as a JSON-schema pattern (pinned to the library's by a test)."""


def _name(description: str) -> object:
    return Path(pattern=NAME_PATTERN, description=f"{description}: {NAME_RULE}.")


Namespace = Annotated[str, _name("The namespace (tenant)")]
AgentId = Annotated[str, _name("The agent's id")]
SessionId = Annotated[str, _name("The session's id")]
Name = Annotated[str, _name("The name")]


def get_pool(request: Request) -> MemoryPool:
    """The app's memory clients."""
    pool: MemoryPool = request.app.state.pool
    return pool


async def memory(request: Request, ns: Namespace, caller: Caller) -> AsyncIterator[AsyncMemory]:
    """The memory client of the path's namespace, once the caller's key allows it."""
    check_namespace(caller, ns)
    async with get_pool(request).lease(ns) as mem:
        yield mem


# The agent and session dependencies take the path's names themselves rather than depending
# on `memory`: every level of dependency costs FastAPI tens of µs per request.
async def agent(
    request: Request, ns: Namespace, agent: AgentId, caller: Caller
) -> AsyncIterator[AsyncAgent]:
    """The agent named by the path."""
    check_namespace(caller, ns)
    async with get_pool(request).lease(ns) as mem:
        yield mem.agent(agent)


async def session(
    request: Request, ns: Namespace, agent: AgentId, session: SessionId, caller: Caller
) -> AsyncIterator[AsyncSession]:
    """The session named by the path."""
    check_namespace(caller, ns)
    async with get_pool(request).lease(ns) as mem:
        yield mem.agent(agent).session(session)


Memory = Annotated[AsyncMemory, Depends(memory)]
Agent = Annotated[AsyncAgent, Depends(agent)]
Session = Annotated[AsyncSession, Depends(session)]
