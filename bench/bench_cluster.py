"""Redis Cluster: single-operation overhead of the cluster client against one server, key and
load distribution over 3 primaries, server CPU per operation per shard, the cost of one
index per namespace at 1,000 namespaces, throughput of 1 vs 3 primaries under several client
processes, and the cost of ``durability="replicated"``.

Run from this folder: ``../.venv/bin/python bench_cluster.py [COUNT] [SECTION...]`` (COUNT:
namespaces of the index section, 1000; SECTION: overhead, distribution, indexes,
throughput, durability; all by default). It starts the servers it needs on loopback, prints
tables, and stops them.
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import timing
from redis.cluster import ClusterNode, RedisCluster

from aether_memory import Memory, Options
from aether_memory.backends.redis._sync.longterm import INDEX_VERSION, _schema
from aether_memory.core import keys
from aether_memory.server.cluster import LocalCluster
from aether_memory.server.local import RedisProcess

ROUNDS = 5
OPS = 400


def _raw(cluster: LocalCluster) -> RedisCluster:
    return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", cluster.nodes[0].port)])


def _cpu(r: RedisCluster) -> dict[str, tuple[float, int]]:
    """Per primary: CPU seconds used so far, and commands processed so far."""
    out = {}
    for node in r.get_primaries():
        info = r.get_redis_connection(node).info()
        out[node.name] = (
            float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
            int(info["total_commands_processed"]),
        )
    return out


def overhead(single: str, cluster: str) -> None:
    print("\n## Single-operation latency, one server vs the cluster client (µs)")
    print("| op | one server p50 | cluster p50 | one server p99 | cluster p99 |")
    print("|---|---|---|---|---|")
    results: dict[tuple[str, str], list[int]] = {}
    mems = {"single": Memory.open(single, namespace="bench1"),
            "cluster": Memory.open(cluster, namespace="bench1")}  # fmt: skip
    try:
        for _ in range(ROUNDS):  # alternate the sides, so both see the same load
            for side, mem in mems.items():
                s = mem.agent("a").session("s")
                for op in ("working.set", "working.get", "record", "checkpoint"):
                    samples = results.setdefault((side, op), [])
                    with timing.no_gc():
                        for i in range(OPS // ROUNDS):
                            t0 = time.perf_counter_ns()
                            if op == "working.set":
                                s.working.set("k", i)
                            elif op == "working.get":
                                s.working.get("k")
                            elif op == "record":
                                s.record("step", {"i": i})
                            else:
                                s.checkpoint({"i": i})
                            samples.append(time.perf_counter_ns() - t0)
        for op in ("working.set", "working.get", "record", "checkpoint"):
            a, b = timing.Timing(results["single", op]), timing.Timing(results["cluster", op])
            print(f"| {op} | {a.pct(0.5):.0f} | {b.pct(0.5):.0f} | {a.pct(0.99):.0f} | "
                  f"{b.pct(0.99):.0f} |")  # fmt: skip
    finally:
        for mem in mems.values():
            mem.close()


def distribution(cluster: LocalCluster) -> None:
    print("\n## 100 namespaces x 10 sessions over 3 primaries")
    r = _raw(cluster)
    before = _cpu(r)
    keys_before = {n.name: r.get_redis_connection(n).dbsize() for n in r.get_primaries()}
    for n in range(100):
        with Memory.open(cluster.url, namespace=f"dist{n}") as mem:
            agent = mem.agent("a")
            agent.identity.put("role", "bench")
            for sid in range(10):
                s = agent.session(f"s{sid}")
                s.working.set("k", sid)
                s.record("step", {"sid": sid})
                s.checkpoint({"sid": sid})
    after = _cpu(r)
    counts = {n.name: r.get_redis_connection(n).dbsize() - keys_before[n.name]
              for n in r.get_primaries()}  # fmt: skip
    total_keys = sum(counts.values())
    total_cmds = sum(after[k][1] - before[k][1] for k in after)
    print("| primary | keys | share of keys | commands | share of commands | CPU µs/command |")
    print("|---|---|---|---|---|---|")
    for name in sorted(counts):
        cmds = after[name][1] - before[name][1]
        cpu = after[name][0] - before[name][0]
        print(f"| {name} | {counts[name]} | {counts[name] / total_keys:.1%} | {cmds} | "
              f"{cmds / total_cmds:.1%} | {cpu * 1e6 / max(cmds, 1):.1f} |")  # fmt: skip
    r.close()


def indexes(cluster: LocalCluster, count: int) -> None:
    print(f"\n## One index per namespace: {count} namespaces (the schema of a 384-d embedder)")
    r = _raw(cluster)
    mem_before = {n.name: r.get_redis_connection(n).info("memory")["used_memory"]
                  for n in r.get_primaries()}  # fmt: skip
    times = []
    for n in range(count):
        ns = f"idx{n}"
        node = r.get_node_from_key(keys.namespace_tag(ns))
        t0 = time.perf_counter()
        r.execute_command(
            "FT.CREATE", keys.memory_index(ns, INDEX_VERSION), "ON", "HASH", "PREFIX", "1",
            keys.memory_prefix(ns), "SCHEMA", *_schema(384), target_nodes=node,
        )  # fmt: skip
        times.append(time.perf_counter() - t0)
    grown = {n.name: r.get_redis_connection(n).info("memory")["used_memory"] - mem_before[n.name]
             for n in r.get_primaries()}  # fmt: skip
    print("| FT.CREATE median ms | p99 ms | last 100 median ms | memory per empty index KiB |")
    print("|---|---|---|---|")
    ordered = sorted(times)
    print(f"| {statistics.median(times) * 1e3:.2f} | {ordered[int(0.99 * len(ordered))] * 1e3:.2f} "
          f"| {statistics.median(times[-100:]) * 1e3:.2f} | "
          f"{sum(grown.values()) / count / 1024:.1f} |")  # fmt: skip
    for n in range(count):
        ns = f"idx{n}"
        r.execute_command("FT.DROPINDEX", keys.memory_index(ns, INDEX_VERSION),
                          target_nodes=r.get_node_from_key(keys.namespace_tag(ns)))  # fmt: skip
    r.close()


def _client_process(url: str, worker: int, seconds: float, out: Any) -> None:
    """One client process: working.set then record, round robin over 10 sessions of its own
    namespace, for `seconds`; reports how many steps it made."""
    with Memory.open(url, namespace=f"tp{worker}") as mem:
        sessions = [mem.agent("a").session(f"s{i}") for i in range(10)]
        sessions[0].working.set("warm", 1)
        steps, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            s = sessions[steps % 10]
            s.working.set("k", steps)
            s.record("step", {"n": steps})
            steps += 1
    out.put(steps)


def _run_clients(url: str, processes: int, seconds: float) -> int:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_client_process, args=(url, w, seconds, queue))
               for w in range(processes)]  # fmt: skip
    for w in workers:
        w.start()
    total = sum(queue.get(timeout=seconds + 120) for _ in workers)
    for w in workers:
        w.join()
    return total


def throughput(folder: Path, seconds: float = 5.0) -> None:
    print(
        f"\n## Throughput, 1 vs 3 primaries ({seconds:g} s per run; a step = working.set + "
        "record, 2 store calls)"
    )
    print(
        "| primaries | client processes | steps/s | server CPU s per shard | "
        "server CPU µs/step (all shards) |"
    )
    print("|---|---|---|---|---|")
    clusters = {n: LocalCluster(folder / f"tp{n}", primaries=n) for n in (1, 3)}
    for c in clusters.values():
        c.start()
    try:
        for processes in (4, 8):
            for n, cluster in clusters.items():  # alternate the sides under the same load
                r = _raw(cluster)
                before = _cpu(r)
                steps = _run_clients(cluster.url, processes, seconds)
                after = _cpu(r)
                r.close()
                cpu = [after[k][0] - before[k][0] for k in sorted(after)]
                print(f"| {n} | {processes} | {steps / seconds:.0f} | "
                      f"{' / '.join(f'{c:.2f}' for c in cpu)} | "
                      f"{sum(cpu) * 1e6 / max(steps, 1):.0f} |")  # fmt: skip
    finally:
        for c in clusters.values():
            c.stop()


def _timed(op: Callable[[int], object], calls: int) -> list[int]:
    samples = []
    with timing.no_gc():
        for i in range(calls):
            t0 = time.perf_counter_ns()
            op(i)
            samples.append(time.perf_counter_ns() - t0)
    return samples


def durability(folder: Path) -> None:
    print(
        "\n## durability='replicated' vs the default, per call (µs; one server with a replica, "
        "and a 3-primary cluster with a replica each)"
    )
    print("| store | op | async p50 | replicated p50 | ratio p50 | async p99 | replicated p99 |")
    print("|---|---|---|---|---|---|---|")
    primary = RedisProcess(folder / "primary")
    primary.start()
    replica = RedisProcess(folder / "replica",
                           extra_args=("--replicaof", "127.0.0.1", str(primary.port)))  # fmt: skip
    replica.start()
    cluster = LocalCluster(folder / "dcluster", primaries=3, replicas=1)
    cluster.start()
    try:
        time.sleep(1.0)  # the replica's first sync
        for store, url in (("one server", primary.url), ("cluster", cluster.url)):
            results: dict[tuple[str, str], list[int]] = {}
            sides = {mode: Memory.open(url, options=Options(namespace=f"dur-{mode}",
                                                            durability=mode))  # type: ignore[arg-type]
                     for mode in ("async", "replicated")}  # fmt: skip
            try:
                for _ in range(ROUNDS):
                    for mode, mem in sides.items():
                        agent = mem.agent("a")
                        s = agent.session("s")
                        ops: dict[str, Callable[[int], object]] = {
                            "working.set": lambda i, s=s: s.working.set("k", i),
                            "working.get": lambda i, s=s: s.working.get("k"),
                            "record": lambda i, s=s: s.record("step", {"i": i}),
                            "checkpoint": lambda i, s=s: s.checkpoint({"i": i}),
                            "identity.put": lambda i, a=agent: a.identity.put("role", f"r{i}"),
                        }
                        for op, call in ops.items():
                            results.setdefault((mode, op), []).extend(_timed(call, OPS // ROUNDS))
                for op in ("working.set", "working.get", "record", "checkpoint", "identity.put"):
                    a = timing.Timing(results["async", op])
                    b = timing.Timing(results["replicated", op])
                    print(f"| {store} | {op} | {a.pct(0.5):.0f} | {b.pct(0.5):.0f} | "
                          f"{b.pct(0.5) / a.pct(0.5):.2f}x | {a.pct(0.99):.0f} | "
                          f"{b.pct(0.99):.0f} |")  # fmt: skip
            finally:
                for mem in sides.values():
                    mem.close()
    finally:
        cluster.stop()
        replica.stop()
        primary.stop()


SECTIONS = ("overhead", "distribution", "indexes", "throughput", "durability")


def main() -> None:
    count = next((int(a) for a in sys.argv[1:] if a.isdigit()), 1000)
    chosen = [a for a in sys.argv[1:] if not a.isdigit()] or list(SECTIONS)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if {"overhead", "distribution", "indexes"} & set(chosen):
            single = RedisProcess(folder / "single")
            single.start()
            try:
                with LocalCluster(folder / "cluster", primaries=3) as cluster:
                    if "overhead" in chosen:
                        overhead(single.url, cluster.url)
                    if "distribution" in chosen:
                        distribution(cluster)
                    if "indexes" in chosen:
                        indexes(cluster, count)
            finally:
                single.stop()
        if "throughput" in chosen:
            throughput(folder)
        if "durability" in chosen:
            durability(folder)


if __name__ == "__main__":
    main()
