"""The task-queue routes of the REST server (a real server process per kind of Redis): the
whole lease cycle, refusals of ended leases, bad input, and namespace scoping on every route."""

from __future__ import annotations

import time

import httpx

from aether_memory.core.ids import new_id
from tests.interfaces.test_rest import KEY_A, KEY_B, NS_A, NS_B, Api, api, error, http

__all__ = ["api", "http"]  # the fixtures, shared with the main REST tests


def _q(ns: str, name: str) -> str:
    return f"/v1/namespaces/{ns}/queues/{name}"


def test_the_lease_cycle_over_http(http: httpx.Client, namespace: str) -> None:
    q = _q(namespace, "jobs")
    first = http.post(q + "/tasks", json={"task": {"n": 1}})
    assert first.status_code == 201, first.text
    assert http.post(q + "/tasks", json={"task": "urgent", "priority": 9}).status_code == 201
    dup = http.post(q + "/tasks", json={"task": "a", "dedupe_key": "k"}).json()["id"]
    assert http.post(q + "/tasks", json={"task": "b", "dedupe_key": "k"}).json()["id"] == dup
    assert [t["task"] for t in http.get(q + "/tasks").json()] == ["urgent", {"n": 1}, "a"]

    claimed = http.post(q + "/claim", json={"worker": "w1"}).json()
    assert (claimed["task"], claimed["attempts"]) == ("urgent", 1)
    lease = {"lease": claimed["lease"]}
    extended = http.post(q + f"/tasks/{claimed['id']}/extend", json={**lease, "seconds": 60})
    assert extended.json()["deadline"] > claimed["deadline"]
    assert http.post(q + f"/tasks/{claimed['id']}/ack", json=lease).status_code == 204
    error(http.post(q + f"/tasks/{claimed['id']}/ack", json=lease), 409, "lease_lost")

    body = {"worker": "w1", "max_attempts": 1}
    poison = http.post(q + "/claim", json=body).json()
    failed = http.post(q + f"/tasks/{poison['id']}/fail", json={
        "lease": poison["lease"], "error": "boom", "max_attempts": 1})  # fmt: skip
    assert failed.json() == {"state": "dead"}
    [dead] = http.get(q + "/tasks", params={"state": "dead"}).json()
    assert (dead["id"], dead["error"]) == (poison["id"], "boom")
    assert http.post(q + "/retry-dead", json={}).json() == {"moved": 1}

    stats = http.get(q + "/stats").json()
    assert (stats["pending"], stats["acked"], stats["failed"], stats["dead"]) == (2, 1, 1, 0)
    assert stats["workers"]["w1"] == {"in_flight": 0, "acked": 1, "failed": 1}

    while http.post(q + "/claim", json={"worker": "w2"}).status_code == 200:
        pass
    started = time.monotonic()
    empty = http.post(q + "/claim", json={"worker": "w2", "block": 0.3})
    assert empty.status_code == 204 and time.monotonic() - started >= 0.25


def test_a_lapsed_lease_is_refused_with_lease_lost(http: httpx.Client, namespace: str) -> None:
    q = _q(namespace, "lapse")
    http.post(q + "/tasks", json={"task": 1})
    slow = http.post(q + "/claim", json={"worker": "slow", "visibility": 0.1}).json()
    time.sleep(0.2)
    fast = http.post(q + "/claim", json={"worker": "fast", "visibility": 30}).json()
    assert (fast["id"], fast["attempts"]) == (slow["id"], 2)
    for verb in ("ack", "fail", "extend"):
        error(http.post(q + f"/tasks/{slow['id']}/{verb}", json={"lease": slow["lease"]}),
              409, "lease_lost")  # fmt: skip
    assert http.post(q + f"/tasks/{fast['id']}/ack", json={"lease": fast["lease"]}).is_success


def test_bad_queue_input_is_400_and_writes_nothing(http: httpx.Client, namespace: str) -> None:
    q = _q(namespace, "bad")
    for body in (
        {"task": 1, "priority": 101},
        {"task": 1, "delay": -1},
        {"task": 1, "dedupe_key": ""},
        {"task": 1, "surprise": True},
        {},
    ):
        error(http.post(q + "/tasks", json=body), 400, "invalid_input")
    error(http.post(q + "/claim", json={"worker": "a:b"}), 400, "invalid_input")
    error(http.post(q + "/claim", json={"worker": "w", "block": 3600}), 400, "invalid_input")
    error(http.get(q + "/tasks", params={"state": "gone"}), 400, "invalid_input")
    error(http.post(_q(namespace, "a:b") + "/tasks", json={"task": 1}), 400, "invalid_input")
    error(http.post(q + "/tasks/x%7D/ack", json={"lease": "l"}), 400, "invalid_input")
    assert http.get(q + "/stats").json()["pending"] == 0


def test_a_key_cannot_reach_another_namespaces_queues(api: Api) -> None:
    name = "q" + new_id().lower()
    with api.server.client(KEY_A) as a, api.server.client(KEY_B) as b:
        assert a.post(_q(NS_A, name) + "/tasks", json={"task": "A's"}).status_code == 201
        held = a.post(_q(NS_A, name) + "/tasks", json={"task": "held"}).json()["id"]
        claimed = a.post(_q(NS_A, name) + "/claim", json={"worker": "w"}).json()
        lease = {"lease": claimed["lease"]}
        qa = _q(NS_A, name)
        for request in (
            b.post(qa + "/tasks", json={"task": "B's"}),
            b.post(qa + "/claim", json={"worker": "w"}),
            b.post(qa + f"/tasks/{claimed['id']}/ack", json=lease),
            b.post(qa + f"/tasks/{claimed['id']}/fail", json=lease),
            b.post(qa + f"/tasks/{claimed['id']}/extend", json=lease),
            b.get(qa + "/stats"),
            b.get(qa + "/tasks"),
            b.post(qa + "/retry-dead", json={}),
        ):
            error(request, 403, "forbidden")
        # B's own queue of the same name is another queue: empty, and A's lease means nothing.
        qb = _q(NS_B, name)
        assert b.post(qb + "/claim", json={"worker": "w"}).status_code == 204
        assert b.get(qb + "/tasks").json() == []
        error(b.post(qb + f"/tasks/{claimed['id']}/ack", json=lease), 409, "lease_lost")
        assert a.get(qa + "/stats").json()["in_flight"] == 1
        assert a.post(qa + f"/tasks/{claimed['id']}/ack", json=lease).status_code == 204
        assert held in {claimed["id"], *(t["id"] for t in a.get(qa + "/tasks").json())}
