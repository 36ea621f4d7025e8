"""A small but complete namespace for the dashboard's browser tests and screenshots, written
through the REST API: two agents, a session with steps, tool calls (one failed) and messages,
working memory, three checkpoints, facts with a correction, a skill, an episode, and hostile
text in every place the dashboard renders stored values."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
"""A payload that runs if any page renders stored text as markup."""


@dataclass(frozen=True)
class Seeded:
    """What was written, to look for on the pages."""

    ns: str
    agent: str
    other: str
    session: str
    hostile_memory: str
    old_fact: str
    correction: str


def seed(http: httpx.Client, ns: str) -> Seeded:
    """Write the namespace `ns` (the client carries a key for it)."""
    agent, other, session = "planner", "researcher", "trip-1"
    base = f"/v1/namespaces/{ns}/agents/{agent}"
    sess = f"{base}/sessions/{session}"

    def ok(response: httpx.Response) -> httpx.Response:
        assert response.status_code < 300, response.text
        return response

    ok(
        http.patch(
            f"{base}/identity",
            json={
                "documents": {
                    "persona": "Plans trips carefully. " + XSS,
                    "mission": "Book the Lisbon trip.",
                }
            },
        )
    )
    ok(http.patch(f"{base}/state", json={"fields": {"mood": "focused", "step": 3, "note": XSS}}))
    ok(
        http.post(
            f"{sess}/steps",
            json={
                "action": "search flights",
                "observation": "3 found",
                "reasoning": "cheapest first",
            },
        )
    )
    ok(
        http.post(
            f"{sess}/events/batch",
            json={
                "events": [
                    {
                        "type": "tool_call",
                        "data": {
                            "tool": "flights.search",
                            "input": {"to": "LIS"},
                            "output": {"count": 3},
                        },
                        "latency_ms": 182.5,
                    },
                    {
                        "type": "tool_call",
                        "data": {
                            "tool": "hotels.book",
                            "input": {"nights": 2},
                            "output": {"error": "sold out " + XSS},
                        },
                        "outcome": "failure",
                        "latency_ms": 941.0,
                    },
                    {
                        "type": "tool_call",
                        "data": {"tool": "hotels.book", "input": {"nights": 2}},
                        "latency_ms": 75.4,
                    },
                ]
            },
        )
    )
    ok(
        http.post(
            f"{sess}/messages",
            json={
                "messages": [
                    {"role": "user", "content": "Find me a hotel in Lisbon " + XSS},
                    {"role": "assistant", "content": "Booked Hotel Avenida for two nights."},
                ]
            },
        )
    )
    ok(http.patch(f"{sess}/working", json={"values": {"goal": "Lisbon, 2 nights", XSS: XSS}}))
    for state in (
        {"step": 1, "plan": ["flights"], "budget": 900},
        {"step": 2, "plan": ["flights", "hotel"], "budget": 900, "hotel": None},
        {"step": 3, "plan": ["flights", "hotel"], "budget": 750, "hotel": "Avenida " + XSS},
    ):
        ok(http.post(f"{sess}/checkpoints", json={"state": state}))
    hostile = ok(
        http.post(
            f"{base}/memories",
            json={"content": "Hostile note " + XSS, "kind": "note", "tags": ["security"]},
        )
    ).json()
    old = ok(
        http.post(
            f"{base}/memories",
            json={
                "content": "The user's budget for the Lisbon trip is 900 euros.",
                "kind": "fact",
                "tags": ["trip", "budget"],
                "session": session,
                "importance": 0.8,
            },
        )
    ).json()
    ok(
        http.post(
            f"{base}/memories/batch",
            json={
                "items": [
                    {
                        "content": "The user prefers window seats on flights.",
                        "kind": "preference",
                        "tags": ["trip"],
                    },
                    {
                        "content": "The user is allergic to peanuts.",
                        "kind": "fact",
                        "tags": ["health"],
                        "importance": 0.9,
                    },
                ]
            },
        )
    )
    new = ok(
        http.post(
            f"{base}/memories",
            json={
                "content": "The user's budget for the Lisbon trip is 750 euros.",
                "kind": "fact",
                "tags": ["trip", "budget"],
                "session": session,
                "importance": 0.8,
            },
        )
    ).json()
    assert new["status"] == "superseded" and new["supersedes"] == old["id"], new
    ok(
        http.put(
            f"{base}/skills/book-hotel",
            json={
                "description": "Find and book a hotel " + XSS,
                "steps": ["search hotels", "compare prices", "book"],
                "tags": ["trip"],
            },
        )
    )
    ok(http.post(f"{base}/skills/book-hotel/executions", json={"success": True, "duration": 4.5}))
    ok(http.post(f"{base}/skills/book-hotel/executions", json={"success": False, "duration": 9.0}))
    ok(
        http.post(
            f"{sess}/episode",
            json={
                "task_prompt": "Plan the Lisbon trip",
                "outcome": "Booked flights and a hotel",
                "success": True,
                "duration_seconds": 42.0,
                "tags": ["trip"],
            },
        )
    )
    ok(
        http.post(
            f"/v1/namespaces/{ns}/agents/{other}/memories",
            json={"content": "Lisbon trams run until about 23:00.", "kind": "fact"},
        )
    )
    return Seeded(ns, agent, other, session, hostile["id"], old["id"], new["id"])
