"""Fault benchmark: an outage of N seconds under M writer processes sharing one fallback file.

Each writer process loops over one session of its own and one shared session: an event, a
working-memory value, and every tenth step a checkpoint. A local Redis is SIGKILLed after a
healthy warm-up, restarted N seconds later, and the writers go on for a while after the
replay. Reported per run:

- acknowledged: writes the callers were told succeeded (events, working values, checkpoints);
- queued: of those, the writes acknowledged while the client was on the fallback;
- lost: acknowledged events missing from Redis afterwards, checkpoints restoring another
  state, and sessions whose working value is not one that was acknowledged last;
- max / p99 write latency, over the whole run and over the replay;
- drain time: from Redis answering again to every writer back on Redis with the outbox
  empty (the writers never pause).

Run:
    python bench/bench_outage.py                         # 3 writers, 3 s outage
    python bench/bench_outage.py --writers 3 --outage 3 --after 10 --markdown /tmp/outage.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aether_memory import Memory, Options

OPTIONS = Options(namespace="bench-outage", socket_timeout=0.5, connect_timeout=0.5, retries=1)
WARMUP = 2.0


def worker(url: str, fallback: str, name: str, folder: Path) -> None:
    """One writer process: writes until `folder/stop` exists, then dumps what it saw."""
    writes: list[tuple[str, str, str, int, int, bool]] = []
    checkpoints: dict[str, list[Any]] = {}
    errors: list[str] = []
    with Memory.open(url, options=OPTIONS, fallback=fallback) as mem:
        agent = mem.agent("writer")
        sessions = [agent.session(name), agent.session("shared")]
        degraded = False
        i = 0
        while not (folder / "stop").exists():
            session = sessions[i % 2]
            try:
                issued = time.monotonic_ns()
                event = session.record("tick", {"w": name, "i": i})
                session.working.set("latest", f"{name}:{i}")
                if i % 10 == 0:
                    n = session.checkpoint({"w": name, "i": i})
                    checkpoints[f"{session.id}/{n}"] = [name, i]
                acked = time.monotonic_ns()
            except Exception as exc:  # a failed write is reported, and ends this writer
                errors.append(repr(exc))
                break
            writes.append((session.id, event.id, f"{name}:{i}", issued, acked, degraded))
            i += 1
            if i % 25 == 0:
                health = mem.health()
                degraded = health.degraded
                state = {"n": i, "degraded": degraded, "outbox": health.outbox}
                tmp = folder / f"{name}.progress.tmp"
                tmp.write_text(json.dumps(state))
                tmp.replace(folder / f"{name}.progress")
    (folder / f"{name}.json").write_text(
        json.dumps({"writes": writes, "checkpoints": checkpoints, "errors": errors})
    )


def progress(folder: Path, name: str) -> dict[str, Any]:
    try:
        return dict(json.loads((folder / f"{name}.progress").read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return {"n": 0, "degraded": True, "outbox": -1}


def wait(condition: Any, limit: float) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > limit:
            raise SystemExit("gave up waiting")
        time.sleep(0.02)
    return time.monotonic() - start


def run(writers: int, outage: float, after: float) -> dict[str, Any]:
    from aether_memory.server.local import RedisProcess

    folder = Path(tempfile.mkdtemp(prefix="bench-outage-"))
    server = RedisProcess(folder / "redis", fsync="everysec", modules=False)
    server.start()
    names = [f"w{k}" for k in range(writers)]
    fallback = f"sqlite:///{folder}/fallback.db"
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", server.url, fallback, name, str(folder)]
        )
        for name in names
    ]
    try:
        wait(lambda: all(progress(folder, n)["n"] >= 25 for n in names), 60)
        time.sleep(WARMUP)
        killed = time.monotonic_ns()
        server.kill()
        time.sleep(outage)
        server.restart()
        back = time.monotonic_ns()
        drain = wait(
            lambda: all(
                not p["degraded"] and p["outbox"] == 0 for p in (progress(folder, n) for n in names)
            ),
            600,
        )
        drained = time.monotonic_ns()
        time.sleep(after)
    finally:
        (folder / "stop").touch()
        for proc in procs:
            proc.wait(120)
    records = {n: json.loads((folder / f"{n}.json").read_text()) for n in names}
    writes = [w for r in records.values() for w in r["writes"]]
    checkpoints = {k: v for r in records.values() for k, v in r["checkpoints"].items()}
    lost_events = lost_checkpoints = stale_values = 0
    with Memory.open(server.url, options=OPTIONS) as direct:
        agent = direct.agent("writer")
        for sid in {w[0] for w in writes}:
            session = agent.session(sid)
            ours = [w for w in writes if w[0] == sid]
            found = {e.id for e in session.events(limit=len(ours) + 100)}
            lost_events += sum(w[1] not in found for w in ours)
            latest = session.working.get("latest")
            final = next((w for w in ours if w[2] == latest), None)
            if final is None or any(w[3] > final[4] for w in ours):
                stale_values += 1
            kept = {c.n for c in session.checkpoints()}
            for key, (name, i) in checkpoints.items():
                ckpt_sid, n = key.rsplit("/", 1)
                if ckpt_sid == sid and int(n) in kept:
                    lost_checkpoints += session.restore(int(n)) != {"w": name, "i": i}
    server.stop()
    latencies = [(w[4] - w[3]) / 1e6 for w in writes]
    during_drain = [(w[4] - w[3]) / 1e6 for w in writes if back <= w[3] <= drained]
    queued = sum(killed <= w[4] <= drained for w in writes)
    return {
        "writers": writers,
        "outage_s": outage,
        "acknowledged": len(writes),
        "checkpoints": len(checkpoints),
        "queued": queued,
        "lost_events": lost_events,
        "lost_checkpoints": lost_checkpoints,
        "stale_values": stale_values,
        "errors": sum(len(r["errors"]) for r in records.values()),
        "max_ms": max(latencies),
        "p99_ms": statistics.quantiles(latencies, n=100)[98],
        "drain_max_ms": max(during_drain, default=0.0),
        "drain_s": drain,
        "drain_measured_s": (drained - back) / 1e9,
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| writers | outage s | acknowledged | queued on the fallback | lost (events / "
        "checkpoints / stale values) | errors | max write ms | p99 write ms | max write ms "
        "during replay | drain s |\n|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r['writers']} | {r['outage_s']:g} | {r['acknowledged']:,} | {r['queued']:,} | "
        f"{r['lost_events']} / {r['lost_checkpoints']} / {r['stale_values']} | {r['errors']} | "
        f"{r['max_ms']:.0f} | {r['p99_ms']:.1f} | {r['drain_max_ms']:.0f} | {r['drain_s']:.2f} |\n"
        for r in rows
    )
    return head + body


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--writers", type=int, nargs="+", default=[3], help="writer processes")
    p.add_argument("--outage", type=float, default=3.0, help="seconds Redis stays down")
    p.add_argument("--after", type=float, default=10.0, help="seconds of writes after the replay")
    p.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    p.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        url, fallback, name, folder = args.worker
        worker(url, fallback, name, Path(folder))
        return
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()}")
    print(f"python {platform.python_version()}; Redis 'appendfsync everysec'; SQLite WAL")
    rows = [run(m, args.outage, args.after) for m in args.writers]
    out = table(rows)
    print(out)
    if args.markdown:
        args.markdown.write_text(out)


if __name__ == "__main__":
    main()
