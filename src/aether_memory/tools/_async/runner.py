"""Executing memory tools against `AsyncMemory` (the source of `tools/_sync/runner.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from aether_memory.core.errors import AetherError, InvalidInput
from aether_memory.tools import definitions as d

if TYPE_CHECKING:
    from aether_memory.client._async.memory import AsyncAgent


class AsyncTools:
    """The memory tools of one agent: schemas for a model, and `call` to run one.

    Example:
        tools = mem.agent("assistant").tools
        schemas = tools.schemas("openai")          # pass to the chat completion
        result = await tools.call("search_memory", {"query": "user's city"})
    """

    def __init__(self, agent: AsyncAgent) -> None:
        self.agent = agent

    @staticmethod
    def schemas(format: d.Format = "openai") -> list[dict[str, Any]]:
        """Every tool as a function-calling schema (``openai``, ``anthropic`` or ``mcp``)."""
        return [tool.as_format(format) for tool in d.TOOLS]

    async def call(self, name: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run one tool. Never raises for a bad call: returns ``{"ok": True, "result": ...}``
        or ``{"ok": False, "error": {"code": ..., "message": ...}}`` for the model to read."""
        try:
            return {"ok": True, "result": await self.run(name, arguments or {})}
        except AetherError as exc:
            return {"ok": False, "error": {"code": exc.code, "message": str(exc)}}

    async def run(self, name: str, arguments: Mapping[str, Any]) -> Any:
        """Run one tool and return its result; raises `AetherError` (`InvalidInput` for bad
        arguments) — for servers that map errors themselves."""
        spec = d.BY_NAME.get(name)
        if spec is None:
            raise InvalidInput(f"unknown tool {name!r}; known: {', '.join(d.BY_NAME)}")
        try:
            args = spec.args.model_validate(dict(arguments))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidInput(f"{name}: {problems}") from None
        agent = self.agent
        if isinstance(args, d.StoreMemory):
            rec = await agent.remember(
                args.content, kind=args.kind, importance=args.importance, tags=args.tags
            )
            return {"id": rec.id, "status": rec.status}
        if isinstance(args, d.SearchMemory):
            hits = await agent.recall(args.query, k=args.k, kinds=args.kinds, tags=args.tags)
            return [
                {
                    "id": h.record.id,
                    "content": h.record.content,
                    "kind": h.record.kind,
                    "agent": h.record.agent,
                    "occurred_at": h.record.occurred_at,
                    "score": round(h.score, 4),
                }
                for h in hits
            ]
        if isinstance(args, d.ForgetMemory):
            return {"removed": await agent.forget(args.memory_id, cascade=args.cascade)}
        if isinstance(args, d.SummarizeMemory):
            report = await agent.introspect(args.topic)
            return {"summary": report.summary(), "total": report.total, "by_kind": report.by_kind}
        if isinstance(args, d.GetWorkingMemory):
            working = agent.session(args.session).working
            if args.key is None:
                return await working.all()
            return {args.key: await working.get(args.key)}
        if isinstance(args, d.SetWorkingMemory):
            await agent.session(args.session).working.update(args.values)
            return {"updated": sorted(args.values)}
        if isinstance(args, d.RecordEvent):
            event = await agent.session(args.session).record(
                args.event_type, args.data, outcome=args.outcome
            )
            return {"id": event.id}
        if isinstance(args, d.AddMessages):
            added = await agent.session(args.session).add_messages(
                [t.model_dump(exclude_none=True) for t in args.messages]
            )
            return {"memory_ids": [m.memory_id for m in added]}
        if isinstance(args, d.Checkpoint):
            return {"n": await agent.session(args.session).checkpoint(args.state)}
        if isinstance(args, d.RestoreCheckpoint):
            return {"state": await agent.session(args.session).restore(args.n)}
        if isinstance(args, d.GetContext):
            text = await agent.context(
                args.query, budget_tokens=args.budget_tokens, session=args.session
            )
            return {"context": text}
        raise AssertionError(f"tool {name} has no implementation")
