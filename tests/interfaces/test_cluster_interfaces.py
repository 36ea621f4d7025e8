"""The interfaces against the 3-primary test cluster: the REST server started on a
``redis+cluster://`` URL with a real HTTP client, the CLI's export / import, doctor, search
and inspect, and erasure, which must find a namespace's keys on every primary (its sessions
spread over them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from aether_memory import Memory
from aether_memory.backends.redis._sync.longterm import INDEX_VERSION
from aether_memory.core import keys
from aether_memory.server.cluster import LocalCluster
from tests.integration.test_transfer import picture, populate
from tests.interfaces.test_cli_admin import test_search_prints_the_remembered_memory as search_case
from tests.interfaces.test_rest import KEY_ALL, start
from tests.raw import raw_client
from tests.word_embedder import WordHashEmbedder


def aether(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AETHER_HOME": str(home), "COLUMNS": "250", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "aether_memory.cli.main", *args],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"aether {' '.join(args)} -> {result.returncode}\n{result.stderr}")
    return result


def shards_holding(cluster: LocalCluster, ns: str) -> set[str]:
    """The primaries that hold at least one key of namespace `ns` (SCAN on each)."""
    r = raw_client(cluster.url)
    try:
        return {
            node.name
            for node in r.get_primaries()
            if any(True for _ in r.scan_iter(match=keys.namespace_pattern(ns), target_nodes=node))
        }
    finally:
        r.close()


def test_the_rest_server_serves_a_cluster(cluster: LocalCluster, namespace: str, tmp_path: Path):
    server = start(cluster.url, tmp_path)
    try:
        with server.client(KEY_ALL) as http:
            ready = http.get("/readyz")
            assert ready.status_code == 200 and ready.json()["store"] == "redis", ready.text
            base = f"/v1/namespaces/{namespace}/agents/a"
            for i in range(6):  # sessions on several shards
                put = http.put(f"{base}/sessions/s{i}/working/goal", json={"value": {"i": i}})
                assert put.status_code == 204, put.text
            for i in range(6):
                got = http.get(f"{base}/sessions/s{i}/working/goal")
                assert got.status_code == 200 and got.json()["value"] == {"i": i}, got.text
            made = http.post(f"{base}/memories", json={"content": "The backup runs at midnight"})
            assert made.status_code == 201, made.text
            http.post(f"{base}/memories", json={"content": "Leonor lives in Porto"})
            hits = http.post(f"{base}/recall", json={"query": "when does the backup run?"})
            assert hits.status_code == 200, hits.text
            assert hits.json()["hits"][0]["record"]["id"] == made.json()["id"]
    finally:
        server.stop()


def test_export_and_import_through_the_cli(cluster: LocalCluster, namespace: str, tmp_path: Path):
    with Memory.open(cluster.url, namespace=namespace, embedder=WordHashEmbedder()) as mem:
        populate(mem)
        # Two sessions may share a shard; more sessions until the namespace spans several,
        # so the export must gather from more than one primary.
        extra = 0
        while len(shards_holding(cluster, namespace)) < 2 and extra < 64:
            mem.agent("planner").session(f"spread{extra}").working.set("n", extra)
            extra += 1
        before = picture(mem)
    assert len(shards_holding(cluster, namespace)) > 1  # the test means something
    file = tmp_path / "out.jsonl"
    common = ("--url", cluster.url, "-n", namespace)
    assert "exported" in aether("export", str(file), *common, home=tmp_path).stdout
    aether("delete", "namespace", namespace, "--yes", "--url", cluster.url, home=tmp_path)
    assert not shards_holding(cluster, namespace)
    out = aether("import", str(file), "--url", cluster.url, home=tmp_path).stdout
    assert f"into namespace '{namespace}'" in out
    with Memory.open(cluster.url, namespace=namespace, embedder=WordHashEmbedder()) as mem:
        assert picture(mem) == before


def test_doctor_checks_every_node(cluster: LocalCluster, namespace: str, tmp_path: Path):
    with Memory.open(cluster.url, namespace=namespace) as mem:
        for i in range(6):
            mem.agent("a").session(f"s{i}").working.set("k", i)
    out = aether("doctor", "--url", cluster.url, "-n", namespace, home=tmp_path).stdout
    assert "0 FAIL" in out, out
    for node in cluster.nodes:
        assert str(node.port) in out, f"node {node.port} is not in the report:\n{out}"
    assert "cluster_state ok" in out and "16384 of" in out.replace(",", ""), out


def test_search(cluster: LocalCluster, namespace: str, tmp_path: Path) -> None:
    """The CLI's own test of `search`, on the cluster."""
    search_case(cluster.url, namespace, tmp_path)


def test_inspect(cluster: LocalCluster, namespace: str, tmp_path: Path) -> None:
    with Memory.open(cluster.url, namespace=namespace) as mem:
        agent = mem.agent("planner")
        agent.identity.put("mission", "Ship the quarterly report.")
        for i in range(4):  # sessions on several shards, listed from the namespace's one
            s = agent.session(f"s{i}")
            s.working.set("goal", f"goal {i}")
            s.add_step("search", f"found {i} sources")
    common = ("--url", cluster.url, "--namespace", namespace)
    out = aether("inspect", "agent", "planner", *common, home=tmp_path).stdout
    assert "Ship the quarterly report." in out and all(f"s{i}" in out for i in range(4))
    out = aether("inspect", "session", "planner", "s2", *common, home=tmp_path).stdout
    assert "goal 2" in out and "found 2 sources" in out


def test_erasing_an_agent_and_a_namespace_reaches_every_primary(
    cluster: LocalCluster, namespace: str
) -> None:
    with Memory.open(cluster.url, namespace=namespace, embedder=WordHashEmbedder()) as mem:
        for name in ("a", "b"):
            agent = mem.agent(name)
            agent.identity.put("mission", f"mission of {name}")
            agent.remember(f"a fact that {name} knows")
            for i in range(8):
                s = agent.session(f"s{i}")
                s.working.set("k", i)
                s.record("step", {"i": i})
                s.checkpoint({"i": i})
        assert len(shards_holding(cluster, namespace)) == 3
        erased = mem.agent("a").erase()
        assert erased.counts["sessions"] == 8 and erased.counts["memories"] == 1
        r = raw_client(cluster.url)
        try:
            assert not list(r.scan_iter(match=f"aether:{{{namespace}/a/*"))  # every primary
            assert mem.erase_namespace().counts["indexes"] == 1
            assert not list(r.scan_iter(match=keys.namespace_pattern(namespace)))
            index = keys.memory_index(namespace, INDEX_VERSION).encode()
            for node in r.get_primaries():
                assert index not in r.execute_command("FT._LIST", target_nodes=node)
        finally:
            r.close()
    assert not shards_holding(cluster, namespace)
