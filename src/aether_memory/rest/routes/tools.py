"""The memory tools (`aether_memory.tools`): their schemas for a model, and running one as an
agent would — with the same arguments a model sends."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel

from aether_memory.rest.auth import Caller
from aether_memory.rest.deps import Agent, Name
from aether_memory.tools import definitions

router = APIRouter()


class ToolsOut(BaseModel):
    """Every memory tool as a function-calling schema."""

    format: str
    tools: list[dict[str, Any]]


class ToolResultOut(BaseModel):
    """What the tool returned."""

    result: Any


@router.get("/v1/tools", name="list_tools", tags=["tools"])
async def list_tools(
    caller: Caller,
    format: Literal["openai", "anthropic", "mcp"] = Query(
        "openai", description="The schema dialect of the model's API."
    ),
) -> ToolsOut:
    """The memory tools' schemas, to pass to a chat completion as they are."""
    return ToolsOut(format=format, tools=[tool.as_format(format) for tool in definitions.TOOLS])


@router.post("/v1/namespaces/{ns}/agents/{agent}/tools/{name}", name="run_tool", tags=["tools"])
async def run_tool(
    agent: Agent,
    name: Name,
    arguments: Annotated[dict[str, Any], Body(description="The tool's arguments.")],
) -> ToolResultOut:
    """Run one memory tool as the agent (unknown tools and bad arguments are 400s)."""
    return ToolResultOut(result=await agent.tools.run(name, arguments))
