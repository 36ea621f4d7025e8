"""Executing memory tools against `AsyncMemory` (the source of `tools/_sync/runner.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from aether_memory.core.errors import AetherError, InvalidInput
from aether_memory.core.ids import check_name
from aether_memory.tools import definitions as d

if TYPE_CHECKING:
    from aether_memory.client._async.agent import AsyncAgent
    from aether_memory.client._async.session import AsyncSession

Arguments = Mapping[str, Any] | str | bytes | None
"""A call's arguments: a mapping, or the JSON text of one (as OpenAI sends them)."""


class AsyncTools:
    """The memory tools of one agent: schemas for a model, and `call` to run one.

    Example:
        tools = mem.agent("assistant").tools.bound(session)   # the session is fixed
        schemas = tools.schemas("openai")                     # pass to the chat completion
        result = await tools.call("search_memory", '{"query": "user\'s city", "k": null}')
    """

    def __init__(self, agent: AsyncAgent, session: str | None = None) -> None:
        self.agent = agent
        self.session = session

    def bound(self, session: str | AsyncSession) -> AsyncTools:
        """The same tools with their session fixed: the schemas have no ``session`` argument
        and every call works in `session`, so a model never has to invent an id."""
        sid = session if isinstance(session, str) else session.id
        return AsyncTools(self.agent, check_name(sid, "session id"))

    def schemas(self, format: d.Format = "openai") -> list[dict[str, Any]]:
        """Every tool as a strict function-calling schema (``openai``, ``anthropic`` or
        ``mcp``)."""
        bound = self.session is not None
        return [tool.as_format(format, bound=bound) for tool in d.TOOLS]

    async def call(self, name: str, arguments: Arguments = None) -> dict[str, Any]:
        """Run one tool. Never raises for a bad call: returns ``{"ok": True, "result": ...}``
        or ``{"ok": False, "error": {"code": ..., "message": ...}}`` for the model to read.

        `arguments` may be the JSON text a provider sent; ``null`` values mean "the default".
        """
        try:
            return {"ok": True, "result": await self.run(name, arguments)}
        except AetherError as exc:
            return {"ok": False, "error": {"code": exc.code, "message": str(exc)}}

    async def run(self, name: str, arguments: Arguments = None) -> Any:
        """Run one tool and return its result; raises `AetherError` (`InvalidInput` for bad
        arguments) — for servers that map errors themselves."""
        spec = d.BY_NAME.get(name)
        if spec is None:
            raise InvalidInput(f"unknown tool {name!r}; known: {', '.join(d.BY_NAME)}")
        given = parse_arguments(name, arguments)
        if self.session is not None and spec.takes_session:
            if given.get(d.SESSION_ARG) not in (None, self.session):
                raise InvalidInput(f"{name}: these tools are bound to session {self.session!r}")
            given[d.SESSION_ARG] = self.session
        try:
            args = spec.args.model_validate(given)
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
            stored = {"id": rec.id, "status": rec.status}
            return stored if rec.supersedes is None else {**stored, "supersedes": rec.supersedes}
        if isinstance(args, d.SearchMemory):
            hits = await agent.recall(
                args.query, k=args.k, kinds=args.kinds, tags=args.tags,
                include_superseded=args.include_superseded,
                include_archive=args.include_archive,
            )  # fmt: skip
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
            summary = await agent.summarize(args.topic)
            return {"summary": summary.summary, "sources": list(summary.sources),
                    "total": summary.total, "by_kind": summary.by_kind}  # fmt: skip
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
        if isinstance(args, d.SendMessage):
            return {"id": await agent.send(args.to_agent, args.message)}
        if isinstance(args, d.ReadInbox):
            found = await agent.inbox(args.limit, args.ack)
            return {"messages": [m.as_dict() for m in found]}
        if isinstance(args, d.AgentsStatus):
            return {"agents": [s.as_dict() for s in await agent.memory.agents_status()]}
        if isinstance(args, d.ClaimTask):
            task = await agent.memory.queue(args.queue).claim(agent.id, block=args.wait_seconds)
            if task is None:
                return None
            return {"task_id": task.id, "task": task.task, "attempts": task.attempts,
                    "lease": task.lease, "deadline": task.deadline}  # fmt: skip
        if isinstance(args, d.CompleteTask):
            claimed = agent.memory.queue(args.queue).claimed(args.task_id, args.lease, agent.id)
            if args.success:
                await claimed.ack()
                return {"state": "done"}
            return {"state": await claimed.fail(args.error or "failed")}
        if isinstance(args, d.ConsolidateMemory):
            done = await agent.memory.consolidate(args.kinds, dry_run=args.dry_run,
                                                  agents=[agent.id])  # fmt: skip
            return done.as_dict()
        raise AssertionError(f"tool {name} has no implementation")


def parse_arguments(name: str, arguments: Arguments) -> dict[str, Any]:
    """A call's arguments as a dict: JSON text is parsed, anything but an object refused."""
    if arguments is None:
        return {}
    if isinstance(arguments, str | bytes):
        try:
            arguments = orjson.loads(arguments or b"{}")
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"{name}: the arguments are not valid JSON ({exc})") from None
    if not isinstance(arguments, Mapping):
        raise InvalidInput(
            f"{name}: the arguments must be a JSON object, not {type(arguments).__name__}"
        )
    return dict(arguments)
